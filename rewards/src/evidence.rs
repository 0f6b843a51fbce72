//! Checking that an epoch's frames came from their devices (pure): every frame of the
//! inputs is listed by a capture's evidence, and each capture's published manifest body has
//! the hash the inputs name, carries its device's signature over exactly those bytes, and
//! lists each frame at the time and place the inputs give it. What an outside verifier runs
//! on the published files; the operator's word is needed only for what no device signs
//! (vision's quality score, fraud flags, the cell history before the epoch).

use std::collections::{BTreeMap, BTreeSet};

use model::{CaptureId, CaptureManifest, DeviceId, DeviceSignature, FrameId};
use sha2::{Digest, Sha256};

use crate::{CaptureEvidence, EpochInputs, RewardFrame};

/// Coordinates are compared to this many degrees (≈ 1 mm): the same f64 read back.
const SAME_PLACE_DEG: f64 = 1e-8;

/// One thing the evidence does not support, naming the capture or frame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvidenceProblem {
    #[error("frame {frame} is in the inputs but no capture's evidence lists it")]
    Unlisted { frame: FrameId },
    #[error(
        "frame {frame} is listed by capture {capture} of device {listed}, but the inputs give device {claimed}"
    )]
    OtherDevice {
        frame: FrameId,
        capture: CaptureId,
        listed: DeviceId,
        claimed: DeviceId,
    },
    #[error("capture {capture} lists frame {frame}, which is not among the epoch's frames")]
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

/// Checks the evidence against the frames alone (no manifest bodies needed): every frame
/// listed once by a capture of its own device, no capture listing a frame the epoch does
/// not have, one key per device.
pub fn check_listing(inputs: &EpochInputs) -> Vec<EvidenceProblem> {
    let mut problems = Vec::new();
    let mut listed: BTreeMap<FrameId, &CaptureEvidence> = BTreeMap::new();
    let mut keys: BTreeMap<DeviceId, &str> = BTreeMap::new();
    for evidence in &inputs.captures {
        for frame in &evidence.frames {
            listed.insert(*frame, evidence);
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
    let in_epoch: BTreeSet<FrameId> = inputs.frames.iter().map(|f| f.frame).collect();
    for frame in &inputs.frames {
        match listed.get(&frame.frame) {
            None => problems.push(EvidenceProblem::Unlisted { frame: frame.frame }),
            Some(evidence) if evidence.device != frame.device => {
                problems.push(EvidenceProblem::OtherDevice {
                    frame: frame.frame,
                    capture: evidence.capture,
                    listed: evidence.device,
                    claimed: frame.device,
                });
            }
            Some(_) => {}
        }
    }
    for evidence in &inputs.captures {
        for frame in &evidence.frames {
            if !in_epoch.contains(frame) {
                problems.push(EvidenceProblem::Extra {
                    capture: evidence.capture,
                    frame: *frame,
                });
            }
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
    frames: &BTreeMap<FrameId, &RewardFrame>,
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
        let Some(claimed) = frames.get(frame) else {
            continue; // named by check_listing
        };
        let same = claimed.time == fix.time
            && (claimed.lat - fix.lat).abs() <= SAME_PLACE_DEG
            && (claimed.lon - fix.lon).abs() <= SAME_PLACE_DEG;
        if !same {
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
