//! Why a frame was not accepted: one typed reason per check, each with a stable slug that
//! names it on the wire (the problem+json `type`, the status route, the search index).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Every reason a frame can be rejected for. The contributor sees the reason and its
/// [`RejectReason::advice`], so both must say what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectReason {
    // The blob itself.
    NotJpeg,
    FrameTooSmall,
    FrameTooLarge,
    DimensionsTooLarge,
    /// EXIF and other metadata segments over the budget (an "EXIF bomb").
    MetadataTooLarge,
    // Position and time.
    InvalidPosition,
    NullIsland,
    TimeInFuture,
    TimeTooOld,
    TimeNotMonotonic,
    PoorGnss,
    Teleport,
    ZigZag,
    SequenceTooFast,
    Stationary,
    // Duplicates and fraud.
    ExactDuplicate,
    CaptureDuplicate,
    NearDuplicate,
    Replay,
    /// The device's key sent frames from two places at the same moments.
    ClonedKey,
    /// A track too perfect for a real GNSS receiver: generated, not driven.
    SyntheticTrack,
    /// Another device sent the same track at the same moments: one car, two devices.
    SharedTrack,
    /// The frame's own EXIF (its receiver's position or UTC time, its camera) contradicts
    /// where, when and by which camera its manifest says it was taken.
    PhotoMismatch,
    /// The capture's pixels are unlike what other devices saw at the well-mapped places it
    /// claims: held for a reviewer, not paid, but not counted as fraud unless confirmed.
    UnlikePlace,
    /// The capture's places do not vouch for it (mostly nobody else filmed them) and its
    /// device had two captures held [`Self::UnlikePlace`] lately: its pixels prove nothing
    /// there (`model::consensus::device_holds`). Held for a reviewer, like
    /// [`Self::UnlikePlace`].
    UnvouchedPlace,
    /// The capture's moving fixes mostly lie off the mapped roads, or on roads that run
    /// another way (a GPS offset): held for a reviewer, like [`Self::UnlikePlace`].
    OffRoad,
    // Image quality.
    Blurred,
    TooDark,
    Overexposed,
    Obstructed,
    Broken,
    // The server.
    ProcessingFailed,
    /// The frame's upload was no longer on the server when its capture was processed (it
    /// was collected after the grace period without a manifest).
    OriginalMissing,
    /// A reviewer cleared the frame of the fraud it was flagged for; it was never
    /// processed, so it stays out, but it no longer counts against its device.
    ReviewCleared,
}

impl RejectReason {
    pub const ALL: [RejectReason; 34] = [
        Self::NotJpeg,
        Self::FrameTooSmall,
        Self::FrameTooLarge,
        Self::DimensionsTooLarge,
        Self::MetadataTooLarge,
        Self::InvalidPosition,
        Self::NullIsland,
        Self::TimeInFuture,
        Self::TimeTooOld,
        Self::TimeNotMonotonic,
        Self::PoorGnss,
        Self::Teleport,
        Self::ZigZag,
        Self::SequenceTooFast,
        Self::Stationary,
        Self::ExactDuplicate,
        Self::CaptureDuplicate,
        Self::NearDuplicate,
        Self::Replay,
        Self::ClonedKey,
        Self::SyntheticTrack,
        Self::SharedTrack,
        Self::PhotoMismatch,
        Self::UnlikePlace,
        Self::UnvouchedPlace,
        Self::OffRoad,
        Self::Blurred,
        Self::TooDark,
        Self::Overexposed,
        Self::Obstructed,
        Self::Broken,
        Self::ProcessingFailed,
        Self::OriginalMissing,
        Self::ReviewCleared,
    ];

