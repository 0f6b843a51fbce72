//! What map consumers pay for: the kinds of metered use and the coverage a request consumed,
//! counted in H3 cell-weeks (a res-9 cell's frames captured in one ISO week), so the
//! contributors who made exactly that coverage can be paid from that use.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike};
use h3o::LatLng;

use crate::TimestampMs;
use crate::h3::CONSUMPTION_RESOLUTION;

/// A metered kind of use; also the scope an API key needs for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UsageKind {
    /// Coverage tiles above the free zoom.
    Tiles,
    /// Full-resolution (blurred) frame downloads.
    Imagery,
    /// Search queries.
    Search,
}

impl UsageKind {
    pub const ALL: [Self; 3] = [Self::Tiles, Self::Imagery, Self::Search];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tiles => "tiles",
            Self::Imagery => "imagery",
            Self::Search => "search",
        }
    }
}

impl fmt::Display for UsageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UsageKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| format!("`{text}` is not a kind of use; use tiles, imagery or search"))
    }
}

/// The ISO week of a time, named as reward epochs are (`2026-W48`).
pub fn iso_week(time: TimestampMs) -> String {
    let week = DateTime::from_timestamp_millis(time.as_millis())
        .unwrap_or_default()
        .iso_week();
    format!("{}-W{:02}", week.year(), week.week())
}

/// The UTC day of a moment, `YYYY-MM-DD`: the day metered use is kept under, and the day
/// rewards read it back by.
pub fn utc_day(time: TimestampMs) -> String {
    DateTime::from_timestamp_millis(time.as_millis())
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// A res-9 cell's coverage from one ISO week: the unit a consumer pays for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellWeek {
    /// H3 cell at [`CONSUMPTION_RESOLUTION`], as its integer.
    pub cell: u64,
    /// ISO week the frames were captured in, e.g. `2026-W47`.
    pub week: String,
}

impl CellWeek {
    /// The cell-week of a frame at `lat, lon` captured at `time`; `None` for a non-finite
    /// position. The cell is the H3 parent of the frame's coverage cell, which near a cell's
    /// edge can differ from the res-9 cell the point lies in (H3 children do not tile their
    /// parent exactly): so a cell-week holds exactly the coverage cells under it, and the
    /// store finds its frames by their coverage cells.
    pub fn of(lat: f64, lon: f64, time: TimestampMs) -> Option<Self> {
        let cell = LatLng::new(lat, lon)
            .ok()?
            .to_cell(crate::COVERAGE_RESOLUTION)
            .parent(CONSUMPTION_RESOLUTION)?;
        Some(Self {
            cell: u64::from(cell),
            week: iso_week(time),
        })
    }
}

/// What a response served, attached by its handler (a response extension) for the metering
/// in front of it: each cell-week once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumedCoverage(pub BTreeSet<CellWeek>);

impl ConsumedCoverage {
    /// The cell-weeks of frames given as `(lat, lon, captured at)`.
    pub fn of_frames(frames: impl IntoIterator<Item = (f64, f64, TimestampMs)>) -> Self {
        Self(
            frames
                .into_iter()
                .filter_map(|(lat, lon, time)| CellWeek::of(lat, lon, time))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_are_named_like_epochs() {
        assert_eq!(iso_week(TimestampMs(1_795_392_000_000)), "2026-W48");
        assert_eq!(iso_week(TimestampMs(1_795_392_000_000 - 1)), "2026-W47");
        assert_eq!(iso_week(TimestampMs(1_798_761_600_000)), "2026-W53");
    }

    #[test]
    fn frames_of_one_cell_and_week_are_one_cell_week() {
        let t = TimestampMs(1_795_392_000_000);
        let consumed = ConsumedCoverage::of_frames([
            (48.137_154, 11.575_382, t),
            (48.137_154, 11.575_382, t.saturating_add_ms(60_000)),
            (48.137_154, 11.575_382, t.saturating_add_ms(-1)), // the week before
            (f64::NAN, 0.0, t),                                // not a position
        ]);
        assert_eq!(consumed.0.len(), 2);
        let cell = h3o::CellIndex::try_from(consumed.0.first().unwrap().cell).unwrap();
        assert_eq!(cell.resolution(), CONSUMPTION_RESOLUTION);
    }

    #[test]
    fn a_cell_week_is_the_parent_of_the_coverage_cell_even_where_the_point_lies_outside_it() {
        // Near res-9 edges the res-12 cell of a point has a different res-9 parent than the
        // res-9 cell of the point; over a dense walk some must.
        let t = TimestampMs(1_795_392_000_000);
        let mut differing = 0;
        for step in 0..4_000 {
            let (lat, lon) = (48.13 + step as f64 * 2e-6, 11.57 + step as f64 * 3e-6);
            let position = LatLng::new(lat, lon).unwrap();
            let coverage = position.to_cell(crate::COVERAGE_RESOLUTION);
            let cell_week = CellWeek::of(lat, lon, t).unwrap();
            assert_eq!(
                Some(cell_week.cell),
                coverage.parent(CONSUMPTION_RESOLUTION).map(u64::from)
            );
            differing +=
                usize::from(u64::from(position.to_cell(CONSUMPTION_RESOLUTION)) != cell_week.cell);
        }
        assert!(differing > 0, "the walk crosses no ambiguous edge");
    }

    #[test]
    fn kinds_round_trip_and_unknown_kinds_are_named() {
        for kind in UsageKind::ALL {
            assert_eq!(kind.as_str().parse::<UsageKind>(), Ok(kind));
        }
        assert!("maps".parse::<UsageKind>().unwrap_err().contains("`maps`"));
    }
}
