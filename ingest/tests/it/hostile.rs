//! Hostile uploads and access control, one attack per row (issue 12, RELIABILITY.md): each
//! row is a request an attacker can make and the status and problem `type` that stops it,
//! against the real routes on a real SQLite store and local-filesystem blobs. After the
//! table, nothing an attack sent was kept and the honest device still uploads.
//!
//! Each row names the defence it exercises; with that defence removed the row gets another
//! answer. The answers that need more than one request (the originals, a slow body) have
//! their own tests below.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use model::{
    DeviceKeypair, FrameId, MAX_FRAMES_PER_CAPTURE, MAX_MANIFEST_BYTES, TimestampMs,
    request_signing_payload,
};
use serde_json::{Value, json};
use store::{BlobKey, Store};

use crate::{image, lane, munich_manifest, post_capture, put, put_frame};

/// A `method` request to `path` carrying `claimed`'s device header, signed by `signer` at
/// `timestamp` over `signed_method` and `signed_path`: every signature attack is a choice of
/// these.
struct Signed<'a> {
    method: &'a str,
    path: &'a str,
    claimed: &'a DeviceKeypair,
    signer: &'a DeviceKeypair,
    signed_method: &'a str,
    signed_path: &'a str,
    timestamp: TimestampMs,
}

impl<'a> Signed<'a> {
    /// A `PUT` to `path` as `claimed`, signed by `signer` over `signed_path` at `timestamp`.
    fn put(
        path: &'a str,
        claimed: &'a DeviceKeypair,
        signer: &'a DeviceKeypair,
        signed_path: &'a str,
        timestamp: TimestampMs,
    ) -> Self {
        Self {
            method: "PUT",
            path,
            claimed,
            signer,
            signed_method: "PUT",
            signed_path,
            timestamp,
        }
    }

    fn request(&self, body: Vec<u8>) -> test::TestRequest {
        let payload = request_signing_payload(self.signed_method, self.signed_path, self.timestamp);
        let request = match self.method {
            "PUT" => test::TestRequest::put(),
            "GET" => test::TestRequest::get(),
            other => panic!("no {other} route is signed"),
        };
        request
            .uri(self.path)
            .insert_header(("X-Waymark-Device", self.claimed.public().to_hex()))
            .insert_header((
                "X-Waymark-Timestamp",
                self.timestamp.as_millis().to_string(),
            ))
            .insert_header(("X-Waymark-Signature", self.signer.sign(&payload).to_hex()))
            .set_payload(body)
    }
}

/// An honestly signed `PUT` of `body` to the frame path `id` (whatever it spells).
fn put_at(key: &DeviceKeypair, id: &str, body: Vec<u8>) -> test::TestRequest {
    let path = format!("/api/v1/frames/{id}");
    Signed::put(&path, key, key, &path, TimestampMs::now()).request(body)
}

/// A JPEG header of `width` × `height` padded to 30 000 bytes: a pixel bomb needs no pixels.
fn bomb(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08];
    bytes.extend(height.to_be_bytes());
    bytes.extend(width.to_be_bytes());
    bytes.push(0x03);
    bytes.resize(30_000, 0);
    bytes.extend([0xFF, 0xD9]);
    bytes
}

/// A real frame with `count` APP1 segments of 64 KB spliced in after its start-of-image
/// marker: an EXIF bomb that stays under the 2 MB size gate.
fn exif_bomb(real: &[u8], count: usize) -> Vec<u8> {
    let mut segment = vec![0xFF, 0xE1, 0xFF, 0xFF];
    segment.extend(b"Exif\0\0MM\0\x2a");
    segment.resize(2 + 0xFFFF, 0x41);
    let mut bytes = real[..2].to_vec();
    for _ in 0..count {
        bytes.extend(&segment);
    }
    bytes.extend(&real[2..]);
    bytes
}

/// One attack: what it is, the request, and the answer that stops it.
struct Row {
    attack: &'static str,
    request: test::TestRequest,
    status: StatusCode,
    /// The problem `type` slug (`https://waymark.dev/problems/<slug>`).
    problem: &'static str,
}

