//! Change over time. A pass is one sequence driven past: if it saw a feature, the feature
//! was seen again; if one of its frames should have seen it (within
//! [`crate::Config::visible_range_m`], inside the field of view with a margin, the object
//! facing the camera) and no frame of the pass did, that is a miss. After
//! [`crate::Config::gone_after_misses`] misses in a row it is `gone`; seen again, it is back.
//! A pass older than the feature's last sighting says nothing about it.
//!
//! The status a consumer reads: `gone` if declared gone, else `new` while first seen in
//! the current reward epoch (the ISO week, Monday 00:00 UTC), else `confirmed`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::camera::Camera;
use crate::geo::{LatLon, angle_between, bearing_deg, distance_m};
use crate::merge::Feature;

/// One frame of a pass: where it was and which way it looked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassFrame {
    pub time_ms: i64,
    pub position: LatLon,
    pub heading_deg: f64,
    pub camera: Camera,
}

/// One sequence driven: its frames with a heading.
#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    pub sequence: String,
    pub frames: Vec<PassFrame>,
}

/// What a consumer sees of a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureStatus {
    New,
    Confirmed,
    Gone,
}

impl FeatureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Confirmed => "confirmed",
            Self::Gone => "gone",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "new" => Some(Self::New),
            "confirmed" => Some(Self::Confirmed),
            "gone" => Some(Self::Gone),
            _ => None,
        }
    }
}

const DAY_MS: i64 = 86_400_000;

/// Monday 00:00 UTC of the ISO week holding `time_ms`.
pub fn week_start_ms(time_ms: i64) -> i64 {
    let day = time_ms.div_euclid(DAY_MS);
    // 1970-01-01 was a Thursday: Monday-based weekday 3.
    let weekday = (day + 3).rem_euclid(7);
    (day - weekday) * DAY_MS
}

/// The status of `feature` at `now_ms`.
pub fn status_at(feature: &Feature, now_ms: i64) -> FeatureStatus {
    status_of(feature.gone_at_ms, feature.first_seen_ms, now_ms)
}

/// The status from stored columns: gone, new in this week, or confirmed.
pub fn status_of(gone_at_ms: Option<i64>, first_seen_ms: i64, now_ms: i64) -> FeatureStatus {
    if gone_at_ms.is_some() {
        FeatureStatus::Gone
    } else if first_seen_ms >= week_start_ms(now_ms) {
        FeatureStatus::New
    } else {
        FeatureStatus::Confirmed
    }
}

/// Whether a camera at `frame` should have seen an object at `position` facing `facing`.
pub fn in_view(frame: &PassFrame, position: LatLon, facing: Option<f64>, range_m: f64) -> bool {
    let distance = distance_m(frame.position, position);
    if !(3.0..=range_m).contains(&distance) {
        return false;
    }
    let to_object = bearing_deg(frame.position, position);
    let margin = 0.75 * frame.camera.hfov_deg() / 2.0;
    if angle_between(to_object, frame.heading_deg) > margin {
        return false;
    }
    facing.is_none_or(|facing| angle_between(facing, bearing_deg(position, frame.position)) <= 45.0)
}

/// Counts `pass` for and against `features`; `seen` holds the ids the pass observed.
/// Returns the ids declared gone by this pass.
pub fn account(
    features: &mut [Feature],
    pass: &Pass,
    seen: &BTreeSet<String>,
    visible_range_m: f64,
    gone_after_misses: u32,
) -> Vec<String> {
    let mut gone = Vec::new();
    let Some(end) = pass.frames.iter().map(|f| f.time_ms).max() else {
        return gone;
    };
    for feature in features.iter_mut() {
        if seen.contains(&feature.id) {
            feature.passes += 1;
            feature.misses = 0;
            continue;
        }
        if end <= feature.last_seen_ms || feature.gone_at_ms.is_some() {
            continue;
        }
        let should_have_seen = pass
            .frames
            .iter()
            .any(|frame| in_view(frame, feature.position, feature.facing_deg, visible_range_m));
        if !should_have_seen {
            continue;
        }
        feature.misses += 1;
        if feature.misses >= gone_after_misses {
            feature.gone_at_ms = Some(end);
            feature.changed_at_ms = end;
            gone.push(feature.id.clone());
        }
    }
    gone
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_at_midnight_utc() {
        // 2026-12-03 (a Thursday) 12:00 UTC → Monday 2026-11-30 00:00 UTC.
        let thursday = 1_796_299_200_000;
        assert_eq!(week_start_ms(thursday), 1_795_996_800_000);
        assert_eq!(
            week_start_ms(week_start_ms(thursday)),
            week_start_ms(thursday)
        );
        assert_eq!(
            status_of(None, thursday, thursday + DAY_MS),
            FeatureStatus::New
        );
        assert_eq!(
            status_of(None, thursday, thursday + 7 * DAY_MS),
            FeatureStatus::Confirmed
        );
        assert_eq!(status_of(Some(1), thursday, thursday), FeatureStatus::Gone);
    }
}