    /// The stable, kebab-case name used on the wire and in storage.
    pub fn slug(self) -> &'static str {
        match self {
            Self::NotJpeg => "not-jpeg",
            Self::FrameTooSmall => "frame-too-small",
            Self::FrameTooLarge => "frame-too-large",
            Self::DimensionsTooLarge => "dimensions-too-large",
            Self::MetadataTooLarge => "metadata-too-large",
            Self::InvalidPosition => "invalid-position",
            Self::NullIsland => "null-island",
            Self::TimeInFuture => "time-in-future",
            Self::TimeTooOld => "time-too-old",
            Self::TimeNotMonotonic => "time-not-monotonic",
            Self::PoorGnss => "poor-gnss",
            Self::Teleport => "teleport",
            Self::ZigZag => "zig-zag",
            Self::SequenceTooFast => "sequence-too-fast",
            Self::Stationary => "stationary",
            Self::ExactDuplicate => "exact-duplicate",
            Self::CaptureDuplicate => "capture-duplicate",
            Self::NearDuplicate => "near-duplicate",
            Self::Replay => "replay",
            Self::ClonedKey => "cloned-key",
            Self::SyntheticTrack => "synthetic-track",
            Self::SharedTrack => "shared-track",
            Self::PhotoMismatch => "photo-mismatch",
            Self::UnlikePlace => "unlike-place",
            Self::UnvouchedPlace => "unvouched-place",
            Self::OffRoad => "off-road",
            Self::Blurred => "blurred",
            Self::TooDark => "too-dark",
            Self::Overexposed => "overexposed",
            Self::Obstructed => "obstructed",
            Self::Broken => "broken",
            Self::ProcessingFailed => "processing-failed",
            Self::OriginalMissing => "original-missing",
            Self::ReviewCleared => "review-cleared",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.slug() == slug)
    }

    /// Whether the reason marks possible fraud (earns nothing, flagged for review) rather
    /// than an honest quality problem.
    pub fn is_fraud_signal(self) -> bool {
        matches!(
            self,
            Self::Teleport
                | Self::Replay
                | Self::ZigZag
                | Self::ClonedKey
                | Self::SyntheticTrack
                | Self::SharedTrack
                | Self::PhotoMismatch
        )
    }

    /// Whether the reason holds frames for a reviewer without counting as fraud: they earn
    /// nothing while held, but cost no reputation and forfeit no epoch unless a reviewer
    /// confirms the case.
    pub fn is_held_for_review(self) -> bool {
        matches!(
            self,
            Self::UnlikePlace | Self::UnvouchedPlace | Self::OffRoad
        )
    }

    /// Whether a rejection for this reason opens a case in the review queue.
    pub fn opens_case(self) -> bool {
        self.is_fraud_signal() || self.is_held_for_review()
    }

    /// One sentence for the contributor: what happened and what to do about it.
    pub fn advice(self) -> &'static str {
        match self {
            Self::NotJpeg => {
                "the blob is not a JPEG; upload frames as baseline or progressive JPEG"
            }
            Self::FrameTooSmall => {
                "the frame is under 25 KB; raise the camera's JPEG quality or resolution"
            }
            Self::FrameTooLarge => "the frame is over 2 MB; lower the camera's JPEG quality",
            Self::DimensionsTooLarge => {
                "the image dimensions are too large to process; resize below 8192 px a side"
            }
            Self::MetadataTooLarge => {
                "the frame carries over 256 KB of EXIF and other metadata; turn off embedded previews and maker notes in the camera"
            }
            Self::InvalidPosition => {
                "the position is outside valid coordinates; check the GPS source"
            }
            Self::NullIsland => "the position is 0,0 (no GPS fix); wait for a fix before capturing",
            Self::TimeInFuture => "the capture time is in the future; check the device clock",
            Self::TimeTooOld => {
                "the capture time is too old to be accepted; upload captures sooner"
            }
            Self::TimeNotMonotonic => {
                "frame times go backwards; check the device clock and GPS time"
            }
            Self::PoorGnss => {
                "the GNSS fix was weak (no 3D fix, few satellites or high hdop); mount the antenna with a clear sky view"
            }
            Self::Teleport => {
                "the position jumps faster than a car can drive; check the GPS source"
            }
            Self::ZigZag => "the track zig-zags in a way a car cannot drive; check the GPS source",
            Self::SequenceTooFast => "the sequence averages over 400 km/h; check the GPS source",
            Self::Stationary => "the device did not move; frames are only useful while driving",
            Self::ExactDuplicate => "this exact image was already uploaded",
            Self::CaptureDuplicate => "the frame is within 1 m and 60° of the previous kept frame",
            Self::NearDuplicate => "the same scene was recently uploaded to this place",
            Self::Replay => {
                "these frames were already uploaded, by another device or for another moment"
            }
            Self::ClonedKey => {
                "another capture of this device was somewhere else at the same moments; the device key is in use on two dashcams"
            }
            Self::SyntheticTrack => {
                "the track has none of the noise a real GNSS receiver has: it was generated, not driven; send the receiver's own fixes"
            }
            Self::SharedTrack => {
                "another device sent the same track at the same moments; one car earns with one device"
            }
            Self::PhotoMismatch => {
                "the frame's own EXIF says it was taken somewhere, at a time or by a camera other than its manifest claims; send each frame with the position and time it was taken at, and declare the camera that took it"
            }
            Self::UnlikePlace => {
                "the frames look unlike what other drivers filmed at the places they claim (another street, another direction, or footage from elsewhere); a reviewer will look at them; check that the GPS and the camera belong to the same dashcam"
            }
            Self::UnvouchedPlace => {
                "this device sent two captures lately whose frames look unlike what other drivers filmed there, so frames of places nobody else has filmed cannot be taken on trust; a reviewer will look at them; check that the GPS and the camera belong to the same dashcam"
            }
            Self::OffRoad => {
                "most positions of the capture lie off the mapped roads, or on roads running another way (a GPS offset, or a road the map does not have yet); a reviewer will look at it; check the GPS source"
            }
            Self::Blurred => {
                "the frame is blurred; clean the lens and check the mount for vibration"
            }
            Self::TooDark => "the frame is too dark to map from",
            Self::Overexposed => "the frame is overexposed; check the camera's exposure settings",
            Self::Obstructed => {
                "the view is obstructed (hood, dashboard or wiper); re-aim the camera"
            }
            Self::Broken => "the image is broken (truncated, uniform or tiny)",
            Self::ProcessingFailed => {
                "the server failed to process this capture after several attempts; upload the frames again in a new capture"
            }
            Self::OriginalMissing => {
                "the server no longer had this frame's upload (uploads without a manifest are deleted after a day); upload it again in a new capture"
            }
            Self::ReviewCleared => {
                "a reviewer cleared this frame of the fraud it was flagged for; it was never processed, so upload it again in a new capture"
            }
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn slugs_are_unique_stable_and_match_serde() {
        let slugs: HashSet<_> = RejectReason::ALL.iter().map(|r| r.slug()).collect();
        assert_eq!(slugs.len(), RejectReason::ALL.len());
        for reason in RejectReason::ALL {
            assert_eq!(RejectReason::from_slug(reason.slug()), Some(reason));
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.slug()));
            assert!(!reason.advice().is_empty());
        }
        assert_eq!(RejectReason::from_slug("nope"), None);
    }
}
