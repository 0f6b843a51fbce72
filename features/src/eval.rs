//! Scoring features against ground truth (the simulator's signs): each feature is matched
//! to the nearest unmatched true object of its class within a radius, closest pairs first.
//! Precision = matched features / features; recall = matched truths / truths; position
//! error over matched pairs.

use serde::Serialize;

use crate::geo::{LatLon, distance_m};
use crate::merge::Feature;

/// A real object.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    pub class: String,
    pub position: LatLon,
}

/// How well features match the truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub features: usize,
    pub truths: usize,
    pub matched: usize,
    pub precision: f64,
    pub recall: f64,
    pub median_error_m: Option<f64>,
    pub p90_error_m: Option<f64>,
    /// The error of every matched pair, metres, sorted (to pool runs).
    #[serde(skip)]
    pub errors_m: Vec<f64>,
}

/// Scores `features` against `truths`, pairing within `radius_m`.
pub fn score(features: &[&Feature], truths: &[Truth], radius_m: f64) -> Score {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (f, feature) in features.iter().enumerate() {
        for (t, truth) in truths.iter().enumerate() {
            if feature.class != truth.class {
                continue;
            }
            let d = distance_m(feature.position, truth.position);
            if d <= radius_m {
                pairs.push((d, f, t));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut feature_taken = vec![false; features.len()];
    let mut truth_taken = vec![false; truths.len()];
    let mut errors = Vec::new();
    for (d, f, t) in pairs {
        if feature_taken[f] || truth_taken[t] {
            continue;
        }
        feature_taken[f] = true;
        truth_taken[t] = true;
        errors.push(d);
    }
    errors.sort_by(f64::total_cmp);
    let matched = errors.len();
    let ratio = |n: usize, of: usize| if of == 0 { 1.0 } else { n as f64 / of as f64 };
    Score {
        features: features.len(),
        truths: truths.len(),
        matched,
        precision: ratio(matched, features.len()),
        recall: ratio(matched, truths.len()),
        median_error_m: quantile(&errors, 0.5),
        p90_error_m: quantile(&errors, 0.9),
        errors_m: errors,
    }
}

/// The `q` quantile of sorted `values` (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}
