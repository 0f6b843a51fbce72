//! Several drivers over the same real roads on different days, through a real store:
//! hand-checked payouts, verification, proofs, and tampering caught.

use std::collections::BTreeSet;

use bytes::Bytes;
use h3o::LatLng;
use model::{
    COVERAGE_RESOLUTION, CaptureId, ContributorId, DeviceId, DeviceKeypair, Fix, FixType, FrameId,
    PayoutAddress, RejectReason, TimestampMs,
};
use rewards::shell::{RewardsConfig, close, close_due, proof, verify};
use rewards::{EpochId, Error, merkle};
use store::{
    BlobKey, FeatureRow, FrameOutcome, NewCapture, NewContributor, NewDevice, NewFrame,
    ObservationRow, Store, StoreConfig, StoredFeature,
};

use crate::{DAY, HOUR, at, munich_positions};

#[path = "../../../store/tests/it/moto.rs"]
mod moto;
#[path = "../../../store/tests/it/postgres.rs"]
mod postgres;

use moto::Moto;
use postgres::Postgres;

const FRAMES: usize = 300;

/// Where the world's store lives: SQLite and files, or PostgreSQL and S3 (moto), both real
/// servers on loopback.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Local,
    PostgresS3,
}

struct World {
    store: Store,
    _dir: tempfile::TempDir,
    _servers: Servers,
    alice: ContributorId,
    bob: ContributorId,
    fleet_owner: ContributorId,
    fleet_driver: ContributorId,
    mallory: ContributorId,
    /// The capture of each drive, by its tag.
    captures: std::collections::BTreeMap<&'static str, CaptureId>,
}

async fn contributor(store: &Store, name: &str, address: Option<&str>) -> ContributorId {
    let id = ContributorId::new();
    store
        .db
        .insert_contributor(&NewContributor {
            id,
            name: name.into(),
            token_sha256: format!("{:0>64}", name.len().to_string() + name),
            payout_address: address.map(|a| a.parse::<PayoutAddress>().unwrap()),
            created_at: TimestampMs(0),
        })
        .await
        .unwrap();
    id
}

async fn device(
    store: &Store,
    owner: ContributorId,
    driver: Option<(ContributorId, u16)>,
) -> DeviceId {
    let id = DeviceId::new();
    let seed: [u8; 32] = *id.as_uuid().as_bytes().repeat(2).first_chunk().unwrap();
    store
        .db
        .insert_device(&NewDevice {
            id,
            public_key: DeviceKeypair::from_seed(seed).public(),
            contributor_id: owner,
            driver_id: driver.map(|(d, _)| d),
            driver_share_bps: driver.map_or(10_000, |(_, bps)| bps),
            // The scenario's fleet drivers have accepted their devices.
            driver_accepted_at: driver.map(|_| TimestampMs(0)),
            label: String::new(),
            registered_at: TimestampMs(0),
        })
        .await
        .unwrap();
    id
}

/// Uploads the Munich drive as one capture by `device`, starting at `start`, one frame a
/// second, every frame with `outcome`.
async fn drive(
    store: &Store,
    device: DeviceId,
    start: TimestampMs,
    outcome: FrameOutcome,
    tag: &str,
) -> CaptureId {
    let frames: Vec<NewFrame> = munich_positions(FRAMES)
        .into_iter()
        .enumerate()
        .map(|(i, (lat, lon))| NewFrame {
            index: i as u32,
            sha256: FrameId::of_bytes(format!("{tag}-{i}").as_bytes()),
            fix: Fix {
                time: start.saturating_add_ms(i as i64 * 1000),
                lat,
                lon,
                alt: None,
                heading: None,
                speed: Some(12.0),
                fix_type: FixType::Fix3d,
                satellites: 9,
                hdop: 0.8,
            },
            outcome,
        })
        .collect();
    let capture = CaptureId::new();
    store
        .db
        .insert_capture(
            &NewCapture {
                id: capture,
                device_id: device,
                sequence_number: 1,
                manifest_sha256: "0".repeat(64),
                manifest_key: format!("captures/{tag}.json"),
                signature: "0".repeat(128),
                frame_count: FRAMES as u32,
                received_at: start,
                camera: String::new(),
            },
            &frames,
            None,
        )
        .await
        .unwrap();
    capture
}

fn route_cells() -> usize {
    munich_positions(FRAMES)
        .into_iter()
        .map(|(lat, lon)| LatLng::new(lat, lon).unwrap().to_cell(COVERAGE_RESOLUTION))
        .collect::<BTreeSet<_>>()
        .len()
}

pub(crate) fn config() -> RewardsConfig {
    RewardsConfig {
        emission: "7000000".into(),
        ..RewardsConfig::default()
    }
}

pub(crate) fn w40() -> EpochId {
    "2026-W40".parse().unwrap()
}

