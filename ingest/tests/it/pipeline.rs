//! The whole ingest path on real data: real dashcam JPEGs uploaded through the routes along
//! the real Munich drive, then the pipeline worker with the real OpenCV vision stage.

use std::io::Cursor;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use image::codecs::jpeg::JpegEncoder;
use ingest::worker::{FrameAnalyzer, process_next};
use model::{
    AnalyzedFrame, CaptureId, CaptureManifest, DeviceKeypair, FrameEntry, FrameId,
    MANIFEST_FORMAT_VERSION, TimestampMs,
};
use serde_json::Value;
use store::{BlobKey, SearchQuery, Store};

use crate::{LANES, lane, munich, put_frame};

/// The real OpenCV vision stage behind ingest's seam.
pub struct OpenCv(pub vision::Vision);

impl FrameAnalyzer for OpenCv {
    fn analyze(&self, jpeg: &[u8]) -> Result<AnalyzedFrame, String> {
        self.0.analyze(jpeg).map_err(|err| err.to_string())
    }
}

/// A capture of `jpegs` one every 4 s along the Munich drive from fix `start`, an hour ago.
fn capture(key: &DeviceKeypair, jpegs: &[Vec<u8>], start: usize) -> CaptureManifest {
    let drive = munich();
    let base = TimestampMs::now().saturating_add_ms(-3_600_000);
    let t0 = drive[start].time;
    CaptureManifest {
        format_version: MANIFEST_FORMAT_VERSION,
        device_key: key.public(),
        capture_id: CaptureId::new(),
        sequence_number: 1,
        firmware: "test".into(),
        camera: "udacity".into(),
        frames: jpegs
            .iter()
            .enumerate()
            .map(|(i, jpeg)| {
                let mut fix = drive[start + i * 4];
                fix.time = base.saturating_add_ms(fix.time.millis_since(t0));
                FrameEntry {
                    sha256: FrameId::of_bytes(jpeg),
                    fix,
                }
            })
            .collect(),
    }
}

#[actix_web::test]
async fn real_frames_go_from_upload_to_public_blurred_accepted_frames() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let key = DeviceKeypair::from_seed([11; 32]);
    sign_up_with_device!(app, "Alice", key);

    let jpegs: Vec<Vec<u8>> = LANES.iter().map(|n| lane(n)).collect();
    for jpeg in &jpegs {
        assert_eq!(
            call!(app, put_frame(&key, jpeg.clone())).0,
            StatusCode::CREATED
        );
    }
    let manifest = capture(&key, &jpegs, 300);
    let (body, signature) = manifest.sign(&key);
    let request = test::TestRequest::post()
        .uri("/api/v1/captures")
        .insert_header(("X-Waymark-Signature", signature.to_hex()))
        .set_payload(body);
    assert_eq!(call!(app, request).0, StatusCode::ACCEPTED);

    let vision = vision::Vision::new(vision::VisionConfig::default())
        .expect("vision models installed by scripts/setup");
    let analyzer: Arc<dyn FrameAnalyzer> = Arc::new(OpenCv(vision));
    assert_eq!(
        process_next(&store, &analyzer).await.unwrap(),
        Some(manifest.capture_id)
    );
    assert_eq!(
        process_next(&store, &analyzer).await.unwrap(),
        None,
        "the job is done once"
    );

    let (status, result) = call!(app, crate::capture_status(&key, manifest.capture_id));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result["state"], "done", "{result}");
    assert_eq!(
        result["counts"]["accepted"], 6,
        "sharp daylight dashcam frames are accepted: {result}"
    );
    for (frame, entry) in result["frames"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&manifest.frames)
    {
        let quality = frame["quality"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&quality));
        // Only the public copy is kept: the original is gone, the blurred copy and a
        // thumbnail are there, and the public copy is a real JPEG of the same size.
        assert!(
            !store
                .blobs
                .exists(&BlobKey::original_frame(&entry.sha256))
                .await
                .unwrap()
        );
        let public = store
            .blobs
            .get(&BlobKey::public_frame(&entry.sha256))
            .await
            .unwrap();
        let header = model::JpegHeader::parse(&public).unwrap();
        assert_eq!((header.width, header.height), (960, 540));
        assert!(
            store
                .blobs
                .exists(&BlobKey::thumbnail(&entry.sha256))
                .await
                .unwrap()
        );
    }
    let hits = store
        .search
        .search(&SearchQuery {
            limit: capture_limit(),
            ..Default::default()
        })
        .unwrap();
    assert!(hits.len() >= 6, "{hits:?}");
    assert!(
        !store.db.dirty_cells().await.unwrap().is_empty(),
        "the tile builder is told what changed"
    );
    // One sequence along the drive, its line through the six positions.
    let sequences = store.db.sequences_of(manifest.capture_id).await.unwrap();
    assert_eq!(sequences.len(), 1, "{sequences:?}");
    let (_, frames, length_m, geometry) = &sequences[0];
    assert_eq!(*frames, 6);
    assert!(*length_m > 50.0, "{length_m}");
    let line: Value = serde_json::from_str(geometry).unwrap();
    assert_eq!(line["type"], "LineString");
    assert_eq!(line["coordinates"].as_array().unwrap().len(), 6);

    // The same scene again, re-encoded, from the same place: a near duplicate.
    let mut copy = Cursor::new(Vec::new());
    let decoded = image::load_from_memory(&jpegs[0]).unwrap();
    JpegEncoder::new_with_quality(&mut copy, 70)
        .encode_image(&decoded.to_rgb8())
        .unwrap();
    let copy = copy.into_inner();
    assert_eq!(
        call!(app, put_frame(&key, copy.clone())).0,
        StatusCode::CREATED
    );
    // Half an hour later (the device cannot be in two places at once).
    let mut again = capture(&key, &[copy], 300);
    for entry in &mut again.frames {
        entry.fix.time = entry.fix.time.saturating_add_ms(1_800_000);
    }
    let (body, signature) = again.sign(&key);
    let request = test::TestRequest::post()
        .uri("/api/v1/captures")
        .insert_header(("X-Waymark-Signature", signature.to_hex()))
        .set_payload(body);
    assert_eq!(call!(app, request).0, StatusCode::ACCEPTED);
    process_next(&store, &analyzer).await.unwrap();
    let (_, result) = call!(app, crate::capture_status(&key, again.capture_id));
    assert_eq!(
        result["frames"][0]["reject_reason"], "near-duplicate",
        "{result}"
    );
}

fn capture_limit() -> usize {
    100
}

/// A vision stage that always fails (as a crashed model server would).
struct Failing;

impl FrameAnalyzer for Failing {
    fn analyze(&self, _jpeg: &[u8]) -> Result<AnalyzedFrame, String> {
        Err("the model server is down".into())
    }
}

