//! The IO shell around the pure core: reads an epoch's inputs from the store, closes epochs
//! (publishing the manifest, tree, per-cell attribution and inputs as blobs, then the rows),
//! verifies closed epochs against what is stored, and answers proof requests.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use model::{ContributorId, DeviceId, PayoutAddress, RejectReason, TimestampMs};
use serde::{Deserialize, Serialize};
use store::{BlobKey, EpochRow, RewardRow, Store};

use crate::compute::{BountyOutcome, CellAward, EpochResult, compute};
use crate::epoch::hours;
use crate::manifest::{Files, Published, RewardManifest, publish};
use crate::merkle::hex_hash;
use crate::{
    Bounty, CaptureEvidence, ConsumedCellWeek, ConsumptionAward, Discovery, DiscoveryAward,
    EmissionCurve, EmissionSchedule, EpochId, EpochInputs, Error, Params, Payees, PayoutRule,
    Result, RewardFrame,
};

/// How epochs are closed: the parts of the inputs that come from settings, not the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardsConfig {
    /// Integer amount per epoch, smallest unit: of every epoch with a flat curve, of
    /// `emission_start` and the epochs before it otherwise.
    pub emission: String,
    pub emission_curve: EmissionCurve,
    /// The epoch the curve starts declining from.
    pub emission_start: EpochId,
    /// Millionths of the credits map consumers spend that are paid to contributors.
    pub consumption_share_ppm: u64,
    /// Integer amount (smallest unit) a credit is worth.
    pub units_per_credit: String,
    /// Millionths of the emission paid to the first observers of new map features (0: off).
    pub discovery_share_ppm: u64,
    /// How long after its end an epoch waits for late uploads before it may close.
    pub grace_ms: i64,
    pub refill_ms: i64,
    /// Region weights GeoJSON ("" = none).
    pub regions_geojson: String,
    pub bounties: Vec<Bounty>,
    /// How long a close claim holds before another closer may take over: a closer that
    /// crashed mid-close holds the epoch this long.
    pub close_claim_ms: i64,
}

impl Default for RewardsConfig {
    fn default() -> Self {
        Self {
            emission: "1000000000000".into(),
            emission_curve: EmissionCurve::Flat,
            emission_start: EpochId::containing(TimestampMs(0)),
            consumption_share_ppm: 0,
            units_per_credit: String::new(),
            discovery_share_ppm: 0,
            grace_ms: 24 * 3600 * 1000,
            refill_ms: Params::DEFAULT_REFILL_MS,
            regions_geojson: String::new(),
            bounties: Vec::new(),
            close_claim_ms: 10 * 60 * 1000,
        }
    }
}

impl RewardsConfig {
    /// The emission of `epoch` along the schedule.
    pub fn emission_of(&self, epoch: EpochId) -> Result<String> {
        let initial = self
            .emission
            .parse()
            .map_err(|_| Error::Emission(self.emission.clone()))?;
        let schedule = EmissionSchedule {
            initial,
            start: self.emission_start,
            curve: self.emission_curve,
        };
        Ok(schedule.at(epoch).to_string())
    }
}

/// What `close` published.
#[derive(Debug, Clone)]
pub struct Closed {
    pub manifest: RewardManifest,
    /// The epoch was already closed: nothing was recomputed.
    pub already_closed: bool,
}

/// A contributor's payout in one epoch, with everything needed to claim and check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributorProof {
    pub epoch: EpochId,
    pub contributor: ContributorId,
    pub address: Option<PayoutAddress>,
    pub amount: String,
    pub emission_amount: String,
    pub bounty_amount: String,
    #[serde(default)]
    pub consumption_amount: String,
    #[serde(default)]
    pub discovery_amount: String,
    pub merkle_root: String,
    /// The amount of the address's leaf: what the proof claims (the sum over every
    /// contributor paid to that address).
    pub claim_amount: String,
    /// Sibling hashes from the leaf up (empty when the amount is held for a missing address).
    pub proof: Vec<String>,
    pub cells: Vec<CellAward>,
    /// The consumed cell-weeks of this contributor's devices, and what each paid.
    #[serde(default)]
    pub consumption: Vec<ConsumptionAward>,
    /// The new map features this contributor's devices saw first, and what each paid.
    #[serde(default)]
    pub discoveries: Vec<DiscoveryAward>,
}