/// Week 40: Mallory's device (Monday, replayed frames flagged by ingest, plus frames that
/// slipped through), Alice (Tuesday), Bob (Wednesday), a fleet device driven by Dana for
/// Owen with a 70 % driver share (Thursday). Everyone drives the same real roads.
/// The world on the backend this pass of the suite runs on (`scripts/test` runs it again on
/// PostgreSQL + S3).
async fn world() -> World {
    world_on(this_pass()).await
}

/// The backend this pass of the suite runs on (`WMK_TEST_BACKEND`).
fn this_pass() -> Backend {
    if std::env::var("WMK_TEST_BACKEND").as_deref() == Ok("postgres-s3") {
        Backend::PostgresS3
    } else {
        Backend::Local
    }
}

/// A store on the backend this pass of the suite runs on, with what keeps it alive.
pub(crate) async fn store_of_this_pass() -> (Store, tempfile::TempDir, Servers) {
    store_on(this_pass()).await
}

/// The servers a PostgreSQL + S3 store runs on (none for SQLite and files).
pub(crate) type Servers = (Option<Postgres>, Option<Moto>);

async fn store_on(backend: Backend) -> (Store, tempfile::TempDir, Servers) {
    let dir = tempfile::tempdir().unwrap();
    let (config, servers) = match backend {
        Backend::Local => (StoreConfig::under(dir.path()), (None, None)),
        Backend::PostgresS3 => {
            let postgres = Postgres::start();
            let moto = Moto::start();
            let config = StoreConfig {
                database_url: postgres.fresh_database().await,
                blobs_url: moto.bucket("waymark-rewards"),
                search_dir: Some(dir.path().join("search")),
            };
            (config, (Some(postgres), Some(moto)))
        }
    };
    let store = Store::open(&config).await.unwrap();
    (store, dir, servers)
}