/// Frames whose own EXIF (written as the real agent writes it) places them 5 km from where
/// their manifest claims, or names another camera than it declares, are rejected
/// `photo-mismatch` by the worker, before vision, and open a fraud case; frames whose EXIF
/// agrees are processed as usual.
#[actix_web::test]
async fn a_frame_whose_own_exif_was_taken_elsewhere_or_by_another_camera_is_a_photo_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let key = DeviceKeypair::from_seed([14; 32]);
    sign_up_with_device!(app, "Alice", key);
    let plain: Vec<Vec<u8>> = LANES.iter().map(|n| lane(n)).collect();
    // The claims: the Munich drive, by the "udacity" camera. The photos: the first two tagged
    // where claimed by that camera (its agent's label), the third where claimed by another
    // camera (someone else's footage), the last three 5 km north (taken elsewhere, passed off
    // as here).
    let claims = capture(&key, &plain, 300);
    let tagged: Vec<Vec<u8>> = plain
        .iter()
        .zip(&claims.frames)
        .enumerate()
        .map(|(i, (jpeg, entry))| {
            let mut own = entry.fix;
            if i >= 3 {
                own.lat += 5_000.0 / 111_195.0;
            }
            let camera = if i == 2 {
                "GoPro HERO9 Black"
            } else {
                "udacity dashcam 1.2"
            };
            dashcam_agent::geotag::tag_jpeg(jpeg, &own, camera).unwrap()
        })
        .collect();
    for jpeg in &tagged {
        assert_eq!(
            call!(app, put_frame(&key, jpeg.clone())).0,
            StatusCode::CREATED
        );
    }
    let mut manifest = capture(&key, &tagged, 300);
    for (entry, claim) in manifest.frames.iter_mut().zip(&claims.frames) {
        entry.fix = claim.fix;
    }
    let (body, signature) = manifest.sign(&key);
    let request = test::TestRequest::post()
        .uri("/api/v1/captures")
        .insert_header(("X-Waymark-Signature", signature.to_hex()))
        .set_payload(body);
    assert_eq!(call!(app, request).0, StatusCode::ACCEPTED);
    let vision = vision::Vision::new(vision::VisionConfig::default())
        .expect("vision models installed by scripts/setup");
    let analyzer: Arc<dyn FrameAnalyzer> = Arc::new(OpenCv(vision));
    process_next(&store, &analyzer).await.unwrap();

    let (_, result) = call!(app, crate::capture_status(&key, manifest.capture_id));
    let reasons: Vec<Value> = result["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reject_reason"].clone())
        .collect();
    assert_eq!(reasons[..2], [Value::Null, Value::Null], "{result}");
    assert!(
        reasons[2..].iter().all(|r| r == "photo-mismatch"),
        "{result}"
    );
    let cases = cases_of(&store).await;
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(
        (cases[0].reason, cases[0].frame_count, cases[0].capture),
        (model::RejectReason::PhotoMismatch, 4, manifest.capture_id)
    );
    // Nothing of a mismatched frame is published.
    assert!(
        !store
            .blobs
            .exists(&BlobKey::public_frame(&manifest.frames[4].sha256))
            .await
            .unwrap()
    );
}

#[actix_web::test]
async fn a_capture_whose_job_dies_gets_its_frames_rejected_not_stuck_pending() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let key = DeviceKeypair::from_seed([12; 32]);
    sign_up_with_device!(app, "Dora", key);
    let jpegs: Vec<Vec<u8>> = LANES[..2].iter().map(|n| lane(n)).collect();
    for jpeg in &jpegs {
        call!(app, put_frame(&key, jpeg.clone()));
    }
    let manifest = capture(&key, &jpegs, 100);
    let (body, signature) = manifest.sign(&key);
    let request = test::TestRequest::post()
        .uri("/api/v1/captures")
        .insert_header(("X-Waymark-Signature", signature.to_hex()))
        .set_payload(body);
    assert_eq!(call!(app, request).0, StatusCode::ACCEPTED);

    let analyzer: Arc<dyn FrameAnalyzer> = Arc::new(Failing);
    let mut attempts = 0;
    loop {
        // Skip the backoff: make the job due again at once.
        sqlx::query("UPDATE jobs SET run_after_ms = 0")
            .execute(store.db.pool())
            .await
            .unwrap();
        match process_next(&store, &analyzer).await {
            Err(err) => assert!(err.to_string().contains("model server is down"), "{err}"),
            Ok(None) => break,
            Ok(Some(capture)) => panic!("capture {capture} cannot succeed"),
        }
        attempts += 1;
        assert!(attempts <= 10, "the job never dies");
    }
    assert!(attempts >= 2, "retried before giving up ({attempts})");
    assert_eq!(store.queue.counts().await.unwrap().dead, 1);

    let (_, result) = call!(app, crate::capture_status(&key, manifest.capture_id));
    assert_eq!(result["state"], "failed", "{result}");
    assert_eq!(result["counts"]["pending"], 0, "{result}");
    assert_eq!(result["counts"]["rejected"], 2, "{result}");
    assert_eq!(result["frames"][0]["reject_reason"], "processing-failed");
    assert!(
        result["frames"][0]["advice"]
            .as_str()
            .unwrap()
            .contains("upload the frames again")
    );
}

/// A vision stage that takes `delay` per frame, then answers like the real one would for a
/// good frame (it delegates to OpenCV).
struct Slow {
    inner: OpenCv,
    delay: std::time::Duration,
}

impl FrameAnalyzer for Slow {
    fn analyze(&self, jpeg: &[u8]) -> Result<AnalyzedFrame, String> {
        std::thread::sleep(self.delay);
        self.inner.analyze(jpeg)
    }
}

/// Uploads `jpegs` as one capture of `key`'s (signing up first) and returns its id.
macro_rules! uploaded_capture {
    ($app:expr, $key:expr, $jpegs:expr) => {{
        sign_up_with_device!($app, "Erin", $key);
        for jpeg in $jpegs {
            assert_eq!(
                call!($app, put_frame(&$key, jpeg.clone())).0,
                StatusCode::CREATED
            );
        }
        let manifest = capture(&$key, $jpegs, 100);
        let (body, signature) = manifest.sign(&$key);
        let request = test::TestRequest::post()
            .uri("/api/v1/captures")
            .insert_header(("X-Waymark-Signature", signature.to_hex()))
            .set_payload(body);
        assert_eq!(call!($app, request).0, StatusCode::ACCEPTED);
        manifest.capture_id
    }};
}

#[actix_web::test]
async fn a_capture_longer_than_its_lease_is_kept_by_its_worker_not_stolen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let key = DeviceKeypair::from_seed([13; 32]);
    let jpegs: Vec<Vec<u8>> = LANES[..3].iter().map(|n| lane(n)).collect();
    let capture = uploaded_capture!(app, key, &jpegs);

    // Three frames at 2.5 s each under a 3 s lease: without extensions the lease runs out
    // during the second frame and another worker takes the job. (Extensions come every
    // second, so a worker starved of the CPU for up to 2 s under a loaded test run still
    // holds its job; at 1.5 s the PostgreSQL run once lost it under load.)
    let vision = vision::Vision::new(vision::VisionConfig::default()).unwrap();
    let slow: Arc<dyn FrameAnalyzer> = Arc::new(Slow {
        inner: OpenCv(vision),
        delay: std::time::Duration::from_millis(2_500),
    });
    let lease = std::time::Duration::from_millis(3_000);
    let pulse = ingest::worker::Pulse::default();
    let worker = ingest::worker::process_next_with_lease(&store, &slow, lease, &pulse);
    let thief = async {
        tokio::time::sleep(std::time::Duration::from_millis(5_000)).await;
        store
            .queue
            .lease(ingest::uploads::PROCESS_CAPTURE_JOB, lease)
            .await
            .unwrap()
    };
    let (processed, stolen) = tokio::join!(worker, thief);
    assert_eq!(processed.unwrap(), Some(capture));
    assert!(stolen.is_none(), "the job was still leased: {stolen:?}");
    assert!(pulse.last().is_some(), "the worker showed life");
    let counts = store.queue.counts().await.unwrap();
    assert_eq!(counts.leased, 0);
    assert!(
        counts.done >= 2,
        "the capture and its search indexing: {counts:?}"
    );
    let (_, status) = call!(app, crate::capture_status(&key, capture));
    assert_eq!(status["state"], "done", "{status}");
}

#[actix_web::test]
async fn a_job_its_workers_crashed_on_every_time_rejects_its_frames() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let key = DeviceKeypair::from_seed([14; 32]);
    let jpegs: Vec<Vec<u8>> = LANES[..2].iter().map(|n| lane(n)).collect();
    let capture = uploaded_capture!(app, key, &jpegs);
    // Five workers take the job and die with it (their leases run out).
    for _ in 0..5 {
        let held = store
            .queue
            .lease(
                ingest::uploads::PROCESS_CAPTURE_JOB,
                std::time::Duration::from_millis(50),
            )
            .await
            .unwrap();
        assert!(held.is_some());
        tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    }
    let analyzer: Arc<dyn FrameAnalyzer> = Arc::new(Failing);
    assert_eq!(process_next(&store, &analyzer).await.unwrap(), None);
    let counts = store.queue.counts().await.unwrap();
    assert_eq!((counts.dead, counts.queued, counts.leased), (1, 0, 0));
    let (_, status) = call!(app, crate::capture_status(&key, capture));
    assert_eq!(status["state"], "failed", "{status}");
    assert_eq!(
        status["counts"]["pending"], 0,
        "nothing waits on it: {status}"
    );
    assert_eq!(status["frames"][1]["reject_reason"], "processing-failed");
}

