//! Capture and frame rows: what ingest records per upload, and what later stages read.

use std::collections::BTreeMap;

use model::{CaptureId, DeviceId, Fix, FrameId, RejectReason, TimestampMs};
use sqlx::Row;

use crate::db::{NullableFloat, placeholders};
use crate::{Db, Error, Result};

/// A capture as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCapture {
    pub id: CaptureId,
    pub device_id: DeviceId,
    pub sequence_number: u64,
    pub manifest_sha256: String,
    pub manifest_key: String,
    pub signature: String,
    pub frame_count: u32,
    pub received_at: TimestampMs,
    /// The camera its manifest names (picks the field of view map features use).
    pub camera: String,
}

/// The outcome of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrameOutcome {
    Pending,
    Accepted { quality: f64 },
    Rejected(RejectReason),
}

/// One frame row of a capture.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFrame {
    pub index: u32,
    pub sha256: FrameId,
    pub fix: Fix,
    pub outcome: FrameOutcome,
}

/// A capture as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRow {
    pub id: CaptureId,
    pub device_id: DeviceId,
    pub sequence_number: u64,
    pub manifest_sha256: String,
    pub state: String,
    pub frame_count: u32,
    pub received_at: TimestampMs,
}

/// One frame's outcome as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameStatusRow {
    pub index: u32,
    pub sha256: FrameId,
    pub status: String,
    pub reject_reason: Option<String>,
    pub quality: Option<f64>,
}

