//! Which frames are worth keeping: the GNSS, speed and frame-size gates and the
//! travelled-distance sampler of DESIGN.md §4 (8 m, 12 m above 24 m/s). Pure: a [`Sampler`]
//! sees every fix of a trip in order and answers keep or drop-with-reason.

use model::Fix;
use serde::{Deserialize, Serialize};

use crate::geodesy::distance_m;

/// The thresholds, defaults from DESIGN.md §4.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingConfig {
    /// Keep a frame every this many metres travelled…
    pub spacing_m: f64,
    /// …or every this many above `fast_speed_mps`.
    pub fast_spacing_m: f64,
    pub fast_speed_mps: f64,
    /// Slower than this is standing still: the frame is dropped.
    pub min_speed_mps: f64,
    /// Faster than this is a bad fix or not a road vehicle.
    pub max_speed_mps: f64,
    /// At least this many satellites. A source that does not report a count gives 0, which
    /// passes: the fix type and hdop still gate it.
    pub min_satellites: u8,
    pub max_hdop: f32,
    /// Frame size limits in bytes (the server refuses frames outside them).
    pub min_frame_bytes: usize,
    pub max_frame_bytes: usize,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            spacing_m: 8.0,
            fast_spacing_m: 12.0,
            fast_speed_mps: 24.0,
            min_speed_mps: 0.15,
            max_speed_mps: 40.0,
            min_satellites: 4,
            max_hdop: 4.0,
            min_frame_bytes: 25 * 1024,
            max_frame_bytes: 2 * 1024 * 1024,
        }
    }
}

/// Why a frame was not kept. Counted per trip and shown by `waymark-agent status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// No fix covers the frame time (before, after or in a gap of the track).
    OutsideTrack,
    /// The fix is physically impossible.
    InvalidFix,
    NoFix3d,
    FewSatellites,
    HighHdop,
    Stationary,
    TooFast,
    FrameTooSmall,
    FrameTooLarge,
    /// Closer to the last kept frame than the spacing.
    TooClose,
    PrivacyZone,
    TripStart,
    TripEnd,
}

impl DropReason {
    pub fn slug(self) -> &'static str {
        match self {
            Self::OutsideTrack => "outside_track",
            Self::InvalidFix => "invalid_fix",
            Self::NoFix3d => "no_fix_3d",
            Self::FewSatellites => "few_satellites",
            Self::HighHdop => "high_hdop",
            Self::Stationary => "stationary",
            Self::TooFast => "too_fast",
            Self::FrameTooSmall => "frame_too_small",
            Self::FrameTooLarge => "frame_too_large",
            Self::TooClose => "too_close",
            Self::PrivacyZone => "privacy_zone",
            Self::TripStart => "trip_start",
            Self::TripEnd => "trip_end",
        }
    }
}

/// The GNSS quality gate alone.
pub fn gnss_gate(fix: &Fix, config: &SamplingConfig) -> Result<(), DropReason> {
    if fix.validate().is_err() {
        return Err(DropReason::InvalidFix);
    }
    if !fix.fix_type.is_3d() {
        return Err(DropReason::NoFix3d);
    }
    if fix.satellites != 0 && fix.satellites < config.min_satellites {
        return Err(DropReason::FewSatellites);
    }
    if fix.hdop > config.max_hdop {
        return Err(DropReason::HighHdop);
    }
    Ok(())
}

/// The frame size gate alone.
pub fn size_gate(frame_bytes: usize, config: &SamplingConfig) -> Result<(), DropReason> {
    if frame_bytes < config.min_frame_bytes {
        return Err(DropReason::FrameTooSmall);
    }
    if frame_bytes > config.max_frame_bytes {
        return Err(DropReason::FrameTooLarge);
    }
    Ok(())
}

/// The spacing that applies at `speed_mps`.
pub fn spacing_m(speed_mps: f64, config: &SamplingConfig) -> f64 {
    if speed_mps > config.fast_speed_mps {
        config.fast_spacing_m
    } else {
        config.spacing_m
    }
}

/// Distance sampling over one trip: feed every frame's fix in time order.
#[derive(Debug, Clone, Default)]
pub struct Sampler {
    config: SamplingConfig,
    previous: Option<Fix>,
    /// Metres travelled since the last kept frame; `None` before the first.
    since_kept_m: Option<f64>,
}

impl Sampler {
    pub fn new(config: SamplingConfig) -> Self {
        Self {
            config,
            previous: None,
            since_kept_m: None,
        }
    }