fn fraud_reasons() -> Vec<&'static str> {
    RejectReason::ALL
        .into_iter()
        .filter(|reason| reason.is_fraud_signal())
        .map(RejectReason::slug)
        .collect()
}

/// The store-derived inputs of `epoch` (frames, cell history, devices) with `config`'s.
pub async fn load_inputs(
    store: &Store,
    epoch: EpochId,
    config: &RewardsConfig,
    as_of: TimestampMs,
) -> Result<EpochInputs> {
    let (start, end) = (epoch.starts_at(), epoch.ends_at());
    let mut rows = store.db.epoch_frames(start, end, &fraud_reasons()).await?;
    // Captures held for a reviewer (their pixels unlike their places) pay nothing.
    let held = store.db.held_captures(as_of).await?;
    rows.retain(|row| !held.contains(&row.capture));
    let consumption = if config.consumption_share_ppm > 0 {
        load_consumption(store, epoch, as_of).await?
    } else {
        Vec::new()
    };
    let discoveries = if config.discovery_share_ppm > 0 {
        load_discoveries(store, epoch).await?
    } else {
        Vec::new()
    };
    let used_devices: BTreeSet<_> = rows
        .iter()
        .map(|row| row.device)
        .chain(
            consumption
                .iter()
                .flat_map(|cell_week| cell_week.coverage.keys().copied()),
        )
        .chain(discoveries.iter().map(|d: &Discovery| d.device))
        .collect();
    let devices = store
        .db
        .device_payees()
        .await?
        .into_iter()
        .filter(|row| used_devices.contains(&row.device))
        .map(|row| {
            (
                row.device,
                Payees {
                    owner: row.owner,
                    driver: row.driver,
                    driver_share_bps: row.driver_share_bps,
                },
            )
        })
        .collect();
    let captures = load_evidence(store, &rows).await?;
    let frames = rows
        .into_iter()
        .map(|row| RewardFrame {
            frame: row.frame,
            device: row.device,
            time: row.time,
            lat: row.lat,
            lon: row.lon,
            quality: row.quality.unwrap_or(0.0),
            fraud: row.fraud,
        })
        .collect();
    let bounties = open_bounties(store, epoch, &config.bounties).await?;
    let mut inputs = EpochInputs {
        epoch,
        params: Params {
            emission: config.emission_of(epoch)?,
            refill_ms: config.refill_ms,
            consumption_share_ppm: config.consumption_share_ppm,
            units_per_credit: config.units_per_credit.clone(),
            discovery_share_ppm: config.discovery_share_ppm,
            // Not a setting: no operator may close an epoch with a rule that pays splitters.
            payout_rule: PayoutRule::CURRENT,
        },
        frames,
        cells_last_mapped: store.db.cells_last_mapped_before(start, end).await?,
        devices,
        bounties,
        regions_geojson: config.regions_geojson.clone(),
        consumption,
        discoveries,
        captures,
        reputation: load_reputation(store, start, &used_devices).await?,
    };
    inputs.canonicalise();
    Ok(inputs)
}

/// The reputation at `start` of every device of the epoch (`used`) with a finding standing
/// against it from before then (those below full trust only).
async fn load_reputation(
    store: &Store,
    start: TimestampMs,
    used: &BTreeSet<DeviceId>,
) -> Result<BTreeMap<DeviceId, u32>> {
    let mut reputation = BTreeMap::new();
    for device in store.db.devices_with_findings(start).await? {
        if !used.contains(&device) {
            continue;
        }
        let findings = store.db.standing_findings(device, start).await?;
        let ppm = model::reputation::reputation_ppm(&findings);
        if ppm < model::reputation::FULL_PPM {
            reputation.insert(device, ppm);
        }
    }
    Ok(reputation)
}