impl Db {
    /// Records a capture and its frames, and enqueues `job` (its processing) in the same
    /// transaction: either all of it is stored, or none.
    pub async fn insert_capture(
        &self,
        capture: &NewCapture,
        frames: &[NewFrame],
        job: Option<&crate::NewJob>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO captures (id, device_id, sequence_number, manifest_sha256, manifest_key, \
             signature, state, frame_count, received_at_ms, camera) \
             VALUES ($1, $2, $3, $4, $5, $6, 'received', $7, $8, $9)",
        )
        .bind(capture.id.to_string())
        .bind(capture.device_id.to_string())
        .bind(
            i64::try_from(capture.sequence_number)
                .map_err(|_| Error::Corrupt("sequence number beyond 2^63".into()))?,
        )
        .bind(&capture.manifest_sha256)
        .bind(&capture.manifest_key)
        .bind(&capture.signature)
        .bind(i64::from(capture.frame_count))
        .bind(capture.received_at.as_millis())
        .bind(&capture.camera)
        .execute(&mut *tx)
        .await?;
        for frame in frames {
            let (status, reason, quality) = match frame.outcome {
                FrameOutcome::Pending => ("pending", None, None),
                FrameOutcome::Accepted { quality } => ("accepted", None, Some(quality)),
                FrameOutcome::Rejected(reason) => ("rejected", Some(reason.slug()), None),
            };
            let fix = &frame.fix;
            let cell = fix
                .cell(model::COVERAGE_RESOLUTION)
                .map(|cell| u64::from(cell) as i64);
            sqlx::query(
                "INSERT INTO frames (capture_id, idx, sha256, time_ms, lat, lon, alt, heading, speed, \
                 fix_type, satellites, hdop, cell, status, reject_reason, quality, device_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .bind(capture.id.to_string())
            .bind(i64::from(frame.index))
            .bind(frame.sha256.to_hex())
            .bind(fix.time.as_millis())
            .bind(fix.lat)
            .bind(fix.lon)
            .bind(NullableFloat(fix.alt))
            .bind(NullableFloat(fix.heading))
            .bind(NullableFloat(fix.speed))
            .bind(serde_json::to_value(fix.fix_type)?.as_str().unwrap_or_default().to_owned())
            .bind(i64::from(fix.satellites))
            .bind(f64::from(fix.hdop))
            .bind(cell)
            .bind(status)
            .bind(reason)
            .bind(NullableFloat(quality))
            .bind(capture.device_id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        crate::reviews::open_cases(&mut tx, capture, frames).await?;
        if let Some(job) = job {
            crate::JobQueue::enqueue_in(&mut tx, job).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn capture(&self, id: CaptureId) -> Result<Option<CaptureRow>> {
        let row = sqlx::query(
            "SELECT id, device_id, sequence_number, manifest_sha256, state, frame_count, received_at_ms \
             FROM captures WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(CaptureRow {
                id: crate::db::parse_column(&row, "id")?,
                device_id: crate::db::parse_column(&row, "device_id")?,
                sequence_number: u64::try_from(row.try_get::<i64, _>("sequence_number")?)
                    .unwrap_or(0),
                manifest_sha256: row.try_get("manifest_sha256")?,
                state: row.try_get("state")?,
                frame_count: u32::try_from(row.try_get::<i64, _>("frame_count")?).unwrap_or(0),
                received_at: TimestampMs(row.try_get("received_at_ms")?),
            })
        })
        .transpose()
    }

    /// Which of `frames` are already stored (accepted or waiting for the pipeline) from an
    /// earlier capture: by which device, and at which capture time.
    pub async fn stored_frames(
        &self,
        frames: &[FrameId],
    ) -> Result<Vec<(FrameId, DeviceId, TimestampMs)>> {
        let mut found = Vec::new();
        for chunk in frames.chunks(500) {
            // Numbered placeholders: the same text for SQLite and PostgreSQL.
            let placeholders = placeholders(1..=chunk.len());
            let sql = format!(
                "SELECT DISTINCT f.sha256, c.device_id, f.time_ms FROM frames f JOIN captures c ON c.id = f.capture_id \
                 WHERE f.status IN ('accepted', 'pending') AND f.sha256 IN ({})",
                placeholders
            );
            let mut query = sqlx::query(&sql);
            for frame in chunk {
                query = query.bind(frame.to_hex());
            }
            for row in query.fetch_all(self.pool()).await? {
                found.push((
                    crate::db::parse_column(&row, "sha256")?,
                    crate::db::parse_column(&row, "device_id")?,
                    TimestampMs(row.try_get("time_ms")?),
                ));
            }
        }
        Ok(found)
    }

    /// Of a device's stored frames (accepted or pending), the latest before each of
    /// `moments` and the first at or after it, each no further than `within_ms` from it
    /// (every frame of that millisecond, if several), each frame once, in time order. Two
    /// seeks of `frames_kept_by_device` a moment: the read costs what it returns, never
    /// the frames the device stored between the moments.
    pub async fn device_fixes_nearest(
        &self,
        device: DeviceId,
        moments: &[TimestampMs],
        within_ms: i64,
    ) -> Result<Vec<Fix>> {
        const MOMENTS_A_STATEMENT: usize = 500;
        let kept = "f.device_id = $1 AND f.status IN ('accepted', 'pending')";
        let mut found: BTreeMap<(i64, String, i64), Fix> = BTreeMap::new();
        for batch in moments.chunks(MOMENTS_A_STATEMENT) {
            let probes = (0..batch.len())
                .map(|i| format!("(${})", i + 3))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "WITH probes (t) AS (VALUES {probes}), picked (time_ms) AS ( \
                 SELECT (SELECT f.time_ms FROM frames f WHERE {kept} AND f.time_ms < p.t \
                 AND f.time_ms >= p.t - $2 ORDER BY f.time_ms DESC LIMIT 1) FROM probes p \
                 UNION \
                 SELECT (SELECT f.time_ms FROM frames f WHERE {kept} AND f.time_ms >= p.t \
                 AND f.time_ms <= p.t + $2 ORDER BY f.time_ms ASC LIMIT 1) FROM probes p) \
                 SELECT f.capture_id, f.idx, f.time_ms, f.lat, f.lon, f.alt, f.heading, f.speed, \
                 f.fix_type, f.satellites, f.hdop FROM picked p CROSS JOIN frames f \
                 WHERE {kept} AND f.time_ms = p.time_ms"
            );
            let mut query = sqlx::query(&sql).bind(device.to_string()).bind(within_ms);
            for moment in batch {
                query = query.bind(moment.as_millis());
            }
            for row in query.fetch_all(self.pool()).await? {
                let fix = fix_of_row(&row)?;
                let frame = (
                    fix.time.as_millis(),
                    row.try_get::<String, _>("capture_id")?,
                    row.try_get::<i64, _>("idx")?,
                );
                found.insert(frame, fix);
            }
        }
        Ok(found.into_values().collect())
    }

