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
//! 6. Synthetic track ([`looks_generated`]), over `synthetic_min_steps` or more steps of a
//!    second to a minute while moving: the change of speed from one straight step to the
//!    next is "tiny" (under `synthetic_max_speed_change_mps`) `synthetic_min_tiny_share` of
//!    the time; or `synthetic_min_pile_up` of the steps share one speed; or the fastest
//!    steps pile up under a ceiling ([`speed_ceiling`]). A track generated along a road at
//!    a set speed has little but tiny changes, and its straight steps pile up at that speed
//!    however sparse its fixes and however winding its road. Every kept frame of such a
//!    capture is rejected: the whole track is forged.
//!
//!    What a real receiver does, measured (`ingest` example `real_receivers`, the agent's
//!    sampling of each drive, BENCHMARKS.md): the old receivers in `datasets/` move the
//!    speed almost every step (1–8 % of changes tiny, never more than 3 in a row). A
//!    modern receiver that blends its fixes with motion sensors (a u-blox NEO-M8U, 435 km
//!    of Colorado highway and town) does not: on cruise control it keeps 16 changes in a
//!    row tiny, and up to 52 % of the changes of a short capture's window tiny and 17 % of
//!    its steps at one speed. A run of 10 tiny changes rejected 4 of its 48 captures. So
//!    the rules judge a minute of steps or more, never a run, and sit well above that
//!    receiver (a share of 0.85, a pile-up of 0.45), while the simulator's generated tracks
//!    pile up at 0.59 or more over every window they are judged on.

use model::{Fix, FrameEntry, RejectReason, TimestampMs};

use crate::geometry::{bearing_deg, distance_m, heading_change_deg};
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
    /// Steps (of a second or more, while moving) a track needs before it is judged
    /// synthetic: a minute, so that a receiver on cruise control has left it.
    pub synthetic_min_steps: usize,
    /// A change of speed between consecutive steps under this, m/s, is "tiny": no receiver
    /// noise in it.
    pub synthetic_max_speed_change_mps: f64,
    /// A track whose changes are tiny this often or more has no receiver noise.
    pub synthetic_min_tiny_share: f64,
    /// Pairs of steps turning by this much or more are not judged, degrees.
    pub synthetic_max_turn_deg: f64,
    /// A track with this share of its steps at one speed (within
    /// `synthetic_max_speed_change_mps`) or more was generated at a set speed.
    pub synthetic_min_pile_up: f64,
    /// A track with this many steps within `synthetic_max_speed_change_mps` of its fastest
    /// one ([`speed_ceiling`])…
    pub synthetic_min_at_ceiling: usize,
    /// …making up this share of its steps or more, was generated at a set speed.
    pub synthetic_min_ceiling_share: f64,
    /// Only steps this long or longer are measured against the ceiling: a dense track has
    /// the other rules, and a smooth receiver at 1 Hz lingers near a peak of its speed.
    pub synthetic_ceiling_min_step_ms: i64,
    /// Such steps a track needs before it is measured against the ceiling (fewer than the
    /// other rules need: a sparse logger's steps are long, and a real car's fastest ones
    /// are still its tail and its noise).
    pub synthetic_ceiling_min_steps: usize,
    /// A capture with fewer steps of a second or more ([`second_steps`]) is judged
    /// together with the device's history before it (`judge::history_of`, a fix a
    /// second), this many steps in all.
    pub synthetic_window_steps: usize,
    /// Steps slower than this, m/s, are not judged (a car waiting at lights is smooth).
    pub synthetic_min_speed_mps: f64,
    /// Steps longer than this are not judged (a stop or a loss of signal).
    pub synthetic_max_step_ms: i64,
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
            synthetic_min_steps: 60,
            synthetic_max_speed_change_mps: 0.05,
            synthetic_min_tiny_share: 0.85,
            synthetic_max_turn_deg: 10.0,
            synthetic_min_pile_up: 0.45,
            synthetic_min_at_ceiling: 7,
            synthetic_min_ceiling_share: 0.15,
            synthetic_ceiling_min_step_ms: 2_000,
            synthetic_ceiling_min_steps: 20,
            synthetic_window_steps: 150,
            synthetic_min_speed_mps: 3.0,
            synthetic_max_step_ms: 60_000,
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
    synthetic(frames, config, &mut verdicts);
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

