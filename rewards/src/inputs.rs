//! Everything an epoch's payout is computed from. Each input is hashed into the manifest,
//! so anyone holding the inputs can recompute the epoch and get the same Merkle root.

use std::collections::BTreeMap;

use model::{CaptureId, ContributorId, DeviceId, FrameId, TimestampMs};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::consumption::ConsumedCellWeek;
use crate::discovery::Discovery;
use crate::{EpochId, Regions, Result};

/// One frame as the reward math sees it: an accepted frame, or a frame ingest flagged as
/// possible fraud (which earns nothing and costs its device the epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardFrame {
    pub frame: FrameId,
    pub device: DeviceId,
    pub time: TimestampMs,
    pub lat: f64,
    pub lon: f64,
    /// Vision's quality score, 0–1.
    pub quality: f64,
    /// The fraud reason ingest gave (teleport, replay, zig-zag), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud: Option<String>,
}

/// What proves the frames of one capture came from their device: the device's public key,
/// the sha256 of the exact manifest body it signed and the signature over it. The body is
/// published at `/api/v1/rewards/epochs/{epoch}/captures/{capture}`; a verifier checks the
/// hash, the signature and that the manifest lists each frame at its time and place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureEvidence {
    pub capture: CaptureId,
    pub device: DeviceId,
    /// ed25519, 64 hex.
    pub device_key: String,
    pub manifest_sha256: String,
    /// ed25519 over the manifest body, 128 hex.
    pub signature: String,
    /// The capture's frames in this epoch's `frames`, sorted.
    pub frames: Vec<FrameId>,
}

/// Who a device's earnings go to: its owner, or split with a fleet driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payees {
    pub owner: ContributorId,
    pub driver: Option<ContributorId>,
    /// Basis points (of 10 000) that go to the driver.
    pub driver_share_bps: u16,
}

/// A bounty ("burst"): a budget paid to the first fresh coverage inside an area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounty {
    pub id: String,
    /// The area as GeoJSON Polygon or MultiPolygon geometry text.
    pub area_geojson: String,
    /// Integer amount in the smallest unit, as decimal text.
    pub budget: String,
    pub starts_at: TimestampMs,
    pub expires_at: TimestampMs,
}

/// The numbers the rules are parameterised by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// Integer amount paid out by the epoch, smallest unit, decimal text.
    pub emission: String,
    /// How long a cell's weight takes to refill from 0 to 1 after it was mapped.
    pub refill_ms: i64,
    /// Millionths of the credits spent in the epoch paid to the contributors of the
    /// consumed coverage (0: no consumption rewards). Left out of the JSON when 0, so
    /// manifests from before consumption rewards keep their hashes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consumption_share_ppm: u64,
    /// Integer amount (smallest unit, decimal text) one credit is worth.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub units_per_credit: String,
    /// Millionths of the emission paid to the first observers of map features new in the
    /// epoch (0: no discovery rewards; left out of the JSON then, as before they existed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub discovery_share_ppm: u64,
    /// How cells are ranked and the emission rounded (rules 3, 4 and 7). Left out of the
    /// JSON for the legacy rule, so epochs published before pass rank keep their hashes and
    /// recompute with the rule they were closed with.
    #[serde(default, skip_serializing_if = "PayoutRule::is_contributor_rank")]
    pub payout_rule: PayoutRule,
}

/// Which rule ranks the frames of a cell: not a setting, the shell closes every epoch with
/// [`PayoutRule::CURRENT`]; an epoch's published inputs say which one it was closed with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayoutRule {
    /// Epochs published before pass rank: each contributor counts once per cell, ranked by
    /// their first frame, and the emission is split by largest remainder. Splitting one
    /// driver's work over several accounts pays more (up to 1.75×).
    #[default]
    ContributorRank,
    /// Per cell, passes an hour apart are ranked, whoever drove them
    /// ([`crate::passes`]), and the emission is split by floor, the dust unallocated:
    /// splitting one driver's work over several accounts or devices never pays more.
    PassRank,
}

impl PayoutRule {
    /// The rule every epoch is closed with now.
    pub const CURRENT: Self = Self::PassRank;

