//! Shared by the integration tests and the benchmark example: the real Munich drive, a
//! store on disk, and drives committed through the pipeline worker's own store calls.

#![allow(dead_code)]

use model::{CaptureId, ContributorId, DeviceId, DeviceKeypair, Fix, FrameId, TimestampMs};
use store::{
    FeatureRow, FrameOutcome, NewDetection, NewSequence, ObservationRow, ProcessedCapture,
    ProcessedFrame, SearchDocument, SearchKind, Store, StoredFeature,
};
use tiles::{MbTiles, TileBuilder, TilesConfig};

#[path = "../../../store/tests/it/backends.rs"]
mod backends;
#[path = "../../../store/tests/it/received.rs"]
mod received;

/// Positions and times of the real Munich drive.
pub fn munich() -> Vec<Fix> {
    datasets::read_barefoot(&datasets::path("gps/barefoot_munich_x0001-001.json"))
        .unwrap()
        .into_iter()
        .map(|fix| Fix {
            heading: Some(90.0),
            ..fix
        })
        .collect()
}

pub async fn open_store(dir: &std::path::Path) -> Store {
    Store::open(&backends::store_config(dir).await)
        .await
        .unwrap()
}

/// Who made a committed drive, and its frames in order.
#[derive(Debug)]
pub struct Committed {
    pub capture: CaptureId,
    pub contributor: ContributorId,
    pub device: DeviceId,
    pub frames: Vec<FrameId>,
}

/// Commits `fixes` as one accepted capture of a new contributor, through the same store
/// calls the pipeline worker makes (so dirty cells are marked as in production); every
/// `sign_every`-th frame carries a speed-limit sign. Returns the frame ids.
pub async fn commit_drive(
    store: &Store,
    name: &str,
    fixes: &[Fix],
    sign_every: usize,
) -> Vec<FrameId> {
    commit_drive_as(store, name, fixes, sign_every).await.frames
}

/// [`commit_drive`], returning the capture, contributor and device it made too.
pub async fn commit_drive_as(
    store: &Store,
    name: &str,
    fixes: &[Fix],
    sign_every: usize,
) -> Committed {
    commit_paid_drive(store, name, fixes, sign_every, None).await
}

