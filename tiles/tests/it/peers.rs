//! Checked by tools nobody here wrote: Python's `mapbox-vector-tile` decodes every tile,
//! the `pmtiles` package reads the PMTiles export, GDAL's `ogrinfo` opens the MBTiles.
//! `scripts/setup` installs them (`.tools/peers`, `gdal-bin`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tiles::export;
use tiles::inspect::decode;

use crate::{builder, commit_drive, munich, open_store, recent};

fn peer_python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/peers/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup to install the Python check tools",
        python.display()
    );
    python
}

fn run_json(command: &mut Command) -> Value {
    let output = command.output().expect("the check tool runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/check_tiles.py")
}

async fn built(dir: &Path) -> tiles::TileBuilder {
    let store = open_store(dir).await;
    commit_drive(&store, "alice", &recent(&munich()[..500]), 20).await;
    let mut builder = builder(&store, &dir.join("tiles.mbtiles")).await;
    builder
        .build_all(model::TimestampMs::now().as_millis())
        .await
        .unwrap();
    builder
}

#[tokio::test]
async fn mapbox_vector_tile_decodes_every_tile_as_we_do() {
    let dir = tempfile::tempdir().unwrap();
    let builder = built(dir.path()).await;
    let mut files = Vec::new();
    let mut expected = Vec::new();
    for tile in builder.tiles().tile_coords().await.unwrap() {
        let stored = builder.tiles().tile(tile).await.unwrap().unwrap();
        let path = dir
            .path()
            .join(format!("{}-{}-{}.mvt", tile.z, tile.x, tile.y));
        std::fs::write(&path, &stored.data).unwrap();
        expected.push((path.display().to_string(), decode(&stored.data).unwrap()));
        files.push(path);
    }
    assert!(files.len() > 15);
    let seen = run_json(
        Command::new(peer_python())
            .arg(script())
            .arg("mvt")
            .args(&files),
    );
    for (path, layers) in expected {
        let theirs = &seen[&path];
        let names: BTreeSet<&str> = theirs
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let ours: BTreeSet<&str> = layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ours, "{path}");
        for layer in &layers {
            let their = &theirs[&layer.name];
            assert_eq!(their["extent"], 4096);
            assert_eq!(
                their["features"],
                layer.features.len(),
                "{path} {}",
                layer.name
            );
            let types = their["types"].as_array().unwrap();
            let expected_type = match layer.name.as_str() {
                "coverage" => "Polygon",
                "sequences" => "LineString",
                _ => "Point",
            };
            assert!(
                types
                    .iter()
                    .all(|t| t.as_str().unwrap().ends_with(expected_type)),
                "{path} {}: {types:?}",
                layer.name
            );
            let keys: Vec<&str> = their["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect();
            for field in tiles::Layer::ALL
                .iter()
                .find(|l| l.name() == layer.name)
                .unwrap()
                .fields()
            {
                // `heading` and `sequence` are left out of frames that have none.
                assert!(
                    keys.contains(&field.0),
                    "{path} {} lacks {}",
                    layer.name,
                    field.0
                );
            }
        }
    }
}

#[tokio::test]
async fn the_pmtiles_package_reads_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let builder = built(dir.path()).await;
    let archive = dir.path().join("waymark.pmtiles");
    let summary = export::to_pmtiles(builder.tiles(), &archive).await.unwrap();
    let seen = run_json(
        Command::new(peer_python())
            .arg(script())
            .arg("pmtiles")
            .arg(&archive),
    );
    assert_eq!(seen["spec_version"], 3);
    assert_eq!(seen["tiles"], summary.tiles);
    assert!(
        seen["tile_type"].as_str().unwrap().contains("MVT"),
        "{seen}"
    );
    assert!(
        seen["tile_compression"].as_str().unwrap().contains("GZIP"),
        "{seen}"
    );
    assert_eq!(seen["min_zoom"], 0);
    assert_eq!(seen["max_zoom"], 14);
    assert_eq!(
        seen["vector_layers"],
        serde_json::json!(["coverage", "sequences", "frames", "features"])
    );
    let ours: Vec<Value> = builder
        .tiles()
        .tile_coords()
        .await
        .unwrap()
        .into_iter()
        .map(|t| serde_json::json!([t.z, t.x, t.y]))
        .collect();
    let mut theirs = seen["zxy"].as_array().unwrap().clone();
    let mut ours_sorted = ours.clone();
    theirs.sort_by_key(|v| v.to_string());
    ours_sorted.sort_by_key(|v| v.to_string());
    assert_eq!(theirs, ours_sorted);

    // pmtiles-show, the package's own command, reads it too.
    let show = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/peers/bin/pmtiles-show");
    let output = Command::new(show).arg(&archive).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("tile type: Vector Protobuf") || text.contains("MVT"),
        "{text}"
    );
}

#[tokio::test]
async fn gdal_opens_the_live_mbtiles_file() {
    let dir = tempfile::tempdir().unwrap();
    let builder = built(dir.path()).await;
    let path = builder.tiles().path().to_owned();
    builder.tiles().close().await;
    let output = Command::new("ogrinfo")
        .args(["-ro", "-so", "-q"])
        .arg(&path)
        .output()
        .expect("ogrinfo from gdal-bin, installed by scripts/setup");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    for layer in ["coverage", "sequences", "frames", "features"] {
        assert!(text.contains(layer), "ogrinfo lists no {layer}: {text}");
    }
    // And reads features out of the frames layer at its zoom.
    let output = Command::new("ogrinfo")
        .args(["-ro", "-q", "-oo", "ZOOM_LEVEL=14"])
        .arg(&path)
        .arg("frames")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("thumb (String)") || text.contains("thumb ="),
        "{text}"
    );
    assert!(text.matches("POINT").count() >= 100, "{text}");
}
