//! What a simulated fleet looks like: how many drivers, how long, which seed, how many
//! dishonest devices of each kind.
//!
//! Never does: simulation (see [`crate::fleet::simulate`]).

use model::TimestampMs;

use crate::error::{Error, Result};

const DAY_MS: i64 = 86_400_000;

/// Monday 2026-11-02 00:00 UTC: the default first day.
pub const DEFAULT_START: TimestampMs = TimestampMs(1_793_577_600_000);

/// How many devices of each dishonest kind join the honest drivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dishonest {
    /// Devices whose every trip jumps kilometres in a second half-way through.
    pub teleporting: u32,
    /// Devices that drive honestly on the first day, then re-upload those trips (same fixes
    /// at later times, the same frames) every later day.
    pub replaying: u32,
    /// Pairs of devices sharing one key, driving at the same times in different places.
    /// Each pair is two devices.
    pub cloned_key_pairs: u32,
    /// Devices that send a generated track (on the road, at a set speed, no receiver
    /// noise) cut into captures of [`SHORT_CAPTURE_FRAMES`] frames, each too short to be
    /// judged alone.
    pub short_captures: u32,
    /// Devices that send a generated track with a fix every [`SPARSE_FIX_EVERY_S`] seconds.
    pub sparse_fixes: u32,
    /// People who drive one route again and again, each time under another of
    /// [`SYBIL_ACCOUNTS`] accounts (each its own device). The work is real; the split is the
    /// attack. Each is [`SYBIL_ACCOUNTS`] devices.
    pub sybil_splits: u32,
    /// Device farms: one phone that drives honestly, and [`FARM_KEYS`]` - 1` more keys that
    /// re-send its footage (re-encoded, so the bytes differ) and its track. Each is
    /// [`FARM_KEYS`] devices.
    pub device_farms: u32,
    /// Devices that drive real routes but report every fix [`GPS_OFFSET_M`] north of where
    /// they are; their frames show where they truly were.
    pub gps_offset: u32,
    /// Devices that send a track with a real receiver's noise along routes they never
    /// drove ([`GENERATED_TRIP_FACTOR`] times an honest trip), with their footage of a town
    /// far away: no track check can tell it from a drive, only the pixels.
    pub smoothed_synthetic: u32,
    /// Devices that claim a track with a real receiver's noise along routes they never
    /// drove, sending an honest driver's published frames cropped 5 %, brightened and
    /// re-encoded: footage of real places, claimed in other cells.
    pub disguised_replay: u32,
}

/// How far north a GPS-offset device reports its fixes, metres.
pub const GPS_OFFSET_M: f64 = 200.0;
/// A spoofer claims this many times an honest trip's length: kilometres it never drove
/// cost it nothing.
pub const GENERATED_TRIP_FACTOR: f64 = 4.0;

/// Frames per capture a short-capture spoofer sends.
pub const SHORT_CAPTURE_FRAMES: usize = 20;
/// Seconds between the fixes of a sparse-fix spoofer.
pub const SPARSE_FIX_EVERY_S: u32 = 5;
/// Accounts one sybil splits his driving over.
pub const SYBIL_ACCOUNTS: u32 = 3;
/// Keys in a device farm, the phone's own included.
pub const FARM_KEYS: u32 = 5;

impl Dishonest {
    /// No dishonest device at all.
    pub fn none() -> Self {
        Self {
            teleporting: 0,
            replaying: 0,
            cloned_key_pairs: 0,
            short_captures: 0,
            sparse_fixes: 0,
            sybil_splits: 0,
            device_farms: 0,
            gps_offset: 0,
            smoothed_synthetic: 0,
            disguised_replay: 0,
        }
    }
}

impl Default for Dishonest {
    /// One of each attack.
    fn default() -> Self {
        Self {
            teleporting: 1,
            replaying: 1,
            cloned_key_pairs: 1,
            short_captures: 1,
            sparse_fixes: 1,
            sybil_splits: 1,
            device_farms: 1,
            gps_offset: 1,
            smoothed_synthetic: 1,
            disguised_replay: 1,
        }
    }
}

