//! Seeds a Waymark data directory with a map for whole-process tile benchmarks, and writes
//! the same frames and sequences as GeoJSON for a peer tool (`ogr2ogr -f MVT`).
//!
//!     cargo run --release -p tiles --example seed_map -- <data-dir> [drivers]
//!
//! The map: `drivers` (default 20) drives of the real Munich drive (bmwcarit/barefoot, one
//! frame per fix), each shifted by up to ±0.06° as in `tiles_bench`, committed through the
//! pipeline worker's own store calls into `<data-dir>` (the layout `waymark --data` reads),
//! a traffic sign every 25 frames. `<data-dir>/map.geojson` holds every frame as a Point
//! and every drive as a LineString, with the attributes the tiles carry.

#[path = "../tests/it/support.rs"]
mod support;

use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: seed_map <data-dir> [drivers]"));
    let drivers: usize = args.next().map_or(20, |a| a.parse().expect("drivers"));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let geojson = std::fs::File::create(dir.join("map.geojson")).unwrap();
    let mut geojson = std::io::BufWriter::new(geojson);
    write!(geojson, r#"{{"type":"FeatureCollection","features":["#).unwrap();
    let mut first = true;
    runtime.block_on(async {
        let store = support::open_store(&dir).await;
        let drive = support::recent(&support::munich());
        for n in 0..drivers {
            let fixes = support::shifted(&drive, n);
            let ids = support::commit_drive(&store, &format!("driver-{n}"), &fixes, 25).await;
            for (fix, id) in fixes.iter().zip(&ids) {
                let separator = if first { "" } else { "," };
                first = false;
                write!(
                    geojson,
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
                geojson,
                r#",{{"type":"Feature","geometry":{{"type":"LineString","coordinates":[{}]}},"properties":{{"contributor":"driver-{n}"}}}}"#,
                line.join(",")
            )
            .unwrap();
        }
        store.db.pool().close().await;
        eprintln!(
            "seeded {} frames of {drivers} drives into {}",
            drivers * drive.len(),
            dir.display()
        );
    });
    write!(geojson, "]}}").unwrap();
    geojson.flush().unwrap();
}