/// The fixes of `fixes` (time order) a second or more after the one before them, from the
/// first on: where the steps are taken.
fn second_apart<'a>(fixes: impl IntoIterator<Item = &'a Fix>) -> Vec<&'a Fix> {
    let mut picks: Vec<&Fix> = Vec::new();
    for fix in fixes {
        let far_enough = picks
            .last()
            .is_none_or(|p| fix.time.millis_since(p.time) >= 1000);
        if far_enough {
            picks.push(fix);
        }
    }
    picks
}

/// The steps of a second or more `fixes` (time order) make, moving or not.
pub fn second_steps<'a>(fixes: impl IntoIterator<Item = &'a Fix>) -> usize {
    second_apart(fixes).len().saturating_sub(1)
}

/// One step of a track: its speed, length in time and direction.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Step {
    speed_mps: f64,
    millis: i64,
    bearing_deg: f64,
}

/// The judged steps of `fixes` (time order): between fixes a second or more apart, at most
/// `synthetic_max_step_ms` long, at `synthetic_min_speed_mps` or faster. Steps are taken a
/// second or more apart because an agent's frames between two fixes are interpolated: only
/// a step that spans a fix carries the receiver's noise. Steps up to a minute long are
/// judged, so sparse fixes are judged too; a longer gap is a stop or a loss of signal.
fn steps<'a>(fixes: impl IntoIterator<Item = &'a Fix>, config: &TrackConfig) -> Vec<Option<Step>> {
    second_apart(fixes)
        .windows(2)
        .map(|pair| {
            let millis = pair[1].time.millis_since(pair[0].time);
            let speed_mps = distance_m(pair[0], pair[1]) / (millis as f64 / 1000.0).max(1e-3);
            (speed_mps >= config.synthetic_min_speed_mps && millis <= config.synthetic_max_step_ms)
                .then(|| Step {
                    speed_mps,
                    millis,
                    bearing_deg: bearing_deg(pair[0], pair[1]),
                })
        })
        .collect()
}

/// The changes of speed between consecutive judged steps of `fixes` that keep their
/// direction (turning by under `synthetic_max_turn_deg`: through a bend a generated track's
/// chord is shorter than its arc, which changes its speed without any noise).
pub fn speed_changes<'a>(
    fixes: impl IntoIterator<Item = &'a Fix>,
    config: &TrackConfig,
) -> Vec<f64> {
    steps(fixes, config)
        .windows(2)
        .filter_map(|pair| match pair {
            [Some(a), Some(b)]
                if heading_change_deg(a.bearing_deg, b.bearing_deg)
                    < config.synthetic_max_turn_deg =>
            {
                Some((b.speed_mps - a.speed_mps).abs())
            }
            _ => None,
        })
        .collect()
}

/// The largest share of the judged steps of `fixes` whose speeds lie within
/// `synthetic_max_speed_change_mps` of each other; `None` with fewer than
/// `synthetic_min_steps` steps. A generator at a set speed piles every straight step up at
/// that speed (only bends shorten a step's chord); a real car's speeds spread out.
pub fn speed_pile_up<'a>(
    fixes: impl IntoIterator<Item = &'a Fix>,
    config: &TrackConfig,
) -> Option<f64> {
    let mut speeds: Vec<f64> = steps(fixes, config)
        .into_iter()
        .flatten()
        .map(|step| step.speed_mps)
        .collect();
    if speeds.is_empty() || speeds.len() < config.synthetic_min_steps {
        return None;
    }
    speeds.sort_by(f64::total_cmp);
    let mut most = 0;
    let mut from = 0;
    for to in 0..speeds.len() {
        while speeds[to] - speeds[from] > config.synthetic_max_speed_change_mps {
            from += 1;
        }
        most = most.max(to + 1 - from);
    }
    Some(most as f64 / speeds.len() as f64)
}

