//! Checking that an epoch's frames came from their devices (pure): every frame of the
//! inputs is listed by a capture's evidence, and each capture's published manifest body has
//! the hash the inputs name, carries its device's signature over exactly those bytes, and
//! lists each frame at the time and place the inputs give it. What an outside verifier runs
//! on the published files; the operator's word is needed only for what no device signs
//! (vision's quality score, fraud flags, the cell history before the epoch).

use std::collections::BTreeMap;

use model::{CaptureId, CaptureManifest, DeviceId, DeviceSignature, FrameId};
use sha2::{Digest, Sha256};

use crate::{CaptureEvidence, EpochInputs, RewardFrame};

/// Coordinates are compared to this many degrees (≈ 1 mm): the same f64 read back.
const SAME_PLACE_DEG: f64 = 1e-8;

/// One thing the evidence does not support, naming the capture or frame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvidenceProblem {
    #[error(
        "frame {frame} of device {device} is in the inputs {copies} times but listed by {captures} of that device's captures"
    )]
    Unlisted {
        frame: FrameId,
        device: DeviceId,
        copies: usize,
        captures: usize,
    },
    #[error(
        "capture {capture} lists frame {frame}, which its device has not among the epoch's frames"
    )]
    Extra { capture: CaptureId, frame: FrameId },
    #[error("device {device} signs with {first} in one capture and {second} in another")]
    TwoKeys {
        device: DeviceId,
        first: String,
        second: String,
    },
    #[error(
        "capture {capture}: the published manifest's sha256 is {found}, the inputs say {expected}"
    )]
    ManifestHash {
        capture: CaptureId,
        expected: String,
        found: String,
    },
    #[error("capture {capture}: the manifest is not validly signed by its device: {reason}")]
    Signature { capture: CaptureId, reason: String },
    #[error(
        "capture {capture}: the manifest is signed by key {found}, the inputs give device key {expected}"
    )]
    OtherKey {
        capture: CaptureId,
        expected: String,
        found: String,
    },
    #[error("capture {capture}: the signed manifest is of capture {found}")]
    OtherCapture {
        capture: CaptureId,
        found: CaptureId,
    },
    #[error("capture {capture}: the signed manifest does not list frame {frame}")]
    NotSigned { capture: CaptureId, frame: FrameId },
    #[error("frame {frame}: the inputs give {claimed}, the device signed {signed}")]
    Moved {
        frame: FrameId,
        claimed: String,
        signed: String,
    },
}

/// The epoch's frames by id and device: one frame's bytes may be in several captures (a
/// replay, a key cloned onto two dashcams), each a frame of its own in the inputs.
pub type FramesByDevice<'a> = BTreeMap<(FrameId, DeviceId), Vec<&'a RewardFrame>>;

/// [`FramesByDevice`] of `inputs`.
pub fn frames_by_device(inputs: &EpochInputs) -> FramesByDevice<'_> {
    let mut frames: FramesByDevice<'_> = BTreeMap::new();
    for frame in &inputs.frames {
        frames
            .entry((frame.frame, frame.device))
            .or_default()
            .push(frame);
    }
    frames
}

/// Checks the evidence against the frames alone (no manifest bodies needed): every frame
/// of the inputs listed by a capture of its own device (as often as the inputs hold it), no
/// capture listing a frame its device has not in the epoch, one key per device.
pub fn check_listing(inputs: &EpochInputs) -> Vec<EvidenceProblem> {
    let mut problems = Vec::new();
    let mut listed: BTreeMap<(FrameId, DeviceId), Vec<CaptureId>> = BTreeMap::new();
    let mut keys: BTreeMap<DeviceId, &str> = BTreeMap::new();
    for evidence in &inputs.captures {
        for frame in &evidence.frames {
            listed
                .entry((*frame, evidence.device))
                .or_default()
                .push(evidence.capture);
        }
        match keys.get(&evidence.device) {
            Some(first) if *first != evidence.device_key => {
                problems.push(EvidenceProblem::TwoKeys {
                    device: evidence.device,
                    first: (*first).to_owned(),
                    second: evidence.device_key.clone(),
                });
            }
            _ => {
                keys.insert(evidence.device, &evidence.device_key);
            }
        }
    }
    let frames = frames_by_device(inputs);
    for ((frame, device), copies) in &frames {
        let captures = listed.get(&(*frame, *device)).map_or(0, Vec::len);
        if captures < copies.len() {
            problems.push(EvidenceProblem::Unlisted {
                frame: *frame,
                device: *device,
                copies: copies.len(),
                captures,
            });
        }
    }
    for ((frame, device), captures) in &listed {
        if !frames.contains_key(&(*frame, *device)) {
            problems.push(EvidenceProblem::Extra {
                capture: captures[0],
                frame: *frame,
            });
        }
    }
    problems
}

/// Checks one capture's published manifest `body` against its evidence and the epoch's
/// frames: the hash, the device's signature over exactly these bytes, the key, and each
/// listed frame's time and place. Returns the first problem.
pub fn check_capture(
    evidence: &CaptureEvidence,
    body: &[u8],
    frames: &FramesByDevice<'_>,
) -> Result<(), EvidenceProblem> {
    let capture = evidence.capture;
    let found = hex::encode(Sha256::digest(body));
    if found != evidence.manifest_sha256 {
        return Err(EvidenceProblem::ManifestHash {
            capture,
            expected: evidence.manifest_sha256.clone(),
            found,
        });
    }
    let signature: DeviceSignature =
        evidence
            .signature
            .parse()
            .map_err(|err: model::KeyError| EvidenceProblem::Signature {
                capture,
                reason: err.to_string(),
            })?;
    let manifest = CaptureManifest::parse_and_verify(body, &signature).map_err(|err| {
        EvidenceProblem::Signature {
            capture,
            reason: err.to_string(),
        }
    })?;
    if manifest.device_key.to_hex() != evidence.device_key {
        return Err(EvidenceProblem::OtherKey {
            capture,
            expected: evidence.device_key.clone(),
            found: manifest.device_key.to_hex(),
        });
    }
    if manifest.capture_id != capture {
        return Err(EvidenceProblem::OtherCapture {
            capture,
            found: manifest.capture_id,
        });
    }
    let signed: BTreeMap<FrameId, &model::Fix> = manifest
        .frames
        .iter()
        .map(|entry| (entry.sha256, &entry.fix))
        .collect();
    for frame in &evidence.frames {
        let Some(fix) = signed.get(frame) else {
            return Err(EvidenceProblem::NotSigned {
                capture,
                frame: *frame,
            });
        };
        let Some(copies) = frames.get(&(*frame, evidence.device)) else {
            continue; // named by check_listing
        };
        let same = |claimed: &&RewardFrame| {
            claimed.time == fix.time
                && (claimed.lat - fix.lat).abs() <= SAME_PLACE_DEG
                && (claimed.lon - fix.lon).abs() <= SAME_PLACE_DEG
        };
        if !copies.iter().any(same) {
            let claimed = copies[0];
            return Err(EvidenceProblem::Moved {
                frame: *frame,
                claimed: format!(
                    "{} at {:.7}, {:.7}",
                    claimed.time.as_millis(),
                    claimed.lat,
                    claimed.lon
                ),
                signed: format!("{} at {:.7}, {:.7}", fix.time.as_millis(), fix.lat, fix.lon),
            });
        }
    }
    Ok(())
}