#[actix_web::test]
async fn a_store_outage_retries_without_using_attempts_or_rejecting_frames() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let key = DeviceKeypair::from_seed([15; 32]);
    let jpegs: Vec<Vec<u8>> = LANES[..2].iter().map(|n| lane(n)).collect();
    let capture = uploaded_capture!(app, key, &jpegs);
    // The blob store fails: the first original's file cannot be opened (a symbolic link
    // loop stands in for a failing disk or mount; the tests run as root, so permissions
    // would not stop a read).
    if crate::backends::on_postgres_and_s3() {
        eprintln!("the outage is simulated on local files: checked in the SQLite + files pass");
        return;
    }
    let original = BlobKey::original_frame(&FrameId::of_bytes(&jpegs[0]));
    let local = dir.path().join("blobs").join(original.as_str());
    let saved = std::fs::read(&local).unwrap();
    std::fs::remove_file(&local).unwrap();
    std::os::unix::fs::symlink(&local, &local).unwrap();
    let vision = vision::Vision::new(vision::VisionConfig::default()).unwrap();
    let analyzer: Arc<dyn FrameAnalyzer> = Arc::new(OpenCv(vision));
    for _ in 0..8 {
        sqlx::query("UPDATE jobs SET run_after_ms = 0")
            .execute(store.db.pool())
            .await
            .unwrap();
        let err = process_next(&store, &analyzer).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
    }
    let counts = store.queue.counts().await.unwrap();
    assert_eq!((counts.dead, counts.queued), (0, 1), "{counts:?}");
    let (_, status) = call!(app, crate::capture_status(&key, capture));
    assert_eq!(
        status["counts"]["pending"], 2,
        "no frame rejected: {status}"
    );
    // The store is back: the capture goes through.
    std::fs::remove_file(&local).unwrap();
    std::fs::write(&local, saved).unwrap();
    sqlx::query("UPDATE jobs SET run_after_ms = 0")
        .execute(store.db.pool())
        .await
        .unwrap();
    assert_eq!(
        process_next(&store, &analyzer).await.unwrap(),
        Some(capture)
    );
    let (_, status) = call!(app, crate::capture_status(&key, capture));
    assert_eq!(status["counts"]["accepted"], 2, "{status}");
}

/// A stretch of a simulated honest drive through Monaco, with its receiver's real-looking
/// noise, over 1 km from `avoid` (what someone passing footage off as a new drive claims;
/// a generated straight line would be `synthetic-track` before its pixels were looked at).
fn noisy_drive_elsewhere(avoid: model::Fix) -> Vec<model::Fix> {
    use datasets::fleet::{Behaviour, FleetConfig, simulate};
    let network = datasets::monaco().unwrap();
    let graph = datasets::RoadGraph::new(&network);
    let fleet = simulate(&graph, &FleetConfig::default()).unwrap();
    fleet
        .trips()
        .filter(|(device, _)| device.behaviour == Behaviour::Honest)
        .flat_map(|(_, trip)| {
            trip.fixes
                .windows(8)
                .map(<[model::Fix]>::to_vec)
                .collect::<Vec<_>>()
        })
        .find(|fixes| {
            let (first, last) = (fixes[0], fixes[7]);
            // Under way (7 steps over 50 m), and far from the street.
            datasets::geo::distance_m((first.lon, first.lat), (last.lon, last.lat)) > 50.0
                && fixes.iter().all(|fix| {
                    datasets::geo::distance_m((fix.lon, fix.lat), (avoid.lon, avoid.lat)) > 1_000.0
                })
        })
        .expect("an honest drive over 1 km from the street")
}

/// Uploads `jpegs`, posts `manifest` signed with `key`, processes it, and gives each
/// frame's reject reason (JSON null when accepted) as the capture's status reports it.
macro_rules! upload_and_process {
    ($app:expr, $store:expr, $analyzer:expr, $key:expr, $manifest:expr, $jpegs:expr) => {
        upload_and_process!(
            $app,
            $store,
            $analyzer,
            $key,
            $manifest,
            $jpegs,
            &model::roads::RoadIndex::default()
        )
    };
    ($app:expr, $store:expr, $analyzer:expr, $key:expr, $manifest:expr, $jpegs:expr, $roads:expr) => {{
        for jpeg in &$jpegs {
            assert_eq!(
                call!($app, put_frame(&$key, jpeg.clone())).0,
                StatusCode::CREATED
            );
        }
        let (body, signature) = $manifest.sign(&$key);
        let request = test::TestRequest::post()
            .uri("/api/v1/captures")
            .insert_header(("X-Waymark-Signature", signature.to_hex()))
            .set_payload(body);
        assert_eq!(call!($app, request).0, StatusCode::ACCEPTED);
        let pulse = ingest::worker::Pulse::default();
        let lease = ingest::worker::LEASE;
        ingest::worker::process_next_on_roads(&$store, &$analyzer, lease, &pulse, $roads)
            .await
            .unwrap();
        let (_, result) = call!($app, crate::capture_status(&$key, $manifest.capture_id));
        result["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["reject_reason"].clone())
            .collect::<Vec<Value>>()
    }};
}

/// Frames of one street in Monaco, 8 m apart heading east, `hours_ago` hours ago, as
/// dashcam `camera` films it (the simulator's place-consistent footage) — or, with
/// `elsewhere`, that dashcam's footage of a town far away claimed here.
fn street_capture(
    source: &mut datasets::frames::FrameSource,
    key: &DeviceKeypair,
    camera: u32,
    hours_ago: i64,
    elsewhere: bool,
) -> (CaptureManifest, Vec<Vec<u8>>) {
    street_capture_north(source, key, camera, hours_ago, elsewhere, 0.0)
}

/// [`street_capture`] of the street `north_m` metres north of that one.
fn street_capture_north(
    source: &mut datasets::frames::FrameSource,
    key: &DeviceKeypair,
    camera: u32,
    hours_ago: i64,
    elsewhere: bool,
    north_m: f64,
) -> (CaptureManifest, Vec<Vec<u8>>) {
    let start = TimestampMs::now().saturating_add_ms(-hours_ago * 3_600_000);
    let (lat, lon): (f64, f64) = (43.7384 + north_m / 111_320.0, 7.4246);
    let mut shots = Vec::new();
    for i in 0..8u32 {
        let east = f64::from(i) * 8.0;
        let lon = lon + east / (111_320.0 * lat.to_radians().cos());
        let fix = moving_fix(
            start.saturating_add_ms(i64::from(i) * 1_000),
            (lon, lat),
            90.0,
        );
        let jpeg = if elsewhere {
            other_town(i, camera)
        } else {
            let trip = u32::try_from(hours_ago).unwrap();
            filmed(source, (camera, trip, i), &fix, (lon, lat), 90.0)
        };
        shots.push((fix, jpeg));
    }
    simulated_capture(key, shots)
}

/// A fix at `position` (lon, lat) moving along `heading` at 8 m/s, with a good 3D fix.
fn moving_fix(time: TimestampMs, (lon, lat): (f64, f64), heading: f64) -> model::Fix {
    model::Fix {
        time,
        lat,
        lon,
        alt: None,
        heading: Some(heading),
        speed: Some(8.0),
        fix_type: model::FixType::Fix3d,
        satellites: 9,
        hdop: 0.9,
    }
}

/// Frame `index` of trip `trip` of dashcam `camera` (the simulator's place-consistent
/// footage), filmed at `position` (lon, lat) looking along `heading` and claimed at `fix`.
fn filmed(
    source: &mut datasets::frames::FrameSource,
    (camera, trip, index): (u32, u32, u32),
    fix: &model::Fix,
    position: (f64, f64),
    heading: f64,
) -> Vec<u8> {
    use datasets::fleet::{FrameKey, Pose};
    let look = datasets::frames::Look {
        pose: Pose {
            position,
            heading_deg: heading,
            speed_ms: 8.0,
        },
        camera,
    };
    let key = FrameKey {
        device: camera,
        trip,
        index,
    };
    source.frame(key, fix, look).unwrap().jpeg
}

/// The capture of `shots` (each frame's fix and JPEG) signed by `key`'s device.
fn simulated_capture(
    key: &DeviceKeypair,
    shots: Vec<(model::Fix, Vec<u8>)>,
) -> (CaptureManifest, Vec<Vec<u8>>) {
    let frames = shots
        .iter()
        .map(|(fix, jpeg)| FrameEntry {
            sha256: FrameId::of_bytes(jpeg),
            fix: *fix,
        })
        .collect();
    let manifest = CaptureManifest {
        format_version: MANIFEST_FORMAT_VERSION,
        device_key: key.public(),
        capture_id: CaptureId::new(),
        sequence_number: 1,
        firmware: "test".into(),
        camera: "simulated".into(),
        frames,
    };
    (manifest, shots.into_iter().map(|(_, jpeg)| jpeg).collect())
}

/// Frame `i` of camera `camera`'s drive through another town: windows of a real 4K street
/// photo (Mapillary's test image, `images/geotagged/mapillary_DSC00001.JPG`), 864 × 486 like
/// the simulator's, each camera's a little higher or lower.
fn other_town(i: u32, camera: u32) -> Vec<u8> {
    let photo = image::load_from_memory(&crate::image("geotagged/mapillary_DSC00001.JPG"))
        .unwrap()
        .to_rgb8();
    let window =
        image::imageops::crop_imm(&photo, 400 + i * 120, 600 + (camera % 5) * 100, 1728, 972)
            .to_image();
    let frame = image::imageops::resize(&window, 864, 486, image::imageops::FilterType::Triangle);
    let mut out = Cursor::new(Vec::new());
    JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&frame)
        .unwrap();
    out.into_inner()
}

