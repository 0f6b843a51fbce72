//! Pass rank ([`PayoutRule::PassRank`], rules 3 and 4 of every epoch closed since issue 24):
//! what a cell pays depends on when it was driven, never on who drove it.
//!
//! Per cell, the eligible frames in (time, frame) order are cut into passes: a pass starts at
//! the first frame [`PASS_WINDOW_MS`] or more after the current pass's first frame. Each pass
//! credits one frame, the one worth the most (value × region weight; ties: the earliest), and
//! pass k in time order earns that worth ×1, ×1/2, ×1/4 for k = 0, 1, 2 (later passes 0),
//! paid to the credited frame's device's payees.
//!
//! Passes and their frames are chosen from times, frame ids and values alone, so relabelling
//! frames between accounts or devices only moves points between those accounts: no cell and
//! nobody else earns a point more or less. With the floor split of rule 7 (the dust stays
//! unallocated) a driver who spreads their work over several accounts or devices earns at most
//! what one account would.
//!
//! The trade-offs:
//! - A second honest car within the hour of the first adds nothing in that cell: it is the
//!   same pass, and only the better frame of the two is paid.
//! - One account driving a cell three times, an hour or more apart, earns 1 + 1/2 + 1/4 = 1.75
//!   of it (×1 under contributor rank) — exactly what three accounts would.
//! - Not monotone: a driver's extra pass before their own later one pushes that one a rank
//!   down, and an earlier frame can move where passes start, so an extra frame can lower its
//!   driver's points.
//!
//! [`PayoutRule::PassRank`]: crate::PayoutRule::PassRank

use std::collections::{BTreeMap, HashMap};

use model::{ContributorId, DeviceId, TimestampMs};

use crate::compute::{CellAward, Eligible, RANK_SHIFTS, split_to_payees};
use crate::regions::PPM;
use crate::{Payees, Regions};

/// How long after a pass's first frame a frame of the cell still belongs to that pass.
pub const PASS_WINDOW_MS: i64 = 3_600_000;

/// Ranks the passes of every cell; returns the per-cell awards (one per pass) and the points
/// of every payee. `eligible` is in (time, frame, device) order, as canonical inputs are.
pub(crate) fn rank_passes(
    eligible: &[Eligible],
    regions: &Regions,
    devices: &BTreeMap<DeviceId, Payees>,
) -> (Vec<CellAward>, HashMap<ContributorId, u128>) {
    let mut cells: BTreeMap<u64, Vec<&Eligible>> = BTreeMap::new();
    for frame in eligible {
        cells.entry(u64::from(frame.cell)).or_default().push(frame);
    }
    let mut awards = Vec::new();
    let mut points = HashMap::new();
    for frames in cells.values() {
        debug_assert!(frames.is_sorted_by_key(|f| (f.time, f.frame)));
        for (rank, pass) in passes(frames, |f| f.time).enumerate() {
            let (frame, region_ppm, worth) = credited(pass, regions);
            let cell_points = match RANK_SHIFTS.get(rank) {
                Some(shift) => worth >> shift,
                None => 0,
            };
            awards.push(CellAward {
                cell: frame.cell.to_string(),
                owner: frame.owner,
                device: frame.device,
                frame: frame.frame,
                rank: rank as u32,
                weight_ppm: frame.weight_ppm,
                quality_ppm: frame.quality_ppm,
                region_ppm,
                points: cell_points,
            });
            split_to_payees(&devices[&frame.device], cell_points, &mut points);
        }
    }
    (awards, points)
}

/// The frame a pass credits, its region weight and its worth (value × region weight): the
/// first of the most worth.
fn credited<'a>(pass: &[&'a Eligible], regions: &Regions) -> (&'a Eligible, u64, u128) {
    let mut best: Option<(&Eligible, u64, u128)> = None;
    for frame in pass {
        let region_ppm = regions.weight_ppm_at(frame.lat, frame.lon);
        let worth = u128::from(frame.value) * u128::from(region_ppm) / u128::from(PPM);
        if best.is_none_or(|(_, _, most)| worth > most) {
            best = Some((frame, region_ppm, worth));
        }
    }
    best.expect("a pass has a frame")
}

/// Cuts items sorted by time into passes: a pass starts at the first item [`PASS_WINDOW_MS`]
/// or more after the current pass's first item.
fn passes<T>(sorted: &[T], time: impl Fn(&T) -> TimestampMs) -> impl Iterator<Item = &[T]> {
    let mut rest = sorted;
    std::iter::from_fn(move || {
        let first = time(rest.first()?);
        let end = rest
            .iter()
            .position(|item| time(item).millis_since(first) >= PASS_WINDOW_MS)
            .unwrap_or(rest.len());
        let (pass, after) = rest.split_at(end);
        rest = after;
        Some(pass)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    fn cut(minutes: &[i64]) -> Vec<Vec<i64>> {
        passes(minutes, |m| TimestampMs(m * MINUTE))
            .map(<[i64]>::to_vec)
            .collect()
    }

    #[test]
    fn a_pass_lasts_an_hour_from_its_first_frame() {
        assert_eq!(cut(&[]), Vec::<Vec<i64>>::new());
        assert_eq!(cut(&[0, 10, 59]), vec![vec![0, 10, 59]]);
        // 60 minutes after the first frame starts the next pass, though only 1 minute after
        // the last one: a pass cannot be stretched by driving on.
        assert_eq!(cut(&[0, 59, 60]), vec![vec![0, 59], vec![60]]);
        assert_eq!(
            cut(&[0, 30, 70, 100, 129, 130, 1_000]),
            vec![vec![0, 30], vec![70, 100, 129], vec![130], vec![1_000]]
        );
    }
}
