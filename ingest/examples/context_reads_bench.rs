//! Times the reads the upload handler makes of other devices' frames and of the device's own
//! history before it judges a capture (`uploads::gather_context`), against a busy town:
//! `devices` dashcams with `captures` captures of 1 000 frames each (a frame a second, 10 m
//! apart, random walks over a 4 × 4 km town, at random moments over a week), written
//! through `Db::insert_capture` as the upload route writes them.
//!
//! Two captures are judged, each as `Needs::of` asks: an honest drive (1 000 frames a second
//! apart through the town) and a spread one (1 000 frames an hour apart, over the whole town:
//! six weeks and 16 km², every frame reachable from the one before). For each, the read of
//! other devices' fixes in the cells and seconds asked for
//! (`Db::other_devices_fixes_in_cells`), beside the read it replaced on 2026-12-07: every
//! other device's frame inside the box of the capture's passing frames over its whole time
//! span (the box padded by 2.5 m and the span by 1 s), kept here as raw SQL to compare. Then
//! the device's own frames nearest each frame's moment (`Db::device_fixes_nearest`), beside
//! the read it replaced (all of them over the capture's span, padded by two minutes); and
//! the device's history before the capture and its fixes after it, a fix a second
//! (`Db::device_history_before`, `Db::device_later_after`). The asking device is one of the
//! town's.
//!
//! SQLite in a temporary directory, or the database `WAYMARK_BENCH_DATABASE_URL` names (e.g.
//! the PostgreSQL of `scripts/with-pg-s3`).
//!
//!     cargo run --release -p ingest --example context_reads_bench -- [devices] [captures] [rounds]

use std::time::Instant;

use ingest::judge::{HISTORY_SECONDS, Needs};
use ingest::track::{TrackConfig, check};
use model::{CaptureId, DeviceKeypair, Fix, FixType, FrameEntry, FrameId, TimestampMs};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use store::{FrameOutcome, NewCapture, NewFrame, Store};

#[path = "../../store/tests/it/received.rs"]
mod received;
#[path = "../../store/tests/it/town.rs"]
mod town;

const FRAMES: usize = 1_000;
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const START: i64 = town::START;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A random walk of `FRAMES` fixes `step_ms` apart from `start_ms`, some `step_m` a step
/// (as `town::walk`, longer, with a receiver's noise).
fn walk(rng: &mut StdRng, start_ms: i64, step_ms: i64, step_m: f64) -> Vec<Fix> {
    let (lat0, lon0, size) = town::TOWN;
    let (mut lat, mut lon) = (
        lat0 + rng.gen_range(0.0..size),
        lon0 + rng.gen_range(0.0..size),
    );
    let mut heading: f64 = rng.gen_range(0.0..360.0);
    (0..FRAMES)
        .map(|i| {
            heading = (heading + rng.gen_range(-20.0..20.0)).rem_euclid(360.0);
            let step = step_m * rng.gen_range(0.8..1.2) / 111_195.0;
            lat = (lat + step * heading.to_radians().cos()).clamp(lat0, lat0 + size);
            lon = (lon + step * heading.to_radians().sin() / lat.to_radians().cos())
                .clamp(lon0, lon0 + size);
            // A receiver's wander of a metre or two.
            let noise = 1.5 / 111_195.0;
            Fix {
                time: TimestampMs(start_ms + i as i64 * step_ms),
                lat: lat + noise * rng.gen_range(-1.0..1.0),
                lon: lon + noise * rng.gen_range(-1.0..1.0) / lat.to_radians().cos(),
                alt: Some(50.0),
                heading: Some(heading),
                speed: Some(step_m * 1000.0 / step_ms as f64),
                fix_type: FixType::Fix3d,
                satellites: 9,
                hdop: 0.9 + rng.gen_range(0.0..0.3),
            }
        })
        .collect()
}

