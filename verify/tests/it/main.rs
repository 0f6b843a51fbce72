//! `waymark-verify` against a real store served by the real reward routes: two drivers'
//! real drives, each a capture manifest signed by its device key. The verifier says the
//! root matches; then each published file is tampered with in turn — inputs, manifest,
//! tree, a capture's signed manifest, and a consistent lie (inputs and their hash edited
//! together) — and it names what differs. The binary's exit status and words too.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use model::{
    CaptureId, CaptureManifest, ContributorId, DeviceId, DeviceKeypair, Fix, FixType, FrameEntry,
    FrameId, MANIFEST_FORMAT_VERSION, PayoutAddress, TimestampMs,
};
use rewards::EpochId;
use rewards::report::{OracleKey, Oracles};
use rewards::shell::{RewardsConfig, close};
use sha2::{Digest, Sha256};
use store::{BlobKey, FrameOutcome, NewCapture, NewFrame, Store, StoreConfig};
use waymark_verify::{Finding, Network};

#[path = "../../../store/tests/it/received.rs"]
mod received;

const FRAMES: usize = 120;

fn epoch() -> EpochId {
    "2026-W40".parse().unwrap()
}

/// The published world: a data directory, its server's URL, and what was published.
struct World {
    _dir: tempfile::TempDir,
    blobs: PathBuf,
    url: String,
    captures: Vec<CaptureId>,
    alice: ContributorId,
    /// The network's three oracles (quorum 2).
    oracles: Vec<OracleKey>,
}

async fn driver(store: &Store, n: u8, address: &str) -> (ContributorId, DeviceId, DeviceKeypair) {
    let key = DeviceKeypair::from_seed([n; 32]);
    let (contributor, device) = received::signed_up(
        store,
        &format!("driver {n}"),
        key.public(),
        Some(address.parse::<PayoutAddress>().unwrap()),
    )
    .await;
    (contributor, device, key)
}

/// One capture of the real Munich drive, signed by `key` as the agent signs it, stored as
/// the upload route stores it (body blob, hash, signature).
async fn signed_drive(
    store: &Store,
    device: DeviceId,
    key: &DeviceKeypair,
    start: TimestampMs,
    tag: &str,
    outcome: FrameOutcome,
) -> CaptureId {
    let drive =
        datasets::read_barefoot(&datasets::path("gps/barefoot_munich_x0001-001.json")).unwrap();
    let capture = CaptureId::new();
    let entries: Vec<FrameEntry> = drive
        .iter()
        .take(FRAMES)
        .enumerate()
        .map(|(i, fix)| FrameEntry {
            sha256: FrameId::of_bytes(format!("{tag}-{i}").as_bytes()),
            fix: Fix {
                time: start.saturating_add_ms(i as i64 * 1_000),
                lat: fix.lat,
                lon: fix.lon,
                alt: None,
                heading: None,
                speed: Some(12.0),
                fix_type: FixType::Fix3d,
                satellites: 9,
                hdop: 0.8,
            },
        })
        .collect();
    let manifest = CaptureManifest {
        format_version: MANIFEST_FORMAT_VERSION,
        device_key: key.public(),
        capture_id: capture,
        sequence_number: 1,
        firmware: "test".into(),
        camera: "dashcam".into(),
        frames: entries.clone(),
    };
    let (body, signature) = manifest.sign(key);
    let manifest_key = format!("captures/{capture}.json");
    store
        .blobs
        .put(&BlobKey::parse(&manifest_key).unwrap(), body.clone().into())
        .await
        .unwrap();
    let frames: Vec<NewFrame> = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| NewFrame {
            index: i as u32,
            sha256: entry.sha256,
            fix: entry.fix,
            outcome,
        })
        .collect();
    store
        .db
        .insert_capture(
            &NewCapture {
                id: capture,
                device_id: device,
                sequence_number: 1,
                manifest_sha256: hex::encode(Sha256::digest(&body)),
                manifest_key,
                signature: signature.to_hex(),
                frame_count: FRAMES as u32,
                received_at: start,
                camera: "dashcam".into(),
            },
            &frames,
            None,
        )
        .await
        .unwrap();
    capture
}

