//! The upload protocol end to end in-process (actix test service, real SQLite store, real
//! local-filesystem blobs): real dashcam JPEGs placed along the real Munich drive, then
//! every hostile upload the issue lists, after which a good upload still works.

use actix_web::http::StatusCode;
use actix_web::{App, test};
use model::{CaptureId, CaptureManifest, DeviceKeypair, Fix, FrameId, TimestampMs};
use serde_json::Value;
use store::{BlobKey, Store};

use crate::{LANES, image, munich_manifest, post_capture, put, put_frame};

/// A store, an app, and a registered device key.
macro_rules! world {
    ($store:ident, $app:ident, $key:ident, $bearer:ident) => {
        let dir = tempfile::tempdir().unwrap();
        let $store = Store::open(&crate::backends::store_config(dir.path()).await)
            .await
            .unwrap();
        let $app =
            test::init_service(App::new().configure(ingest::configure($store.clone()))).await;
        let $key = DeviceKeypair::from_seed([3; 32]);
        let $bearer = sign_up_with_device!($app, "Alice", $key);
    };
}

#[actix_web::test]
async fn real_frames_upload_resume_and_post_a_capture_once() {
    world!(store, app, key, _bearer);
    let jpegs: Vec<Vec<u8>> = LANES
        .iter()
        .map(|name| image(&format!("udacity_lanes/{name}")))
        .collect();
    let ids: Vec<FrameId> = jpegs.iter().map(|j| FrameId::of_bytes(j)).collect();
    for jpeg in &jpegs {
        let (status, body) = call!(app, put_frame(&key, jpeg.clone()));
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(
            (body["width"].as_u64(), body["height"].as_u64()),
            (Some(960), Some(540))
        );
    }
    // Resume: re-sending a frame the server has is harmless.
    let (status, _) = call!(app, put_frame(&key, jpegs[0].clone()));
    assert_eq!(status, StatusCode::OK);
    let stored = store
        .blobs
        .get(&BlobKey::original_frame(&ids[0]))
        .await
        .unwrap();
    assert_eq!(stored.as_ref(), jpegs[0].as_slice());

    let capture = munich_manifest(8, &key, &ids);
    let (body, signature) = capture.sign(&key);
    let (status, accepted) = call!(app, post_capture(body.clone(), &signature));
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["counts"]["pending"], 6, "{accepted}");
    assert_eq!(accepted["state"], "received");

    // The same capture again: the earlier answer, nothing counted twice.
    let (status, again) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["frames"], accepted["frames"]);
    assert_eq!(store.queue.counts().await.unwrap().queued, 1);

    // The same capture id with other content is refused.
    let mut altered = capture.clone();
    altered.frames.pop();
    let (body, signature) = altered.sign(&key);
    let (status, problem) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        problem["type"],
        "https://waymark.dev/problems/capture-id-reused"
    );

    let (status, fetched) = call!(app, crate::capture_status(&key, capture.capture_id));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["frames"].as_array().unwrap().len(), 6);
    // The status is the device's (and its owner's): nobody else reads it, not even
    // whether it exists.
    let uri = format!("/api/v1/captures/{}", capture.capture_id);
    let (status, problem) = call!(app, test::TestRequest::get().uri(&uri));
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let stranger = DeviceKeypair::from_seed([77; 32]);
    sign_up_with_device!(app, "Stranger", stranger);
    let (status, problem) = call!(app, crate::capture_status(&stranger, capture.capture_id));
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
}

