//! The ingest core on real GNSS recordings from `datasets/gps`: the bmwcarit/barefoot Munich
//! car drive (with its real GPS jump), the GPSBabel Delft drive (real fix types, satellite
//! counts and hdop, real gaps) and the Holux logger near Rome.

/// `(status, JSON body)` of one request to an actix test service.
macro_rules! call {
    ($app:expr, $request:expr) => {{
        let response = actix_web::test::call_service(&$app, $request.to_request()).await;
        let status = response.status();
        let body = actix_web::test::read_body(response).await;
        let value: serde_json::Value = if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&body).unwrap()
        };
        (status, value)
    }};
}

/// Signs `$name` up and registers device `$key` for them through the routes; evaluates to
/// the account's `Authorization` header.
macro_rules! sign_up_with_device {
    ($app:expr, $name:expr, $key:expr) => {{
        let (_, account) = call!(
            $app,
            actix_web::test::TestRequest::post()
                .uri("/api/v1/contributors")
                .set_json(serde_json::json!({ "name": $name }))
        );
        let bearer = ("Authorization", format!("Bearer {}", account["token"].as_str().unwrap()));
        let (status, device) = call!(
            $app,
            actix_web::test::TestRequest::post()
                .uri("/api/v1/devices")
                .insert_header(bearer.clone())
                .set_json(serde_json::json!({ "public_key": $key.public().to_hex() }))
        );
        assert_eq!(status, actix_web::http::StatusCode::CREATED, "{device}");
        bearer
    }};
}

mod accounts;
mod attacks;
#[path = "../../../store/tests/it/backends.rs"]
mod backends;
mod hostile;
mod map_features;
mod pipeline;
mod real_tracks;
#[path = "../../../store/tests/it/received.rs"]
mod received;
mod reviews;
mod similarity;
mod uploads;

use std::path::PathBuf;

use model::{Fix, FrameEntry, FrameId, TimestampMs};

/// The six real Udacity dashcam frames (960 × 540, highway).
pub const LANES: [&str; 6] = [
    "solidWhiteCurve.jpg",
    "solidWhiteRight.jpg",
    "solidYellowCurve.jpg",
    "solidYellowCurve2.jpg",
    "solidYellowLeft.jpg",
    "whiteCarLaneSwitch.jpg",
];

/// The bytes of a real image under `datasets/images/`.
pub fn image(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../datasets/images")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// One of the [`LANES`] frames.
pub fn lane(name: &str) -> Vec<u8> {
    image(&format!("udacity_lanes/{name}"))
}

/// A frame `PUT` signed by `key` for `sha` at `timestamp`.
pub fn put(
    key: &model::DeviceKeypair,
    body: Vec<u8>,
    sha: &str,
    timestamp: TimestampMs,
) -> actix_web::test::TestRequest {
    let path = format!("/api/v1/frames/{sha}");
    let signature = key.sign(&model::request_signing_payload("PUT", &path, timestamp));
    actix_web::test::TestRequest::put()
        .uri(&path)
        .insert_header(("X-Waymark-Device", key.public().to_hex()))
        .insert_header(("X-Waymark-Timestamp", timestamp.as_millis().to_string()))
        .insert_header(("X-Waymark-Signature", signature.to_hex()))
        .set_payload(body)
}

/// A capture's status, asked for by the device that sent it (a signed `GET`).
pub fn capture_status(
    key: &model::DeviceKeypair,
    capture: model::CaptureId,
) -> actix_web::test::TestRequest {
    let path = format!("/api/v1/captures/{capture}");
    let now = TimestampMs::now();
    let signature = key.sign(&model::request_signing_payload("GET", &path, now));
    actix_web::test::TestRequest::get()
        .uri(&path)
        .insert_header(("X-Waymark-Device", key.public().to_hex()))
        .insert_header(("X-Waymark-Timestamp", now.as_millis().to_string()))
        .insert_header(("X-Waymark-Signature", signature.to_hex()))
}

/// A manifest for `frames` along the real Munich drive, an hour ago: frame `i` at fix
/// `300 + i × spacing` (wrapping after 800 fixes, with a millisecond per frame so times
/// still rise), so `spacing` is the seconds between frames.
pub fn munich_manifest(
    spacing: usize,
    key: &model::DeviceKeypair,
    frames: &[FrameId],
) -> model::CaptureManifest {
    let drive = munich();
    let start = TimestampMs::now().saturating_add_ms(-3_600_000);
    let t0 = drive[300].time;
    model::CaptureManifest {
        format_version: model::MANIFEST_FORMAT_VERSION,
        device_key: key.public(),
        capture_id: model::CaptureId::new(),
        sequence_number: 1,
        firmware: "test".into(),
        camera: "udacity dashcam".into(),
        frames: frames
            .iter()
            .enumerate()
            .map(|(i, sha)| {
                let mut fix = drive[300 + (i * spacing) % 800];
                fix.time = start.saturating_add_ms(fix.time.millis_since(t0) + i as i64);
                FrameEntry { sha256: *sha, fix }
            })
            .collect(),
    }
}

/// A `POST` of a signed capture manifest.
pub fn post_capture(
    body: Vec<u8>,
    signature: &model::DeviceSignature,
) -> actix_web::test::TestRequest {
    actix_web::test::TestRequest::post()
        .uri("/api/v1/captures")
        .insert_header(("X-Waymark-Signature", signature.to_hex()))
        .set_payload(body)
}

/// A correctly signed `PUT` of `body` now.
pub fn put_frame(key: &model::DeviceKeypair, body: Vec<u8>) -> actix_web::test::TestRequest {
    let sha = FrameId::of_bytes(&body).to_hex();
    put(key, body, &sha, TimestampMs::now())
}

pub fn entries(fixes: Vec<Fix>) -> Vec<FrameEntry> {
    fixes
        .into_iter()
        .enumerate()
        .map(|(i, fix)| FrameEntry {
            sha256: FrameId::of_bytes(format!("frame {i}").as_bytes()),
            fix,
        })
        .collect()
}

/// The barefoot Munich drive (no receiver quality in the file: a good 3D fix is assumed).
pub fn munich() -> Vec<Fix> {
    datasets::read_barefoot(&datasets::path("gps/barefoot_munich_x0001-001.json")).unwrap()
}

/// Track points of a GPX file under `datasets/`, with fix type, satellites and hdop as
/// recorded.
pub fn gpx_track(relative: &str) -> Vec<Fix> {
    datasets::read_gpx(&datasets::path(relative)).unwrap()
}
