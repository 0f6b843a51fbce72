//! Distances and bearings between fixes (haversine on the WGS84 mean radius, via `geo`).

use geo::{Bearing, Distance, Haversine, Point};
use model::{Fix, TimestampMs};

/// Metres between two fixes.
pub fn distance_m(a: &Fix, b: &Fix) -> f64 {
    Haversine.distance(point(a), point(b))
}

/// Initial bearing from `a` to `b`, degrees clockwise from north in `0..360`.
pub fn bearing_deg(a: &Fix, b: &Fix) -> f64 {
    Haversine.bearing(point(a), point(b)).rem_euclid(360.0)
}

/// The smallest angle between two headings, `0..=180` degrees.
pub fn heading_change_deg(a: f64, b: f64) -> f64 {
    let diff = (a - b).rem_euclid(360.0);
    diff.min(360.0 - diff)
}

/// The time span and the box of a set of fixes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackBounds {
    pub start: TimestampMs,
    pub end: TimestampMs,
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

impl TrackBounds {
    /// `(south, west, north, east)` grown by `metres` on every side.
    pub fn padded(&self, metres: f64) -> (f64, f64, f64, f64) {
        let lat = metres / METRES_PER_DEGREE;
        let widest = self.south.abs().max(self.north.abs()).min(89.0);
        let lon = metres / (METRES_PER_DEGREE * widest.to_radians().cos());
        (
            self.south - lat,
            self.west - lon,
            self.north + lat,
            self.east + lon,
        )
    }
}

/// Metres per degree of latitude on the WGS84 mean radius.
const METRES_PER_DEGREE: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// The bounds of `fixes`; `None` when there are none.
pub fn bounds<'a>(fixes: impl IntoIterator<Item = &'a Fix>) -> Option<TrackBounds> {
    fixes.into_iter().fold(None, |bounds, fix| {
        Some(match bounds {
            None => TrackBounds {
                start: fix.time,
                end: fix.time,
                south: fix.lat,
                west: fix.lon,
                north: fix.lat,
                east: fix.lon,
            },
            Some(b) => TrackBounds {
                start: b.start.min(fix.time),
                end: b.end.max(fix.time),
                south: b.south.min(fix.lat),
                west: b.west.min(fix.lon),
                north: b.north.max(fix.lat),
                east: b.east.max(fix.lon),
            },
        })
    })
}

fn point(fix: &Fix) -> Point<f64> {
    Point::new(fix.lon, fix.lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_changes_wrap_around_north() {
        assert_eq!(heading_change_deg(350.0, 10.0), 20.0);
        assert_eq!(heading_change_deg(10.0, 350.0), 20.0);
        assert_eq!(heading_change_deg(0.0, 180.0), 180.0);
        assert_eq!(heading_change_deg(90.0, 90.0), 0.0);
    }
}
