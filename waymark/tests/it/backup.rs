//! Backup and restore, as an operator runs them: `waymark backup --to DIR` while the server
//! takes uploads and serves, then `waymark restore --from DIR` into a fresh data directory.
//! The restored server serves the same frames byte for byte, publishes the same reward
//! epoch, `waymark rewards verify` recomputes the same Merkle root from the restored rows,
//! and search finds the same frames once the worker has re-indexed them.

use std::time::{Duration, Instant};

use model::{DeviceKeypair, TimestampMs};
use rewards::EpochId;

use crate::crash::{captures, outcome, send, start, wait_until_done};
use crate::live_tiles::sign_up;
use crate::web_map::wait_for_close;
use crate::{Server, output, waymark};

/// The epoch closes on its own, every second.
const CLOSING: &str = "[rewards]\nclose_check_secs = 1\n";

fn run(args: &[&str]) -> String {
    let done = output(waymark(args));
    assert!(
        done.status.success(),
        "waymark {args:?}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    String::from_utf8_lossy(&done.stdout).into_owned()
}

/// Every accepted frame's public image, by frame id.
fn images(
    server: &Server,
    key: &DeviceKeypair,
    ids: &[model::CaptureId],
) -> Vec<(String, Vec<u8>)> {
    let mut images = Vec::new();
    for id in ids {
        let status = crate::capture_status(server.addr, key, *id).json();
        for frame in status["frames"].as_array().unwrap() {
            if frame["status"] != "accepted" {
                continue;
            }
            let sha = frame["sha256"].as_str().unwrap().to_owned();
            let image = server.get(&format!("/api/v1/frames/{sha}/image.jpg"));
            assert_eq!(image.status, 200, "{sha}: {}", image.body);
            images.push((sha, image.bytes));
        }
    }
    images
}

fn search_hits(server: &Server) -> Vec<String> {
    let found = server.get("/api/v1/search?q=good&limit=1000");
    assert_eq!(found.status, 200, "{}", found.body);
    let mut frames: Vec<String> = found.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["frame"].as_str().unwrap().to_owned())
        .collect();
    frames.sort();
    frames
}

#[test]
fn a_backup_taken_while_serving_restores_the_same_frames_and_reward_roots() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), CLOSING);
    let key = DeviceKeypair::from_seed([51; 32]);
    sign_up(server.addr, &key);
    // Last week's captures: their epoch closes as soon as they are processed.
    let due = EpochId::containing(TimestampMs::now().saturating_add_ms(-86_400_000)).previous();
    let driven = due.ends_at().saturating_add_ms(-6 * 3_600_000);
    let all = captures(&key, driven);
    let mut ids = Vec::new();
    for capture in all.iter().take(3) {
        assert_eq!(send(server.addr, &key, capture).unwrap(), 202);
        wait_until_done(&server, &key, capture.id);
        ids.push(capture.id);
    }
    let root = wait_for_close(&server, due);
    let epoch = outcome(&server, due);
    let served = images(&server, &key, &ids);
    assert!(!served.is_empty());
    let found = search_hits(&server);
    assert!(!found.is_empty());

    // The backup runs beside the live server, which keeps taking uploads meanwhile.
    let backup = tempfile::tempdir().unwrap();
    let target = backup.path().join("waymark-backup");
    let uploading = {
        let (addr, capture, key) = (
            server.addr,
            all[3].clone(),
            DeviceKeypair::from_seed([51; 32]),
        );
        std::thread::spawn(move || send(addr, &key, &capture).unwrap())
    };
    let said = run(&[
        "--data",
        data.path().to_str().unwrap(),
        "backup",
        "--to",
        target.to_str().unwrap(),
    ]);
    assert!(said.contains("backed up the database"), "{said}");
    assert_eq!(uploading.join().unwrap(), 202);
    // A backup never overwrites one.
    let again = output(waymark(&[
        "--data",
        data.path().to_str().unwrap(),
        "backup",
        "--to",
        target.to_str().unwrap(),
    ]));
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    drop(server);

    // Restored into a fresh data directory, on a server of its own.
    let restored = tempfile::tempdir().unwrap();
    let said = run(&[
        "--data",
        restored.path().to_str().unwrap(),
        "restore",
        "--from",
        target.to_str().unwrap(),
    ]);
    assert!(said.contains("re-indexed"), "{said}");
    let verified = run(&[
        "--data",
        restored.path().to_str().unwrap(),
        "rewards",
        "verify",
        "--epoch",
        &due.to_string(),
    ]);
    assert!(
        verified.contains(&format!("merkle root {root} matches")),
        "{verified}"
    );
    let refused = output(waymark(&[
        "--data",
        restored.path().to_str().unwrap(),
        "restore",
        "--from",
        target.to_str().unwrap(),
    ]));
    assert!(
        !refused.status.success(),
        "a restore never overwrites a store"
    );

    let server = start(restored.path(), CLOSING);
    assert_eq!(outcome(&server, due), epoch, "the same published epoch");
    assert_eq!(
        images(&server, &key, &ids),
        served,
        "the same public frames"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let hits = search_hits(&server);
        // Re-indexed from the restored rows (the capture sent during the backup may be in
        // them too, still pending).
        if found.iter().all(|frame| hits.contains(frame)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "search was never rebuilt: {hits:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let health = server.get("/health").json();
    assert_eq!(health["status"], "ok", "{health}");
}
