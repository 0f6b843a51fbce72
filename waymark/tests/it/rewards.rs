//! `waymark rewards …` and the reward routes, on a data directory holding real drives.

use std::path::Path;
use std::time::{Duration, Instant};

use model::{CaptureId, ContributorId, DeviceKeypair, Fix, FixType, FrameId, TimestampMs};
use store::{FrameOutcome, NewCapture, NewFrame, Store, StoreConfig};

use crate::{Server, output, waymark};

const EPOCH: &str = "2026-W40";
/// Tuesday 2026-09-29 08:00 UTC, inside week 40.
const TUESDAY_MS: i64 = 1_790_553_600_000 + 32 * 3_600_000;

/// Positions of the real Munich drive (bmwcarit/barefoot).
fn munich(limit: usize) -> Vec<(f64, f64)> {
    datasets::read_barefoot(&datasets::path("gps/barefoot_munich_x0001-001.json"))
        .unwrap()
        .iter()
        .take(limit)
        .map(|fix| (fix.lat, fix.lon))
        .collect()
}

/// Alice drives on Tuesday, Bob the same roads on Wednesday: Alice earns 2/3, Bob 1/3.
fn seed(data: &Path) -> (ContributorId, ContributorId) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Store::open(&StoreConfig::under(data)).await.unwrap();
        let mut people = Vec::new();
        for (n, (name, address)) in [
            ("alice", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
            ("bob", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"),
        ]
        .into_iter()
        .enumerate()
        {
            let (contributor, device) = crate::received::signed_up(
                &store,
                name,
                DeviceKeypair::from_seed([n as u8 + 1; 32]).public(),
                Some(address.parse().unwrap()),
            )
            .await;
            let start = TUESDAY_MS + n as i64 * 86_400_000;
            let frames: Vec<NewFrame> = munich(200)
                .into_iter()
                .enumerate()
                .map(|(i, (lat, lon))| NewFrame {
                    index: i as u32,
                    sha256: FrameId::of_bytes(format!("{name}-{i}").as_bytes()),
                    fix: Fix {
                        time: TimestampMs(start + i as i64 * 1000),
                        lat,
                        lon,
                        alt: None,
                        heading: None,
                        speed: None,
                        fix_type: FixType::Fix3d,
                        satellites: 8,
                        hdop: 1.0,
                    },
                    outcome: FrameOutcome::Accepted { quality: 1.0 },
                })
                .collect();
            let capture = NewCapture {
                id: CaptureId::new(),
                device_id: device,
                sequence_number: 1,
                manifest_sha256: "0".repeat(64),
                manifest_key: format!("captures/{name}.json"),
                signature: "0".repeat(128),
                frame_count: 200,
                received_at: TimestampMs(start),
                camera: String::new(),
            };
            store
                .db
                .insert_capture(&capture, &frames, None)
                .await
                .unwrap();
            people.push(contributor);
        }
        store.db.pool().close().await;
        (people[0], people[1])
    })
}

fn run(data: &Path, args: &[&str]) -> (bool, String, String) {
    let mut full = vec!["--data", data.to_str().unwrap()];
    full.extend_from_slice(args);
    let out = output(waymark(&full));
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn close_verify_and_prove_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let (alice, bob) = seed(data.path());
    let (ok, stdout, stderr) = run(data.path(), &["rewards", "close", "--epoch", EPOCH]);
    assert!(ok, "{stderr}");
    // Alice's points are twice Bob's: pass rank pays each floor(points × emission / total),
    // 666 666 666 666 and 333 333 333 333, and the unit of dust stays unallocated (so
    // splitting work over accounts can never round its way to more).
    assert!(
        stdout.contains("2 contributors, 999999999999 paid"),
        "{stdout}"
    );
    let root = stdout
        .lines()
        .find_map(|line| line.strip_prefix(&format!("epoch {EPOCH} merkle root: ")))
        .expect("the root line")
        .to_owned();
    assert_eq!(root.len(), 66);

    let (ok, stdout, stderr) = run(data.path(), &["rewards", "verify", "--epoch", EPOCH]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&root), "{stdout}");

    let (ok, stdout, stderr) = run(
        data.path(),
        &[
            "rewards",
            "proof",
            "--epoch",
            EPOCH,
            "--contributor",
            &alice.to_string(),
        ],
    );
    assert!(ok, "{stderr}");
    let proof: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // Alice first everywhere (×1), Bob second (×1/2): 2/3 and 1/3 of 10^12.
    assert_eq!(proof["amount"], "666666666666");
    assert_eq!(proof["merkle_root"], root.as_str());
    assert_eq!(proof["proof"].as_array().unwrap().len(), 1);
    let (_, bob_proof, _) = run(
        data.path(),
        &[
            "rewards",
            "proof",
            "--epoch",
            EPOCH,
            "--contributor",
            &bob.to_string(),
        ],
    );
    assert!(
        bob_proof.contains("\"amount\": \"333333333333\""),
        "{bob_proof}"
    );
}