/// The read replaced on 2026-12-07: other devices' kept frames in the box of `passing`
/// (padded 2.5 m) over its whole span (padded 1 s).
async fn box_read(store: &Store, device: model::DeviceId, passing: &[Fix]) -> usize {
    let pad_lat = 2.5 / 111_195.0;
    let pad_lon = pad_lat / 43.7f64.to_radians().cos();
    let fold = |f: fn(f64, f64) -> f64, pick: fn(&Fix) -> f64, from: f64| {
        passing.iter().map(pick).fold(from, f)
    };
    let (south, north) = (
        fold(f64::min, |f| f.lat, f64::MAX) - pad_lat,
        fold(f64::max, |f| f.lat, f64::MIN) + pad_lat,
    );
    let (west, east) = (
        fold(f64::min, |f| f.lon, f64::MAX) - pad_lon,
        fold(f64::max, |f| f.lon, f64::MIN) + pad_lon,
    );
    let start = passing.iter().map(|f| f.time.0).min().unwrap_or(0) - 1_000;
    let end = passing.iter().map(|f| f.time.0).max().unwrap_or(0) + 1_000;
    let rows = sqlx::query(
        "SELECT f.time_ms, f.lat, f.lon, f.alt, f.heading, f.speed, f.fix_type, f.satellites, f.hdop \
         FROM frames f JOIN captures c ON c.id = f.capture_id \
         WHERE c.device_id <> $1 AND f.status IN ('accepted', 'pending') \
         AND f.time_ms BETWEEN $2 AND $3 AND f.lat BETWEEN $4 AND $5 AND f.lon BETWEEN $6 AND $7 \
         ORDER BY f.time_ms",
    )
    .bind(device.to_string())
    .bind(start)
    .bind(end)
    .bind(south)
    .bind(north)
    .bind(west)
    .bind(east)
    .fetch_all(store.db.pool())
    .await
    .expect("the box read");
    rows.len()
}

/// The read replaced on 2026-12-07: the device's own kept frames over the capture's whole
/// span (padded by two minutes).
async fn span_read(store: &Store, device: model::DeviceId, fixes: &[Fix]) -> usize {
    let start = fixes.iter().map(|f| f.time.0).min().unwrap_or(0) - 120_000;
    let end = fixes.iter().map(|f| f.time.0).max().unwrap_or(0) + 120_000;
    sqlx::query(
        "SELECT f.time_ms, f.lat, f.lon, f.alt, f.heading, f.speed, f.fix_type, f.satellites, f.hdop \
         FROM frames f JOIN captures c ON c.id = f.capture_id \
         WHERE c.device_id = $1 AND f.status IN ('accepted', 'pending') \
         AND f.time_ms BETWEEN $2 AND $3 ORDER BY f.time_ms",
    )
    .bind(device.to_string())
    .bind(start)
    .bind(end)
    .fetch_all(store.db.pool())
    .await
    .expect("the span read")
    .len()
}

