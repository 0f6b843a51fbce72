//! What the rewards stage reads and writes: frames of an epoch with their devices, cell
//! history, device payees, contributor addresses, and the closed-epoch rows.

use std::collections::BTreeMap;

use model::{CaptureId, ContributorId, DeviceId, FrameId, PayoutAddress, TimestampMs};
use sqlx::Row;

use crate::db::{parse_column as parse, placeholders};
use crate::{Db, Error, Result};

/// A frame in an epoch, as rewards reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochFrameRow {
    pub frame: FrameId,
    /// The capture whose signed manifest lists it.
    pub capture: CaptureId,
    pub device: DeviceId,
    pub time: TimestampMs,
    pub lat: f64,
    pub lon: f64,
    /// `None` when vision gave no score.
    pub quality: Option<f64>,
    /// The reject reason of a flagged frame; `None` for accepted frames.
    pub fraud: Option<String>,
}

/// What proves a capture came from its device: the device's public key, the sha256 of
/// the exact manifest body it signed, the signature, and where the body is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureEvidenceRow {
    pub capture: CaptureId,
    pub device: DeviceId,
    /// ed25519, 64 hex.
    pub device_key: String,
    pub manifest_sha256: String,
    pub signature: String,
    pub manifest_key: String,
}

/// An oracle's signed report of a closed epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleSignatureRow {
    pub epoch: String,
    /// The address the signature recovers to, `0x…`.
    pub oracle: String,
    pub report_json: String,
    pub signature: String,
    /// Its report is the network's own.
    pub agrees: bool,
    pub received_at: TimestampMs,
}

/// A device's payees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevicePayeesRow {
    pub device: DeviceId,
    pub owner: ContributorId,
    pub driver: Option<ContributorId>,
    pub driver_share_bps: u16,
}

/// Where a reward epoch stands: `open` (frames still count), `closing` (a closer holds its
/// claim), `closed` (published; frames dated inside it no longer count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EpochState {
    Open,
    Closing,
    Closed,
}

impl EpochState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closing => "closing",
            Self::Closed => "closed",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "open" => Ok(Self::Open),
            "closing" => Ok(Self::Closing),
            "closed" => Ok(Self::Closed),
            other => Err(crate::Error::Corrupt(format!("epoch state {other:?}"))),
        }
    }
}

impl std::fmt::Display for EpochState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row of the `epochs` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochRow {
    pub id: String,
    pub starts_at: TimestampMs,
    pub ends_at: TimestampMs,
    pub state: EpochState,
    pub emission: String,
    pub merkle_root: Option<String>,
    pub manifest_key: Option<String>,
    pub closed_at: Option<TimestampMs>,
    /// The share of map consumers' spending paid out (closed epochs; absent before
    /// consumption rewards).
    pub consumption_pool: Option<String>,
    pub credits_consumed: Option<String>,
}

/// What a contributor earned in a closed epoch, and from what (integer amounts, decimal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardRow {
    pub epoch: String,
    pub contributor: ContributorId,
    pub amount: String,
    /// The parts; absent in epochs closed before the breakdown was kept.
    pub emission_amount: Option<String>,
    pub bounty_amount: Option<String>,
    pub consumption_amount: Option<String>,
    /// For finding new map features; absent before discovery rewards existed.
    pub discovery_amount: Option<String>,
    /// The claim (proof and attribution) as JSON, written at close; read only by
    /// [`Db::reward_claim`], so listing rewards never loads it.
    pub claim_json: Option<String>,
}

impl Db {
    /// Accepted frames with `start <= time < end`, and frames rejected for one of
    /// `fraud_reasons` in the same window.
    pub async fn epoch_frames(
        &self,
        start: TimestampMs,
        end: TimestampMs,
        fraud_reasons: &[&str],
    ) -> Result<Vec<EpochFrameRow>> {
        let rows = sqlx::query(
            "SELECT f.sha256, f.capture_id, c.device_id, f.time_ms, f.lat, f.lon, f.quality, f.status, f.reject_reason \
             FROM frames f JOIN captures c ON c.id = f.capture_id \
             WHERE f.time_ms >= $1 AND f.time_ms < $2 AND f.status IN ('accepted', 'rejected') \
             ORDER BY f.time_ms, f.sha256",
        )
        .bind(start.as_millis())
        .bind(end.as_millis())
        .fetch_all(self.pool())
        .await?;
        let mut frames = Vec::with_capacity(rows.len());
        for row in rows {
            let status: String = row.try_get("status")?;
            let reason: Option<String> = row.try_get("reject_reason")?;
            let fraud = match (status.as_str(), reason) {
                ("accepted", _) => None,
                (_, Some(reason)) if fraud_reasons.contains(&reason.as_str()) => Some(reason),
                _ => continue,
            };
            frames.push(EpochFrameRow {
                frame: parse(&row, "sha256")?,
                capture: parse(&row, "capture_id")?,
                device: parse(&row, "device_id")?,
                time: TimestampMs(row.try_get("time_ms")?),
                lat: row.try_get("lat")?,
                lon: row.try_get("lon")?,
                quality: row.try_get("quality")?,
                fraud,
            });
        }
        Ok(frames)
    }