/// Two drivers in week 40, the epoch closed, and the reward routes served on loopback.
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::under(dir.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (captures, alice) = runtime.block_on(async {
        let store = Store::open(&config).await.unwrap();
        let (alice, alice_device, alice_key) =
            driver(&store, 1, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").await;
        let (_, bob_device, bob_key) =
            driver(&store, 2, "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359").await;
        let day = 86_400_000;
        let (_, mallory_device, mallory_key) =
            driver(&store, 3, "0x1111111111111111111111111111111111111111").await;
        let accepted = FrameOutcome::Accepted { quality: 0.9 };
        let at = |days: i64| epoch().starts_at().saturating_add_ms(days * day);
        let captures = vec![
            signed_drive(&store, alice_device, &alice_key, at(1), "alice", accepted).await,
            signed_drive(&store, bob_device, &bob_key, at(2), "bob", accepted).await,
            // Mallory replays Alice's footage (the same frame bytes) three days later, signed
            // by her own device: ingest flagged it. One frame id, two captures, two devices.
            signed_drive(
                &store,
                mallory_device,
                &mallory_key,
                at(4),
                "alice",
                FrameOutcome::Rejected(model::RejectReason::Replay),
            )
            .await,
        ];
        let config = RewardsConfig {
            emission: "7000000".into(),
            ..RewardsConfig::default()
        };
        close(
            &store,
            epoch(),
            &config,
            epoch().ends_at().saturating_add_ms(2 * day),
        )
        .await
        .unwrap();
        (captures, alice)
    });
    drop(runtime);
    let oracles: Vec<OracleKey> = (0..3).map(|_| OracleKey::generate()).collect();
    let trusted = Oracles {
        addresses: oracles.iter().map(OracleKey::address).collect(),
        quorum: 2,
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let store = Store::open(&config).await.unwrap();
            actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .service(rewards::routes::scope(store.clone(), trusted.clone()))
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    let network = Network::new(&url);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while network.closed_epochs().is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    World {
        blobs: dir.path().join("blobs"),
        _dir: dir,
        url,
        captures,
        alice,
        oracles,
    }
}

/// Runs `check` with the published file at `key` edited by `edit`, then puts it back.
fn with_tampered<T>(
    blobs: &Path,
    key: &str,
    edit: impl FnOnce(&mut serde_json::Value),
    check: impl FnOnce() -> T,
) -> T {
    let path = blobs.join(key);
    let original = std::fs::read(&path).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&original).unwrap();
    edit(&mut value);
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    let result = check();
    std::fs::write(&path, original).unwrap();
    result
}

/// Runs one of this crate's binaries: its exit code, standard output and standard error.
fn run_binary(exe: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(exe)
        .args(args)
        .env_remove("WAYMARK_ORACLE_KEY")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `check` with the inputs edited by `edit` and the manifest's input hashes
/// republished to match them (a lie every hash agrees with), then puts both back.
fn republished<E, T>(
    blobs: &Path,
    edit: impl FnOnce(&mut rewards::EpochInputs) -> E,
    check: impl FnOnce() -> T,
) -> (T, E) {
    let bytes = std::fs::read(blobs.join(inputs_key())).unwrap();
    let mut inputs: rewards::EpochInputs = serde_json::from_slice(&bytes).unwrap();
    let edited = edit(&mut inputs);
    let hashes = serde_json::to_value(inputs.hashes()).unwrap();
    let result = with_tampered(
        blobs,
        &inputs_key(),
        |v| *v = serde_json::to_value(&inputs).unwrap(),
        || with_tampered(blobs, &manifest_key(), |m| m["inputs"] = hashes, check),
    );
    (result, edited)
}

fn inputs_key() -> String {
    format!("rewards/{}/inputs.json", epoch())
}

fn manifest_key() -> String {
    format!("rewards/{}/manifest.json", epoch())
}

#[test]
fn an_honest_epoch_matches_and_every_tampered_file_is_named() {
    let world = world();
    let network = Network::new(&world.url);
    let verified = network.verify(epoch()).unwrap();
    assert_eq!(
        (verified.frames, verified.captures, verified.devices),
        (3 * FRAMES, 3, 3),
        "the replayed frames are in the inputs, flagged, each signed by its own device"
    );
    let blobs = &world.blobs;
    let finding = || network.verify(epoch()).unwrap_err();

    // The inputs: a frame's quality raised.
    let err = with_tampered(
        blobs,
        &inputs_key(),
        |v| v["frames"][0]["quality"] = 1.0.into(),
        finding,
    );
    assert!(
        matches!(&err, Finding::InputHashes { inputs } if inputs == &["frames"]),
        "{err}"
    );
    // The inputs: a capture's signature swapped.
    let err = with_tampered(
        blobs,
        &inputs_key(),
        |v| v["captures"][0]["signature"] = "00".repeat(64).into(),
        finding,
    );
    assert!(
        matches!(&err, Finding::InputHashes { inputs } if inputs == &["captures"]),
        "{err}"
    );

    // The manifest: Alice's amount, then the root.
    let err = with_tampered(
        blobs,
        &manifest_key(),
        |v| {
            for entry in v["contributors"].as_array_mut().unwrap() {
                if entry["contributor"] == world.alice.to_string() {
                    entry["amount"] = "9999999".into();
                }
            }
        },
        finding,
    );
    assert!(
        matches!(&err, Finding::Amount { contributor, .. } if *contributor == world.alice),
        "{err}"
    );
    let err = with_tampered(
        blobs,
        &manifest_key(),
        |v| v["merkle_root"] = format!("0x{}", "ab".repeat(32)).into(),
        finding,
    );
    assert!(matches!(err, Finding::Root { .. }), "{err}");

    // The attribution: one cell's points.
    let err = with_tampered(
        blobs,
        &format!("rewards/{}/cells.json", epoch()),
        |v| v[0]["points"] = 1.into(),
        finding,
    );
    assert!(
        matches!(&err, Finding::Cells(what) if what.contains("award 0")),
        "{err}"
    );

    // The tree: a leaf's amount.
    let err = with_tampered(
        blobs,
        &format!("rewards/{}/tree.json", epoch()),
        |v| v["values"][0]["value"][1] = "1".into(),
        finding,
    );
    assert!(
        matches!(&err, Finding::Tree(what) if what.contains("leaf 0")),
        "{err}"
    );

    // A capture's signed manifest: one fix moved after signing.
    let capture = world.captures[0];
    let err = with_tampered(
        blobs,
        &format!("captures/{capture}.json"),
        |v| v["frames"][3]["fix"]["lat"] = 48.0.into(),
        finding,
    );
    assert!(
        matches!(&err, Finding::Evidence(rewards::evidence::EvidenceProblem::ManifestHash { capture: c, .. }) if *c == capture),
        "{err}"
    );

    // A consistent lie: the operator moves a frame in the inputs and republishes the
    // manifest with the new hashes. Only the device's signature can tell, and it does.
    let (err, frame) = republished(
        blobs,
        |inputs| {
            inputs.frames[5].lat += 0.00002;
            inputs.frames[5].frame
        },
        finding,
    );
    assert!(
        matches!(&err, Finding::Evidence(rewards::evidence::EvidenceProblem::Moved { frame: f, .. }) if *f == frame),
        "{err}"
    );

    // A frame no device signed: dropped from its capture's evidence, hashes republished.
    let (err, dropped) = republished(blobs, |inputs| inputs.captures[1].frames.remove(0), finding);
    assert!(
        matches!(&err, Finding::Evidence(rewards::evidence::EvidenceProblem::Unlisted { frame: f, .. }) if *f == dropped),
        "{err}"
    );

    // Everything put back: it matches again.
    assert_eq!(network.verify(epoch()).unwrap(), verified);
}

#[test]
fn the_binary_says_root_matches_or_names_the_difference() {
    let world = world();
    let run = |args: &[&str]| run_binary(env!("CARGO_BIN_EXE_waymark-verify"), args);
    let (code, out, err) = run(&[&world.url]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("2026-W40: root matches 0x"), "{out}");
    assert!(out.contains("3 captures signed by 3 devices"), "{out}");

    let (code, out, _) = with_tampered(
        &world.blobs,
        &inputs_key(),
        |v| v["frames"][0]["quality"] = 1.0.into(),
        || run(&[&world.url, "--epoch", "2026-W40"]),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("DOES NOT MATCH") && out.contains("frames"),
        "{out}"
    );

    let (code, _, err) = run(&[&world.url, "--epoch", "2026-W41"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not closed"), "{err}");
    let (code, _, err) = run(&["http://127.0.0.1:9", "--epoch", "2026-W40"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot"), "{err}");
    let (code, _, err) = run(&[&world.url, "--epoch", "week 40"]);
    assert_eq!(code, Some(2), "{err}");
}

/// Three oracles, each recomputing from the published data alone, co-sign the epoch's
/// report; it is final with two. A key that is not the network's is refused; an oracle
/// that signs another root is shown as a disagreement, never counted.
#[test]
fn oracles_co_sign_and_a_report_is_final_with_k_of_n() {
    let world = world();
    let network = Network::new(&world.url);
    let first = network.attest(epoch(), &world.oracles[0]).unwrap();
    assert!(first.matches);
    let answer = network.post(&first).unwrap();
    assert_eq!(answer["agrees"], true);
    assert_eq!(answer["final"], false, "one of three, quorum two");
    let second = network.attest(epoch(), &world.oracles[1]).unwrap();
    assert_eq!(
        second.report, first.report,
        "independent recomputations agree"
    );
    let answer = network.post(&second).unwrap();
    assert_eq!(answer["final"], true);
    assert_eq!(answer["quorum"], 2);
    let signers: Vec<&str> = answer["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["oracle"].as_str().unwrap())
        .collect();
    assert!(signers.is_sorted(), "ascending, as the contract takes them");
    for signature in answer["signatures"].as_array().unwrap() {
        let signer = first
            .report
            .signer(signature["signature"].as_str().unwrap())
            .unwrap();
        assert_eq!(signer.to_string().to_lowercase(), signature["oracle"]);
    }

    // Someone else's key: refused.
    let stranger = network.attest(epoch(), &OracleKey::generate()).unwrap();
    let err = network.post(&stranger).unwrap_err();
    assert!(
        err.to_string().contains("403") && err.to_string().contains("not one of"),
        "{err}"
    );

    // The third oracle signs a different root: kept apart, the report stays final.
    let mut other = first.report.clone();
    other.merkle_root = format!("0x{}", "11".repeat(32));
    let dissent = waymark_verify::Attestation {
        signature: world.oracles[2].sign(&other).unwrap(),
        report: other,
        matches: false,
    };
    let answer = network.post(&dissent).unwrap();
    assert_eq!(answer["agrees"], false);
    assert_eq!(answer["final"], true);
    assert_eq!(answer["signatures"].as_array().unwrap().len(), 2);
    assert_eq!(answer["disagreements"].as_array().unwrap().len(), 1);
    assert_eq!(
        answer["disagreements"][0]["oracle"],
        world.oracles[2].address().to_string().to_lowercase()
    );
}

#[test]
fn the_oracle_binary_makes_a_key_and_signs() {
    let world = world();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("oracle.key");
    let run = |args: &[&str]| run_binary(env!("CARGO_BIN_EXE_waymark-oracle"), args);
    let key_arg = key.to_str().unwrap();
    let (code, address, err) = run(&["keygen", "--key", key_arg]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        address.trim().starts_with("0x") && address.trim().len() == 42,
        "{address}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only its owner reads the key");
    }
    let (code, _, err) = run(&["keygen", "--key", key_arg]);
    assert_eq!(code, Some(2));
    assert!(err.contains("already exists"), "{err}");
    // Not one of this network's oracles: the network refuses the signature.
    let (code, _, err) = run(&["sign", &world.url, "--key", key_arg]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not one of this network's oracles"), "{err}");
    // One of them: signed and counted.
    let theirs = dir.path().join("theirs.key");
    std::fs::write(&theirs, world.oracles[1].to_hex()).unwrap();
    let (code, out, err) = run(&["sign", &world.url, "--key", theirs.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("2026-W40: signed root 0x") && out.contains("1 of 3 oracles agree (quorum 2)"),
        "{out}"
    );
    let (code, _, err) = run(&["sign", &world.url, "--key", "/nonexistent.key"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("keygen"), "{err}");
}

/// The settlement contract on a local in-process EVM, given this real epoch: the oracles'
/// signatures over its report and every payee's published proof
/// (`contracts/test/settlement.mjs`: solc-js and @ethereumjs/vm from npm, installed by
/// scripts/setup).
#[test]
fn the_settlement_contract_takes_the_root_with_quorum_and_pays_every_claim_once() {
    let world = world();
    let network = Network::new(&world.url);
    for oracle in &world.oracles[..2] {
        network
            .post(&network.attest(epoch(), oracle).unwrap())
            .unwrap();
    }
    let mut fixture = network.settlement_fixture(epoch()).unwrap();
    let report: rewards::report::EpochReport = serde_json::from_value(
        ureq::get(&format!(
            "{}/api/v1/rewards/epochs/{}/report",
            world.url,
            epoch()
        ))
        .call()
        .unwrap()
        .into_json::<serde_json::Value>()
        .unwrap()["report"]
            .clone(),
    )
    .unwrap();
    assert_eq!(fixture["claims"].as_array().unwrap().len(), 2);
    assert_eq!(fixture["signatures"].as_array().unwrap().len(), 2);
    fixture["stranger_signature"] = OracleKey::generate().sign(&report).unwrap().into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixture.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&fixture).unwrap()).unwrap();
    let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts");
    assert!(
        contracts.join("node_modules/solc").is_dir(),
        "contracts/node_modules is missing: run scripts/setup"
    );
    let output = Command::new("node")
        .arg(contracts.join("test/settlement.mjs"))
        .arg(&path)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{out}\n{err}");
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["claims"], 2);
    assert_eq!(summary["paid"], report.total);
    assert_eq!(summary["failures"], serde_json::json!([]));
}

/// The oracle and evidence routes of a closed epoch meet malformed, oversized, mis-dated
/// and forged input with a typed problem, and keep nothing of it.
#[test]
fn bad_reports_and_capture_requests_are_typed_problems() {
    let world = world();
    let base = format!("{}/api/v1/rewards/epochs/{}", world.url, epoch());
    let post = |body: String| match ureq::post(&format!("{base}/signatures"))
        .set("Content-Type", "application/json")
        .send_string(&body)
    {
        Ok(response) => (response.status(), response.into_string().unwrap()),
        Err(ureq::Error::Status(status, response)) => (status, response.into_string().unwrap()),
        Err(other) => panic!("{other}"),
    };
    let get = |path: &str| match ureq::get(&format!("{base}{path}")).call() {
        Ok(response) => (response.status(), response.into_string().unwrap()),
        Err(ureq::Error::Status(status, response)) => (status, response.into_string().unwrap()),
        Err(other) => panic!("{other}"),
    };
    let network = Network::new(&world.url);
    let good = network.attest(epoch(), &world.oracles[0]).unwrap();
    let signed = |report: &rewards::report::EpochReport, signature: &str| {
        serde_json::json!({"report": report, "signature": signature}).to_string()
    };
    let mut other_epoch = good.report.clone();
    other_epoch.epoch = "2026-W41".parse().unwrap();
    other_epoch.epoch_number = 202641;
    for (name, body, status, slug) in [
        ("not JSON", "{".to_owned(), 400, "bad-oracle-report"),
        (
            "an unknown field",
            r#"{"report":{},"signature":"","extra":1}"#.to_owned(),
            400,
            "bad-oracle-report",
        ),
        (
            "5 KiB",
            format!(r#"{{"pad":"{}"}}"#, "x".repeat(5 * 1024)),
            400,
            "bad-oracle-report",
        ),
        (
            "a signature that is not hex",
            signed(&good.report, "0xzz"),
            400,
            "bad-oracle-report",
        ),
        (
            "a report of another epoch",
            signed(&other_epoch, &good.signature),
            400,
            "bad-oracle-report",
        ),
        (
            "a report changed after signing",
            {
                let mut changed = good.report.clone();
                changed.total = "1".into();
                signed(&changed, &good.signature)
            },
            403,
            "not-an-oracle",
        ),
    ] {
        let (got, problem) = post(body);
        assert_eq!(got, status, "{name}: {problem}");
        assert!(problem.contains(slug), "{name}: {problem}");
    }
    let (_, status) = get("/report");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        status["signatures"],
        serde_json::json!([]),
        "nothing was kept"
    );
    assert_eq!(status["disagreements"], serde_json::json!([]));

    let (got, problem) = get("/captures/not-a-uuid");
    assert_eq!(got, 400, "{problem}");
    assert!(problem.contains("bad-capture-id"), "{problem}");
    let (got, problem) = get(&format!("/captures/{}", CaptureId::new()));
    assert_eq!(got, 404, "{problem}");
    assert!(problem.contains("no-such-capture"), "{problem}");
    let (got, body) = get(&format!("/captures/{}", world.captures[0]));
    assert_eq!(got, 200);
    assert!(CaptureManifest::parse(body.as_bytes()).is_ok());
}
