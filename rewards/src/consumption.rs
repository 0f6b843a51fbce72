//! Consumption rewards: a share of the credits map consumers spent in the epoch, paid to the
//! contributors whose coverage they used (Hivemapper's map-consumption rewards).
//!
//! Rules, in integers like the rest of the core:
//! 1. **Pool.** `credits spent in the epoch × units_per_credit × consumption_share_ppm / 10⁶`
//!    (rounded down).
//! 2. **Over cell-weeks by spend.** The pool is split over the consumed cell-weeks (an H3
//!    res-9 cell's frames captured in one ISO week) in proportion to the credits spent on
//!    each, with the largest-remainder rule.
//! 3. **Over devices by coverage.** A cell-week's part is split over the devices whose
//!    accepted frames made it, in proportion to their coverage there (distinct res-12 cells),
//!    again by largest remainder. A device that forfeits this epoch (deliberate fraud) or that
//!    nobody owns takes no part; a cell-week left with no device stays unallocated.
//! 4. **Fleet split.** A device's part goes to its payees as its emission does.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use model::{ContributorId, DeviceId};
use serde::{Deserialize, Serialize};

use crate::regions::PPM;
use crate::split::{largest_remainder, mul_div_rem};
use crate::{EpochInputs, Error, Result};

/// One consumed cell-week: what consumers spent on it during the epoch, and who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumedCellWeek {
    /// H3 cell at [`model::CONSUMPTION_RESOLUTION`], as its integer.
    pub cell: u64,
    /// ISO week its frames were captured in, e.g. `2026-W47`.
    pub week: String,
    /// Credits spent on it during the epoch.
    pub credits: u64,
    /// Per device, the distinct res-12 cells its accepted frames cover in this cell-week.
    pub coverage: BTreeMap<DeviceId, u64>,
}

/// Why a device earned what it earned from one consumed cell-week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumptionAward {
    /// H3 res-9 cell, hex.
    pub cell: String,
    pub week: String,
    pub device: DeviceId,
    /// Credits consumers spent on the cell-week.
    pub credits: u64,
    /// The device's distinct res-12 cells there.
    pub coverage: u64,
    /// Paid for it, before the fleet split.
    pub amount: u128,
}

/// The consumption side of an epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumptionResult {
    /// Credits spent in the epoch.
    pub credits: u128,
    /// The amount shared out (rule 1).
    pub pool: u128,
    pub awards: Vec<ConsumptionAward>,
    /// Per contributor, after the fleet split.
    pub earned: BTreeMap<ContributorId, u128>,
}

impl ConsumptionResult {
    pub fn paid(&self) -> u128 {
        self.earned.values().sum()
    }
}

/// The pool of rule 1.
pub fn pool(inputs: &EpochInputs) -> Result<(u128, u128)> {
    let credits: u128 = inputs
        .consumption
        .iter()
        .map(|cell_week| u128::from(cell_week.credits))
        .sum();
    let share = inputs.params.consumption_share_ppm;
    if share > PPM {
        return Err(Error::ConsumptionShare(share));
    }
    let units = inputs.params.units_per_credit_units()?;
    let spent = credits
        .checked_mul(units)
        .ok_or_else(|| Error::UnitsPerCredit(inputs.params.units_per_credit.clone()))?;
    Ok((
        credits,
        mul_div_rem(spent, u128::from(share), u128::from(PPM)).0,
    ))
}

/// Rules 2–4. `forfeited` are the devices that lose the whole epoch.
pub(crate) fn settle(
    inputs: &EpochInputs,
    forfeited: &BTreeSet<DeviceId>,
) -> Result<ConsumptionResult> {
    let (credits, pool) = pool(inputs)?;
    let by_spend: Vec<(usize, u128)> = inputs
        .consumption
        .iter()
        .enumerate()
        .map(|(index, cell_week)| (index, u128::from(cell_week.credits)))
        .collect();
    let parts = largest_remainder(pool, &by_spend);
    let mut awards = Vec::new();
    let mut earned: HashMap<ContributorId, u128> = HashMap::new();
    for (cell_week, part) in inputs.consumption.iter().zip(parts) {
        let makers: Vec<(DeviceId, u128)> = cell_week
            .coverage
            .iter()
            .filter(|(device, cells)| {
                **cells > 0 && !forfeited.contains(device) && inputs.devices.contains_key(device)
            })
            .map(|(device, cells)| (*device, u128::from(*cells)))
            .collect();
        for ((device, coverage), amount) in makers.iter().zip(largest_remainder(part, &makers)) {
            crate::compute::split_to_payees(&inputs.devices[device], amount, &mut earned);
            awards.push(ConsumptionAward {
                cell: format!("{:x}", cell_week.cell),
                week: cell_week.week.clone(),
                device: *device,
                credits: cell_week.credits,
                coverage: *coverage as u64,
                amount,
            });
        }
    }
    Ok(ConsumptionResult {
        credits,
        pool,
        awards,
        earned: earned.into_iter().filter(|(_, a)| *a > 0).collect(),
    })
}
