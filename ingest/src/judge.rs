//! The judge of a capture manifest: one pure function from the capture and what the store
//! knows around it ([`Context`]) to a verdict per frame. The upload handler asks
//! [`Needs::of`] what to read, reads it, calls [`judge`] and commits what it says; nothing
//! here reads or writes anything.
//!
//! In order (the first verdict a frame gets is the one it keeps):
//! 1. The track on its own ([`crate::track::check`]): position, time, GNSS quality,
//!    teleports, zig-zags, speed and stillness per sequence, a generated track.
//! 2. A closed epoch: a frame dated inside an epoch whose rewards are closed can no longer
//!    count (`time-too-old`).
//! 3. The device's history:
//!    - a frame among its own earlier frames from somewhere no car could have driven to in
//!      between (`cloned-key`, [`crate::overlap::conflicting_frames`]);
//!    - a capture that starts, within [`JUMP_WINDOW_MS`] of the device's last frame, further
//!      away than a car could have driven, or ends as far from its next frame (`teleport`):
//!      cutting a forged drive into captures, and sending them in any order, does not hide
//!      its jumps;
//!    - a generated track cut into captures too short to be judged alone: the capture is
//!      judged with the device's fixes before it ([`history_of`]) and, if they are too few,
//!      after it ([`later_of`]), a fix a second (`synthetic-track`).
//! 4. Another device on the same track at the same moments (`shared-track`).
//! 5. The bytes: listed twice in the capture, stored before for the same moment and device
//!    (`exact-duplicate`), or another device's footage or another moment's (`replay`).
//! 6. A frame within 1 m and 60° of the previous kept one (`capture-duplicate`).
//!
//! The bytes themselves are read by the pipeline worker, which asks [`photo_disagrees`]
//! whether a frame's own EXIF contradicts its manifest (`photo-mismatch`), and
//! `model::consensus` whether its pixels agree with the place it claims (`unlike-place`).

use std::collections::BTreeMap;

use model::{DeviceId, Fix, FrameEntry, FrameId, RejectReason, TimestampMs};

use crate::dedup::{DedupConfig, capture_duplicates, exact_repeats};
use crate::geometry::distance_m;
use crate::overlap::{
    OVERLAP_WINDOW_MS, SHARED_TRACK_MAX_GAP_MS, conflicting_frames, shared_track,
};
use crate::sequence::split;
use crate::track::{TrackConfig, check, looks_generated, second_steps};

/// A capture starting this soon after the device's last frame must be reachable from it.
pub const JUMP_WINDOW_MS: i64 = 3_600_000;
/// GNSS slack, metres, on the distance a car could have driven between two captures.
pub const JUMP_SLACK_M: f64 = 50.0;
/// How many of the device's seconds with a fix are read on each side of a capture: its
/// newest before it ([`history_of`]) and its first after it ([`later_of`]).
pub const HISTORY_SECONDS: u32 = 600;

/// One verdict per frame, in manifest order: `None` passes, `Some` rejects with a reason.
pub type Verdicts = Vec<Option<RejectReason>>;

/// An H3 cell at [`model::COVERAGE_RESOLUTION`] (as stored with each frame) and a time
/// window `start..=end` in it.
pub type CellWindow = (u64, TimestampMs, TimestampMs);

/// How many rings of cells around a fix's own are read for other devices' fixes. One ring
/// of res-12 cells (edges of some 9 m) reaches well past
/// [`crate::overlap::SHARED_TRACK_MAX_DISTANCE_M`].
pub const SHARED_TRACK_RINGS: u32 = 1;

