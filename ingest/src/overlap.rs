//! Captures that collide with what is already stored. Pure.
//!
//! - One device, two places at once: a new capture whose frames sit, in time, among frames
//!   the same device already sent from somewhere it could not have driven to in between — a
//!   cloned key, or a forged track. Such frames are rejected as `cloned-key` (fraud).
//! - Two devices, one track: a new capture whose frames sit, again and again, within
//!   [`SHARED_TRACK_MAX_DISTANCE_M`] and [`SHARED_TRACK_MAX_GAP_MS`] of another device's
//!   frames. Two cars cannot be that close at the same moments (lanes are 3 m and more
//!   apart); two dashcams in one car, or one track copied to a second device, are. Such
//!   frames are rejected as `shared-track` (fraud). The capture that came first keeps its
//!   frames: the server cannot tell which device copied.

use model::{Fix, FrameEntry, RejectReason};

use crate::geometry::distance_m;

/// How far around a new frame's time earlier frames of the device are looked at.
pub const OVERLAP_WINDOW_MS: i64 = 120_000;

/// Marks every still-unjudged frame of `frames` that no car could reconcile with the
/// nearest-in-time frame the device sent before (`stored`, sorted by time): faster than
/// `max_speed_mps` between them, with a slack of `slack_m` for GNSS noise.
pub fn conflicting_frames(
    frames: &[FrameEntry],
    stored: &[Fix],
    max_speed_mps: f64,
    slack_m: f64,
    verdicts: &mut [Option<RejectReason>],
) {
    if stored.is_empty() {
        return;
    }
    for (entry, verdict) in frames.iter().zip(verdicts.iter_mut()) {
        if verdict.is_some() {
            continue;
        }
        let at = stored.partition_point(|fix| fix.time < entry.fix.time);
        let neighbours = [at.checked_sub(1), Some(at)];
        let impossible = neighbours
            .into_iter()
            .flatten()
            .filter_map(|i| stored.get(i))
            .filter(|fix| (fix.time.millis_since(entry.fix.time)).abs() <= OVERLAP_WINDOW_MS)
            .any(|fix| {
                let seconds = (fix.time.millis_since(entry.fix.time)).abs() as f64 / 1000.0;
                distance_m(fix, &entry.fix) > max_speed_mps * seconds + slack_m
            });
        if impossible {
            *verdict = Some(RejectReason::ClonedKey);
        }
    }
}

/// Two frames of different devices this close in time…
pub const SHARED_TRACK_MAX_GAP_MS: i64 = 1_000;
/// …and in space are one car.
pub const SHARED_TRACK_MAX_DISTANCE_M: f64 = 2.5;
/// A capture needs this many such frames before they are called a shared track (one or two
/// are two cars crossing at a junction).
pub const SHARED_TRACK_MIN_FRAMES: usize = 8;

/// Marks every still-unjudged frame of `frames` that sits on another device's track
/// (`others`, sorted by time), when at least [`SHARED_TRACK_MIN_FRAMES`] do.
pub fn shared_track(frames: &[FrameEntry], others: &[Fix], verdicts: &mut [Option<RejectReason>]) {
    let on_track: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter(|(i, _)| verdicts[*i].is_none())
        .filter(|(_, entry)| {
            let time = entry.fix.time;
            let from = others
                .partition_point(|fix| fix.time.millis_since(time) < -SHARED_TRACK_MAX_GAP_MS);
            others[from..]
                .iter()
                .take_while(|fix| fix.time.millis_since(time) <= SHARED_TRACK_MAX_GAP_MS)
                .any(|fix| distance_m(fix, &entry.fix) <= SHARED_TRACK_MAX_DISTANCE_M)
        })
        .map(|(i, _)| i)
        .collect();
    if on_track.len() >= SHARED_TRACK_MIN_FRAMES {
        for i in on_track {
            verdicts[i] = Some(RejectReason::SharedTrack);
        }
    }
}

#[cfg(test)]
mod tests {
    use model::{FixType, FrameId, TimestampMs};

    use super::*;

    fn fix(t: i64, lon: f64) -> Fix {
        Fix {
            time: TimestampMs(1_700_000_000_000 + t * 1000),
            lat: 43.73,
            lon,
            alt: None,
            heading: None,
            speed: None,
            fix_type: FixType::Fix3d,
            satellites: 8,
            hdop: 1.0,
        }
    }

    fn entries(fixes: &[Fix]) -> Vec<FrameEntry> {
        fixes
            .iter()
            .enumerate()
            .map(|(i, f)| FrameEntry {
                sha256: FrameId::of_bytes(&[i as u8]),
                fix: *f,
            })
            .collect()
    }

    #[test]
    fn the_same_key_in_two_towns_at_once_is_a_cloned_key() {
        // Stored: driving near 7.42°E. New: the same seconds, 0.1° (≈ 8 km) away.
        let stored: Vec<Fix> = (0..60).map(|t| fix(t, 7.42 + t as f64 * 1e-4)).collect();
        let far = entries(&(10..20).map(|t| fix(t, 7.52)).collect::<Vec<_>>());
        let mut verdicts = vec![None; far.len()];
        conflicting_frames(&far, &stored, 100.0, 50.0, &mut verdicts);
        assert!(verdicts.iter().all(|v| *v == Some(RejectReason::ClonedKey)));

        // The next trip, an hour later, anywhere: fine.
        let later = entries(&(3600..3610).map(|t| fix(t, 7.52)).collect::<Vec<_>>());
        let mut verdicts = vec![None; later.len()];
        conflicting_frames(&later, &stored, 100.0, 50.0, &mut verdicts);
        assert!(verdicts.iter().all(Option::is_none));

        // Continuing the same drive right after: fine.
        let next = entries(
            &(61..70)
                .map(|t| fix(t, 7.42 + t as f64 * 1e-4))
                .collect::<Vec<_>>(),
        );
        let mut verdicts = vec![None; next.len()];
        conflicting_frames(&next, &stored, 100.0, 50.0, &mut verdicts);
        assert!(verdicts.iter().all(Option::is_none));
    }

    #[test]
    fn the_same_track_from_a_second_device_is_shared_and_a_convoy_is_not() {
        let drive: Vec<Fix> = (0..60).map(|t| fix(t, 7.42 + t as f64 * 1e-4)).collect();
        // A copy of the track, with a metre of noise: one car.
        let copy: Vec<Fix> = (0..60)
            .map(|t| fix(t, 7.42 + t as f64 * 1e-4 + 1e-5))
            .collect();
        let mut verdicts = vec![None; copy.len()];
        shared_track(&entries(&copy), &drive, &mut verdicts);
        assert!(
            verdicts
                .iter()
                .all(|v| *v == Some(RejectReason::SharedTrack))
        );
        // The car behind, two seconds later on the same road: a convoy, fine.
        let behind: Vec<Fix> = (2..62)
            .map(|t| fix(t, 7.42 + (t - 2) as f64 * 1e-4))
            .collect();
        let mut verdicts = vec![None; behind.len()];
        shared_track(&entries(&behind), &drive, &mut verdicts);
        assert!(verdicts.iter().all(Option::is_none), "{verdicts:?}");
        // Crossing the track for a few seconds: two cars at a junction, fine.
        let crossing = &copy[20..20 + SHARED_TRACK_MIN_FRAMES - 1];
        let mut verdicts = vec![None; crossing.len()];
        shared_track(&entries(crossing), &drive, &mut verdicts);
        assert!(verdicts.iter().all(Option::is_none));
    }
}
