//! A GPS track and time alignment: fixes sorted by time, missing headings filled from the
//! motion, and [`Track::at`] interpolating a fix for any frame time inside the track.
//!
//! Frames outside the track, or inside a gap the receiver did not cover, get no position:
//! the caller drops them with [`crate::DropReason::OutsideTrack`] instead of guessing.

use model::{Fix, TimestampMs};

use crate::geodesy::{bearing_deg, distance_m, lerp_angle_deg};

/// How frames are matched to fixes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlignConfig {
    /// Added to every frame time before the lookup (camera clock minus GPS clock, negated).
    pub offset_ms: i64,
    /// A frame may sit this far before the first or after the last fix.
    pub edge_tolerance_ms: i64,
    /// Two fixes further apart than this are a gap: frames between them get no position.
    pub max_gap_ms: i64,
}

impl Default for AlignConfig {
    fn default() -> Self {
        Self {
            offset_ms: 0,
            edge_tolerance_ms: 1_000,
            max_gap_ms: 5_000,
        }
    }
}

/// Below this many metres between fixes the direction of travel is noise.
const MIN_MOVE_FOR_HEADING_M: f64 = 0.3;

/// A time-ordered GNSS track.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Track {
    fixes: Vec<Fix>,
}

impl Track {
    /// Sorts by time, keeps the first of equal times, drops impossible fixes and fills
    /// missing headings from the direction of travel.
    pub fn new(mut fixes: Vec<Fix>) -> Self {
        fixes.retain(|fix| fix.validate().is_ok());
        fixes.sort_by_key(|fix| fix.time);
        fixes.dedup_by_key(|fix| fix.time);
        for i in 0..fixes.len() {
            if fixes[i].heading.is_some() {
                continue;
            }
            let (a, b) = match (i.checked_sub(1), fixes.get(i + 1)) {
                (_, Some(next)) => (fixes[i], *next),
                (Some(prev), None) => (fixes[prev], fixes[i]),
                (None, None) => continue,
            };
            if distance_m(a.lat, a.lon, b.lat, b.lon) >= MIN_MOVE_FOR_HEADING_M {
                fixes[i].heading = Some(bearing_deg(a.lat, a.lon, b.lat, b.lon));
            }
        }
        Self { fixes }
    }

    pub fn fixes(&self) -> &[Fix] {
        &self.fixes
    }

    pub fn is_empty(&self) -> bool {
        self.fixes.is_empty()
    }

    /// First and last fix time.
    pub fn span(&self) -> Option<(TimestampMs, TimestampMs)> {
        Some((self.fixes.first()?.time, self.fixes.last()?.time))
    }

    /// Along-track length in metres.
    pub fn length_m(&self) -> f64 {
        self.fixes
            .windows(2)
            .map(|w| distance_m(w[0].lat, w[0].lon, w[1].lat, w[1].lon))
            .sum()
    }

    /// The fix at `frame_time + offset`, interpolated between the two fixes around it;
    /// `None` outside the track or inside a gap.
    pub fn at(&self, frame_time: TimestampMs, config: &AlignConfig) -> Option<Fix> {
        let time = frame_time.saturating_add_ms(config.offset_ms);
        let (first, last) = (self.fixes.first()?, self.fixes.last()?);
        if time < first.time {
            return (first.time.millis_since(time) <= config.edge_tolerance_ms)
                .then_some(Fix { time, ..*first });
        }
        if time > last.time {
            return (time.millis_since(last.time) <= config.edge_tolerance_ms)
                .then_some(Fix { time, ..*last });
        }
        let after = self.fixes.partition_point(|fix| fix.time < time);
        let b = self.fixes[after];
        if b.time == time {
            return Some(b);
        }
        let a = self.fixes[after - 1];
        let span = b.time.millis_since(a.time);
        if span > config.max_gap_ms {
            return None;
        }
        let t = time.millis_since(a.time) as f64 / span as f64;
        let lerp = |x: f64, y: f64| x + (y - x) * t;
        let lerp_opt = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => Some(lerp(x, y)),
            (x, y) => x.or(y),
        };
        let heading = match (a.heading, b.heading) {
            (Some(x), Some(y)) => Some(lerp_angle_deg(x, y, t)),
            (x, y) => x.or(y),
        };
        Some(Fix {
            time,
            lat: lerp(a.lat, b.lat),
            lon: lerp(a.lon, b.lon),
            alt: lerp_opt(a.alt, b.alt),
            heading,
            speed: lerp_opt(a.speed, b.speed),
            // The weaker of the two: interpolation cannot improve on its inputs.
            fix_type: a.fix_type.min(b.fix_type),
            satellites: a.satellites.min(b.satellites),
            hdop: a.hdop.max(b.hdop),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use model::FixType;

    use super::*;

    pub(crate) fn fix(time: i64, lat: f64, lon: f64) -> Fix {
        Fix {
            time: TimestampMs(time),
            lat,
            lon,
            alt: Some(10.0),
            heading: None,
            speed: Some(10.0),
            fix_type: FixType::Fix3d,
            satellites: 9,
            hdop: 0.9,
        }
    }

    #[test]
    fn frames_between_fixes_are_interpolated_and_get_a_heading() {
        let track = Track::new(vec![fix(2_000, 48.0001, 11.0), fix(1_000, 48.0, 11.0)]);
        let mid = track
            .at(TimestampMs(1_500), &AlignConfig::default())
            .unwrap();
        assert!((mid.lat - 48.00005).abs() < 1e-9);
        assert!(mid.heading.unwrap() < 1e-6 || mid.heading.unwrap() > 359.99);
        assert_eq!(mid.time, TimestampMs(1_500));
    }

    #[test]
    fn frames_outside_the_track_or_in_a_gap_get_no_position() {
        let track = Track::new(vec![
            fix(1_000, 48.0, 11.0),
            fix(2_000, 48.0001, 11.0),
            fix(60_000, 48.01, 11.0),
        ]);
        let config = AlignConfig::default();
        assert!(track.at(TimestampMs(-1_000), &config).is_none());
        assert!(track.at(TimestampMs(500), &config).is_some());
        assert!(track.at(TimestampMs(30_000), &config).is_none());
        assert!(track.at(TimestampMs(62_000), &config).is_none());
        let shifted = AlignConfig {
            offset_ms: 1_000,
            ..config
        };
        assert_eq!(
            track.at(TimestampMs(0), &shifted).unwrap().time,
            TimestampMs(1_000)
        );
    }
}
