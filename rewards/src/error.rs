//! The rewards crate's one error type.

use crate::EpochId;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("epoch id {0:?} is not an ISO week such as 2026-W48")]
    EpochId(String),
    #[error("region file is invalid: {0}")]
    Regions(String),
    #[error(
        "regions {first:?} and {second:?} overlap; every place may have one weight, so make them disjoint"
    )]
    RegionsOverlap { first: String, second: String },
    #[error("bounty {id:?} is invalid: {reason}")]
    Bounty { id: String, reason: String },
    #[error(
        "epoch {epoch} is still open: it ends at {ends_at} and closes {grace_hours} h later, once late uploads are in"
    )]
    EpochStillOpen {
        epoch: EpochId,
        ends_at: String,
        grace_hours: i64,
    },
    #[error(
        "epoch {epoch} cannot close yet: {pending} capture(s) with frames in it are still being processed"
    )]
    DataNotComplete { epoch: EpochId, pending: u64 },
    #[error(
        "epoch {0} is not closed yet: it closes once it has ended and its grace period has passed (operators: `waymark rewards close --epoch {0}`)"
    )]
    NotClosed(EpochId),
    #[error(
        "epoch {epoch} cannot close before {earlier}: epochs close in order, so a bounty is never paid twice"
    )]
    EarlierEpochOpen { epoch: EpochId, earlier: EpochId },
    #[error("epoch {0} is being closed by another process right now; try again in a minute")]
    CloseInProgress(EpochId),
    #[error("verification of epoch {epoch} failed: {what}")]
    VerifyFailed { epoch: EpochId, what: String },
    #[error("stored input {0} is missing")]
    MissingInput(String),
    #[error("contributor {contributor} earned nothing in epoch {epoch}, so there is no proof")]
    NoReward { contributor: String, epoch: EpochId },
    #[error("emission {0:?} is not a non-negative integer amount")]
    Emission(String),
    #[error("consumption_share_ppm {0} is more than 1 000 000 (all of the credits spent)")]
    ConsumptionShare(u64),
    #[error("discovery_share_ppm {0} is more than 1 000 000 (all of the emission)")]
    DiscoveryShare(u64),
    #[error(
        "epoch {epoch} cannot close yet: {captures} captures still wait for their map features (discovery rewards need them)"
    )]
    FeaturesPending { epoch: EpochId, captures: u64 },
    #[error(
        "units_per_credit {0:?} is not a non-negative integer amount, or times the credits spent it overflows"
    )]
    UnitsPerCredit(String),
    #[cfg(feature = "server")]
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("the oracle report cannot be made: {0}")]
    Report(String),
    #[error("stored rewards JSON is unreadable: {0}")]
    Json(#[from] serde_json::Error),
}
