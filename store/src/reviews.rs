//! The review queue's rows: fraud cases (one per capture and fraud reason), their decisions
//! and appeals, and the figures a device's reputation is computed from.

use std::fmt;
use std::str::FromStr;

use model::{CaptureId, ContributorId, DeviceId, RejectReason, TimestampMs};
use sqlx::Row;

use crate::db::placeholders;
use crate::{Db, Error, Result};

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaseStatus {
    /// Flagged by the judge, not reviewed yet.
    Open,
    /// The owner appealed; waiting for a second look.
    Appealed,
    /// A reviewer found the fraud real.
    Confirmed,
    /// A reviewer found it was not fraud.
    Cleared,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 4] = [Self::Open, Self::Appealed, Self::Confirmed, Self::Cleared];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Appealed => "appealed",
            Self::Confirmed => "confirmed",
            Self::Cleared => "cleared",
        }
    }

    /// Whether the finding counts against the device.
    pub fn stands(self) -> bool {
        !matches!(self, Self::Cleared)
    }

    /// Whether it waits for a reviewer.
    pub fn awaits_review(self) -> bool {
        matches!(self, Self::Open | Self::Appealed)
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseStatus {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| {
                format!("{text:?} is not a case status; use open, appealed, confirmed or cleared")
            })
    }
}

/// What a reviewer decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Confirm,
    Clear,
}

/// One fraud case.
#[derive(Debug, Clone, PartialEq)]
pub struct FraudCase {
    pub id: String,
    pub device: DeviceId,
    pub capture: CaptureId,
    pub reason: RejectReason,
    pub frame_count: u64,
    pub first_frame_at: TimestampMs,
    pub opened_at: TimestampMs,
    pub status: CaseStatus,
    pub decided_by: Option<ContributorId>,
    pub decided_at: Option<TimestampMs>,
    pub decision_note: Option<String>,
    pub appeal: Option<String>,
    pub appealed_at: Option<TimestampMs>,
}

/// Asks of [`Db::devices_cases_held`] per statement (four parameters each: well under
/// SQLite's and PostgreSQL's limits).
pub const ASKS_PER_READ: usize = 200;

const COLUMNS: &str = "id, device_id, capture_id, reason, frame_count, first_frame_ms, opened_at_ms, \
     status, decided_by, decided_at_ms, decision_note, appeal, appealed_at_ms";

fn case_of_row(row: &sqlx::any::AnyRow) -> Result<FraudCase> {
    let reason: String = row.try_get("reason")?;
    let status: String = row.try_get("status")?;
    let decided_by: Option<String> = row.try_get("decided_by")?;
    Ok(FraudCase {
        id: row.try_get("id")?,
        device: crate::db::parse_column(row, "device_id")?,
        capture: crate::db::parse_column(row, "capture_id")?,
        reason: RejectReason::from_slug(&reason)
            .ok_or_else(|| Error::Corrupt(format!("fraud case reason {reason:?}")))?,
        frame_count: u64::try_from(row.try_get::<i64, _>("frame_count")?).unwrap_or(0),
        first_frame_at: TimestampMs(row.try_get("first_frame_ms")?),
        opened_at: TimestampMs(row.try_get("opened_at_ms")?),
        status: status.parse().map_err(Error::Corrupt)?,
        decided_by: decided_by
            .map(|id| id.parse())
            .transpose()
            .map_err(|err: model::IdError| Error::Corrupt(err.to_string()))?,
        decided_at: row
            .try_get::<Option<i64>, _>("decided_at_ms")?
            .map(TimestampMs),
        decision_note: row.try_get("decision_note")?,
        appeal: row.try_get("appeal")?,
        appealed_at: row
            .try_get::<Option<i64>, _>("appealed_at_ms")?
            .map(TimestampMs),
    })
}

