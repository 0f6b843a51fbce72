//! One device, two places at once: a new capture whose frames sit, in time, among frames
//! the same device already sent from somewhere it could not have driven to in between — a
//! cloned key, or a forged track. Such frames are rejected as `cloned-key` (fraud).
//! Pure.

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
}
