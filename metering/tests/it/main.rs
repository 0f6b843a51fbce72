//! The gate and the consumer routes in front of the real serving routes (tiles built from a
//! real store, ingest's frame and search routes), over real Munich coverage committed
//! through the pipeline worker's store calls.

#[path = "../../../tiles/tests/it/support.rs"]
mod support;

mod consumption;

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use metering::{Metering, MeteringConfig};
use model::{CellWeek, FrameId, TimestampMs, UsageKind};
use store::{BlobKey, Store};
use tiles::TileCoord;

/// `(status, JSON body)` of one request.
macro_rules! call {
    ($app:expr, $request:expr) => {{
        let response = test::call_service(&$app, $request.to_request()).await;
        let status = response.status();
        let body = test::read_body(response).await;
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        (status, value)
    }};
}

macro_rules! app {
    ($world:expr, $metering:expr) => {
        test::init_service(
            App::new()
                .configure(ingest::configure_parts(
                    $world.store.clone(),
                    ingest::UploadLimits::default(),
                    ingest::Routes {
                        metered: metering::metered,
                        ..ingest::Routes::all()
                    },
                ))
                .configure(tiles::routes::configure_metered(
                    $world.tiles.clone(),
                    None,
                    metering::metered,
                ))
                .configure(metering::routes::configure($metering.clone())),
        )
        .await
    };
}

struct World {
    _dir: tempfile::TempDir,
    store: Store,
    tiles: tiles::MbTiles,
    /// The drive's frames with their positions and times.
    frames: Vec<(FrameId, model::Fix)>,
}

/// 300 frames of the real Munich drive, accepted, in the tiles, searchable, with public
/// JPEGs (the real Udacity frame stands in for each).
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = support::open_store(dir.path()).await;
    let drive = support::recent(&support::munich()[..300]);
    let committed = support::commit_drive_as(&store, "driver", &drive, 25).await;
    let jpeg = std::fs::read(datasets::path("images/udacity_lanes/solidWhiteRight.jpg")).unwrap();
    for id in &committed.frames {
        for blob in [BlobKey::public_frame(id), BlobKey::thumbnail(id)] {
            store.blobs.put(&blob, jpeg.clone().into()).await.unwrap();
        }
    }
    support::index_drive(&store, &committed, &drive, 25);
    let mut builder = support::builder(&store, &dir.path().join("tiles.mbtiles")).await;
    builder
        .build_all(TimestampMs::now().as_millis())
        .await
        .unwrap();
    World {
        tiles: builder.tiles().clone(),
        store,
        frames: committed.frames.into_iter().zip(drive).collect(),
        _dir: dir,
    }
}

fn config() -> MeteringConfig {
    MeteringConfig {
        enabled: true,
        flush_interval: Duration::from_secs(3600),
        ..MeteringConfig::default()
    }
}

/// A new account (as `POST /api/v1/contributors` makes it) and its bearer header.
async fn new_account(store: &Store, name: &str) -> (model::ContributorId, (&'static str, String)) {
    let id = model::ContributorId::new();
    let token = format!("token-of-{name}-{id}");
    store
        .db
        .insert_contributor(&store::NewContributor {
            id,
            name: name.into(),
            token_sha256: ingest::accounts::token_sha256(&token),
            payout_address: None,
            created_at: TimestampMs::now(),
        })
        .await
        .unwrap();
    (id, ("Authorization", format!("Bearer {token}")))
}

fn tile_uri(tile: TileCoord) -> String {
    format!("/tiles/{}/{}/{}.mvt", tile.z, tile.x, tile.y)
}

/// The cell-weeks of the world's frames whose coverage cell's centre lies inside a tile: what
/// a request for it consumes.
fn cell_weeks_in(world: &World, tile: TileCoord) -> BTreeSet<CellWeek> {
    cell_weeks_of(world.frames.iter().map(|(_, fix)| fix), tile)
}

/// The cell-weeks of `fixes` whose coverage cell's centre lies inside `tile`.
fn cell_weeks_of<'a>(
    fixes: impl Iterator<Item = &'a model::Fix>,
    tile: TileCoord,
) -> BTreeSet<CellWeek> {
    let b = tile.bounds();
    fixes
        .filter(|f| {
            let centre = h3o::LatLng::from(f.cell(model::COVERAGE_RESOLUTION).unwrap());
            b.contains(centre.lng(), centre.lat())
        })
        .filter_map(|f| CellWeek::of(f.lat, f.lon, f.time))
        .collect()
}