/// Opens the cases of a capture being inserted: one per fraud reason among its frames.
pub(crate) async fn open_cases(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    capture: &crate::NewCapture,
    frames: &[crate::NewFrame],
) -> Result<()> {
    let mut by_reason: std::collections::BTreeMap<RejectReason, (u64, TimestampMs)> =
        Default::default();
    for frame in frames {
        if let crate::FrameOutcome::Rejected(reason) = frame.outcome
            && reason.opens_case()
        {
            let entry = by_reason.entry(reason).or_insert((0, frame.fix.time));
            entry.0 += 1;
            entry.1 = entry.1.min(frame.fix.time);
        }
    }
    for (reason, (count, first)) in by_reason {
        sqlx::query(
            "INSERT INTO fraud_cases (id, device_id, capture_id, reason, frame_count, first_frame_ms, \
             opened_at_ms, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open')",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(capture.device_id.to_string())
        .bind(capture.id.to_string())
        .bind(reason.slug())
        .bind(i64::try_from(count).unwrap_or(i64::MAX))
        .bind(first.as_millis())
        .bind(capture.received_at.as_millis())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Opens the cases of a capture whose frames the pipeline worker rejected as fraud (a
/// frame whose own EXIF contradicts its manifest), in the worker's commit: one per fraud
/// reason among the capture's rejected frames not yet in a case.
pub(crate) async fn open_processed_cases(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    capture: model::CaptureId,
    frames: &[crate::ProcessedFrame],
    at: TimestampMs,
) -> Result<()> {
    let reasons: std::collections::BTreeSet<RejectReason> = frames
        .iter()
        .filter_map(|frame| match frame.outcome {
            crate::FrameOutcome::Rejected(reason) if reason.opens_case() => Some(reason),
            _ => None,
        })
        .collect();
    for reason in reasons {
        let row = sqlx::query(
            "SELECT c.device_id, COUNT(*) AS n, MIN(f.time_ms) AS first FROM frames f \
             JOIN captures c ON c.id = f.capture_id \
             WHERE f.capture_id = $1 AND f.status = 'rejected' AND f.reject_reason = $2 \
             GROUP BY c.device_id",
        )
        .bind(capture.to_string())
        .bind(reason.slug())
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else {
            continue;
        };
        sqlx::query(
            "INSERT INTO fraud_cases (id, device_id, capture_id, reason, frame_count, first_frame_ms, \
             opened_at_ms, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open') \
             ON CONFLICT (capture_id, reason) DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(row.try_get::<String, _>("device_id")?)
        .bind(capture.to_string())
        .bind(reason.slug())
        .bind(row.try_get::<i64, _>("n")?)
        .bind(row.try_get::<i64, _>("first")?)
        .bind(at.as_millis())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    pub status: Option<CaseStatus>,
    pub devices: Option<Vec<DeviceId>>,
    pub limit: u32,
}

impl Db {
    /// Cases, oldest first (the queue's order), filtered by `query`.
    pub async fn fraud_cases(&self, query: &CaseQuery) -> Result<Vec<FraudCase>> {
        let mut conditions = Vec::new();
        let mut next = 1;
        if query.status.is_some() {
            conditions.push(format!("status = ${next}"));
            next += 1;
        }
        if let Some(devices) = &query.devices {
            if devices.is_empty() {
                return Ok(Vec::new());
            }
            conditions.push(format!(
                "device_id IN ({})",
                placeholders(next..=next + devices.len() - 1)
            ));
            next += devices.len();
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM fraud_cases {filter} ORDER BY opened_at_ms, id LIMIT ${next}"
        );
        let mut statement = sqlx::query(&sql);
        if let Some(status) = query.status {
            statement = statement.bind(status.as_str());
        }
        for device in query.devices.iter().flatten() {
            statement = statement.bind(device.to_string());
        }
        let rows = statement
            .bind(i64::from(query.limit.max(1)))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(case_of_row).collect()
    }

    pub async fn fraud_case(&self, id: &str) -> Result<Option<FraudCase>> {
        let sql = format!("SELECT {COLUMNS} FROM fraud_cases WHERE id = $1");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(case_of_row)
            .transpose()
    }

    /// Records a reviewer's decision on a case awaiting review. Clearing it also takes the
    /// fraud off its frames, in the same transaction, so the device no longer forfeits an
    /// epoch for them: with `reprocess` (a held capture whose originals are still kept) its
    /// held frames go back to `pending` and the job that processes them again is enqueued;
    /// otherwise they become `review-cleared`. Fails with [`Error::CaseState`] when the case
    /// is not awaiting review (decided already, and not appealed).
    pub async fn decide_case(
        &self,
        id: &str,
        decision: Decision,
        by: ContributorId,
        note: &str,
        at: TimestampMs,
        reprocess: Option<&crate::NewJob>,
    ) -> Result<FraudCase> {
        let mut tx = self.begin().await?;
        let status = match decision {
            Decision::Confirm => CaseStatus::Confirmed,
            Decision::Clear => CaseStatus::Cleared,
        };
        let updated = sqlx::query(
            "UPDATE fraud_cases SET status = $1, decided_by = $2, decided_at_ms = $3, decision_note = $4 \
             WHERE id = $5 AND status IN ('open', 'appealed')",
        )
        .bind(status.as_str())
        .bind(by.to_string())
        .bind(at.as_millis())
        .bind(note)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(Error::CaseState {
                id: id.to_owned(),
                why: "is not awaiting review (decided already, and not appealed), or does not exist",
            });
        }
        match (decision, reprocess) {
            (Decision::Clear, Some(job)) => {
                sqlx::query(
                    "UPDATE frames SET status = 'pending', reject_reason = NULL WHERE status = 'rejected' \
                     AND reject_reason = (SELECT reason FROM fraud_cases WHERE id = $1) AND capture_id = \
                     (SELECT capture_id FROM fraud_cases WHERE id = $1)",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                crate::JobQueue::enqueue_in(&mut tx, job).await?;
            }
            (Decision::Clear, None) => {
                sqlx::query(
                    "UPDATE frames SET reject_reason = $1 WHERE status = 'rejected' AND reject_reason = \
                     (SELECT reason FROM fraud_cases WHERE id = $2) AND capture_id = \
                     (SELECT capture_id FROM fraud_cases WHERE id = $2)",
                )
                .bind(RejectReason::ReviewCleared.slug())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            (Decision::Confirm, _) => {}
        }
        // A capture held at a close left the map; cleared, it comes back.
        let capture: Option<String> =
            sqlx::query_scalar("SELECT capture_id FROM fraud_cases WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(capture) = capture {
            mark_capture_cells(&mut tx, &capture, at).await?;
        }
        tx.commit().await?;
        self.fraud_case(id)
            .await?
            .ok_or_else(|| Error::Corrupt(format!("case {id} vanished")))
    }

    /// The owner's appeal of a case: once, while it is open or confirmed; it goes back to
    /// the queue. Fails with [`Error::CaseState`] otherwise.
    pub async fn appeal_case(&self, id: &str, text: &str, at: TimestampMs) -> Result<FraudCase> {
        let updated = sqlx::query(
            "UPDATE fraud_cases SET status = 'appealed', appeal = $1, appealed_at_ms = $2 \
             WHERE id = $3 AND status IN ('open', 'confirmed') AND appeal IS NULL",
        )
        .bind(text)
        .bind(at.as_millis())
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(Error::CaseState {
                id: id.to_owned(),
                why: "cannot be appealed: it was appealed once already, or cleared, or does not exist",
            });
        }
        self.fraud_case(id)
            .await?
            .ok_or_else(|| Error::Corrupt(format!("case {id} vanished")))
    }

    /// Holds `capture`'s accepted frames for a reviewer with `reason` (one that
    /// [`RejectReason::is_held_for_review`]): opens its case, unless one is open already.
    /// The frames stay as they are; what the case means for them (the rewards close pays
    /// none of a held capture) is up to the reader of [`Db::held_captures`].
    pub async fn hold_capture(
        &self,
        capture: CaptureId,
        reason: RejectReason,
        at: TimestampMs,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO fraud_cases (id, device_id, capture_id, reason, frame_count, first_frame_ms, \
             opened_at_ms, status) \
             SELECT $1, c.device_id, c.id, $2, COUNT(*), MIN(f.time_ms), $3, 'open' \
             FROM captures c JOIN frames f ON f.capture_id = c.id \
             WHERE c.id = $4 AND f.status = 'accepted' GROUP BY c.device_id, c.id \
             ON CONFLICT (capture_id, reason) DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(reason.slug())
        .bind(at.as_millis())
        .bind(capture.to_string())
        .execute(&mut *tx)
        .await?;
        mark_capture_cells(&mut tx, &capture.to_string(), at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The frames of `capture` rejected for `reason`: what a case on it holds.
    pub async fn frames_rejected_for(
        &self,
        capture: CaptureId,
        reason: RejectReason,
    ) -> Result<Vec<model::FrameId>> {
        let rows = sqlx::query(
            "SELECT sha256 FROM frames WHERE capture_id = $1 AND status = 'rejected' \
             AND reject_reason = $2 ORDER BY idx",
        )
        .bind(capture.to_string())
        .bind(reason.slug())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| crate::db::parse_column(row, "sha256"))
            .collect()
    }

    /// Whether a reviewer cleared a hold for review ([`RejectReason::is_held_for_review`])
    /// of `capture`: processed again, it is not held again for the same pixels.
    pub async fn hold_cleared(&self, capture: CaptureId) -> Result<bool> {
        let sql = format!(
            "SELECT COUNT(*) FROM fraud_cases WHERE capture_id = $1 AND status = 'cleared' \
             AND reason IN ({})",
            held_reasons()
        );
        let count: i64 = sqlx::query_scalar(&sql)
            .bind(capture.to_string())
            .fetch_one(self.pool())
            .await?;
        Ok(count > 0)
    }

    /// Which of `captures` are held for review now (awaiting a reviewer, appealed or
    /// confirmed): what the public routes do not serve.
    pub async fn held_now_among(
        &self,
        captures: &[CaptureId],
    ) -> Result<std::collections::BTreeSet<CaptureId>> {
        let mut held = std::collections::BTreeSet::new();
        // Bounded lists, so no statement grows past a backend's parameter limit.
        for chunk in captures.chunks(500) {
            let sql = format!(
                "SELECT DISTINCT capture_id FROM fraud_cases k WHERE k.capture_id IN ({}) AND {}",
                crate::db::placeholders(1..=chunk.len()),
                held_now("k")
            );
            let mut statement = sqlx::query(&sql);
            for capture in chunk {
                statement = statement.bind(capture.to_string());
            }
            for row in statement.fetch_all(self.pool()).await? {
                held.insert(crate::db::parse_column(&row, "capture_id")?);
            }
        }
        Ok(held)
    }

    /// Captures held for review ([`RejectReason::is_held_for_review`]) as of `as_of`: their
    /// case opened by then and not cleared by then. (An epoch's inputs read them as of its
    /// close, so a case cleared later does not change what the closed epoch paid.)
    pub async fn held_captures(
        &self,
        as_of: TimestampMs,
    ) -> Result<std::collections::BTreeSet<CaptureId>> {
        let sql = format!(
            "SELECT DISTINCT capture_id FROM fraud_cases WHERE {}",
            held_as_of("fraud_cases", "$1")
        );
        let rows = sqlx::query(&sql)
            .bind(as_of.as_millis())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| crate::db::parse_column(row, "capture_id"))
            .collect()
    }

    /// How many captures of each device are held `reason` with their first held frame
    /// taken in `[start, end)`, their cases not cleared: how often a device was caught in an
    /// epoch (the rewards close's device rule of place consensus,
    /// `model::consensus::device_holds`; the worker asks [`Db::device_captures_held`]).
    pub async fn captures_held_by_device(
        &self,
        reason: RejectReason,
        start: TimestampMs,
        end: TimestampMs,
    ) -> Result<std::collections::BTreeMap<DeviceId, usize>> {
        let rows = sqlx::query(
            "SELECT device_id, COUNT(DISTINCT capture_id) AS held FROM fraud_cases \
             WHERE reason = $1 AND status <> 'cleared' AND first_frame_ms >= $2 \
             AND first_frame_ms < $3 GROUP BY device_id",
        )
        .bind(reason.slug())
        .bind(start.as_millis())
        .bind(end.as_millis())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let held: i64 = row.try_get("held")?;
                Ok((
                    crate::db::parse_column(row, "device_id")?,
                    usize::try_from(held).unwrap_or(0),
                ))
            })
            .collect()
    }

    /// How many captures of `device` are held `reason` with their first held frame taken at
    /// or after `since`, their cases not cleared: how often the device was caught lately
    /// (the worker's device rule of place consensus, `model::consensus::device_holds`).
    pub async fn device_captures_held(
        &self,
        device: DeviceId,
        reason: RejectReason,
        since: TimestampMs,
    ) -> Result<usize> {
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT capture_id) FROM fraud_cases WHERE device_id = $1 \
             AND reason = $2 AND status <> 'cleared' AND first_frame_ms >= $3",
        )
        .bind(device.to_string())
        .bind(reason.slug())
        .bind(since.as_millis())
        .fetch_one(self.pool())
        .await?;
        Ok(usize::try_from(held).unwrap_or(0))
    }

    /// For each ask (a key of the caller's, a device and a window `[start, end)`), the cases
    /// of that device held `reason` with their first held frame in the window, not cleared,
    /// oldest first, at most `limit` an ask; one read per [`ASKS_PER_READ`] asks. Returned as
    /// (key, case), by key then age: the captures that made a device caught, which the review
    /// queue shows beside each case of a page the device rule opened (`unvouched-place`),
    /// without a read per case.
    pub async fn devices_cases_held(
        &self,
        reason: RejectReason,
        asks: &[(String, DeviceId, (TimestampMs, TimestampMs))],
        limit: u32,
    ) -> Result<Vec<(String, FraudCase)>> {
        let mut found = Vec::new();
        for chunk in asks.chunks(ASKS_PER_READ) {
            let values = (0..chunk.len())
                .map(|n| {
                    let first = 3 + 4 * n;
                    format!("(${first}, ${}, ${}, ${})", first + 1, first + 2, first + 3)
                })
                .collect::<Vec<_>>()
                .join(", ");
            // VALUES columns are column1… in both SQLite and PostgreSQL.
            let sql = format!(
                "SELECT ask_key, {COLUMNS} FROM (SELECT ask.column1 AS ask_key, k.*, \
                 ROW_NUMBER() OVER (PARTITION BY ask.column1 ORDER BY k.first_frame_ms, k.id) AS nth \
                 FROM (VALUES {values}) ask JOIN fraud_cases k ON k.device_id = ask.column2 \
                 AND k.first_frame_ms >= ask.column3 AND k.first_frame_ms < ask.column4 \
                 WHERE k.reason = $1 AND k.status <> 'cleared') ranked \
                 WHERE nth <= $2 ORDER BY ask_key, first_frame_ms, id"
            );
            let mut query = sqlx::query(&sql)
                .bind(reason.slug())
                .bind(i64::from(limit.max(1)));
            for (key, device, (start, end)) in chunk {
                query = query
                    .bind(key.clone())
                    .bind(device.to_string())
                    .bind(start.as_millis())
                    .bind(end.as_millis());
            }
            for row in query.fetch_all(self.pool()).await? {
                found.push((row.try_get("ask_key")?, case_of_row(&row)?));
            }
        }
        Ok(found)
    }

    /// The findings standing against `device` taken before `before`, each with the frames
    /// the device had accepted after it (up to `before`): what its reputation is computed
    /// from.
    pub async fn standing_findings(
        &self,
        device: DeviceId,
        before: TimestampMs,
    ) -> Result<Vec<model::reputation::Finding>> {
        let sql = format!(
            "SELECT k.first_frame_ms, (SELECT COUNT(*) FROM frames f JOIN captures c ON c.id = f.capture_id \
               WHERE c.device_id = k.device_id AND f.status = 'accepted' \
               AND f.time_ms > k.first_frame_ms AND f.time_ms < $2) AS clean \
             FROM fraud_cases k WHERE k.device_id = $1 AND {STANDING} \
             AND k.first_frame_ms < $2 ORDER BY k.first_frame_ms",
            STANDING = standing("k")
        );
        let rows = sqlx::query(&sql)
            .bind(device.to_string())
            .bind(before.as_millis())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(model::reputation::Finding {
                    at: TimestampMs(row.try_get("first_frame_ms")?),
                    clean_frames_since: u64::try_from(row.try_get::<i64, _>("clean")?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Devices with a finding standing against them taken before `before`.
    pub async fn devices_with_findings(&self, before: TimestampMs) -> Result<Vec<DeviceId>> {
        let sql = format!(
            "SELECT DISTINCT k.device_id FROM fraud_cases k WHERE {} \
             AND k.first_frame_ms < $1 ORDER BY k.device_id",
            standing("k")
        );
        let rows = sqlx::query(&sql)
            .bind(before.as_millis())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| crate::db::parse_column(row, "device_id"))
            .collect()
    }
}

/// The SQL condition on cases aliased `alias` that stand against a device: not cleared, and
/// for a hold for review ([`RejectReason::is_held_for_review`]) only once confirmed.
fn standing(alias: &str) -> String {
    format!(
        "{alias}.status <> 'cleared' AND ({alias}.status = 'confirmed' OR {alias}.reason NOT IN ({}))",
        held_reasons()
    )
}

/// Marks the cells of `capture`'s accepted frames dirty: the tile builder redraws them (a
/// capture held, or cleared, changes what the map may show).
async fn mark_capture_cells(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    capture: &str,
    at: TimestampMs,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO dirty_cells (cell, marked_at_ms) \
         SELECT DISTINCT cell, $1 FROM frames WHERE capture_id = $2 AND status = 'accepted' \
         AND cell IS NOT NULL \
         ON CONFLICT (cell) DO UPDATE SET marked_at_ms = excluded.marked_at_ms",
    )
    .bind(at.as_millis())
    .bind(capture)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The SQL condition on cases aliased `alias` that hold their capture for review as of the
/// time bound to `as_of` (a placeholder): opened by then and not cleared by then.
pub(crate) fn held_as_of(alias: &str, as_of: &str) -> String {
    format!(
        "{alias}.reason IN ({}) AND {alias}.opened_at_ms <= {as_of} \
         AND NOT ({alias}.status = 'cleared' AND {alias}.decided_at_ms <= {as_of})",
        held_reasons()
    )
}

/// The SQL condition on cases aliased `alias` that hold their capture for review now:
/// awaiting a reviewer, appealed, or confirmed (only a cleared case lets it go).
pub(crate) fn held_now(alias: &str) -> String {
    format!(
        "{alias}.reason IN ({}) AND {alias}.status <> 'cleared'",
        held_reasons()
    )
}

/// The slugs of the reasons that hold frames for review, quoted for an SQL `IN` list (our
/// own constant slugs, never user input; `unlike-place` at least).
pub(crate) fn held_reasons() -> String {
    RejectReason::ALL
        .into_iter()
        .filter(|reason| reason.is_held_for_review())
        .map(|reason| format!("'{}'", reason.slug()))
        .collect::<Vec<_>>()
        .join(", ")
}