async fn world_on(backend: Backend) -> World {
    let (store, dir, servers) = store_on(backend).await;
    let alice = contributor(
        &store,
        "alice",
        Some("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
    )
    .await;
    let bob = contributor(
        &store,
        "bob",
        Some("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"),
    )
    .await;
    let fleet_owner = contributor(
        &store,
        "owen",
        Some("0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"),
    )
    .await;
    let fleet_driver = contributor(
        &store,
        "dana",
        Some("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"),
    )
    .await;
    let mallory = contributor(
        &store,
        "mallory",
        Some("0x1111111111111111111111111111111111111111"),
    )
    .await;

    let epoch = w40();
    let mut captures = std::collections::BTreeMap::new();
    let mallory_device = device(&store, mallory, None).await;
    let replay_capture = drive(
        &store,
        mallory_device,
        at(epoch, 7 * HOUR),
        FrameOutcome::Rejected(RejectReason::Replay),
        "replay",
    )
    .await;
    captures.insert("replay", replay_capture);
    let slipped_capture = drive(
        &store,
        mallory_device,
        at(epoch, 7 * HOUR + HOUR),
        FrameOutcome::Accepted { quality: 1.0 },
        "slipped",
    )
    .await;
    captures.insert("slipped", slipped_capture);
    let alice_device = device(&store, alice, None).await;
    let alice_capture = drive(
        &store,
        alice_device,
        at(epoch, DAY + 8 * HOUR),
        FrameOutcome::Accepted { quality: 1.0 },
        "alice",
    )
    .await;
    captures.insert("alice", alice_capture);
    let bob_device = device(&store, bob, None).await;
    let bob_capture = drive(
        &store,
        bob_device,
        at(epoch, 2 * DAY + 8 * HOUR),
        FrameOutcome::Accepted { quality: 1.0 },
        "bob",
    )
    .await;
    captures.insert("bob", bob_capture);
    let fleet_device = device(&store, fleet_owner, Some((fleet_driver, 7_000))).await;
    let fleet_capture = drive(
        &store,
        fleet_device,
        at(epoch, 3 * DAY + 8 * HOUR),
        FrameOutcome::Accepted { quality: 1.0 },
        "fleet",
    )
    .await;
    captures.insert("fleet", fleet_capture);
    World {
        store,
        _dir: dir,
        _servers: servers,
        alice,
        bob,
        fleet_owner,
        fleet_driver,
        mallory,
        captures,
    }
}

fn amount_of(manifest: &rewards::manifest::RewardManifest, contributor: ContributorId) -> u128 {
    manifest
        .contributors
        .iter()
        .find(|entry| entry.contributor == contributor)
        .map_or(0, |entry| entry.amount.parse().unwrap())
}

#[rstest::rstest]
#[case::sqlite_and_files(Backend::Local)]
#[case::postgres_and_s3(Backend::PostgresS3)]
#[tokio::test]
async fn hand_checked_payouts_for_four_drivers_and_a_cheat(#[case] backend: Backend) {
    let world = world_on(backend).await;
    let epoch = w40();
    let now = epoch.ends_at().saturating_add_ms(2 * DAY);
    let closed = close(&world.store, epoch, &config(), now).await.unwrap();
    let manifest = &closed.manifest;
    let cells = route_cells();
    assert!(cells > 50, "the drive crosses {cells} cells");

    // Every route cell: Alice first (×1), Bob second (×1/2), the fleet third (×1/4, 70 % to
    // Dana, 30 % to Owen). Points per cell 1 : 0.5 : 0.175 : 0.075 of 1.75, so of 7 000 000:
    // The epoch closes with pass rank, which pays these figures too: each drive lasts five
    // minutes and the next one is a day later, so in every cell each drive is one pass of its
    // own (Tuesday, Wednesday, Thursday: passes 0, 1, 2), crediting a frame worth 1 (never
    // mapped, quality 1) — the same frame contributor rank took. The floor split leaves no
    // dust: 7 000 000 × 1/1.75, × 0.5/1.75, × 0.175/1.75, × 0.075/1.75 are whole.
    assert_eq!(amount_of(manifest, world.alice), 4_000_000);
    assert_eq!(amount_of(manifest, world.bob), 2_000_000);
    assert_eq!(amount_of(manifest, world.fleet_driver), 700_000);
    assert_eq!(amount_of(manifest, world.fleet_owner), 300_000);
    // Mallory's device was caught replaying: it earns nothing, not even for the frames that
    // slipped through, and does not take the first rank from Alice.
    assert_eq!(amount_of(manifest, world.mallory), 0);
    assert_eq!(manifest.totals.flagged_frames, FRAMES);
    assert_eq!(manifest.totals.flagged_devices.len(), 1);
    assert_eq!(manifest.unallocated, "0");
    assert_eq!(manifest.totals.cells_awarded, 3 * cells);

    // The root is reproducible: closing again returns the same manifest, and verify agrees.
    let again = close(&world.store, epoch, &config(), now).await.unwrap();
    assert!(again.already_closed);
    assert_eq!(again.manifest.merkle_root, manifest.merkle_root);
    let verified = verify(&world.store, epoch).await.unwrap();
    assert_eq!(verified.merkle_root, manifest.merkle_root);

    // Every payee's proof verifies against the published root, with their cells listed.
    let root = hex_root(&manifest.merkle_root);
    for (contributor, expected_cells) in [
        (world.alice, cells),
        (world.bob, cells),
        (world.fleet_driver, cells),
        (world.fleet_owner, cells),
    ] {
        let claim = proof(&world.store, epoch, contributor).await.unwrap();
        let leaf = merkle::Leaf {
            address: claim.address.unwrap(),
            amount: claim.claim_amount.parse().unwrap(),
        };
        let siblings: Vec<merkle::Hash> = claim.proof.iter().map(|h| hex_root(h)).collect();
        assert!(merkle::verify(&root, &leaf, &siblings), "{contributor}");
        assert_eq!(claim.cells.len(), expected_cells);
    }
    assert!(matches!(
        proof(&world.store, epoch, world.mallory).await,
        Err(Error::NoReward { .. })
    ));

    // A proof is the row kept at close, not a recompute: it answers the same with the
    // epoch's inputs and attribution files gone.
    let before = proof(&world.store, epoch, world.bob).await.unwrap();
    for file in [&manifest.files.inputs, &manifest.files.cells] {
        world
            .store
            .blobs
            .delete(&BlobKey::parse(file).unwrap())
            .await
            .unwrap();
    }
    assert_eq!(proof(&world.store, epoch, world.bob).await.unwrap(), before);
    assert!(matches!(
        verify(&world.store, epoch).await,
        Err(Error::MissingInput(_))
    ));
    // An epoch closed before claims were kept has none: its proof is recomputed from the
    // published inputs (gone here, so the answer names them).
    sqlx::query("UPDATE rewards SET claim_json = NULL")
        .execute(world.store.db.pool())
        .await
        .unwrap();
    assert!(matches!(
        proof(&world.store, epoch, world.bob).await,
        Err(Error::MissingInput(_))
    ));
}

#[tokio::test]
async fn both_backends_publish_the_same_root() {
    let epoch = w40();
    let now = epoch.ends_at().saturating_add_ms(2 * DAY);
    let mut roots = Vec::new();
    for backend in [Backend::Local, Backend::PostgresS3] {
        let world = world_on(backend).await;
        let closed = close(&world.store, epoch, &config(), now).await.unwrap();
        let mut amounts: Vec<(Option<PayoutAddress>, String)> = closed
            .manifest
            .contributors
            .iter()
            .map(|entry| (entry.address, entry.amount.clone()))
            .collect();
        amounts.sort();
        roots.push((closed.manifest.merkle_root, amounts));
    }
    assert_eq!(
        roots[0], roots[1],
        "SQLite + files and PostgreSQL + S3 agree"
    );
}

#[tokio::test]
async fn bounties_go_to_the_first_fresh_coverage_or_back() {
    let world = world().await;
    let epoch = w40();
    let (lat, lon) = munich_positions(1)[0];
    let square = |lat: f64, lon: f64| {
        format!(
            r#"{{"type":"Polygon","coordinates":[[[{a},{b}],[{c},{b}],[{c},{d}],[{a},{d}],[{a},{b}]]]}}"#,
            a = lon - 0.001,
            b = lat - 0.001,
            c = lon + 0.001,
            d = lat + 0.001
        )
    };
    let feature = |id: &str, area: String, budget: &str, starts: &str, expires: &str| {
        format!(
            r#"{{"type":"Feature","properties":{{"id":"{id}","budget":"{budget}","starts_at":"{starts}","expires_at":"{expires}"}},"geometry":{area}}}"#
        )
    };
    let file = format!(
        r#"{{"type":"FeatureCollection","features":[{},{},{}]}}"#,
        feature(
            "start-of-drive",
            square(lat, lon),
            "1000",
            "2026-09-28T00:00:00Z",
            "2026-10-30T00:00:00Z"
        ),
        feature(
            "nowhere-expired",
            square(0.5, 0.5),
            "500",
            "2026-09-28T00:00:00Z",
            "2026-10-01T00:00:00Z"
        ),
        feature(
            "nowhere-running",
            square(0.5, 0.6),
            "700",
            "2026-09-28T00:00:00Z",
            "2026-12-01T00:00:00Z"
        ),
    );
    let config = RewardsConfig {
        bounties: rewards::bounties_from_geojson(&file).unwrap(),
        ..config()
    };
    let closed = close(
        &world.store,
        epoch,
        &config,
        epoch.ends_at().saturating_add_ms(2 * DAY),
    )
    .await
    .unwrap();
    let manifest = closed.manifest;
    // Alice is the first fresh coverage there (Mallory's device forfeited): emission + bounty.
    assert_eq!(amount_of(&manifest, world.alice), 4_001_000);
    assert_eq!(manifest.totals.bounty_paid, "1000");
    let outcome = |id: &str| {
        manifest
            .bounties
            .iter()
            .find(|b| b.id == id)
            .map(|b| b.outcome.clone())
            .unwrap()
    };
    assert_eq!(
        outcome("nowhere-expired"),
        rewards::compute::BountyOutcome::Refunded
    );
    assert_eq!(
        outcome("nowhere-running"),
        rewards::compute::BountyOutcome::Carried
    );
    assert!(matches!(
        outcome("start-of-drive"),
        rewards::compute::BountyOutcome::Claimed { .. }
    ));
    verify(&world.store, epoch).await.unwrap();

    let bad = rewards::bounties_from_geojson(&file.replace("\"1000\"", "\"lots\"")).unwrap_err();
    assert!(bad.to_string().contains("start-of-drive"), "{bad}");
}

#[tokio::test]
async fn freshness_refills_over_seven_days_across_epochs() {
    let world = world().await;
    let w40 = w40();
    let w41 = w40.next();
    let alice_device = world.store.db.devices_of(world.alice).await.unwrap()[0].id;
    // Alice drives again on Monday of week 41, four days after the fleet's Thursday drive.
    drive(
        &world.store,
        alice_device,
        at(w41, 8 * HOUR),
        FrameOutcome::Accepted { quality: 0.5 },
        "alice-again",
    )
    .await;
    let now = w41.ends_at().saturating_add_ms(2 * DAY);
    let closed = close_due(&world.store, &config(), now).await.unwrap();
    assert_eq!(closed, vec![w40, w41]);

    let claim = proof(&world.store, w41, world.alice).await.unwrap();
    assert_eq!(
        claim.amount, "7000000",
        "the only earner takes the whole emission"
    );
    for cell in &claim.cells {
        // 4 days of 7 refilled: ≈ 571 428 ppm (± the seconds between frames in a cell).
        assert!((570_000..=573_000).contains(&cell.weight_ppm), "{cell:?}");
        assert_eq!(cell.quality_ppm, 500_000);
        assert_eq!(cell.rank, 0);
    }
    assert!(
        close_due(&world.store, &config(), now)
            .await
            .unwrap()
            .is_empty(),
        "nothing left to close"
    );
}

/// Mallory's replay in week 40 opened a fraud case; in week 41 her device drives honestly and
/// earns its reputation's share: a finding standing (½ off), recovering by the 300 frames she
/// had accepted since. Cleared on review before a later close, it would cost nothing.
#[tokio::test]
async fn a_device_with_a_standing_finding_earns_its_reputations_share_next_week() {
    let world = world().await;
    let (w40, w41) = (w40(), w40().next());
    let mallory_device = world.store.db.devices_of(world.mallory).await.unwrap()[0].id;
    let cases = world
        .store
        .db
        .fraud_cases(&store::CaseQuery {
            limit: 10,
            ..store::CaseQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        cases.len(),
        1,
        "the replayed capture opened one case: {cases:?}"
    );
    assert_eq!(
        (cases[0].reason, cases[0].device),
        (RejectReason::Replay, mallory_device)
    );
    // Week 41: Mallory on Monday, Bob on Tuesday, each their own pass of every cell.
    let bob_device = world.store.db.devices_of(world.bob).await.unwrap()[0].id;
    for (device, day, tag) in [
        (mallory_device, 0, "mallory-41"),
        (bob_device, DAY, "bob-41"),
    ] {
        drive(
            &world.store,
            device,
            at(w41, day + 8 * HOUR),
            FrameOutcome::Accepted { quality: 1.0 },
            tag,
        )
        .await;
    }
    let now = w41.ends_at().saturating_add_ms(2 * DAY);
    assert_eq!(
        close_due(&world.store, &config(), now).await.unwrap(),
        vec![w40, w41]
    );

    let manifest = rewards::shell::read_manifest(&world.store, w41)
        .await
        .unwrap();
    let inputs: rewards::EpochInputs = serde_json::from_slice(
        &world
            .store
            .blobs
            .get(&BlobKey::parse(&manifest.files.inputs).unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    // One finding, 300 of her frames accepted after it (the "slipped" drive of week 40).
    let expected = model::reputation::reputation_ppm(&[model::reputation::Finding {
        at: at(w40, 7 * HOUR),
        clean_frames_since: FRAMES as u64,
    }]);
    assert!((540_000..560_000).contains(&expected), "{expected}");
    assert_eq!(
        inputs.reputation,
        std::collections::BTreeMap::from([(mallory_device, expected)]),
        "only the devices of the epoch below full trust are listed"
    );
    assert!(manifest.inputs.reputation.is_some());
    // Her points are her reputation's share of what full trust would give, cell by cell.
    let trusted = rewards::EpochInputs {
        reputation: Default::default(),
        ..inputs.clone()
    };
    let points = |inputs: &rewards::EpochInputs| {
        rewards::compute(inputs).unwrap().earnings[&world.mallory].points
    };
    let (weighed, full) = (points(&inputs), points(&trusted));
    let share = weighed as f64 / full as f64;
    assert!(
        (share - f64::from(expected) / 1e6).abs() < 1e-3,
        "{weighed} of {full}"
    );
    verify(&world.store, w41).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_closers_at_once_publish_one_result() {
    let world = world().await;
    let epoch = w40();
    let now = epoch.ends_at().saturating_add_ms(2 * DAY);
    let config = config();
    let (a, b) = tokio::join!(
        close(&world.store, epoch, &config, now),
        close(&world.store, epoch, &config, now)
    );
    let outcomes = [a, b];
    let fresh_roots: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            o.as_ref()
                .ok()
                .filter(|c| !c.already_closed)
                .map(|c| c.manifest.merkle_root.clone())
        })
        .collect();
    assert_eq!(
        fresh_roots.len(),
        1,
        "exactly one closer computed the epoch: {outcomes:?}"
    );
    for outcome in &outcomes {
        match outcome {
            Ok(closed) => assert_eq!(closed.manifest.merkle_root, fresh_roots[0]),
            Err(err) => assert!(matches!(err, Error::CloseInProgress(_)), "{err}"),
        }
    }
    verify(&world.store, epoch).await.unwrap();
}

#[tokio::test]
async fn an_epoch_closes_only_when_its_data_is_complete() {
    let world = world().await;
    let epoch = w40();
    let too_early = epoch.ends_at().saturating_add_ms(HOUR);
    let err = close(&world.store, epoch, &config(), too_early)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EpochStillOpen { .. }), "{err}");
    assert!(err.to_string().contains("closes 24 h later"), "{err}");

    // Epochs close in order: week 41 cannot close while week 40 is open.
    let err = close(
        &world.store,
        epoch.next(),
        &config(),
        epoch.ends_at().saturating_add_ms(9 * DAY),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::EarlierEpochOpen { earlier, .. } if earlier == epoch),
        "{err}"
    );

    let late_device = world.store.db.devices_of(world.bob).await.unwrap()[0].id;
    drive(
        &world.store,
        late_device,
        at(epoch, 5 * DAY),
        FrameOutcome::Pending,
        "late",
    )
    .await;
    let err = close(
        &world.store,
        epoch,
        &config(),
        epoch.ends_at().saturating_add_ms(2 * DAY),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::DataNotComplete { pending: 300, .. }),
        "{err}"
    );
    assert!(matches!(
        verify(&world.store, epoch).await,
        Err(Error::NotClosed(_))
    ));
}

