//! Crash safety of `waymark serve`: SIGKILL in the middle of heavy uploading, and in the
//! middle of closing a reward epoch. After a restart on the same data directory, every
//! acknowledged capture is there with each of its frames exactly once, every job is done,
//! and the epoch closes with the same Merkle root and amounts as a copy never killed.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use model::{
    CaptureId, CaptureManifest, DeviceKeypair, DeviceSignature, Fix, FrameEntry, FrameId,
    MANIFEST_FORMAT_VERSION, TimestampMs,
};
use rewards::EpochId;

use crate::live_tiles::{LANES, lane, munich, sign_up};
use crate::web_map::{video_stills, wait_for_close};
use crate::{HttpResponse, Server, try_post_capture, try_put_frame};

/// Short enough that a killed worker's job and a killed closer's claim are taken over
/// within seconds (the defaults are minutes).
const CRASHY: &str =
    "[ingest]\njob_lease_secs = 2\n\n[rewards]\nclose_check_secs = 1\nclose_claim_secs = 2\n";
pub(crate) const NEVER_CLOSING: &str = "[rewards]\nclose_check_secs = 0\n";
const FRAMES_PER_CAPTURE: usize = 5;
const UPLOADER_SEED: [u8; 32] = [9; 32];

/// `waymark serve` over `data` with `settings`.
pub(crate) fn start(data: &Path, settings: &str) -> Server {
    let config = data.join("crash-test.toml");
    std::fs::write(&config, settings).unwrap();
    Server::start(data, &["--config", config.to_str().unwrap()])
}

/// A signed capture, ready to send, and its pictures.
#[derive(Clone)]
pub(crate) struct Capture {
    pub(crate) id: CaptureId,
    jpegs: Vec<Vec<u8>>,
    body: Vec<u8>,
    signature: DeviceSignature,
}

/// Every distinct real picture at hand (the dashcam video's stills and the lane stills),
/// `FRAMES_PER_CAPTURE` to a capture, placed along the Munich drive from `start` on.
pub(crate) fn captures(key: &DeviceKeypair, start: TimestampMs) -> Vec<Capture> {
    let mut pictures = video_stills(45, 1);
    pictures.extend(LANES.iter().map(|name| lane(name)));
    let drive = munich();
    let t0 = drive[100].time;
    pictures
        .chunks_exact(FRAMES_PER_CAPTURE)
        .enumerate()
        .map(|(k, jpegs)| {
            let manifest = CaptureManifest {
                format_version: MANIFEST_FORMAT_VERSION,
                device_key: key.public(),
                capture_id: CaptureId::new(),
                sequence_number: k as u64 + 1,
                firmware: "test".into(),
                camera: "udacity".into(),
                frames: jpegs
                    .iter()
                    .enumerate()
                    .map(|(i, jpeg)| {
                        let fix = drive[100 + (k * FRAMES_PER_CAPTURE + i) * 4];
                        FrameEntry {
                            sha256: FrameId::of_bytes(jpeg),
                            fix: Fix {
                                time: start.saturating_add_ms(fix.time.millis_since(t0)),
                                ..fix
                            },
                        }
                    })
                    .collect(),
            };
            let (body, signature) = manifest.sign(key);
            Capture {
                id: manifest.capture_id,
                jpegs: jpegs.to_vec(),
                body,
                signature,
            }
        })
        .collect()
}

/// Sends a capture's frames and manifest as the agent does; the manifest's answer, or the
/// connection's error when the server is gone.
pub(crate) fn send(
    addr: std::net::SocketAddr,
    key: &DeviceKeypair,
    capture: &Capture,
) -> std::io::Result<u16> {
    for jpeg in &capture.jpegs {
        let put = try_put_frame(addr, key, jpeg)?;
        assert!(matches!(put.status, 200 | 201), "{}", put.body);
    }
    Ok(try_post_capture(addr, &capture.body, &capture.signature)?.status)
}