/// What the store must be asked for a capture, from the capture alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Needs {
    /// The moments of the frames that pass the track checks, in time order, each once:
    /// the device's own stored frame nearest before each and nearest at or after it, within
    /// [`OVERLAP_WINDOW_MS`], are read ([`nearest_around`]) — two a frame at most, however
    /// long the capture's span and however many frames the device stored in it.
    pub own_moments: Vec<TimestampMs>,
    /// The device's history ([`history_of`]) before this time.
    pub history_before: TimestampMs,
    /// The device's later fixes ([`later_of`]) after this time.
    pub later_after: TimestampMs,
    /// Other devices' frames in these cells, each in its time window: the cells within
    /// reach of each frame that passes the track checks, within [`SHARED_TRACK_MAX_GAP_MS`]
    /// of it ([`cell_windows`]); empty when none passes. What a capture asks for grows with
    /// its frames, never with its time span or its extent (a capture of 1 000 frames an
    /// hour apart across a region asks for 1 000 seconds in a few cells each, not every
    /// frame of the region in six weeks).
    pub others: Vec<CellWindow>,
    /// The frames whose earlier uploads and stored copies matter.
    pub frames: Vec<FrameId>,
}

impl Needs {
    /// What to read for `frames` (a non-empty manifest's), at server time `now`.
    pub fn of(frames: &[FrameEntry], now: TimestampMs, config: &TrackConfig) -> Self {
        let first = frames.first().map_or(now, |f| f.fix.time);
        let last = frames.last().map_or(now, |f| f.fix.time);
        let verdicts = check(frames, now, config);
        let passing = frames
            .iter()
            .zip(&verdicts)
            .filter(|(_, verdict)| verdict.is_none())
            .map(|(entry, _)| &entry.fix);
        let others = cell_windows(passing.clone());
        let mut own_moments: Vec<TimestampMs> = passing.map(|fix| fix.time).collect();
        own_moments.sort();
        own_moments.dedup();
        Self {
            own_moments,
            history_before: first,
            later_after: last,
            others,
            frames: frames.iter().map(|entry| entry.sha256).collect(),
        }
    }
}

/// Where and when to look for other devices' fixes on `fixes`' track: for each fix, the
/// cells within [`SHARED_TRACK_RINGS`] of its own, each from [`SHARED_TRACK_MAX_GAP_MS`]
/// before it to as long after; a cell's overlapping windows merged. By cell, then time.
pub fn cell_windows<'a>(fixes: impl IntoIterator<Item = &'a Fix>) -> Vec<CellWindow> {
    let mut by_cell: BTreeMap<u64, Vec<(TimestampMs, TimestampMs)>> = BTreeMap::new();
    for fix in fixes {
        let Some(cell) = fix.cell(model::COVERAGE_RESOLUTION) else {
            continue;
        };
        let window = (
            fix.time.saturating_add_ms(-SHARED_TRACK_MAX_GAP_MS),
            fix.time.saturating_add_ms(SHARED_TRACK_MAX_GAP_MS),
        );
        for near in cell.grid_disk::<Vec<_>>(SHARED_TRACK_RINGS) {
            by_cell.entry(u64::from(near)).or_default().push(window);
        }
    }
    let mut windows = Vec::new();
    for (cell, mut spans) in by_cell {
        spans.sort();
        let mut merged: Option<(TimestampMs, TimestampMs)> = None;
        for (start, end) in spans {
            merged = match merged {
                Some((from, to)) if start <= to => Some((from, to.max(end))),
                Some((from, to)) => {
                    windows.push((cell, from, to));
                    Some((start, end))
                }
                None => Some((start, end)),
            };
        }
        windows.extend(merged.map(|(from, to)| (cell, from, to)));
    }
    windows
}

/// A frame already stored (accepted or pending): which device sent it for which moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredFrame {
    pub frame: FrameId,
    pub device: DeviceId,
    pub time: TimestampMs,
}

/// What the store knows around a capture, as [`Needs`] asked for it.
#[derive(Debug, Clone)]
pub struct Context {
    /// The server clock.
    pub now: TimestampMs,
    /// The device that signed the capture.
    pub device: DeviceId,
    /// The end of the last epoch whose rewards are closed.
    pub closed_until: Option<TimestampMs>,
    /// The device's own stored fixes nearest [`Needs::own_moments`] ([`nearest_around`]),
    /// in time order.
    pub own_around: Vec<Fix>,
    /// The device's history before the capture ([`history_of`] its stored fixes), in time
    /// order.
    pub history: Vec<Fix>,
    /// The device's fixes after the capture ([`later_of`] its stored fixes), in time order:
    /// a device may send its captures in any order, and one sent after the captures that
    /// follow it is judged with them as the next one is judged with its history.
    pub later: Vec<Fix>,
    /// Other devices' stored fixes in [`Needs::others`], in time order.
    pub others_near: Vec<Fix>,
    /// Earlier stored copies of the capture's frames.
    pub stored: Vec<StoredFrame>,
    /// The device that first uploaded each of the capture's frames (when it was not this
    /// one, the bytes are another device's footage).
    pub first_uploaders: Vec<(FrameId, DeviceId)>,
}

