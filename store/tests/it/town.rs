//! A busy town's week of dashcam footage, written through the pipeline worker's own store
//! calls (`Db::insert_capture` + `Db::commit_processed`), for the benchmarks of other crates
//! that time reads and passes over a full store (`ingest`'s `worker_reads_bench`, `rewards`'
//! `place_check_bench`). Included by path, beside `received.rs` (which the including crate
//! declares at its root).
//!
//! `devices` dashcams, each with `captures` captures of 100 accepted frames a week apart at
//! most, driving 1 Hz random walks over a 4 × 4 km town (so cells fill up as a busy town's
//! do), every frame with its 32 × 18 fingerprint and its 64 × 36 footage core and keys
//! (random prints: the index's keys spread as real ones do, and no two frames look alike).

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use model::consensus::Fingerprint;
use model::{CaptureId, DeviceId, DeviceKeypair, Fix, FixType, FrameId, TimestampMs};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use store::{
    Coverage, FootageEntry, FrameOutcome, NewSequence, ProcessedCapture, ProcessedFrame, Store,
    StoreConfig,
};

use crate::received;

pub const FRAMES_PER_CAPTURE: usize = 100;
pub const WEEK_MS: i64 = 7 * 24 * 3_600_000;
pub const START: i64 = 1_780_000_000_000;
/// The town's south-west corner and size (degrees): about 4 × 4 km.
pub const TOWN: (f64, f64, f64) = (43.70, 7.40, 0.036);

pub fn print(rng: &mut StdRng, len: usize) -> Fingerprint {
    // Sums of uniforms: near-normal values, as a normalised thumbnail's are.
    Fingerprint(
        (0..len)
            .map(|_| (0..4).map(|_| rng.gen_range(-1.0f32..1.0)).sum::<f32>() * 0.87)
            .collect(),
    )
}

pub fn walk(rng: &mut StdRng, start_ms: i64) -> Vec<Fix> {
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

pub struct Filled {
    pub devices: Vec<DeviceId>,
    /// Each device's captures, in the order written.
    pub captures: Vec<Vec<CaptureId>>,
    /// One accepted frame per capture: its fix and its core.
    pub samples: Vec<(Fix, Fingerprint)>,
    pub frames: usize,
    pub took: Duration,
}

pub async fn fill(store: &Store, devices: usize, captures: usize) -> Filled {
    let mut rng = StdRng::seed_from_u64(20_261_205);
    let mut filled = Filled {
        devices: Vec::new(),
        captures: Vec::new(),
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
        filled.captures.push(Vec::new());
        for c in 0..captures {
            let start_ms = START + rng.gen_range(0..WEEK_MS);
            let fixes = walk(&mut rng, start_ms);
            let capture = CaptureId::new();
            filled.captures[d].push(capture);
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

/// A benchmark's store: SQLite under `dir`, or the database `WAYMARK_BENCH_DATABASE_URL`
/// names (e.g. the PostgreSQL of `scripts/with-pg-s3`); with its backend's name.
pub async fn bench_store(dir: &Path) -> store::Result<(Store, String)> {
    let mut config = StoreConfig::under(dir);
    if let Ok(url) = std::env::var("WAYMARK_BENCH_DATABASE_URL") {
        config.database_url = url;
    }
    let backend = config
        .database_url
        .split(':')
        .next()
        .unwrap_or("?")
        .to_owned();
    Ok((Store::open(&config).await?, backend))
}