#[actix_web::test]
async fn a_capture_copying_published_footage_is_a_replay_wherever_claimed_even_its_own_mirrored_cut_or_framed_anew()
 {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let vision = vision::Vision::new(vision::VisionConfig::default())
        .expect("vision models installed by scripts/setup");
    let analyzer: Arc<dyn FrameAnalyzer> = Arc::new(OpenCv(vision));
    let mut source = datasets::frames::FrameSource::open().unwrap();
    let send = async |name: &str, seed: u8, manifest: CaptureManifest, jpegs: Vec<Vec<u8>>| {
        let key = DeviceKeypair::from_seed([seed; 32]);
        sign_up_with_device!(app, name, key);
        let manifest = CaptureManifest {
            device_key: key.public(),
            ..manifest
        };
        let reasons = upload_and_process!(app, store, analyzer, key, manifest, jpegs);
        (manifest, reasons)
    };
    // Ann films a street; Ben, with his own dashcam, films it an hour later: two shots of one
    // place are not copies of each other.
    let ann_key = DeviceKeypair::from_seed([41; 32]);
    let (ann, ann_jpegs) = street_capture(&mut source, &ann_key, 41, 9, false);
    let (ann, reasons) = send("Ann", 41, ann, ann_jpegs.clone()).await;
    assert!(reasons.iter().all(Value::is_null), "Ann: {reasons:?}");
    let ben_key = DeviceKeypair::from_seed([42; 32]);
    let (ben, ben_jpegs) = street_capture(&mut source, &ben_key, 42, 8, false);
    let (_, reasons) = send("Ben", 42, ben, ben_jpegs).await;
    assert!(reasons.iter().all(Value::is_null), "Ben: {reasons:?}");

    // Mallory fetches Ann's published frames, crops them 5 %, brightens and re-encodes
    // them, and claims them 3 km north, hours later: a replay, every frame, and a case.
    let (copied, copies) = published_copies(&store, &ann, 3_000.0, |public| {
        datasets::frames::disguise(public, 0.05, 12, 82).unwrap()
    })
    .await;
    let (copied, reasons) = send("Mallory", 43, copied, copies).await;
    assert!(reasons.iter().all(|r| r == "replay"), "{reasons:?}");
    for entry in &copied.frames {
        assert!(
            !store
                .blobs
                .exists(&BlobKey::public_frame(&entry.sha256))
                .await
                .unwrap()
        );
    }
    let cases = cases_of(&store).await;
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(
        (cases[0].reason, cases[0].frame_count, cases[0].capture),
        (model::RejectReason::Replay, 8, copied.capture_id)
    );

    // Ann re-sends her drive's frames, cropped 3 %, darkened and re-encoded, as a drive
    // over 1 km away: her own footage claimed where it was not filmed is a replay too. (Her dashcam
    // re-driving her street is no copy: `model::footage`'s table test, and the ten-seed
    // measurement in `similarity::footage_copies_are_found_and_other_dashcams_are_not`.)
    let mut resent = Vec::new();
    let mut frames = Vec::new();
    let drive = noisy_drive_elsewhere(ann.frames[0].fix);
    for (n, (entry, jpeg)) in ann.frames.iter().zip(&ann_jpegs).enumerate() {
        let copy = datasets::frames::disguise(jpeg, 0.03, -8, 75).unwrap();
        let fix = model::Fix {
            time: entry.fix.time.saturating_add_ms(6 * 3_600_000),
            ..drive[n]
        };
        frames.push(FrameEntry {
            sha256: FrameId::of_bytes(&copy),
            fix,
        });
        resent.push(copy);
    }
    let resent_manifest = CaptureManifest {
        capture_id: CaptureId::new(),
        frames,
        ..ann.clone()
    };
    let reasons = upload_and_process!(app, store, analyzer, ann_key, resent_manifest, resent);
    assert!(
        reasons.iter().all(|r| r == "replay"),
        "Ann's re-send: {reasons:?}"
    );

    // Trudy mirrors Ann's published frames as well (the street the wrong way round), crops
    // them 5 %, darkens and re-encodes them and claims them 6 km north: still a replay.
    let (mirrored, copies) = published_copies(&store, &ann, 6_000.0, |public| {
        datasets::frames::disguise_mirrored(public, 0.05, -10, 80).unwrap()
    })
    .await;
    let (_, reasons) = send("Trudy", 44, mirrored, copies).await;
    assert!(
        reasons.iter().all(|r| r == "replay"),
        "Trudy's mirrored copy: {reasons:?}"
    );

    // Oscar cuts the copies off-centre: the bottom 8 % (the bonnet, or a time stamp) off one
    // frame, the next cropped 6 % towards its top-left corner, and so on, and claims them
    // 9 km north: still a replay.
    let cut = std::cell::Cell::new(0);
    let (off_centre, copies) = published_copies(&store, &ann, 9_000.0, |public| {
        cut.set(cut.get() + 1);
        let sides = if cut.get() % 2 == 0 {
            [0.0, 0.0, 0.0, 0.08]
        } else {
            [0.0, 0.0, 0.06, 0.06]
        };
        datasets::frames::disguise_cut(public, sides, false, 8, 85).unwrap()
    })
    .await;
    let (_, reasons) = send("Oscar", 45, off_centre, copies).await;
    assert!(
        reasons.iter().all(|r| r == "replay"),
        "Oscar's off-centre copy: {reasons:?}"
    );

    // Peggy cuts deeper than the core's margin: to 4:3 (12.5 % off the left and the right)
    // and 12 % off every side, each kept at its new size, and the bottom 14 % off, scaled
    // back, in turn; she claims them 12 km north: the original's inner core still finds
    // them. (A deep cut shows the picture larger, so a soft frame may be refused as
    // `blurred` first: two of these eight are; none is accepted.)
    let cut = std::cell::Cell::new(0);
    let (wide, copies) = published_copies(&store, &ann, 12_000.0, |public| {
        cut.set(cut.get() + 1);
        let kept = |sides| datasets::frames::disguise_cut_kept(public, sides, false, -6, 95);
        match cut.get() % 3 {
            0 => kept([0.125, 0.0, 0.125, 0.0]),
            1 => kept([0.12; 4]),
            _ => datasets::frames::disguise_cut(public, [0.0, 0.0, 0.0, 0.14], false, -6, 80),
        }
        .unwrap()
    })
    .await;
    let (_, reasons) = send("Peggy", 46, wide, copies).await;
    let replays = reasons.iter().filter(|r| *r == "replay").count();
    assert!(
        reasons.iter().all(|r| r == "replay" || r == "blurred") && replays >= 6,
        "Peggy's deep crops: {reasons:?}"
    );

    // Rupert frames the copies anew — the bottom 8 % cut off and letterboxed into 4:3 in
    // black, cut at a corner and bordered 4 % in white, given a grey caption strip below,
    // pillarboxed to 21:9 and mirrored, in turn — and claims them 15 km north: the pictures
    // inside the bars are the originals, cut as a copy sent bare may be, a replay. (Wide
    // black bars can make the quality check read the lens as covered: one of these eight is
    // refused as `obstructed` first; none is accepted.)
    let framing = std::cell::Cell::new(0);
    let (framed, copies) = published_copies(&store, &ann, 15_000.0, |public| {
        framing.set(framing.get() + 1);
        let (cut, bars, shade, mirror) = match framing.get() % 4 {
            0 => (
                [0.0, 0.0, 0.0, 0.08],
                [0.0, 1.0 / 6.0, 0.0, 1.0 / 6.0],
                0,
                false,
            ),
            1 => ([0.0, 0.0, 0.06, 0.06], [0.04; 4], 255, false),
            2 => ([0.0; 4], [0.0, 0.0, 0.0, 0.08], 40, false),
            _ => ([0.0; 4], [1.0 / 6.0, 0.0, 1.0 / 6.0, 0.0], 0, true),
        };
        let picture = if cut == [0.0; 4] {
            public.to_vec()
        } else {
            datasets::frames::disguise_cut_kept(public, cut, false, 0, 95).unwrap()
        };
        datasets::frames::disguise_framed(&picture, bars, shade, mirror, -4, 85).unwrap()
    })
    .await;
    let (_, reasons) = send("Rupert", 47, framed, copies).await;
    let replays = reasons.iter().filter(|r| *r == "replay").count();
    assert!(
        reasons.iter().all(|r| r == "replay" || r == "obstructed") && replays >= 6,
        "Rupert's framed copies: {reasons:?}"
    );
}