#[actix_web::test]
async fn low_zooms_are_open_and_everything_metered_needs_a_valid_key() {
    let world = world().await;
    let metering = Metering::new(world.store.clone(), config());
    let app = app!(world, metering);
    let first = world.frames[0].1;
    let low = TileCoord::containing(first.lon, first.lat, 12);
    let high = TileCoord::containing(first.lon, first.lat, 14);

    let (status, _) = call!(app, test::TestRequest::get().uri(&tile_uri(low)));
    assert_eq!(status, StatusCode::OK, "z12 is free and open");
    let image = format!(
        "/api/v1/frames/{}/thumbnail.jpg",
        world.frames[0].0.to_hex()
    );
    let (status, _) = call!(app, test::TestRequest::get().uri(&image));
    assert_eq!(status, StatusCode::OK, "thumbnails are free");

    let full = format!("/api/v1/frames/{}/image.jpg", world.frames[0].0.to_hex());
    for uri in [tile_uri(high), full.clone(), "/api/v1/search?q=good".into()] {
        let (status, problem) = call!(app, test::TestRequest::get().uri(&uri));
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}: {problem}");
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with("api-key-required")
        );
        assert!(
            problem["detail"].as_str().unwrap().contains("API key"),
            "{problem}"
        );
    }
    let made_up = metering::IssuedKey::generate().text();
    let (status, problem) = call!(
        app,
        test::TestRequest::get().uri(&format!("{}?key={made_up}", tile_uri(high)))
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(problem["detail"].as_str().unwrap().contains("not known"));
    let (status, problem) = call!(
        app,
        test::TestRequest::get()
            .uri(&tile_uri(high))
            .insert_header(("Authorization", "Bearer wmk_short"))
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("not an API key")
    );

    // A key scoped to tiles only: imagery is forbidden, tiles need credits first.
    let (account, bearer) = new_account(&world.store, "consumer").await;
    let (status, created) = call!(
        app,
        test::TestRequest::post()
            .uri("/api/v1/keys")
            .insert_header(bearer.clone())
            .set_json(serde_json::json!({ "name": "tiles only", "scopes": ["tiles"] }))
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let (status, problem) = call!(
        app,
        test::TestRequest::get().uri(&format!("{full}?key={key}"))
    );
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, problem) = call!(
        app,
        test::TestRequest::get().uri(&format!("{}?key={key}", tile_uri(high)))
    );
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("out-of-credits")
    );
    assert_eq!(problem["balance"], 0);
    world
        .store
        .db
        .grant_credits(account, 100, TimestampMs::now())
        .await
        .unwrap();
    let (status, _) = call!(
        app,
        test::TestRequest::get().uri(&format!("{}?key={key}", tile_uri(high)))
    );
    assert_eq!(status, StatusCode::OK);
}

/// The gate sits on the routes, so every spelling the router decodes to a metered route is
/// metered, and a spelling it does not decode reaches no metered handler at all.
#[actix_web::test]
async fn no_spelling_of_a_metered_path_gets_past_the_gate() {
    let world = world().await;
    let metering = Metering::new(world.store.clone(), config());
    let app = app!(world, metering);
    let first = world.frames[0].1;
    let high = TileCoord::containing(first.lon, first.lat, 14);
    let (z, x, y) = (high.z, high.x, high.y);
    let sha = world.frames[0].0.to_hex();
    let metered = [
        "/api/v1/searc%68?q=good".to_owned(),
        "/api/v1/%73earch?q=good".into(),
        "/%61pi/v1/search?q=good".into(),
        "/api/v1/SEARCH?q=good".into(),
        format!("/api/v1/frames/{sha}/image%2Ejpg"),
        format!("/api/v1/frames/{sha}/%69mage.jpg"),
        format!("/api/v1/frames/{sha}/image.jp%67"),
        format!("/tiles/{z}/{x}/{y}%2Emvt"),
        format!("/tiles/{z}/{x}/{y}%2epbf"),
        format!("/tiles/%31%34/{x}/{y}.mvt"),
        format!("/tiles/0{z}/{x}/{y}.mvt"),
        format!("/tiles/{z}/{x}/{y}.mvt?key="),
        format!("/tiles/{z}/{x}/{y}.mvt?key=%77mk_x"),
    ];
    for uri in &metered {
        let response =
            test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        let status = response.status();
        let body = test::read_body(response).await;
        if uri.contains("SEARCH") {
            // Paths are case-sensitive: no route, nothing served.
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            continue;
        }
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{uri}: {}",
            String::from_utf8_lossy(&body)
        );
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with("api-key-required"),
            "{uri}: {problem}"
        );
    }
    // Spellings the router does not decode (`%2F`, `%25`) match no metered route: they are
    // answered without serving a tile, a frame or a search.
    for uri in [
        "/api%2Fv1%2Fsearch?q=good".to_owned(),
        "/api/v1/searc%2568?q=good".into(),
        format!("/api/v1/frames/{sha}%2Fimage.jpg"),
        format!("/tiles/{z}/{x}/{y}%252Emvt"),
        format!("/tiles/{z}%2F{x}%2F{y}.mvt"),
    ] {
        let response =
            test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await;
        let status = response.status();
        assert!(status.is_client_error(), "{uri}: {status}");
    }
}

