//! Dedup decisions inside one capture: the same image listed twice (exact), and a frame
//! within 1 m and 60° of the previous kept frame of its sequence (capture duplicate,
//! Panoramax's rule; mapillary_tools uses 0.1 m and 5°). Cross-capture kinds (already
//! stored, near duplicates, replays) need the store and join with the pipeline worker.

use std::collections::HashSet;

use model::{FrameEntry, RejectReason};

use crate::geometry::{bearing_deg, distance_m, heading_change_deg};
use crate::sequence::Sequence;

/// The shortest move whose direction is trusted as a heading.
pub const MIN_STEP_FOR_BEARING_M: f64 = 5.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DedupConfig {
    pub max_distance_m: f64,
    pub max_heading_change_deg: f64,
}

impl Default for DedupConfig {
    fn default() -> Self {
        Self {
            max_distance_m: 1.0,
            max_heading_change_deg: 60.0,
        }
    }
}

/// Marks every frame whose sha256 already appeared earlier in the capture.
pub fn exact_repeats(frames: &[FrameEntry], verdicts: &mut [Option<RejectReason>]) {
    let mut seen = HashSet::new();
    for (entry, verdict) in frames.iter().zip(verdicts.iter_mut()) {
        if !seen.insert(entry.sha256) && verdict.is_none() {
            *verdict = Some(RejectReason::ExactDuplicate);
        }
    }
}

/// Marks the frames of `sequence` that repeat the previous kept frame: within
/// `max_distance_m` and turned by at most `max_heading_change_deg`. Frames already rejected
/// are skipped. The heading is the receiver's, else the direction of travel into the frame
/// when it moved at least [`MIN_STEP_FOR_BEARING_M`] (below that a bearing is GPS noise);
/// without either, the heading counts as unchanged.
pub fn capture_duplicates(
    frames: &[FrameEntry],
    sequence: &Sequence,
    config: &DedupConfig,
    verdicts: &mut [Option<RejectReason>],
) {
    let mut kept: Option<usize> = None;
    let mut kept_heading: Option<f64> = None;
    let mut previous: Option<usize> = None;
    for &index in &sequence.frames {
        if verdicts[index].is_some() {
            continue;
        }
        let fix = &frames[index].fix;
        let travel_heading = previous
            .filter(|&p| distance_m(&frames[p].fix, fix) >= MIN_STEP_FOR_BEARING_M)
            .map(|p| bearing_deg(&frames[p].fix, fix));
        let heading = fix.heading.or(travel_heading);
        previous = Some(index);
        if let Some(k) = kept {
            let close = distance_m(&frames[k].fix, fix) <= config.max_distance_m;
            let turned = match (kept_heading, heading) {
                (Some(a), Some(b)) => heading_change_deg(a, b),
                _ => 0.0,
            };
            if close && turned <= config.max_heading_change_deg {
                verdicts[index].get_or_insert(RejectReason::CaptureDuplicate);
                continue;
            }
        }
        kept = Some(index);
        kept_heading = heading;
    }
}