/// A capture of `original`'s published (blurred) frames made over by `disguise`, claimed
/// `north_m` further north and five hours later: what a replayer who fetched them sends.
/// Footage indexed under an earlier key scheme (before `model::footage::KEY_SCHEME` changed)
/// is not found by the current probes until the worker re-keys it from the stored cores; a
/// re-keyed index finds the copy again, and a second pass has nothing left to do.
#[actix_web::test]
async fn footage_keyed_by_an_earlier_scheme_is_re_keyed_and_found_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let vision = vision::Vision::new(vision::VisionConfig::default())
        .expect("vision models installed by scripts/setup");
    let analyzer: Arc<dyn FrameAnalyzer> = Arc::new(OpenCv(vision));
    let mut source = datasets::frames::FrameSource::open().unwrap();
    let ann_key = DeviceKeypair::from_seed([51; 32]);
    sign_up_with_device!(app, "Ann", ann_key);
    let (ann, ann_jpegs) = street_capture(&mut source, &ann_key, 51, 9, false);
    let reasons = upload_and_process!(app, store, analyzer, ann_key, ann.clone(), ann_jpegs);
    assert!(reasons.iter().all(Value::is_null), "Ann: {reasons:?}");
    assert_eq!(
        ingest::footage_upkeep::rekey_footage(&store).await.unwrap(),
        ingest::footage_upkeep::Upkeep::default(),
        "a fresh index is in the current scheme"
    );

    // Ann's frames as an index of the earlier scheme holds them: band << 14 | 14 bits.
    let old_keys: Vec<(FrameId, Vec<i64>)> = ann
        .frames
        .iter()
        .enumerate()
        .map(|(n, entry)| {
            (
                entry.sha256,
                (0..8).map(|band| (band << 14) | n as i64).collect(),
            )
        })
        .collect();
    store.db.rekey_footage(i64::MAX, &old_keys).await.unwrap();
    let stale = store
        .db
        .footage_keyed_below(model::footage::SCHEME_FLOOR, None, None, 100)
        .await
        .unwrap();
    assert_eq!(stale.len(), ann.frames.len());

    // Copies of Ann's published frames ask the index with the current keys: the stale index
    // has no candidate for them…
    let disguise = |public: &[u8]| datasets::frames::disguise(public, 0.05, 12, 82).unwrap();
    let (copied, copies) = published_copies(&store, &ann, 3_000.0, disguise).await;
    assert_eq!(candidates_among(&store, &copies, &ann).await, 0);

    // …the worker's re-keying gives them back, and Mallory's copies are a replay.
    let rekeyed = ingest::footage_upkeep::rekey_footage(&store).await.unwrap();
    assert_eq!(rekeyed.rekeyed, ann.frames.len());
    assert!(candidates_among(&store, &copies, &ann).await >= ann.frames.len());
    let mallory_key = DeviceKeypair::from_seed([52; 32]);
    sign_up_with_device!(app, "Mallory", mallory_key);
    let copied = CaptureManifest {
        device_key: mallory_key.public(),
        ..copied
    };
    let reasons = upload_and_process!(app, store, analyzer, mallory_key, copied, copies.clone());
    assert!(reasons.iter().all(|r| r == "replay"), "{reasons:?}");
    assert_eq!(
        ingest::footage_upkeep::rekey_footage(&store).await.unwrap(),
        ingest::footage_upkeep::Upkeep::default()
    );
}

/// How many of `original`'s frames the footage index offers as candidates for `copies`, asked
/// as the worker asks (the keys of every probe).
async fn candidates_among(store: &Store, copies: &[Vec<u8>], original: &CaptureManifest) -> usize {
    let mut found = 0;
    for copy in copies {
        let prints = ingest::similarity::frame_prints(copy).unwrap();
        let shared = store
            .db
            .footage_sharing(&prints.probe_keys())
            .await
            .unwrap();
        found += shared
            .iter()
            .filter(|stored| original.frames.iter().any(|f| f.sha256 == stored.sha256))
            .count();
    }
    found
}

/// Frames accepted before the footage index existed (committed as that worker did: no
/// footage entry, the blurred copy published) are entered from their published pictures when
/// the worker brings the index up to date, and copies of them are then a replay.
#[actix_web::test]
async fn footage_accepted_before_the_index_existed_is_backfilled_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let vision = vision::Vision::new(vision::VisionConfig::default())
        .expect("vision models installed by scripts/setup");
    let analyzer: Arc<dyn FrameAnalyzer> = Arc::new(OpenCv(vision));
    let mut source = datasets::frames::FrameSource::open().unwrap();

    // Ann's drive, accepted and published by a worker from before the index.
    let ann_key = DeviceKeypair::from_seed([61; 32]);
    let ann =
        accepted_before_the_index(&store, &mut source, "Ann", &ann_key, 61, TimestampMs::now())
            .await;

    // The index has nothing of Ann's footage…
    let disguise = |public: &[u8]| datasets::frames::disguise(public, 0.04, -12, 80).unwrap();
    let (copied, copies) = published_copies(&store, &ann, 4_000.0, disguise).await;
    assert_eq!(candidates_among(&store, &copies, &ann).await, 0);

    // …until the worker brings it up to date: then Mallory's copies are a replay.
    let done = ingest::footage_upkeep::bring_up_to_date(&store)
        .await
        .unwrap();
    assert_eq!(
        done,
        ingest::footage_upkeep::Upkeep {
            backfilled: ann.frames.len(),
            ..Default::default()
        }
    );
    assert!(candidates_among(&store, &copies, &ann).await >= ann.frames.len());
    let mallory_key = DeviceKeypair::from_seed([62; 32]);
    sign_up_with_device!(app, "Mallory", mallory_key);
    let copied = CaptureManifest {
        device_key: mallory_key.public(),
        ..copied
    };
    let reasons = upload_and_process!(app, store, analyzer, mallory_key, copied, copies);
    assert!(reasons.iter().all(|r| r == "replay"), "{reasons:?}");
    assert_eq!(
        ingest::footage_upkeep::bring_up_to_date(&store)
            .await
            .unwrap(),
        ingest::footage_upkeep::Upkeep::default()
    );
}

