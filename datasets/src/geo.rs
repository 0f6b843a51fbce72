//! Small spherical geometry on `(lon, lat)` degree pairs: distances, bearings, offsets.
//!
//! Never does: projections or anything beyond the few metres-to-kilometres scale of a drive.

/// Mean Earth radius, metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lon1, lat1) = (a.0.to_radians(), a.1.to_radians());
    let (lon2, lat2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Initial bearing from `a` to `b`, degrees clockwise from north in `0..360`.
pub fn bearing_deg(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lon1, lat1) = (a.0.to_radians(), a.1.to_radians());
    let (lon2, lat2) = (b.0.to_radians(), b.1.to_radians());
    let y = (lon2 - lon1).sin() * lat2.cos();
    let x = lat1.cos() * lat2.sin() - lat1.sin() * lat2.cos() * (lon2 - lon1).cos();
    let degrees = y.atan2(x).to_degrees().rem_euclid(360.0);
    if degrees >= 360.0 { 0.0 } else { degrees }
}

/// `point` moved `east_m` metres east and `north_m` metres north.
pub fn offset(point: (f64, f64), east_m: f64, north_m: f64) -> (f64, f64) {
    let lat = point.1 + (north_m / EARTH_RADIUS_M).to_degrees();
    let lon = point.0 + (east_m / (EARTH_RADIUS_M * point.1.to_radians().cos())).to_degrees();
    (lon, lat)
}

/// The point a fraction `t` (0..=1) of the way from `a` to `b` (linear in degrees: fine
/// for the metres between two road nodes).
pub fn lerp(a: (f64, f64), b: (f64, f64), t: f64) -> (f64, f64) {
    (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_degree_of_latitude_is_111_km_and_bearings_point_the_right_way() {
        let d = distance_m((7.42, 43.73), (7.42, 44.73));
        assert!((d - 111_195.0).abs() < 50.0, "{d}");
        assert!((bearing_deg((7.42, 43.73), (7.42, 43.74)) - 0.0).abs() < 1e-6);
        assert!((bearing_deg((7.42, 43.73), (7.43, 43.73)) - 90.0).abs() < 0.1);
        let moved = offset((7.42, 43.73), 30.0, 40.0);
        assert!((distance_m((7.42, 43.73), moved) - 50.0).abs() < 0.05);
    }
}
