//! Distances and bearings between fixes (haversine on the WGS84 mean radius, via `geo`).

use geo::{Bearing, Distance, Haversine, Point};
use model::Fix;

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
