//! Positions and the local flat frame the solver works in: east/north metres around an
//! origin (an equirectangular tangent plane, exact to centimetres over the few hundred
//! metres one feature spans).

use serde::{Deserialize, Serialize};

/// Mean Earth radius (IUGG), metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A WGS84 position in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

impl LatLon {
    pub fn new(lat: f64, lon: f64) -> Self {
        Self { lat, lon }
    }

    /// A real place: finite, on the globe, and not null island (0, 0), which only a
    /// missing value ever reports.
    pub fn is_plausible(&self) -> bool {
        self.lat.is_finite()
            && self.lon.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
            && !(self.lat.abs() < 1e-6 && self.lon.abs() < 1e-6)
    }
}

/// A flat east/north frame in metres around `origin`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Local {
    origin: LatLon,
    metres_per_deg_lat: f64,
    metres_per_deg_lon: f64,
}

impl Local {
    pub fn around(origin: LatLon) -> Self {
        let metres_per_deg_lat = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
        Self {
            origin,
            metres_per_deg_lat,
            metres_per_deg_lon: metres_per_deg_lat * origin.lat.to_radians().cos(),
        }
    }

    /// `(east, north)` metres of `point` from the origin.
    pub fn to_xy(&self, point: LatLon) -> (f64, f64) {
        (
            (point.lon - self.origin.lon) * self.metres_per_deg_lon,
            (point.lat - self.origin.lat) * self.metres_per_deg_lat,
        )
    }

    pub fn to_lat_lon(&self, (east, north): (f64, f64)) -> LatLon {
        LatLon {
            lat: self.origin.lat + north / self.metres_per_deg_lat,
            lon: self.origin.lon + east / self.metres_per_deg_lon.max(1e-9),
        }
    }
}

/// Great-circle distance, metres (haversine).
pub fn distance_m(a: LatLon, b: LatLon) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Initial bearing from `a` to `b`, degrees clockwise from north, `0..360`.
pub fn bearing_deg(a: LatLon, b: LatLon) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlon = (b.lon - a.lon).to_radians();
    let y = dlon.sin() * la2.cos();
    let x = la1.cos() * la2.sin() - la1.sin() * la2.cos() * dlon.cos();
    y.atan2(x).to_degrees().rem_euclid(360.0)
}

/// The point `distance_m` from `from` along `bearing`.
pub fn destination(from: LatLon, bearing: f64, distance_m: f64) -> LatLon {
    let local = Local::around(from);
    let b = bearing.to_radians();
    local.to_lat_lon((distance_m * b.sin(), distance_m * b.cos()))
}

/// The smallest angle between two bearings, `0..=180` degrees.
pub fn angle_between(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(360.0);
    d.min(360.0 - d)
}

/// The circular mean of bearings, degrees, or `None` when they cancel out.
pub fn mean_bearing(bearings: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (mut east, mut north) = (0.0, 0.0);
    for b in bearings {
        east += b.to_radians().sin();
        north += b.to_radians().cos();
    }
    (east.hypot(north) > 1e-9).then(|| east.atan2(north).to_degrees().rem_euclid(360.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_frame_round_trips_and_agrees_with_haversine() {
        let origin = LatLon::new(43.7384, 7.4246);
        let local = Local::around(origin);
        let there = destination(origin, 60.0, 100.0);
        let (x, y) = local.to_xy(there);
        assert!((x.hypot(y) - 100.0).abs() < 0.01, "{x} {y}");
        assert!((distance_m(origin, there) - 100.0).abs() < 0.05);
        assert!((bearing_deg(origin, there) - 60.0).abs() < 0.01);
        let back = local.to_lat_lon((x, y));
        assert!((back.lat - there.lat).abs() < 1e-12 && (back.lon - there.lon).abs() < 1e-12);
    }

    #[test]
    fn angles_wrap_around_north() {
        assert_eq!(angle_between(350.0, 10.0), 20.0);
        assert_eq!(angle_between(0.0, 180.0), 180.0);
        let mean = mean_bearing([350.0, 10.0]).unwrap();
        assert!(mean < 1e-9 || (mean - 360.0).abs() < 1e-9);
        assert_eq!(mean_bearing([0.0, 180.0]), None);
    }

    #[test]
    fn null_island_and_nonsense_are_not_places() {
        assert!(!LatLon::new(0.0, 0.0).is_plausible());
        assert!(!LatLon::new(f64::NAN, 1.0).is_plausible());
        assert!(!LatLon::new(91.0, 1.0).is_plausible());
        assert!(LatLon::new(43.7, 7.4).is_plausible());
    }
}