/// The map features first seen in `epoch`, each with its first observation.
async fn load_discoveries(store: &Store, epoch: EpochId) -> Result<Vec<Discovery>> {
    Ok(store
        .db
        .discoveries_between(epoch.starts_at().as_millis(), epoch.ends_at().as_millis())
        .await?
        .into_iter()
        .map(|row| Discovery {
            feature: row.feature,
            class: row.class,
            frame: row.frame,
            device: row.device,
            time: TimestampMs(row.time_ms),
        })
        .collect())
}

/// The device-signed evidence of the epoch's frames: per capture its device, key, signed
/// manifest hash and signature, and which of the frames it lists.
async fn load_evidence(
    store: &Store,
    frames: &[store::EpochFrameRow],
) -> Result<Vec<CaptureEvidence>> {
    let mut frames_of: BTreeMap<model::CaptureId, Vec<model::FrameId>> = BTreeMap::new();
    for row in frames {
        frames_of.entry(row.capture).or_default().push(row.frame);
    }
    let listed: Vec<model::CaptureId> = frames_of.keys().copied().collect();
    Ok(store
        .db
        .capture_evidence(&listed)
        .await?
        .into_iter()
        .map(|row| CaptureEvidence {
            capture: row.capture,
            device: row.device,
            device_key: row.device_key,
            manifest_sha256: row.manifest_sha256,
            signature: row.signature,
            frames: frames_of.remove(&row.capture).unwrap_or_default(),
        })
        .collect())
}

/// The cell-weeks consumers spent credits on during `epoch` (by the UTC day of use), each
/// with the coverage per device of the accepted frames that make it (not of captures held
/// for review as of `as_of`, the close).
async fn load_consumption(
    store: &Store,
    epoch: EpochId,
    as_of: TimestampMs,
) -> Result<Vec<ConsumedCellWeek>> {
    // The days metering keeps use under (`model::utc_day`): epochs start at 00:00 UTC.
    let spent = store
        .db
        .credits_per_cell_week(
            &model::utc_day(epoch.starts_at()),
            &model::utc_day(epoch.ends_at()),
        )
        .await?;
    let mut consumption = Vec::with_capacity(spent.len());
    for (cell_week, credits) in spent {
        let (Ok(cell), Ok(week)) = (
            h3o::CellIndex::try_from(cell_week.cell),
            cell_week.week.parse::<EpochId>(),
        ) else {
            tracing::warn!(cell = cell_week.cell, week = %cell_week.week, "usage row names no valid cell-week; left out");
            continue;
        };
        let coverage = store
            .db
            .coverage_by_device(cell, week.starts_at(), week.ends_at(), as_of)
            .await?
            .into_iter()
            .collect();
        consumption.push(ConsumedCellWeek {
            cell: cell_week.cell,
            week: cell_week.week,
            credits,
            coverage,
        });
    }
    Ok(consumption)
}

/// Bounties not settled (claimed or refunded) by an earlier closed epoch and overlapping
/// this one.
async fn open_bounties(store: &Store, epoch: EpochId, bounties: &[Bounty]) -> Result<Vec<Bounty>> {
    let mut settled = BTreeSet::new();
    for row in store.db.epochs().await? {
        if row.state != store::EpochState::Closed || row.starts_at >= epoch.starts_at() {
            continue;
        }
        let Ok(earlier) = row.id.parse::<EpochId>() else {
            continue;
        };
        let manifest = read_manifest(store, earlier).await?;
        for bounty in manifest.bounties {
            if !matches!(bounty.outcome, BountyOutcome::Carried) {
                settled.insert(bounty.id);
            }
        }
    }
    Ok(bounties
        .iter()
        .filter(|b| !settled.contains(&b.id))
        .filter(|b| b.starts_at < epoch.ends_at() && b.expires_at > epoch.starts_at())
        .cloned()
        .collect())
}

