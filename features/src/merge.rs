//! One feature per real-world object: a track joins the feature of its class that faces a
//! compatible way (a STOP sign for each direction of a two-way road is two signs) and lies
//! within its gate — [`crate::Config::merge_radius_m`], widened to [`GATE_SIGMAS`] times
//! the two positions' combined uncertainty when both are uncertain, never beyond
//! [`MAX_GATE_FACTOR`] × the radius — the closest in standard deviations first. The
//! feature is then solved again from all its rays, so sightings from other sequences,
//! devices and days intersect too. A track that joins nothing starts a feature if it has at
//! least two rays.

use std::collections::BTreeSet;

use model::FrameId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::geo::{LatLon, angle_between, bearing_deg, distance_m, mean_bearing};
use crate::observation::Ray;
use crate::solve::{Estimate, Method, Noise, solve};

/// How many combined standard deviations apart a track and a feature may still be one
/// object.
pub const GATE_SIGMAS: f64 = 2.5;
/// The widest gate, as a multiple of the merge radius.
pub const MAX_GATE_FACTOR: f64 = 2.0;

/// A map feature: one real-world object, its position and history, and every ray that saw
/// it (so a viewer can show each photo of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// Stable: derived from the first ray that made it.
    pub id: String,
    pub class: String,
    pub position: LatLon,
    /// 1σ, metres.
    pub uncertainty_m: f64,
    pub method: Method,
    /// The way the object faces (the mean bearing from it to the cameras that saw it).
    pub facing_deg: Option<f64>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// The contributor whose sighting made the feature.
    pub first_contributor: String,
    /// Passes (sequences) that saw it.
    pub passes: u32,
    /// Passes since it was last seen that should have seen it and did not.
    pub misses: u32,
    /// When it was declared gone, if it is.
    pub gone_at_ms: Option<i64>,
    /// When it appeared, disappeared or came back: what "changed since" asks about.
    pub changed_at_ms: i64,
    pub rays: Vec<Ray>,
}

impl Feature {
    /// The frames that saw it, oldest first, each once.
    pub fn frames(&self) -> Vec<FrameId> {
        let mut seen = BTreeSet::new();
        let mut ordered: Vec<&Ray> = self.rays.iter().collect();
        ordered.sort_by_key(|r| r.time_ms);
        ordered
            .into_iter()
            .filter(|r| seen.insert(r.frame))
            .map(|r| r.frame)
            .collect()
    }

    /// Solves the feature again from all its rays.
    pub(crate) fn resolve(&mut self, noise: &Noise) {
        let refs: Vec<&Ray> = self.rays.iter().collect();
        if let Some(estimate) = solve(&refs, noise) {
            self.apply(&estimate);
        }
    }

    fn apply(&mut self, estimate: &Estimate) {
        self.position = estimate.position;
        self.uncertainty_m = estimate.uncertainty_m;
        self.method = estimate.method;
        self.facing_deg = facing(&self.rays, estimate.position);
    }
}

/// The way an object at `position` faces: towards the cameras that saw it.
fn facing(rays: &[Ray], position: LatLon) -> Option<f64> {
    mean_bearing(rays.iter().map(|r| bearing_deg(position, r.origin)))
}

/// What became of one track.
#[derive(Debug, Clone, PartialEq)]
pub enum Merged {
    Joined {
        id: String,
        came_back: bool,
    },
    Created {
        id: String,
    },
    /// A one-ray track near no feature.
    Single,
}

/// The merge rule's knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MergeRule {
    pub radius_m: f64,
    pub facing_tolerance_deg: f64,
    pub noise: Noise,
}

/// Merges `track` (non-empty, one class) into `features`.
pub fn merge(features: &mut Vec<Feature>, track: Vec<Ray>, rule: &MergeRule) -> Merged {
    let refs: Vec<&Ray> = track.iter().collect();
    let Some(estimate) = solve(&refs, &rule.noise) else {
        return Merged::Single;
    };
    let class = track[0].class.clone();
    let track_facing = facing(&track, estimate.position);
    let nearest = features
        .iter()
        .enumerate()
        .filter(|(_, f)| f.class == class)
        .filter(|(_, f)| match (f.facing_deg, track_facing) {
            (Some(a), Some(b)) => angle_between(a, b) <= rule.facing_tolerance_deg,
            _ => true,
        })
        .filter_map(|(i, f)| {
            let distance = distance_m(f.position, estimate.position);
            let combined = f.uncertainty_m.hypot(estimate.uncertainty_m);
            let gate = rule
                .radius_m
                .max(GATE_SIGMAS * combined)
                .min(MAX_GATE_FACTOR * rule.radius_m);
            (distance <= gate).then_some((i, distance / combined.max(f64::EPSILON)))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((i, _)) = nearest {
        let feature = &mut features[i];
        let came_back = feature
            .gone_at_ms
            .is_some_and(|gone| track.iter().any(|r| r.time_ms > gone));
        let newest = track
            .iter()
            .map(|r| r.time_ms)
            .max()
            .unwrap_or(feature.last_seen_ms);
        feature.last_seen_ms = feature.last_seen_ms.max(newest);
        // A pass driven earlier and uploaded late: its first sighting is the feature's.
        if let Some(earliest) = track.iter().min_by_key(|r| (r.time_ms, r.frame))
            && earliest.time_ms < feature.first_seen_ms
        {
            feature.first_seen_ms = earliest.time_ms;
            feature.first_contributor = earliest.contributor.clone();
        }
        let known: BTreeSet<(FrameId, String)> = feature
            .rays
            .iter()
            .map(|r| (r.frame, r.capture.clone()))
            .collect();
        feature.rays.extend(
            track
                .into_iter()
                .filter(|r| !known.contains(&(r.frame, r.capture.clone()))),
        );
        feature.resolve(&rule.noise);
        if came_back {
            feature.gone_at_ms = None;
            feature.misses = 0;
            feature.changed_at_ms = newest;
        }
        return Merged::Joined {
            id: feature.id.clone(),
            came_back,
        };
    }
    if track.len() < 2 {
        return Merged::Single;
    }
    let first = track
        .iter()
        .min_by_key(|r| (r.time_ms, r.frame))
        .cloned()
        .unwrap_or_else(|| track[0].clone());
    let id = feature_id(&first);
    let first_seen = first.time_ms;
    let last_seen = track.iter().map(|r| r.time_ms).max().unwrap_or(first_seen);
    let mut feature = Feature {
        id: id.clone(),
        class,
        position: estimate.position,
        uncertainty_m: estimate.uncertainty_m,
        method: estimate.method,
        facing_deg: track_facing,
        first_seen_ms: first_seen,
        last_seen_ms: last_seen,
        first_contributor: first.contributor.clone(),
        passes: 0,
        misses: 0,
        gone_at_ms: None,
        changed_at_ms: first_seen,
        rays: track,
    };
    feature.apply(&estimate);
    features.push(feature);
    Merged::Created { id }
}

/// `ft-` and 24 hex digits of SHA-256 over the first ray's frame, capture, class and bearing.
fn feature_id(first: &Ray) -> String {
    let mut hasher = Sha256::new();
    hasher.update(first.frame.as_bytes());
    hasher.update(first.capture.as_bytes());
    hasher.update(first.class.as_bytes());
    hasher.update(first.bearing_deg.to_bits().to_le_bytes());
    format!("ft-{}", &hex::encode(hasher.finalize())[..24])
}