#[actix_web::test]
async fn track_problems_are_rejected_per_frame_with_advice() {
    world!(store, app, key, _bearer);
    let jpegs: Vec<Vec<u8>> = LANES
        .iter()
        .map(|name| image(&format!("udacity_lanes/{name}")))
        .collect();
    let ids: Vec<FrameId> = jpegs.iter().map(|j| FrameId::of_bytes(j)).collect();
    for jpeg in &jpegs {
        call!(app, put_frame(&key, jpeg.clone()));
    }
    let mut capture = munich_manifest(8, &key, &ids);
    capture.frames[2].fix.satellites = 2;
    capture.frames[4].fix.lat = 0.0;
    capture.frames[4].fix.lon = 0.0;
    let (body, signature) = capture.sign(&key);
    let (status, result) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::ACCEPTED, "{result}");
    assert_eq!(result["frames"][2]["reject_reason"], "poor-gnss");
    assert!(
        result["frames"][2]["advice"]
            .as_str()
            .unwrap()
            .contains("antenna")
    );
    assert_eq!(result["frames"][4]["reject_reason"], "null-island");
    assert_eq!(result["counts"]["pending"], 4);

    // Once the rewards of a period are closed, frames from it can no longer count.
    let now = TimestampMs::now();
    let closed = store::EpochRow {
        id: "test".into(),
        starts_at: now.saturating_add_ms(-7 * 86_400_000),
        ends_at: now.saturating_add_ms(-60_000),
        state: store::EpochState::Closed,
        emission: "0".into(),
        merkle_root: None,
        manifest_key: None,
        closed_at: Some(now),
        consumption_pool: None,
        credits_consumed: None,
    };
    assert!(store.db.claim_epoch_close(&closed, now, now).await.unwrap());
    assert!(store.db.save_closed_epoch(&closed, &[], now).await.unwrap());
    let late = munich_manifest(8, &key, &ids);
    let (body, signature) = late.sign(&key);
    let (status, result) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::ACCEPTED, "{result}");
    assert_eq!(result["counts"]["rejected"], 6, "{result}");
    assert_eq!(result["frames"][0]["reject_reason"], "time-too-old");
}