/// Closes `epoch` once its data is complete (ended `grace_ms` ago, no frame of it still
/// pending). Publishes the files first and records the rows last, so a crash in between
/// leaves the epoch open and a re-run publishes the identical files. Closing a closed epoch
/// returns its manifest unchanged.
pub async fn close(
    store: &Store,
    epoch: EpochId,
    config: &RewardsConfig,
    now: TimestampMs,
) -> Result<Closed> {
    if let Some(row) = store.db.epoch(&epoch.to_string()).await?
        && row.state == store::EpochState::Closed
    {
        return Ok(Closed {
            manifest: read_manifest(store, epoch).await?,
            already_closed: true,
        });
    }
    if !epoch.is_past_grace(now, config.grace_ms) {
        return Err(Error::EpochStillOpen {
            epoch,
            ends_at: crate::rfc3339(epoch.ends_at()),
            grace_hours: hours(config.grace_ms),
        });
    }
    if let Some(first) = store.db.first_accepted_frame_time().await? {
        let mut earlier = EpochId::containing(first);
        while earlier < epoch {
            let closed = store
                .db
                .epoch(&earlier.to_string())
                .await?
                .is_some_and(|row| row.state == store::EpochState::Closed);
            if !closed {
                return Err(Error::EarlierEpochOpen { epoch, earlier });
            }
            earlier = earlier.next();
        }
    }
    let pending = store
        .db
        .pending_frames_between(epoch.starts_at(), epoch.ends_at())
        .await?;
    if pending > 0 {
        return Err(Error::DataNotComplete { epoch, pending });
    }
    if config.discovery_share_ppm > 0 {
        let captures = store.db.features_pending().await?;
        if captures > 0 {
            return Err(Error::FeaturesPending { epoch, captures });
        }
    }
    let held = crate::place_check::hold_unlike_captures(store, epoch, now).await?;
    if held > 0 {
        tracing::info!(%epoch, held, "captures held for review: pixels unlike their places");
    }
    let row = EpochRow {
        id: epoch.to_string(),
        starts_at: epoch.starts_at(),
        ends_at: epoch.ends_at(),
        state: store::EpochState::Closing,
        emission: config.emission_of(epoch)?,
        merkle_root: None,
        manifest_key: None,
        closed_at: Some(now),
        consumption_pool: None,
        credits_consumed: None,
    };
    let claim = TimestampMs::now();
    let stale_before = claim.saturating_add_ms(-config.close_claim_ms);
    if !store
        .db
        .claim_epoch_close(&row, claim, stale_before)
        .await?
    {
        return already_closed_or_busy(store, epoch).await;
    }
    match publish_claimed(store, epoch, config, row, claim).await {
        Ok(Some(manifest)) => {
            tracing::info!(%epoch, root = %manifest.merkle_root, contributors = manifest.contributors.len(), "epoch closed");
            Ok(Closed {
                manifest,
                already_closed: false,
            })
        }
        // Our claim went stale and another closer took over: report what it published.
        Ok(None) => already_closed_or_busy(store, epoch).await,
        Err(err) => {
            // Give the claim back so the next attempt need not wait for it to go stale.
            if let Err(release) = store
                .db
                .release_epoch_claim(&epoch.to_string(), claim)
                .await
            {
                tracing::warn!(%epoch, error = %release, "could not release the close claim");
            }
            Err(err)
        }
    }
}