/// [`commit_drive_as`] by a contributor who gets paid at `payout_address`.
pub async fn commit_paid_drive(
    store: &Store,
    name: &str,
    fixes: &[Fix],
    sign_every: usize,
    payout_address: Option<model::PayoutAddress>,
) -> Committed {
    let seed: [u8; 32] = *FrameId::of_bytes(name.as_bytes()).as_bytes();
    let (contributor, device) = received::signed_up(
        store,
        name,
        DeviceKeypair::from_seed(seed).public(),
        payout_address,
    )
    .await;
    let capture = CaptureId::new();
    let ids: Vec<FrameId> = (0..fixes.len())
        .map(|i| FrameId::of_bytes(format!("{name}-{i}").as_bytes()))
        .collect();
    let drive: Vec<(FrameId, Fix)> = ids.iter().copied().zip(fixes.iter().copied()).collect();
    let leased = received::receive_and_lease(
        store,
        &received::Received {
            capture,
            device,
            sequence_number: 1,
            camera: "",
        },
        &drive,
    )
    .await;
    let sequence = format!("{capture}-0");
    let geometry = format!(
        r#"{{"type":"LineString","coordinates":[{}]}}"#,
        fixes
            .iter()
            .map(|f| format!("[{},{}]", f.lon, f.lat))
            .collect::<Vec<_>>()
            .join(",")
    );
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
            length_m: 1000.0,
            geometry_geojson: geometry,
        }],
        detections: fixes
            .iter()
            .zip(&ids)
            .step_by(sign_every.max(1))
            .map(|(fix, id)| NewDetection {
                frame: *id,
                kind: "sign",
                class: Some("speed-limit-50".into()),
                confidence: 0.9,
                bbox: [10, 10, 40, 40],
                lat: fix.lat,
                lon: fix.lon,
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
    // What the map-features job makes of those signs: one feature per detection here (the
    // drive is a synthetic line, the geometry is the features crate's to test).
    let features: Vec<StoredFeature> = fixes
        .iter()
        .zip(&ids)
        .step_by(sign_every.max(1))
        .map(|(fix, id)| StoredFeature {
            row: FeatureRow {
                id: format!("ft-{}", &id.to_hex()[..24]),
                class: "speed-limit-50".into(),
                lat: fix.lat,
                lon: fix.lon,
                cell: u64::from(fix.cell(model::COVERAGE_RESOLUTION).unwrap()),
                uncertainty_m: 2.0,
                method: "intersection".into(),
                facing_deg: Some(270.0),
                first_seen_ms: fix.time.as_millis(),
                last_seen_ms: fix.time.as_millis(),
                first_contributor_id: contributor.to_string(),
                passes: 0,
                misses: 0,
                gone_at_ms: None,
                changed_at_ms: fix.time.as_millis(),
                observation_count: 1,
            },
            observations: vec![ObservationRow {
                capture_id: capture.to_string(),
                frame_sha256: *id,
                sequence_id: None,
                contributor_id: contributor.to_string(),
                time_ms: fix.time.as_millis(),
                class: "speed-limit-50".into(),
                lat: fix.lat,
                lon: fix.lon,
                bearing_deg: 90.0,
                range_m: 10.0,
                heading_source: "receiver".into(),
            }],
        })
        .collect();
    assert!(
        store
            .db
            .save_features(capture, &features, &[], TimestampMs::now().as_millis())
            .await
            .unwrap()
    );
    Committed {
        capture,
        contributor,
        device,
        frames: ids,
    }
}

/// Indexes a committed drive for search as the pipeline worker does: one document per
/// frame, one more per sign (every `sign_every`-th frame, as [`commit_drive`] detects them).
pub fn index_drive(store: &Store, committed: &Committed, fixes: &[Fix], sign_every: usize) {
    let mut documents = Vec::with_capacity(fixes.len() + fixes.len() / sign_every.max(1) + 1);
    for (i, (fix, frame)) in fixes.iter().zip(&committed.frames).enumerate() {
        let base = SearchDocument {
            kind: SearchKind::Frame,
            frame: *frame,
            capture: committed.capture,
            contributor: committed.contributor,
            device: committed.device,
            captured_at: fix.time,
            lat: fix.lat,
            lon: fix.lon,
            sign_class: None,
            tags: vec!["good".into()],
        };
        if i % sign_every.max(1) == 0 {
            documents.push(SearchDocument {
                kind: SearchKind::Sign,
                sign_class: Some("speed-limit-50".into()),
                ..base.clone()
            });
        }
        documents.push(base);
    }
    store
        .search
        .replace_capture(committed.capture, &documents)
        .unwrap();
}

pub async fn builder(store: &Store, path: &std::path::Path) -> TileBuilder {
    let tiles = MbTiles::open(path).await.unwrap();
    TileBuilder::new(
        store,
        tiles,
        TilesConfig {
            render: tiles::RenderConfig::default(),
        },
    )
}

/// The Munich drive's first `n` fixes, one per second from an hour ago.
pub fn recent(fixes: &[Fix]) -> Vec<Fix> {
    starting_at(fixes, TimestampMs::now().saturating_add_ms(-3_600_000))
}

/// The drive replayed from `base`, keeping its pace.
pub fn starting_at(fixes: &[Fix], base: TimestampMs) -> Vec<Fix> {
    let t0 = fixes[0].time;
    fixes
        .iter()
        .map(|f| Fix {
            time: base.saturating_add_ms(f.time.millis_since(t0)),
            ..*f
        })
        .collect()
}

/// The drive moved by a deterministic offset (a Halton walk over ±0.06°).
pub fn shifted(drive: &[Fix], n: usize) -> Vec<Fix> {
    let halton = |mut i: usize, base: usize| {
        let (mut f, mut r) = (1.0, 0.0);
        while i > 0 {
            f /= base as f64;
            r += f * (i % base) as f64;
            i /= base;
        }
        r
    };
    let dx = (halton(n + 1, 2) - 0.5) * 0.12;
    let dy = (halton(n + 1, 3) - 0.5) * 0.12;
    drive
        .iter()
        .map(|f| Fix {
            lon: f.lon + dx,
            lat: f.lat + dy,
            ..*f
        })
        .collect()
}
