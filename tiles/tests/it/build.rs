//! Full builds and incremental updates over the real Munich drive.

use std::collections::BTreeMap;

use tiles::inspect::{GeometryType, decode};
use tiles::{LonLatBox, TileCoord};

use crate::{builder, commit_drive, munich, open_store, recent};

/// Every tile at every zoom 0–14 that the drive passes through.
fn tiles_over(fixes: &[model::Fix]) -> Vec<TileCoord> {
    let mut tiles: Vec<TileCoord> = (0..=14)
        .flat_map(|z| {
            fixes
                .iter()
                .map(move |f| TileCoord::containing(f.lon, f.lat, z))
        })
        .collect();
    tiles.sort();
    tiles.dedup();
    tiles
}

#[tokio::test]
async fn every_tile_over_a_real_drive_decodes_with_the_layers_its_zoom_shows() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    let drive = recent(&munich()[..400]);
    let frames = commit_drive(&store, "alice", &drive, 25).await;
    let mut builder = builder(&store, &dir.path().join("tiles.mbtiles")).await;
    let summary = builder
        .build_all(model::TimestampMs::now().as_millis())
        .await
        .unwrap();
    assert!(summary.tiles_rendered > 15, "{summary:?}");
    assert_eq!(store.db.dirty_cell_marks().await.unwrap(), vec![]);

    let mut frames_seen = std::collections::BTreeSet::new();
    for tile in tiles_over(&drive) {
        let stored = builder
            .tiles()
            .tile(tile)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("tile {tile} over the drive is missing"));
        let layers = decode(&stored.data).unwrap();
        let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
        let expected: Vec<&str> = match tile.z {
            0..=5 => vec!["coverage"],
            6..=11 => vec!["coverage", "sequences"],
            12 | 13 => vec!["sequences", "features"],
            _ => vec!["sequences", "frames", "features"],
        };
        // Features sit on every 25th frame, so a z12–14 tile may have none.
        let required: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|n| *n != "features")
            .collect();
        for name in &required {
            assert!(names.contains(name), "tile {tile} lacks {name}: {names:?}");
        }
        assert!(
            names.iter().all(|n| expected.contains(n)),
            "tile {tile} has {names:?}"
        );
        for layer in &layers {
            assert_eq!(layer.version, 2);
            assert_eq!(layer.extent, 4096);
            for feature in &layer.features {
                let a = &feature.attributes;
                match layer.name.as_str() {
                    "coverage" => {
                        assert_eq!(feature.geometry_type, GeometryType::Polygon);
                        assert!(a["frames"].as_f64().unwrap() >= 1.0);
                        assert_eq!(a["contributors"].as_f64(), Some(1.0));
                        let freshness = a["freshness"].as_f64().unwrap();
                        assert!((0.0..0.01).contains(&freshness), "mapped within the hour");
                        let today = model::TimestampMs::now().as_millis() / 86_400_000;
                        assert!(
                            (today - 1..=today)
                                .contains(&(a["last_seen"].as_f64().unwrap() as i64))
                        );
                    }
                    "sequences" => {
                        assert_eq!(feature.geometry_type, GeometryType::LineString);
                        assert_eq!(a["quality"].as_f64(), Some(0.8));
                        assert!(a["contributor"].as_str().is_some());
                    }
                    "frames" => {
                        assert_eq!(feature.geometry_type, GeometryType::Point);
                        let id = a["id"].as_str().unwrap().to_owned();
                        assert!(a["thumb"].as_str().unwrap().contains(&id));
                        assert_eq!(a["heading"].as_f64(), Some(90.0));
                        frames_seen.insert(id);
                    }
                    "features" => {
                        assert_eq!(a["class"].as_str(), Some("speed-limit-50"));
                        assert_eq!(a["status"].as_str(), Some("new"));
                        assert_eq!(a["observations"].as_f64(), Some(1.0));
                    }
                    other => panic!("unexpected layer {other}"),
                }
            }
        }
    }
    // Every accepted frame appears at z14 (the drive is far from any tile budget).
    let expected: std::collections::BTreeSet<String> = frames.iter().map(|f| f.to_hex()).collect();
    assert_eq!(frames_seen, expected);
    // Coverage at z0 counts every frame of the drive.
    let world = decode(
        &builder
            .tiles()
            .tile(TileCoord::new(0, 0, 0).unwrap())
            .await
            .unwrap()
            .unwrap()
            .data,
    )
    .unwrap();
    let total: f64 = world[0]
        .features
        .iter()
        .map(|f| f.attributes["frames"].as_f64().unwrap())
        .sum();
    assert_eq!(total, drive.len() as f64);
}