/// The verdict for every frame of `frames`, given `context`. Pure: the same capture and
/// context always give the same verdicts.
pub fn judge(frames: &[FrameEntry], context: &Context, config: &TrackConfig) -> Verdicts {
    let mut verdicts = check(frames, context.now, config);
    if let Some(closed_until) = context.closed_until {
        for (entry, verdict) in frames.iter().zip(verdicts.iter_mut()) {
            if verdict.is_none() && entry.fix.time < closed_until {
                *verdict = Some(RejectReason::TimeTooOld);
            }
        }
    }
    conflicting_frames(
        frames,
        &context.own_around,
        config.max_speed_mps,
        JUMP_SLACK_M,
        &mut verdicts,
    );
    jumps_from_neighbours(frames, context, config, &mut verdicts);
    synthetic_with_neighbours(frames, context, config, &mut verdicts);
    shared_track(frames, &context.others_near, &mut verdicts);
    exact_repeats(frames, &mut verdicts);
    stored_before(frames, context, &mut verdicts);
    let kept: Vec<usize> = (0..frames.len())
        .filter(|&i| verdicts[i].is_none())
        .collect();
    for sequence in split(frames, &kept, &config.sequences) {
        capture_duplicates(frames, &sequence, &DedupConfig::default(), &mut verdicts);
    }
    verdicts
}

/// A device's history from its stored fixes before a capture (any order): the newest fix
/// of each of its newest [`HISTORY_SECONDS`] seconds (by whole seconds since the epoch) that
/// hold one, in time order. Read by the second, not by the frame: a device sending twenty
/// frames a second would otherwise leave a capture only half a minute of history, too
/// little for a short capture to be judged with ([`synthetic_with_neighbours`]). The store
/// reads the same (`store::Db::device_history_before`).
pub fn history_of(fixes_before: &[Fix]) -> Vec<Fix> {
    let newest = a_fix_a_second(fixes_before, |kept, fix| fix.time > kept.time);
    let skip = newest.len().saturating_sub(HISTORY_SECONDS as usize);
    newest.into_iter().skip(skip).collect()
}

/// A device's later fixes from its stored fixes after a capture (any order): the first fix
/// of each of its first [`HISTORY_SECONDS`] seconds that hold one, in time order — the
/// mirror of [`history_of`]. The store reads the same (`store::Db::device_later_after`).
pub fn later_of(fixes_after: &[Fix]) -> Vec<Fix> {
    let mut first = a_fix_a_second(fixes_after, |kept, fix| fix.time < kept.time);
    first.truncate(HISTORY_SECONDS as usize);
    first
}

/// Of a device's stored fixes (`fixes`, in time order), the latest before each of
/// `moments` and the first at or after it, each within [`OVERLAP_WINDOW_MS`] of it: all that
/// [`conflicting_frames`] compares a frame with. In time order, each fix once. The store
/// reads the same (`store::Db::device_fixes_nearest`).
pub fn nearest_around(fixes: &[Fix], moments: &[TimestampMs]) -> Vec<Fix> {
    let mut picked: Vec<usize> = Vec::new();
    for moment in moments {
        let at = fixes.partition_point(|fix| fix.time < *moment);
        let near = |i: &usize| fixes[*i].time.millis_since(*moment).abs() <= OVERLAP_WINDOW_MS;
        // All fixes of the nearest millisecond on each side.
        if let Some(before) = at.checked_sub(1).filter(near) {
            let time = fixes[before].time;
            picked.extend((0..=before).rev().take_while(|i| fixes[*i].time == time));
        }
        if let Some(after) = Some(at).filter(|i| *i < fixes.len()).filter(near) {
            let time = fixes[after].time;
            picked.extend((after..fixes.len()).take_while(|i| fixes[*i].time == time));
        }
    }
    picked.sort_unstable();
    picked.dedup();
    picked.into_iter().map(|i| fixes[i]).collect()
}

