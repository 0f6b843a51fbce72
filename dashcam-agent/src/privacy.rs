//! On-device privacy, applied before anything reaches the spool: privacy zones (circles the
//! driver configures around home, work…) and trip trimming (the first and last metres of every
//! trip, where it starts and ends at a door).
//!
//! Trimming the end of a trip needs its end: [`TripTrimmer`] holds kept frames back until the
//! vehicle has travelled `trim_m` past them, and drops whatever it still holds when the trip
//! finishes. A crash loses only those held frames, which were never spooled.

use std::collections::VecDeque;

use model::Fix;
use serde::{Deserialize, Serialize};

use crate::geodesy::distance_m;

fn default_radius_m() -> f64 {
    200.0
}

/// A circle no frame may be taken in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyZone {
    pub lat: f64,
    pub lon: f64,
    #[serde(default = "default_radius_m")]
    pub radius_m: f64,
}

impl PrivacyZone {
    /// A zone of the default 200 m radius.
    pub fn around(lat: f64, lon: f64) -> Self {
        Self {
            lat,
            lon,
            radius_m: default_radius_m(),
        }
    }

    pub fn contains(&self, fix: &Fix) -> bool {
        distance_m(self.lat, self.lon, fix.lat, fix.lon) <= self.radius_m
    }
}

/// True when `fix` lies in any of `zones`.
pub fn in_privacy_zone(zones: &[PrivacyZone], fix: &Fix) -> bool {
    zones.iter().any(|zone| zone.contains(fix))
}

/// Trims the first and last `trim_m` travelled metres of one trip.
#[derive(Debug, Clone)]
pub struct TripTrimmer<T> {
    trim_m: f64,
    travelled_m: f64,
    last: Option<(f64, f64)>,
    held: VecDeque<(f64, T)>,
}

impl<T> TripTrimmer<T> {
    pub fn new(trim_m: f64) -> Self {
        Self {
            trim_m,
            travelled_m: 0.0,
            last: None,
            held: VecDeque::new(),
        }
    }

    /// Advances the trip by one observed fix (every frame's, kept or not).
    pub fn observe(&mut self, fix: &Fix) {
        if let Some((lat, lon)) = self.last {
            self.travelled_m += distance_m(lat, lon, fix.lat, fix.lon);
        }
        self.last = Some((fix.lat, fix.lon));
    }

    /// Still within the first `trim_m` metres.
    pub fn in_trip_start(&self) -> bool {
        self.travelled_m < self.trim_m
    }

    /// Holds `item` (taken at the current position); returns the held items that are now
    /// `trim_m` behind the vehicle, oldest first.
    pub fn hold(&mut self, item: T) -> Vec<T> {
        self.held.push_back((self.travelled_m, item));
        self.release()
    }

    /// Items already far enough behind, without adding one (after [`Self::observe`]).
    pub fn release(&mut self) -> Vec<T> {
        let mut ready = Vec::new();
        while let Some((at, _)) = self.held.front() {
            if self.travelled_m - at < self.trim_m {
                break;
            }
            if let Some((_, item)) = self.held.pop_front() {
                ready.push(item);
            }
        }
        ready
    }

    /// The trip ended: the held items are within its last `trim_m` metres.
    pub fn finish(&mut self) -> Vec<T> {
        self.travelled_m = 0.0;
        self.last = None;
        self.held.drain(..).map(|(_, item)| item).collect()
    }

    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::tests::fix;

    #[test]
    fn a_zone_covers_its_radius() {
        let zone = PrivacyZone::around(48.0, 11.0);
        assert!(zone.contains(&fix(0, 48.0017, 11.0)));
        assert!(!zone.contains(&fix(0, 48.0019, 11.0)));
        assert!(in_privacy_zone(&[zone], &fix(0, 48.0, 11.0)));
        assert!(!in_privacy_zone(&[], &fix(0, 48.0, 11.0)));
    }

    #[test]
    fn first_and_last_100_m_of_a_trip_are_trimmed() {
        // 10 m per fix, 30 fixes = 290 m; a frame held at every fix.
        let mut trimmer = TripTrimmer::new(100.0);
        let mut released = Vec::new();
        let mut started = Vec::new();
        for i in 0..30 {
            trimmer.observe(&fix(i, 48.0 + i as f64 * 10.0 / 111_195.0, 11.0));
            if trimmer.in_trip_start() {
                continue;
            }
            started.push(i);
            released.extend(trimmer.hold(i));
        }
        let ended = trimmer.finish();
        assert_eq!(started.first(), Some(&10));
        // Released: those with ≥ 100 m travelled after them (the last fix is at 290 m).
        assert_eq!(released, (10..=19).collect::<Vec<_>>());
        assert_eq!(ended, (20..30).collect::<Vec<_>>());
        assert_eq!(trimmer.held(), 0);
    }

    #[test]
    fn no_trimming_releases_at_once() {
        let mut trimmer = TripTrimmer::new(0.0);
        trimmer.observe(&fix(0, 48.0, 11.0));
        assert!(!trimmer.in_trip_start());
        assert_eq!(trimmer.hold(7), vec![7]);
    }
}