    fn is_contributor_rank(&self) -> bool {
        *self == Self::ContributorRank
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl Params {
    pub const DEFAULT_REFILL_MS: i64 = 7 * 24 * 3600 * 1000;

    /// Emission only, with no consumption rewards, under the legacy contributor rank (as
    /// epochs published before pass rank read); see [`Params::with_rule`].
    pub fn emission(emission: impl Into<String>, refill_ms: i64) -> Self {
        Self {
            emission: emission.into(),
            refill_ms,
            consumption_share_ppm: 0,
            units_per_credit: String::new(),
            discovery_share_ppm: 0,
            payout_rule: PayoutRule::ContributorRank,
        }
    }

    /// The same params under `rule`.
    pub fn with_rule(self, rule: PayoutRule) -> Self {
        Self {
            payout_rule: rule,
            ..self
        }
    }

    pub fn emission_units(&self) -> Result<u128> {
        self.emission
            .parse()
            .map_err(|_| crate::Error::Emission(self.emission.clone()))
    }

    /// What a credit is worth; 0 when unset.
    pub fn units_per_credit_units(&self) -> Result<u128> {
        if self.units_per_credit.is_empty() {
            return Ok(0);
        }
        self.units_per_credit
            .parse()
            .map_err(|_| crate::Error::UnitsPerCredit(self.units_per_credit.clone()))
    }
}

/// All inputs of one epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochInputs {
    pub epoch: EpochId,
    pub params: Params,
    pub frames: Vec<RewardFrame>,
    /// For every H3 res-12 cell (as its integer) touched in the epoch, when it was last
    /// mapped before the epoch started; absent = never mapped (fully fresh).
    pub cells_last_mapped: BTreeMap<u64, TimestampMs>,
    pub devices: BTreeMap<DeviceId, Payees>,
    pub bounties: Vec<Bounty>,
    /// The region-weights GeoJSON, verbatim (empty: no regions).
    pub regions_geojson: String,
    /// The cell-weeks map consumers spent credits on during the epoch, with who made them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumption: Vec<ConsumedCellWeek>,
    /// The map features first seen in the epoch, each with its first observation (read
    /// only when discovery rewards are on).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discoveries: Vec<Discovery>,
    /// The device-signed evidence of every frame, by capture (absent in epochs published
    /// before it was).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captures: Vec<CaptureEvidence>,
    /// The reputation (millionths of full trust, `model::reputation`) of every device
    /// below full trust at the epoch's start; a device's frames are worth that share.
    /// Absent in epochs published before reputation was, and when every device is trusted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reputation: BTreeMap<DeviceId, u32>,
}

/// sha256 of each input, in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputHashes {
    pub frames: String,
    pub cells_last_mapped: String,
    pub devices: String,
    pub bounties: String,
    pub regions: String,
    pub params: String,
    /// Absent when nothing was consumed, as in manifests from before consumption rewards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumption: Option<String>,
    /// Absent when no feature was discovered (or discovery rewards are off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discoveries: Option<String>,
    /// Absent in epochs published before the evidence was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captures: Option<String>,
    /// Absent when every device is fully trusted (and before reputation existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reputation: Option<String>,
}

impl InputHashes {
    /// Names of the inputs whose hashes differ from `other`'s.
    pub fn differences(&self, other: &InputHashes) -> Vec<&'static str> {
        [
            ("frames", &self.frames, &other.frames),
            (
                "cells_last_mapped",
                &self.cells_last_mapped,
                &other.cells_last_mapped,
            ),
            ("devices", &self.devices, &other.devices),
            ("bounties", &self.bounties, &other.bounties),
            ("regions", &self.regions, &other.regions),
            ("params", &self.params, &other.params),
            (
                "consumption",
                self.consumption.as_ref().unwrap_or(&String::new()),
                other.consumption.as_ref().unwrap_or(&String::new()),
            ),
            (
                "discoveries",
                self.discoveries.as_ref().unwrap_or(&String::new()),
                other.discoveries.as_ref().unwrap_or(&String::new()),
            ),
            (
                "captures",
                self.captures.as_ref().unwrap_or(&String::new()),
                other.captures.as_ref().unwrap_or(&String::new()),
            ),
            (
                "reputation",
                self.reputation.as_ref().unwrap_or(&String::new()),
                other.reputation.as_ref().unwrap_or(&String::new()),
            ),
        ]
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(name, _, _)| name)
        .collect()
    }
}

impl EpochInputs {
    /// Puts every list in its canonical order, so the order rows were read in never
    /// changes a hash or a result.
    pub fn canonicalise(&mut self) {
        self.frames.sort_by(|a, b| {
            a.time
                .cmp(&b.time)
                .then_with(|| a.frame.cmp(&b.frame))
                .then_with(|| a.device.cmp(&b.device))
        });
        self.bounties.sort_by(|a, b| a.id.cmp(&b.id));
        self.consumption
            .sort_by(|a, b| (a.cell, &a.week).cmp(&(b.cell, &b.week)));
        self.discoveries.sort_by(|a, b| a.feature.cmp(&b.feature));
        self.captures.sort_by_key(|c| c.capture);
        for capture in &mut self.captures {
            capture.frames.sort();
        }
    }

    /// The share (ppm) of its worth a frame of `device` keeps: its reputation.
    pub fn reputation_ppm(&self, device: &DeviceId) -> u64 {
        self.reputation
            .get(device)
            .map_or(crate::regions::PPM, |ppm| {
                u64::from(*ppm).min(crate::regions::PPM)
            })
    }

