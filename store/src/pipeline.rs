//! What the ingest pipeline worker reads and commits: a capture's pending frames, the recent
//! fingerprints of the cells it touches, and the whole outcome of processing it — in one
//! transaction together with the completion of its job.

use model::{CaptureId, ContributorId, Fix, FrameId, TimestampMs};
use sqlx::Row;

use crate::captures::FrameOutcome;
use crate::db::NullableFloat;

/// How many times a transaction the database rolled back for a conflict is tried.
const TRANSACTION_ATTEMPTS: u32 = 3;
use crate::{Db, JobQueue, LeasedJob, Result};

/// A frame waiting for the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingFrame {
    pub index: u32,
    pub sha256: FrameId,
    pub fix: Fix,
}

/// A sequence to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSequence {
    pub id: String,
    pub started_at: TimestampMs,
    pub ended_at: TimestampMs,
    pub frame_count: u32,
    pub length_m: f64,
    pub geometry_geojson: String,
}

/// A detection (sign, face or plate) to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDetection {
    pub frame: FrameId,
    pub kind: &'static str,
    pub class: Option<String>,
    pub confidence: f64,
    pub bbox: [u32; 4],
    pub lat: f64,
    pub lon: f64,
}

/// A capture's accepted frames as views: `(cell, time, view)` each, in manifest order (the
/// cell is the view's own, repeated for the reader's convenience).
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureViews {
    pub capture: CaptureId,
    pub device: model::DeviceId,
    pub frames: Vec<(u64, TimestampMs, StoredView)>,
}

/// An accepted frame's fingerprint with where it looked: what [`Db::views_in`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredView {
    pub sha256: FrameId,
    /// H3 res-12 cell.
    pub cell: u64,
    pub device: model::DeviceId,
    /// Degrees clockwise from north the frame looked along, when known.
    pub heading: Option<f64>,
    pub fingerprint: Vec<u8>,
}

/// One processed frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedFrame {
    pub index: u32,
    pub outcome: FrameOutcome,
    pub sequence: Option<String>,
    pub size: Option<(u32, u32)>,
    /// For accepted frames: where it counts and what it looked like.
    pub coverage: Option<Coverage>,
    pub sha256: FrameId,
}

/// What an accepted frame adds to the map: its cell, time, fingerprint and heading.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// H3 res-12 cell.
    pub cell: u64,
    pub time: TimestampMs,
    /// ingest's perceptual fingerprint, encoded.
    pub fingerprint: Vec<u8>,
    /// Degrees clockwise from north the frame looked along, when known.
    pub heading: Option<f64>,
    /// Its entry in the global footage index, when it has one.
    pub footage: Option<FootageEntry>,
}

/// What the global footage index keeps of an accepted frame (`model::footage`).
#[derive(Debug, Clone, PartialEq)]
pub struct FootageEntry {
    /// The frame's core fingerprint, encoded.
    pub core: Vec<u8>,
    /// Its locality-sensitive keys.
    pub keys: Vec<i64>,
}

/// A frame in the global footage index: what [`Db::footage_sharing`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFootage {
    pub sha256: FrameId,
    pub device: model::DeviceId,
    pub lat: f64,
    pub lon: f64,
    pub time: TimestampMs,
    pub core: Vec<u8>,
}

/// An accepted frame with no entry in the global footage index (accepted before the index
/// existed): what the index's backfill reads.
#[derive(Debug, Clone, PartialEq)]
pub struct UnindexedFrame {
    pub sha256: FrameId,
    pub device: model::DeviceId,
    pub lat: f64,
    pub lon: f64,
    pub time: TimestampMs,
}

/// Everything processing a capture produced.
#[derive(Debug, Clone)]
pub struct ProcessedCapture {
    pub capture: CaptureId,
    pub contributor: ContributorId,
    pub frames: Vec<ProcessedFrame>,
    pub sequences: Vec<NewSequence>,
    pub detections: Vec<NewDetection>,
    pub processed_at: TimestampMs,
    /// Jobs enqueued in the same transaction (the search indexing of what was committed),
    /// so they run exactly when the outcome exists.
    pub follow_ups: Vec<crate::NewJob>,
}

