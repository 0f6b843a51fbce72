//! The map-features job and routes through a real store: committed captures with sign
//! detections (boxes projected through a 120° dashcam from a drive past a STOP sign) become
//! one feature at the sign, a retried job changes nothing, a second pass joins the same
//! feature, and `GET /api/v1/features` serves it with every photo, filters, pages and refuses
//! bad parameters with a problem; search finds it as one document, also in a rebuilt index.

use actix_web::http::StatusCode;
use actix_web::{App, test};
use features::Camera;
use features::geo::{LatLon, bearing_deg, destination, distance_m};
use ingest::map_features::{FeatureSettings, apply_capture};
use ingest::search_index::{index_pending, queue_rebuild_if_pending};
use model::{
    CaptureId, ContributorId, DeviceId, DeviceKeypair, Fix, FixType, FrameId, TimestampMs,
};
use store::{FrameOutcome, NewDetection, NewSequence, ProcessedCapture, ProcessedFrame, Store};

/// The road runs east through here; the sign stands 3.5 m south of it (the right of
/// eastbound traffic), facing west.
fn sign() -> LatLon {
    destination(LatLon::new(48.137, 11.575), 180.0, 3.5)
}

/// One pass eastward from 60 m before the sign: a frame every 8 m, each with the box a
/// 1920-px 120° dashcam sees the 0.75 m sign as, while it is in view.
fn pass(start_ms: i64) -> (Vec<Fix>, Vec<Option<[u32; 4]>>) {
    let camera = Camera::DASHCAM;
    let road = LatLon::new(48.137, 11.575);
    let mut fixes = Vec::new();
    let mut boxes = Vec::new();
    for k in 0..8 {
        let at = destination(road, 270.0, 60.0 - 8.0 * f64::from(k));
        fixes.push(Fix {
            time: TimestampMs(start_ms + i64::from(k) * 1_000),
            lat: at.lat,
            lon: at.lon,
            alt: None,
            heading: Some(90.0),
            speed: Some(8.0),
            fix_type: FixType::Fix3d,
            satellites: 9,
            hdop: 0.8,
        });
        let offset = bearing_deg(at, sign()) - 90.0;
        let distance = distance_m(at, sign());
        boxes.push(camera.column(offset, 1920).and_then(|column| {
            let width = camera.focal_px(1920) * 0.75 / (distance * offset.to_radians().cos());
            (distance <= 50.0 && distance > 3.0).then(|| {
                [
                    (column - width / 2.0).round() as u32,
                    300,
                    width.round() as u32,
                    width.round() as u32,
                ]
            })
        }));
    }
    (fixes, boxes)
}

/// Commits one pass as the worker does (accepted frames, one sequence, the sign
/// detections) and returns its capture.
async fn commit_pass(
    store: &Store,
    device: DeviceId,
    contributor: ContributorId,
    start_ms: i64,
) -> CaptureId {
    let (fixes, boxes) = pass(start_ms);
    let capture = CaptureId::new();
    let ids: Vec<FrameId> = (0..fixes.len())
        .map(|i| FrameId::of_bytes(format!("{capture}-{i}").as_bytes()))
        .collect();
    let drive: Vec<(FrameId, Fix)> = ids.iter().copied().zip(fixes.iter().copied()).collect();
    let leased = crate::received::receive_and_lease(
        store,
        &crate::received::Received {
            capture,
            device,
            sequence_number: (start_ms / 1000) as u64,
            camera: "Acme DC-1 dashcam",
        },
        &drive,
    )
    .await;
    let sequence = format!("{capture}-0");
    let processed = ProcessedCapture {
        capture,
        contributor,
        frames: fixes
            .iter()
            .zip(&ids)
            .enumerate()
            .map(|(i, (fix, id))| ProcessedFrame {
                index: i as u32,
                outcome: FrameOutcome::Accepted { quality: 0.8 },
                sequence: Some(sequence.clone()),
                size: Some((1920, 1080)),
                coverage: Some(store::Coverage {
                    cell: u64::from(fix.cell(model::COVERAGE_RESOLUTION).unwrap()),
                    time: fix.time,
                    fingerprint: vec![0; 8],
                    heading: fix.heading,
                    footage: None,
                }),
                sha256: *id,
            })
            .collect(),
        sequences: vec![NewSequence {
            id: sequence,
            started_at: fixes[0].time,
            ended_at: fixes[fixes.len() - 1].time,
            frame_count: fixes.len() as u32,
            length_m: 56.0,
            geometry_geojson: r#"{"type":"LineString","coordinates":[]}"#.into(),
        }],
        detections: ids
            .iter()
            .zip(&boxes)
            .zip(&fixes)
            .filter_map(|((id, bbox), fix)| {
                Some(NewDetection {
                    frame: *id,
                    kind: "sign",
                    class: Some("stop".into()),
                    confidence: 0.9,
                    bbox: (*bbox)?,
                    lat: fix.lat,
                    lon: fix.lon,
                })
            })
            .collect(),
        follow_ups: Vec::new(),
        processed_at: TimestampMs::now(),
    };
    store
        .db
        .commit_processed(&processed, &leased)
        .await
        .unwrap();
    capture
}