    /// The fixes of a device's frames from `since` on, by capture (captures in the order of
    /// their first fix, fixes in time order): frames accepted, pending, or held for review
    /// ([`RejectReason::is_held_for_review`]) — the device's recent track, as the worker's
    /// off-road check judges it.
    pub async fn device_track_by_capture(
        &self,
        device: DeviceId,
        since: TimestampMs,
    ) -> Result<Vec<(CaptureId, Vec<Fix>)>> {
        let sql = format!(
            "SELECT c.id AS capture_id, f.time_ms, f.lat, f.lon, f.alt, f.heading, f.speed, \
             f.fix_type, f.satellites, f.hdop \
             FROM frames f JOIN captures c ON c.id = f.capture_id \
             WHERE c.device_id = $1 AND f.time_ms >= $2 \
             AND (f.status IN ('accepted', 'pending') \
             OR (f.status = 'rejected' AND f.reject_reason IN ({}))) \
             ORDER BY f.time_ms, f.idx",
            crate::reviews::held_reasons()
        );
        let rows = sqlx::query(&sql)
            .bind(device.to_string())
            .bind(since.as_millis())
            .fetch_all(self.pool())
            .await?;
        let mut captures: Vec<(CaptureId, Vec<Fix>)> = Vec::new();
        for row in &rows {
            let capture: CaptureId = crate::db::parse_column(row, "capture_id")?;
            let fix = fix_of_row(row)?;
            match captures.iter_mut().find(|(id, _)| *id == capture) {
                Some((_, fixes)) => fixes.push(fix),
                None => captures.push((capture, vec![fix])),
            }
        }
        Ok(captures)
    }

    /// A device's recent history before `before`, in time order: of its stored frames
    /// (accepted or pending) strictly before `before`, the newest fix of each of its newest
    /// `seconds` seconds (by `time_ms / 1000`) that hold one. What its next capture is judged
    /// with, read by the second and not by the frame, so that a device sending many frames
    /// a second cannot shrink its history to a few seconds of driving.
    pub async fn device_history_before(
        &self,
        device: DeviceId,
        before: TimestampMs,
        seconds: u32,
    ) -> Result<Vec<Fix>> {
        let mut fixes = self
            .device_fix_a_second(device, before, seconds, Side::Before)
            .await?;
        fixes.reverse();
        Ok(fixes)
    }

    /// The mirror of [`Self::device_history_before`]: of a device's stored frames strictly
    /// after `after`, the first fix of each of its first `seconds` seconds that hold one, in
    /// time order. What a capture it sent late is judged with.
    pub async fn device_later_after(
        &self,
        device: DeviceId,
        after: TimestampMs,
        seconds: u32,
    ) -> Result<Vec<Fix>> {
        self.device_fix_a_second(device, after, seconds, Side::After)
            .await
    }

