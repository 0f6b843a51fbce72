//! Track checks: is each frame's position and time believable? One verdict per frame:
//! `None` (passes) or the first [`RejectReason`] that applies. Pure, in capture order.
//!
//! In order:
//! 1. Per frame: null island (no fix reported as 0,0), time ahead of the server clock, time
//!    too old, weak GNSS (no 3D fix, under 4 satellites, hdop over 4 — DESIGN.md §4).
//! 2. Time order: a frame not strictly after the last kept one.
//! 3. Teleport: faster than `max_speed_mps` from the last kept frame. After
//!    `teleport_recovery` consecutive teleported frames that agree with each other, the
//!    track is taken to have moved for real (a receiver re-acquiring) and continues from
//!    there; those frames stay rejected — unless the jump was away from the capture's very
//!    first fix, in which case that lone first fix was the glitch and it alone is rejected.
//! 4. Zig-zag (mapillary_tools' idea): a frame at least `zigzag_min_jump_m` away from both
//!    neighbours whose neighbours are close to each other — out and straight back.
//! 5. Per sequence ([`crate::sequence`]): average speed over 400 km/h, or every frame within
//!    `stationary_radius_m` of the first for at least `stationary_min_ms` (the device never
//!    moved).

use model::{FrameEntry, RejectReason, TimestampMs};

use crate::geometry::distance_m;
use crate::sequence::{SequenceConfig, split};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackConfig {
    pub max_clock_ahead_ms: i64,
    pub max_age_ms: i64,
    pub min_satellites: u8,
    pub max_hdop: f32,
    pub max_speed_mps: f64,
    pub teleport_recovery: usize,
    pub zigzag_min_jump_m: f64,
    pub zigzag_deviation_ratio: f64,
    pub max_average_speed_mps: f64,
    pub stationary_radius_m: f64,
    /// A sequence must last this long within the radius to be called stationary (two
    /// keyframes 8 m apart are a moving car, not a parked one).
    pub stationary_min_ms: i64,
    pub sequences: SequenceConfig,
}

impl Default for TrackConfig {
    fn default() -> Self {
        Self {
            max_clock_ahead_ms: 5 * 60 * 1000,
            max_age_ms: 90 * 24 * 3600 * 1000,
            min_satellites: 4,
            max_hdop: 4.0,
            // 360 km/h between two fixes: no car does that; GPS jumps do.
            max_speed_mps: 100.0,
            teleport_recovery: 3,
            zigzag_min_jump_m: 30.0,
            zigzag_deviation_ratio: 0.8,
            max_average_speed_mps: 400.0 / 3.6,
            stationary_radius_m: 10.0,
            stationary_min_ms: 30_000,
            sequences: SequenceConfig::default(),
        }
    }
}

/// The verdict for every frame of a capture, given the server clock `now`.
pub fn check(
    frames: &[FrameEntry],
    now: TimestampMs,
    config: &TrackConfig,
) -> Vec<Option<RejectReason>> {
    let mut verdicts: Vec<Option<RejectReason>> =
        frames.iter().map(|f| per_frame(f, now, config)).collect();
    time_order(frames, &mut verdicts);
    teleports(frames, config, &mut verdicts);
    zigzags(frames, config, &mut verdicts);
    per_sequence(frames, config, &mut verdicts);
    verdicts
}

fn per_frame(entry: &FrameEntry, now: TimestampMs, config: &TrackConfig) -> Option<RejectReason> {
    let fix = &entry.fix;
    if fix.lat.abs() < 1e-4 && fix.lon.abs() < 1e-4 {
        return Some(RejectReason::NullIsland);
    }
    if fix.time.millis_since(now) > config.max_clock_ahead_ms {
        return Some(RejectReason::TimeInFuture);
    }
    if now.millis_since(fix.time) > config.max_age_ms {
        return Some(RejectReason::TimeTooOld);
    }
    if !fix.fix_type.is_3d() || fix.satellites < config.min_satellites || fix.hdop > config.max_hdop
    {
        return Some(RejectReason::PoorGnss);
    }
    None
}