/// What the search index holds of a committed capture: its accepted frames and the signs
/// detected in them.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSearchRows {
    pub device: model::DeviceId,
    pub contributor: ContributorId,
    /// Accepted frames: id, time, position.
    pub frames: Vec<(FrameId, TimestampMs, f64, f64)>,
    /// Signs: the frame they were seen in and their class.
    pub signs: Vec<(FrameId, String)>,
}

impl Db {
    /// The frames of `capture` still waiting for the pipeline, in manifest order.
    pub async fn pending_frames(&self, capture: CaptureId) -> Result<Vec<PendingFrame>> {
        let rows = sqlx::query(
            "SELECT idx, sha256, time_ms, lat, lon, alt, heading, speed, fix_type, satellites, hdop \
             FROM frames WHERE capture_id = $1 AND status = 'pending' ORDER BY idx",
        )
        .bind(capture.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingFrame {
                    index: u32::try_from(row.try_get::<i64, _>("idx")?).unwrap_or(0),
                    sha256: crate::db::parse_column(row, "sha256")?,
                    fix: crate::captures::fix_of_row(row)?,
                })
            })
            .collect()
    }

    /// The contributor who owns the device of `capture`.
    pub async fn capture_owner(&self, capture: CaptureId) -> Result<Option<ContributorId>> {
        let row = sqlx::query(
            "SELECT d.contributor_id FROM captures c JOIN devices d ON d.id = c.device_id WHERE c.id = $1",
        )
        .bind(capture.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| crate::db::parse_column(&row, "contributor_id"))
            .transpose()
    }

    /// The accepted, fingerprinted frames taken in `[start, end)`, by capture (each with its
    /// device), captures with a case already standing against them left out: what the
    /// rewards close asks the place consensus about again.
    pub async fn captures_to_rejudge(
        &self,
        start: TimestampMs,
        end: TimestampMs,
    ) -> Result<Vec<CaptureViews>> {
        let rows = sqlx::query(
            "SELECT f.capture_id, c.device_id, p.sha256, p.cell, p.captured_at_ms, p.heading, p.fingerprint \
             FROM frames f JOIN captures c ON c.id = f.capture_id \
             JOIN fingerprints p ON p.sha256 = f.sha256 AND p.cell = f.cell \
             WHERE f.status = 'accepted' AND f.time_ms >= $1 AND f.time_ms < $2 \
             AND NOT EXISTS (SELECT 1 FROM fraud_cases k WHERE k.capture_id = f.capture_id \
                             AND k.status <> 'cleared') \
             ORDER BY f.capture_id, f.idx",
        )
        .bind(start.as_millis())
        .bind(end.as_millis())
        .fetch_all(self.pool())
        .await?;
        let mut captures: Vec<CaptureViews> = Vec::new();
        for row in &rows {
            let capture: CaptureId = crate::db::parse_column(row, "capture_id")?;
            if captures.last().is_none_or(|last| last.capture != capture) {
                captures.push(CaptureViews {
                    capture,
                    device: crate::db::parse_column(row, "device_id")?,
                    frames: Vec::new(),
                });
            }
            if let Some(last) = captures.last_mut() {
                last.frames.push((
                    u64::try_from(row.try_get::<i64, _>("cell")?).unwrap_or(0),
                    TimestampMs(row.try_get("captured_at_ms")?),
                    StoredView {
                        sha256: crate::db::parse_column(row, "sha256")?,
                        cell: u64::try_from(row.try_get::<i64, _>("cell")?).unwrap_or(0),
                        device: last.device,
                        heading: row.try_get::<Option<f64>, _>("heading")?,
                        fingerprint: row.try_get("fingerprint")?,
                    },
                ));
            }
        }
        Ok(captures)
    }

    /// The device that sent `capture`.
    pub async fn capture_device(&self, capture: CaptureId) -> Result<Option<model::DeviceId>> {
        let row = sqlx::query("SELECT device_id FROM captures WHERE id = $1")
            .bind(capture.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| crate::db::parse_column(&row, "device_id"))
            .transpose()
    }

    /// The camera a capture's manifest declares; `None` for no such capture.
    pub async fn capture_camera(&self, capture: CaptureId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT camera FROM captures WHERE id = $1")
            .bind(capture.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| row.try_get("camera"))
            .transpose()
            .map_err(Into::into)
    }

    /// Fingerprints stored for `cell` at or after `since`.
    pub async fn fingerprints_in(
        &self,
        cell: u64,
        since: TimestampMs,
    ) -> Result<Vec<(FrameId, Vec<u8>)>> {
        let rows = sqlx::query(
            "SELECT sha256, fingerprint FROM fingerprints WHERE cell = $1 AND captured_at_ms >= $2",
        )
        .bind(cell as i64)
        .bind(since.as_millis())
        .fetch_all(self.pool())
        .await?;
        hashes_with_bytes(&rows, "fingerprint")
    }

    /// Accepted frames' fingerprints in `cells` at or after `since`, each with its device
    /// and heading: the views a frame's pixels are compared with (place consensus). Frames
    /// of a capture with a case standing against it (fraud, or held for review) are no
    /// witness of anything.
    pub async fn views_in(&self, cells: &[u64], since: TimestampMs) -> Result<Vec<StoredView>> {
        if cells.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT p.sha256, p.cell, p.fingerprint, p.heading, c.device_id FROM fingerprints p \
             JOIN frames f ON f.sha256 = p.sha256 AND f.cell = p.cell AND f.status = 'accepted' \
             JOIN captures c ON c.id = f.capture_id \
             WHERE p.cell IN ({}) AND p.captured_at_ms >= ${} \
             AND NOT EXISTS (SELECT 1 FROM fraud_cases k WHERE k.capture_id = f.capture_id \
                             AND k.status <> 'cleared')",
            crate::db::placeholders(1..=cells.len()),
            cells.len() + 1
        );
        let mut query = sqlx::query(&sql);
        for cell in cells {
            query = query.bind(*cell as i64);
        }
        let rows = query.bind(since.as_millis()).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(StoredView {
                    sha256: crate::db::parse_column(row, "sha256")?,
                    cell: u64::try_from(row.try_get::<i64, _>("cell")?).unwrap_or(0),
                    device: crate::db::parse_column(row, "device_id")?,
                    heading: row.try_get::<Option<f64>, _>("heading")?,
                    fingerprint: row.try_get("fingerprint")?,
                })
            })
            .collect()
    }

    /// The frames of the global footage index that share any of `keys`, each once.
    pub async fn footage_sharing(&self, keys: &[i64]) -> Result<Vec<StoredFootage>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT sha256, device_id, lat, lon, captured_at_ms, core FROM footage \
             WHERE sha256 IN (SELECT sha256 FROM footage_keys WHERE key IN ({}))",
            self.list_placeholders(keys.len()),
        );
        let mut query = sqlx::query(&sql);
        for key in keys {
            query = query.bind(*key);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(StoredFootage {
                    sha256: crate::db::parse_column(row, "sha256")?,
                    device: crate::db::parse_column(row, "device_id")?,
                    lat: row.try_get("lat")?,
                    lon: row.try_get("lon")?,
                    time: TimestampMs(row.try_get("captured_at_ms")?),
                    core: row.try_get("core")?,
                })
            })
            .collect()
    }

    /// Up to `limit` frames of the footage index, in hash order after `after` (`None`: from
    /// the first), without a key of at least `floor` (keys of an earlier scheme, or none),
    /// with their stored cores: what re-keying reads. With `since`, only frames of captures
    /// processed at or after it (a pass that follows a finished one); `None` reads them all.
    pub async fn footage_keyed_below(
        &self,
        floor: i64,
        since: Option<TimestampMs>,
        after: Option<FrameId>,
        limit: u32,
    ) -> Result<Vec<(FrameId, Vec<u8>)>> {
        let sql = if since.is_some() {
            // The recent frames first, then their entries: never a walk of the whole index.
            // CROSS JOIN makes SQLite read the captures (by the processing-time index) before
            // their frames; PostgreSQL plans it as any join.
            "SELECT g.sha256, g.core FROM (SELECT DISTINCT f.sha256 FROM captures c \
             CROSS JOIN frames f WHERE f.capture_id = c.id AND c.processed_at_ms >= $4) recent \
             JOIN footage g ON g.sha256 = recent.sha256 \
             WHERE recent.sha256 > $1 AND NOT EXISTS \
             (SELECT 1 FROM footage_keys k WHERE k.sha256 = g.sha256 AND k.key >= $2) \
             ORDER BY recent.sha256 LIMIT $3"
        } else {
            "SELECT g.sha256, g.core FROM footage g WHERE g.sha256 > $1 AND NOT EXISTS \
             (SELECT 1 FROM footage_keys k WHERE k.sha256 = g.sha256 AND k.key >= $2) \
             ORDER BY g.sha256 LIMIT $3"
        };
        let mut query = sqlx::query(sql)
            .bind(after.map(|sha| sha.to_hex()).unwrap_or_default())
            .bind(floor)
            .bind(i64::from(limit));
        if let Some(since) = since {
            query = query.bind(since.as_millis());
        }
        let rows = query.fetch_all(self.pool()).await?;
        hashes_with_bytes(&rows, "core")
    }

    /// Up to `limit` accepted frames, in hash order after `after` (`None`: from the first),
    /// that have no entry in the global footage index. With `since`, only frames of captures
    /// processed at or after it; `None` reads them all.
    pub async fn accepted_frames_without_footage(
        &self,
        since: Option<TimestampMs>,
        after: Option<FrameId>,
        limit: u32,
    ) -> Result<Vec<UnindexedFrame>> {
        let sql = if since.is_some() {
            // As in `footage_keyed_below`: the recent frames first.
            "SELECT recent.sha256, recent.device_id, recent.lat, recent.lon, recent.time_ms FROM \
             (SELECT DISTINCT f.sha256, c.device_id, f.lat, f.lon, f.time_ms FROM captures c \
             CROSS JOIN frames f WHERE f.capture_id = c.id \
             AND c.processed_at_ms >= $3 AND f.status = 'accepted') recent \
             WHERE recent.sha256 > $1 \
             AND NOT EXISTS (SELECT 1 FROM footage g WHERE g.sha256 = recent.sha256) \
             ORDER BY recent.sha256 LIMIT $2"
        } else {
            "SELECT f.sha256, c.device_id, f.lat, f.lon, f.time_ms FROM frames f \
             JOIN captures c ON c.id = f.capture_id \
             WHERE f.status = 'accepted' AND f.sha256 > $1 \
             AND NOT EXISTS (SELECT 1 FROM footage g WHERE g.sha256 = f.sha256) \
             ORDER BY f.sha256 LIMIT $2"
        };
        let mut query = sqlx::query(sql)
            .bind(after.map(|sha| sha.to_hex()).unwrap_or_default())
            .bind(i64::from(limit));
        if let Some(since) = since {
            query = query.bind(since.as_millis());
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(UnindexedFrame {
                    sha256: crate::db::parse_column(row, "sha256")?,
                    device: crate::db::parse_column(row, "device_id")?,
                    lat: row.try_get("lat")?,
                    lon: row.try_get("lon")?,
                    time: TimestampMs(row.try_get("time_ms")?),
                })
            })
            .collect()
    }

    /// When the last finished upkeep pass of the footage index's key scheme `scheme` began
    /// (`None`: no pass of it has finished).
    pub async fn footage_upkeep_began(&self, scheme: i64) -> Result<Option<TimestampMs>> {
        let began: Option<i64> =
            sqlx::query_scalar("SELECT started_at_ms FROM footage_upkeep WHERE scheme = $1")
                .bind(scheme)
                .fetch_optional(self.pool())
                .await?;
        Ok(began.map(TimestampMs))
    }

    /// Records that an upkeep pass of `scheme` that began at `began` has finished.
    pub async fn record_footage_upkeep(&self, scheme: i64, began: TimestampMs) -> Result<()> {
        sqlx::query(
            "INSERT INTO footage_upkeep (scheme, started_at_ms) VALUES ($1, $2) \
             ON CONFLICT (scheme) DO UPDATE SET started_at_ms = excluded.started_at_ms",
        )
        .bind(scheme)
        .bind(began.as_millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Enters each frame with its footage (core and keys) in the global footage index, all
    /// in one transaction; a frame already in it is left as it is.
    pub async fn index_footage(&self, entries: &[(UnindexedFrame, FootageEntry)]) -> Result<()> {
        let mut tx = self.begin().await?;
        for (frame, footage) in entries {
            let sha256 = frame.sha256.to_hex();
            let inserted = sqlx::query(
                "INSERT INTO footage (sha256, device_id, lat, lon, captured_at_ms, core) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&sha256)
            .bind(frame.device.to_string())
            .bind(frame.lat)
            .bind(frame.lon)
            .bind(frame.time.as_millis())
            .bind(footage.core.as_slice())
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() > 0 {
                insert_footage_keys(&mut tx, &sha256, &footage.keys).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives each frame of the footage index its `keys` in place of every key it had below
    /// `floor`, all in one transaction.
    pub async fn rekey_footage(&self, floor: i64, keyed: &[(FrameId, Vec<i64>)]) -> Result<()> {
        let mut tx = self.begin().await?;
        for (sha256, keys) in keyed {
            let sha256 = sha256.to_hex();
            sqlx::query("DELETE FROM footage_keys WHERE sha256 = $1 AND key < $2")
                .bind(&sha256)
                .bind(floor)
                .execute(&mut *tx)
                .await?;
            insert_footage_keys(&mut tx, &sha256, keys).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Commits a processed capture and completes its job in one transaction: frame outcomes,
    /// sequences, detections, cell coverage, dirty cells for the tile builder, fingerprints,
    /// the capture's state. Fails with [`crate::Error::LeaseLost`] (and commits nothing) if
    /// the job's lease passed to another worker.
    pub async fn commit_processed(
        &self,
        processed: &ProcessedCapture,
        job: &LeasedJob,
    ) -> Result<()> {
        // Two workers committing overlapping cells in opposite orders can deadlock on
        // PostgreSQL: the loser's transaction is rolled back whole, so it simply runs again.
        let mut attempt = 1;
        loop {
            match self.commit_processed_once(processed, job).await {
                Err(err) if err.is_transient() && attempt < TRANSACTION_ATTEMPTS => {
                    tracing::warn!(error = %err, attempt, "commit rolled back by the database; retrying");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn commit_processed_once(
        &self,
        processed: &ProcessedCapture,
        job: &LeasedJob,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let capture = processed.capture.to_string();
        for sequence in &processed.sequences {
            sqlx::query(
                "INSERT INTO sequences (id, capture_id, device_id, started_at_ms, ended_at_ms, frame_count, length_m, geometry) \
                 SELECT $1, id, device_id, $2, $3, $4, $5, $6 FROM captures WHERE id = $7 \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&sequence.id)
            .bind(sequence.started_at.as_millis())
            .bind(sequence.ended_at.as_millis())
            .bind(i64::from(sequence.frame_count))
            .bind(sequence.length_m)
            .bind(&sequence.geometry_geojson)
            .bind(&capture)
            .execute(&mut *tx)
            .await?;
        }
        for frame in &processed.frames {
            let (status, reason, quality) = match frame.outcome {
                FrameOutcome::Pending => ("pending", None, None),
                FrameOutcome::Accepted { quality } => ("accepted", None, Some(quality)),
                FrameOutcome::Rejected(reason) => ("rejected", Some(reason.slug()), None),
            };
            sqlx::query(
                "UPDATE frames SET status = $1, reject_reason = $2, quality = $3, sequence_id = $4, width = $5, height = $6 \
                 WHERE capture_id = $7 AND idx = $8",
            )
            .bind(status)
            .bind(reason)
            .bind(NullableFloat(quality))
            .bind(&frame.sequence)
            .bind(frame.size.map(|(w, _)| i64::from(w)))
            .bind(frame.size.map(|(_, h)| i64::from(h)))
            .bind(&capture)
            .bind(i64::from(frame.index))
            .execute(&mut *tx)
            .await?;
            let Some(Coverage {
                cell,
                time,
                fingerprint,
                heading,
                footage,
            }) = &frame.coverage
            else {
                continue;
            };
            let cell = *cell as i64;
            sqlx::query(
                "INSERT INTO cells (cell, first_mapped_at_ms, last_mapped_at_ms, frame_count, last_contributor_id) \
                 VALUES ($1, $2, $2, 1, $3) ON CONFLICT (cell) DO UPDATE SET \
                 first_mapped_at_ms = CASE WHEN excluded.first_mapped_at_ms < cells.first_mapped_at_ms \
                     THEN excluded.first_mapped_at_ms ELSE cells.first_mapped_at_ms END, \
                 last_contributor_id = CASE WHEN excluded.last_mapped_at_ms > cells.last_mapped_at_ms \
                     THEN excluded.last_contributor_id ELSE cells.last_contributor_id END, \
                 last_mapped_at_ms = CASE WHEN excluded.last_mapped_at_ms > cells.last_mapped_at_ms \
                     THEN excluded.last_mapped_at_ms ELSE cells.last_mapped_at_ms END, \
                 frame_count = cells.frame_count + 1",
            )
            .bind(cell)
            .bind(time.as_millis())
            .bind(processed.contributor.to_string())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO dirty_cells (cell, marked_at_ms) VALUES ($1, $2) \
                 ON CONFLICT (cell) DO UPDATE SET marked_at_ms = excluded.marked_at_ms",
            )
            .bind(cell)
            .bind(processed.processed_at.as_millis())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO fingerprints (cell, sha256, captured_at_ms, fingerprint, heading) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cell, sha256) DO NOTHING",
            )
            .bind(cell)
            .bind(frame.sha256.to_hex())
            .bind(time.as_millis())
            .bind(fingerprint.as_slice())
            .bind(NullableFloat(*heading))
            .execute(&mut *tx)
            .await?;
            if let Some(footage) = footage {
                let sha256 = frame.sha256.to_hex();
                sqlx::query(
                    "INSERT INTO footage (sha256, device_id, lat, lon, captured_at_ms, core) \
                     SELECT $1, c.device_id, f.lat, f.lon, $2, $3 FROM frames f \
                     JOIN captures c ON c.id = f.capture_id WHERE f.capture_id = $4 AND f.idx = $5 \
                     ON CONFLICT (sha256) DO NOTHING",
                )
                .bind(&sha256)
                .bind(time.as_millis())
                .bind(footage.core.as_slice())
                .bind(&capture)
                .bind(i64::from(frame.index))
                .execute(&mut *tx)
                .await?;
                insert_footage_keys(&mut tx, &sha256, &footage.keys).await?;
            }
        }
        crate::reviews::open_processed_cases(
            &mut tx,
            processed.capture,
            &processed.frames,
            processed.processed_at,
        )
        .await?;
        sqlx::query("DELETE FROM detections WHERE capture_id = $1")
            .bind(&capture)
            .execute(&mut *tx)
            .await?;
        for (n, detection) in processed.detections.iter().enumerate() {
            let [x, y, w, h] = detection.bbox.map(i64::from);
            sqlx::query(
                "INSERT INTO detections (id, capture_id, frame_sha256, kind, class, confidence, x, y, w, h, lat, lon) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(format!("{capture}-{n}"))
            .bind(&capture)
            .bind(detection.frame.to_hex())
            .bind(detection.kind)
            .bind(&detection.class)
            .bind(detection.confidence)
            .bind(x)
            .bind(y)
            .bind(w)
            .bind(h)
            .bind(detection.lat)
            .bind(detection.lon)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE captures SET state = 'done', processed_at_ms = $1 WHERE id = $2")
            .bind(processed.processed_at.as_millis())
            .bind(&capture)
            .execute(&mut *tx)
            .await?;
        for follow_up in &processed.follow_ups {
            JobQueue::enqueue_in(&mut tx, follow_up).await?;
        }
        JobQueue::complete_in(&mut tx, job).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The accepted frames and signs of a committed capture, for its search documents;
    /// `None` when the capture is not stored.
    pub async fn capture_search_rows(
        &self,
        capture: CaptureId,
    ) -> Result<Option<CaptureSearchRows>> {
        let owner = sqlx::query(
            "SELECT c.device_id, d.contributor_id FROM captures c JOIN devices d ON d.id = c.device_id WHERE c.id = $1",
        )
        .bind(capture.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some(owner) = owner else {
            return Ok(None);
        };
        let frames = sqlx::query(
            "SELECT sha256, time_ms, lat, lon FROM frames WHERE capture_id = $1 AND status = 'accepted' ORDER BY idx",
        )
        .bind(capture.to_string())
        .fetch_all(self.pool())
        .await?;
        let signs = sqlx::query(
            "SELECT frame_sha256, class FROM detections WHERE capture_id = $1 AND kind = 'sign' AND class IS NOT NULL ORDER BY id",
        )
        .bind(capture.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(Some(CaptureSearchRows {
            device: crate::db::parse_column(&owner, "device_id")?,
            contributor: crate::db::parse_column(&owner, "contributor_id")?,
            frames: frames
                .iter()
                .map(|row| {
                    Ok((
                        crate::db::parse_column(row, "sha256")?,
                        TimestampMs(row.try_get("time_ms")?),
                        row.try_get("lat")?,
                        row.try_get("lon")?,
                    ))
                })
                .collect::<Result<_>>()?,
            signs: signs
                .iter()
                .map(|row| {
                    Ok((
                        crate::db::parse_column(row, "frame_sha256")?,
                        row.try_get("class")?,
                    ))
                })
                .collect::<Result<_>>()?,
        }))
    }

    /// The sequences stored for a capture: id, frame count, length and GeoJSON geometry.
    pub async fn sequences_of(
        &self,
        capture: CaptureId,
    ) -> Result<Vec<(String, u32, f64, String)>> {
        let rows = sqlx::query(
            "SELECT id, frame_count, length_m, geometry FROM sequences WHERE capture_id = $1 ORDER BY started_at_ms",
        )
        .bind(capture.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("id")?,
                    u32::try_from(row.try_get::<i64, _>("frame_count")?).unwrap_or(0),
                    row.try_get("length_m")?,
                    row.try_get("geometry")?,
                ))
            })
            .collect()
    }

    /// Gives up on a capture and its job together: its still-pending frames are rejected
    /// with `reason`, the capture is marked failed and the job dead, in one transaction — so
    /// nothing waits on the capture (an epoch with a pending frame cannot close) and a crash
    /// cannot leave a dead job with pending frames. Returns how many frames were rejected;
    /// fails with [`crate::Error::LeaseLost`] (and changes nothing) if the job passed to
    /// another worker.
    pub async fn give_up_capture(
        &self,
        capture: CaptureId,
        reason: model::RejectReason,
        job: &LeasedJob,
        error: &str,
    ) -> Result<u64> {
        let mut tx = self.begin().await?;
        let rejected = sqlx::query(
            "UPDATE frames SET status = 'rejected', reject_reason = $1 \
             WHERE capture_id = $2 AND status = 'pending'",
        )
        .bind(reason.slug())
        .bind(capture.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("UPDATE captures SET state = 'failed' WHERE id = $1 AND state <> 'done'")
            .bind(capture.to_string())
            .execute(&mut *tx)
            .await?;
        JobQueue::bury_in(&mut tx, job, error).await?;
        tx.commit().await?;
        Ok(rejected)
    }

    /// Cells marked for the tile builder.
    pub async fn dirty_cells(&self) -> Result<Vec<u64>> {
        let cells: Vec<i64> = sqlx::query_scalar("SELECT cell FROM dirty_cells ORDER BY cell")
            .fetch_all(self.pool())
            .await?;
        Ok(cells.into_iter().map(|c| c as u64).collect())
    }
}

/// Each row's `sha256` and its bytes in `column`.
fn hashes_with_bytes(rows: &[sqlx::any::AnyRow], column: &str) -> Result<Vec<(FrameId, Vec<u8>)>> {
    rows.iter()
        .map(|row| {
            Ok((
                crate::db::parse_column(row, "sha256")?,
                row.try_get(column)?,
            ))
        })
        .collect()
}

/// Files a frame of the footage index under each of `keys` (a key it has already is kept).
async fn insert_footage_keys(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sha256: &str,
    keys: &[i64],
) -> Result<()> {
    for key in keys {
        sqlx::query(
            "INSERT INTO footage_keys (key, sha256) VALUES ($1, $2) \
             ON CONFLICT (key, sha256) DO NOTHING",
        )
        .bind(*key)
        .bind(sha256)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
