//! The `map-features` job: after a capture's processing commits, its sign detections
//! become map features. It reads the capture's accepted frames (pose, width, sequence) and
//! signs, derives a heading where the receiver gave none it can trust, turns each detection
//! into a sighting through the capture's camera model, loads the features around the drive,
//! runs [`features::update`] and saves every feature that changed — with the capture's
//! applied marker, the tiles' dirty cells and the jobs that index them for search in one
//! transaction, so a retried job never applies a capture twice.
//!
//! Never does: geometry or merge decisions (the `features` crate), vision, or HTTP.

use std::collections::BTreeMap;

use features::{
    CameraModels, Feature, Heading, HeadingSource, LatLon, Method, Pass, PassFrame, Ray, Sighting,
    TrackPoint,
};
use model::{CaptureId, TimestampMs};
use store::{FeatureInputs, FeatureRow, LeasedJob, NewJob, ObservationRow, Store, StoredFeature};

use crate::worker::{Lane, WorkerError, drain_follow_ups};

pub use store::MAP_FEATURES_JOB;
/// Features this far around a capture's frames are loaded to merge with, degrees of
/// latitude (≈ 170 m: beyond the largest merge gate and the visible range).
const SURROUNDINGS_DEG: f64 = 0.0015;

/// How the features job positions and merges: `[features]` in the settings.
#[derive(Debug, Clone, Default)]
pub struct FeatureSettings {
    pub config: features::Config,
    pub cameras: CameraModels,
}

/// The follow-up job of a processed capture.
pub fn job(capture: CaptureId) -> Result<NewJob, store::Error> {
    Ok(
        NewJob::new(MAP_FEATURES_JOB, &serde_json::json!({ "capture": capture }))?
            .dedup_key(format!("features:{capture}")),
    )
}

/// Applies every committed capture waiting for it; returns how many were applied. A
/// failure gives the job back uncounted and stops this round.
pub async fn apply_pending(store: &Store, settings: &FeatureSettings) -> Result<u32, WorkerError> {
    // One at a time across processes: two captures of one street applied at once would
    // each create the feature the other cannot see yet.
    drain_follow_ups(store, MAP_FEATURES_JOB, Lane::Alone, async |job| {
        apply_job(store, job, settings).await
    })
    .await
}

#[derive(serde::Deserialize)]
struct Payload {
    capture: CaptureId,
}

async fn apply_job(
    store: &Store,
    job: &LeasedJob,
    settings: &FeatureSettings,
) -> Result<(), WorkerError> {
    let capture = job
        .payload::<Payload>()
        .map_err(|err| WorkerError::Payload(err.to_string()))?
        .capture;
    apply_capture(store, capture, settings, TimestampMs::now()).await
}

/// Applies one capture's detections to the map's features (a no-op if already applied).
pub async fn apply_capture(
    store: &Store,
    capture: CaptureId,
    settings: &FeatureSettings,
    now: TimestampMs,
) -> Result<(), WorkerError> {
    if store.db.features_applied(capture).await? {
        return Ok(());
    }
    let Some(inputs) = store.db.feature_inputs(capture).await? else {
        return Ok(());
    };
    let (sightings, passes) = observe(capture, &inputs, settings);
    let mut loaded: Vec<Feature> = match surroundings(&inputs) {
        Some(bbox) => store
            .db
            .features_within(bbox)
            .await?
            .into_iter()
            .map(to_feature)
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let before: BTreeMap<String, Feature> =
        loaded.iter().map(|f| (f.id.clone(), f.clone())).collect();
    let update = features::update(&mut loaded, &sightings, &passes, &settings.config);
    if !update.unplaced.is_empty() {
        let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, reason) in &update.unplaced {
            *reasons.entry(reason.slug()).or_default() += 1;
        }
        tracing::debug!(%capture, ?reasons, "sightings that gave no feature");
    }
    let changed: Vec<StoredFeature> = loaded
        .iter()
        .filter(|f| before.get(&f.id) != Some(*f))
        .map(to_stored)
        .collect::<Result<_, _>>()?;
    let ids: Vec<String> = changed.iter().map(|f| f.row.id.clone()).collect();
    let index_them =
        crate::search_index::features_jobs(&ids, &format!("features-index:{capture}"))?;
    store
        .db
        .save_features(capture, &changed, &index_them, now.as_millis())
        .await?;
    Ok(())
}

