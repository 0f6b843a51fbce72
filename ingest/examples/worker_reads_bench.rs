//! Times the database reads the pipeline worker makes besides vision, against a store filled
//! through the worker's own write path (`Db::insert_capture` + `Db::commit_processed`):
//! per frame, the near-duplicate read of its cell (`fingerprints_in`), the place consensus's
//! views of the two rings around it (`views_in`, 19 cells) and the footage index read
//! (`footage_sharing`, the keys of the core and of as many random prints as the worker has
//! keyed probes and keyed wide probes, so every key distinct: a real frame's neighbouring probes share keys); per capture, the device's
//! week of fixes for the road check (`device_track_by_capture`); per worker start, the footage
//! index's upkeep on an index already up to date.
//!
//! The store: `devices` dashcams, each with `captures` captures of 100 accepted frames a week
//! apart at most, driving 1 Hz random walks over a 4 × 4 km town (so cells fill up as a busy
//! town's do), every frame with its 32 × 18 fingerprint and its 64 × 36 footage core and
//! keys (random prints: the index's keys spread as real ones do). SQLite in a temporary
//! directory, or the database `WAYMARK_BENCH_DATABASE_URL` names (e.g. the PostgreSQL of
//! `scripts/with-pg-s3`).
//!
//!     cargo run --release -p ingest --example worker_reads_bench -- [devices] [captures] [rounds]

use std::time::{Duration, Instant};

use model::consensus::Fingerprint;
use model::{CaptureId, DeviceId, DeviceKeypair, Fix, FixType, FrameId, TimestampMs};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use store::{
    Coverage, FootageEntry, FrameOutcome, NewSequence, ProcessedCapture, ProcessedFrame, Store,
    StoreConfig,
};

#[path = "../../store/tests/it/received.rs"]
mod received;

const FRAMES_PER_CAPTURE: usize = 100;
const WEEK_MS: i64 = 7 * 24 * 3_600_000;
const START: i64 = 1_780_000_000_000;
/// The town's south-west corner and size (degrees): about 4 × 4 km.
const TOWN: (f64, f64, f64) = (43.70, 7.40, 0.036);

fn print(rng: &mut StdRng, len: usize) -> Fingerprint {
    // Sums of uniforms: near-normal values, as a normalised thumbnail's are.
    Fingerprint(
        (0..len)
            .map(|_| (0..4).map(|_| rng.gen_range(-1.0f32..1.0)).sum::<f32>() * 0.87)
            .collect(),
    )
}

