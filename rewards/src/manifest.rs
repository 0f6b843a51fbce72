//! The published record of an epoch: a JSON manifest (inputs' hashes, totals, per-contributor
//! amounts, Merkle root) beside the tree dump, the per-cell attribution and the inputs.

use std::collections::BTreeMap;

use model::{ContributorId, DeviceId, PayoutAddress};
use serde::{Deserialize, Serialize};

use crate::compute::{BountyResult, EpochResult};
use crate::discovery::DiscoveryAward;
use crate::epoch::rfc3339;
use crate::merkle::{Leaf, StandardMerkleTree, hex_hash};
use crate::{EpochId, EpochInputs, InputHashes};

pub const MANIFEST_FORMAT: &str = "waymark-rewards-v1";
/// The root published when nobody earned anything (OpenZeppelin has no empty tree).
pub const EMPTY_ROOT: &str = "0x0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardManifest {
    pub format: String,
    pub epoch: EpochId,
    pub starts_at: String,
    pub ends_at: String,
    pub emission: String,
    /// The share of map consumers' spending paid out this epoch (rule 9).
    #[serde(default = "zero")]
    pub consumption_pool: String,
    /// Credits map consumers spent in the epoch.
    #[serde(default = "zero")]
    pub credits_consumed: String,
    /// The share of the emission paid to first observers of new map features (rule 10).
    #[serde(default = "zero")]
    pub discovery_pool: String,
    /// Of the emission and the consumption pool, what nobody could earn.
    pub unallocated: String,
    pub inputs: InputHashes,
    pub merkle_root: String,
    pub totals: Totals,
    pub contributors: Vec<ContributorEntry>,
    pub bounties: Vec<BountyResult>,
    /// Each new map feature that paid its first observer, and how much (before the fleet
    /// split).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discoveries: Vec<DiscoveryEntry>,
    pub files: Files,
}

/// A paid discovery as the manifest lists it (amounts as decimal text like every amount).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryEntry {
    pub feature: String,
    pub class: String,
    pub frame: model::FrameId,
    pub device: DeviceId,
    pub amount: String,
}