#[test]
fn reward_commands_fail_with_one_line_that_says_why() {
    let data = tempfile::tempdir().unwrap();
    seed(data.path());
    let this_week = rewards::EpochId::containing(TimestampMs::now()).to_string();
    for (args, expected) in [
        (
            vec!["rewards", "close", "--epoch", "2026-W99"],
            "not an ISO week",
        ),
        (
            vec!["rewards", "close", "--epoch", this_week.as_str()],
            "still open",
        ),
        (
            vec!["rewards", "verify", "--epoch", "2026-W41"],
            "is not closed yet",
        ),
        (
            vec![
                "rewards",
                "proof",
                "--epoch",
                EPOCH,
                "--contributor",
                "nobody",
            ],
            "--contributor",
        ),
    ] {
        let (ok, _, stderr) = run(data.path(), &args);
        assert!(!ok, "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn serve_closes_due_epochs_and_serves_them() {
    let data = tempfile::tempdir().unwrap();
    let (alice, _) = seed(data.path());
    let server = Server::start(data.path(), &[]);
    // The schedule runs at start: week 40 is long past its grace period, and so is every
    // week up to the one before the week 24 hours ago. Wait until all of them are closed.
    let last_due = rewards::EpochId::containing(TimestampMs::now().saturating_add_ms(-86_400_000))
        .previous()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let epochs = loop {
        let response = server.get("/api/v1/rewards/epochs");
        assert_eq!(response.status, 200);
        let epochs: serde_json::Value = serde_json::from_str(&response.body).unwrap();
        let list = epochs.as_array().unwrap();
        let all_closed = list.last().is_some_and(|e| e["epoch"] == last_due.as_str())
            && list.iter().all(|e| e["state"] == "closed");
        if all_closed || Instant::now() > deadline {
            break epochs;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(epochs[0]["epoch"], EPOCH);
    assert_eq!(epochs[0]["state"], "closed");
    let root = epochs[0]["merkle_root"].as_str().unwrap().to_owned();

    let manifest: serde_json::Value =
        serde_json::from_str(&server.get(&format!("/api/v1/rewards/epochs/{EPOCH}")).body).unwrap();
    assert_eq!(manifest["merkle_root"], root.as_str());
    let tree: serde_json::Value = serde_json::from_str(
        &server
            .get(&format!("/api/v1/rewards/epochs/{EPOCH}/tree"))
            .body,
    )
    .unwrap();
    assert_eq!(tree["format"], "standard-v1");
    assert_eq!(tree["tree"][0], root.as_str());
    let mine = server.get(&format!(
        "/api/v1/rewards/epochs/{EPOCH}/contributors/{alice}"
    ));
    assert_eq!(mine.status, 200);
    assert!(mine.body.contains("666666666666"), "{}", mine.body);
    let history = server.get(&format!("/api/v1/rewards/contributors/{alice}"));
    assert!(history.body.contains(EPOCH), "{}", history.body);

    // Every later week up to the last one past its grace period closed too, with nothing paid.
    let later = &epochs.as_array().unwrap()[1..];
    assert!(later.iter().all(|e| e["state"] == "closed"), "{epochs}");
    let this_week = rewards::EpochId::containing(TimestampMs::now()).to_string();
    let open_path = format!("/api/v1/rewards/epochs/{this_week}");
    for (path, status, slug) in [
        ("/api/v1/rewards/epochs/2026-W1", 400, "bad-epoch-id"),
        (open_path.as_str(), 404, "epoch-not-closed"),
        ("/api/v1/rewards/contributors/../../etc", 404, "not-found"),
        (
            "/api/v1/rewards/contributors/not-a-uuid",
            400,
            "bad-contributor-id",
        ),
    ] {
        let response = server.get(path);
        assert_eq!(response.status, status, "{path}: {}", response.body);
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json"),
            "{path}"
        );
        assert!(response.body.contains(slug), "{path}: {}", response.body);
    }
}