#[actix_web::test]
async fn keys_are_listed_without_secrets_and_revoked_at_once() {
    let world = world().await;
    let metering = Metering::new(world.store.clone(), config());
    let app = app!(world, metering);
    let (account, bearer) = new_account(&world.store, "consumer").await;
    world
        .store
        .db
        .grant_credits(account, 1_000, TimestampMs::now())
        .await
        .unwrap();
    let (status, created) = call!(
        app,
        test::TestRequest::post()
            .uri("/api/v1/keys")
            .insert_header(bearer.clone())
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["scopes"],
        serde_json::json!(["tiles", "imagery", "search"])
    );
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, listed) = call!(
        app,
        test::TestRequest::get()
            .uri("/api/v1/keys")
            .insert_header(bearer.clone())
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["keys"][0]["id"], id.as_str());
    assert!(
        !listed.to_string().contains(&key[key.len() - 64..]),
        "no secret listed"
    );
    // Stored hashed: the secret is nowhere in the database.
    let row = world.store.db.api_key(&id).await.unwrap().unwrap();
    assert_ne!(row.secret_sha256, key[key.len() - 64..]);

    let search = format!("/api/v1/search?q=good&limit=5&key={key}");
    let (status, found) = call!(app, test::TestRequest::get().uri(&search));
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["count"], 5);
    // The key's secret must match, not only its id.
    let forged = format!("{}{}", &key[..key.len() - 64], "0".repeat(64));
    let (status, _) = call!(
        app,
        test::TestRequest::get().uri(&format!("/api/v1/search?q=good&key={forged}"))
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Someone else's token cannot revoke it.
    let (_, stranger) = new_account(&world.store, "stranger").await;
    let (status, _) = call!(
        app,
        test::TestRequest::delete()
            .uri(&format!("/api/v1/keys/{id}"))
            .insert_header(stranger)
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call!(
        app,
        test::TestRequest::delete()
            .uri(&format!("/api/v1/keys/{id}"))
            .insert_header(bearer.clone())
    );
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, problem) = call!(app, test::TestRequest::get().uri(&search));
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "revoked keys stop at once"
    );
    assert!(problem["detail"].as_str().unwrap().contains("revoked"));
    let (status, _) = call!(
        app,
        test::TestRequest::delete()
            .uri(&format!("/api/v1/keys/{id}"))
            .insert_header(bearer)
    );
    assert_eq!(status, StatusCode::NOT_FOUND, "revoking twice");
}