#[actix_web::test]
async fn hostile_uploads_get_typed_problems_and_store_nothing() {
    world!(store, app, key, bearer);
    let real = image("udacity_lanes/solidWhiteCurve.jpg");
    let sha_of = |bytes: &[u8]| FrameId::of_bytes(bytes).to_hex();

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(30_000, 0);
    let truncated = real[..real.len() * 9 / 10].to_vec();
    // A 65 535 × 65 535 "pixel bomb": a valid header, padded past the size gate.
    let mut bomb = vec![
        0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x03,
    ];
    bomb.resize(30_000, 0);
    bomb.extend_from_slice(&[0xFF, 0xD9]);
    let huge = image("geotagged/mapillary_DSC00001.JPG");
    let tiny = real[..1000].to_vec();
    let stranger = DeviceKeypair::from_seed([99; 32]);
    let now = TimestampMs::now();

    let cases: Vec<(test::TestRequest, StatusCode, &str)> = vec![
        (
            put(&key, real.clone(), &sha_of(b"other"), now),
            StatusCode::BAD_REQUEST,
            "hash-mismatch",
        ),
        (
            put_frame(&key, png.clone()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-jpeg",
        ),
        (
            put_frame(&key, truncated),
            StatusCode::UNPROCESSABLE_ENTITY,
            "broken",
        ),
        (
            put_frame(&key, bomb),
            StatusCode::UNPROCESSABLE_ENTITY,
            "dimensions-too-large",
        ),
        (
            put_frame(&key, huge),
            StatusCode::PAYLOAD_TOO_LARGE,
            "frame-too-large",
        ),
        (
            put_frame(&key, tiny),
            StatusCode::UNPROCESSABLE_ENTITY,
            "frame-too-small",
        ),
        (
            put_frame(&stranger, real.clone()),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        (
            put(
                &key,
                real.clone(),
                &sha_of(&real),
                now.saturating_add_ms(-3_600_000),
            ),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        (
            test::TestRequest::put()
                .uri(&format!("/api/v1/frames/{}", sha_of(&real)))
                .set_payload(real.clone()),
            StatusCode::UNAUTHORIZED,
            "device-unauthorized",
        ),
        (
            put(&key, real.clone(), "..%2F..%2Fetc%2Fpasswd", now),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
    ];
    for (request, status, slug) in cases {
        let (got, problem) = call!(app, request);
        assert_eq!(got, status, "{slug}: {problem}");
        assert_eq!(
            problem["type"],
            format!("https://waymark.dev/problems/{slug}"),
            "{problem}"
        );
    }
    assert!(
        store.blobs.list("frames").await.unwrap().is_empty(),
        "nothing was kept"
    );

    // A forged signature over a manifest, a manifest whose blobs are missing, malformed JSON.
    let capture = munich_manifest(8, &key, &[FrameId::of_bytes(&real)]);
    let (body, _) = capture.sign(&key);
    let (status, problem) = call!(app, post_capture(body.clone(), &stranger.sign(&body)));
    assert_eq!(
        (status, problem["type"].as_str()),
        (
            StatusCode::UNAUTHORIZED,
            Some("https://waymark.dev/problems/device-unauthorized")
        )
    );
    let (body, signature) = capture.sign(&key);
    let (status, problem) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["missing"][0], FrameId::of_bytes(&real).to_hex());
    let (status, problem) = call!(
        app,
        post_capture(b"{\"format_version\":1,".to_vec(), &key.sign(b"x"))
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("line 1"),
        "{problem}"
    );
    let (status, _) = call!(
        app,
        test::TestRequest::get().uri("/api/v1/captures/not-a-uuid")
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call!(
        app,
        test::TestRequest::get().uri(&format!("/api/v1/captures/{}", CaptureId::new()))
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous");
    let (status, _) = call!(app, crate::capture_status(&key, CaptureId::new()));
    assert_eq!(status, StatusCode::NOT_FOUND);

    // After all that, a good upload works, and a revoked device is refused.
    let (status, _) = call!(app, put_frame(&key, real.clone()));
    assert_eq!(status, StatusCode::CREATED);
    let (body, signature) = capture.sign(&key);
    let (status, _) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, me) = call!(
        app,
        test::TestRequest::get()
            .uri("/api/v1/contributors/me")
            .insert_header(bearer.clone())
    );
    let revoke = format!(
        "/api/v1/devices/{}",
        me["devices"][0]["id"].as_str().unwrap()
    );
    call!(
        app,
        test::TestRequest::delete()
            .uri(&revoke)
            .insert_header(bearer)
    );
    let (status, problem) = call!(
        app,
        put_frame(&key, image("udacity_lanes/solidYellowLeft.jpg"))
    );
    assert_eq!(
        (status, problem["type"].as_str()),
        (
            StatusCode::FORBIDDEN,
            Some("https://waymark.dev/problems/device-revoked")
        )
    );
}

#[actix_web::test]
async fn the_same_frames_again_or_under_a_cloned_device_count_once() {
    world!(store, app, key, bearer);
    let jpegs: Vec<Vec<u8>> = LANES
        .iter()
        .map(|name| image(&format!("udacity_lanes/{name}")))
        .collect();
    let ids: Vec<FrameId> = jpegs.iter().map(|j| FrameId::of_bytes(j)).collect();
    for jpeg in &jpegs {
        call!(app, put_frame(&key, jpeg.clone()));
    }
    let original = munich_manifest(8, &key, &ids);
    let (body, signature) = original.sign(&key);
    let (status, first) = call!(app, post_capture(body, &signature));
    assert_eq!(
        (status, first["counts"]["pending"].as_u64()),
        (StatusCode::ACCEPTED, Some(6))
    );

    // The same frames at the same moments in a new capture of the same device (an agent
    // that lost track of what it sent): exact duplicates.
    let resent = CaptureManifest {
        capture_id: CaptureId::new(),
        ..original.clone()
    };
    let (body, signature) = resent.sign(&key);
    let (_, again) = call!(app, post_capture(body, &signature));
    assert!(
        again["frames"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["reject_reason"] == "exact-duplicate"),
        "{again}"
    );

    // The same device passing the same frames off as a drive of the day before: a replay.
    let mut later = CaptureManifest {
        capture_id: CaptureId::new(),
        ..original.clone()
    };
    for entry in &mut later.frames {
        entry.fix.time = entry.fix.time.saturating_add_ms(-86_400_000);
    }
    let (body, signature) = later.sign(&key);
    let (_, relabelled) = call!(app, post_capture(body, &signature));
    assert!(
        relabelled["frames"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["reject_reason"] == "replay"),
        "{relabelled}"
    );

    // A second device (another account) uploads the very same images: a replay.
    let clone = DeviceKeypair::from_seed([4; 32]);
    sign_up_with_device!(app, "Mallory", clone);
    for jpeg in &jpegs {
        let (status, _) = call!(app, put_frame(&clone, jpeg.clone()));
        assert_eq!(status, StatusCode::OK, "the blobs exist already");
    }
    let (body, signature) = munich_manifest(8, &clone, &ids).sign(&clone);
    let (_, replayed) = call!(app, post_capture(body, &signature));
    assert!(
        replayed["frames"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["reject_reason"] == "replay"),
        "{replayed}"
    );
    assert!(
        replayed["frames"][0]["advice"]
            .as_str()
            .unwrap()
            .contains("another device")
    );
    let counts = store.db.frame_counts().await.unwrap();
    assert!(counts.contains(&("pending".to_owned(), 6)), "{counts:?}");
    drop(bearer);
}

#[actix_web::test]
async fn a_device_sending_too_fast_is_slowed_down_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let limit = ingest::rate_limit::RateLimit {
        per_second: 0.5,
        burst: 2.0,
    };
    let app =
        test::init_service(App::new().configure(ingest::configure_with(store.clone(), limit)))
            .await;
    let (fast, calm) = (
        DeviceKeypair::from_seed([21; 32]),
        DeviceKeypair::from_seed([22; 32]),
    );
    sign_up_with_device!(app, "Fast", fast);
    sign_up_with_device!(app, "Calm", calm);
    let real = image("udacity_lanes/solidWhiteRight.jpg");
    assert_eq!(
        call!(app, put_frame(&fast, real.clone())).0,
        StatusCode::CREATED
    );
    assert_eq!(call!(app, put_frame(&fast, real.clone())).0, StatusCode::OK);
    let response = test::call_service(&app, put_frame(&fast, real.clone()).to_request()).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response
        .headers()
        .get("Retry-After")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let problem: Value = serde_json::from_slice(&test::read_body(response).await).unwrap();
    assert_eq!(problem["type"], "https://waymark.dev/problems/rate-limited");
    // Another device is not affected.
    assert_eq!(call!(app, put_frame(&calm, real)).0, StatusCode::OK);
}

#[actix_web::test]
async fn one_key_in_two_towns_at_once_is_caught_as_a_cloned_key() {
    world!(store, app, key, _bearer);
    let jpegs: Vec<Vec<u8>> = LANES
        .iter()
        .map(|name| image(&format!("udacity_lanes/{name}")))
        .collect();
    for jpeg in &jpegs {
        call!(app, put_frame(&key, jpeg.clone()));
    }
    let ids: Vec<FrameId> = jpegs.iter().map(|j| FrameId::of_bytes(j)).collect();
    // The key's first dashcam drives three frames through Munich…
    let here = munich_manifest(8, &key, &ids[..3]);
    let (body, signature) = here.sign(&key);
    let (status, first) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["counts"]["pending"], 3, "{first}");
    // …while a clone of the key claims the same seconds 15 km east.
    let mut there = munich_manifest(8, &key, &ids[3..]);
    for (entry, original) in there.frames.iter_mut().zip(&here.frames) {
        entry.fix.time = original.fix.time;
        entry.fix.lon = original.fix.lon + 0.2;
    }
    there.sequence_number = 2;
    let (body, signature) = there.sign(&key);
    let (_, second) = call!(app, post_capture(body, &signature));
    assert!(
        second["frames"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["reject_reason"] == "cloned-key"),
        "{second}"
    );
    drop(store);
}

/// Each frame's `reject_reason` in a capture's status, in manifest order.
fn reject_reasons(status: &Value) -> Vec<&Value> {
    status["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["reject_reason"])
        .collect()
}

/// `count` stills of the real Udacity dashcam video, from `first` on.
fn video_stills(first: usize, count: usize) -> Vec<Vec<u8>> {
    (first..first + count)
        .map(|i| {
            let name = format!("frames/udacity_solidWhiteRight/frame_{i:03}.jpg");
            std::fs::read(datasets::path(&name)).unwrap()
        })
        .collect()
}

#[actix_web::test]
async fn a_second_device_on_the_same_track_is_caught_and_the_car_behind_is_not() {
    world!(store, app, alice, _bearer);
    let bob = DeviceKeypair::from_seed([4; 32]);
    sign_up_with_device!(app, "Bob", bob);
    let carol = DeviceKeypair::from_seed([5; 32]);
    sign_up_with_device!(app, "Carol", carol);
    let frames = 10;
    let upload = |key: &DeviceKeypair, first: usize| {
        let jpegs = video_stills(first, frames);
        let ids: Vec<FrameId> = jpegs.iter().map(|j| FrameId::of_bytes(j)).collect();
        (jpegs, munich_manifest(8, key, &ids))
    };
    // Alice drives ten frames through Munich.
    let (jpegs, driven) = upload(&alice, 0);
    for jpeg in jpegs {
        call!(app, put_frame(&alice, jpeg));
    }
    let (body, signature) = driven.sign(&alice);
    let (status, first) = call!(app, post_capture(body, &signature));
    assert_eq!(first["counts"]["pending"], frames, "{status} {first}");

    // Bob's device sends other pictures on Alice's track, a metre off: one car.
    let (jpegs, mut copied) = upload(&bob, 15);
    for (entry, original) in copied.frames.iter_mut().zip(&driven.frames) {
        entry.fix = original.fix;
        entry.fix.lat += 1e-5;
    }
    for jpeg in jpegs {
        call!(app, put_frame(&bob, jpeg));
    }
    let (body, signature) = copied.sign(&bob);
    let (_, second) = call!(app, post_capture(body, &signature));
    let reasons = reject_reasons(&second);
    assert!(reasons.iter().all(|r| *r == "shared-track"), "{second}");

    // Carol drives the same road three seconds behind Alice: a convoy, not a copy.
    let (jpegs, behind) = upload(&carol, 30);
    for jpeg in jpegs {
        call!(app, put_frame(&carol, jpeg));
    }
    let mut behind = behind;
    for entry in &mut behind.frames {
        entry.fix.time = entry.fix.time.saturating_add_ms(3_000);
    }
    let (body, signature) = behind.sign(&carol);
    let (_, third) = call!(app, post_capture(body, &signature));
    assert_eq!(third["counts"]["pending"], frames, "{third}");
    drop(store);
}

/// A capture's span is the sender's to choose: one spread over a day and a half, its frames
/// hours apart, is still compared frame by frame with what was stored at each of its
/// moments. Bob's spread capture rides Alice's drive, a metre off, in its middle
/// (`shared-track`); Alice's own spread capture claims, among frames hours apart, one moment
/// of her stored drive 15 km east (`cloned-key`); every other frame passes.
#[actix_web::test]
async fn a_capture_spread_over_days_is_compared_frame_by_frame() {
    world!(store, app, alice, _bearer);
    let bob = DeviceKeypair::from_seed([4; 32]);
    sign_up_with_device!(app, "Bob", bob);
    let drive = crate::munich();
    let sent = |key: &DeviceKeypair, jpegs: Vec<Vec<u8>>| {
        let ids: Vec<FrameId> = jpegs.iter().map(|j| FrameId::of_bytes(j)).collect();
        (jpegs, munich_manifest(8, key, &ids))
    };
    let (jpegs, driven) = sent(&alice, video_stills(0, 10));
    for jpeg in jpegs {
        call!(app, put_frame(&alice, jpeg));
    }
    let (body, signature) = driven.sign(&alice);
    let (_, first) = call!(app, post_capture(body, &signature));
    assert_eq!(first["counts"]["pending"], 10, "{first}");
    let (start, end) = (driven.frames[0].fix.time, driven.frames[9].fix.time);

    // Bob: ten frames three hours apart before Alice's drive, her ten a metre off, ten
    // frames five minutes apart after it.
    let (jpegs, mut spread) = sent(&bob, video_stills(12, 30));
    for (j, entry) in spread.frames.iter_mut().enumerate() {
        entry.fix = match j {
            0..10 => Fix {
                time: start.saturating_add_ms(-(10 - j as i64) * 3 * 3_600_000),
                ..drive[j * 40]
            },
            10..20 => Fix {
                lat: driven.frames[j - 10].fix.lat + 1e-5,
                ..driven.frames[j - 10].fix
            },
            _ => Fix {
                time: end.saturating_add_ms((j as i64 - 19) * 300_000),
                ..drive[400 + j * 20]
            },
        };
    }
    for jpeg in jpegs {
        call!(app, put_frame(&bob, jpeg));
    }
    let (body, signature) = spread.sign(&bob);
    let (status, second) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    let reasons = reject_reasons(&second);
    assert!(
        reasons[10..20].iter().all(|r| *r == "shared-track"),
        "{second}"
    );
    assert_eq!(second["counts"]["pending"], 20, "{second}");

    // Alice: five frames hours and minutes apart, the third 20 s after her drive's first
    // frame and 15 km east of it.
    let lanes: Vec<Vec<u8>> = LANES[..5]
        .iter()
        .map(|name| image(&format!("udacity_lanes/{name}")))
        .collect();
    let (jpegs, mut own) = sent(&alice, lanes);
    let moments = [
        start.saturating_add_ms(20_000 - 6 * 3_600_000),
        start.saturating_add_ms(20_000 - 3 * 3_600_000),
        start.saturating_add_ms(20_000),
        end.saturating_add_ms(600_000),
        end.saturating_add_ms(1_200_000),
    ];
    for (j, (entry, time)) in own.frames.iter_mut().zip(moments).enumerate() {
        entry.fix = Fix {
            time,
            ..drive[j * 50]
        };
    }
    // From the third on, 15 km east (a drive that went there, not a zig-zag).
    for entry in &mut own.frames[2..] {
        entry.fix.lon += 0.2;
    }
    own.sequence_number = 2;
    for jpeg in jpegs {
        call!(app, put_frame(&alice, jpeg));
    }
    let (body, signature) = own.sign(&alice);
    let (_, third) = call!(app, post_capture(body, &signature));
    let reasons = reject_reasons(&third);
    assert_eq!(*reasons[2], "cloned-key", "{third}");
    assert_eq!(third["counts"]["pending"], 4, "{third}");
    drop(store);
}

/// A frame's hash is no claim to its bytes: Mallory names the hash of Alice's rejected frame
/// (readable on Alice's status page, or guessed from a URL) and gets `409` — she never sent
/// those bytes; if she does send them, they are Alice's footage: a replay.
#[actix_web::test]
async fn an_original_belongs_to_the_device_that_uploaded_it() {
    world!(store, app, key, _bearer);
    let alice = key;
    let jpegs: Vec<Vec<u8>> = LANES[..2]
        .iter()
        .map(|name| image(&format!("udacity_lanes/{name}")))
        .collect();
    let ids: Vec<FrameId> = jpegs.iter().map(|j| FrameId::of_bytes(j)).collect();
    for jpeg in &jpegs {
        call!(app, put_frame(&alice, jpeg.clone()));
    }
    // Alice's capture is rejected at upload (no GNSS fix on either frame): the originals
    // stay until they are collected.
    let mut rejected = munich_manifest(8, &alice, &ids);
    for entry in &mut rejected.frames {
        entry.fix.satellites = 1;
    }
    let (body, signature) = rejected.sign(&alice);
    let (status, result) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::ACCEPTED, "{result}");
    assert_eq!(result["counts"]["rejected"], 2, "{result}");

    let mallory = DeviceKeypair::from_seed([66; 32]);
    sign_up_with_device!(app, "Mallory", mallory);
    let claim = munich_manifest(8, &mallory, &ids);
    let (body, signature) = claim.sign(&mallory);
    let (status, problem) = call!(app, post_capture(body.clone(), &signature));
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["missing"].as_array().unwrap().len(), 2, "{problem}");

    // With the bytes, Mallory's upload is answered like a resume, and the frames are Alice's.
    for jpeg in &jpegs {
        let (status, _) = call!(app, put_frame(&mallory, jpeg.clone()));
        assert_eq!(status, StatusCode::OK);
    }
    let (status, result) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::ACCEPTED, "{result}");
    assert_eq!(result["counts"]["pending"], 0, "{result}");
    assert_eq!(result["frames"][0]["reject_reason"], "replay", "{result}");
    assert_eq!(result["frames"][1]["reject_reason"], "replay", "{result}");
    assert!(store.queue.counts().await.unwrap().queued <= 2);
}