/// Computes and publishes a claimed epoch; `None` when the claim was lost meanwhile.
async fn publish_claimed(
    store: &Store,
    epoch: EpochId,
    config: &RewardsConfig,
    row: EpochRow,
    claim: TimestampMs,
) -> Result<Option<RewardManifest>> {
    // Held captures as of the close's own time (the row's, which verify reads back).
    let as_of = row.closed_at.unwrap_or(claim);
    let inputs = load_inputs(store, epoch, config, as_of).await?;
    let addresses = store.db.payout_addresses().await?;
    let result = compute(&inputs)?;
    let published = publish(&inputs, &result, &addresses);
    write_files(store, &inputs, &result.awards, &published).await?;
    let mut claims = claims(&inputs, &result, &published);
    let manifest = published.manifest;
    let amounts: Vec<RewardRow> = manifest
        .contributors
        .iter()
        .map(|entry| -> Result<RewardRow> {
            let claim = claims.remove(&entry.contributor);
            Ok(RewardRow {
                epoch: epoch.to_string(),
                contributor: entry.contributor,
                amount: entry.amount.clone(),
                emission_amount: Some(entry.emission_amount.clone()),
                bounty_amount: Some(entry.bounty_amount.clone()),
                consumption_amount: Some(entry.consumption_amount.clone()),
                discovery_amount: Some(entry.discovery_amount.clone()),
                claim_json: claim.map(|c| serde_json::to_string(&c)).transpose()?,
            })
        })
        .collect::<Result<_>>()?;
    let closed = EpochRow {
        state: store::EpochState::Closed,
        emission: manifest.emission.clone(),
        merkle_root: Some(manifest.merkle_root.clone()),
        manifest_key: Some(Files::manifest_key(epoch)),
        consumption_pool: Some(manifest.consumption_pool.clone()),
        credits_consumed: Some(manifest.credits_consumed.clone()),
        ..row
    };
    let saved = store.db.save_closed_epoch(&closed, &amounts, claim).await?;
    Ok(saved.then_some(manifest))
}

async fn write_files(
    store: &Store,
    inputs: &EpochInputs,
    awards: &[CellAward],
    published: &Published,
) -> Result<()> {
    let files = &published.manifest.files;
    let tree_json = match &published.tree {
        Some(tree) => serde_json::to_vec_pretty(&tree.dump())?,
        None => b"null".to_vec(),
    };
    for (key, body) in [
        (files.inputs.as_str(), serde_json::to_vec(inputs)?),
        (files.cells.as_str(), serde_json::to_vec(awards)?),
        (files.tree.as_str(), tree_json),
        (
            &Files::manifest_key(inputs.epoch),
            serde_json::to_vec_pretty(&published.manifest)?,
        ),
    ] {
        store
            .blobs
            .put(&BlobKey::parse(key)?, Bytes::from(body))
            .await?;
    }
    Ok(())
}

async fn already_closed_or_busy(store: &Store, epoch: EpochId) -> Result<Closed> {
    match store.db.epoch(&epoch.to_string()).await? {
        Some(row) if row.state == store::EpochState::Closed => Ok(Closed {
            manifest: read_manifest(store, epoch).await?,
            already_closed: true,
        }),
        _ => Err(Error::CloseInProgress(epoch)),
    }
}

/// Closes every epoch that is due: from the first frame's epoch up to the latest one past
/// its grace period, skipping closed ones. Returns the epochs it closed.
pub async fn close_due(
    store: &Store,
    config: &RewardsConfig,
    now: TimestampMs,
) -> Result<Vec<EpochId>> {
    let Some(first) = store.db.first_accepted_frame_time().await? else {
        return Ok(Vec::new());
    };
    let mut closed = Vec::new();
    let mut epoch = EpochId::containing(first);
    // Bounded: at most ten years of weeks in one pass.
    for _ in 0..520 {
        if !epoch.is_past_grace(now, config.grace_ms) {
            break;
        }
        match close(store, epoch, config, now).await {
            Ok(result) if !result.already_closed => closed.push(epoch),
            Ok(_) => {}
            Err(Error::DataNotComplete { .. } | Error::FeaturesPending { .. }) => break,
            Err(err) => return Err(err),
        }
        epoch = epoch.next();
    }
    Ok(closed)
}

pub async fn read_manifest(store: &Store, epoch: EpochId) -> Result<RewardManifest> {
    let key = Files::manifest_key(epoch);
    let bytes = store
        .blobs
        .get(&BlobKey::parse(&key)?)
        .await
        .map_err(|err| match err {
            store::Error::BlobNotFound { .. } => Error::MissingInput(key.clone()),
            other => Error::Store(other),
        })?;
    Ok(serde_json::from_slice(&bytes)?)
}