/// A fleet to simulate. Everything follows from these values: the same config gives the
/// same fleet, byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetConfig {
    /// Honest drivers (each one device).
    pub drivers: u32,
    pub days: u32,
    pub seed: u64,
    /// The first simulated day: a Monday 00:00 UTC, so days line up with reward epochs.
    pub start: TimestampMs,
    pub trips_per_day: u32,
    /// The length a trip aims at, metres (routes land within ±30 % when the roads allow).
    pub trip_length_m: f64,
    /// Share of honest drivers (0..=1, rounded) who re-drive their first day's routes on
    /// every later day.
    pub repeat_share: f64,
    pub dishonest: Dishonest,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            drivers: 6,
            days: 7,
            seed: 1,
            start: DEFAULT_START,
            trips_per_day: 2,
            trip_length_m: 3_000.0,
            repeat_share: 0.5,
            dishonest: Dishonest::default(),
        }
    }
}

impl FleetConfig {
    /// Checks the values make a fleet; says which one does not.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::Config(message));
        if self.drivers == 0 || self.drivers > 1_000 {
            return invalid(format!("drivers is {}; use 1..=1000", self.drivers));
        }
        if self.days == 0 || self.days > 366 {
            return invalid(format!("days is {}; use 1..=366", self.days));
        }
        if self.trips_per_day == 0 || self.trips_per_day > 12 {
            return invalid(format!(
                "trips_per_day is {}; use 1..=12",
                self.trips_per_day
            ));
        }
        if !(200.0..=100_000.0).contains(&self.trip_length_m) {
            return invalid(format!(
                "trip_length_m is {}; use 200..=100000",
                self.trip_length_m
            ));
        }
        if !(0.0..=1.0).contains(&self.repeat_share) {
            return invalid(format!("repeat_share is {}; use 0..=1", self.repeat_share));
        }
        if self.start.as_millis().rem_euclid(DAY_MS) != 0 || weekday(self.start) != 0 {
            return invalid(format!(
                "start {} is not a Monday 00:00 UTC (reward epochs start then)",
                self.start
            ));
        }
        Ok(())
    }

    /// Midnight UTC of simulated day `day`.
    pub fn day_start(&self, day: u32) -> TimestampMs {
        self.start.saturating_add_ms(i64::from(day) * DAY_MS)
    }

    /// The number of honest drivers who repeat their roads.
    pub fn repeating_drivers(&self) -> u32 {
        (f64::from(self.drivers) * self.repeat_share).round() as u32
    }
}

/// 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
fn weekday(time: TimestampMs) -> i64 {
    (time.as_millis().div_euclid(DAY_MS) + 3).rem_euclid(7)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[test]
    fn the_default_is_valid_and_starts_on_a_monday() {
        assert_eq!(FleetConfig::default().validate().ok(), Some(()));
        assert_eq!(weekday(DEFAULT_START), 0);
    }

    #[rstest]
    #[case::no_drivers(FleetConfig { drivers: 0, ..FleetConfig::default() }, "drivers is 0")]
    #[case::tuesday(FleetConfig { start: DEFAULT_START.saturating_add_ms(DAY_MS), ..FleetConfig::default() }, "start")]
    #[case::noon(FleetConfig { start: DEFAULT_START.saturating_add_ms(DAY_MS / 2), ..FleetConfig::default() }, "start")]
    #[case::share(FleetConfig { repeat_share: 1.5, ..FleetConfig::default() }, "repeat_share")]
    #[case::short(FleetConfig { trip_length_m: 10.0, ..FleetConfig::default() }, "trip_length_m")]
    fn impossible_fleets_are_named(#[case] config: FleetConfig, #[case] names: &str) {
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains(names), "{message}");
    }
}
