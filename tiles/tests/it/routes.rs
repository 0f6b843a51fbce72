//! The tile routes over a built tileset: gzip MVT with strong ETags, 304, 204, and
//! problem+json for bad addresses.

use actix_web::http::StatusCode;
use actix_web::{App, test};
use rstest::rstest;
use tiles::TileCoord;
use tiles::inspect::decode;

use crate::{builder, commit_drive, munich, open_store, recent};

macro_rules! app {
    ($tiles:expr) => {
        test::init_service(App::new().configure(tiles::routes::configure($tiles, None))).await
    };
}

#[actix_web::test]
async fn tiles_are_served_with_etags_and_revalidated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    let drive = recent(&munich()[..200]);
    commit_drive(&store, "alice", &drive, 20).await;
    let mut builder = builder(&store, &dir.path().join("tiles.mbtiles")).await;
    builder
        .build_all(model::TimestampMs::now().as_millis())
        .await
        .unwrap();
    let app = app!(builder.tiles().clone());

    let tile = TileCoord::containing(drive[0].lon, drive[0].lat, 14);
    let uri = format!("/tiles/{}/{}/{}.mvt", tile.z, tile.x, tile.y);
    let response = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&uri)
            .insert_header(("Accept-Encoding", "gzip, br"))
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(
        headers.get("content-type").unwrap(),
        "application/vnd.mapbox-vector-tile"
    );
    assert_eq!(headers.get("content-encoding").unwrap(), "gzip");
    assert!(
        headers
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let etag = headers.get("etag").unwrap().to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong ETag: {etag}"
    );
    let body = test::read_body(response).await;
    let layers = decode(&body).unwrap();
    assert!(layers.iter().any(|l| l.name == "frames"));

    let not_modified = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&uri)
            .insert_header(("If-None-Match", etag.as_str()))
            .to_request(),
    )
    .await;
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert!(test::read_body(not_modified).await.is_empty());

    // A client without gzip gets the plain protobuf.
    let plain = test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await;
    assert_eq!(plain.status(), StatusCode::OK);
    let body = test::read_body(plain).await;
    assert_ne!(&body[..2], &[0x1f, 0x8b]);
    assert_eq!(decode(&body).unwrap(), layers);

    // Open sea: an empty tile.
    let empty = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/tiles/14/0/0.mvt")
            .to_request(),
    )
    .await;
    assert_eq!(empty.status(), StatusCode::NO_CONTENT);

    let tilejson: serde_json::Value = test::call_and_read_body_json(
        &app,
        test::TestRequest::get().uri("/tiles.json").to_request(),
    )
    .await;
    assert_eq!(tilejson["tilejson"], "3.0.0");
    assert!(
        tilejson["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with("/tiles/{z}/{x}/{y}.mvt")
    );
    assert_eq!(tilejson["vector_layers"].as_array().unwrap().len(), 4);
    let west = tilejson["bounds"][0].as_f64().unwrap();
    assert!(
        (11.0..12.0).contains(&west),
        "bounds around Munich: {}",
        tilejson["bounds"]
    );

    let style: serde_json::Value = test::call_and_read_body_json(
        &app,
        test::TestRequest::get().uri("/style.json").to_request(),
    )
    .await;
    assert_eq!(style["version"], 8);
    assert!(
        style["sources"]["waymark"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/tiles.json")
    );
}

/// The serving path keeps tiles in memory: a tile the builder rewrites (and an address
/// that was empty and now has a tile) must be served new at once, not after the cache ages.
#[actix_web::test]
async fn an_update_is_served_at_once_through_the_tile_cache() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    let drive = recent(&munich()[..200]);
    commit_drive(&store, "alice", &drive[..100], 20).await;
    let mut builder = builder(&store, &dir.path().join("tiles.mbtiles")).await;
    builder
        .build_all(model::TimestampMs::now().as_millis())
        .await
        .unwrap();
    let app = app!(builder.tiles().clone());
    let get = |uri: String| test::TestRequest::get().uri(&uri).to_request();

    let seen = TileCoord::containing(drive[0].lon, drive[0].lat, 14);
    let seen_uri = format!("/tiles/{}/{}/{}.mvt", seen.z, seen.x, seen.y);
    // Far from the first 100 fixes: an address with nothing yet.
    let later = TileCoord::containing(drive[199].lon, drive[199].lat, 18);
    let later_uri = format!("/tiles/14/{}/{}.mvt", later.x >> 4, later.y >> 4);
    assert_ne!(
        later_uri, seen_uri,
        "the test needs two different z14 tiles"
    );
    let before = test::call_service(&app, get(seen_uri.clone())).await;
    let etag_before = before.headers().get("etag").unwrap().clone();
    for _ in 0..3 {
        // Asked several times: cached both as a tile and as an empty address.
        let again = test::call_service(&app, get(seen_uri.clone())).await;
        assert_eq!(again.headers().get("etag").unwrap(), &etag_before);
        let empty = test::call_service(&app, get(later_uri.clone())).await;
        assert_eq!(empty.status(), StatusCode::NO_CONTENT);
    }

    commit_drive(&store, "bob", &drive[..200], 20).await;
    let summary = builder
        .update(model::TimestampMs::now().as_millis())
        .await
        .unwrap();
    assert!(summary.tiles.written > 0, "{summary:?}");
    let after = test::call_service(&app, get(seen_uri)).await;
    assert_eq!(after.status(), StatusCode::OK);
    assert_ne!(after.headers().get("etag").unwrap(), &etag_before);
    let filled = test::call_service(&app, get(later_uri)).await;
    assert_eq!(filled.status(), StatusCode::OK);
}

#[rstest]
#[case("/tiles/23/0/0.mvt", "deeper than 22")]
#[case("/tiles/-1/0/0.mvt", "not a whole number")]
#[case("/tiles/a/b/c.mvt", "not a whole number")]
#[case("/tiles/2/4/0.mvt", "x and y go from 0 to 3")]
#[case("/tiles/2/0/4.mvt", "x and y go from 0 to 3")]
#[case("/tiles/2/0/0.png", "served as /tiles/{z}/{x}/{y}.mvt")]
#[case("/tiles/2/0/.mvt", "not a whole number")]
#[case("/tiles/4294967296/0/0.mvt", "deeper than 22")]
#[case("/tiles/99999999999/0/0.mvt", "not a whole number")]
#[actix_web::test]
async fn bad_tile_addresses_get_a_problem_not_a_panic(#[case] uri: &str, #[case] message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let tiles = tiles::MbTiles::open(&dir.path().join("tiles.mbtiles"))
        .await
        .unwrap();
    let app = app!(tiles);
    let response = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body: serde_json::Value = test::read_body_json(response).await;
    assert!(body["detail"].as_str().unwrap().contains(message), "{body}");
}