async fn driver(store: &Store, n: u8) -> (DeviceId, ContributorId) {
    let public_key = DeviceKeypair::from_seed([n; 32]).public();
    let (contributor, device) =
        crate::received::signed_up(store, &format!("driver {n}"), public_key, None).await;
    (device, contributor)
}

#[actix_web::test]
async fn a_sign_seen_in_many_frames_and_two_passes_is_one_feature_at_the_sign() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::backends::store_config(dir.path()).await;
    let store = Store::open(&config).await.unwrap();
    let (device, contributor) = driver(&store, 1).await;
    let settings = FeatureSettings::default();
    let now = TimestampMs::now();
    let start = now.as_millis() - 3_600_000;

    let first = commit_pass(&store, device, contributor, start).await;
    apply_capture(&store, first, &settings, now).await.unwrap();
    let around = (11.57, 48.13, 11.58, 48.14);
    let features = store.db.features_within(around).await.unwrap();
    assert_eq!(features.len(), 1, "{features:?}");
    let feature = &features[0];
    let error = distance_m(LatLon::new(feature.row.lat, feature.row.lon), sign());
    assert!(error < 1.5, "{error} m from the sign: {feature:?}");
    assert_eq!(feature.row.class, "stop");
    assert_eq!(feature.row.method, "intersection");
    assert!(
        feature.observations.len() >= 5,
        "{}",
        feature.observations.len()
    );

    // A retried job applies nothing twice.
    apply_capture(&store, first, &settings, now).await.unwrap();
    assert_eq!(store.db.features_within(around).await.unwrap(), features);

    // A second pass, by another driver a day earlier and uploaded late, joins the same
    // feature and makes its driver the first observer.
    let (early_device, early_bird) = driver(&store, 2).await;
    let second = commit_pass(&store, early_device, early_bird, start - 86_400_000).await;
    apply_capture(&store, second, &settings, now).await.unwrap();
    let after = store.db.features_within(around).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].row.id, feature.row.id);
    assert_eq!(after[0].observations.len(), 2 * feature.observations.len());
    let earliest = after[0]
        .observations
        .iter()
        .map(|o| o.time_ms)
        .min()
        .unwrap();
    assert_eq!(after[0].row.first_seen_ms, earliest);
    assert!(
        earliest < start,
        "the earlier pass's sightings date the feature"
    );
    assert_eq!(after[0].row.first_contributor_id, early_bird.to_string());
    let discoveries = store
        .db
        .discoveries_between(start - 2 * 86_400_000, now.as_millis())
        .await
        .unwrap();
    assert_eq!(discoveries.len(), 1, "{discoveries:?}");
    assert_eq!(
        (
            discoveries[0].feature.as_str(),
            discoveries[0].device,
            discoveries[0].time_ms
        ),
        (after[0].row.id.as_str(), early_device, earliest)
    );
    assert!(
        store
            .db
            .discoveries_between(start, now.as_millis())
            .await
            .unwrap()
            .is_empty(),
        "first seen before that window"
    );
    assert_eq!(store.db.features_pending().await.unwrap(), 0);

    // Both applies queued the feature's search document with their commit.
    assert_eq!(index_pending(&store).await.unwrap(), 2);

    // Served: the collection, one feature with its photos, filters and bad input.
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let id = &feature.row.id;
    let newest_photo = after[0]
        .observations
        .iter()
        .max_by_key(|o| o.time_ms)
        .unwrap()
        .frame_sha256;
    let (status, found) = call!(
        app,
        test::TestRequest::get().uri("/api/v1/search?q=stop&kind=feature")
    );
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["count"], 1, "one sign, one feature: {found}");
    let hit = &found["results"][0];
    assert_eq!(hit["kind"], "feature");
    assert_eq!(hit["feature"]["id"], id.as_str());
    assert_eq!(hit["feature"]["url"], format!("/api/v1/features/{id}"));
    assert_eq!(hit["capture"], serde_json::Value::Null);
    assert_eq!(hit["frame"], newest_photo.to_hex());
    assert_eq!(hit["contributor"], early_bird.to_string());
    assert_eq!(hit["captured_at"], after[0].row.last_seen_ms);
    assert_eq!(hit["lat"], after[0].row.lat);
    let (_, near) = call!(
        app,
        test::TestRequest::get().uri(&format!(
            "/api/v1/search?kind=feature&near={},{}",
            sign().lat,
            sign().lon
        ))
    );
    assert_eq!(near["count"], 1, "{near}");
    let (status, problem) = call!(
        app,
        test::TestRequest::get().uri("/api/v1/search?q=stop&kind=features")
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"].as_str().unwrap().contains("`feature`"),
        "{problem}"
    );
    let (status, page) = call!(
        app,
        test::TestRequest::get().uri("/api/v1/features?bbox=11.57,48.13,11.58,48.14&class=stop")
    );
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["type"], "FeatureCollection");
    assert_eq!(page["features"][0]["id"], id.as_str());
    let status_now =
        features::change::status_of(None, start - 86_400_000, TimestampMs::now().as_millis());
    assert_eq!(
        page["features"][0]["properties"]["status"],
        status_now.as_str()
    );
    assert_eq!(page["next"], serde_json::Value::Null);
    for empty in [
        "/api/v1/features?class=yield",
        "/api/v1/features?status=gone",
        "/api/v1/features?bbox=0,0,1,1",
        "/api/v1/features?changed_since=9999-01-01",
    ] {
        let (status, page) = call!(app, test::TestRequest::get().uri(empty));
        assert_eq!(status, StatusCode::OK, "{empty}: {page}");
        assert_eq!(page["features"].as_array().unwrap().len(), 0, "{empty}");
    }
    let (status, page) = call!(
        app,
        test::TestRequest::get().uri("/api/v1/features?limit=1")
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        page["next"],
        id.as_str(),
        "a full page names its last id as the cursor"
    );
    let (_, rest) = call!(
        app,
        test::TestRequest::get().uri(&format!("/api/v1/features?limit=1&cursor={id}"))
    );
    assert_eq!(rest["features"].as_array().unwrap().len(), 0);

    let (status, one) = call!(
        app,
        test::TestRequest::get().uri(&format!("/api/v1/features/{id}"))
    );
    assert_eq!(status, StatusCode::OK, "{one}");
    let photos = one["properties"]["observations_list"].as_array().unwrap();
    assert_eq!(photos.len(), after[0].observations.len());
    assert!(
        photos[0]["thumbnail"]
            .as_str()
            .unwrap()
            .ends_with("/thumbnail.jpg")
    );

    for (uri, status) in [
        (
            "/api/v1/features?bbox=11.58,48.13,11.57,48.14",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/features?bbox=NaN,0,1,1", StatusCode::BAD_REQUEST),
        ("/api/v1/features?status=moved", StatusCode::BAD_REQUEST),
        ("/api/v1/features?limit=100000", StatusCode::BAD_REQUEST),
        (
            "/api/v1/features?cursor=%27%20OR%201=1",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/features?colour=red", StatusCode::BAD_REQUEST),
        (
            "/api/v1/features/ft-000000000000000000000000",
            StatusCode::NOT_FOUND,
        ),
        ("/api/v1/features/..%2F..%2Fetc", StatusCode::BAD_REQUEST),
    ] {
        let (got, problem) = call!(app, test::TestRequest::get().uri(uri));
        assert_eq!(got, status, "{uri}: {problem}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{uri}: {problem}"
        );
    }

    // A fresh index over the same rows (a lost or upgraded index directory) asks once for
    // every processed capture and feature, and then finds the feature again.
    let rebuilt = Store::open(&store::StoreConfig {
        search_dir: Some(dir.path().join("search-rebuilt")),
        ..config
    })
    .await
    .unwrap();
    assert!(rebuilt.search.rebuild_pending().is_some());
    assert_eq!(queue_rebuild_if_pending(&rebuilt).await.unwrap(), 3);
    assert_eq!(queue_rebuild_if_pending(&rebuilt).await.unwrap(), 0);
    assert_eq!(index_pending(&rebuilt).await.unwrap(), 3);
    let hits = rebuilt
        .search
        .search(&store::SearchQuery {
            kind: Some(store::SearchKind::Feature),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].feature.as_ref().unwrap().id, *id);
}