#[tokio::test]
async fn verify_names_the_tampered_input() {
    let world = world().await;
    let epoch = w40();
    close(
        &world.store,
        epoch,
        &config(),
        epoch.ends_at().saturating_add_ms(2 * DAY),
    )
    .await
    .unwrap();

    // A stored frame row is edited after the close.
    sqlx::query("UPDATE frames SET quality = 0.9 WHERE sha256 = $1")
        .bind(FrameId::of_bytes(b"bob-10").to_hex())
        .execute(world.store.db.pool())
        .await
        .unwrap();
    let err = verify(&world.store, epoch).await.unwrap_err().to_string();
    assert!(
        err.contains("stored rows changed") && err.contains("frames"),
        "{err}"
    );
    sqlx::query("UPDATE frames SET quality = 1.0 WHERE sha256 = $1")
        .bind(FrameId::of_bytes(b"bob-10").to_hex())
        .execute(world.store.db.pool())
        .await
        .unwrap();
    verify(&world.store, epoch).await.unwrap();

    // The published inputs file is edited.
    let key = BlobKey::parse(&format!("rewards/{epoch}/inputs.json")).unwrap();
    let original = world.store.blobs.get(&key).await.unwrap();
    let text = String::from_utf8(original.to_vec()).unwrap().replacen(
        "\"emission\":\"7000000\"",
        "\"emission\":\"9000000\"",
        1,
    );
    world
        .store
        .blobs
        .put(&key, Bytes::from(text))
        .await
        .unwrap();
    let err = verify(&world.store, epoch).await.unwrap_err().to_string();
    assert!(
        err.contains("inputs file") && err.contains("params"),
        "{err}"
    );
    world.store.blobs.put(&key, original.clone()).await.unwrap();
    verify(&world.store, epoch).await.unwrap();

    // A published file disappears.
    world.store.blobs.delete(&key).await.unwrap();
    let err = verify(&world.store, epoch).await.unwrap_err();
    assert!(
        matches!(err, Error::MissingInput(ref missing) if missing.ends_with("inputs.json")),
        "{err}"
    );
    world.store.blobs.put(&key, original).await.unwrap();

    // A device changes hands after the close.
    sqlx::query("UPDATE devices SET driver_share_bps = 5000 WHERE driver_id IS NOT NULL")
        .execute(world.store.db.pool())
        .await
        .unwrap();
    let err = verify(&world.store, epoch).await.unwrap_err().to_string();
    assert!(err.contains("devices"), "{err}");
}

