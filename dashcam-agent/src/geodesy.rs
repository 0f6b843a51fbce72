//! Distances and bearings on the WGS84 sphere approximation: haversine, initial bearing and
//! linear interpolation between two nearby fixes. Good to centimetres over the few metres
//! between GNSS samples, which is all the agent needs.

/// Mean Earth radius in metres (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres between two positions in degrees.
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let dphi = (lat2 - lat1).to_radians();
    let dlambda = (lon2 - lon1).to_radians();
    let a = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// Initial bearing from the first position to the second, degrees clockwise from north in
/// `0..360`.
pub fn bearing_deg(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let dlambda = (lon2 - lon1).to_radians();
    let y = dlambda.sin() * phi2.cos();
    let x = phi1.cos() * phi2.sin() - phi1.sin() * phi2.cos() * dlambda.cos();
    let bearing = y.atan2(x).to_degrees().rem_euclid(360.0);
    // rem_euclid can round up to exactly 360.0 for tiny negative angles.
    if bearing >= 360.0 { 0.0 } else { bearing }
}

/// Interpolates an angle in degrees the short way round; the result is in `0..360`.
pub fn lerp_angle_deg(a: f64, b: f64, t: f64) -> f64 {
    let delta = (b - a + 540.0).rem_euclid(360.0) - 180.0;
    let angle = (a + delta * t).rem_euclid(360.0);
    if angle >= 360.0 { 0.0 } else { angle }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let d = distance_m(48.0, 11.0, 49.0, 11.0);
        assert!((d - 111_195.0).abs() < 10.0, "{d}");
        assert!((bearing_deg(48.0, 11.0, 49.0, 11.0) - 0.0).abs() < 1e-9);
        assert!((bearing_deg(48.0, 11.0, 48.0, 11.1) - 90.0).abs() < 0.1);
    }

    #[test]
    fn angles_interpolate_across_north() {
        assert!((lerp_angle_deg(350.0, 10.0, 0.5) - 0.0).abs() < 1e-9);
        assert!((lerp_angle_deg(10.0, 350.0, 0.25) - 5.0).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn distance_is_symmetric_and_non_negative(
            lat1 in -80.0f64..80.0, lon1 in -179.0f64..179.0,
            dlat in -0.01f64..0.01, dlon in -0.01f64..0.01,
        ) {
            let there = distance_m(lat1, lon1, lat1 + dlat, lon1 + dlon);
            let back = distance_m(lat1 + dlat, lon1 + dlon, lat1, lon1);
            prop_assert!(there >= 0.0);
            prop_assert!((there - back).abs() < 1e-6);
            let bearing = bearing_deg(lat1, lon1, lat1 + dlat, lon1 + dlon);
            prop_assert!((0.0..360.0).contains(&bearing));
        }
    }
}