/// After a finished pass the worker's upkeep reads only the captures processed since it began
/// (less the overlap): a capture an older worker accepted without footage, or keyed by an
/// earlier scheme, after that pass (a rolling upgrade) is found by the next one, and nothing
/// is read twice. A capture processed long before the pass yet missing from the index (which
/// a finished pass leaves none of) shows that the next pass does not read it; the full
/// backfill still would.
#[actix_web::test]
async fn the_upkeep_after_a_finished_pass_reads_only_the_captures_processed_since() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let mut source = datasets::frames::FrameSource::open().unwrap();
    let upkeep = || ingest::footage_upkeep::bring_up_to_date(&store);
    let hours_ago = |hours: i64| TimestampMs::now().saturating_add_ms(-hours * 3_600_000);

    // No pass has finished: the first reads everything, Ann's drive of three hours ago too.
    let ann_key = DeviceKeypair::from_seed([71; 32]);
    let ann =
        accepted_before_the_index(&store, &mut source, "Ann", &ann_key, 71, hours_ago(3)).await;
    assert_eq!(upkeep().await.unwrap().backfilled, ann.frames.len());
    assert_eq!(upkeep().await.unwrap(), Default::default());

    // An older worker, still running, accepts Bob's drive without footage: the next pass
    // enters it.
    let bob_key = DeviceKeypair::from_seed([72; 32]);
    let bob =
        accepted_before_the_index(&store, &mut source, "Bob", &bob_key, 72, TimestampMs::now())
            .await;
    assert_eq!(upkeep().await.unwrap().backfilled, bob.frames.len());

    // Footage keyed by an earlier scheme is re-keyed alike: Bob's, processed since the last
    // pass, is; Ann's, processed long before it, is left to the full re-keying.
    let old_keys: Vec<(FrameId, Vec<i64>)> = ann
        .frames
        .iter()
        .chain(&bob.frames)
        .enumerate()
        .map(|(n, entry)| (entry.sha256, vec![n as i64]))
        .collect();
    store.db.rekey_footage(i64::MAX, &old_keys).await.unwrap();
    assert_eq!(upkeep().await.unwrap().rekeyed, bob.frames.len());
    let full = ingest::footage_upkeep::rekey_footage(&store).await.unwrap();
    assert_eq!(full.rekeyed, ann.frames.len());

    // Carol's drive, processed before the overlap of the last pass, is not read again…
    let carol_key = DeviceKeypair::from_seed([73; 32]);
    let carol =
        accepted_before_the_index(&store, &mut source, "Carol", &carol_key, 73, hours_ago(2)).await;
    assert_eq!(upkeep().await.unwrap(), Default::default());
    // …and a full backfill (no pass recorded for a new scheme) would enter it.
    let full = ingest::footage_upkeep::backfill_footage(&store)
        .await
        .unwrap();
    assert_eq!(full.backfilled, carol.frames.len());
}

/// `name`'s drive (with camera `camera`), accepted and published at `processed_at` by a worker from
/// before the footage index: committed with no footage entry, the picture published as it is.
async fn accepted_before_the_index(
    store: &Store,
    source: &mut datasets::frames::FrameSource,
    name: &str,
    key: &DeviceKeypair,
    camera: u32,
    processed_at: TimestampMs,
) -> CaptureManifest {
    use store::{Coverage, FrameOutcome, ProcessedCapture, ProcessedFrame};
    let (drive_manifest, jpegs) = street_capture(source, key, camera, 9, false);
    let capture = CaptureId::new();
    let (contributor, device) = crate::received::signed_up(store, name, key.public(), None).await;
    let drive: Vec<(FrameId, model::Fix)> = drive_manifest
        .frames
        .iter()
        .map(|entry| (entry.sha256, entry.fix))
        .collect();
    let leased = crate::received::receive_and_lease(
        store,
        &crate::received::Received {
            capture,
            device,
            sequence_number: 1,
            camera: "udacity",
        },
        &drive,
    )
    .await;
    for (entry, jpeg) in drive_manifest.frames.iter().zip(&jpegs) {
        store
            .blobs
            .put(&BlobKey::public_frame(&entry.sha256), jpeg.clone().into())
            .await
            .unwrap();
    }
    let processed = ProcessedCapture {
        capture,
        contributor,
        frames: drive_manifest
            .frames
            .iter()
            .zip(&jpegs)
            .enumerate()
            .map(|(i, (entry, jpeg))| ProcessedFrame {
                index: i as u32,
                outcome: FrameOutcome::Accepted { quality: 0.8 },
                sequence: None,
                size: Some((960, 540)),
                coverage: Some(Coverage {
                    cell: u64::from(entry.fix.cell(model::COVERAGE_RESOLUTION).unwrap()),
                    time: entry.fix.time,
                    fingerprint: ingest::similarity::fingerprint(jpeg).unwrap().to_bytes(),
                    heading: entry.fix.heading,
                    footage: None,
                }),
                sha256: entry.sha256,
            })
            .collect(),
        sequences: Vec::new(),
        detections: Vec::new(),
        follow_ups: Vec::new(),
        processed_at,
    };
    store
        .db
        .commit_processed(&processed, &leased)
        .await
        .unwrap();
    drive_manifest
}

async fn published_copies(
    store: &Store,
    original: &CaptureManifest,
    north_m: f64,
    disguise: impl Fn(&[u8]) -> Vec<u8>,
) -> (CaptureManifest, Vec<Vec<u8>>) {
    let mut copies = Vec::new();
    let mut frames = Vec::new();
    for (n, entry) in original.frames.iter().enumerate() {
        let public = store
            .blobs
            .get(&BlobKey::public_frame(&entry.sha256))
            .await
            .unwrap();
        let copy = disguise(&public);
        let mut fix = entry.fix;
        fix.lat += north_m / 111_195.0;
        fix.time = fix.time.saturating_add_ms(5 * 3_600_000 + n as i64);
        frames.push(FrameEntry {
            sha256: FrameId::of_bytes(&copy),
            fix,
        });
        copies.push(copy);
    }
    let manifest = CaptureManifest {
        capture_id: CaptureId::new(),
        frames,
        ..original.clone()
    };
    (manifest, copies)
}

