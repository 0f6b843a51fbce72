//! Metering in the real server: a map consumer's key, credits granted by the operator's
//! command, metered tile requests over real ingested coverage, and a clean shutdown that
//! writes every counted request before the process exits.

use model::{DeviceKeypair, Fix};
use tiles::TileCoord;

use crate::live_tiles::{LANES, lane, munich, sign_up, upload_capture};
use crate::{Server, http_request, output, waymark};

/// Flushes never happen on their own during the test: only the shutdown writes.
const METERED: &str = "[metering]\nenabled = true\nflush_secs = 3600\n";

#[test]
fn a_clean_shutdown_writes_every_metered_request() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("waymark.toml");
    std::fs::write(&config, METERED).unwrap();
    let config = config.to_str().unwrap();
    let dir = data.path().to_str().unwrap();
    let server = Server::start(data.path(), &["--config", config]);

    // Real coverage: a contributor's capture of three real frames on the Munich drive.
    let key = DeviceKeypair::from_seed([7; 32]);
    sign_up(server.addr, &key);
    let drive = munich();
    let fixes: Vec<Fix> = (0..3).map(|i| drive[300 + i * 4]).collect();
    let jpegs: Vec<Vec<u8>> = LANES[..3].iter().map(|n| lane(n)).collect();
    let accepted = upload_capture(server.addr, &key, 1, &jpegs, &fixes);
    let (_, fix) = accepted.iter().next().unwrap();
    let tile = TileCoord::containing(fix.lon, fix.lat, 14);
    let path = format!("/tiles/14/{}/{}.mvt", tile.x, tile.y);
    wait_for_free_tile(&server, fix);
    assert_eq!(server.get(&path).status, 401, "z14 needs a key");

    // A map consumer: an account, a key, and credits from the operator's command.
    let account = http_request(
        server.addr,
        "POST",
        "/api/v1/contributors",
        &[("Content-Type", "application/json".into())],
        br#"{"name":"consumer"}"#,
    )
    .json();
    let bearer = format!("Bearer {}", account["token"].as_str().unwrap());
    let created = http_request(
        server.addr,
        "POST",
        "/api/v1/keys",
        &[("Authorization", bearer.clone())],
        b"",
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let api_key = created.json()["key"].as_str().unwrap().to_owned();
    let with_key = format!("{path}?key={api_key}");
    assert_eq!(server.get(&with_key).status, 402, "no credits yet");
    let id = account["id"].as_str().unwrap();
    let granted = output(waymark(&[
        "--data",
        dir,
        "credits",
        "grant",
        "--account",
        id,
        "500",
    ]));
    assert!(
        granted.status.success(),
        "{}",
        String::from_utf8_lossy(&granted.stderr)
    );
    assert!(String::from_utf8_lossy(&granted.stdout).contains("balance 500"));
    // The grant counts at once: a refused account's balance is read again.
    for _ in 0..5 {
        let served = server.get(&with_key);
        assert_eq!(served.status, 200, "{}", served.body);
    }
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("metered use written before stopping"),
        "{stderr}"
    );

    // Nothing counted was lost: five requests, each priced per cell-week of the tile.
    let balance = output(waymark(&[
        "--data",
        dir,
        "credits",
        "balance",
        "--account",
        id,
    ]));
    let left: i64 = String::from_utf8_lossy(&balance.stdout)
        .trim()
        .parse()
        .unwrap();
    let spent = 500 - left;
    assert!(spent > 0 && spent % 5 == 0, "spent {spent}");
    let server = Server::start(data.path(), &["--config", config]);
    let usage = http_request(
        server.addr,
        "GET",
        "/api/v1/usage",
        &[("Authorization", bearer)],
        b"",
    );
    assert_eq!(usage.status, 200, "{}", usage.body);
    let usage = usage.json();
    assert_eq!(usage["balance"], left);
    let cell_weeks: i64 = usage["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["cell_weeks"].as_i64().unwrap())
        .sum();
    assert_eq!(
        cell_weeks, spent,
        "one credit per cell-week of each tile request"
    );

    let refused = output(waymark(&[
        "--data",
        dir,
        "credits",
        "grant",
        "--account",
        "nobody",
        "5",
    ]));
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("UUID"));
}

/// Waits until the free z12 tile over `fix` answers: the tile builder has drawn the capture
/// (deeper tiles, where the frames are, need a key with metering on).
pub(crate) fn wait_for_free_tile(server: &Server, fix: &Fix) {
    let free = TileCoord::containing(fix.lon, fix.lat, 12);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while server
        .get(&format!("/tiles/12/{}/{}.mvt", free.x, free.y))
        .status
        != 200
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the capture never reached the tiles"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