#[tokio::test]
async fn a_new_capture_rebuilds_only_the_tiles_it_touches() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    let drive = recent(&munich());
    // Bob drives the same streets' shape 40 km further east.
    let first = &drive[..600];
    let second: Vec<model::Fix> = drive[900..1100]
        .iter()
        .map(|f| model::Fix {
            lon: f.lon + 0.55,
            ..*f
        })
        .collect();
    let second = &second[..];
    commit_drive(&store, "alice", first, 50).await;
    let mut builder = builder(&store, &dir.path().join("tiles.mbtiles")).await;
    builder
        .build_all(model::TimestampMs::now().as_millis())
        .await
        .unwrap();
    let before = all_hashes(&builder).await;

    let new_frames = commit_drive(&store, "bob", second, 50).await;
    assert!(!store.db.dirty_cell_marks().await.unwrap().is_empty());
    let summary = builder
        .update(model::TimestampMs::now().as_millis())
        .await
        .unwrap();
    assert!(summary.tiles_rendered > 0);
    assert!(summary.cells_cleared > 0);
    assert_eq!(store.db.dirty_cell_marks().await.unwrap(), vec![]);
    let after = all_hashes(&builder).await;

    // Bob's frames are in the z14 tiles along his drive.
    let tile = TileCoord::containing(second[0].lon, second[0].lat, 14);
    let layers = decode(&builder.tiles().tile(tile).await.unwrap().unwrap().data).unwrap();
    let frames = layers.iter().find(|l| l.name == "frames").unwrap();
    let ids: Vec<&str> = frames
        .features
        .iter()
        .filter_map(|f| f.attributes["id"].as_str())
        .collect();
    assert!(ids.contains(&new_frames[0].to_hex().as_str()));

    // Tiles of Alice's drive that Bob's does not reach keep their ETag; the world tile,
    // which counts both, changes.
    let bob_area = LonLatBox::around(second.iter().map(|f| (f.lon, f.lat))).unwrap();
    let mut kept = 0;
    for (tile, hash) in &before {
        let reach = 360.0 / f64::from(1u32 << tile.z) * 0.1;
        if !tile.bounds().grown_by_degrees(reach).intersects(bob_area) {
            assert_eq!(after.get(tile), Some(hash), "tile {tile} changed");
            kept += 1;
        }
    }
    assert!(
        kept >= 5,
        "only {kept} of {} tiles away from the second drive",
        before.len()
    );
    let world = TileCoord::new(0, 0, 0).unwrap();
    assert_ne!(before[&world], after[&world]);
    assert!(after.len() > before.len());

    // Nothing dirty: nothing rendered.
    let idle = builder
        .update(model::TimestampMs::now().as_millis())
        .await
        .unwrap();
    assert_eq!(idle.tiles_rendered, 0);
}

