//! Reward epochs: ISO weeks, Monday 00:00 UTC to the next Monday 00:00 UTC.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use model::TimestampMs;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

pub const EPOCH_MS: i64 = 7 * 24 * 3600 * 1000;

/// An ISO week, written `2026-W48`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EpochId {
    year: i32,
    week: u32,
}

impl EpochId {
    /// The epoch a moment falls in.
    pub fn containing(time: TimestampMs) -> Self {
        let moment = DateTime::<Utc>::from_timestamp_millis(time.as_millis()).unwrap_or_default();
        let iso = moment.iso_week();
        Self {
            year: iso.year(),
            week: iso.week(),
        }
    }

    /// Monday 00:00 UTC.
    /// `year × 100 + week` (2026-W48 → 202648): the epoch as a number, as contracts hold it.
    pub fn number(self) -> u64 {
        u64::try_from(self.year).unwrap_or(0) * 100 + u64::from(self.week)
    }

    pub fn starts_at(self) -> TimestampMs {
        let monday = NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon)
            .expect("ids are validated on construction");
        TimestampMs(
            monday
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_millis(),
        )
    }

    /// The next Monday 00:00 UTC (exclusive).
    pub fn ends_at(self) -> TimestampMs {
        self.starts_at().saturating_add_ms(EPOCH_MS)
    }

    pub fn next(self) -> Self {
        Self::containing(self.ends_at())
    }

    pub fn previous(self) -> Self {
        Self::containing(self.starts_at().saturating_add_ms(-1))
    }

    /// Whether the epoch's data is complete: it ended at least `grace` ago.
    pub fn is_past_grace(self, now: TimestampMs, grace_ms: i64) -> bool {
        now >= self.ends_at().saturating_add_ms(grace_ms)
    }
}

/// RFC 3339 text of a timestamp, for messages and manifests.
pub fn rfc3339(time: TimestampMs) -> String {
    DateTime::<Utc>::from_timestamp_millis(time.as_millis())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| time.to_string())
}

impl fmt::Display for EpochId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

impl FromStr for EpochId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::EpochId(s.chars().take(40).collect());
        let (year, week) = s.split_once("-W").ok_or_else(bad)?;
        if year.len() != 4 || week.len() != 2 {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let week: u32 = week.parse().map_err(|_| bad())?;
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
        Ok(Self { year, week })
    }
}

impl Serialize for EpochId {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EpochId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Hours in `ms`, for messages.
#[cfg(feature = "server")]
pub fn hours(ms: i64) -> i64 {
    chrono::Duration::milliseconds(ms).num_hours()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks_start_on_monday_utc() {
        let epoch: EpochId = "2026-W48".parse().unwrap();
        assert_eq!(rfc3339(epoch.starts_at()), "2026-11-23T00:00:00.000Z");
        assert_eq!(rfc3339(epoch.ends_at()), "2026-11-30T00:00:00.000Z");
        assert_eq!(EpochId::containing(epoch.starts_at()), epoch);
        assert_eq!(
            EpochId::containing(epoch.ends_at().saturating_add_ms(-1)),
            epoch
        );
        assert_eq!(epoch.next().to_string(), "2026-W49");
        assert_eq!(epoch.previous().to_string(), "2026-W47");
        // The ISO year differs from the calendar year around new year.
        let first: EpochId = "2027-W01".parse().unwrap();
        assert_eq!(rfc3339(first.starts_at()), "2027-01-04T00:00:00.000Z");
        assert_eq!(first.previous().to_string(), "2026-W53");
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in ["2026-48", "2026-W4", "2026-W54", "26-W01", "2026-Wxx", ""] {
            assert!(bad.parse::<EpochId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn grace_gate() {
        let epoch: EpochId = "2026-W47".parse().unwrap();
        let day = 24 * 3600 * 1000;
        assert!(!epoch.is_past_grace(epoch.ends_at(), day));
        assert!(epoch.is_past_grace(epoch.ends_at().saturating_add_ms(day), day));
    }
}