    /// Keeps an oracle's signed report of an epoch, replacing the one it sent before.
    pub async fn save_oracle_signature(&self, row: &OracleSignatureRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO oracle_signatures (epoch_id, oracle, report_json, signature, agrees, received_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (epoch_id, oracle) DO UPDATE SET \
             report_json = excluded.report_json, signature = excluded.signature, \
             agrees = excluded.agrees, received_at_ms = excluded.received_at_ms",
        )
        .bind(&row.epoch)
        .bind(&row.oracle)
        .bind(&row.report_json)
        .bind(&row.signature)
        .bind(i64::from(row.agrees))
        .bind(row.received_at.as_millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every oracle's signed report of `epoch`, by oracle address.
    pub async fn oracle_signatures(&self, epoch: &str) -> Result<Vec<OracleSignatureRow>> {
        let rows = sqlx::query(
            "SELECT epoch_id, oracle, report_json, signature, agrees, received_at_ms \
             FROM oracle_signatures WHERE epoch_id = $1 ORDER BY oracle",
        )
        .bind(epoch)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OracleSignatureRow {
                    epoch: row.try_get("epoch_id")?,
                    oracle: row.try_get("oracle")?,
                    report_json: row.try_get("report_json")?,
                    signature: row.try_get("signature")?,
                    agrees: row.try_get::<i64, _>("agrees")? != 0,
                    received_at: TimestampMs(row.try_get("received_at_ms")?),
                })
            })
            .collect()
    }

    /// Whether `capture` has a frame captured in `start..end`.
    pub async fn capture_has_frame_between(
        &self,
        capture: CaptureId,
        start: TimestampMs,
        end: TimestampMs,
    ) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM frames WHERE capture_id = $1 AND time_ms >= $2 AND time_ms < $3 LIMIT 1",
        )
        .bind(capture.to_string())
        .bind(start.as_millis())
        .bind(end.as_millis())
        .fetch_optional(self.pool())
        .await?;
        Ok(found.is_some())
    }

    /// The evidence of each of `captures` that exists, by capture id.
    pub async fn capture_evidence(
        &self,
        captures: &[CaptureId],
    ) -> Result<Vec<CaptureEvidenceRow>> {
        let mut found = Vec::with_capacity(captures.len());
        for chunk in captures.chunks(500) {
            let sql = format!(
                "SELECT c.id, c.device_id, d.public_key, c.manifest_sha256, c.signature, c.manifest_key \
                 FROM captures c JOIN devices d ON d.id = c.device_id WHERE c.id IN ({}) ORDER BY c.id",
                placeholders(1..=chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for capture in chunk {
                query = query.bind(capture.to_string());
            }
            for row in query.fetch_all(self.pool()).await? {
                found.push(CaptureEvidenceRow {
                    capture: parse(&row, "id")?,
                    device: parse(&row, "device_id")?,
                    device_key: row.try_get("public_key")?,
                    manifest_sha256: row.try_get("manifest_sha256")?,
                    signature: row.try_get("signature")?,
                    manifest_key: row.try_get("manifest_key")?,
                });
            }
        }
        Ok(found)
    }

    /// For every cell with an accepted frame in `start..end`, the time of its last accepted
    /// frame before `start` (cells never mapped before are absent).
    pub async fn cells_last_mapped_before(
        &self,
        start: TimestampMs,
        end: TimestampMs,
    ) -> Result<BTreeMap<u64, TimestampMs>> {
        let rows = sqlx::query(
            "SELECT cell, MAX(time_ms) FROM frames WHERE status = 'accepted' AND time_ms < $1 \
             AND cell IN (SELECT DISTINCT cell FROM frames WHERE status = 'accepted' \
                          AND time_ms >= $1 AND time_ms < $2) \
             GROUP BY cell",
        )
        .bind(start.as_millis())
        .bind(end.as_millis())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let cell: i64 = row.try_get(0)?;
                let last: i64 = row.try_get(1)?;
                let cell =
                    u64::try_from(cell).map_err(|_| Error::Corrupt(format!("cell {cell}")))?;
                Ok((cell, TimestampMs(last)))
            })
            .collect()
    }

    /// Frames still waiting for the pipeline with `start <= time < end`.
    pub async fn pending_frames_between(
        &self,
        start: TimestampMs,
        end: TimestampMs,
    ) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM frames WHERE status = 'pending' AND time_ms >= $1 AND time_ms < $2",
        )
        .bind(start.as_millis())
        .bind(end.as_millis())
        .fetch_one(self.pool())
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The earliest accepted frame time, if any.
    pub async fn first_accepted_frame_time(&self) -> Result<Option<TimestampMs>> {
        let first: Option<i64> =
            sqlx::query_scalar("SELECT MIN(time_ms) FROM frames WHERE status = 'accepted'")
                .fetch_one(self.pool())
                .await?;
        Ok(first.map(TimestampMs))
    }

    /// Who each device pays: its owner, and its driver only once the driver accepted.
    pub async fn device_payees(&self) -> Result<Vec<DevicePayeesRow>> {
        let rows = sqlx::query(
            "SELECT id, contributor_id, \
             CASE WHEN driver_accepted_at_ms IS NULL THEN NULL ELSE driver_id END AS driver_id, \
             driver_share_bps FROM devices",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let driver: Option<String> = row.try_get("driver_id")?;
                let share: i64 = row.try_get("driver_share_bps")?;
                Ok(DevicePayeesRow {
                    device: parse(row, "id")?,
                    owner: parse(row, "contributor_id")?,
                    driver: driver
                        .map(|d| {
                            d.parse()
                                .map_err(|e| Error::Corrupt(format!("driver id: {e}")))
                        })
                        .transpose()?,
                    driver_share_bps: u16::try_from(share)
                        .map_err(|_| Error::Corrupt(format!("share {share}")))?,
                })
            })
            .collect()
    }

    /// Every contributor's payout address (contributors without one are absent).
    pub async fn payout_addresses(&self) -> Result<BTreeMap<ContributorId, PayoutAddress>> {
        let rows = sqlx::query(
            "SELECT id, payout_address FROM contributors WHERE payout_address IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((parse(row, "id")?, parse(row, "payout_address")?)))
            .collect()
    }

    /// Claims the right to close an epoch, so two closers (the scheduler and an operator,
    /// or several servers) never publish two different results: the epoch row is created or
    /// taken over as `closing` with `claim` as its token, unless it is closed or another
    /// claim newer than `stale_before` holds it. Returns whether this caller holds the claim.
    pub async fn claim_epoch_close(
        &self,
        epoch: &EpochRow,
        claim: TimestampMs,
        stale_before: TimestampMs,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO epochs (id, starts_at_ms, ends_at_ms, state, emission, closed_at_ms) \
             VALUES ($1, $2, $3, 'closing', $4, $5) \
             ON CONFLICT (id) DO UPDATE SET state = 'closing', closed_at_ms = excluded.closed_at_ms \
             WHERE epochs.state = 'open' OR (epochs.state = 'closing' AND epochs.closed_at_ms < $6)",
        )
        .bind(&epoch.id)
        .bind(epoch.starts_at.as_millis())
        .bind(epoch.ends_at.as_millis())
        .bind(&epoch.emission)
        .bind(claim.as_millis())
        .bind(stale_before.as_millis())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives a close claim back (the closer failed): the epoch is `open` again.
    pub async fn release_epoch_claim(&self, id: &str, claim: TimestampMs) -> Result<()> {
        sqlx::query("UPDATE epochs SET state = 'open', closed_at_ms = NULL WHERE id = $1 AND state = 'closing' AND closed_at_ms = $2")
            .bind(id)
            .bind(claim.as_millis())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records a closed epoch and its per-contributor amounts in one transaction, if the
    /// caller still holds the close claim `claim` (see [`Db::claim_epoch_close`]); returns
    /// whether it did.
    pub async fn save_closed_epoch(
        &self,
        epoch: &EpochRow,
        amounts: &[RewardRow],
        claim: TimestampMs,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE epochs SET state = 'closed', emission = $2, merkle_root = $3, manifest_key = $4, \
             closed_at_ms = $5, consumption_pool = $7, credits_consumed = $8 \
             WHERE id = $1 AND state = 'closing' AND closed_at_ms = $6",
        )
        .bind(&epoch.id)
        .bind(&epoch.emission)
        .bind(&epoch.merkle_root)
        .bind(&epoch.manifest_key)
        .bind(epoch.closed_at.map(TimestampMs::as_millis))
        .bind(claim.as_millis())
        .bind(&epoch.consumption_pool)
        .bind(&epoch.credits_consumed)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM rewards WHERE epoch_id = $1")
            .bind(&epoch.id)
            .execute(&mut *tx)
            .await?;
        for row in amounts {
            sqlx::query(
                "INSERT INTO rewards (epoch_id, contributor_id, amount, emission_amount, \
                 bounty_amount, consumption_amount, discovery_amount, claim_json) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&epoch.id)
            .bind(row.contributor.to_string())
            .bind(&row.amount)
            .bind(&row.emission_amount)
            .bind(&row.bounty_amount)
            .bind(&row.consumption_amount)
            .bind(&row.discovery_amount)
            .bind(&row.claim_json)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn epoch(&self, id: &str) -> Result<Option<EpochRow>> {
        let row = sqlx::query(&format!("{EPOCH_COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| epoch_from_row(&row)).transpose()
    }

    pub async fn epochs(&self) -> Result<Vec<EpochRow>> {
        let rows = sqlx::query(&format!("{EPOCH_COLUMNS} ORDER BY starts_at_ms"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(epoch_from_row).collect()
    }

    /// A contributor's claim in a closed epoch, as kept at close (`None`: no reward, or
    /// an epoch closed before claims were kept). One row by its key: no recompute.
    pub async fn reward_claim(
        &self,
        epoch: &str,
        contributor: ContributorId,
    ) -> Result<Option<String>> {
        let claim: Option<Option<String>> = sqlx::query_scalar(
            "SELECT claim_json FROM rewards WHERE epoch_id = $1 AND contributor_id = $2",
        )
        .bind(epoch)
        .bind(contributor.to_string())
        .fetch_optional(self.pool())
        .await?;
        Ok(claim.flatten())
    }

    /// A contributor's rewards, oldest epoch first.
    pub async fn rewards_of(&self, contributor: ContributorId) -> Result<Vec<RewardRow>> {
        let rows = sqlx::query(
            "SELECT r.epoch_id, r.amount, r.emission_amount, r.bounty_amount, r.consumption_amount, \
             r.discovery_amount FROM rewards r JOIN epochs e ON e.id = r.epoch_id \
             WHERE r.contributor_id = $1 ORDER BY e.starts_at_ms",
        )
        .bind(contributor.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RewardRow {
                    epoch: row.try_get("epoch_id")?,
                    contributor,
                    amount: row.try_get("amount")?,
                    emission_amount: row.try_get("emission_amount")?,
                    bounty_amount: row.try_get("bounty_amount")?,
                    consumption_amount: row.try_get("consumption_amount")?,
                    discovery_amount: row.try_get("discovery_amount")?,
                    claim_json: None,
                })
            })
            .collect()
    }
}

const EPOCH_COLUMNS: &str = "SELECT id, starts_at_ms, ends_at_ms, state, emission, merkle_root, \
     manifest_key, closed_at_ms, consumption_pool, credits_consumed FROM epochs";

fn epoch_from_row(row: &sqlx::any::AnyRow) -> Result<EpochRow> {
    Ok(EpochRow {
        id: row.try_get("id")?,
        starts_at: TimestampMs(row.try_get("starts_at_ms")?),
        ends_at: TimestampMs(row.try_get("ends_at_ms")?),
        state: EpochState::parse(&row.try_get::<String, _>("state")?)?,
        emission: row.try_get("emission")?,
        merkle_root: row.try_get("merkle_root")?,
        manifest_key: row.try_get("manifest_key")?,
        closed_at: row
            .try_get::<Option<i64>, _>("closed_at_ms")?
            .map(TimestampMs),
        consumption_pool: row.try_get("consumption_pool")?,
        credits_consumed: row.try_get("credits_consumed")?,
    })
}