fn kept(verdicts: &[Option<RejectReason>]) -> Vec<usize> {
    verdicts
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_none())
        .map(|(i, _)| i)
        .collect()
}

fn time_order(frames: &[FrameEntry], verdicts: &mut [Option<RejectReason>]) {
    let mut last: Option<TimestampMs> = None;
    for index in kept(verdicts) {
        let time = frames[index].fix.time;
        if last.is_some_and(|last| time <= last) {
            verdicts[index] = Some(RejectReason::TimeNotMonotonic);
        } else {
            last = Some(time);
        }
    }
}

fn speed_mps(frames: &[FrameEntry], from: usize, to: usize) -> f64 {
    let (a, b) = (&frames[from].fix, &frames[to].fix);
    let seconds = b.time.millis_since(a.time) as f64 / 1000.0;
    distance_m(a, b) / seconds.max(1e-3)
}

fn teleports(frames: &[FrameEntry], config: &TrackConfig, verdicts: &mut [Option<RejectReason>]) {
    let mut last_good: Option<usize> = None;
    // Whether the last good frame is the capture's first and nothing has confirmed it yet:
    // a cold-start glitch looks exactly like that.
    let mut unconfirmed_start = false;
    let mut jumped: Vec<usize> = Vec::new();
    for index in kept(verdicts) {
        let Some(good) = last_good else {
            last_good = Some(index);
            unconfirmed_start = true;
            continue;
        };
        if speed_mps(frames, good, index) <= config.max_speed_mps {
            last_good = Some(index);
            unconfirmed_start = false;
            jumped.clear();
            continue;
        }
        verdicts[index] = Some(RejectReason::Teleport);
        let agrees = jumped
            .last()
            .is_none_or(|&previous| speed_mps(frames, previous, index) <= config.max_speed_mps);
        if !agrees {
            jumped.clear();
        }
        jumped.push(index);
        if jumped.len() >= config.teleport_recovery {
            if unconfirmed_start {
                // The first fix was the outlier, not the track that follows it.
                verdicts[good] = Some(RejectReason::Teleport);
                for &recovered in &jumped {
                    verdicts[recovered] = None;
                }
            }
            last_good = Some(index);
            unconfirmed_start = false;
            jumped.clear();
        }
    }
}

fn zigzags(frames: &[FrameEntry], config: &TrackConfig, verdicts: &mut [Option<RejectReason>]) {
    let order = kept(verdicts);
    for window in order.windows(3) {
        let [before, middle, after] = [window[0], window[1], window[2]];
        let out = distance_m(&frames[before].fix, &frames[middle].fix);
        let back = distance_m(&frames[middle].fix, &frames[after].fix);
        let across = distance_m(&frames[before].fix, &frames[after].fix);
        let min_jump = config.zigzag_min_jump_m;
        if out >= min_jump
            && back >= min_jump
            && across <= (1.0 - config.zigzag_deviation_ratio) * (out + back)
        {
            verdicts[middle] = Some(RejectReason::ZigZag);
        }
    }
}

fn per_sequence(
    frames: &[FrameEntry],
    config: &TrackConfig,
    verdicts: &mut [Option<RejectReason>],
) {
    for sequence in split(frames, &kept(verdicts), &config.sequences) {
        let seconds = sequence.duration_ms() as f64 / 1000.0;
        let too_fast = seconds > 0.0 && sequence.length_m / seconds > config.max_average_speed_mps;
        let first = &frames[sequence.frames[0]].fix;
        let stationary = sequence.frames.len() > 1
            && sequence.duration_ms() >= config.stationary_min_ms
            && sequence
                .frames
                .iter()
                .all(|&i| distance_m(first, &frames[i].fix) <= config.stationary_radius_m);
        let reason = if too_fast {
            Some(RejectReason::SequenceTooFast)
        } else if stationary {
            Some(RejectReason::Stationary)
        } else {
            None
        };
        if let Some(reason) = reason {
            for &index in &sequence.frames {
                verdicts[index] = Some(reason);
            }
        }
    }
}