    /// Keep or drop the frame taken at `fix` whose JPEG is `frame_bytes` long.
    pub fn decide(&mut self, fix: &Fix, frame_bytes: usize) -> Result<(), DropReason> {
        gnss_gate(fix, &self.config)?;
        let step_m = self
            .previous
            .map_or(0.0, |prev| distance_m(prev.lat, prev.lon, fix.lat, fix.lon));
        let measured_speed = self.previous.and_then(|prev| {
            let dt_s = fix.time.millis_since(prev.time) as f64 / 1000.0;
            (dt_s > 0.0).then_some(step_m / dt_s)
        });
        self.previous = Some(*fix);
        if let Some(since) = self.since_kept_m.as_mut() {
            *since += step_m;
        }
        // Unknown only for a first frame whose source reports no speed: not gated.
        let speed = fix.speed.or(measured_speed);
        if speed.is_some_and(|s| s < self.config.min_speed_mps) {
            return Err(DropReason::Stationary);
        }
        if speed.is_some_and(|s| s > self.config.max_speed_mps) {
            return Err(DropReason::TooFast);
        }
        let speed = speed.unwrap_or(0.0);
        if let Some(since) = self.since_kept_m
            && since < spacing_m(speed, &self.config)
        {
            return Err(DropReason::TooClose);
        }
        size_gate(frame_bytes, &self.config)?;
        self.since_kept_m = Some(0.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use model::{FixType, TimestampMs};
    use proptest::prelude::*;
    use rstest::rstest;

    use super::*;
    use crate::track::tests::fix;

    const FRAME: usize = 100_000;

    #[rstest]
    #[case::two_d(Fix { fix_type: FixType::Fix2d, ..fix(0, 1.0, 1.0) }, DropReason::NoFix3d)]
    #[case::three_sats(Fix { satellites: 3, ..fix(0, 1.0, 1.0) }, DropReason::FewSatellites)]
    #[case::hdop(Fix { hdop: 4.5, ..fix(0, 1.0, 1.0) }, DropReason::HighHdop)]
    #[case::parked(Fix { speed: Some(0.1), ..fix(0, 1.0, 1.0) }, DropReason::Stationary)]
    #[case::plane(Fix { speed: Some(41.0), ..fix(0, 1.0, 1.0) }, DropReason::TooFast)]
    #[case::bad(Fix { lat: 95.0, ..fix(0, 1.0, 1.0) }, DropReason::InvalidFix)]
    fn gates_name_the_reason(#[case] bad: Fix, #[case] reason: DropReason) {
        assert_eq!(Sampler::default_config().decide(&bad, FRAME), Err(reason));
    }

    #[test]
    fn frame_sizes_outside_25kb_to_2mb_are_dropped() {
        let mut sampler = Sampler::default_config();
        assert_eq!(
            sampler.decide(&fix(0, 1.0, 1.0), 20_000),
            Err(DropReason::FrameTooSmall)
        );
        assert_eq!(
            sampler.decide(&fix(0, 1.0, 1.0), 3_000_000),
            Err(DropReason::FrameTooLarge)
        );
        assert_eq!(sampler.decide(&fix(0, 1.0, 1.0), FRAME), Ok(()));
    }

    /// A straight drive north at `speed` m/s, one fix per 100 ms; returns the kept indices.
    fn drive(speed: f64, steps: usize) -> Vec<usize> {
        let mut sampler = Sampler::default_config();
        let metres_per_degree = 111_195.0;
        (0..steps)
            .filter(|&i| {
                let lat = 48.0 + speed * 0.1 * i as f64 / metres_per_degree;
                let fix = Fix {
                    speed: Some(speed),
                    time: TimestampMs(i as i64 * 100),
                    ..fix(0, lat, 11.0)
                };
                sampler.decide(&fix, FRAME).is_ok()
            })
            .collect()
    }

    #[test]
    fn spacing_is_8_m_in_town_and_12_m_on_the_motorway() {
        // 10 m/s: a fix every metre, a frame every 8.
        let town = drive(10.0, 100);
        assert_eq!(town[..4], [0, 8, 16, 24]);
        // 30 m/s: 3 m per fix, a frame every 12 m = 4 fixes.
        let motorway = drive(30.0, 40);
        assert_eq!(motorway[..4], [0, 4, 8, 12]);
    }

    proptest! {
        #[test]
        fn kept_frames_are_never_closer_than_the_spacing(
            speed in 0.5f64..39.0, steps in 2usize..300,
        ) {
            let kept = drive(speed, steps);
            let step_m = speed * 0.1;
            for pair in kept.windows(2) {
                let gap = (pair[1] - pair[0]) as f64 * step_m;
                prop_assert!(gap >= spacing_m(speed, &SamplingConfig::default()) - 1e-6);
            }
        }
    }

    impl Sampler {
        fn default_config() -> Self {
            Self::new(SamplingConfig::default())
        }
    }
}
