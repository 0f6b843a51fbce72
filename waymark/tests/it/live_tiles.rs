//! The live map end to end: real dashcam frames uploaded over HTTP along the real Munich
//! drive, through the pipeline worker and the OpenCV vision stage, show up in the served
//! vector tiles within seconds — rebuilt incrementally, not in full — and `waymark tiles
//! build|export` work on the same data directory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use model::{
    CaptureId, CaptureManifest, DeviceKeypair, Fix, FrameEntry, FrameId, MANIFEST_FORMAT_VERSION,
    TimestampMs,
};
use tiles::TileCoord;
use tiles::inspect::decode;

use crate::{Server, http_get, http_request, output, waymark};

pub(crate) const LANES: [&str; 6] = [
    "solidWhiteCurve.jpg",
    "solidWhiteRight.jpg",
    "solidYellowCurve.jpg",
    "solidYellowCurve2.jpg",
    "solidYellowLeft.jpg",
    "whiteCarLaneSwitch.jpg",
];

pub(crate) fn lane(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../datasets/images/udacity_lanes")
        .join(name);
    std::fs::read(path).unwrap()
}

/// The real Munich drive (bmwcarit/barefoot), shifted to the last hour.
pub(crate) fn munich() -> Vec<Fix> {
    let start = TimestampMs::now().saturating_add_ms(-3_600_000);
    datasets::read_barefoot(&datasets::path("gps/barefoot_munich_x0001-001.json"))
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, fix)| Fix {
            time: start.saturating_add_ms(i as i64 * 1000),
            ..fix
        })
        .collect()
}

/// Signs up, registers `key`, uploads `jpegs` and a capture placing them on `fixes`;
/// waits until the pipeline is done with it and returns the accepted frames' fixes by id.
fn upload(
    addr: SocketAddr,
    key: &DeviceKeypair,
    sequence_number: u64,
    jpegs: &[Vec<u8>],
    fixes: &[Fix],
) -> BTreeMap<String, Fix> {
    if sequence_number == 1 {
        sign_up(addr, key);
    }
    upload_capture(addr, key, sequence_number, jpegs, fixes)
}

