//! The capture manifest: what a device uploads after its frame blobs (DESIGN.md §3).
//!
//! The device signs the exact JSON bytes it sends; the server parses those same bytes and
//! verifies the signature over them, so no re-serialisation ever sits between the two.

use serde::{Deserialize, Serialize};

use crate::{
    CaptureId, DeviceKeypair, DevicePublicKey, DeviceSignature, Fix, FixError, FrameId,
    SignatureError,
};

/// The manifest format this build writes and reads.
pub const MANIFEST_FORMAT_VERSION: u32 = 1;
/// The largest manifest body accepted, in bytes (a 10 000-frame capture is ≈ 3 MB).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// The most frames one capture may list; longer drives are split into several captures.
pub const MAX_FRAMES_PER_CAPTURE: usize = 10_000;
const MAX_LABEL_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is {size} bytes; the limit is {MAX_MANIFEST_BYTES} bytes, split the capture")]
    TooLarge { size: usize },
    #[error(
        "manifest is not valid JSON for format {MANIFEST_FORMAT_VERSION} at line {line}, column {column}: {message}"
    )]
    Malformed {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "manifest format version {found} is not supported; this server reads version {MANIFEST_FORMAT_VERSION}, update the agent"
    )]
    UnsupportedVersion { found: u32 },
    #[error("manifest lists no frames")]
    NoFrames,
    #[error(
        "manifest lists {count} frames; the limit is {MAX_FRAMES_PER_CAPTURE}, split the capture"
    )]
    TooManyFrames { count: usize },
    #[error("manifest field {field} is {chars} characters; the limit is {MAX_LABEL_CHARS}")]
    LabelTooLong { field: &'static str, chars: usize },
    #[error("frame {index} ({frame}) has an impossible fix: {source}")]
    InvalidFix {
        index: usize,
        frame: FrameId,
        source: FixError,
    },
    #[error("manifest signature is invalid: {0}")]
    Signature(#[from] SignatureError),
}

/// One frame as the manifest lists it: the blob's sha256 and the fix it was taken at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameEntry {
    pub sha256: FrameId,
    pub fix: Fix,
}

/// A signed batch of frames from one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureManifest {
    pub format_version: u32,
    pub device_key: DevicePublicKey,
    pub capture_id: CaptureId,
    /// Per device, increasing by one per capture; gaps tell the server captures are missing.
    pub sequence_number: u64,
    pub firmware: String,
    pub camera: String,
    pub frames: Vec<FrameEntry>,
}

/// The probe read first, so a manifest from a newer agent gets "update" instead of a
/// confusing field error.
#[derive(Deserialize)]
struct VersionProbe {
    format_version: u32,
}

impl CaptureManifest {
    /// The bytes to send and sign.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self)
            .expect("a manifest always serialises: no maps with non-string keys")
    }

    /// Serialises and signs: the device side of the protocol.
    pub fn sign(&self, key: &DeviceKeypair) -> (Vec<u8>, DeviceSignature) {
        let body = self.to_json_bytes();
        let signature = key.sign(&body);
        (body, signature)
    }

    /// Parses a manifest body and checks it is well-formed: size, version, shape, limits
    /// and that every fix is physically possible. Says exactly what is wrong.
    pub fn parse(body: &[u8]) -> Result<Self, ManifestError> {
        if body.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge { size: body.len() });
        }
        let probe: VersionProbe = serde_json::from_slice(body).map_err(malformed)?;
        if probe.format_version != MANIFEST_FORMAT_VERSION {
            return Err(ManifestError::UnsupportedVersion {
                found: probe.format_version,
            });
        }
        let manifest: CaptureManifest = serde_json::from_slice(body).map_err(malformed)?;
        manifest.check_limits()?;
        Ok(manifest)
    }

    /// The server side: parses `body` and verifies `signature` over exactly those bytes with
    /// the key the manifest names. Whether that key belongs to a registered, active device is
    /// the caller's question.
    pub fn parse_and_verify(
        body: &[u8],
        signature: &DeviceSignature,
    ) -> Result<Self, ManifestError> {
        let manifest = Self::parse(body)?;
        manifest.device_key.verify(body, signature)?;
        Ok(manifest)
    }

    fn check_limits(&self) -> Result<(), ManifestError> {
        if self.frames.is_empty() {
            return Err(ManifestError::NoFrames);
        }
        if self.frames.len() > MAX_FRAMES_PER_CAPTURE {
            return Err(ManifestError::TooManyFrames {
                count: self.frames.len(),
            });
        }
        for (field, value) in [("firmware", &self.firmware), ("camera", &self.camera)] {
            let chars = value.chars().count();
            if chars > MAX_LABEL_CHARS {
                return Err(ManifestError::LabelTooLong { field, chars });
            }
        }
        for (index, entry) in self.frames.iter().enumerate() {
            entry
                .fix
                .validate()
                .map_err(|source| ManifestError::InvalidFix {
                    index,
                    frame: entry.sha256,
                    source,
                })?;
        }
        Ok(())
    }
}

fn malformed(err: serde_json::Error) -> ManifestError {
    ManifestError::Malformed {
        line: err.line(),
        column: err.column(),
        message: err.to_string(),
    }
}