#[actix_web::test]
async fn a_device_caught_twice_unlike_a_mapped_street_is_held_where_nobody_else_filmed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let vision = vision::Vision::new(vision::VisionConfig::default())
        .expect("vision models installed by scripts/setup");
    let analyzer: Arc<dyn FrameAnalyzer> = Arc::new(OpenCv(vision));
    let mut source = datasets::frames::FrameSource::open().unwrap();
    let mut sequence = 0;
    // One capture by `seed`'s device (signed up on its first), filmed by dashcam `camera`.
    let mut send = async |name: &str, seed: u8, camera: u32, hours_ago, elsewhere, north_m| {
        let key = DeviceKeypair::from_seed([seed; 32]);
        if sequence == 0 || name != "Mallory" {
            sign_up_with_device!(app, name, key);
        }
        sequence += 1;
        let (mut manifest, jpegs) =
            street_capture_north(&mut source, &key, camera, hours_ago, elsewhere, north_m);
        manifest.sequence_number = sequence;
        // A receiver's jitter along the street (up to a metre either way), so one device's
        // captures together are not a generated track at one set speed (`synthetic-track`).
        for (i, entry) in manifest.frames.iter_mut().enumerate() {
            let mut z = (u64::from(camera) << 8 | i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let metres = (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            entry.fix.lon += metres / (111_320.0 * entry.fix.lat.to_radians().cos());
        }
        let reasons = upload_and_process!(app, store, analyzer, key, manifest, jpegs);
        (manifest, reasons)
    };
    // Mallory's first capture of a street nobody else films yet: nothing can judge it.
    let (_, reasons) = send("Mallory", 44, 103, 12, false, 600.0).await;
    assert!(reasons.iter().all(Value::is_null), "{reasons:?}");
    for (name, seed, hours) in [("Ann", 41, 11), ("Ben", 42, 10), ("Cat", 43, 9)] {
        let (_, reasons) = send(name, seed, u32::from(seed), hours, false, 0.0).await;
        assert!(reasons.iter().all(Value::is_null), "{name}: {reasons:?}");
    }
    // Caught once on the mapped street (another town's footage, two windows of it 30 %
    // apart, so not a copy of her own): one capture unlike its place may be the place's
    // doing, so her next capture of another unfilmed street is accepted.
    let (caught_first, reasons) = send("Mallory", 44, 101, 8, true, 0.0).await;
    assert!(reasons.iter().all(|r| r == "unlike-place"), "{reasons:?}");
    let (_, reasons) = send("Mallory", 44, 102, 7, false, 1_200.0).await;
    assert!(reasons.iter().all(Value::is_null), "{reasons:?}");
    // Caught twice: her footage proves nothing where nobody else filmed.
    let (caught_again, reasons) = send("Mallory", 44, 104, 6, true, 0.0).await;
    assert!(reasons.iter().all(|r| r == "unlike-place"), "{reasons:?}");
    let (alone, reasons) = send("Mallory", 44, 105, 5, false, 1_800.0).await;
    assert!(
        reasons.iter().all(|r| r == "unvouched-place"),
        "{reasons:?}"
    );
    let (_, reasons) = send("Mallory", 44, 107, 4, false, 2_100.0).await;
    assert!(
        reasons.iter().all(|r| r == "unvouched-place"),
        "{reasons:?}"
    );
    // Dan, alone on a street of his own, is not held; the mapped street still vouches for
    // what is like it.
    let (_, reasons) = send("Dan", 45, 45, 4, false, 2_700.0).await;
    assert!(reasons.iter().all(Value::is_null), "Dan: {reasons:?}");
    let cases = cases_of(&store).await;
    assert_eq!(cases.len(), 4, "{cases:?}");
    assert!(cases.iter().any(|case| case.capture == alone.capture_id
        && case.reason == model::RejectReason::UnvouchedPlace));
    // The queue names, beside each case the device rule opened, the captures that caught
    // the device.
    let operator = sign_up_with_device!(app, "Olga", DeviceKeypair::from_seed([46; 32]));
    let (_, me) = call!(
        app,
        test::TestRequest::get()
            .uri("/api/v1/contributors/me")
            .insert_header(operator.clone())
    );
    let olga: model::ContributorId = me["id"].as_str().unwrap().parse().unwrap();
    store
        .db
        .set_contributor_role(olga, store::ContributorRole::Admin)
        .await
        .unwrap();
    let (_, queue) = call!(
        app,
        test::TestRequest::get()
            .uri("/api/v1/reviews")
            .insert_header(operator.clone())
    );
    let caught: Vec<String> = [&caught_first, &caught_again]
        .iter()
        .map(|manifest| manifest.capture_id.to_string())
        .collect();
    let listed = queue["cases"].as_array().unwrap();
    assert_eq!(listed.len(), 4, "{queue}");
    for case in listed {
        let named: Option<Vec<String>> = case.get("caught_by").map(|held| {
            held.as_array()
                .unwrap()
                .iter()
                .map(|held| held["capture"].as_str().unwrap().to_owned())
                .collect()
        });
        match case["reason"].as_str() {
            Some("unvouched-place") => assert_eq!(named.as_ref(), Some(&caught), "{case}"),
            _ => assert_eq!(named, None, "{case}"),
        }
    }
    // Only captures held on their own count (not the two held with them): once a reviewer
    // clears those two, the device is no longer caught, and its next capture of an
    // unfilmed street is accepted.
    let reviewer = store
        .db
        .capture_owner(alone.capture_id)
        .await
        .unwrap()
        .unwrap();
    for case in cases
        .iter()
        .filter(|case| case.reason == model::RejectReason::UnlikePlace)
    {
        ingest::reviews::decide_case(
            &store,
            &case.id,
            store::Decision::Clear,
            reviewer,
            "the street was rebuilt",
            TimestampMs::now(),
        )
        .await
        .unwrap();
    }
    while process_next(&store, &analyzer).await.unwrap().is_some() {}
    let (_, reasons) = send("Mallory", 44, 106, 3, false, 3_000.0).await;
    assert!(reasons.iter().all(Value::is_null), "{reasons:?}");
}

#[actix_web::test]
async fn a_capture_unlike_the_well_mapped_place_it_claims_is_held_for_review() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let vision = vision::Vision::new(vision::VisionConfig::default())
        .expect("vision models installed by scripts/setup");
    let analyzer: Arc<dyn FrameAnalyzer> = Arc::new(OpenCv(vision));
    let mut source = datasets::frames::FrameSource::open().unwrap();
    let mut send = async |name: &str, seed: u8, hours_ago: i64, elsewhere: bool| {
        let key = DeviceKeypair::from_seed([seed; 32]);
        sign_up_with_device!(app, name, key);
        let (manifest, jpegs) =
            street_capture(&mut source, &key, u32::from(seed), hours_ago, elsewhere);
        let reasons = upload_and_process!(app, store, analyzer, key, manifest, jpegs);
        (manifest, reasons)
    };
    // Three dashcams film the street, hours apart: it is well mapped.
    let mut honest = Vec::new();
    for (name, seed, hours) in [("Ann", 31, 9), ("Ben", 32, 8), ("Cat", 33, 7)] {
        let (manifest, reasons) = send(name, seed, hours, false).await;
        assert!(reasons.iter().all(Value::is_null), "{name}: {reasons:?}");
        honest.push(manifest.capture_id);
    }
    // A spoofer claims the street with footage of somewhere else: held, every frame.
    let (spoofed, reasons) = send("Mallory", 34, 6, true).await;
    assert!(reasons.iter().all(|r| r == "unlike-place"), "{reasons:?}");
    // A fourth honest dashcam is like the others.
    let (_, reasons) = send("Dan", 35, 5, false).await;
    assert!(reasons.iter().all(Value::is_null), "Dan: {reasons:?}");
    // Another capture of elsewhere, which its owner will show to be real on appeal.
    let (vindicated, reasons) = send("Eve", 36, 4, true).await;
    assert!(reasons.iter().all(|r| r == "unlike-place"), "{reasons:?}");

    // A case awaits a reviewer for each; nothing of the held frames is published or kept as
    // a view, but their originals are kept for the reviewer's decision, even from the
    // upload collector (here told that every upload is past its grace period).
    ingest::uploads::collect_uploads(
        &store,
        std::time::Duration::ZERO,
        TimestampMs::now().saturating_add_ms(60_000),
    )
    .await
    .unwrap();
    let cases = cases_of(&store).await;
    assert_eq!(cases.len(), 2, "{cases:?}");
    assert_eq!(
        (cases[0].reason, cases[0].frame_count, cases[0].capture),
        (model::RejectReason::UnlikePlace, 8, spoofed.capture_id)
    );
    assert_eq!(cases[1].capture, vindicated.capture_id);
    for entry in spoofed.frames.iter().chain(&vindicated.frames) {
        assert!(
            !store
                .blobs
                .exists(&BlobKey::public_frame(&entry.sha256))
                .await
                .unwrap()
        );
        assert!(
            store
                .blobs
                .exists(&BlobKey::original_frame(&entry.sha256))
                .await
                .unwrap()
        );
    }

    // Held is not guilty: it costs no reputation until a reviewer confirms it.
    let device = cases[0].device;
    let later = TimestampMs::now().saturating_add_ms(3_600_000);
    assert!(
        store
            .db
            .standing_findings(device, later)
            .await
            .unwrap()
            .is_empty()
    );
    // The reviewer: Ann (the store records who decided; the route checks the admin role).
    let reviewer: model::ContributorId = store.db.capture_owner(honest[0]).await.unwrap().unwrap();
    ingest::reviews::decide_case(
        &store,
        &cases[0].id,
        store::Decision::Confirm,
        reviewer,
        "stock footage",
        TimestampMs::now(),
    )
    .await
    .unwrap();
    assert_eq!(
        store
            .db
            .standing_findings(device, later)
            .await
            .unwrap()
            .len(),
        1
    );
    // Confirmed: nothing unblurred of it is kept.
    for entry in &spoofed.frames {
        assert!(
            !store
                .blobs
                .exists(&BlobKey::original_frame(&entry.sha256))
                .await
                .unwrap()
        );
    }

    // Cleared: the held frames are processed again, not held again, and published.
    ingest::reviews::decide_case(
        &store,
        &cases[1].id,
        store::Decision::Clear,
        reviewer,
        "the owner showed the drive was real",
        TimestampMs::now(),
    )
    .await
    .unwrap();
    assert_eq!(
        process_next(&store, &analyzer).await.unwrap(),
        Some(vindicated.capture_id)
    );
    let key = DeviceKeypair::from_seed([36; 32]);
    let (_, result) = call!(app, crate::capture_status(&key, vindicated.capture_id));
    let statuses: Vec<&Value> = result["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["status"])
        .collect();
    assert!(statuses.iter().all(|s| *s == "accepted"), "{result}");
    for entry in &vindicated.frames {
        assert!(
            store
                .blobs
                .exists(&BlobKey::public_frame(&entry.sha256))
                .await
                .unwrap()
        );
        assert!(
            !store
                .blobs
                .exists(&BlobKey::original_frame(&entry.sha256))
                .await
                .unwrap()
        );
    }
    let cases = cases_of(&store).await;
    assert_eq!(cases.len(), 2, "no new case: {cases:?}");
    assert!(
        store
            .db
            .standing_findings(cases[1].device, later)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The first ten review cases, oldest first.
async fn cases_of(store: &Store) -> Vec<store::FraudCase> {
    store
        .db
        .fraud_cases(&store::CaseQuery {
            limit: 10,
            ..store::CaseQuery::default()
        })
        .await
        .unwrap()
}

/// Monaco's road network from its OpenStreetMap extract, as the worker indexes it.
fn monaco_roads() -> model::roads::RoadIndex {
    datasets::monaco().unwrap().road_index()
}

/// 12 frames 8 m apart along Monaco's Avenue John F. Kennedy (OSM way 25082741, on the
/// harbour's north quay, heading east), as dashcam `camera` films them `hours_ago`; fix `i`
/// claimed `south_m(i)` metres south of where the frame was taken, with a receiver's
/// wandering error.
fn quay_capture(
    source: &mut datasets::frames::FrameSource,
    key: &DeviceKeypair,
    camera: u32,
    hours_ago: u32,
    south_m: impl Fn(u32) -> f64,
) -> (CaptureManifest, Vec<Vec<u8>>) {
    let network = datasets::monaco().unwrap();
    let way = network
        .ways
        .iter()
        .find(|way| way.id == 25_082_741)
        .unwrap();
    let ((lon0, lat0), (lon1, lat1)) = (way.coords[0], *way.coords.last().unwrap());
    let length = datasets::geo::distance_m((lon0, lat0), (lon1, lat1));
    let heading = datasets::geo::bearing_deg((lon0, lat0), (lon1, lat1));
    let start = TimestampMs::now().saturating_add_ms(-i64::from(hours_ago) * 3_600_000);
    let metres_east = 111_320.0 * lat0.to_radians().cos();
    let mut shots = Vec::new();
    for i in 0..12u32 {
        let t = (10.0 + f64::from(i) * 8.0) / length;
        let (lon, lat) = (lon0 + t * (lon1 - lon0), lat0 + t * (lat1 - lat0));
        // A receiver's error: a metre or two, wandering (a perfect line is a generated track).
        let phase = f64::from(i) + f64::from(camera);
        let (east_err, north_err) = (1.6 * (1.9 * phase).sin(), 1.2 * (1.3 * phase).cos());
        let claimed = (
            lon + east_err / metres_east,
            lat + (north_err - south_m(i)) / 111_320.0,
        );
        let time = start.saturating_add_ms(i64::from(i) * 1_000);
        let fix = moving_fix(time, claimed, heading);
        let jpeg = filmed(source, (camera, hours_ago, i), &fix, (lon, lat), heading);
        shots.push((fix, jpeg));
    }
    simulated_capture(key, shots)
}

#[actix_web::test]
async fn a_drive_claimed_off_the_mapped_roads_is_held_for_review() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let vision = vision::Vision::new(vision::VisionConfig::default())
        .expect("vision models installed by scripts/setup");
    let analyzer: Arc<dyn FrameAnalyzer> = Arc::new(OpenCv(vision));
    let roads = monaco_roads();
    let mut source = datasets::frames::FrameSource::open().unwrap();
    for (name, seed) in [("Ann", 51), ("Mallory", 52), ("Ned", 53)] {
        let key = DeviceKeypair::from_seed([seed; 32]);
        sign_up_with_device!(app, name, key);
    }
    let mut send = async |seed: u8, hours_ago: u32, south_m: fn(u32) -> f64, roads| {
        let key = DeviceKeypair::from_seed([seed; 32]);
        let capture = quay_capture(&mut source, &key, u32::from(seed), hours_ago, south_m);
        let (manifest, jpegs) = capture;
        let reasons = upload_and_process!(app, store, analyzer, key, manifest, jpegs, roads);
        (manifest, reasons)
    };
    // Driven along the quay and claimed there: on the road.
    let (_, reasons) = send(51, 2, |_| 0.0, &roads).await;
    assert!(reasons.iter().all(Value::is_null), "Ann: {reasons:?}");
    // Mallory's first drive drifts 50 m into the harbour for its last 4 frames: too few to
    // hold it alone.
    let (leaning, reasons) = send(52, 3, |i| if i < 8 { 0.0 } else { 50.0 }, &roads).await;
    assert!(reasons.iter().all(Value::is_null), "{reasons:?}");
    // Her next drive is claimed 200 m south, in the harbour: every track check passes it (a
    // real drive's shape and noise), the roads do not. Caught, she is judged on her week's
    // record: the first drive is held with it.
    let (offset, reasons) = send(52, 2, |_| 200.0, &roads).await;
    assert!(reasons.iter().all(|r| r == "off-road"), "{reasons:?}");
    for entry in &offset.frames {
        assert!(
            !store
                .blobs
                .exists(&BlobKey::public_frame(&entry.sha256))
                .await
                .unwrap()
        );
    }
    // The first drive's frames stay accepted but are held: not served, not paid.
    let held_now = store
        .db
        .held_now_among(&[leaning.capture_id])
        .await
        .unwrap();
    assert!(held_now.contains(&leaning.capture_id));
    let cases = cases_of(&store).await;
    let held: Vec<_> = cases
        .iter()
        .map(|case| (case.reason, case.frame_count, case.capture))
        .collect();
    assert_eq!(
        held,
        vec![
            (model::RejectReason::OffRoad, 12, leaning.capture_id),
            (model::RejectReason::OffRoad, 12, offset.capture_id)
        ]
    );
    // A worker that knows no roads judges nothing off-road.
    let nowhere = model::roads::RoadIndex::default();
    let (_, reasons) = send(53, 1, |_| 200.0, &nowhere).await;
    assert!(reasons.iter().all(Value::is_null), "Ned: {reasons:?}");
}
