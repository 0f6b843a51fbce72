//! Waymark's shared vocabulary: the types two or more stages exchange.
//!
//! Owns: ids ([`DeviceId`], [`ContributorId`], [`CaptureId`], [`FrameId`]), the payout
//! [`PayoutAddress`], the GNSS [`Fix`], the versioned, signed [`CaptureManifest`] of the
//! agent → ingest wire protocol, device keys and signatures ([`DeviceKeypair`],
//! [`DevicePublicKey`]), typed [`RejectReason`]s, RFC 9457 [`Problem`]s, the JPEG header
//! reader every receiver of images uses ([`JpegHeader`]), vision's per-frame report
//! ([`FrameReport`], [`AnalyzedFrame`]: produced by `vision`, consumed by `ingest`), what a
//! map consumer's request consumed ([`ConsumedCoverage`] of [`CellWeek`]s, by [`UsageKind`])
//! and the H3 resolutions every stage agrees on.
//!
//! Never does: IO, async, persistence or any domain decision (those belong to the stages).

mod address;
pub mod consensus;
mod consumption;
mod fix;
pub mod footage;
mod frame_report;
mod h3;
mod ids;
mod jpeg;
mod manifest;
pub mod photo;
mod problem;
mod reject;
pub mod reputation;
pub mod roads;
mod signing;
mod time;

pub use address::{AddressError, PayoutAddress};
pub use consumption::{CellWeek, ConsumedCoverage, UsageKind, iso_week, utc_day};
pub use fix::{Fix, FixError, FixType};
pub use frame_report::{
    AnalyzedFrame, FrameReport, ImageBox, PrivacyKind, PrivacyRegion, QualityMeasures,
    QualityProblem, QualityReport, QualityVerdict, SignDetection,
};
pub use h3::{CONSUMPTION_RESOLUTION, COVERAGE_RESOLUTION, SEARCH_RESOLUTIONS};
pub use ids::{CaptureId, ContributorId, DeviceId, FrameId, IdError};
pub use jpeg::{JpegError, JpegHeader};
pub use manifest::{
    CaptureManifest, FrameEntry, MANIFEST_FORMAT_VERSION, MAX_FRAMES_PER_CAPTURE,
    MAX_MANIFEST_BYTES, ManifestError,
};
pub use problem::{PROBLEM_TYPE_BASE, Problem};
pub use reject::RejectReason;
pub use signing::{
    DeviceKeypair, DevicePublicKey, DeviceSignature, KeyError, REQUEST_MAX_SKEW_MS, SignatureError,
    request_signing_payload,
};
pub use time::TimestampMs;