async fn read_json<T: serde::de::DeserializeOwned>(store: &Store, key: &str) -> Result<T> {
    let bytes = store
        .blobs
        .get(&BlobKey::parse(key)?)
        .await
        .map_err(|err| match err {
            store::Error::BlobNotFound { .. } => Error::MissingInput(key.to_owned()),
            other => Error::Store(other),
        })?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// What `verify` checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub epoch: EpochId,
    pub merkle_root: String,
    pub contributors: usize,
}

/// Recomputes a closed epoch and compares: the store's current rows against the manifest's
/// input hashes, the stored inputs snapshot against them too, and the root recomputed from
/// the snapshot against the manifest's and the database's. Fails naming what differs.
pub async fn verify(store: &Store, epoch: EpochId) -> Result<Verified> {
    let row = store.db.epoch(&epoch.to_string()).await?;
    let Some(row) = row.filter(|row| row.state == store::EpochState::Closed) else {
        return Err(Error::NotClosed(epoch));
    };
    let failed = |what: String| Error::VerifyFailed { epoch, what };
    let manifest = read_manifest(store, epoch).await?;
    let snapshot: EpochInputs = read_json(store, &manifest.files.inputs).await?;

    let snapshot_hashes = snapshot.hashes();
    let tampered = snapshot_hashes.differences(&manifest.inputs);
    if !tampered.is_empty() {
        return Err(failed(format!(
            "the stored inputs file {} no longer matches the manifest in: {}",
            manifest.files.inputs,
            tampered.join(", ")
        )));
    }
    let config = RewardsConfig {
        emission: snapshot.params.emission.clone(),
        consumption_share_ppm: snapshot.params.consumption_share_ppm,
        units_per_credit: snapshot.params.units_per_credit.clone(),
        discovery_share_ppm: snapshot.params.discovery_share_ppm,
        grace_ms: 0,
        refill_ms: snapshot.params.refill_ms,
        regions_geojson: snapshot.regions_geojson.clone(),
        bounties: snapshot.bounties.clone(),
        ..RewardsConfig::default()
    };
    let as_of = row.closed_at.unwrap_or_else(TimestampMs::now);
    let mut current = load_inputs(store, epoch, &config, as_of).await?;
    current.bounties = snapshot.bounties.clone();
    if snapshot.captures.is_empty() {
        // Published before the evidence was: its hashes never covered it.
        current.captures.clear();
    }
    let changed: Vec<_> = current
        .hashes()
        .differences(&manifest.inputs)
        .into_iter()
        .filter(|name| {
            [
                "frames",
                "cells_last_mapped",
                "devices",
                "consumption",
                "discoveries",
                "captures",
            ]
            .contains(name)
        })
        .collect();
    if !changed.is_empty() {
        return Err(failed(format!(
            "the stored rows changed since the epoch closed: {} (hash mismatch with the manifest)",
            changed.join(", ")
        )));
    }
    let addresses: BTreeMap<ContributorId, PayoutAddress> = manifest
        .contributors
        .iter()
        .filter_map(|entry| entry.address.map(|address| (entry.contributor, address)))
        .collect();
    // With the snapshot's params, whose hash was just checked: its payout rule is the one the
    // epoch was closed with (contributor rank when the field is absent), not today's.
    let recomputed = publish(&snapshot, &compute(&snapshot)?, &addresses);
    if recomputed.manifest.merkle_root != manifest.merkle_root {
        return Err(failed(format!(
            "recomputed Merkle root {} differs from the manifest's {}",
            recomputed.manifest.merkle_root, manifest.merkle_root
        )));
    }
    if recomputed.manifest.contributors != manifest.contributors {
        return Err(failed(
            "recomputed per-contributor amounts differ from the manifest's".into(),
        ));
    }
    if row.merkle_root.as_deref() != Some(manifest.merkle_root.as_str()) {
        return Err(failed(format!(
            "the database records root {:?} but the manifest says {}",
            row.merkle_root, manifest.merkle_root
        )));
    }
    Ok(Verified {
        epoch,
        merkle_root: manifest.merkle_root,
        contributors: manifest.contributors.len(),
    })
}