fn walk(rng: &mut StdRng, start_ms: i64) -> Vec<Fix> {
    let (lat0, lon0, size) = TOWN;
    let (mut lat, mut lon) = (
        lat0 + rng.gen_range(0.0..size),
        lon0 + rng.gen_range(0.0..size),
    );
    let mut heading: f64 = rng.gen_range(0.0..360.0);
    (0..FRAMES_PER_CAPTURE)
        .map(|i| {
            heading = (heading + rng.gen_range(-20.0..20.0)).rem_euclid(360.0);
            let step = 10.0 / 111_195.0;
            lat = (lat + step * heading.to_radians().cos()).clamp(lat0, lat0 + size);
            lon = (lon + step * heading.to_radians().sin() / lat.to_radians().cos())
                .clamp(lon0, lon0 + size);
            Fix {
                time: TimestampMs(start_ms + i as i64 * 1000),
                lat,
                lon,
                alt: Some(50.0),
                heading: Some(heading),
                speed: Some(10.0),
                fix_type: FixType::Fix3d,
                satellites: 9,
                hdop: 0.9,
            }
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The median time of `rounds` runs (after one warm-up), and the mean of what they returned
/// (rows read).
async fn timed<F, Fut>(rounds: usize, mut run: F) -> (f64, f64)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    run(rounds).await;
    let (mut times, mut rows) = (Vec::with_capacity(rounds), 0);
    for round in 0..rounds {
        let started = Instant::now();
        rows += run(round).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    (median(times), rows as f64 / rounds.max(1) as f64)
}

struct Filled {
    devices: Vec<DeviceId>,
    /// One accepted frame per capture: its fix and its core.
    samples: Vec<(Fix, Fingerprint)>,
    frames: usize,
    took: Duration,
}

async fn fill(store: &Store, devices: usize, captures: usize) -> Filled {
    let mut rng = StdRng::seed_from_u64(20_261_205);
    let mut filled = Filled {
        devices: Vec::new(),
        samples: Vec::new(),
        frames: 0,
        took: Duration::ZERO,
    };
    let started = Instant::now();
    for d in 0..devices {
        let name = format!("driver-{d}");
        let public_key =
            DeviceKeypair::from_seed(*FrameId::of_bytes(name.as_bytes()).as_bytes()).public();
        let (contributor, device) = received::signed_up(store, &name, public_key, None).await;
        filled.devices.push(device);
        for c in 0..captures {
            let start_ms = START + rng.gen_range(0..WEEK_MS);
            let fixes = walk(&mut rng, start_ms);
            let capture = CaptureId::new();
            let ids: Vec<FrameId> = (0..fixes.len())
                .map(|i| FrameId::of_bytes(format!("{name}-{c}-{i}").as_bytes()))
                .collect();
            let drive: Vec<(FrameId, Fix)> =
                ids.iter().copied().zip(fixes.iter().copied()).collect();
            let leased = received::receive_and_lease(
                store,
                &received::Received {
                    capture,
                    device,
                    sequence_number: c as u64,
                    camera: "",
                },
                &drive,
            )
            .await;
            let sequence = format!("{capture}-0");
            let mut processed_frames = Vec::with_capacity(fixes.len());
            for (i, (fix, id)) in fixes.iter().zip(&ids).enumerate() {
                let core = print(&mut rng, 64 * 36);
                if i == FRAMES_PER_CAPTURE / 2 {
                    filled.samples.push((*fix, core.clone()));
                }
                processed_frames.push(ProcessedFrame {
                    index: i as u32,
                    outcome: FrameOutcome::Accepted { quality: 0.8 },
                    sequence: Some(sequence.clone()),
                    size: Some((1920, 1080)),
                    coverage: Some(Coverage {
                        cell: u64::from(fix.cell(model::COVERAGE_RESOLUTION).expect("a cell")),
                        time: fix.time,
                        fingerprint: print(&mut rng, 32 * 18).to_bytes(),
                        heading: fix.heading,
                        footage: Some(FootageEntry {
                            keys: model::footage::stored_keys(&core),
                            core: core.to_bytes(),
                        }),
                    }),
                    sha256: *id,
                });
            }
            let processed = ProcessedCapture {
                capture,
                contributor,
                frames: processed_frames,
                sequences: vec![NewSequence {
                    id: sequence,
                    started_at: fixes[0].time,
                    ended_at: fixes[fixes.len() - 1].time,
                    frame_count: fixes.len() as u32,
                    length_m: 1000.0,
                    geometry_geojson: format!(
                        r#"{{"type":"LineString","coordinates":[{}]}}"#,
                        fixes
                            .iter()
                            .map(|f| format!("[{},{}]", f.lon, f.lat))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                }],
                detections: Vec::new(),
                follow_ups: Vec::new(),
                processed_at: TimestampMs(START + WEEK_MS),
            };
            store
                .db
                .commit_processed(&processed, &leased)
                .await
                .expect("a commit");
            filled.frames += fixes.len();
        }
    }
    filled.took = started.elapsed();
    filled
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let devices = args.next().transpose()?.unwrap_or(20);
    let captures = args.next().transpose()?.unwrap_or(10);
    let rounds = args.next().transpose()?.unwrap_or(101);
    let dir = tempfile::tempdir()?;
    let mut config = StoreConfig::under(dir.path());
    if let Ok(url) = std::env::var("WAYMARK_BENCH_DATABASE_URL") {
        config.database_url = url;
    }
    let backend = config
        .database_url
        .split(':')
        .next()
        .unwrap_or("?")
        .to_owned();
    let store = Store::open(&config).await?;
    let filled = fill(&store, devices, captures).await;
    println!(
        "{backend}: {} frames ({devices} devices × {captures} captures × {FRAMES_PER_CAPTURE}), written in {:.1} s through commit_processed ({:.2} ms a capture)",
        filled.frames,
        filled.took.as_secs_f64(),
        filled.took.as_secs_f64() * 1000.0 / (devices * captures) as f64
    );
    let samples = &filled.samples;
    let pick = |round: usize| &samples[(round * 7919) % samples.len()];
    let since = TimestampMs(START - WEEK_MS);
    let cell_of = |fix: &Fix| u64::from(fix.cell(model::COVERAGE_RESOLUTION).expect("a cell"));
    let (near_ms, near) = timed(rounds, |round| {
        let cell = cell_of(&pick(round).0);
        let store = &store;
        async move {
            store
                .db
                .fingerprints_in(cell, since)
                .await
                .expect("a read")
                .len()
        }
    })
    .await;
    let (views_ms, viewed) = timed(rounds, |round| {
        let cells: Vec<u64> = h3o::CellIndex::try_from(cell_of(&pick(round).0))
            .expect("a cell")
            .grid_disk::<Vec<_>>(model::consensus::VIEW_RINGS)
            .into_iter()
            .map(u64::from)
            .collect();
        let store = &store;
        async move {
            store
                .db
                .views_in(&cells, since)
                .await
                .expect("a read")
                .len()
        }
    })
    .await;
    let (footage_ms, found) = timed(rounds, |round| {
        // A copy's probes: the stored core itself and a fresh print per other probe, and
        // as many fresh inner prints as the worker has keyed wide probes.
        let mut rng = StdRng::seed_from_u64(round as u64);
        let mut keys: Vec<i64> = model::footage::keys(&pick(round).1);
        for _ in 0..2 * model::footage::KEYED_CUTS {
            keys.extend(model::footage::keys(&print(&mut rng, 64 * 36)));
        }
        for _ in 0..2 * model::footage::WIDE_KEYED_CUTS {
            keys.extend(model::footage::inner_keys(&print(&mut rng, 56 * 30)));
        }
        keys.sort_unstable();
        keys.dedup();
        let store = &store;
        async move { store.db.footage_sharing(&keys).await.expect("a read").len() }
    })
    .await;
    let (week_ms, tracked) = timed(rounds, |round| {
        let device = filled.devices[round % filled.devices.len()];
        let store = &store;
        async move {
            let week = store
                .db
                .device_track_by_capture(device, since)
                .await
                .expect("a read");
            week.iter().map(|(_, fixes)| fixes.len()).sum::<usize>()
        }
    })
    .await;
    println!();
    println!("| read | when | median | rows returned (mean) |");
    println!("|---|---|---:|---:|");
    println!(
        "| `fingerprints_in` (near duplicates of the frame's cell) | each accepted frame | {near_ms:.2} ms | {:.1} |",
        near
    );
    println!(
        "| `views_in` (19 cells, place consensus) | each accepted frame | {views_ms:.2} ms | {:.1} |",
        viewed
    );
    println!(
        "| `footage_sharing` ({} keys: core + probes + wide probes) | each accepted frame | {footage_ms:.2} ms | {:.1} |",
        (1 + 2 * (model::footage::KEYED_CUTS + model::footage::WIDE_KEYED_CUTS))
            * model::footage::BANDS as usize,
        found
    );
    println!(
        "| `device_track_by_capture` (the device's week) | each capture, with roads | {week_ms:.2} ms | {:.0} fixes |",
        tracked
    );
    // The index upkeep's two full scans (what a worker runs when no pass of the current
    // scheme has finished), on an index already up to date: they find nothing to do.
    let (full_ms, _) = timed(rounds.min(11), |_| {
        let store = &store;
        async move {
            let rekeyed = ingest::footage_upkeep::rekey_footage(store)
                .await
                .expect("the re-keying");
            let backfilled = ingest::footage_upkeep::backfill_footage(store)
                .await
                .expect("the backfill");
            rekeyed.rekeyed + backfilled.backfilled
        }
    })
    .await;
    println!(
        "| the upkeep's full scans (`rekey_footage` + `backfill_footage`, nothing to do) | a worker start after a scheme change | {full_ms:.2} ms | — |"
    );
    // The upkeep a worker runs as it starts, after a finished pass (the warm-up's): only the
    // captures processed since, here none.
    let (upkeep_ms, _) = timed(rounds.min(11), |_| {
        let store = &store;
        async move {
            let done = ingest::footage_upkeep::bring_up_to_date(store)
                .await
                .expect("the upkeep");
            done.rekeyed + done.backfilled + done.unusable
        }
    })
    .await;
    println!(
        "| `footage_upkeep::bring_up_to_date` after a finished pass (nothing processed since) | each worker start | {upkeep_ms:.2} ms | — |"
    );
    Ok(())
}