/// Alice drives the roads a second time, ten minutes after her first drive, under a second
/// account. Closed now (pass rank), that is the same pass in every cell and earns nothing.
/// The same epoch as published before pass rank (its inputs name no payout rule) still
/// verifies: it recomputes with contributor rank, which paid the second account.
#[tokio::test]
async fn an_epoch_published_before_pass_rank_verifies_with_its_own_rule() {
    let world = world().await;
    let epoch = w40();
    let second = contributor(
        &world.store,
        "alice-too",
        Some("0x2222222222222222222222222222222222222222"),
    )
    .await;
    let second_device = device(&world.store, second, None).await;
    drive(
        &world.store,
        second_device,
        at(epoch, DAY + 8 * HOUR + 10 * 60_000),
        FrameOutcome::Accepted { quality: 1.0 },
        "alice-too",
    )
    .await;
    let now = epoch.ends_at().saturating_add_ms(2 * DAY);
    let manifest = close(&world.store, epoch, &config(), now)
        .await
        .unwrap()
        .manifest;
    // Pass rank: Alice's two drives are one pass per cell, crediting her first account's
    // frame (equal worth, earlier); Bob and the fleet keep passes 1 and 2, as without her
    // second account.
    assert_eq!(amount_of(&manifest, world.alice), 4_000_000);
    assert_eq!(amount_of(&manifest, second), 0);
    assert_eq!(amount_of(&manifest, world.bob), 2_000_000);
    assert_eq!(amount_of(&manifest, world.fleet_driver), 700_000);
    verify(&world.store, epoch).await.unwrap();

    // Publish it again as the code before pass rank did: the inputs without the rule, the
    // manifest, tree and attribution computed from them, the root in the epoch's row.
    let key = |path: &str| BlobKey::parse(path).unwrap();
    let inputs_key = key(&manifest.files.inputs);
    let mut json: serde_json::Value =
        serde_json::from_slice(&world.store.blobs.get(&inputs_key).await.unwrap()).unwrap();
    assert_eq!(json["params"]["payout_rule"], "pass-rank");
    json["params"]
        .as_object_mut()
        .unwrap()
        .remove("payout_rule");
    let old: rewards::EpochInputs = serde_json::from_value(json).unwrap();
    assert_eq!(old.params.payout_rule, rewards::PayoutRule::ContributorRank);
    let addresses = manifest
        .contributors
        .iter()
        .filter_map(|entry| entry.address.map(|address| (entry.contributor, address)))
        .collect();
    let result = rewards::compute(&old).unwrap();
    let published = rewards::manifest::publish(&old, &result, &addresses);
    let legacy = &published.manifest;
    let tree = serde_json::to_vec_pretty(&published.tree.as_ref().unwrap().dump()).unwrap();
    for (path, body) in [
        (
            manifest.files.inputs.clone(),
            serde_json::to_vec(&old).unwrap(),
        ),
        (
            manifest.files.cells.clone(),
            serde_json::to_vec(&result.awards).unwrap(),
        ),
        (manifest.files.tree.clone(), tree),
        (
            rewards::manifest::Files::manifest_key(epoch),
            serde_json::to_vec_pretty(legacy).unwrap(),
        ),
    ] {
        world
            .store
            .blobs
            .put(&key(&path), Bytes::from(body))
            .await
            .unwrap();
    }
    sqlx::query("UPDATE epochs SET merkle_root = $1 WHERE id = $2")
        .bind(&legacy.merkle_root)
        .bind(epoch.to_string())
        .execute(world.store.db.pool())
        .await
        .unwrap();
    // Contributor rank per cell: Alice ×1, her second account ×1/2, Bob ×1/4, the fleet
    // fourth (0): 1 : 0.5 : 0.25 of 1.75, so of 7 000 000 (largest remainder, nothing left):
    assert_eq!(amount_of(legacy, world.alice), 4_000_000);
    assert_eq!(amount_of(legacy, second), 2_000_000);
    assert_eq!(amount_of(legacy, world.bob), 1_000_000);
    assert_eq!(amount_of(legacy, world.fleet_driver), 0);
    assert_ne!(legacy.merkle_root, manifest.merkle_root);
    let verified = verify(&world.store, epoch).await.unwrap();
    assert_eq!(verified.merkle_root, legacy.merkle_root);

    // Naming today's rule in those inputs changes their params hash: caught.
    let text = String::from_utf8(serde_json::to_vec(&old).unwrap())
        .unwrap()
        .replacen(
            r#""refill_ms":604800000"#,
            r#""refill_ms":604800000,"payout_rule":"pass-rank""#,
            1,
        );
    assert!(text.contains("pass-rank"));
    world
        .store
        .blobs
        .put(&inputs_key, Bytes::from(text))
        .await
        .unwrap();
    let err = verify(&world.store, epoch).await.unwrap_err().to_string();
    assert!(
        err.contains("inputs file") && err.contains("params"),
        "{err}"
    );
}

