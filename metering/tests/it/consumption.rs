//! Consumption rewards end to end: a map consumer's key spends credits on tiles and a
//! full-resolution frame over real Munich coverage from three contributors, the epoch
//! closes, and the consumption pool is paid to exactly the contributors who made the
//! consumed cell-weeks — in proportion to their coverage there, in the same Merkle tree as
//! the emission, with every proof accepted by OpenZeppelin's `@openzeppelin/merkle-tree`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use metering::Metering;
use model::{CellWeek, ContributorId, Fix, PayoutAddress, TimestampMs};
use rewards::EpochId;
use rewards::shell::{RewardsConfig, close_due, proof, verify};
use store::Store;
use tiles::TileCoord;

use crate::support::{self, Committed};
use crate::{config, new_account, tile_uri};

const DAY_MS: i64 = 86_400_000;

struct Drive {
    committed: Committed,
    fixes: Vec<Fix>,
    address: PayoutAddress,
}

/// A start for the drives inside the current ISO week and before now, so their cell-weeks
/// and the day of use fall in one epoch.
fn start_this_week() -> TimestampMs {
    let now = TimestampMs::now();
    let hour_ago = now.saturating_add_ms(-3_600_000);
    hour_ago.max(EpochId::containing(now).starts_at())
}

#[actix_web::test]
async fn the_consumption_pool_pays_exactly_the_makers_of_the_consumed_cells() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::open_store(dir.path()).await;
    let route = support::munich();
    let start = start_this_week();
    // Alice drives 300 s of the route; Carol the first 120 s of it, 20 minutes later (the
    // same cells, less of them); Bob drives the same pattern far away (0.3° north).
    let alice_fixes = support::starting_at(&route[..300], start);
    let carol_fixes = support::starting_at(&route[..120], start.saturating_add_ms(1_200_000));
    let bob_fixes: Vec<Fix> = support::starting_at(&route[..300], start)
        .into_iter()
        .map(|f| Fix {
            lat: f.lat + 0.3,
            ..f
        })
        .collect();
    let mut drives = BTreeMap::new();
    for (n, (name, fixes)) in [
        ("alice", alice_fixes),
        ("bob", bob_fixes),
        ("carol", carol_fixes),
    ]
    .into_iter()
    .enumerate()
    {
        let address = PayoutAddress::from_bytes([n as u8 + 1; 20]);
        let committed = support::commit_paid_drive(&store, name, &fixes, 25, Some(address)).await;
        for id in &committed.frames {
            let jpeg =
                std::fs::read(datasets::path("images/udacity_lanes/solidWhiteRight.jpg")).unwrap();
            store
                .blobs
                .put(&store::BlobKey::public_frame(id), jpeg.into())
                .await
                .unwrap();
        }
        drives.insert(
            name,
            Drive {
                committed,
                fixes,
                address,
            },
        );
    }
    let mut builder = support::builder(&store, &dir.path().join("tiles.mbtiles")).await;
    builder
        .build_all(TimestampMs::now().as_millis())
        .await
        .unwrap();
    let metering = Metering::new(store.clone(), config());
    let prices = metering.config().prices;
    let app = test::init_service(
        App::new()
            .configure(ingest::configure_parts(
                store.clone(),
                ingest::UploadLimits::default(),
                ingest::Routes {
                    metered: metering::metered,
                    ..ingest::Routes::all()
                },
            ))
            .configure(tiles::routes::configure_metered(
                builder.tiles().clone(),
                None,
                metering::metered,
            ))
            .configure(metering::routes::configure(metering.clone())),
    )
    .await;

    // The consumer: credits, a key, two z14 tiles over the start of the route and one
    // full-resolution frame of Alice's, further along it.
    let (account, bearer) = new_account(&store, "consumer").await;
    store
        .db
        .grant_credits(account, 10_000, TimestampMs::now())
        .await
        .unwrap();
    let created = test::call_and_read_body_json::<_, _, serde_json::Value>(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/keys")
            .insert_header(bearer)
            .to_request(),
    )
    .await;
    let auth = (
        "Authorization",
        format!("Bearer {}", created["key"].as_str().unwrap()),
    );
    let alice = &drives["alice"];
    let first = alice.fixes[0];
    let tile = TileCoord::containing(first.lon, first.lat, 14);
    let mut spent: BTreeMap<CellWeek, u64> = BTreeMap::new();
    for _ in 0..2 {
        let response = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&tile_uri(tile))
                .insert_header(auth.clone())
                .to_request(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        for cell_week in cell_weeks_in(&drives, tile) {
            *spent.entry(cell_week).or_default() += prices.tiles as u64;
        }
    }
    let far_along = alice
        .fixes
        .iter()
        .position(|f| !tile.bounds().contains(f.lon, f.lat))
        .expect("the drive leaves the first tile");
    let image = format!(
        "/api/v1/frames/{}/image.jpg",
        alice.committed.frames[far_along].to_hex()
    );
    let response = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&image)
            .insert_header(auth.clone())
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let fix = alice.fixes[far_along];
    *spent
        .entry(CellWeek::of(fix.lat, fix.lon, fix.time).unwrap())
        .or_default() += prices.imagery as u64;
    let flushed = metering.flush().await.unwrap();
    let credits: u64 = spent.values().sum();
    assert_eq!(flushed.credits as u64, credits);
    assert!(
        spent
            .keys()
            .all(|cw| made_by(&drives["bob"], cw).is_empty()),
        "nothing of Bob's was consumed"
    );

    // The epoch closes (as the server's scheduler would once its grace period is over).
    let config = RewardsConfig {
        emission: "1000000".into(),
        consumption_share_ppm: 400_000,
        units_per_credit: "1000".into(),
        ..RewardsConfig::default()
    };
    let epoch = EpochId::containing(alice.fixes[0].time);
    let after_grace = epoch.ends_at().saturating_add_ms(config.grace_ms + DAY_MS);
    let closed = close_due(&store, &config, after_grace).await.unwrap();
    assert_eq!(closed, vec![epoch]);
    let manifest = rewards::shell::read_manifest(&store, epoch).await.unwrap();
    let pool = u128::from(credits) * 1000 * 400_000 / 1_000_000;
    assert_eq!(manifest.credits_consumed, credits.to_string());
    assert_eq!(manifest.consumption_pool, pool.to_string());
    assert_eq!(
        manifest.totals.consumption_paid,
        pool.to_string(),
        "all of it is paid"
    );

    // Who should earn what, worked out here from the frames: each cell-week's part of the
    // pool by its credits, then over its makers by their distinct res-12 cells there.
    let consumed: Vec<(CellWeek, u64)> = spent.into_iter().collect();
    let parts = rewards::largest_remainder(
        pool,
        &consumed
            .iter()
            .map(|(cw, credits)| (cw.clone(), u128::from(*credits)))
            .collect::<Vec<_>>(),
    );
    let mut expected: BTreeMap<ContributorId, u128> = BTreeMap::new();
    for ((cell_week, _), part) in consumed.iter().zip(parts) {
        let mut makers: Vec<(model::DeviceId, ContributorId, u128)> = drives
            .values()
            .map(|drive| {
                (
                    drive.committed.device,
                    drive.committed.contributor,
                    made_by(drive, cell_week).len() as u128,
                )
            })
            .filter(|(_, _, cells)| *cells > 0)
            .collect();
        makers.sort();
        let weights: Vec<_> = makers.iter().map(|(d, _, c)| (*d, *c)).collect();
        for ((_, contributor, _), amount) in makers
            .iter()
            .zip(rewards::largest_remainder(part, &weights))
        {
            *expected.entry(*contributor).or_default() += amount;
        }
    }
    let paid: BTreeMap<ContributorId, u128> = manifest
        .contributors
        .iter()
        .map(|entry| (entry.contributor, entry.consumption_amount.parse().unwrap()))
        .filter(|(_, amount)| *amount > 0)
        .collect();
    assert_eq!(paid, expected);
    let earners: BTreeSet<_> = paid.keys().copied().collect();
    assert_eq!(
        earners,
        BTreeSet::from([
            drives["alice"].committed.contributor,
            drives["carol"].committed.contributor
        ]),
        "exactly Alice and Carol made the consumed cells"
    );
    assert!(
        paid[&drives["alice"].committed.contributor] > paid[&drives["carol"].committed.contributor],
        "Alice covered more of them"
    );
    let bob = manifest
        .contributors
        .iter()
        .find(|entry| entry.contributor == drives["bob"].committed.contributor)
        .unwrap();
    assert_eq!(bob.consumption_amount, "0");
    assert_ne!(bob.emission_amount, "0", "Bob still earns his emission");

    // One tree: each contributor's proof claims emission + consumption, and OpenZeppelin
    // accepts every one against the published root.
    let mut proofs = Vec::new();
    for drive in drives.values() {
        let claim = proof(&store, epoch, drive.committed.contributor)
            .await
            .unwrap();
        let amount: u128 = claim.amount.parse().unwrap();
        assert_eq!(
            amount,
            claim.emission_amount.parse::<u128>().unwrap()
                + claim.consumption_amount.parse::<u128>().unwrap()
        );
        assert_eq!(claim.claim_amount, claim.amount);
        assert!(
            claim
                .consumption
                .iter()
                .all(|award| award.device == drive.committed.device)
        );
        proofs.push(serde_json::json!({
            "value": [drive.address.to_checksummed(), claim.claim_amount],
            "proof": claim.proof,
        }));
    }
    verify_with_openzeppelin(&store, &manifest, &proofs).await;
    verify(&store, epoch)
        .await
        .expect("the closed epoch recomputes");

    // A capture held for review (its pixels unlike its places) makes no consumed coverage
    // from the time it is held: Carol's, held after this close, counted in it and would not
    // in a close after the hold; the closed epoch still verifies.
    let carol = &drives["carol"].committed;
    let held_at = after_grace.saturating_add_ms(1_000);
    store
        .db
        .hold_capture(carol.capture, model::RejectReason::UnlikePlace, held_at)
        .await
        .unwrap();
    let (cell_week, _) = consumed
        .iter()
        .find(|(cw, _)| !made_by(&drives["carol"], cw).is_empty())
        .expect("Carol made a consumed cell-week");
    let (cell, week) = (
        h3o::CellIndex::try_from(cell_week.cell).unwrap(),
        cell_week.week.parse::<EpochId>().unwrap(),
    );
    let makers = async |as_of: TimestampMs| -> BTreeSet<model::DeviceId> {
        store
            .db
            .coverage_by_device(cell, week.starts_at(), week.ends_at(), as_of)
            .await
            .unwrap()
            .into_iter()
            .map(|(device, _)| device)
            .collect()
    };
    assert!(makers(after_grace).await.contains(&carol.device));
    assert_eq!(
        makers(held_at).await,
        BTreeSet::from([drives["alice"].committed.device])
    );
    verify(&store, epoch)
        .await
        .expect("a hold after the close changes nothing it paid");
}