/// One fix of each whole second `fixes` hold, in time order: of a second's fixes, the one
/// `replaces` prefers (`replaces(kept, fix)`: whether `fix` takes `kept`'s place).
fn a_fix_a_second(fixes: &[Fix], replaces: impl Fn(&Fix, &Fix) -> bool) -> Vec<Fix> {
    let mut by_second: BTreeMap<i64, Fix> = BTreeMap::new();
    for fix in fixes {
        let second = fix.time.as_millis().div_euclid(1000);
        match by_second.get(&second) {
            Some(kept) if !replaces(kept, fix) => {}
            _ => {
                by_second.insert(second, *fix);
            }
        }
    }
    by_second.into_values().collect()
}

/// The capture's first kept frame must be reachable from the device's last frame before it,
/// and its last kept frame must reach the device's first frame after it, when they are
/// less than [`JUMP_WINDOW_MS`] apart; if not, every kept frame of the capture is a
/// `teleport` (the capture as a whole is somewhere the device was not). Both ways, so that
/// sending the captures of a forged drive newest first does not hide its jumps.
fn jumps_from_neighbours(
    frames: &[FrameEntry],
    context: &Context,
    config: &TrackConfig,
    verdicts: &mut [Option<RejectReason>],
) {
    let kept = kept_fixes(frames, verdicts);
    let (Some(first), Some(last)) = (kept.first(), kept.last()) else {
        return;
    };
    let out_of_reach = |from: &Fix, to: &Fix| {
        let millis = to.time.millis_since(from.time);
        let reachable = config.max_speed_mps * millis as f64 / 1000.0 + JUMP_SLACK_M;
        (0..=JUMP_WINDOW_MS).contains(&millis) && distance_m(from, to) > reachable
    };
    let from_before = context
        .history
        .last()
        .is_some_and(|before| out_of_reach(before, first));
    let to_after = context
        .later
        .first()
        .is_some_and(|after| out_of_reach(last, after));
    if from_before || to_after {
        for verdict in verdicts.iter_mut().filter(|v| v.is_none()) {
            *verdict = Some(RejectReason::Teleport);
        }
    }
}

/// The fixes of `frames` whose verdict is still `None`, in capture order.
fn kept_fixes<'a>(frames: &'a [FrameEntry], verdicts: &[Option<RejectReason>]) -> Vec<&'a Fix> {
    frames
        .iter()
        .zip(verdicts.iter())
        .filter(|(_, verdict)| verdict.is_none())
        .map(|(entry, _)| &entry.fix)
        .collect()
}

/// A capture with too few steps to be judged alone (under `synthetic_window_steps` steps of
/// a second or more) is judged together with the device's history before it, back until
/// the window has that many steps, and then, if still short, with its later fixes after
/// it: when they look generated ([`looks_generated`]), every kept frame of the capture is a
/// `synthetic-track`. (Counted in steps, not fixes: a frame every 12 m at 30 m/s is two or
/// three fixes a second, a sparse logger one in five seconds. Both ways, so that a short
/// capture sent after the ones that follow it is judged as well.)
fn synthetic_with_neighbours(
    frames: &[FrameEntry],
    context: &Context,
    config: &TrackConfig,
    verdicts: &mut [Option<RejectReason>],
) {
    let kept = kept_fixes(frames, verdicts);
    let (Some(first), Some(last)) = (kept.first(), kept.last()) else {
        return;
    };
    let mut steps = second_steps(kept.iter().copied());
    if steps >= config.synthetic_window_steps {
        return; // judged on its own by the track checks
    }
    let before: Vec<&Fix> = context
        .history
        .iter()
        .filter(|fix| fix.time < first.time)
        .collect();
    // Back from the capture's first fix, a step for every fix a second or more before the
    // last one counted.
    let (mut from, mut earliest) = (before.len(), first.time);
    while from > 0 && steps < config.synthetic_window_steps {
        from -= 1;
        if earliest.millis_since(before[from].time) >= 1000 {
            steps += 1;
            earliest = before[from].time;
        }
    }
    // Then on from its last fix, a step for every fix a second or more after the last one
    // counted.
    let after: Vec<&Fix> = context
        .later
        .iter()
        .filter(|fix| fix.time > last.time)
        .collect();
    let (mut to, mut latest) = (0, last.time);
    while to < after.len() && steps < config.synthetic_window_steps {
        if after[to].time.millis_since(latest) >= 1000 {
            steps += 1;
            latest = after[to].time;
        }
        to += 1;
    }
    let mut window: Vec<&Fix> = before[from..].to_vec();
    window.extend(&kept);
    window.extend(&after[..to]);
    if looks_generated(&window, config) {
        for verdict in verdicts.iter_mut().filter(|v| v.is_none()) {
            *verdict = Some(RejectReason::SyntheticTrack);
        }
    }
}