async fn timed<F, Fut>(rounds: usize, mut run: F) -> (f64, usize)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let rows = run().await;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        run().await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    (median(times), rows)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let devices = args.next().transpose()?.unwrap_or(100);
    let captures = args.next().transpose()?.unwrap_or(20);
    let rounds = args.next().transpose()?.unwrap_or(11);
    let dir = tempfile::tempdir()?;
    let (store, backend) = town::bench_store(dir.path()).await?;
    let mut rng = StdRng::seed_from_u64(20_261_207);
    let started = Instant::now();
    let mut ids = Vec::new();
    for d in 0..devices {
        let name = format!("driver-{d}");
        let public_key =
            DeviceKeypair::from_seed(*FrameId::of_bytes(name.as_bytes()).as_bytes()).public();
        let (_, device) = received::signed_up(&store, &name, public_key, None).await;
        ids.push(device);
        for c in 0..captures {
            let start_ms = START + rng.gen_range(0..7 * DAY_MS);
            let fixes = walk(&mut rng, start_ms, 1_000, 10.0);
            let id = CaptureId::new();
            let frames: Vec<NewFrame> = fixes
                .iter()
                .enumerate()
                .map(|(i, fix)| NewFrame {
                    index: i as u32,
                    sha256: FrameId::of_bytes(format!("{name}-{c}-{i}").as_bytes()),
                    fix: *fix,
                    outcome: FrameOutcome::Pending,
                })
                .collect();
            store
                .db
                .insert_capture(
                    &NewCapture {
                        id,
                        device_id: device,
                        sequence_number: c as u64,
                        manifest_sha256: "0".repeat(64),
                        manifest_key: format!("captures/{id}.json"),
                        signature: "0".repeat(128),
                        frame_count: FRAMES as u32,
                        received_at: fixes[0].time,
                        camera: "bench".into(),
                    },
                    &frames,
                    None,
                )
                .await?;
        }
    }
    println!(
        "{backend}: {} frames ({devices} devices × {captures} captures × {FRAMES}), written in {:.1} s",
        devices * captures * FRAMES,
        started.elapsed().as_secs_f64()
    );
    let now = TimestampMs(START + 45 * DAY_MS);
    let config = TrackConfig::default();
    let asker = ids[0];
    let honest = walk(&mut rng, START + 3 * DAY_MS, 1_000, 10.0);
    let spread = walk(&mut rng, START - DAY_MS, HOUR_MS, 400.0);
    println!("| capture | passing frames | cell windows | read | rows | median |");
    println!("|---|---:|---:|---|---:|---:|");
    for (name, fixes) in [
        ("honest drive", &honest),
        ("spread, an hour apart", &spread),
    ] {
        let entries: Vec<FrameEntry> = fixes
            .iter()
            .enumerate()
            .map(|(i, fix)| FrameEntry {
                sha256: FrameId::of_bytes(format!("{name}-{i}").as_bytes()),
                fix: *fix,
            })
            .collect();
        let passing: Vec<Fix> = entries
            .iter()
            .zip(check(&entries, now, &config))
            .filter(|(_, verdict)| verdict.is_none())
            .map(|(entry, _)| entry.fix)
            .collect();
        let needs = Needs::of(&entries, now, &config);
        let store = &store;
        let (cells_ms, cells_rows) = timed(rounds, || async {
            store
                .db
                .other_devices_fixes_in_cells(asker, &needs.others)
                .await
                .expect("the cell read")
                .len()
        })
        .await;
        let (box_ms, box_rows) = timed(rounds, || box_read(store, asker, &passing)).await;
        let windows = needs.others.len();
        let passing = passing.len();
        println!(
            "| {name} | {passing} | {windows} | cells and seconds (now) | {cells_rows} | {cells_ms:.1} ms |"
        );
        println!(
            "| {name} | {passing} | — | box over the span (before) | {box_rows} | {box_ms:.1} ms |"
        );
        let (own_ms, own_rows) = timed(rounds, || async {
            store
                .db
                .device_fixes_nearest(asker, &needs.own_moments, 120_000)
                .await
                .expect("the own read")
                .len()
        })
        .await;
        let (span_ms, span_rows) = timed(rounds, || span_read(store, asker, fixes)).await;
        println!(
            "| {name} | | | the device's frames nearest each moment (now) | {own_rows} | {own_ms:.1} ms |"
        );
        println!(
            "| {name} | | | the device's frames over the span (before) | {span_rows} | {span_ms:.1} ms |"
        );
        let (history_ms, history_rows) = timed(rounds, || async {
            store
                .db
                .device_history_before(asker, needs.history_before, HISTORY_SECONDS)
                .await
                .expect("history")
                .len()
        })
        .await;
        let (later_ms, later_rows) = timed(rounds, || async {
            store
                .db
                .device_later_after(asker, needs.later_after, HISTORY_SECONDS)
                .await
                .expect("later")
                .len()
        })
        .await;
        println!(
            "| {name} | | | the device's history before, a fix a second | {history_rows} | {history_ms:.1} ms |"
        );
        println!(
            "| {name} | | | the device's fixes after, a fix a second | {later_rows} | {later_ms:.1} ms |"
        );
    }
    Ok(())
}