#[actix_web::test]
async fn use_is_priced_per_cell_week_and_flushed_with_the_spend() {
    let world = world().await;
    let metering = Metering::new(world.store.clone(), config());
    let prices = metering.config().prices;
    let app = app!(world, metering);
    let (account, bearer) = new_account(&world.store, "consumer").await;
    world
        .store
        .db
        .grant_credits(account, 100_000, TimestampMs::now())
        .await
        .unwrap();
    let (_, created) = call!(
        app,
        test::TestRequest::post()
            .uri("/api/v1/keys")
            .insert_header(bearer.clone())
    );
    let key = created["key"].as_str().unwrap().to_owned();
    let auth = ("Authorization", format!("Bearer {key}"));

    let first = world.frames[0].1;
    let tile = TileCoord::containing(first.lon, first.lat, 14);
    for _ in 0..3 {
        let (status, _) = call!(
            app,
            test::TestRequest::get()
                .uri(&tile_uri(tile))
                .insert_header(auth.clone())
        );
        assert_eq!(status, StatusCode::OK);
    }
    let (frame, fix) = world.frames[10];
    let (status, _) = call!(
        app,
        test::TestRequest::get()
            .uri(&format!("/api/v1/frames/{}/image.jpg", frame.to_hex()))
            .insert_header(auth.clone())
    );
    assert_eq!(status, StatusCode::OK);
    let (status, found) = call!(
        app,
        test::TestRequest::get()
            .uri("/api/v1/search?q=good&limit=40")
            .insert_header(auth.clone())
    );
    assert_eq!(status, StatusCode::OK);
    let searched: BTreeSet<CellWeek> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| {
            let time = TimestampMs(hit["captured_at"].as_i64().unwrap());
            CellWeek::of(
                hit["lat"].as_f64().unwrap(),
                hit["lon"].as_f64().unwrap(),
                time,
            )
            .unwrap()
        })
        .collect();

    let in_tile = cell_weeks_in(&world, tile);
    assert!(
        in_tile.len() >= 3,
        "the tile holds several cell-weeks: {in_tile:?}"
    );
    let flushed = metering.flush().await.unwrap();
    let expected = 3 * in_tile.len() as i64 * prices.tiles
        + prices.imagery
        + searched.len() as i64 * prices.search;
    assert_eq!(flushed.credits, expected);
    assert_eq!(
        world.store.db.credit_balance(account).await.unwrap(),
        100_000 - expected
    );
    assert_eq!(
        metering.flush().await.unwrap().credits,
        0,
        "nothing is stored twice"
    );

    // The usage route: by day and by area, with the key standing for its account.
    let (status, usage) = call!(
        app,
        test::TestRequest::get().uri(&format!("/api/v1/usage?days=7&key={key}"))
    );
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["balance"], 100_000 - expected);
    let spent_by_day: i64 = usage["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["credits"].as_i64().unwrap())
        .sum();
    assert_eq!(spent_by_day, expected);
    let tile_cells: BTreeSet<String> = usage["by_area"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == UsageKind::Tiles.as_str())
        .map(|a| a["cell"].as_str().unwrap().to_owned())
        .collect();
    let expected_cells: BTreeSet<String> =
        in_tile.iter().map(|cw| format!("{:x}", cw.cell)).collect();
    assert_eq!(
        tile_cells, expected_cells,
        "the tile's use is in exactly its cells"
    );
    let image_cell = CellWeek::of(fix.lat, fix.lon, fix.time).unwrap();
    assert!(
        usage["by_area"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| { a["kind"] == "imagery" && a["cell"] == format!("{:x}", image_cell.cell) })
    );

    let (status, problem) = call!(
        app,
        test::TestRequest::get()
            .uri("/api/v1/usage?days=0")
            .insert_header(bearer)
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
}

#[actix_web::test]
async fn metering_off_leaves_every_route_open() {
    let world = world().await;
    let metering = Metering::new(world.store.clone(), MeteringConfig::default());
    let app = app!(world, metering);
    let first = world.frames[0].1;
    let high = TileCoord::containing(first.lon, first.lat, 14);
    let (status, _) = call!(app, test::TestRequest::get().uri(&tile_uri(high)));
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call!(app, test::TestRequest::get().uri("/api/v1/search?q=good"));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(metering.flush().await.unwrap().credits, 0);
}

#[actix_web::test]
async fn hostile_key_requests_get_a_problem() {
    let world = world().await;
    let metering = Metering::new(world.store.clone(), config());
    let app = app!(world, metering);
    let (_, bearer) = new_account(&world.store, "consumer").await;
    for (body, expect) in [
        (r#"{"scopes": ["maps"]}"#.to_owned(), "`maps`"),
        (r#"{"scopes": []}"#.to_owned(), "at least one scope"),
        (r#"{"name": 7}"#.to_owned(), "not a key request"),
        (
            format!(r#"{{"name": "{}"}}"#, "x".repeat(101)),
            "at most 100",
        ),
        ("{\"name\": ".to_owned(), "not a key request"),
        (
            format!(r#"{{"name": "{}"}}"#, "x".repeat(20_000)),
            "at most 16384",
        ),
    ] {
        let (status, problem) = call!(
            app,
            test::TestRequest::post()
                .uri("/api/v1/keys")
                .insert_header(bearer.clone())
                .set_payload(body.clone())
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:.60}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(expect),
            "{problem}"
        );
    }
    // Keys are managed with the account's token only.
    let (status, _) = call!(app, test::TestRequest::get().uri("/api/v1/keys"));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let key = metering::IssuedKey::generate().text();
    let (status, _) = call!(
        app,
        test::TestRequest::get()
            .uri("/api/v1/keys")
            .insert_header(("Authorization", format!("Bearer {key}")))
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
