//! The published record of an epoch: a JSON manifest (inputs' hashes, totals, per-contributor
//! amounts, Merkle root) beside the tree dump, the per-cell attribution and the inputs.

use std::collections::BTreeMap;

use model::{ContributorId, DeviceId, PayoutAddress};
use serde::{Deserialize, Serialize};

use crate::compute::{BountyResult, EpochResult};
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
    pub unallocated: String,
    pub inputs: InputHashes,
    pub merkle_root: String,
    pub totals: Totals,
    pub contributors: Vec<ContributorEntry>,
    pub bounties: Vec<BountyResult>,
    pub files: Files,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub contributors: usize,
    pub emission_paid: String,
    pub bounty_paid: String,
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
    pub amount: String,
    pub in_tree: bool,
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
    /// The contributor of each tree leaf, in leaf order.
    pub leaf_owners: Vec<ContributorId>,
}

/// Builds the manifest and tree from a result. Leaves: contributors with a payout address and
/// a non-zero amount, in contributor-id order.
pub fn publish(
    inputs: &EpochInputs,
    result: &EpochResult,
    addresses: &BTreeMap<ContributorId, PayoutAddress>,
) -> Published {
    let mut leaves = Vec::new();
    let mut leaf_owners = Vec::new();
    let mut contributors = Vec::new();
    for (contributor, earnings) in &result.earnings {
        let address = addresses.get(contributor).copied();
        let amount = earnings.total();
        let in_tree = address.is_some() && amount > 0;
        if let (true, Some(address)) = (in_tree, address) {
            leaves.push(Leaf { address, amount });
            leaf_owners.push(*contributor);
        }
        contributors.push(ContributorEntry {
            contributor: *contributor,
            address,
            points: earnings.points.to_string(),
            emission_amount: earnings.emission_amount.to_string(),
            bounty_amount: earnings.bounty_amount.to_string(),
            amount: amount.to_string(),
            in_tree,
        });
    }
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
        unallocated: result.unallocated.to_string(),
        inputs: inputs.hashes(),
        merkle_root,
        totals: Totals {
            contributors: contributors.len(),
            emission_paid: emission_paid.to_string(),
            bounty_paid: bounty_paid.to_string(),
            frames: inputs.frames.len(),
            cells_awarded: result.awards.iter().filter(|a| a.points > 0).count(),
            flagged_frames: result.flagged_frames,
            flagged_devices: result.flagged_devices.iter().copied().collect(),
        },
        contributors,
        bounties: result.bounties.clone(),
        files: Files::for_epoch(inputs.epoch),
    };
    Published {
        manifest,
        tree,
        leaf_owners,
    }
}