pub fn hex_root(text: &str) -> merkle::Hash {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text.trim_start_matches("0x"), &mut hash).unwrap();
    hash
}

/// A map feature whose first observation is frame `index` of the drive `tag`.
fn feature_seen_first_in(
    world: &World,
    id: &str,
    tag: &'static str,
    index: usize,
    time: TimestampMs,
    first_contributor: ContributorId,
) -> StoredFeature {
    let (lat, lon) = munich_positions(FRAMES)[index];
    let observation = |frame: usize, time_ms: i64| ObservationRow {
        capture_id: world.captures[tag].to_string(),
        frame_sha256: FrameId::of_bytes(format!("{tag}-{frame}").as_bytes()),
        sequence_id: None,
        contributor_id: first_contributor.to_string(),
        time_ms,
        class: "stop".into(),
        lat,
        lon,
        bearing_deg: 90.0,
        range_m: 15.0,
        heading_source: "receiver".into(),
    };
    let first = time.as_millis();
    StoredFeature {
        row: FeatureRow {
            id: id.into(),
            class: "stop".into(),
            lat,
            lon,
            cell: u64::from(LatLng::new(lat, lon).unwrap().to_cell(COVERAGE_RESOLUTION)),
            uncertainty_m: 2.0,
            method: "intersection".into(),
            facing_deg: Some(270.0),
            first_seen_ms: first,
            last_seen_ms: first + 1_000,
            first_contributor_id: first_contributor.to_string(),
            passes: 1,
            misses: 0,
            gone_at_ms: None,
            changed_at_ms: first,
            observation_count: 2,
        },
        observations: vec![
            observation(index, first),
            observation(index + 1, first + 1_000),
        ],
    }
}