/// The ids in the `frames` layer of the z14 tile at `fix`.
async fn frame_ids_at(builder: &tiles::TileBuilder, fix: &model::Fix) -> Vec<String> {
    let tile = TileCoord::containing(fix.lon, fix.lat, 14);
    let Some(stored) = builder.tiles().tile(tile).await.unwrap() else {
        return Vec::new();
    };
    decode(&stored.data)
        .unwrap()
        .iter()
        .filter(|layer| layer.name == "frames")
        .flat_map(|layer| &layer.features)
        .filter_map(|feature| feature.attributes["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_capture_held_for_review_leaves_the_map_until_a_reviewer_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    let drive = recent(&munich()[..200]);
    // Alice and Bob (an hour before) drive the same street; Bob's capture is the one a close will hold.
    let alice = commit_drive(&store, "alice", &drive[..100], 0).await;
    let later: Vec<model::Fix> = drive[..100]
        .iter()
        .map(|f| model::Fix {
            time: f.time.saturating_add_ms(-3_600_000),
            ..*f
        })
        .collect();
    let bob = crate::commit_drive_as(&store, "bob", &later, 0).await;
    let mut builder = builder(&store, &dir.path().join("tiles.mbtiles")).await;
    let now = || model::TimestampMs::now().as_millis();
    builder.build_all(now()).await.unwrap();
    let frames = builder.state().frame_count();
    let cells = builder.state().cell_count();
    assert!(
        frame_ids_at(&builder, &drive[10])
            .await
            .contains(&bob.frames[10].to_hex())
    );

    // Held (what the reward close does for a capture unlike its place): its cells are
    // marked, and the next update takes every one of its frames off the tiles; Alice's stay.
    store
        .db
        .hold_capture(
            bob.capture,
            model::RejectReason::UnlikePlace,
            model::TimestampMs::now(),
        )
        .await
        .unwrap();
    assert!(!store.db.dirty_cell_marks().await.unwrap().is_empty());
    let summary = builder.update(now()).await.unwrap();
    assert!(summary.tiles_rendered > 0);
    assert_eq!(builder.state().frame_count(), frames - bob.frames.len());
    assert!(builder.state().cell_count() <= cells);
    let ids = frame_ids_at(&builder, &drive[10]).await;
    assert!(!ids.contains(&bob.frames[10].to_hex()), "{ids:?}");
    assert!(ids.contains(&alice[10].to_hex()), "{ids:?}");
    // A full rebuild agrees.
    builder.build_all(now()).await.unwrap();
    assert_eq!(builder.state().frame_count(), frames - bob.frames.len());

    // Cleared: back on the map.
    let case = store
        .db
        .fraud_cases(&store::CaseQuery {
            limit: 10,
            ..store::CaseQuery::default()
        })
        .await
        .unwrap()
        .remove(0);
    store
        .db
        .decide_case(
            &case.id,
            store::Decision::Clear,
            alice_reviewer(&store, &case).await,
            "the drive was real",
            model::TimestampMs::now(),
            None,
        )
        .await
        .unwrap();
    builder.update(now()).await.unwrap();
    assert_eq!(builder.state().frame_count(), frames);
    assert!(
        frame_ids_at(&builder, &drive[10])
            .await
            .contains(&bob.frames[10].to_hex())
    );
}

/// Someone to record as the reviewer of `case`: its device's owner will do for the store.
async fn alice_reviewer(store: &store::Store, case: &store::FraudCase) -> model::ContributorId {
    store.db.capture_owner(case.capture).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_cell_marked_again_while_tiles_are_written_stays_dirty() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    let drive = recent(&munich()[..50]);
    commit_drive(&store, "alice", &drive, 10).await;
    let marks = store.db.dirty_cell_marks().await.unwrap();
    // Re-marking a cell (a later capture) changes its mark; clearing the old one keeps it.
    sqlx::query("UPDATE dirty_cells SET marked_at_ms = marked_at_ms + 1 WHERE cell = $1")
        .bind(marks[0].cell as i64)
        .execute(store.db.pool())
        .await
        .unwrap();
    let cleared = store.db.clear_dirty_cells(&marks).await.unwrap();
    assert_eq!(cleared as usize, marks.len() - 1);
    let left = store.db.dirty_cell_marks().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].cell, marks[0].cell);
}

async fn all_hashes(builder: &tiles::TileBuilder) -> BTreeMap<TileCoord, String> {
    let mut hashes = BTreeMap::new();
    for tile in builder.tiles().tile_coords().await.unwrap() {
        let stored = builder.tiles().tile(tile).await.unwrap().unwrap();
        hashes.insert(tile, stored.hash);
    }
    hashes
}
