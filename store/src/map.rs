//! What the tile builder reads: accepted frames with who took them and the sequences they
//! belong to — all of it or only what falls in given H3 cells — and the dirty-cell marks it
//! clears once the tiles they touch are written. (Map features: `features.rs`.)

use std::collections::BTreeSet;

use model::FrameId;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::placeholders;
use crate::{Db, Error, Result};

/// SQLite's default limit on bound parameters is 32 766; stay far below it.
const CELLS_PER_QUERY: usize = 500;

/// An accepted frame as the map shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MapFrameRow {
    pub capture_id: String,
    pub index: u32,
    pub sha256: FrameId,
    pub captured_at_ms: i64,
    pub lat: f64,
    pub lon: f64,
    pub heading: Option<f64>,
    pub cell: u64,
    pub sequence_id: Option<String>,
    pub contributor_id: String,
}

/// A sequence with at least one accepted frame.
#[derive(Debug, Clone, PartialEq)]
pub struct MapSequenceRow {
    pub id: String,
    pub started_at_ms: i64,
    pub contributor_id: String,
    /// Mean vision quality of its accepted frames, 0..1.
    pub quality: f64,
    /// GeoJSON LineString.
    pub geometry: String,
}

/// A dirty-cell mark as read: clearing it only succeeds if nobody marked the cell again since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirtyCell {
    pub cell: u64,
    pub marked_at_ms: i64,
}

/// Accepted frames, but none of a capture held for review (`reviews::held_now`): a held
/// capture leaves the map until a reviewer clears it.
fn frame_columns() -> String {
    format!(
        "SELECT f.capture_id, f.idx, f.sha256, f.time_ms, f.lat, f.lon, f.heading, f.cell, \
         f.sequence_id, d.contributor_id FROM frames f \
         JOIN captures c ON c.id = f.capture_id JOIN devices d ON d.id = c.device_id \
         WHERE f.status = 'accepted' AND f.cell IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM fraud_cases k WHERE k.capture_id = f.capture_id AND {})",
        crate::reviews::held_now("k")
    )
}

impl Db {
    /// Every accepted frame, or only those in `cells` (H3 res 12).
    pub async fn map_frames(&self, cells: Option<&[u64]>) -> Result<Vec<MapFrameRow>> {
        self.rows_in_cells(&frame_columns(), "f.cell", cells, frame_row)
            .await
    }

    /// The sequences named, each with its accepted frames' mean quality.
    pub async fn map_sequences(&self, ids: &BTreeSet<String>) -> Result<Vec<MapSequenceRow>> {
        let ids: Vec<&String> = ids.iter().collect();
        let mut sequences = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CELLS_PER_QUERY) {
            let placeholders = placeholders(1..=chunk.len());
            let sql = format!(
                "SELECT s.id, s.started_at_ms, s.geometry, d.contributor_id, \
                 (SELECT AVG(f.quality) FROM frames f WHERE f.sequence_id = s.id AND f.status = 'accepted') AS quality \
                 FROM sequences s JOIN devices d ON d.id = s.device_id WHERE s.id IN ({placeholders})"
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(self.pool()).await? {
                sequences.push(MapSequenceRow {
                    id: row.try_get("id")?,
                    started_at_ms: row.try_get("started_at_ms")?,
                    contributor_id: row.try_get("contributor_id")?,
                    quality: row.try_get::<Option<f64>, _>("quality")?.unwrap_or(0.0),
                    geometry: row.try_get("geometry")?,
                });
            }
        }
        Ok(sequences)
    }

    /// The cells marked dirty, oldest mark first.
    pub async fn dirty_cell_marks(&self) -> Result<Vec<DirtyCell>> {
        let rows =
            sqlx::query("SELECT cell, marked_at_ms FROM dirty_cells ORDER BY marked_at_ms, cell")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|row| {
                Ok(DirtyCell {
                    cell: row.try_get::<i64, _>("cell")? as u64,
                    marked_at_ms: row.try_get("marked_at_ms")?,
                })
            })
            .collect()
    }

    /// Clears the marks whose tiles were written; a cell marked again in the meantime stays
    /// dirty. Returns how many were cleared.
    pub async fn clear_dirty_cells(&self, marks: &[DirtyCell]) -> Result<u64> {
        let mut tx = self.begin().await?;
        let mut cleared = 0;
        for mark in marks {
            cleared += sqlx::query("DELETE FROM dirty_cells WHERE cell = $1 AND marked_at_ms = $2")
                .bind(mark.cell as i64)
                .bind(mark.marked_at_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(cleared)
    }

    async fn rows_in_cells<T>(
        &self,
        select: &str,
        cell_column: &str,
        cells: Option<&[u64]>,
        parse: fn(&AnyRow) -> Result<T>,
    ) -> Result<Vec<T>> {
        let Some(cells) = cells else {
            let rows = sqlx::query(select).fetch_all(self.pool()).await?;
            return rows.iter().map(parse).collect();
        };
        let mut parsed = Vec::new();
        for chunk in cells.chunks(CELLS_PER_QUERY) {
            let sql = format!(
                "{select} AND {cell_column} IN ({})",
                placeholders(1..=chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for cell in chunk {
                query = query.bind(*cell as i64);
            }
            for row in query.fetch_all(self.pool()).await? {
                parsed.push(parse(&row)?);
            }
        }
        Ok(parsed)
    }
}

fn frame_row(row: &AnyRow) -> Result<MapFrameRow> {
    let sha256: String = row.try_get("sha256")?;
    Ok(MapFrameRow {
        capture_id: row.try_get("capture_id")?,
        index: u32::try_from(row.try_get::<i64, _>("idx")?).unwrap_or(u32::MAX),
        sha256: sha256
            .parse()
            .map_err(|_| Error::Corrupt(format!("frame sha256 `{sha256}` is not 64 hex digits")))?,
        captured_at_ms: row.try_get("time_ms")?,
        lat: row.try_get("lat")?,
        lon: row.try_get("lon")?,
        heading: row.try_get("heading")?,
        cell: row.try_get::<i64, _>("cell")? as u64,
        sequence_id: row.try_get("sequence_id")?,
        contributor_id: row.try_get("contributor_id")?,
    })
}