/// Polls a capture until the pipeline is done with it.
pub(crate) fn wait_until_done(
    server: &Server,
    key: &DeviceKeypair,
    id: CaptureId,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let status = crate::capture_status(server.addr, key, id).json();
        if status["state"] == "done" {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "capture {id} never done: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn kill(mut server: Server) {
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[test]
fn killing_serve_mid_upload_loses_no_acknowledged_frame() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), CRASHY);
    let key = DeviceKeypair::from_seed(UPLOADER_SEED);
    let token = sign_up(server.addr, &key);
    let all = captures(&key, TimestampMs::now().saturating_add_ms(-3_600_000));

    // The agent uploads capture after capture; the server is killed once three are
    // acknowledged, with the worker busy on them.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let uploader = {
        let (addr, all, acknowledged) = (server.addr, all.clone(), acknowledged.clone());
        std::thread::spawn(move || {
            let key = DeviceKeypair::from_seed(UPLOADER_SEED);
            for (index, capture) in all.iter().enumerate() {
                match send(addr, &key, capture) {
                    Ok(202) => acknowledged.lock().unwrap().push(index),
                    Ok(status) => panic!("capture {index} answered {status}"),
                    Err(_) => return index,
                }
            }
            all.len()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "no capture was acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
    kill(server);
    let stopped_at = uploader.join().unwrap();
    let before_kill = acknowledged.lock().unwrap().clone();
    eprintln!(
        "killed with {} of {} captures acknowledged; the upload broke off at capture {stopped_at}",
        before_kill.len(),
        all.len()
    );

    // Restarted, the agent sends again what it has no answer for: the capture the kill
    // interrupted (the same signed manifest) and the rest.
    let server = start(data.path(), CRASHY);
    for capture in &all[stopped_at..] {
        let status = send(server.addr, &key, capture).unwrap();
        assert!(matches!(status, 200 | 202), "{status}");
    }
    for (index, capture) in all.iter().enumerate() {
        let status = wait_until_done(&server, &key, capture.id);
        let frames = status["frames"].as_array().unwrap();
        let listed: Vec<&str> = frames
            .iter()
            .map(|f| f["sha256"].as_str().unwrap())
            .collect();
        let sent: Vec<String> = capture
            .jpegs
            .iter()
            .map(|j| FrameId::of_bytes(j).to_hex())
            .collect();
        assert_eq!(listed, sent, "capture {index}: every frame exactly once");
        for frame in frames {
            assert_ne!(frame["status"], "pending", "{status}");
            if frame["status"] == "accepted" {
                let id = frame["sha256"].as_str().unwrap();
                assert_eq!(server.get(&format!("/api/v1/frames/{id}")).status, 200);
                let image = server.get(&format!("/api/v1/frames/{id}/image.jpg"));
                assert_eq!(image.status, 200, "capture {index}: public copy of {id}");
            }
        }
    }
    let mine = crate::http_request(
        server.addr,
        "GET",
        "/api/v1/contributors/me/captures",
        &[("Authorization", format!("Bearer {token}"))],
        &[],
    )
    .json();
    assert_eq!(
        mine["captures"].as_array().unwrap().len(),
        all.len(),
        "no capture twice: {mine}"
    );
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
}

/// The state of `epoch` in the store under `data` (no server running), if it has a row.
fn epoch_state(data: &Path, epoch: EpochId) -> Option<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = store::Store::open(&store::StoreConfig::under(data))
            .await
            .unwrap();
        let row = store.db.epoch(&epoch.to_string()).await.unwrap();
        store.db.pool().close().await;
        row.map(|row| row.state.to_string())
    })
}

/// Leaves a close claim on `epoch` as a closer killed mid-close leaves it.
fn claim_like_a_dead_closer(data: &Path, epoch: EpochId) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = store::Store::open(&store::StoreConfig::under(data))
            .await
            .unwrap();
        let now = TimestampMs::now();
        let row = store::EpochRow {
            id: epoch.to_string(),
            starts_at: epoch.starts_at(),
            ends_at: epoch.ends_at(),
            state: store::EpochState::Closing,
            emission: rewards::shell::RewardsConfig::default().emission,
            merkle_root: None,
            manifest_key: None,
            closed_at: Some(now),
            consumption_pool: None,
            credits_consumed: None,
        };
        let claimed = store
            .db
            .claim_epoch_close(&row, now, now.saturating_add_ms(-600_000))
            .await
            .unwrap();
        assert!(claimed);
        store.db.pool().close().await;
    });
}

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// The published root and amounts of a closed epoch.
pub(crate) fn outcome(server: &Server, epoch: EpochId) -> (String, serde_json::Value) {
    let manifest: HttpResponse = server.get(&format!("/api/v1/rewards/epochs/{epoch}"));
    assert_eq!(manifest.status, 200, "{}", manifest.body);
    let manifest = manifest.json();
    (
        manifest["merkle_root"].as_str().unwrap().to_owned(),
        manifest["contributors"].clone(),
    )
}