    /// One fix a second of a device's stored frames on `side` of `time`, the nearest to it
    /// of each second and the nearest `seconds` seconds, nearest first.
    ///
    /// A skip scan of `frames_kept_by_device`: the recursion seeks the nearest kept frame,
    /// then the nearest beyond its second, `seconds` times, so the read costs the seconds it
    /// returns and not the device's whole history. `CROSS JOIN` keeps SQLite reading the
    /// picked times first (PostgreSQL plans it the same either way).
    async fn device_fix_a_second(
        &self,
        device: DeviceId,
        time: TimestampMs,
        seconds: u32,
        side: Side,
    ) -> Result<Vec<Fix>> {
        if seconds == 0 {
            return Ok(Vec::new());
        }
        // How the nearest frame beyond `time`, and then beyond a picked frame's second, is
        // found (seconds by `time_ms / 1000`, as everywhere else).
        let (beyond_time, beyond_second, nearest_first) = match side {
            Side::Before => ("< $2", "< (p.time_ms / 1000) * 1000", "DESC"),
            Side::After => ("> $2", ">= (p.time_ms / 1000 + 1) * 1000", "ASC"),
        };
        let kept = "f.device_id = $1 AND f.status IN ('accepted', 'pending')";
        let sql = format!(
            "WITH RECURSIVE picked (time_ms, n) AS ( \
             SELECT (SELECT f.time_ms FROM frames f WHERE {kept} AND f.time_ms {beyond_time} \
             ORDER BY f.time_ms {nearest_first} LIMIT 1), 1 \
             UNION ALL \
             SELECT (SELECT f.time_ms FROM frames f WHERE {kept} AND f.time_ms {beyond_second} \
             ORDER BY f.time_ms {nearest_first} LIMIT 1), p.n + 1 \
             FROM picked p WHERE p.time_ms IS NOT NULL AND p.n < $3) \
             SELECT f.time_ms, f.lat, f.lon, f.alt, f.heading, f.speed, f.fix_type, f.satellites, f.hdop \
             FROM picked p CROSS JOIN frames f WHERE {kept} AND f.time_ms = p.time_ms \
             ORDER BY f.time_ms {nearest_first}, f.capture_id, f.idx"
        );
        let rows = sqlx::query(&sql)
            .bind(device.to_string())
            .bind(time.as_millis())
            .bind(i64::from(seconds))
            .fetch_all(self.pool())
            .await?;
        let mut fixes: Vec<Fix> = Vec::with_capacity(rows.len());
        for row in &rows {
            let fix = fix_of_row(row)?;
            // Frames of two captures may share a millisecond: one fix a second.
            if fixes.last().is_none_or(|last| last.time != fix.time) {
                fixes.push(fix);
            }
        }
        Ok(fixes)
    }

    /// The fixes of every other device's stored frames (accepted or pending) in each of
    /// `windows`: an H3 cell as stored with each frame (`cell`, res 12) and the times
    /// `start..=end` in it. In time order. Each window is one seek of `frames_cell_time`,
    /// so the read costs the frames found in those cells at those times and nothing else;
    /// the windows go a few hundred to a statement.
    pub async fn other_devices_fixes_in_cells(
        &self,
        device: DeviceId,
        windows: &[(u64, TimestampMs, TimestampMs)],
    ) -> Result<Vec<Fix>> {
        const WINDOWS_A_STATEMENT: usize = 300;
        let mut fixes = Vec::new();
        for batch in windows.chunks(WINDOWS_A_STATEMENT) {
            let probes = (0..batch.len())
                .map(|i| format!("(${}, ${}, ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "WITH probes (cell, start_ms, end_ms) AS (VALUES {probes}) \
                 SELECT f.time_ms, f.lat, f.lon, f.alt, f.heading, f.speed, f.fix_type, \
                 f.satellites, f.hdop FROM probes p CROSS JOIN frames f \
                 WHERE f.cell = p.cell AND f.time_ms BETWEEN p.start_ms AND p.end_ms \
                 AND f.status IN ('accepted', 'pending') AND f.device_id <> $1"
            );
            let mut query = sqlx::query(&sql).bind(device.to_string());
            for (cell, start, end) in batch {
                // As the frame's cell was stored: the index's bits as a signed 64-bit integer.
                query = query
                    .bind(*cell as i64)
                    .bind(start.as_millis())
                    .bind(end.as_millis());
            }
            for row in query.fetch_all(self.pool()).await? {
                fixes.push(fix_of_row(&row)?);
            }
        }
        fixes.sort_by_key(|fix| fix.time);
        Ok(fixes)
    }

    /// Every frame of a capture with its outcome, in manifest order.
    pub async fn capture_frames(&self, id: CaptureId) -> Result<Vec<FrameStatusRow>> {
        let rows = sqlx::query(
            "SELECT idx, sha256, status, reject_reason, quality FROM frames WHERE capture_id = $1 ORDER BY idx",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(FrameStatusRow {
                    index: u32::try_from(row.try_get::<i64, _>("idx")?).unwrap_or(0),
                    sha256: crate::db::parse_column(row, "sha256")?,
                    status: row.try_get("status")?,
                    reject_reason: row.try_get("reject_reason")?,
                    quality: row.try_get("quality")?,
                })
            })
            .collect()
    }

