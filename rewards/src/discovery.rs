//! Discovery rewards: the first observer of a map feature new this epoch is paid from the
//! epoch's emission (Hivemapper pays map-feature contributions; here the first photo of a
//! sign nobody had mapped earns). A changed sign is a new feature — another class at the
//! same place never merges with the old one — so its first observer is paid too.
//!
//! Rules, in integers like the rest of the core:
//! 1. **Eligible.** A discovery counts when its frame is one of the epoch's frames, from the
//!    same device, not flagged as fraud, and its device neither forfeits the epoch nor is
//!    unowned. Each feature counts once.
//! 2. **Pool.** `emission × discovery_share_ppm / 10⁶` (rounded down), taken out of the
//!    emission before coverage is paid — only when at least one discovery is eligible;
//!    otherwise coverage keeps the whole emission.
//! 3. **Equal per feature.** The pool is split equally over the eligible discoveries (in
//!    feature-id order, largest remainder), so every new sign is worth the same.
//! 4. **Fleet split.** A discovery's amount goes to its device's payees as emission does.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use model::{ContributorId, DeviceId, FrameId, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::regions::PPM;
use crate::split::{largest_remainder, mul_div_rem};
use crate::{EpochInputs, Error, Result};

/// A map feature first seen during the epoch, with its first observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// The feature's stable id (`ft-…`), as `/api/v1/features/{id}` serves it.
    pub feature: String,
    pub class: String,
    /// The frame of its first observation, and the device that captured it.
    pub frame: FrameId,
    pub device: DeviceId,
    pub time: TimestampMs,
}

/// What one eligible discovery paid, before the fleet split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryAward {
    pub feature: String,
    pub class: String,
    pub frame: FrameId,
    pub device: DeviceId,
    pub amount: u128,
}

/// The discovery side of an epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryResult {
    /// Taken out of the emission (rule 2); all of it is paid.
    pub pool: u128,
    pub awards: Vec<DiscoveryAward>,
    /// Per contributor, after the fleet split.
    pub earned: BTreeMap<ContributorId, u128>,
}

/// Rules 1–4. `forfeited` are the devices that lose the whole epoch.
pub(crate) fn settle(
    inputs: &EpochInputs,
    emission: u128,
    forfeited: &BTreeSet<DeviceId>,
) -> Result<DiscoveryResult> {
    let share = inputs.params.discovery_share_ppm;
    if share > PPM {
        return Err(Error::DiscoveryShare(share));
    }
    if share == 0 {
        return Ok(DiscoveryResult::default());
    }
    let clean_frames: BTreeSet<(FrameId, DeviceId)> = inputs
        .frames
        .iter()
        .filter(|frame| frame.fraud.is_none())
        .map(|frame| (frame.frame, frame.device))
        .collect();
    let mut seen = BTreeSet::new();
    let mut eligible: Vec<&Discovery> = inputs
        .discoveries
        .iter()
        .filter(|d| {
            clean_frames.contains(&(d.frame, d.device))
                && !forfeited.contains(&d.device)
                && inputs.devices.contains_key(&d.device)
        })
        .filter(|d| seen.insert(d.feature.as_str()))
        .collect();
    eligible.sort_by(|a, b| a.feature.cmp(&b.feature));
    if eligible.is_empty() {
        return Ok(DiscoveryResult::default());
    }
    let pool = mul_div_rem(emission, u128::from(share), u128::from(PPM)).0;
    let equal: Vec<(usize, u128)> = (0..eligible.len()).map(|i| (i, 1)).collect();
    let mut earned: HashMap<ContributorId, u128> = HashMap::new();
    let mut awards = Vec::with_capacity(eligible.len());
    for (discovery, amount) in eligible.into_iter().zip(largest_remainder(pool, &equal)) {
        crate::compute::split_to_payees(&inputs.devices[&discovery.device], amount, &mut earned);
        awards.push(DiscoveryAward {
            feature: discovery.feature.clone(),
            class: discovery.class.clone(),
            frame: discovery.frame,
            device: discovery.device,
            amount,
        });
    }
    Ok(DiscoveryResult {
        pool,
        awards,
        earned: earned.into_iter().filter(|(_, a)| *a > 0).collect(),
    })
}