    pub fn regions(&self) -> Result<Regions> {
        if self.regions_geojson.trim().is_empty() {
            Ok(Regions::none())
        } else {
            Regions::from_geojson(&self.regions_geojson)
        }
    }

    pub(crate) fn is_canonical(&self) -> bool {
        self.frames
            .is_sorted_by(|a, b| (a.time, a.frame, a.device) <= (b.time, b.frame, b.device))
            && self.bounties.is_sorted_by(|a, b| a.id <= b.id)
            && self
                .consumption
                .is_sorted_by(|a, b| (a.cell, &a.week) <= (b.cell, &b.week))
            && self.discoveries.is_sorted_by(|a, b| a.feature <= b.feature)
            && self.captures.is_sorted_by(|a, b| a.capture <= b.capture)
            && self.captures.iter().all(|c| c.frames.is_sorted())
    }

    /// Hashes of the canonical JSON of each input.
    pub fn hashes(&self) -> InputHashes {
        if !self.is_canonical() {
            let mut sorted = self.clone();
            sorted.canonicalise();
            return sorted.hashes();
        }
        let sorted = self;
        InputHashes {
            frames: sha256_json(&sorted.frames),
            cells_last_mapped: sha256_json(&sorted.cells_last_mapped),
            devices: sha256_json(&sorted.devices),
            bounties: sha256_json(&sorted.bounties),
            regions: hex::encode(Sha256::digest(sorted.regions_geojson.as_bytes())),
            params: sha256_json(&sorted.params),
            consumption: (!sorted.consumption.is_empty()).then(|| sha256_json(&sorted.consumption)),
            discoveries: (!sorted.discoveries.is_empty()).then(|| sha256_json(&sorted.discoveries)),
            captures: (!sorted.captures.is_empty()).then(|| sha256_json(&sorted.captures)),
            reputation: (!sorted.reputation.is_empty()).then(|| sha256_json(&sorted.reputation)),
        }
    }
}

/// sha256 of a value's JSON, streamed into the hasher (an epoch's frames are gigabytes of
/// JSON at scale).
fn sha256_json(value: &impl Serialize) -> String {
    struct HashWriter(Sha256);
    impl std::io::Write for HashWriter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = HashWriter(Sha256::new());
    serde_json::to_writer(&mut writer, value).expect("inputs serialise: string map keys only");
    hex::encode(writer.0.finalize())
}

/// Reads bounties from a GeoJSON FeatureCollection: one Polygon / MultiPolygon feature per
/// bounty with properties `id`, `budget` (integer amount, as a string or number),
/// `starts_at` and `expires_at` (RFC 3339).
pub fn bounties_from_geojson(text: &str) -> Result<Vec<Bounty>> {
    let invalid = |id: &str, reason: String| crate::Error::Bounty {
        id: id.to_owned(),
        reason,
    };
    let parsed: geojson::GeoJson = text
        .parse()
        .map_err(|err| invalid("-", format!("not GeoJSON: {err}")))?;
    let geojson::GeoJson::FeatureCollection(collection) = parsed else {
        return Err(invalid(
            "-",
            "expected a FeatureCollection of bounty areas".into(),
        ));
    };
    let time = |id: &str, feature: &geojson::Feature, key: &str| -> Result<TimestampMs> {
        let text = feature
            .property(key)
            .and_then(|v| v.as_str())
            .ok_or_else(|| invalid(id, format!("property {key:?} (RFC 3339 time) is missing")))?;
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| TimestampMs(t.timestamp_millis()))
            .map_err(|err| invalid(id, format!("{key} {text:?}: {err}")))
    };
    collection
        .features
        .iter()
        .enumerate()
        .map(|(index, feature)| {
            let id = feature
                .property("id")
                .and_then(|v| v.as_str())
                .map_or_else(|| format!("feature {index}"), str::to_owned);
            let budget = match feature.property("budget") {
                Some(serde_json::Value::String(text)) => text.clone(),
                Some(serde_json::Value::Number(number)) if number.is_u64() => number.to_string(),
                _ => {
                    return Err(invalid(
                        &id,
                        "property \"budget\" (integer amount) is missing".into(),
                    ));
                }
            };
            budget
                .parse::<u128>()
                .map_err(|_| invalid(&id, format!("budget {budget:?} is not an integer amount")))?;
            let geometry = feature
                .geometry
                .as_ref()
                .ok_or_else(|| invalid(&id, "no geometry".into()))?;
            let (starts_at, expires_at) = (
                time(&id, feature, "starts_at")?,
                time(&id, feature, "expires_at")?,
            );
            if expires_at <= starts_at {
                return Err(invalid(&id, "expires_at is not after starts_at".into()));
            }
            let bounty = Bounty {
                id,
                area_geojson: serde_json::to_string(geometry)?,
                budget,
                starts_at,
                expires_at,
            };
            // Refuse a bad area now rather than at every epoch close.
            crate::compute::bounty_area(&bounty)?;
            Ok(bounty)
        })
        .collect()
}