/// Signs up a contributor and registers `key` as their dashcam; returns the API token.
pub(crate) fn sign_up(addr: SocketAddr, key: &DeviceKeypair) -> String {
    let account = http_request(
        addr,
        "POST",
        "/api/v1/contributors",
        &[("Content-Type", "application/json".into())],
        br#"{"name":"alice","payout_address":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}"#,
    )
    .json();
    let bearer = format!("Bearer {}", account["token"].as_str().unwrap());
    let device = http_request(
        addr,
        "POST",
        "/api/v1/devices",
        &[
            ("Content-Type", "application/json".into()),
            ("Authorization", bearer),
        ],
        format!(r#"{{"public_key":"{}"}}"#, key.public().to_hex()).as_bytes(),
    );
    assert_eq!(device.status, 201, "{}", device.body);
    account["token"].as_str().unwrap().to_owned()
}

/// Uploads `jpegs` and a capture placing them on `fixes` from a registered device; waits
/// until the pipeline is done with it and returns the accepted frames' fixes by id.
pub(crate) fn upload_capture(
    addr: SocketAddr,
    key: &DeviceKeypair,
    sequence_number: u64,
    jpegs: &[Vec<u8>],
    fixes: &[Fix],
) -> BTreeMap<String, Fix> {
    for jpeg in jpegs {
        let put = crate::try_put_frame(addr, key, jpeg).unwrap();
        assert_eq!(put.status, 201, "{}", put.body);
    }
    let manifest = CaptureManifest {
        format_version: MANIFEST_FORMAT_VERSION,
        device_key: key.public(),
        capture_id: CaptureId::new(),
        sequence_number,
        firmware: "test".into(),
        camera: "udacity".into(),
        frames: jpegs
            .iter()
            .zip(fixes)
            .map(|(jpeg, fix)| FrameEntry {
                sha256: FrameId::of_bytes(jpeg),
                fix: *fix,
            })
            .collect(),
    };
    let (body, signature) = manifest.sign(key);
    let posted = crate::try_post_capture(addr, &body, &signature).unwrap();
    assert_eq!(posted.status, 202, "{}", posted.body);
    let deadline = Instant::now() + Duration::from_secs(180);
    let result = loop {
        let state = crate::capture_status(addr, key, manifest.capture_id).json();
        if state["state"] == "done" {
            break state;
        }
        assert!(Instant::now() < deadline, "capture not processed: {state}");
        std::thread::sleep(Duration::from_millis(250));
    };
    let accepted: BTreeMap<String, Fix> = result["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "accepted")
        .map(|f| {
            let index = f["index"].as_u64().unwrap() as usize;
            (f["sha256"].as_str().unwrap().to_owned(), fixes[index])
        })
        .collect();
    assert!(
        !accepted.is_empty(),
        "real daylight frames are accepted: {result}"
    );
    accepted
}

/// Polls a tile until it holds every one of `frames` in its `frames` layer; returns how
/// long that took.
pub(crate) fn wait_for_frames(addr: SocketAddr, tile: TileCoord, frames: &[&String]) -> Duration {
    let started = Instant::now();
    let path = format!("/tiles/{}/{}/{}.mvt", tile.z, tile.x, tile.y);
    loop {
        let response = http_get(addr, &path);
        if response.status == 200 {
            let layers = decode(&response.bytes).unwrap();
            let ids: Vec<&str> = layers
                .iter()
                .filter(|l| l.name == "frames")
                .flat_map(|l| &l.features)
                .filter_map(|f| f.attributes["id"].as_str())
                .collect();
            if frames.iter().all(|f| ids.contains(&f.as_str())) {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "tile {tile} never showed the new frames ({})",
            response.status
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn etag(addr: SocketAddr, tile: TileCoord) -> Option<String> {
    let response = http_get(
        addr,
        &format!("/tiles/{}/{}/{}.mvt", tile.z, tile.x, tile.y),
    );
    (response.status == 200).then(|| response.header("etag").unwrap().to_owned())
}

#[test]
fn uploaded_frames_reach_the_served_tiles_within_seconds() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let key = DeviceKeypair::from_seed([42; 32]);
    let drive = munich();
    let jpegs: Vec<Vec<u8>> = LANES.iter().map(|n| lane(n)).collect();

    // Alice's first capture: three frames near the start of the drive.
    let first_fixes: Vec<Fix> = (0..3).map(|i| drive[300 + i * 4]).collect();
    let first = upload(server.addr, &key, 1, &jpegs[..3], &first_fixes);
    let (id, fix) = first.iter().next().unwrap();
    let first_tile = TileCoord::containing(fix.lon, fix.lat, 14);
    let waited = wait_for_frames(server.addr, first_tile, &[id]);
    eprintln!("first capture visible in tiles {waited:?} after processing");

    // Every zoom 0–14 over the capture serves a tile.
    let over_first: Vec<TileCoord> = (0..=14)
        .map(|z| TileCoord::containing(fix.lon, fix.lat, z))
        .collect();
    let before: Vec<Option<String>> = over_first.iter().map(|t| etag(server.addr, *t)).collect();
    assert!(before.iter().all(Option::is_some), "{before:?}");

    // A second capture, 20 minutes of driving later, far across town.
    let second_fixes: Vec<Fix> = (0..3).map(|i| drive[1150 + i * 4]).collect();
    let second = upload(server.addr, &key, 2, &jpegs[3..], &second_fixes);
    let (id, fix) = second.iter().next().unwrap();
    let second_tile = TileCoord::containing(fix.lon, fix.lat, 14);
    assert_ne!(second_tile, first_tile);
    wait_for_frames(server.addr, second_tile, &[id]);

    // The first capture's z14 tile did not change; the world tile (which counts both) did.
    let after: Vec<Option<String>> = over_first.iter().map(|t| etag(server.addr, *t)).collect();
    assert_eq!(after[14], before[14], "an untouched tile keeps its ETag");
    assert_ne!(after[0], before[0], "the world tile counts the new frames");
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
    assert!(
        !stderr.contains("tiles built"),
        "no full rebuild happened: {stderr}"
    );
    assert!(stderr.contains("tiles updated"), "{stderr}");

    // The command line rebuilds and exports the same tiles.
    let dir = data.path().to_str().unwrap();
    let built = output(waymark(&["--data", dir, "tiles", "build"]));
    let text = String::from_utf8_lossy(&built.stdout);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert!(text.starts_with("built "), "{text}");
    let archive = data.path().join("map.pmtiles");
    let exported = output(waymark(&[
        "--data",
        dir,
        "tiles",
        "export",
        "--pmtiles",
        archive.to_str().unwrap(),
    ]));
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    assert!(std::fs::read(&archive).unwrap().starts_with(b"PMTiles\x03"));
    let again = output(waymark(&[
        "--data",
        dir,
        "tiles",
        "export",
        "--pmtiles",
        archive.to_str().unwrap(),
    ]));
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn a_corrupt_tileset_stops_the_server_with_its_name() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("tiles.mbtiles");
    std::fs::write(&path, vec![0x42; 8192]).unwrap();
    let out = output(waymark(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        data.path().to_str().unwrap(),
    ]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("waymark tiles build"), "{stderr}");
}

#[test]
fn an_osm_road_base_map_is_built_and_served_beside_the_coverage() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let pbf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/roads/osrm_monaco.osm.pbf");
    let built = output(waymark(&[
        "--data",
        dir,
        "tiles",
        "basemap",
        "--pbf",
        pbf.to_str().unwrap(),
    ]));
    let text = String::from_utf8_lossy(&built.stdout);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert!(text.starts_with("built the base map: "), "{text}");

    let server = Server::start(data.path(), &[]);
    // Monaco's harbour at z14: the roads layer, with OSM classes and names.
    let tile = TileCoord::containing(7.4246, 43.7347, 14);
    let response = http_get(
        server.addr,
        &format!("/basemap/14/{}/{}.mvt", tile.x, tile.y),
    );
    assert_eq!(response.status, 200);
    let layers = decode(&response.bytes).unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0].name, "roads");
    assert!(
        layers[0].features.len() > 20,
        "{}",
        layers[0].features.len()
    );
    assert!(
        layers[0]
            .features
            .iter()
            .any(|f| f.attributes.contains_key("name"))
    );
    let style = http_get(server.addr, "/style.json").json();
    assert!(
        style["sources"]["basemap"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/basemap.json")
    );
    assert_eq!(style["layers"][1]["source"], "basemap");
    let bad = http_get(server.addr, "/basemap/99/0/0.mvt");
    assert_eq!(bad.status, 400);

    // Without a base map, the route says how to build one.
    let empty = tempfile::tempdir().unwrap();
    let bare = Server::start(empty.path(), &[]);
    let missing = http_get(bare.addr, "/basemap/14/0/0.mvt");
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("waymark tiles basemap"),
        "{}",
        missing.body
    );
}