/// How many judged steps of `fixes` of `synthetic_ceiling_min_step_ms` or longer lie
/// within `synthetic_max_speed_change_mps` of the fastest of them, and their share of
/// them; `None` with fewer than `synthetic_ceiling_min_steps` such steps.
///
/// A track generated at a set speed has a hard ceiling: a step's chord is never longer
/// than the road it cuts, so no step is faster than the set speed, and every straight
/// step is exactly at it — however winding the road and however few the straight steps
/// between bends, which is what sparse fixes on a winding road leave the other rules. A
/// real car's fastest step is the tail of its driving and its noise: in the real drives
/// in `datasets/` thinned to a fix every 2, 5 or 10 s, at most 3 steps of any 40 lie
/// within 0.05 m/s of the fastest of them. (At 1 Hz a smooth receiver near a peak of its
/// speed puts 5 there — 1 Hz tracks are left to the other rules.)
pub fn speed_ceiling<'a>(
    fixes: impl IntoIterator<Item = &'a Fix>,
    config: &TrackConfig,
) -> Option<(usize, f64)> {
    let speeds: Vec<f64> = steps(fixes, config)
        .into_iter()
        .flatten()
        .filter(|step| step.millis >= config.synthetic_ceiling_min_step_ms)
        .map(|step| step.speed_mps)
        .collect();
    if speeds.is_empty() || speeds.len() < config.synthetic_ceiling_min_steps {
        return None;
    }
    let fastest = speeds.iter().copied().fold(f64::MIN, f64::max);
    let at = speeds
        .iter()
        .filter(|speed| fastest - **speed <= config.synthetic_max_speed_change_mps)
        .count();
    Some((at, at as f64 / speeds.len() as f64))
}

/// Whether `fixes` (time order) are too smooth for a real receiver ([`too_smooth`] on their
/// changes of speed), pile their speeds up ([`speed_pile_up`] of `synthetic_min_pile_up`
/// or more), or run into a ceiling ([`speed_ceiling`]: `synthetic_min_at_ceiling` steps
/// and `synthetic_min_ceiling_share` of them or more).
pub fn looks_generated(fixes: &[&Fix], config: &TrackConfig) -> bool {
    too_smooth(&speed_changes(fixes.iter().copied(), config), config)
        || speed_pile_up(fixes.iter().copied(), config)
            .is_some_and(|share| share >= config.synthetic_min_pile_up)
        || speed_ceiling(fixes.iter().copied(), config).is_some_and(|(at, share)| {
            at >= config.synthetic_min_at_ceiling && share >= config.synthetic_min_ceiling_share
        })
}

/// Whether `changes` are too smooth for a real receiver: at least `synthetic_min_steps` of
/// them with `synthetic_min_tiny_share` or more tiny. (Never a run of tiny changes alone: a
/// receiver that blends its fixes with motion sensors makes long ones on cruise control.)
pub fn too_smooth(changes: &[f64], config: &TrackConfig) -> bool {
    let is_tiny = |change: &f64| *change < config.synthetic_max_speed_change_mps;
    if changes.is_empty() || changes.len() < config.synthetic_min_steps {
        return false;
    }
    let tiny = changes.iter().filter(|change| is_tiny(change)).count();
    tiny as f64 >= config.synthetic_min_tiny_share * changes.len() as f64
}

/// The median change of speed over the whole of `fixes` ([`speed_changes`]); `None` with
/// none.
pub fn median_speed_change<'a>(
    fixes: impl IntoIterator<Item = &'a Fix>,
    config: &TrackConfig,
) -> Option<f64> {
    let mut changes = speed_changes(fixes, config);
    if changes.is_empty() {
        return None;
    }
    changes.sort_by(f64::total_cmp);
    Some(changes[changes.len() / 2])
}

fn synthetic(frames: &[FrameEntry], config: &TrackConfig, verdicts: &mut [Option<RejectReason>]) {
    let order = kept(verdicts);
    let fixes: Vec<&Fix> = order.iter().map(|&i| &frames[i].fix).collect();
    if looks_generated(&fixes, config) {
        for index in order {
            verdicts[index] = Some(RejectReason::SyntheticTrack);
        }
    }
}