/// Frames stored before: sent again by this device for the same moment → exact duplicate
/// (an agent re-sending what it lost track of); from another device, or claimed for another
/// moment → a replay (old footage passed off as new coverage), which is fraud. Bytes another
/// device uploaded first are that device's footage, even if this one sent them too (and even
/// if the first upload was rejected or never posted): a replay.
fn stored_before(frames: &[FrameEntry], context: &Context, verdicts: &mut [Option<RejectReason>]) {
    for (entry, verdict) in frames.iter().zip(verdicts.iter_mut()) {
        if verdict.is_some() {
            continue;
        }
        let made_by_another = context
            .first_uploaders
            .iter()
            .any(|(frame, device)| *frame == entry.sha256 && *device != context.device);
        let mut earlier = context
            .stored
            .iter()
            .filter(|stored| stored.frame == entry.sha256)
            .peekable();
        if made_by_another {
            *verdict = Some(RejectReason::Replay);
        } else if earlier.peek().is_some() {
            let replayed = earlier
                .any(|stored| stored.device != context.device || stored.time != entry.fix.time);
            *verdict = Some(if replayed {
                RejectReason::Replay
            } else {
                RejectReason::ExactDuplicate
            });
        }
    }
}

/// How far a frame's own EXIF position may lie from its claimed one: GNSS noise of two
/// receivers, or two readings of one, is metres, never this.
pub const PHOTO_MAX_DISTANCE_M: f64 = 100.0;
/// How far a frame's own EXIF GPS time (UTC) may lie from its claimed one.
pub const PHOTO_MAX_TIME_MS: i64 = 120_000;

/// Whether what a frame says about itself (its EXIF GPS position, UTC time and camera, read
/// by `model::photo::read_photo`) contradicts what its manifest claims — the fix `claimed`
/// and the camera `declared`: a frame taken elsewhere, at another time or by another camera,
/// passed off as this one (`photo-mismatch`, fraud). A frame without GPS tags or without a
/// camera says nothing of them and passes; DateTimeOriginal is not compared (a camera's
/// local time, often without its offset); cameras are compared as `model::photo::same_camera`
/// does (letters only: a version is no other camera). The agent tags every frame with the
/// camera its manifest declares. The worker checks every frame it processes.
pub fn photo_disagrees(
    tags: &model::photo::PhotoTags,
    claimed: &Fix,
    declared: &str,
) -> Option<RejectReason> {
    let far = tags
        .fix
        .is_some_and(|own| distance_m(&own, claimed) > PHOTO_MAX_DISTANCE_M);
    let other_time = tags
        .gps_time
        .is_some_and(|own| own.millis_since(claimed.time).abs() > PHOTO_MAX_TIME_MS);
    let other_camera = tags
        .camera
        .as_deref()
        .is_some_and(|named| !model::photo::same_camera(declared, named));
    (far || other_time || other_camera).then_some(RejectReason::PhotoMismatch)
}

#[cfg(test)]
mod tests;