/// The cell-weeks of every drive's frames whose coverage cell's centre lies inside a tile.
fn cell_weeks_in(drives: &BTreeMap<&str, Drive>, tile: TileCoord) -> BTreeSet<CellWeek> {
    crate::cell_weeks_of(drives.values().flat_map(|drive| &drive.fixes), tile)
}

/// The distinct res-12 cells of a drive's frames in a cell-week.
fn made_by(drive: &Drive, cell_week: &CellWeek) -> BTreeSet<u64> {
    drive
        .fixes
        .iter()
        .filter(|f| CellWeek::of(f.lat, f.lon, f.time).as_ref() == Some(cell_week))
        .map(|f| u64::from(f.cell(model::COVERAGE_RESOLUTION).unwrap()))
        .collect()
}

async fn verify_with_openzeppelin(
    store: &Store,
    manifest: &rewards::manifest::RewardManifest,
    proofs: &[serde_json::Value],
) {
    let js = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rewards/tests/js");
    assert!(
        js.join("node_modules/@openzeppelin/merkle-tree").is_dir(),
        "@openzeppelin/merkle-tree is not installed; run scripts/setup"
    );
    let dir = tempfile::tempdir().unwrap();
    let tree = store
        .blobs
        .get(&store::BlobKey::parse(&manifest.files.tree).unwrap())
        .await
        .unwrap();
    std::fs::write(dir.path().join("tree.json"), &tree).unwrap();
    std::fs::write(
        dir.path().join("proofs.json"),
        serde_json::to_vec(proofs).unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new("node")
        .arg(js.join("verify.mjs"))
        .arg(dir.path().join("tree.json"))
        .arg(&manifest.merkle_root)
        .arg(dir.path().join("proofs.json"))
        .current_dir(&js)
        .output()
        .expect("node runs (installed by scripts/setup)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("verified {} proofs", proofs.len())),
        "{stdout}"
    );
}
