//! Accounts and device registration over real HTTP handling (actix's test service) on a real
//! SQLite store.

use actix_web::http::StatusCode;
use actix_web::{App, test};
use model::DeviceKeypair;
use serde_json::{Value, json};
use store::Store;

async fn app_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    (store, dir)
}

macro_rules! service {
    ($store:expr) => {
        test::init_service(App::new().configure(ingest::configure($store.clone()))).await
    };
}

async fn call(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
    request: test::TestRequest,
) -> (StatusCode, Value) {
    let response = test::call_service(app, request.to_request()).await;
    let status = response.status();
    let body = test::read_body(response).await;
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    (status, value)
}

#[actix_web::test]
async fn sign_up_register_a_fleet_device_and_revoke_it() {
    let (store, _dir) = app_store().await;
    let app = service!(store);
    let (status, owner) = call(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/contributors")
            .set_json(json!({"name": "Owen's fleet", "payout_address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{owner}");
    let token = owner["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("wm_") && token.len() == 67);
    let (_, driver) = call(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/contributors")
            .set_json(json!({"name": "Dana"})),
    )
    .await;

    let key = DeviceKeypair::from_seed([42; 32]).public().to_hex();
    let bearer = ("Authorization", format!("Bearer {token}"));
    let (status, device) = call(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/devices")
            .insert_header(bearer.clone())
            .set_json(json!({"public_key": key, "label": "van 3", "driver_id": driver["id"], "driver_share_bps": 7000})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    assert_eq!(device["driver_share_bps"], 7000);
    assert_eq!(device["driver_accepted"], false, "{device}");

    // Nobody is a device's driver without consent: until Dana accepts, the owner is paid
    // the whole share; only Dana's own token can accept (or decline).
    let device_id: model::DeviceId = device["id"].as_str().unwrap().parse().unwrap();
    let payees = |store: store::Store| async move {
        store
            .db
            .device_payees()
            .await
            .unwrap()
            .into_iter()
            .find(|row| row.device == device_id)
            .unwrap()
    };
    assert_eq!(payees(store.clone()).await.driver, None);
    let accept = format!("/api/v1/devices/{device_id}/driver");
    let (status, problem) = call(
        &app,
        test::TestRequest::post()
            .uri(&accept)
            .insert_header(bearer.clone()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the owner cannot accept for Dana: {problem}"
    );
    let (status, _) = call(&app, test::TestRequest::post().uri(&accept)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let dana = (
        "Authorization",
        format!("Bearer {}", driver["token"].as_str().unwrap()),
    );
    let (status, accepted) = call(
        &app,
        test::TestRequest::post()
            .uri(&accept)
            .insert_header(dana.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(accepted["driver_accepted"], true);
    let row = payees(store.clone()).await;
    assert_eq!(row.driver, driver["id"].as_str().unwrap().parse().ok());
    assert_eq!(row.driver_share_bps, 7000);

    // The same key again (a cloned dashcam) is refused.
    let (status, problem) = call(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/devices")
            .insert_header(bearer.clone())
            .set_json(json!({"public_key": key})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        problem["type"],
        "https://waymark.dev/problems/device-key-taken"
    );

    let (status, me) = call(
        &app,
        test::TestRequest::get()
            .uri("/api/v1/contributors/me")
            .insert_header(bearer.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["devices"][0]["status"], "active");
    assert_eq!(
        me["payout_address"],
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    );

    let uri = format!("/api/v1/devices/{}", device["id"].as_str().unwrap());
    let (status, _) = call(
        &app,
        test::TestRequest::delete()
            .uri(&uri)
            .insert_header(bearer.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, me) = call(
        &app,
        test::TestRequest::get()
            .uri("/api/v1/contributors/me")
            .insert_header(bearer),
    )
    .await;
    assert_eq!(me["devices"][0]["status"], "revoked");
    let stored = store
        .db
        .device_by_public_key(&key.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, store::DeviceStatus::Revoked);
}

#[actix_web::test]
async fn bad_requests_get_a_problem_that_says_what_to_fix() {
    let (store, _dir) = app_store().await;
    let app = service!(store);
    let (_, account) = call(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/contributors")
            .set_json(json!({"name": "Ann"})),
    )
    .await;
    let bearer = (
        "Authorization",
        format!("Bearer {}", account["token"].as_str().unwrap()),
    );
    let (_, other) = call(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/contributors")
            .set_json(json!({"name": "Ben"})),
    )
    .await;
    let other_bearer = (
        "Authorization",
        format!("Bearer {}", other["token"].as_str().unwrap()),
    );
    let key = DeviceKeypair::from_seed([7; 32]).public().to_hex();
    let (_, device) = call(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/devices")
            .insert_header(bearer.clone())
            .set_json(json!({"public_key": key})),
    )
    .await;
    let device_uri = format!("/api/v1/devices/{}", device["id"].as_str().unwrap());

    let cases: Vec<(test::TestRequest, StatusCode, &str, &str)> = vec![
        (
            test::TestRequest::post().uri("/api/v1/contributors").set_payload("{\"name\":"),
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "EOF",
        ),
        (
            test::TestRequest::post().uri("/api/v1/contributors").set_json(json!({"name": "x", "admin": true})),
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "unknown field `admin`",
        ),
        (
            test::TestRequest::post()
                .uri("/api/v1/contributors")
                .set_json(json!({"name": "x", "payout_address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"})),
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "checksum",
        ),
        (
            test::TestRequest::post().uri("/api/v1/contributors").set_json(json!({"name": "  "})),
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "name must be",
        ),
        (
            test::TestRequest::get().uri("/api/v1/contributors/me"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Bearer",
        ),
        (
            test::TestRequest::get().uri("/api/v1/contributors/me").insert_header(("Authorization", "Bearer wm_forged")),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "not known",
        ),
        (
            test::TestRequest::post().uri("/api/v1/devices").insert_header(bearer.clone()).set_json(json!({"public_key": "abcd"})),
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "64 hex",
        ),
        (
            test::TestRequest::post()
                .uri("/api/v1/devices")
                .insert_header(bearer.clone())
                .set_json(json!({"public_key": DeviceKeypair::from_seed([8; 32]).public().to_hex(), "driver_share_bps": 100})),
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "needs a driver_id",
        ),
        (
            test::TestRequest::delete().uri(&device_uri).insert_header(other_bearer),
            StatusCode::NOT_FOUND,
            "not-found",
            "you own no device",
        ),
        (
            test::TestRequest::delete().uri("/api/v1/devices/..%2F..%2Fetc").insert_header(bearer),
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "not a UUID",
        ),
    ];
    for (request, status, slug, detail) in cases {
        let (got, problem) = call(&app, request).await;
        assert_eq!(got, status, "{problem}");
        assert_eq!(
            problem["type"],
            format!("https://waymark.dev/problems/{slug}"),
            "{problem}"
        );
        assert!(
            problem["detail"].as_str().unwrap().contains(detail),
            "{problem}"
        );
    }
    // Another contributor's attempt changed nothing.
    let stored = store
        .db
        .device_by_public_key(&key.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, store::DeviceStatus::Active);
}

/// `waymark serve` serves this document, merged with the other stages' routes.
#[actix_web::test]
async fn the_openapi_document_lists_every_route() {
    use utoipa::OpenApi;
    let document = serde_json::to_value(ingest::ApiDoc::openapi()).unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3."),
        "{document}"
    );
    for (path, method) in [
        ("/api/v1/contributors", "post"),
        ("/api/v1/contributors/me", "get"),
        ("/api/v1/devices", "post"),
        ("/api/v1/devices/{id}", "delete"),
        ("/api/v1/frames/{sha256}", "put"),
        ("/api/v1/captures", "post"),
        ("/api/v1/captures/{id}", "get"),
        ("/api/v1/frames/{sha256}", "get"),
        ("/api/v1/frames/{sha256}/image.jpg", "get"),
        ("/api/v1/frames/{sha256}/thumbnail.jpg", "get"),
        ("/api/v1/search", "get"),
        ("/api/v1/contributors/me/captures", "get"),
        ("/api/v1/contributors/me/coverage", "get"),
    ] {
        let operation = &document["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} missing");
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
    }
    let search = document["paths"]["/api/v1/search"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert!(
        search
            .iter()
            .any(|p| p["name"] == "near" && p["in"] == "query"),
        "{search:?}"
    );
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    assert!(document["components"]["schemas"]["DeviceRegistration"].is_object());
}