/// The capture's sightings (one per sign detection on an accepted frame) and its passes
/// (one per sequence: every frame with a heading, for the change rule).
pub fn observe(
    capture: CaptureId,
    inputs: &FeatureInputs,
    settings: &FeatureSettings,
) -> (Vec<Sighting>, Vec<Pass>) {
    let camera = settings.cameras.for_camera(&inputs.camera);
    let mut by_sequence: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, frame) in inputs.frames.iter().enumerate() {
        let sequence = frame
            .sequence_id
            .clone()
            .unwrap_or_else(|| capture.to_string());
        by_sequence.entry(sequence).or_default().push(i);
    }
    let mut heading_of: Vec<Option<Heading>> = vec![None; inputs.frames.len()];
    let mut passes = Vec::new();
    for (sequence, members) in &by_sequence {
        let track: Vec<TrackPoint> = members
            .iter()
            .map(|&i| {
                let frame = &inputs.frames[i];
                TrackPoint {
                    time_ms: frame.time_ms,
                    position: LatLon::new(frame.lat, frame.lon),
                    heading: frame.heading,
                    speed_ms: frame.speed,
                }
            })
            .collect();
        let headings = features::headings(&track);
        let mut pass = Pass {
            sequence: sequence.clone(),
            frames: Vec::new(),
        };
        for ((&i, point), heading) in members.iter().zip(&track).zip(headings) {
            heading_of[i] = heading;
            if let Some(heading) = heading {
                pass.frames.push(PassFrame {
                    time_ms: point.time_ms,
                    position: point.position,
                    heading_deg: heading.deg,
                    camera,
                });
            }
        }
        passes.push(pass);
    }
    let index: BTreeMap<model::FrameId, usize> = inputs
        .frames
        .iter()
        .enumerate()
        .map(|(i, f)| (f.sha256, i))
        .collect();
    let sightings = inputs
        .signs
        .iter()
        .filter_map(|sign| {
            let i = *index.get(&sign.frame_sha256)?;
            let frame = &inputs.frames[i];
            Some(Sighting {
                frame: frame.sha256,
                capture: capture.to_string(),
                sequence: Some(
                    frame
                        .sequence_id
                        .clone()
                        .unwrap_or_else(|| capture.to_string()),
                ),
                contributor: inputs.contributor_id.clone(),
                time_ms: frame.time_ms,
                class: sign.class.clone(),
                bbox: sign.bbox,
                image_width: frame.width,
                camera,
                position: LatLon::new(frame.lat, frame.lon),
                heading: heading_of[i],
            })
        })
        .collect();
    (sightings, passes)
}

/// `(min_lon, min_lat, max_lon, max_lat)` around the capture's frames.
fn surroundings(inputs: &FeatureInputs) -> Option<(f64, f64, f64, f64)> {
    let first = inputs.frames.first()?;
    let mut bbox = (first.lon, first.lat, first.lon, first.lat);
    for frame in &inputs.frames {
        bbox.0 = bbox.0.min(frame.lon);
        bbox.1 = bbox.1.min(frame.lat);
        bbox.2 = bbox.2.max(frame.lon);
        bbox.3 = bbox.3.max(frame.lat);
    }
    let lon_margin = SURROUNDINGS_DEG / bbox.3.abs().max(bbox.1.abs()).to_radians().cos().max(0.05);
    Some((
        bbox.0 - lon_margin,
        bbox.1 - SURROUNDINGS_DEG,
        bbox.2 + lon_margin,
        bbox.3 + SURROUNDINGS_DEG,
    ))
}

fn to_feature(stored: StoredFeature) -> Result<Feature, WorkerError> {
    let row = stored.row;
    let corrupt = |what: &str| {
        WorkerError::Store(store::Error::Corrupt(format!("feature {}: {what}", row.id)))
    };
    let method = Method::parse(&row.method).ok_or_else(|| corrupt("method"))?;
    let rays = stored
        .observations
        .into_iter()
        .map(|o| {
            Ok(Ray {
                frame: o.frame_sha256,
                capture: o.capture_id,
                sequence: o.sequence_id,
                contributor: o.contributor_id,
                time_ms: o.time_ms,
                class: o.class,
                origin: LatLon::new(o.lat, o.lon),
                bearing_deg: o.bearing_deg,
                range_m: o.range_m,
                heading_source: HeadingSource::parse(&o.heading_source)
                    .ok_or_else(|| corrupt("heading source"))?,
            })
        })
        .collect::<Result<Vec<Ray>, WorkerError>>()?;
    Ok(Feature {
        id: row.id.clone(),
        class: row.class.clone(),
        position: LatLon::new(row.lat, row.lon),
        uncertainty_m: row.uncertainty_m,
        method,
        facing_deg: row.facing_deg,
        first_seen_ms: row.first_seen_ms,
        last_seen_ms: row.last_seen_ms,
        first_contributor: row.first_contributor_id.clone(),
        passes: row.passes,
        misses: row.misses,
        gone_at_ms: row.gone_at_ms,
        changed_at_ms: row.changed_at_ms,
        rays,
    })
}

fn to_stored(feature: &Feature) -> Result<StoredFeature, WorkerError> {
    let cell = h3o::LatLng::new(feature.position.lat, feature.position.lon)
        .map(|p| u64::from(p.to_cell(model::COVERAGE_RESOLUTION)))
        .map_err(|err| {
            WorkerError::Store(store::Error::Corrupt(format!(
                "feature {} at an impossible position: {err}",
                feature.id
            )))
        })?;
    Ok(StoredFeature {
        row: FeatureRow {
            id: feature.id.clone(),
            class: feature.class.clone(),
            lat: feature.position.lat,
            lon: feature.position.lon,
            cell,
            uncertainty_m: feature.uncertainty_m,
            method: feature.method.as_str().to_owned(),
            facing_deg: feature.facing_deg,
            first_seen_ms: feature.first_seen_ms,
            last_seen_ms: feature.last_seen_ms,
            first_contributor_id: feature.first_contributor.clone(),
            passes: feature.passes,
            misses: feature.misses,
            gone_at_ms: feature.gone_at_ms,
            changed_at_ms: feature.changed_at_ms,
            observation_count: u32::try_from(feature.rays.len()).unwrap_or(u32::MAX),
        },
        observations: feature
            .rays
            .iter()
            .map(|r| ObservationRow {
                capture_id: r.capture.clone(),
                frame_sha256: r.frame,
                sequence_id: r.sequence.clone(),
                contributor_id: r.contributor.clone(),
                time_ms: r.time_ms,
                class: r.class.clone(),
                lat: r.origin.lat,
                lon: r.origin.lon,
                bearing_deg: r.bearing_deg,
                range_m: r.range_m,
                heading_source: r.heading_source.as_str().to_owned(),
            })
            .collect(),
    })
}