/// Originals nothing needs are collected after the grace period: an upload never named by
/// a manifest and the frames of a capture rejected at upload. A pending frame's original is
/// kept however old.
#[actix_web::test]
async fn originals_no_capture_needs_are_collected_after_the_grace_period() {
    world!(store, app, key, _bearer);
    let jpegs: Vec<Vec<u8>> = LANES
        .iter()
        .map(|name| image(&format!("udacity_lanes/{name}")))
        .collect();
    let ids: Vec<FrameId> = jpegs.iter().map(|j| FrameId::of_bytes(j)).collect();
    for jpeg in &jpegs {
        call!(app, put_frame(&key, jpeg.clone()));
    }
    // Frames 0–1: a capture, pending. Frames 2–3: a capture rejected at upload. 4–5: never
    // named.
    let pending = munich_manifest(8, &key, &ids[..2]);
    let (body, signature) = pending.sign(&key);
    assert_eq!(
        call!(app, post_capture(body, &signature)).0,
        StatusCode::ACCEPTED
    );
    let mut rejected = munich_manifest(8, &key, &ids[2..4]);
    rejected.sequence_number = 2;
    for entry in &mut rejected.frames {
        entry.fix.time = entry.fix.time.saturating_add_ms(7_200_000);
        entry.fix.satellites = 1;
    }
    let (body, signature) = rejected.sign(&key);
    let (status, result) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::ACCEPTED, "{result}");
    assert_eq!(result["counts"]["rejected"], 2, "{result}");

    let exists = |id: FrameId| {
        let store = store.clone();
        async move {
            store
                .blobs
                .exists(&BlobKey::original_frame(&id))
                .await
                .unwrap()
        }
    };
    let grace = std::time::Duration::from_secs(3600);
    let now = TimestampMs::now();
    let collected = ingest::uploads::collect_uploads(&store, grace, now)
        .await
        .unwrap();
    assert_eq!(collected, 0, "nothing is older than the grace period yet");
    let later = now.saturating_add_ms(2 * 3_600_000);
    let collected = ingest::uploads::collect_uploads(&store, grace, later)
        .await
        .unwrap();
    assert_eq!(collected, 4);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(exists(*id).await, i < 2, "frame {i}");
    }
    // A collected upload is no longer the device's: naming it again asks for the bytes.
    let again = munich_manifest(8, &key, &ids[4..]);
    let (body, signature) = again.sign(&key);
    let (status, problem) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(
        ingest::uploads::collect_uploads(&store, grace, later)
            .await
            .unwrap(),
        0,
        "each collected once"
    );
}