fn row(
    attack: &'static str,
    request: test::TestRequest,
    status: StatusCode,
    problem: &'static str,
) -> Row {
    Row {
        attack,
        request,
        status,
        problem,
    }
}

#[actix_web::test]
async fn every_attack_gets_its_typed_problem_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    // A tight budget for the one device that floods; everyone else stays far below it.
    let limit = ingest::rate_limit::RateLimit {
        per_second: 0.01,
        burst: 60.0,
    };
    let app =
        test::init_service(App::new().configure(ingest::configure_with(store.clone(), limit)))
            .await;
    let alice = DeviceKeypair::from_seed([31; 32]);
    let alice_bearer = sign_up_with_device!(app, "Alice", alice);
    let mallory = DeviceKeypair::from_seed([32; 32]);
    let mallory_bearer = sign_up_with_device!(app, "Mallory", mallory);
    let flood = DeviceKeypair::from_seed([33; 32]);
    sign_up_with_device!(app, "Flood", flood);
    let revoked = DeviceKeypair::from_seed([34; 32]);
    let revoked_bearer = sign_up_with_device!(app, "Rex", revoked);
    let (_, rex) = call!(
        app,
        test::TestRequest::get()
            .uri("/api/v1/contributors/me")
            .insert_header(revoked_bearer.clone())
    );
    let (status, _) = call!(
        app,
        test::TestRequest::delete()
            .uri(&format!(
                "/api/v1/devices/{}",
                rex["devices"][0]["id"].as_str().unwrap()
            ))
            .insert_header(revoked_bearer)
    );
    assert_eq!(status, StatusCode::NO_CONTENT);
    let stranger = DeviceKeypair::from_seed([35; 32]);
    let (_, alice_me) = call!(
        app,
        test::TestRequest::get()
            .uri("/api/v1/contributors/me")
            .insert_header(alice_bearer.clone())
    );
    let alice_device = alice_me["devices"][0]["id"].as_str().unwrap().to_owned();

    let real = lane("solidWhiteCurve.jpg");
    let sha = FrameId::of_bytes(&real).to_hex();
    let path = format!("/api/v1/frames/{sha}");
    let other_path = format!("/api/v1/frames/{}", FrameId::of_bytes(b"other").to_hex());
    let now = TimestampMs::now();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(30_000, 0);
    let truncated = real[..real.len() * 9 / 10].to_vec();
    let exif_bombed = exif_bomb(&real, 20);
    assert!(exif_bombed.len() < ingest::uploads::MAX_FRAME_BYTES);

    // The flooding device spends its burst on re-sends of a frame it stored.
    assert_eq!(
        call!(app, put_frame(&flood, real.clone())).0,
        StatusCode::CREATED
    );
    for _ in 1..60 {
        call!(app, put_frame(&flood, real.clone()));
    }
    let flood_manifest = munich_manifest(1, &flood, &[FrameId::of_bytes(&real)]);
    let (flood_body, flood_signature) = flood_manifest.sign(&flood);

    // Manifests: signed and then altered, too big, too many frames, frames never uploaded.
    let good = munich_manifest(1, &alice, &[FrameId::of_bytes(&real)]);
    let (good_body, good_signature) = good.sign(&alice);
    let altered = String::from_utf8(good_body.clone())
        .unwrap()
        .replace("\"sequence_number\":1", "\"sequence_number\":2")
        .into_bytes();
    assert_ne!(altered, good_body);
    let mut oversized = good_body.clone();
    oversized.resize(MAX_MANIFEST_BYTES + 1, b' ');
    let many: Vec<FrameId> = (0..=MAX_FRAMES_PER_CAPTURE)
        .map(|i| FrameId::of_bytes(&i.to_le_bytes()))
        .collect();
    let (many_body, many_signature) = munich_manifest(1, &alice, &many).sign(&alice);
    let unknown = munich_manifest(1, &alice, &[FrameId::of_bytes(b"never uploaded")]);
    let (unknown_body, unknown_signature) = unknown.sign(&alice);
    let (stolen_body, _) = munich_manifest(1, &mallory, &[FrameId::of_bytes(&real)]).sign(&mallory);

    let rows = vec![
        // Signatures on frame uploads.
        row(
            "forged signature: Alice's device header, signed by another key",
            Signed::put(&path, &alice, &stranger, &path, now).request(real.clone()),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        row(
            "replayed signature: signed for another frame's path",
            Signed::put(&path, &alice, &alice, &other_path, now).request(real.clone()),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        row(
            "replayed signature: an hour old",
            Signed::put(
                &path,
                &alice,
                &alice,
                &path,
                now.saturating_add_ms(-3_600_000),
            )
            .request(real.clone()),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        row(
            "replayed signature: just past the 5-minute window",
            Signed::put(
                &path,
                &alice,
                &alice,
                &path,
                now.saturating_add_ms(-model::REQUEST_MAX_SKEW_MS - 5_000),
            )
            .request(real.clone()),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        row(
            "pre-signed for the future: an hour ahead",
            Signed::put(
                &path,
                &alice,
                &alice,
                &path,
                now.saturating_add_ms(3_600_000),
            )
            .request(real.clone()),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        row(
            "replayed signature: signed for another method (GET)",
            Signed {
                signed_method: "GET",
                ..Signed::put(&path, &alice, &alice, &path, now)
            }
            .request(real.clone()),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        row(
            "signature in uppercase hex (a second spelling)",
            put(&alice, real.clone(), &sha, now).insert_header((
                "X-Waymark-Signature",
                alice
                    .sign(&request_signing_payload("PUT", &path, now))
                    .to_hex()
                    .to_ascii_uppercase(),
            )),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        row(
            "no signature headers at all",
            test::TestRequest::put()
                .uri(&path)
                .set_payload(real.clone()),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        // Devices.
        row(
            "unknown device: a key nobody registered, correctly signed",
            put_frame(&stranger, real.clone()),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        row(
            "revoked device, correctly signed",
            put_frame(&revoked, real.clone()),
            StatusCode::FORBIDDEN,
            "device-revoked",
        ),
        row(
            "revoked device posting a manifest",
            {
                let (body, signature) =
                    munich_manifest(1, &revoked, &[FrameId::of_bytes(&real)]).sign(&revoked);
                post_capture(body, &signature)
            },
            StatusCode::FORBIDDEN,
            "device-revoked",
        ),
        row(
            "cloned device key: Mallory registers Alice's key",
            test::TestRequest::post()
                .uri("/api/v1/devices")
                .insert_header(mallory_bearer.clone())
                .set_json(json!({ "public_key": alice.public().to_hex() })),
            StatusCode::CONFLICT,
            "device-key-taken",
        ),
        // Path tricks in frame ids, each correctly signed over the tricky path.
        row(
            "frame id `..`",
            put_at(&alice, "..", real.clone()),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
        row(
            "frame id in uppercase hex",
            put_at(&alice, &sha.to_ascii_uppercase(), real.clone()),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
        row(
            "frame id one digit too long",
            put_at(&alice, &format!("{sha}0"), real.clone()),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
        row(
            "frame id with percent-encoded slashes",
            put_at(&alice, "..%2F..%2Fetc%2Fpasswd", real.clone()),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
        row(
            "frame id with percent-encoded dots and a sha inside",
            put_at(&alice, &format!("%2e%2e%2f{sha}"), real.clone()),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
        row(
            "frame id with a file extension",
            put_at(&alice, &format!("{sha}.jpg"), real.clone()),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
        // Bodies.
        row(
            "oversized JPEG (a real 3 MB photo)",
            put_frame(&alice, image("geotagged/mapillary_DSC00001.JPG")),
            StatusCode::PAYLOAD_TOO_LARGE,
            "frame-too-large",
        ),
        row(
            "pixel bomb: 65 535 × 65 535 in a 30 KB file",
            put_frame(&alice, bomb(65_535, 65_535)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "dimensions-too-large",
        ),
        row(
            "pixel bomb: one pixel over 8K UHD (7680 × 4321)",
            put_frame(&alice, bomb(7680, 4321)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "dimensions-too-large",
        ),
        row(
            "EXIF bomb: twenty 64 KB APP1 segments in a real frame, under 2 MB",
            put_frame(&alice, exif_bombed),
            StatusCode::UNPROCESSABLE_ENTITY,
            "metadata-too-large",
        ),
        row(
            "not a JPEG (a PNG)",
            put_frame(&alice, png),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-jpeg",
        ),
        row(
            "truncated JPEG (its own hash, no end marker)",
            put_frame(&alice, truncated),
            StatusCode::UNPROCESSABLE_ENTITY,
            "broken",
        ),
        row(
            "truncated body: fewer bytes than the signed frame id",
            put(&alice, real[..real.len() / 2].to_vec(), &sha, now),
            StatusCode::BAD_REQUEST,
            "hash-mismatch",
        ),
        row(
            "too small to be a dashcam frame",
            put_frame(&alice, real[..1000].to_vec()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "frame-too-small",
        ),
        // Manifests.
        row(
            "manifest signed by another key",
            post_capture(good_body.clone(), &stranger.sign(&good_body)),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        row(
            "manifest altered after signing",
            post_capture(altered, &good_signature),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        row(
            "Mallory's manifest under Alice's signature",
            post_capture(stolen_body, &good_signature),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        row(
            "manifest over 4 MB",
            post_capture(oversized, &good_signature),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
        ),
        row(
            "manifest of 10 001 frames",
            post_capture(many_body, &many_signature),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-manifest",
        ),
        row(
            "manifest of frames never uploaded",
            post_capture(unknown_body, &unknown_signature),
            StatusCode::CONFLICT,
            "missing-blobs",
        ),
        // Contributor routes.
        row(
            "my account without a token",
            test::TestRequest::get().uri("/api/v1/contributors/me"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        row(
            "my captures without a token",
            test::TestRequest::get().uri("/api/v1/contributors/me/captures"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        row(
            "my coverage without a token",
            test::TestRequest::get().uri("/api/v1/contributors/me/coverage"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        row(
            "register a device without a token",
            test::TestRequest::post()
                .uri("/api/v1/devices")
                .set_json(json!({ "public_key": stranger.public().to_hex() })),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        row(
            "a forged token",
            test::TestRequest::get()
                .uri("/api/v1/contributors/me/captures")
                .insert_header(("Authorization", format!("Bearer wm_{}", "0".repeat(64)))),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        row(
            "a device key used as a bearer token",
            test::TestRequest::get()
                .uri("/api/v1/contributors/me")
                .insert_header(("Authorization", format!("Bearer {}", alice.public()))),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        row(
            "revoke Alice's device with Mallory's token (404: not confirmed to exist)",
            test::TestRequest::delete()
                .uri(&format!("/api/v1/devices/{alice_device}"))
                .insert_header(mallory_bearer.clone()),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        row(
            "revoke Alice's device without a token",
            test::TestRequest::delete().uri(&format!("/api/v1/devices/{alice_device}")),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        // Rate limits.
        row(
            "a device over its burst: frame uploads",
            put_frame(&flood, real.clone()),
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
        ),
        row(
            "a device over its burst: manifests",
            post_capture(flood_body, &flood_signature),
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
        ),
    ];

    for Row {
        attack,
        request,
        status,
        problem,
    } in rows
    {
        let response = test::call_service(&app, request.to_request()).await;
        let got = response.status();
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let content_type = response
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body: Value = serde_json::from_slice(&test::read_body(response).await)
            .unwrap_or_else(|err| panic!("{attack}: the answer is not JSON: {err}"));
        assert_eq!(
            (got, body["type"].as_str()),
            (
                status,
                Some(format!("https://waymark.dev/problems/{problem}").as_str())
            ),
            "{attack}: {body}"
        );
        assert_eq!(content_type, "application/problem+json", "{attack}");
        assert_eq!(body["status"], status.as_u16(), "{attack}");
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(
                retry_after.is_some_and(|s| s >= 1),
                "{attack}: Retry-After {retry_after:?}"
            );
        }
    }

    // Nothing an attack sent was kept: the one stored frame is the flooding device's honest
    // upload, and Alice's device is still hers and active.
    let stored = store.blobs.list("frames").await.unwrap();
    assert_eq!(
        stored,
        vec![BlobKey::original_frame(&FrameId::of_bytes(&real))],
        "{stored:?}"
    );
    let (_, alice_after) = call!(
        app,
        test::TestRequest::get()
            .uri("/api/v1/contributors/me")
            .insert_header(alice_bearer.clone())
    );
    assert_eq!(alice_after["devices"][0]["status"], "active");
    let (_, mallory_me) = call!(
        app,
        test::TestRequest::get()
            .uri("/api/v1/contributors/me")
            .insert_header(mallory_bearer.clone())
    );
    assert_eq!(mallory_me["devices"].as_array().unwrap().len(), 1);
    assert!(
        store.db.capture(good.capture_id).await.unwrap().is_none(),
        "no manifest of the table was stored"
    );

    // After all that, Alice's honest upload works.
    assert_eq!(
        call!(app, put_frame(&alice, real.clone())).0,
        StatusCode::OK,
        "the flooding device had stored it already"
    );
    let (status, capture) = call!(app, post_capture(good_body, &good_signature));
    assert_eq!(status, StatusCode::ACCEPTED, "{capture}");

    // Another contributor's token names only its own account: Mallory's view of "my
    // captures" does not hold Alice's capture; Alice's does.
    let captures_of = |bearer: (&'static str, String)| {
        test::TestRequest::get()
            .uri("/api/v1/contributors/me/captures")
            .insert_header(bearer)
    };
    let capture_id = good.capture_id.to_string();
    let (status, mallorys) = call!(app, captures_of(mallory_bearer));
    assert_eq!(status, StatusCode::OK);
    assert!(!mallorys.to_string().contains(&capture_id), "{mallorys}");
    let (_, alices) = call!(app, captures_of(alice_bearer));
    assert_eq!(alices["captures"][0]["id"], capture_id.as_str(), "{alices}");
}

/// Every GET a client could try for frame `sha`: the public routes, the capture and search
/// routes, and guesses at where an original might be.
fn probes(sha: &str) -> Vec<String> {
    let id: FrameId = sha.parse().unwrap();
    let original_key = BlobKey::original_frame(&id);
    vec![
        format!("/api/v1/frames/{sha}"),
        format!("/api/v1/frames/{sha}/image.jpg"),
        format!("/api/v1/frames/{sha}/thumbnail.jpg"),
        format!("/api/v1/frames/{sha}/original.jpg"),
        format!("/api/v1/frames/{sha}/../../{original_key}"),
        format!(
            "/api/v1/frames/..%2F..%2F{}",
            original_key.as_str().replace('/', "%2F")
        ),
        format!("/api/v1/captures/{sha}"),
        format!("/api/v1/search?q={sha}"),
        format!("/{original_key}"),
        format!("/blobs/{original_key}"),
        format!("/data/blobs/{original_key}"),
    ]
}

#[actix_web::test]
async fn originals_are_never_served_only_the_blurred_public_copy() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let alice = DeviceKeypair::from_seed([41; 32]);
    let alice_bearer = sign_up_with_device!(app, "Alice", alice);
    let jpegs: Vec<Vec<u8>> = ["solidWhiteCurve.jpg", "solidYellowLeft.jpg"]
        .iter()
        .map(|name| lane(name))
        .collect();
    for jpeg in &jpegs {
        assert_eq!(
            call!(app, put_frame(&alice, jpeg.clone())).0,
            StatusCode::CREATED
        );
    }
    let ids: Vec<FrameId> = jpegs.iter().map(|j| FrameId::of_bytes(j)).collect();
    let capture = munich_manifest(1, &alice, &ids);
    let (body, signature) = capture.sign(&alice);
    assert_eq!(
        call!(app, post_capture(body, &signature)).0,
        StatusCode::ACCEPTED
    );

    // Every probe, anonymous and as the frames' own contributor: never an original's bytes.
    // `served` says whether the image routes answer (only once the frame is accepted).
    let check = async |served: bool| {
        for (id, original) in ids.iter().zip(&jpegs) {
            for uri in probes(&id.to_hex()) {
                for bearer in [None, Some(alice_bearer.clone())] {
                    let mut request = test::TestRequest::get().uri(&uri);
                    if let Some(bearer) = bearer {
                        request = request.insert_header(bearer);
                    }
                    let response = test::call_service(&app, request.to_request()).await;
                    let status = response.status();
                    let body = test::read_body(response).await;
                    assert!(
                        !body.windows(1024).any(|w| original.starts_with(w)),
                        "{uri} ({status}) served the original"
                    );
                    let image = uri.ends_with("/image.jpg") || uri.ends_with("/thumbnail.jpg");
                    if image && !uri.contains("..") {
                        let expected = if served {
                            StatusCode::OK
                        } else {
                            StatusCode::NOT_FOUND
                        };
                        assert_eq!(status, expected, "{uri}");
                    } else if uri.contains(&BlobKey::original_frame(id).to_string())
                        || uri.contains("original")
                    {
                        assert!(!status.is_success(), "{uri}: {status}");
                    }
                }
            }
        }
    };
    // Pending: the originals are in the blob store, waiting for vision.
    for id in &ids {
        assert!(
            store
                .blobs
                .exists(&BlobKey::original_frame(id))
                .await
                .unwrap()
        );
    }
    check(false).await;

    // Accepted: the blurred copy is served, and it is not the original.
    let vision = vision::Vision::new(vision::VisionConfig::default())
        .expect("vision models installed by scripts/setup");
    let analyzer: std::sync::Arc<dyn ingest::worker::FrameAnalyzer> =
        std::sync::Arc::new(crate::pipeline::OpenCv(vision));
    assert_eq!(
        ingest::worker::process_next(&store, &analyzer)
            .await
            .unwrap(),
        Some(capture.capture_id)
    );
    check(true).await;
    for (id, original) in ids.iter().zip(&jpegs) {
        let response = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/api/v1/frames/{id}/image.jpg"))
                .to_request(),
        )
        .await;
        let served = test::read_body(response).await;
        let public = store.blobs.get(&BlobKey::public_frame(id)).await.unwrap();
        assert_eq!(served.as_ref(), public.as_ref());
        assert_ne!(served.as_ref(), original.as_slice());
    }

    // Held for review at a reward close (pixels unlike the place): not served while held,
    // nor found by search, and served again once a reviewer clears it.
    let reviewer = store
        .db
        .capture_owner(capture.capture_id)
        .await
        .unwrap()
        .unwrap();
    let search = format!("/api/v1/search?kind=frame&contributor={reviewer}");
    let found = async || -> usize {
        let response =
            test::call_service(&app, test::TestRequest::get().uri(&search).to_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = test::read_body_json(response).await;
        body["results"].as_array().unwrap().len()
    };
    assert_eq!(found().await, ids.len());
    store
        .db
        .hold_capture(
            capture.capture_id,
            model::RejectReason::UnlikePlace,
            TimestampMs::now(),
        )
        .await
        .unwrap();
    check(false).await;
    assert_eq!(found().await, 0);
    let case = store
        .db
        .fraud_cases(&store::CaseQuery {
            limit: 1,
            ..store::CaseQuery::default()
        })
        .await
        .unwrap()
        .remove(0);
    ingest::reviews::decide_case(
        &store,
        &case.id,
        store::Decision::Clear,
        reviewer,
        "the street was re-surfaced",
        TimestampMs::now(),
    )
    .await
    .unwrap();
    check(true).await;
    assert_eq!(found().await, ids.len());
}

/// Writes `head`, then `body` 100 bytes every 50 ms until the server answers or closes;
/// returns the raw answer and how many body bytes were sent by then.
fn trickle(addr: std::net::SocketAddr, head: String, body: Vec<u8>) -> (String, usize) {
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    // A bound on the test, not a timing assertion: without the deadline the server would
    // wait for the whole body, about a minute at this pace.
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let (done, sent) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let writer = {
        let (done, sent) = (done.clone(), sent.clone());
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            for chunk in body.chunks(100) {
                if done.load(Ordering::SeqCst) || stream.write_all(chunk).is_err() {
                    return;
                }
                sent.fetch_add(chunk.len(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&answer);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(str::to_owned)
                        })
                        .and_then(|v| v.trim().parse::<usize>().ok());
                    if length.is_some_and(|length| body.len() >= length) {
                        break;
                    }
                }
            }
            Err(err) => panic!("no answer from the server: {err}"),
        }
    }
    done.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    (
        String::from_utf8_lossy(&answer).into_owned(),
        sent.load(Ordering::SeqCst),
    )
}

/// Slow loris over a real socket: bodies that trickle in are cut off with `408` at the body
/// deadline — a signed frame upload, and the two routes anyone can call before any
/// authentication (a manifest is read before its signature can be checked, a sign-up needs no
/// token) — and nothing is kept.
#[actix_web::test]
async fn bodies_trickled_in_slowly_are_cut_off_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let alice = DeviceKeypair::from_seed([51; 32]);
    sign_up_with_device!(app, "Alice", alice);

    let limits = ingest::UploadLimits {
        body_deadline: Duration::from_secs(1),
        ..ingest::UploadLimits::default()
    };
    let served = store.clone();
    let server = actix_web::HttpServer::new(move || {
        App::new().configure(ingest::configure_with_limits(served.clone(), limits))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let real = lane("whiteCarLaneSwitch.jpg");
    let sha = FrameId::of_bytes(&real).to_hex();
    let path = format!("/api/v1/frames/{sha}");
    let now = TimestampMs::now();
    let signature = alice.sign(&request_signing_payload("PUT", &path, now));
    let frame_headers = format!(
        "X-Waymark-Device: {}\r\nX-Waymark-Timestamp: {}\r\nX-Waymark-Signature: {}\r\n",
        alice.public().to_hex(),
        now.as_millis(),
        signature.to_hex()
    );
    // Padded with spaces (valid JSON, signed as sent) so that it takes a while to trickle.
    let mut manifest_body = munich_manifest(1, &alice, &[FrameId::of_bytes(&real)]).to_json_bytes();
    manifest_body.resize(20_000, b' ');
    let manifest_signature = alice.sign(&manifest_body);
    let mut sign_up = br#"{"name": "Slow Loris"}"#.to_vec();
    sign_up.resize(20_000, b' ');
    let attacks = [
        ("PUT", path.clone(), frame_headers, real),
        (
            "POST",
            "/api/v1/captures".to_owned(),
            format!("X-Waymark-Signature: {}\r\n", manifest_signature.to_hex()),
            manifest_body,
        ),
        (
            "POST",
            "/api/v1/contributors".to_owned(),
            "Content-Type: application/json\r\n".to_owned(),
            sign_up,
        ),
    ];
    for (method, uri, headers, body) in attacks {
        let head = format!(
            "{method} {uri} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n{headers}\r\n",
            body.len()
        );
        let length = body.len();
        let (answer, sent) = actix_web::rt::task::spawn_blocking(move || trickle(addr, head, body))
            .await
            .unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "{method} {uri}: {answer}"
        );
        assert!(
            answer.contains("https://waymark.dev/problems/upload-too-slow"),
            "{answer}"
        );
        assert!(
            sent < length,
            "{uri}: cut off after {sent} of {length} bytes"
        );
    }
    handle.stop(false).await;
    assert!(store.blobs.list("frames").await.unwrap().is_empty());
    assert!(
        store.blobs.list("captures").await.unwrap().is_empty(),
        "no manifest kept"
    );
}