/// A contributor's amount, per-cell breakdown and Merkle proof in a closed epoch: the one
/// row kept at close (O(log n) proof, no recompute); epochs closed before claims were kept
/// are recomputed from their published inputs.
pub async fn proof(
    store: &Store,
    epoch: EpochId,
    contributor: ContributorId,
) -> Result<ContributorProof> {
    let row = store.db.epoch(&epoch.to_string()).await?;
    if row.is_none_or(|row| row.state != store::EpochState::Closed) {
        return Err(Error::NotClosed(epoch));
    }
    if let Some(json) = store
        .db
        .reward_claim(&epoch.to_string(), contributor)
        .await?
    {
        return Ok(serde_json::from_str(&json)?);
    }
    let manifest = read_manifest(store, epoch).await?;
    let snapshot: EpochInputs = read_json(store, &manifest.files.inputs).await?;
    let addresses: BTreeMap<ContributorId, PayoutAddress> = manifest
        .contributors
        .iter()
        .filter_map(|entry| entry.address.map(|address| (entry.contributor, address)))
        .collect();
    let result = compute(&snapshot)?;
    let published = publish(&snapshot, &result, &addresses);
    claims(&snapshot, &result, &published)
        .remove(&contributor)
        .ok_or_else(|| Error::NoReward {
            contributor: contributor.to_string(),
            epoch,
        })
}

/// Every paid contributor's claim in a computed epoch: the proof of their address's leaf
/// (empty when the amount is held for a missing address) and the cells, consumed
/// cell-weeks and discoveries of the devices that pay them.
fn claims(
    inputs: &EpochInputs,
    result: &EpochResult,
    published: &Published,
) -> BTreeMap<ContributorId, ContributorProof> {
    let payees = |device: &model::DeviceId| -> Vec<ContributorId> {
        inputs.devices.get(device).map_or_else(Vec::new, |p| {
            std::iter::once(p.owner).chain(p.driver).collect()
        })
    };
    let mut cells: BTreeMap<ContributorId, Vec<CellAward>> = BTreeMap::new();
    for award in &result.awards {
        let mut paid: BTreeSet<ContributorId> = payees(&award.device).into_iter().collect();
        paid.insert(award.owner);
        for contributor in paid {
            cells.entry(contributor).or_default().push(award.clone());
        }
    }
    let mut consumption: BTreeMap<ContributorId, Vec<ConsumptionAward>> = BTreeMap::new();
    for award in &result.consumption.awards {
        for contributor in payees(&award.device) {
            consumption
                .entry(contributor)
                .or_default()
                .push(award.clone());
        }
    }
    let mut discoveries: BTreeMap<ContributorId, Vec<DiscoveryAward>> = BTreeMap::new();
    for award in &result.discovery.awards {
        for contributor in payees(&award.device) {
            discoveries
                .entry(contributor)
                .or_default()
                .push(award.clone());
        }
    }
    let manifest = &published.manifest;
    manifest
        .contributors
        .iter()
        .map(|entry| {
            let claim = entry.address.and_then(|address| published.leaf_of(address));
            let proof = match (&published.tree, claim) {
                (Some(tree), Some((index, _))) => tree.proof(index).iter().map(hex_hash).collect(),
                _ => Vec::new(),
            };
            let who = entry.contributor;
            let proof = ContributorProof {
                epoch: manifest.epoch,
                contributor: who,
                address: entry.address,
                amount: entry.amount.clone(),
                emission_amount: entry.emission_amount.clone(),
                bounty_amount: entry.bounty_amount.clone(),
                consumption_amount: entry.consumption_amount.clone(),
                discovery_amount: entry.discovery_amount.clone(),
                merkle_root: manifest.merkle_root.clone(),
                claim_amount: claim.map_or(0, |(_, amount)| amount).to_string(),
                proof,
                cells: cells.remove(&who).unwrap_or_default(),
                consumption: consumption.remove(&who).unwrap_or_default(),
                discoveries: discoveries.remove(&who).unwrap_or_default(),
            };
            (who, proof)
        })
        .collect()
}
