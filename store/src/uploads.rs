//! Who uploaded each original frame, and which originals nothing needs any more.
//!
//! A row per (frame, device) that sent the frame's bytes: the store records it when the
//! blob is stored, ingest asks it whether a manifest's device sent the frames it names and
//! which device sent a frame first, and the collector asks it which originals no pending
//! frame, and no frame held for a reviewer, needs once their uploads are older than a grace
//! period.

use model::{DeviceId, FrameId, TimestampMs};
use sqlx::Row;

use crate::db::placeholders;
use crate::{Db, Result};

/// Rows of at most this many ids per statement (SQLite's default limit is 32 766
/// parameters; PostgreSQL's 65 535).
const CHUNK: usize = 500;

impl Db {
    /// Records that `device` sent the bytes of `frame` at `at` (again: the grace period
    /// restarts).
    pub async fn record_upload(
        &self,
        frame: FrameId,
        device: DeviceId,
        at: TimestampMs,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO frame_uploads (sha256, device_id, first_at_ms, last_at_ms) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (sha256, device_id) DO UPDATE SET last_at_ms = excluded.last_at_ms",
        )
        .bind(frame.to_hex())
        .bind(device.to_string())
        .bind(at.as_millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Which of `frames` `device` never uploaded (or whose upload was collected).
    pub async fn not_uploaded_by(
        &self,
        device: DeviceId,
        frames: &[FrameId],
    ) -> Result<Vec<FrameId>> {
        let mut uploaded = std::collections::HashSet::new();
        for chunk in frames.chunks(CHUNK) {
            let placeholders = placeholders(2..=chunk.len() + 1);
            let sql = format!(
                "SELECT sha256 FROM frame_uploads WHERE device_id = $1 AND sha256 IN ({})",
                placeholders
            );
            let mut query = sqlx::query(&sql).bind(device.to_string());
            for frame in chunk {
                query = query.bind(frame.to_hex());
            }
            for row in query.fetch_all(self.pool()).await? {
                uploaded.insert(crate::db::parse_column::<FrameId>(&row, "sha256")?);
            }
        }
        let mut missing: Vec<FrameId> = Vec::new();
        for frame in frames {
            if !uploaded.contains(frame) && !missing.contains(frame) {
                missing.push(*frame);
            }
        }
        Ok(missing)
    }

    /// The device that first uploaded each of `frames` that has an upload on record (the
    /// earliest `first_at_ms`; ties go to the smaller device id).
    pub async fn first_uploaders(&self, frames: &[FrameId]) -> Result<Vec<(FrameId, DeviceId)>> {
        let mut firsts: std::collections::HashMap<FrameId, (i64, DeviceId)> = Default::default();
        for chunk in frames.chunks(CHUNK) {
            let placeholders = placeholders(1..=chunk.len());
            let sql = format!(
                "SELECT sha256, device_id, first_at_ms FROM frame_uploads WHERE sha256 IN ({})",
                placeholders
            );
            let mut query = sqlx::query(&sql);
            for frame in chunk {
                query = query.bind(frame.to_hex());
            }
            for row in query.fetch_all(self.pool()).await? {
                let frame: FrameId = crate::db::parse_column(&row, "sha256")?;
                let device: DeviceId = crate::db::parse_column(&row, "device_id")?;
                let at: i64 = row.try_get("first_at_ms")?;
                let earlier = firsts.get(&frame).is_none_or(|(best_at, best)| {
                    (at, device.to_string()) < (*best_at, best.to_string())
                });
                if earlier {
                    firsts.insert(frame, (at, device));
                }
            }
        }
        Ok(firsts
            .into_iter()
            .map(|(frame, (_, device))| (frame, device))
            .collect())
    }

    /// Up to `limit` frames whose every upload is older than `cutoff` and that no pending
    /// frame, and no frame held for review whose case awaits a reviewer, needs: their
    /// originals may be deleted, then [`Db::forget_uploads`].
    pub async fn collectable_uploads(
        &self,
        cutoff: TimestampMs,
        limit: u32,
    ) -> Result<Vec<FrameId>> {
        // Spared: pending frames, and frames held for review while their case awaits a
        // reviewer (cleared, they are processed again from their original).
        let sql = format!(
            "SELECT u.sha256 FROM frame_uploads u GROUP BY u.sha256 HAVING MAX(u.last_at_ms) < $1 \
             AND NOT EXISTS (SELECT 1 FROM frames f WHERE f.sha256 = u.sha256 AND (f.status = 'pending' \
               OR (f.status = 'rejected' AND f.reject_reason IN ({held}) AND EXISTS (SELECT 1 FROM fraud_cases k \
                 WHERE k.capture_id = f.capture_id AND k.reason = f.reject_reason AND k.status IN ('open', 'appealed'))))) \
             ORDER BY MAX(u.last_at_ms) LIMIT $2",
            held = crate::reviews::held_reasons()
        );
        let rows = sqlx::query(&sql)
            .bind(cutoff.as_millis())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| crate::db::parse_column(row, "sha256"))
            .collect()
    }

    /// Forgets the uploads of `frame` older than `cutoff` (after its original was deleted).
    pub async fn forget_uploads(&self, frame: FrameId, cutoff: TimestampMs) -> Result<u64> {
        let done = sqlx::query("DELETE FROM frame_uploads WHERE sha256 = $1 AND last_at_ms < $2")
            .bind(frame.to_hex())
            .bind(cutoff.as_millis())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
