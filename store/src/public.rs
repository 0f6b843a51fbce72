//! What the public web page and the contributor dashboard read: one accepted frame with who
//! took it, its neighbours along its sequence and its detections; a contributor's captures
//! with every frame's outcome; who mapped the most cells lately (the leaderboard).
//!
//! Never returns a frame that is not accepted (pending and rejected frames are private to
//! their contributor, who sees them through [`Db::captures_of_contributor`] only).

use model::{ContributorId, FrameId};
use sqlx::Row;

use crate::captures::FrameStatusRow;
use crate::{Db, Result};

/// An accepted frame as the frame viewer shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicFrameRow {
    pub sha256: FrameId,
    pub capture_id: String,
    pub index: u32,
    pub captured_at_ms: i64,
    pub lat: f64,
    pub lon: f64,
    pub heading: Option<f64>,
    pub quality: Option<f64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub sequence_id: Option<String>,
    pub contributor_id: String,
    pub contributor_name: String,
    /// The accepted frames just before and after this one along its sequence.
    pub previous: Option<FrameId>,
    pub next: Option<FrameId>,
}

/// A sign, face or plate found on a frame, with its box in image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionRow {
    pub kind: String,
    pub class: Option<String>,
    pub confidence: f64,
    /// x, y, width, height.
    pub bbox: [i64; 4],
}

/// One of a contributor's captures with every frame's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ContributorCaptureRow {
    pub id: String,
    pub device_id: String,
    pub state: String,
    pub received_at_ms: i64,
    pub frames: Vec<FrameStatusRow>,
}

impl Db {
    /// The accepted frame `sha256` (the earliest capture of it, if several), or `None` when no
    /// accepted frame has that hash outside a capture held for review (the reward close holds
    /// captures whose frames were accepted and published: they are not served while held).
    pub async fn public_frame(&self, sha256: FrameId) -> Result<Option<PublicFrameRow>> {
        let sql = format!(
            "SELECT f.sha256, f.capture_id, f.idx, f.time_ms, f.lat, f.lon, f.heading, f.quality, \
             f.width, f.height, f.sequence_id, c.id AS contributor_id, c.name AS contributor_name \
             FROM frames f JOIN captures cap ON cap.id = f.capture_id \
             JOIN devices d ON d.id = cap.device_id JOIN contributors c ON c.id = d.contributor_id \
             WHERE f.sha256 = $1 AND f.status = 'accepted' \
             AND NOT EXISTS (SELECT 1 FROM fraud_cases k WHERE k.capture_id = f.capture_id AND {held}) \
             ORDER BY f.time_ms LIMIT 1",
            held = crate::reviews::held_now("k")
        );
        let row = sqlx::query(&sql)
            .bind(sha256.to_hex())
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let sequence_id: Option<String> = row.try_get("sequence_id")?;
        let captured_at_ms: i64 = row.try_get("time_ms")?;
        let index = u32::try_from(row.try_get::<i64, _>("idx")?).unwrap_or(u32::MAX);
        let (previous, next) = match &sequence_id {
            Some(sequence) => (
                self.neighbour(sequence, captured_at_ms, index, Direction::Before)
                    .await?,
                self.neighbour(sequence, captured_at_ms, index, Direction::After)
                    .await?,
            ),
            None => (None, None),
        };
        let dimension = |column: &str| -> Result<Option<u32>> {
            Ok(row
                .try_get::<Option<i64>, _>(column)?
                .and_then(|v| u32::try_from(v).ok()))
        };
        Ok(Some(PublicFrameRow {
            sha256: crate::db::parse_column(&row, "sha256")?,
            capture_id: row.try_get("capture_id")?,
            index,
            captured_at_ms,
            lat: row.try_get("lat")?,
            lon: row.try_get("lon")?,
            heading: row.try_get("heading")?,
            quality: row.try_get("quality")?,
            width: dimension("width")?,
            height: dimension("height")?,
            sequence_id,
            contributor_id: row.try_get("contributor_id")?,
            contributor_name: row.try_get("contributor_name")?,
            previous,
            next,
        }))
    }

