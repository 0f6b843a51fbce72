//! One GNSS fix as the receiver reported it, in wire units.

use serde::{Deserialize, Serialize};

use crate::TimestampMs;

/// The receiver's fix quality. Only [`FixType::Fix3d`] and better pass the device gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixType {
    NoFix,
    Fix2d,
    Fix3d,
    /// Differential (SBAS/DGPS) 3D fix.
    Dgps,
    RtkFloat,
    RtkFixed,
}

impl FixType {
    /// A 3D fix or better: what the GNSS gate of DESIGN.md §4 asks for.
    pub fn is_3d(self) -> bool {
        self >= FixType::Fix3d
    }
}

/// Why a fix is not physically meaningful (not a policy decision: gates live in the stages).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FixError {
    #[error("latitude {0} is outside -90..=90 degrees")]
    Latitude(f64),
    #[error("longitude {0} is outside -180..=180 degrees")]
    Longitude(f64),
    #[error("heading {0} is outside 0..360 degrees")]
    Heading(f64),
    #[error("speed {0} m/s is negative or not a number")]
    Speed(f64),
    #[error("hdop {0} is negative or not a number")]
    Hdop(f32),
    #[error("altitude {0} m is not a finite number")]
    Altitude(f64),
}

/// A GNSS fix: time (ms UTC), WGS84 position, and what the receiver said about its quality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    pub time: TimestampMs,
    /// Degrees, WGS84.
    pub lat: f64,
    /// Degrees, WGS84.
    pub lon: f64,
    /// Metres above mean sea level, when the receiver knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<f64>,
    /// Degrees clockwise from true north, `0..360`, when moving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<f64>,
    /// Metres per second over ground.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    pub fix_type: FixType,
    pub satellites: u8,
    pub hdop: f32,
}

impl Fix {
    /// Checks the values are physically possible; says which one is not.
    pub fn validate(&self) -> Result<(), FixError> {
        if !(-90.0..=90.0).contains(&self.lat) {
            return Err(FixError::Latitude(self.lat));
        }
        if !(-180.0..=180.0).contains(&self.lon) {
            return Err(FixError::Longitude(self.lon));
        }
        if let Some(heading) = self.heading
            && !(0.0..360.0).contains(&heading)
        {
            return Err(FixError::Heading(heading));
        }
        if let Some(speed) = self.speed
            && !(speed >= 0.0 && speed.is_finite())
        {
            return Err(FixError::Speed(speed));
        }
        if let Some(alt) = self.alt
            && !alt.is_finite()
        {
            return Err(FixError::Altitude(alt));
        }
        if !(self.hdop >= 0.0 && self.hdop.is_finite()) {
            return Err(FixError::Hdop(self.hdop));
        }
        Ok(())
    }

    /// The H3 cell of this fix at `resolution`; `None` only if the position is invalid.
    pub fn cell(&self, resolution: h3o::Resolution) -> Option<h3o::CellIndex> {
        h3o::LatLng::new(self.lat, self.lon)
            .ok()
            .map(|ll| ll.to_cell(resolution))
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn munich() -> Fix {
        Fix {
            time: TimestampMs(1_410_324_847_000),
            lat: 48.137_154,
            lon: 11.575_382,
            alt: Some(519.0),
            heading: Some(271.5),
            speed: Some(12.0),
            fix_type: FixType::Fix3d,
            satellites: 9,
            hdop: 0.9,
        }
    }

    #[test]
    fn a_real_fix_is_valid_and_has_a_cell() {
        let fix = munich();
        assert_eq!(fix.validate(), Ok(()));
        assert!(fix.cell(crate::COVERAGE_RESOLUTION).is_some());
        assert!(fix.fix_type.is_3d());
        assert!(!FixType::Fix2d.is_3d());
    }

    #[rstest]
    #[case::lat(Fix { lat: 91.0, ..munich() }, "latitude 91")]
    #[case::lon(Fix { lon: -180.5, ..munich() }, "longitude -180.5")]
    #[case::nan_lat(Fix { lat: f64::NAN, ..munich() }, "latitude NaN")]
    #[case::heading(Fix { heading: Some(360.0), ..munich() }, "heading 360")]
    #[case::speed(Fix { speed: Some(-1.0), ..munich() }, "speed -1")]
    #[case::hdop(Fix { hdop: f32::INFINITY, ..munich() }, "hdop inf")]
    fn impossible_values_are_named(#[case] fix: Fix, #[case] starts: &str) {
        let err = fix.validate().unwrap_err().to_string();
        assert!(err.starts_with(starts), "{err}");
    }

    #[test]
    fn json_round_trip_and_unknown_fields_are_refused() {
        let fix = munich();
        let json = serde_json::to_string(&fix).unwrap();
        assert_eq!(serde_json::from_str::<Fix>(&json).unwrap(), fix);
        let with_extra = json.replace("\"hdop\"", "\"pdop\":1.0,\"hdop\"");
        assert!(serde_json::from_str::<Fix>(&with_extra).is_err());
    }
}