    /// Sets a capture's processing state (`received`, `processing`, `done`, `failed`).
    pub async fn set_capture_state(&self, id: CaptureId, state: &str) -> Result<()> {
        sqlx::query("UPDATE captures SET state = $1 WHERE id = $2")
            .bind(state)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Counts frames per status and reject reason.
    pub async fn frame_outcome_counts(&self) -> Result<Vec<(String, Option<String>, u64)>> {
        let rows = sqlx::query(
            "SELECT status, reject_reason, COUNT(*) AS n FROM frames \
             GROUP BY status, reject_reason ORDER BY status, reject_reason",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("status")?,
                    row.try_get("reject_reason")?,
                    u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
                ))
            })
            .collect()
    }

    /// [`Self::frame_outcome_counts`] per device: `(device, status, reject reason, count)`.
    pub async fn frame_outcome_counts_by_device(
        &self,
    ) -> Result<Vec<(DeviceId, String, Option<String>, u64)>> {
        let rows = sqlx::query(
            "SELECT c.device_id, f.status, f.reject_reason, COUNT(*) AS n \
             FROM frames f JOIN captures c ON c.id = f.capture_id \
             GROUP BY c.device_id, f.status, f.reject_reason \
             ORDER BY c.device_id, f.status, f.reject_reason",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    crate::db::parse_column(row, "device_id")?,
                    row.try_get("status")?,
                    row.try_get("reject_reason")?,
                    u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
                ))
            })
            .collect()
    }

    /// How many H3 res-12 cells have coverage.
    pub async fn cell_count(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cells")
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Counts frames per status (`pending`, `accepted`, `rejected`).
    pub async fn frame_counts(&self) -> Result<Vec<(String, u64)>> {
        let rows =
            sqlx::query("SELECT status, COUNT(*) FROM frames GROUP BY status ORDER BY status")
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    row.get::<String, _>(0),
                    u64::try_from(row.get::<i64, _>(1)).unwrap_or(0),
                )
            })
            .collect())
    }
}

/// The fix columns of a `frames` row (`time_ms`, `lat`, `lon`, `alt`, `heading`, `speed`,
/// `fix_type`, `satellites`, `hdop`).
/// Which side of a moment a device's fixes are read on.
#[derive(Debug, Clone, Copy)]
enum Side {
    Before,
    After,
}

pub(crate) fn fix_of_row(row: &sqlx::any::AnyRow) -> Result<Fix> {
    let fix_type: String = row.try_get("fix_type")?;
    Ok(Fix {
        time: TimestampMs(row.try_get("time_ms")?),
        lat: row.try_get("lat")?,
        lon: row.try_get("lon")?,
        alt: row.try_get("alt")?,
        heading: row.try_get("heading")?,
        speed: row.try_get("speed")?,
        fix_type: serde_json::from_value(serde_json::Value::String(fix_type))
            .unwrap_or(model::FixType::NoFix),
        satellites: u8::try_from(row.try_get::<i64, _>("satellites")?).unwrap_or(0),
        hdop: row.try_get::<f64, _>("hdop")? as f32,
    })
}