    async fn neighbour(
        &self,
        sequence: &str,
        time_ms: i64,
        index: u32,
        direction: Direction,
    ) -> Result<Option<FrameId>> {
        let sql = match direction {
            Direction::Before => {
                "SELECT sha256 FROM frames WHERE sequence_id = $1 AND status = 'accepted' \
                 AND (time_ms < $2 OR (time_ms = $2 AND idx < $3)) ORDER BY time_ms DESC, idx DESC LIMIT 1"
            }
            Direction::After => {
                "SELECT sha256 FROM frames WHERE sequence_id = $1 AND status = 'accepted' \
                 AND (time_ms > $2 OR (time_ms = $2 AND idx > $3)) ORDER BY time_ms, idx LIMIT 1"
            }
        };
        let row = sqlx::query(sql)
            .bind(sequence)
            .bind(time_ms)
            .bind(i64::from(index))
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| crate::db::parse_column(&row, "sha256"))
            .transpose()
    }

    /// Every detection stored for the frame `sha256`, signs first.
    pub async fn detections_of(&self, sha256: FrameId) -> Result<Vec<DetectionRow>> {
        let rows = sqlx::query(
            "SELECT kind, class, confidence, x, y, w, h FROM detections WHERE frame_sha256 = $1 \
             ORDER BY kind DESC, confidence DESC",
        )
        .bind(sha256.to_hex())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DetectionRow {
                    kind: row.try_get("kind")?,
                    class: row.try_get("class")?,
                    confidence: row.try_get("confidence")?,
                    bbox: [
                        row.try_get("x")?,
                        row.try_get("y")?,
                        row.try_get("w")?,
                        row.try_get("h")?,
                    ],
                })
            })
            .collect()
    }

    /// The newest `limit` captures from devices `contributor` owns, each with its frames'
    /// outcomes in manifest order.
    pub async fn captures_of_contributor(
        &self,
        contributor: ContributorId,
        limit: u32,
    ) -> Result<Vec<ContributorCaptureRow>> {
        let rows = sqlx::query(
            "SELECT cap.id, cap.device_id, cap.state, cap.received_at_ms FROM captures cap \
             JOIN devices d ON d.id = cap.device_id WHERE d.contributor_id = $1 \
             ORDER BY cap.received_at_ms DESC, cap.id LIMIT $2",
        )
        .bind(contributor.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let mut captures = Vec::with_capacity(rows.len());
        for row in rows {
            let id: model::CaptureId = crate::db::parse_column(&row, "id")?;
            captures.push(ContributorCaptureRow {
                id: id.to_string(),
                device_id: row.try_get("device_id")?,
                state: row.try_get("state")?,
                received_at_ms: row.try_get("received_at_ms")?,
                frames: self.capture_frames(id).await?,
            });
        }
        Ok(captures)
    }
}

impl Db {
    /// The H3 res-12 cells `contributor` mapped first (their accepted frame is the earliest
    /// of the cell), with that first time, oldest first.
    pub async fn first_cells_of(&self, contributor: ContributorId) -> Result<Vec<(u64, i64)>> {
        let rows = sqlx::query(
            "WITH firsts AS (SELECT cell, MIN(time_ms) AS first_ms FROM frames \
                 WHERE status = 'accepted' AND cell IS NOT NULL GROUP BY cell) \
             SELECT DISTINCT firsts.cell, firsts.first_ms FROM firsts \
             JOIN frames f ON f.cell = firsts.cell AND f.time_ms = firsts.first_ms AND f.status = 'accepted' \
             JOIN captures c ON c.id = f.capture_id JOIN devices d ON d.id = c.device_id \
             WHERE d.contributor_id = $1 ORDER BY firsts.first_ms, firsts.cell",
        )
        .bind(contributor.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<i64, _>("cell")? as u64,
                    row.try_get::<i64, _>("first_ms")?,
                ))
            })
            .collect()
    }
}

/// One contributor's fresh coverage: the H3 res-12 cells they were the last to map since a
/// given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreshCoverageRow {
    pub contributor_id: String,
    pub name: String,
    pub cells: u64,
    pub last_mapped_at_ms: i64,
}

impl Db {
    /// Contributors by how many cells they were the last to map at or after `since_ms`, most
    /// first (ties by name), at most `limit`.
    pub async fn fresh_coverage_leaders(
        &self,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<FreshCoverageRow>> {
        let rows = sqlx::query(
            "SELECT c.id, c.name, COUNT(*) AS cells, MAX(m.last_mapped_at_ms) AS last_mapped \
             FROM cells m JOIN contributors c ON c.id = m.last_contributor_id \
             WHERE m.last_mapped_at_ms >= $1 GROUP BY c.id, c.name \
             ORDER BY cells DESC, c.name, c.id LIMIT $2",
        )
        .bind(since_ms)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(FreshCoverageRow {
                    contributor_id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    cells: u64::try_from(row.try_get::<i64, _>("cells")?).unwrap_or(0),
                    last_mapped_at_ms: row.try_get("last_mapped")?,
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    Before,
    After,
}