impl From<&DiscoveryAward> for DiscoveryEntry {
    fn from(award: &DiscoveryAward) -> Self {
        Self {
            feature: award.feature.clone(),
            class: award.class.clone(),
            frame: award.frame,
            device: award.device,
            amount: award.amount.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub contributors: usize,
    pub emission_paid: String,
    pub bounty_paid: String,
    #[serde(default = "zero")]
    pub consumption_paid: String,
    #[serde(default = "zero")]
    pub discovery_paid: String,
    pub frames: usize,
    pub cells_awarded: usize,
    pub flagged_frames: usize,
    pub flagged_devices: Vec<DeviceId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributorEntry {
    pub contributor: ContributorId,
    /// Where the amount is paid; without one the amount is held out of the tree.
    pub address: Option<PayoutAddress>,
    pub points: String,
    pub emission_amount: String,
    pub bounty_amount: String,
    #[serde(default = "zero")]
    pub consumption_amount: String,
    #[serde(default = "zero")]
    pub discovery_amount: String,
    pub amount: String,
    pub in_tree: bool,
}

/// Fields added after the first manifests were published read as 0 in those.
fn zero() -> String {
    "0".into()
}

/// Blob keys of the files published beside the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Files {
    pub tree: String,
    pub cells: String,
    pub inputs: String,
}

impl Files {
    pub fn for_epoch(epoch: EpochId) -> Self {
        Self {
            tree: format!("rewards/{epoch}/tree.json"),
            cells: format!("rewards/{epoch}/cells.json"),
            inputs: format!("rewards/{epoch}/inputs.json"),
        }
    }

    pub fn manifest_key(epoch: EpochId) -> String {
        format!("rewards/{epoch}/manifest.json")
    }
}

/// The manifest and the tree of a computed epoch.
#[derive(Debug, Clone)]
pub struct Published {
    pub manifest: RewardManifest,
    pub tree: Option<StandardMerkleTree>,
    /// The address of each tree leaf, in leaf order.
    pub leaf_addresses: Vec<PayoutAddress>,
    leaf_amounts: Vec<u128>,
}

impl Published {
    /// The leaf an address claims with: its index and the summed amount.
    pub fn leaf_of(&self, address: PayoutAddress) -> Option<(usize, u128)> {
        let index = self.leaf_addresses.iter().position(|a| *a == address)?;
        Some((index, self.leaf_amounts[index]))
    }
}

/// Builds the manifest and tree from a result. One leaf per payout address (contributors
/// sharing an address are summed, so a distributor that records claims per address pays
/// all of it), in address order; contributors without an address are listed but held out
/// of the tree.
pub fn publish(
    inputs: &EpochInputs,
    result: &EpochResult,
    addresses: &BTreeMap<ContributorId, PayoutAddress>,
) -> Published {
    let mut per_address: BTreeMap<PayoutAddress, u128> = BTreeMap::new();
    let mut contributors = Vec::new();
    for (contributor, earnings) in &result.earnings {
        let address = addresses.get(contributor).copied();
        let amount = earnings.total();
        let in_tree = address.is_some() && amount > 0;
        if let (true, Some(address)) = (in_tree, address) {
            *per_address.entry(address).or_default() += amount;
        }
        contributors.push(ContributorEntry {
            contributor: *contributor,
            address,
            points: earnings.points.to_string(),
            emission_amount: earnings.emission_amount.to_string(),
            bounty_amount: earnings.bounty_amount.to_string(),
            consumption_amount: earnings.consumption_amount.to_string(),
            discovery_amount: earnings.discovery_amount.to_string(),
            amount: amount.to_string(),
            in_tree,
        });
    }
    let leaves: Vec<Leaf> = per_address
        .iter()
        .map(|(address, amount)| Leaf {
            address: *address,
            amount: *amount,
        })
        .collect();
    let tree = StandardMerkleTree::of(&leaves);
    let merkle_root = tree
        .as_ref()
        .map_or_else(|| EMPTY_ROOT.to_owned(), |tree| hex_hash(&tree.root()));
    let emission_paid: u128 = result.earnings.values().map(|e| e.emission_amount).sum();
    let bounty_paid: u128 = result.earnings.values().map(|e| e.bounty_amount).sum();
    let manifest = RewardManifest {
        format: MANIFEST_FORMAT.into(),
        epoch: inputs.epoch,
        starts_at: rfc3339(inputs.epoch.starts_at()),
        ends_at: rfc3339(inputs.epoch.ends_at()),
        emission: result.emission.to_string(),
        consumption_pool: result.consumption.pool.to_string(),
        credits_consumed: result.consumption.credits.to_string(),
        discovery_pool: result.discovery.pool.to_string(),
        unallocated: result.unallocated.to_string(),
        inputs: inputs.hashes(),
        merkle_root,
        totals: Totals {
            contributors: contributors.len(),
            emission_paid: emission_paid.to_string(),
            bounty_paid: bounty_paid.to_string(),
            consumption_paid: result.consumption.paid().to_string(),
            discovery_paid: result.discovery.earned.values().sum::<u128>().to_string(),
            frames: inputs.frames.len(),
            cells_awarded: result.awards.iter().filter(|a| a.points > 0).count(),
            flagged_frames: result.flagged_frames,
            flagged_devices: result.flagged_devices.iter().copied().collect(),
        },
        contributors,
        bounties: result.bounties.clone(),
        discoveries: result
            .discovery
            .awards
            .iter()
            .map(DiscoveryEntry::from)
            .collect(),
        files: Files::for_epoch(inputs.epoch),
    };
    Published {
        manifest,
        tree,
        leaf_addresses: leaves.iter().map(|leaf| leaf.address).collect(),
        leaf_amounts: leaves.iter().map(|leaf| leaf.amount).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::compute::Earnings;
    use crate::{Params, merkle};

    #[test]
    fn contributors_sharing_an_address_get_one_leaf_with_their_sum() {
        let (a, b, c) = (
            ContributorId::new(),
            ContributorId::new(),
            ContributorId::new(),
        );
        let shared = PayoutAddress::from_bytes([7; 20]);
        let own = PayoutAddress::from_bytes([9; 20]);
        let earning = |amount| Earnings {
            points: 1,
            emission_amount: amount,
            bounty_amount: 0,
            consumption_amount: 0,
            discovery_amount: 0,
        };
        let result = EpochResult {
            awards: Vec::new(),
            earnings: [(a, earning(300)), (b, earning(200)), (c, earning(500))]
                .into_iter()
                .collect(),
            emission: 1_000,
            unallocated: 0,
            consumption: Default::default(),
            discovery: Default::default(),
            bounties: Vec::new(),
            flagged_devices: BTreeSet::new(),
            flagged_frames: 0,
        };
        let inputs = EpochInputs {
            epoch: "2026-W40".parse().unwrap(),
            params: Params::emission("1000", Params::DEFAULT_REFILL_MS),
            frames: Vec::new(),
            cells_last_mapped: BTreeMap::new(),
            devices: BTreeMap::new(),
            bounties: Vec::new(),
            regions_geojson: String::new(),
            consumption: Vec::new(),
            discoveries: Vec::new(),
            captures: Vec::new(),
            reputation: Default::default(),
        };
        let addresses = [(a, shared), (b, shared), (c, own)].into_iter().collect();
        let published = publish(&inputs, &result, &addresses);
        assert_eq!(published.leaf_addresses.len(), 2);
        let (index, amount) = published.leaf_of(shared).unwrap();
        assert_eq!(amount, 500);
        let tree = published.tree.as_ref().unwrap();
        let leaf = merkle::Leaf {
            address: shared,
            amount,
        };
        assert!(merkle::verify(&tree.root(), &leaf, &tree.proof(index)));
        assert_eq!(
            published.manifest.contributors.len(),
            3,
            "the breakdown stays per contributor"
        );
    }
}
