//! The MBTiles file and the exports: corrupt files are refused by name, exports are
//! complete and refuse to overwrite.

use tiles::{MbTiles, MbTilesError, export};

use crate::{builder, commit_drive, munich, open_store, recent};

#[tokio::test]
async fn a_corrupt_mbtiles_file_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiles.mbtiles");
    // Truncated garbage where the tileset should be.
    std::fs::write(
        &path,
        b"SQLite format 3\0garbage that is not a database page",
    )
    .unwrap();
    let err = MbTiles::open(&path).await.unwrap_err();
    assert!(matches!(err, MbTilesError::Unusable { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("waymark tiles build"), "{message}");

    // A SQLite database that is something else is refused too, and left untouched.
    let other = dir.path().join("other.mbtiles");
    {
        // Waymark's own SQLite database, whatever backend the other tests run on.
        let config = store::StoreConfig::under(&dir.path().join("store"));
        let store = store::Store::open(&config).await.unwrap();
        store.db.pool().close().await;
        std::fs::copy(dir.path().join("store/waymark.db"), &other).unwrap();
    }
    let before = std::fs::read(&other).unwrap();
    let err = MbTiles::open(&other).await.unwrap_err();
    assert!(
        err.to_string().contains("no `metadata` and `tiles` tables"),
        "{err}"
    );
    assert_eq!(std::fs::read(&other).unwrap(), before);
}

#[tokio::test]
async fn exports_hold_every_tile_and_never_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    commit_drive(&store, "alice", &recent(&munich()[..300]), 30).await;
    let mut builder = builder(&store, &dir.path().join("tiles.mbtiles")).await;
    builder
        .build_all(model::TimestampMs::now().as_millis())
        .await
        .unwrap();
    let count = builder.tiles().tile_count().await.unwrap() as usize;

    let pmtiles = dir.path().join("out.pmtiles");
    let summary = export::to_pmtiles(builder.tiles(), &pmtiles).await.unwrap();
    assert_eq!(summary.tiles, count);
    let bytes = std::fs::read(&pmtiles).unwrap();
    assert_eq!(&bytes[..7], b"PMTiles");
    assert_eq!(bytes[7], 3, "PMTiles version 3");
    let err = export::to_pmtiles(builder.tiles(), &pmtiles)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");

    let copy = dir.path().join("copy.mbtiles");
    let summary = export::to_mbtiles(builder.tiles(), &copy).await.unwrap();
    assert_eq!(summary.tiles, count);
    let reopened = MbTiles::open(&copy).await.unwrap();
    assert_eq!(reopened.tile_count().await.unwrap() as usize, count);
    let metadata = reopened.metadata().await.unwrap();
    assert!(metadata.iter().any(|(k, v)| k == "format" && v == "pbf"));
}