#[test]
fn killing_serve_mid_close_still_closes_the_epoch_with_the_same_root() {
    // Last week's captures, processed by a server that never closes epochs.
    let data = tempfile::tempdir().unwrap();
    let due = EpochId::containing(TimestampMs::now().saturating_add_ms(-86_400_000)).previous();
    {
        let server = start(data.path(), NEVER_CLOSING);
        let key = DeviceKeypair::from_seed([10; 32]);
        sign_up(server.addr, &key);
        let driven = due.ends_at().saturating_add_ms(-6 * 3_600_000);
        for capture in captures(&key, driven).iter().take(4) {
            assert_eq!(send(server.addr, &key, capture).unwrap(), 202);
            wait_until_done(&server, &key, capture.id);
        }
        let (status, stderr) = server.terminate();
        assert!(status.success(), "{stderr}");
    }
    let dead_closer = tempfile::tempdir().unwrap();
    copy_dir(data.path(), dead_closer.path());
    let reference = tempfile::tempdir().unwrap();
    copy_dir(data.path(), reference.path());

    // Undisturbed, a copy closes the epoch.
    let server = start(reference.path(), CRASHY);
    let root = wait_for_close(&server, due);
    let expected = outcome(&server, due);
    drop(server);

    // Killed again and again as it starts and closes (a small epoch closes within
    // milliseconds of the start, so most kills land before or after; the dead closer below
    // is the kill that lands inside, made certain).
    let mut states = Vec::new();
    for delay_ms in [0, 1, 2, 4, 8, 16, 32, 64] {
        let server = start(data.path(), CRASHY);
        std::thread::sleep(Duration::from_millis(delay_ms));
        kill(server);
        states.push(epoch_state(data.path(), due).unwrap_or_else(|| "open".into()));
    }
    eprintln!("epoch {due} after each kill: {states:?}");
    let server = start(data.path(), CRASHY);
    assert_eq!(wait_for_close(&server, due), root);
    assert_eq!(outcome(&server, due), expected);
    drop(server);

    // A closer killed while it held the epoch: once its claim goes stale, the restarted
    // server takes over and publishes the same.
    claim_like_a_dead_closer(dead_closer.path(), due);
    assert_eq!(
        epoch_state(dead_closer.path(), due).as_deref(),
        Some("closing")
    );
    let server = start(dead_closer.path(), CRASHY);
    assert_eq!(wait_for_close(&server, due), root);
    assert_eq!(outcome(&server, due), expected);
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
}

/// A tmpfs of `megabytes` mounted on `dir` for as long as it lives (the test runs as root,
/// as CI does: it installs packages with apt).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(
            mounted.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk with one file until no byte is left; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        while file.write_all(&[0]).is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        std::process::Command::new("umount")
            .arg(self.dir.path())
            .status()
            .ok();
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_loses_nothing() {
    let disk = SmallDisk::mount(64);
    let server = start(disk.path(), CRASHY);
    let key = DeviceKeypair::from_seed([11; 32]);
    sign_up(server.addr, &key);
    let all = captures(&key, TimestampMs::now().saturating_add_ms(-3_600_000));
    assert_eq!(send(server.addr, &key, &all[0]).unwrap(), 202);
    let before = wait_until_done(&server, &key, all[0].id);

    // The disk fills up: uploads are refused with a problem that says so.
    let filler = disk.fill();
    let refused = try_put_frame(server.addr, &key, &all[1].jpegs[0]).unwrap();
    eprintln!("upload on a full disk: {} {}", refused.status, refused.body);
    assert_eq!(refused.status, 507, "{}", refused.body);
    assert_eq!(
        refused.json()["type"],
        "https://waymark.dev/problems/storage-full"
    );
    assert!(refused.header("retry-after").is_some());
    // Reads still work.
    assert_eq!(
        crate::capture_status(server.addr, &key, all[0].id).json(),
        before
    );

    // Space again: the same upload goes through, and what was stored before is intact.
    std::fs::remove_file(filler).unwrap();
    assert_eq!(send(server.addr, &key, &all[1]).unwrap(), 202);
    wait_until_done(&server, &key, all[1].id);
    assert_eq!(
        crate::capture_status(server.addr, &key, all[0].id).json(),
        before
    );
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
    // And it starts again on the same disk.
    let server = start(disk.path(), CRASHY);
    assert_eq!(
        crate::capture_status(server.addr, &key, all[0].id).json(),
        before
    );
    drop(server);
}
