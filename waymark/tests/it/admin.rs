//! `waymark admin cases|decide`: the review queue from the command line, on a data directory
//! holding a capture the upload judge flagged as a replay.

use std::path::Path;

use model::{
    CaptureId, ContributorId, DeviceKeypair, Fix, FixType, FrameId, RejectReason, TimestampMs,
};
use store::{FrameOutcome, NewCapture, NewContributor, NewFrame, Store, StoreConfig};

use crate::{output, waymark};

/// Mallory's capture of 5 replayed frames (its fraud case open) and Olga's account; returns
/// Olga's id.
fn seed(data: &Path) -> ContributorId {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Store::open(&StoreConfig::under(data)).await.unwrap();
        let (_, device) = crate::received::signed_up(
            &store,
            "mallory",
            DeviceKeypair::from_seed([9; 32]).public(),
            None,
        )
        .await;
        let olga = ContributorId::new();
        store
            .db
            .insert_contributor(&NewContributor {
                id: olga,
                name: "olga".into(),
                token_sha256: format!("{:064}", 1),
                payout_address: None,
                created_at: TimestampMs(0),
            })
            .await
            .unwrap();
        let start = TimestampMs::now().saturating_add_ms(-3_600_000);
        let frames: Vec<NewFrame> = (0..5)
            .map(|i| NewFrame {
                index: i,
                sha256: FrameId::of_bytes(format!("replayed-{i}").as_bytes()),
                fix: Fix {
                    time: start.saturating_add_ms(i64::from(i) * 1000),
                    lat: 48.137 + f64::from(i) * 1e-4,
                    lon: 11.575,
                    alt: None,
                    heading: None,
                    speed: None,
                    fix_type: FixType::Fix3d,
                    satellites: 8,
                    hdop: 1.0,
                },
                outcome: FrameOutcome::Rejected(RejectReason::Replay),
            })
            .collect();
        let capture = NewCapture {
            id: CaptureId::new(),
            device_id: device,
            sequence_number: 1,
            manifest_sha256: "0".repeat(64),
            manifest_key: "captures/replayed.json".into(),
            signature: "0".repeat(128),
            frame_count: 5,
            received_at: start,
            camera: String::new(),
        };
        store
            .db
            .insert_capture(&capture, &frames, None)
            .await
            .unwrap();
        store.db.pool().close().await;
        olga
    })
}

fn run(data: &Path, args: &[&str]) -> (bool, String, String) {
    let mut full = vec!["--data", data.to_str().unwrap(), "admin"];
    full.extend_from_slice(args);
    let out = output(waymark(&full));
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn an_operator_lists_and_decides_fraud_cases_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let olga = seed(data.path()).to_string();
    let (ok, listed, stderr) = run(data.path(), &["cases", "--status", "open"]);
    assert!(ok, "{stderr}");
    let line = listed
        .lines()
        .find(|l| l.contains("replay"))
        .expect(&listed);
    assert!(line.contains("open") && line.contains("5 frames"), "{line}");
    let case = line.split_whitespace().next().unwrap().to_owned();

    // Only an admin decides, and says why; a bad status or decision is named.
    let decide = |by: &str, decision: &str, note: &str| {
        run(
            data.path(),
            &[
                "decide",
                "--case",
                &case,
                "--decision",
                decision,
                "--note",
                note,
                "--by",
                by,
            ],
        )
    };
    let (ok, _, stderr) = decide(&olga, "clear", "clock fault");
    assert!(!ok && stderr.contains("not an admin"), "{stderr}");
    let (ok, _, stderr) = run(data.path(), &["cases", "--status", "maybe"]);
    assert!(!ok && stderr.contains("not a case status"), "{stderr}");
    let (ok, _, stderr) = run(data.path(), &["grant", "--account", &olga]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = decide(&olga, "maybe", "x");
    assert!(
        !ok && stderr.contains("neither confirm nor clear"),
        "{stderr}"
    );
    let (ok, _, stderr) = decide(&olga, "clear", "   ");
    assert!(!ok && stderr.contains("--note is empty"), "{stderr}");

    let (ok, said, stderr) = decide(&olga, "clear", "clock fault, confirmed by the log");
    assert!(ok, "{stderr}");
    assert!(said.contains("is now cleared"), "{said}");
    let (ok, _, stderr) = decide(&olga, "confirm", "changed my mind");
    assert!(!ok && stderr.contains("not awaiting review"), "{stderr}");
    let (_, cleared, _) = run(data.path(), &["cases", "--status", "cleared"]);
    assert!(
        cleared.contains(&case) && cleared.contains("clock fault, confirmed by the log"),
        "{cleared}"
    );
    let (_, open, _) = run(data.path(), &["cases", "--status", "open"]);
    assert!(open.contains("no fraud cases"), "{open}");
}
