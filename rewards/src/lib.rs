//! Reward epochs: who earned what for fresh coverage, provably.
//!
//! Owns: the pure payout math ([`compute`]: inputs → per-contributor integer amounts that,
//! with what stays unallocated, sum exactly to the emission plus the consumption pool, with a
//! per-cell attribution; [`passes`]: the per-cell rank no split over accounts can game), the
//! share of map consumers' spending paid to the contributors of what they used
//! ([`consumption`]), the pay of the first observer of a new map feature ([`discovery`]),
//! the emission schedule ([`EmissionSchedule`]), the epoch calendar
//! ([`EpochId`], ISO weeks), region weights, the manifest and the OpenZeppelin-format
//! Merkle tree, the checks of the device-signed evidence of every frame ([`evidence`]), the
//! oracles' secp256k1-signed epoch reports ([`report`]), and — behind the default `server`
//! feature — a thin IO shell (`shell`) that reads inputs from `store`, writes the published
//! files and rows, verifies closed epochs and serves them over HTTP (`routes`).
//!
//! Never does: network IO or storage in the core (everything under [`compute`], [`passes`],
//! [`consumption`], [`discovery`], [`evidence`], [`report`], [`merkle`], [`manifest`] is
//! pure), or decide whether a frame is acceptable (ingest did that).

pub mod compute;
pub mod consumption;
pub mod discovery;
mod emission;
mod epoch;
mod error;
pub mod evidence;
mod inputs;
pub mod manifest;
pub mod merkle;
pub mod passes;
#[cfg(feature = "server")]
pub mod place_check;
mod regions;
pub mod report;
#[cfg(feature = "server")]
pub mod routes;
#[cfg(feature = "server")]
pub mod shell;
mod split;

pub use compute::{CellAward, EpochResult, compute};
pub use consumption::{ConsumedCellWeek, ConsumptionAward};
pub use discovery::{Discovery, DiscoveryAward};
pub use emission::{EmissionCurve, EmissionSchedule};
pub use epoch::{EPOCH_MS, EpochId, rfc3339};
pub use error::{Error, Result};
pub use inputs::{
    Bounty, CaptureEvidence, EpochInputs, InputHashes, Params, Payees, PayoutRule, RewardFrame,
    bounties_from_geojson,
};
pub use regions::{PPM, Regions};
pub use split::largest_remainder;