/// A JPEG of noise unlike every other `n`'s (its own bytes; over the upload's 25 KiB
/// minimum, which a flat picture is not).
fn numbered_jpeg(n: u32) -> Vec<u8> {
    let mut state = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let pixels = image::RgbImage::from_fn(256, 144, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let [r, g, b, ..] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&pixels)
        .unwrap();
    out.into_inner()
}

/// A generated track cut into captures of 25 s (each too short to be judged alone) and
/// sent at twenty frames a second (1.25 m apart, so none is a duplicate): the device's
/// fixes are read a fix a second, so the third capture sent is judged with the 50 s beside
/// it and rejected — sent oldest first (judged with the two before it) or newest first
/// (with the two after it). Read as its newest 600 frames, a capture's history would hold
/// only 30 s of them, and no capture would ever be judged.
#[actix_web::test]
async fn a_generated_track_sent_at_twenty_frames_a_second_is_judged_with_its_neighbours() {
    let (per_capture, every_ms) = (500u32, 50i64);
    for order in [[0u32, 1, 2], [2, 1, 0]] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&crate::backends::store_config(dir.path()).await)
            .await
            .unwrap();
        let unlimited = ingest::rate_limit::RateLimit {
            per_second: 1e6,
            burst: 1e6,
        };
        let app = test::init_service(
            App::new().configure(ingest::configure_with(store.clone(), unlimited)),
        )
        .await;
        let key = DeviceKeypair::from_seed([23; 32]);
        sign_up_with_device!(app, "Mallory", key);
        let start = TimestampMs::now().saturating_add_ms(-3_600_000);
        let origin = crate::munich()[300];
        let mut counts = Vec::new();
        for sequence in order {
            let mut frames = Vec::new();
            for n in sequence * per_capture..(sequence + 1) * per_capture {
                let jpeg = numbered_jpeg(n);
                let elapsed_ms = i64::from(n) * every_ms;
                let mut fix = origin;
                fix.time = start.saturating_add_ms(elapsed_ms);
                fix.lat += 25.0 * elapsed_ms as f64 / 1000.0 / 111_195.0;
                frames.push(model::FrameEntry {
                    sha256: FrameId::of_bytes(&jpeg),
                    fix,
                });
                let (status, body) = call!(app, put_frame(&key, jpeg));
                assert_eq!(status, StatusCode::CREATED, "{body}");
            }
            let manifest = CaptureManifest {
                format_version: model::MANIFEST_FORMAT_VERSION,
                device_key: key.public(),
                capture_id: CaptureId::new(),
                sequence_number: u64::from(sequence) + 1,
                firmware: "test".into(),
                camera: "udacity dashcam".into(),
                frames,
            };
            let (body, signature) = manifest.sign(&key);
            let (status, answer) = call!(app, post_capture(body, &signature));
            assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
            counts.push(answer["counts"].clone());
        }
        assert_eq!(counts[0]["pending"], per_capture, "{order:?} {counts:?}");
        assert_eq!(counts[1]["pending"], per_capture, "{order:?} {counts:?}");
        assert_eq!(counts[2]["rejected"], per_capture, "{order:?} {counts:?}");
        let reasons = store.db.frame_outcome_counts().await.unwrap();
        assert!(
            reasons.contains(&(
                "rejected".to_owned(),
                Some("synthetic-track".to_owned()),
                u64::from(per_capture)
            )),
            "{order:?} {reasons:?}"
        );
    }
}