/// Discovery rewards (a setting, off by default): 10 % of the emission goes, equally per
/// feature, to the first observers of the features new in the epoch — not to a device that
/// forfeits it, not for a feature first seen the week before — and the rest pays coverage as
/// always, in the same tree. The epoch waits for the features job before it closes.
#[tokio::test]
async fn first_observers_of_new_features_are_paid_from_the_emission() {
    let world = world().await;
    let epoch = w40();
    // Frame `index` of a drive that started at 08:00 on day `day` of the week.
    let frame_time = |day: i64, index: usize| {
        at(epoch, day * DAY + 8 * HOUR).saturating_add_ms(index as i64 * 1_000)
    };
    let features = [
        feature_seen_first_in(&world, "ft-bob", "bob", 40, frame_time(2, 40), world.bob),
        feature_seen_first_in(
            &world,
            "ft-fleet",
            "fleet",
            80,
            frame_time(3, 80),
            world.fleet_owner,
        ),
        // Mallory's slipped frames are accepted, but her device forfeits the epoch.
        feature_seen_first_in(
            &world,
            "ft-mallory",
            "slipped",
            120,
            at(epoch, 8 * HOUR).saturating_add_ms(120_000),
            world.mallory,
        ),
        // Alice's frame, but dated the week before: not new this epoch.
        feature_seen_first_in(
            &world,
            "ft-older",
            "alice",
            160,
            at(epoch, -2 * DAY),
            world.alice,
        ),
    ];
    world
        .store
        .db
        .save_features(world.captures["alice"], &features, &[], 0)
        .await
        .unwrap();
    let config = RewardsConfig {
        discovery_share_ppm: 100_000,
        ..config()
    };
    let now = epoch.ends_at().saturating_add_ms(2 * DAY);

    // A capture still waiting for its features holds the epoch open.
    let waiting = store::NewJob::new(store::MAP_FEATURES_JOB, &serde_json::json!({})).unwrap();
    world.store.queue.enqueue(&waiting).await.unwrap();
    let err = close(&world.store, epoch, &config, now).await.unwrap_err();
    assert!(
        matches!(err, Error::FeaturesPending { captures: 1, .. }),
        "{err}"
    );
    let job = world
        .store
        .queue
        .lease(store::MAP_FEATURES_JOB, std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    world.store.queue.complete(&job).await.unwrap();

    let manifest = close(&world.store, epoch, &config, now)
        .await
        .unwrap()
        .manifest;
    // 700 000 for two eligible discoveries; 6 300 000 for coverage at 1 : 0.5 : 0.175 : 0.075
    // (a pass per drive, as in the hand-checked close; 6 300 000 / 1.75 = 3 600 000 is whole,
    // so the floor split leaves no dust).
    assert_eq!(manifest.discovery_pool, "700000");
    assert_eq!(manifest.totals.discovery_paid, "700000");
    let paid: Vec<(&str, &str)> = manifest
        .discoveries
        .iter()
        .map(|d| (d.feature.as_str(), d.amount.as_str()))
        .collect();
    assert_eq!(paid, [("ft-bob", "350000"), ("ft-fleet", "350000")]);
    assert_eq!(amount_of(&manifest, world.alice), 3_600_000);
    assert_eq!(amount_of(&manifest, world.bob), 1_800_000 + 350_000);
    assert_eq!(amount_of(&manifest, world.fleet_driver), 630_000 + 245_000);
    assert_eq!(amount_of(&manifest, world.fleet_owner), 270_000 + 105_000);
    assert_eq!(amount_of(&manifest, world.mallory), 0);
    assert_eq!(manifest.unallocated, "0");
    let bob = manifest
        .contributors
        .iter()
        .find(|entry| entry.contributor == world.bob)
        .unwrap();
    assert_eq!(bob.discovery_amount, "350000");
    assert!(manifest.inputs.discoveries.is_some());
    let rows = world.store.db.rewards_of(world.bob).await.unwrap();
    assert_eq!(rows[0].discovery_amount.as_deref(), Some("350000"));

    // An auditor recomputes it from the published inputs, and Bob's proof lists his find.
    verify(&world.store, epoch).await.unwrap();
    let claim = proof(&world.store, epoch, world.bob).await.unwrap();
    assert_eq!(claim.discovery_amount, "350000");
    assert_eq!(claim.discoveries.len(), 1);
    assert_eq!(claim.discoveries[0].feature, "ft-bob");
    let leaf = merkle::Leaf {
        address: claim.address.unwrap(),
        amount: claim.claim_amount.parse().unwrap(),
    };
    let siblings: Vec<merkle::Hash> = claim.proof.iter().map(|h| hex_root(h)).collect();
    assert!(merkle::verify(
        &hex_root(&manifest.merkle_root),
        &leaf,
        &siblings
    ));

    // A discovery row changed after the close is caught by verify.
    let mut moved = features[0].clone();
    moved.row.first_seen_ms = at(epoch, -DAY).as_millis();
    moved.observations[0].time_ms = moved.row.first_seen_ms;
    world
        .store
        .db
        .save_features(world.captures["bob"], &[moved], &[], 0)
        .await
        .unwrap();
    let err = verify(&world.store, epoch).await.unwrap_err();
    assert!(err.to_string().contains("discoveries"), "{err}");
}
