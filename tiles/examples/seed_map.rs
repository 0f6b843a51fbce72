//! Seeds a Waymark data directory with a map for whole-process benchmarks (tile building,
//! tile serving, search, reward close), and can write the same frames and sequences as
//! GeoJSON for a peer tool (`ogr2ogr -f MVT`).
//!
//!     cargo run --release -p tiles --example seed_map -- <data-dir> [drivers] [--geojson]
//!     cargo run --release -p tiles --example seed_map -- <data-dir> --add <frames>
//!
//! The map: `drivers` (default 20) drives of the real Munich drive (bmwcarit/barefoot, one
//! frame per fix, 1 194 fixes), each shifted by up to ±0.06° as in `tiles_bench`, committed
//! through the pipeline worker's own store calls into `<data-dir>` (the layout `waymark
//! --data` reads), a traffic sign every 25 frames, and indexed for search as the worker
//! indexes them. Every drive starts on the Tuesday, 08:00 UTC, of the ISO week two weeks
//! back, so that week is an epoch `waymark rewards close` can close; stdout says which
//! (`epoch 2026-W46`). With `--geojson`, `<data-dir>/map.geojson` holds every frame as a Point
//! and every drive as a LineString, with the attributes the tiles carry.
//!
//! `--add <frames>` commits one more capture of that many frames (a new contributor, now)
//! into an existing directory: the new coverage an incremental tile update has to render.

#[path = "../tests/it/support.rs"]
mod support;

use std::io::Write;

use chrono::{Datelike, Duration, Utc};
use model::{Fix, FrameId, TimestampMs};
use store::Store;

const SIGN_EVERY: usize = 25;

fn main() {
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: seed_map <data-dir> [drivers] [--geojson] | seed_map <data-dir> --add <frames>";
    let dir = std::path::PathBuf::from(args.next().expect(usage));
    let rest: Vec<String> = args.collect();
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = support::open_store(&dir).await;
        if let Some(at) = rest.iter().position(|a| a == "--add") {
            let frames: usize = rest.get(at + 1).and_then(|a| a.parse().ok()).expect(usage);
            add_capture(&store, frames).await;
        } else {
            let drivers: usize = rest
                .iter()
                .find(|a| !a.starts_with("--"))
                .map_or(20, |a| a.parse().expect(usage));
            let geojson = rest.iter().any(|a| a == "--geojson");
            seed(&store, &dir, drivers, geojson).await;
        }
        store.db.pool().close().await;
    });
}

/// Tuesday 08:00 UTC of the ISO week two weeks before now, and that week's name.
fn two_weeks_back() -> (TimestampMs, String) {
    let day = (Utc::now() - Duration::days(14)).date_naive();
    let tuesday =
        day - Duration::days(i64::from(day.weekday().num_days_from_monday())) + Duration::days(1);
    let start = tuesday.and_hms_opt(8, 0, 0).unwrap().and_utc();
    let week = tuesday.iso_week();
    (
        TimestampMs(start.timestamp_millis()),
        format!("{}-W{:02}", week.year(), week.week()),
    )
}

async fn seed(store: &Store, dir: &std::path::Path, drivers: usize, geojson: bool) {
    let (start, epoch) = two_weeks_back();
    let drive = support::starting_at(&support::munich(), start);
    let mut features = geojson.then(|| {
        let file = std::fs::File::create(dir.join("map.geojson")).unwrap();
        let mut out = std::io::BufWriter::new(file);
        write!(out, r#"{{"type":"FeatureCollection","features":["#).unwrap();
        out
    });
    for n in 0..drivers {
        let fixes = support::shifted(&drive, n);
        let ids = commit_and_index(store, &format!("driver-{n}"), &fixes).await;
        if let Some(out) = features.as_mut() {
            write_geojson(out, n, &fixes, &ids, n == 0);
        }
    }
    if let Some(mut out) = features {
        write!(out, "]}}").unwrap();
        out.flush().unwrap();
    }
    eprintln!(
        "seeded {} frames of {drivers} drives into {}",
        drivers * drive.len(),
        dir.display()
    );
    println!("epoch {epoch}");
}

async fn add_capture(store: &Store, frames: usize) {
    let drive = support::recent(&support::munich());
    let frames = frames.clamp(1, drive.len());
    let n = usize::try_from(TimestampMs::now().as_millis()).unwrap_or(0) % 1_000_000 + 100_000;
    let fixes = support::shifted(&drive[..frames], n);
    commit_and_index(store, &format!("added-{n}"), &fixes).await;
    eprintln!("added a capture of {frames} frames");
}

/// Commits the drive as the worker would, then indexes its frames and signs for search as
/// the worker does (`ingest::worker`: one frame document, one per sign). Returns the frame ids.
async fn commit_and_index(store: &Store, name: &str, fixes: &[Fix]) -> Vec<FrameId> {
    let committed = support::commit_drive_as(store, name, fixes, SIGN_EVERY).await;
    let search_store = store.clone();
    let fixes = fixes.to_vec();
    tokio::task::spawn_blocking(move || {
        support::index_drive(&search_store, &committed, &fixes, SIGN_EVERY);
        committed.frames
    })
    .await
    .unwrap()
}

fn write_geojson(out: &mut impl Write, n: usize, fixes: &[Fix], ids: &[FrameId], first: bool) {
    for (i, (fix, id)) in fixes.iter().zip(ids).enumerate() {
        let separator = if first && i == 0 { "" } else { "," };
        write!(
            out,
            r#"{separator}{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{},{}]}},"properties":{{"id":"{}","captured_at":{},"heading":90,"quality":0.8}}}}"#,
            fix.lon,
            fix.lat,
            id.to_hex(),
            fix.time.as_millis()
        )
        .unwrap();
    }
    let line: Vec<String> = fixes
        .iter()
        .map(|f| format!("[{},{}]", f.lon, f.lat))
        .collect();
    write!(
        out,
        r#",{{"type":"Feature","geometry":{{"type":"LineString","coordinates":[{}]}},"properties":{{"contributor":"driver-{n}"}}}}"#,
        line.join(",")
    )
    .unwrap();
}
