//! The one entry point: new sightings and the passes they came from, applied to the
//! features around them.

use std::collections::{BTreeMap, BTreeSet};

use model::FrameId;
use serde::{Deserialize, Serialize};

use crate::change::{Pass, account};
use crate::merge::{Feature, MergeRule, Merged, merge};
use crate::observation::{Sighting, Unplaced, ray};
use crate::solve::Noise;
use crate::track::tracks;

/// The knobs of positioning, merging and change (`[features]` in the settings).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Sightings whose size says the object is further than this are not placed, metres.
    pub max_range_m: f64,
    /// A track joins a feature of its class whose position is this close, metres.
    pub merge_radius_m: f64,
    /// …and which faces within this many degrees of the way the track saw it.
    pub facing_tolerance_deg: f64,
    /// A pass "should have seen" a feature it came this close to, metres.
    pub visible_range_m: f64,
    /// Passes in a row that should have seen a feature and did not before it is gone.
    pub gone_after_misses: u32,
    pub noise: Noise,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_range_m: 60.0,
            merge_radius_m: 8.0,
            facing_tolerance_deg: 60.0,
            visible_range_m: 20.0,
            gone_after_misses: 3,
            noise: Noise::default(),
        }
    }
}

/// What an update did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub created: Vec<String>,
    /// Existing features seen again.
    pub joined: BTreeSet<String>,
    /// Features declared gone by these passes.
    pub gone: Vec<String>,
    /// Gone features seen again.
    pub returned: Vec<String>,
    /// Sightings that gave no feature, and why.
    pub unplaced: Vec<(FrameId, Unplaced)>,
}

impl Update {
    /// Every feature id this update changed.
    pub fn touched(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.created.iter().cloned().collect();
        all.extend(self.joined.iter().cloned());
        all.extend(self.gone.iter().cloned());
        all
    }
}

/// Applies `sightings` and `passes` to `features` (those near them; the caller loads them).
pub fn update(
    features: &mut Vec<Feature>,
    sightings: &[Sighting],
    passes: &[Pass],
    config: &Config,
) -> Update {
    let mut result = Update::default();
    let mut rays = Vec::with_capacity(sightings.len());
    for sighting in sightings {
        match ray(sighting, config.max_range_m) {
            Ok(ray) => rays.push(ray),
            Err(reason) => result.unplaced.push((sighting.frame, reason)),
        }
    }
    let rule = MergeRule {
        radius_m: config.merge_radius_m,
        facing_tolerance_deg: config.facing_tolerance_deg,
        noise: config.noise,
    };
    let mut found = tracks(rays, &config.noise);
    found.sort_by_key(|track| track.first().map(|r| (r.time_ms, r.frame)));
    let mut seen_by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for track in found {
        let sequence = track[0]
            .sequence
            .clone()
            .unwrap_or_else(|| track[0].capture.clone());
        let frames: Vec<FrameId> = track.iter().map(|r| r.frame).collect();
        match merge(features, track, &rule) {
            Merged::Created { id } => {
                seen_by.entry(sequence).or_default().insert(id.clone());
                result.created.push(id);
            }
            Merged::Joined { id, came_back } => {
                seen_by.entry(sequence).or_default().insert(id.clone());
                if came_back {
                    result.returned.push(id.clone());
                }
                result.joined.insert(id);
            }
            Merged::Single => result
                .unplaced
                .extend(frames.into_iter().map(|f| (f, Unplaced::SingleSighting))),
        }
    }
    for id in &result.created {
        result.joined.remove(id);
    }
    let mut ordered: Vec<&Pass> = passes.iter().collect();
    ordered.sort_by_key(|p| p.frames.iter().map(|f| f.time_ms).min());
    let nobody = BTreeSet::new();
    for pass in ordered {
        let seen = seen_by.get(&pass.sequence).unwrap_or(&nobody);
        let gone = account(
            features,
            pass,
            seen,
            config.visible_range_m,
            config.gone_after_misses,
        );
        result.gone.extend(gone);
    }
    result
}