/// A forged drive's captures sent newest first: the one sent last starts in Munich and
/// ends 10 minutes before the one sent first, which is 200 km away — out of reach either
/// way round (`teleport`).
#[actix_web::test]
async fn captures_sent_newest_first_do_not_hide_a_jump_between_them() {
    world!(store, app, key, _bearer);
    let jpegs: Vec<Vec<u8>> = (0..12).map(|n| numbered_jpeg(1_000 + n)).collect();
    for jpeg in &jpegs {
        call!(app, put_frame(&key, jpeg.clone()));
    }
    let ids: Vec<FrameId> = jpegs.iter().map(|j| FrameId::of_bytes(j)).collect();
    let earlier = munich_manifest(8, &key, &ids[..6]);
    let mut later = munich_manifest(8, &key, &ids[6..]);
    later.sequence_number = 2;
    for entry in &mut later.frames {
        entry.fix.time = entry.fix.time.saturating_add_ms(15 * 60_000);
        entry.fix.lat += 200_000.0 / 111_195.0;
    }
    let (body, signature) = later.sign(&key);
    let (status, first) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["counts"]["pending"], 6, "{first}");
    let (body, signature) = earlier.sign(&key);
    let (_, second) = call!(app, post_capture(body, &signature));
    assert!(
        second["frames"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["reject_reason"] == "teleport"),
        "{second}"
    );
    drop(store);
}
