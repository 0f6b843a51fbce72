//! Map feature rows: what the features job reads (a capture's accepted frames with their
//! sign detections and camera; the features near them with every observation) and writes
//! (the features an update touched, in one transaction with the capture's applied marker
//! and the dirty cells of the tiles they change), and what the API, export and tiles read.
//!
//! Never does: position, merge or judge anything; `features` decides, this stores.

use std::collections::BTreeMap;

use model::{CaptureId, FrameId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{NullableFloat, parse_column, placeholders};
use crate::{Db, Error, JobQueue, NewJob, Result};

/// The job that turns a committed capture's sign detections into map features (run by the
/// ingest worker; named here because reward epochs wait for it too).
pub const MAP_FEATURES_JOB: &str = "map-features";

/// Most rows one page of features may hold.
pub const MAX_FEATURE_PAGE: u32 = 1_000;
/// Nulls of timestamp columns travel as this value (`NULLIF`): a portable NULL integer.
const NO_TIME: i64 = -1;

/// A map feature as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureRow {
    pub id: String,
    pub class: String,
    pub lat: f64,
    pub lon: f64,
    pub cell: u64,
    pub uncertainty_m: f64,
    /// `intersection` or `size_only`.
    pub method: String,
    pub facing_deg: Option<f64>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub first_contributor_id: String,
    pub passes: u32,
    pub misses: u32,
    pub gone_at_ms: Option<i64>,
    pub changed_at_ms: i64,
    pub observation_count: u32,
}

/// One observation (a ray from one frame) of a feature.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationRow {
    pub capture_id: String,
    pub frame_sha256: FrameId,
    pub sequence_id: Option<String>,
    pub contributor_id: String,
    pub time_ms: i64,
    pub class: String,
    pub lat: f64,
    pub lon: f64,
    pub bearing_deg: f64,
    pub range_m: f64,
    /// `receiver` or `track`.
    pub heading_source: String,
}

/// A feature with its observations, as the features job reads and writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFeature {
    pub row: FeatureRow,
    pub observations: Vec<ObservationRow>,
}

/// An accepted frame of a capture, as the features job needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureFrameRow {
    pub sha256: FrameId,
    pub sequence_id: Option<String>,
    pub time_ms: i64,
    pub lat: f64,
    pub lon: f64,
    pub heading: Option<f64>,
    pub speed: Option<f64>,
    pub width: Option<u32>,
}

/// A sign detection on one of those frames.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSignRow {
    pub frame_sha256: FrameId,
    pub class: String,
    /// x, y, width, height in pixels.
    pub bbox: [i32; 4],
}

/// What the features job reads of one capture.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureInputs {
    pub contributor_id: String,
    pub camera: String,
    /// Accepted frames in capture order.
    pub frames: Vec<FeatureFrameRow>,
    pub signs: Vec<FeatureSignRow>,
}

/// A feature first seen in a time window, with the frame and device of its first
/// observation (the earliest, ties by frame): what a discovery reward pays.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryRow {
    pub feature: String,
    pub class: String,
    pub frame: FrameId,
    pub device: model::DeviceId,
    pub time_ms: i64,
}

/// The three states a consumer filters by (see the `features` crate for their meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Not gone, first seen at or after `since_ms` (the start of the current epoch).
    New {
        since_ms: i64,
    },
    /// Not gone, first seen before `since_ms`.
    Confirmed {
        since_ms: i64,
    },
    Gone,
}

/// One page of features: filters, and the id to continue after.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeatureQuery {
    /// `(min_lon, min_lat, max_lon, max_lat)`.
    pub bbox: Option<(f64, f64, f64, f64)>,
    pub class: Option<String>,
    pub status: Option<StatusFilter>,
    /// Only features whose `changed_at_ms` or `last_seen_ms` is at or after this.
    pub changed_since_ms: Option<i64>,
    pub after_id: Option<String>,
    pub limit: u32,
}

const FEATURE_COLUMNS: &str = "id, class, lat, lon, cell, uncertainty_m, method, facing_deg, \
     first_seen_ms, last_seen_ms, first_contributor_id, passes, misses, gone_at_ms, \
     changed_at_ms, observation_count";

const OBSERVATION_COLUMNS: &str = "feature_id, capture_id, frame_sha256, sequence_id, contributor_id, \
     time_ms, class, lat, lon, bearing_deg, range_m, heading_source";

impl Db {
    /// A capture's accepted frames, sign detections, owner and camera; `None` for no such
    /// capture.
    pub async fn feature_inputs(&self, capture: CaptureId) -> Result<Option<FeatureInputs>> {
        let owner = sqlx::query(
            "SELECT d.contributor_id, c.camera FROM captures c JOIN devices d ON d.id = c.device_id \
             WHERE c.id = $1",
        )
        .bind(capture.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some(owner) = owner else {
            return Ok(None);
        };
        let frames = sqlx::query(
            "SELECT sha256, sequence_id, time_ms, lat, lon, heading, speed, width FROM frames \
             WHERE capture_id = $1 AND status = 'accepted' ORDER BY idx",
        )
        .bind(capture.to_string())
        .fetch_all(self.pool())
        .await?;
        let signs = sqlx::query(
            "SELECT frame_sha256, class, x, y, w, h FROM detections \
             WHERE capture_id = $1 AND kind = 'sign' AND class IS NOT NULL ORDER BY id",
        )
        .bind(capture.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(Some(FeatureInputs {
            contributor_id: owner.try_get("contributor_id")?,
            camera: owner.try_get("camera")?,
            frames: frames
                .iter()
                .map(|row| {
                    Ok(FeatureFrameRow {
                        sha256: parse_column(row, "sha256")?,
                        sequence_id: row.try_get("sequence_id")?,
                        time_ms: row.try_get("time_ms")?,
                        lat: row.try_get("lat")?,
                        lon: row.try_get("lon")?,
                        heading: row.try_get("heading")?,
                        speed: row.try_get("speed")?,
                        width: row
                            .try_get::<Option<i64>, _>("width")?
                            .and_then(|w| u32::try_from(w).ok()),
                    })
                })
                .collect::<Result<_>>()?,
            signs: signs
                .iter()
                .map(|row| {
                    let px = |column: &str| -> Result<i32> {
                        let value: i64 = row.try_get(column)?;
                        i32::try_from(value)
                            .map_err(|_| Error::Corrupt(format!("detection {column} {value}")))
                    };
                    Ok(FeatureSignRow {
                        frame_sha256: parse_column(row, "frame_sha256")?,
                        class: row.try_get("class")?,
                        bbox: [px("x")?, px("y")?, px("w")?, px("h")?],
                    })
                })
                .collect::<Result<_>>()?,
        }))
    }

    /// Whether the features of `capture` were already applied.
    pub async fn features_applied(&self, capture: CaptureId) -> Result<bool> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT capture_id FROM feature_captures WHERE capture_id = $1")
                .bind(capture.to_string())
                .fetch_optional(self.pool())
                .await?;
        Ok(found.is_some())
    }

    /// Every feature (with its observations) inside `(min_lon, min_lat, max_lon, max_lat)`.
    pub async fn features_within(
        &self,
        (min_lon, min_lat, max_lon, max_lat): (f64, f64, f64, f64),
    ) -> Result<Vec<StoredFeature>> {
        let sql = format!(
            "SELECT {FEATURE_COLUMNS} FROM features \
             WHERE lat >= $1 AND lat <= $2 AND lon >= $3 AND lon <= $4 ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(min_lat)
            .bind(max_lat)
            .bind(min_lon)
            .bind(max_lon)
            .fetch_all(self.pool())
            .await?;
        let rows: Vec<FeatureRow> = rows.iter().map(feature_row).collect::<Result<_>>()?;
        self.with_observations(rows).await
    }

    /// How many captures still wait for their map features (queued or running
    /// [`MAP_FEATURES_JOB`] jobs).
    pub async fn features_pending(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND state IN ('queued', 'leased')",
        )
        .bind(MAP_FEATURES_JOB)
        .fetch_one(self.pool())
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The features first seen in `[start_ms, end_ms)`, by id, each with its first
    /// observation's frame and device.
    pub async fn discoveries_between(
        &self,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<DiscoveryRow>> {
        let rows = sqlx::query(
            "SELECT f.id, f.class, o.frame_sha256, c.device_id, o.time_ms FROM features f \
             JOIN feature_observations o ON o.feature_id = f.id AND o.time_ms = f.first_seen_ms \
             JOIN captures c ON c.id = o.capture_id \
             WHERE f.first_seen_ms >= $1 AND f.first_seen_ms < $2 \
             ORDER BY f.id, o.frame_sha256",
        )
        .bind(start_ms)
        .bind(end_ms)
        .fetch_all(self.pool())
        .await?;
        let mut discoveries: Vec<DiscoveryRow> = Vec::with_capacity(rows.len());
        for row in rows {
            let feature: String = row.try_get("id")?;
            if discoveries.last().is_some_and(|d| d.feature == feature) {
                continue; // a tie on time: the smallest frame id is the first
            }
            discoveries.push(DiscoveryRow {
                feature,
                class: row.try_get("class")?,
                frame: parse_column(&row, "frame_sha256")?,
                device: parse_column(&row, "device_id")?,
                time_ms: row.try_get("time_ms")?,
            });
        }
        Ok(discoveries)
    }

    /// Every feature's id, in order.
    pub async fn feature_ids(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT id FROM features ORDER BY id")
            .fetch_all(self.pool())
            .await?)
    }

    /// One feature and its observations, oldest first.
    pub async fn feature(&self, id: &str) -> Result<Option<StoredFeature>> {
        Ok(self.features_by_id(&[id]).await?.pop())
    }

    /// The features of `ids` that exist, with their observations, by id.
    pub async fn features_by_id(&self, ids: &[&str]) -> Result<Vec<StoredFeature>> {
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let placeholders = placeholders(1..=chunk.len());
            let sql = format!(
                "SELECT {FEATURE_COLUMNS} FROM features WHERE id IN ({placeholders}) ORDER BY id"
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(self.pool()).await? {
                rows.push(feature_row(&row)?);
            }
        }
        self.with_observations(rows).await
    }

    /// `rows`, each with its observations.
    async fn with_observations(&self, rows: Vec<FeatureRow>) -> Result<Vec<StoredFeature>> {
        let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
        let mut observations = self.observations_of(&ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| StoredFeature {
                observations: observations.remove(&row.id).unwrap_or_default(),
                row,
            })
            .collect())
    }

    async fn observations_of(&self, ids: &[&str]) -> Result<BTreeMap<String, Vec<ObservationRow>>> {
        let mut by_feature: BTreeMap<String, Vec<ObservationRow>> = BTreeMap::new();
        for chunk in ids.chunks(500) {
            let placeholders = placeholders(1..=chunk.len());
            let sql = format!(
                "SELECT {OBSERVATION_COLUMNS} FROM feature_observations \
                 WHERE feature_id IN ({placeholders}) ORDER BY feature_id, time_ms, frame_sha256"
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(self.pool()).await? {
                let feature: String = row.try_get("feature_id")?;
                by_feature
                    .entry(feature)
                    .or_default()
                    .push(observation_row(&row)?);
            }
        }
        Ok(by_feature)
    }

    /// Writes the features an update touched (rows and all their observations), marks
    /// `capture` applied, the cells of their old and new positions dirty and enqueues
    /// `follow_ups` (their search documents) — all in one transaction. `false` (and nothing
    /// written) when the capture was applied already.
    pub async fn save_features(
        &self,
        capture: CaptureId,
        touched: &[StoredFeature],
        follow_ups: &[NewJob],
        now_ms: i64,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let marked = sqlx::query(
            "INSERT INTO feature_captures (capture_id, applied_at_ms) VALUES ($1, $2) \
             ON CONFLICT (capture_id) DO NOTHING",
        )
        .bind(capture.to_string())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for feature in touched {
            let row = &feature.row;
            let old_cell: Option<i64> =
                sqlx::query_scalar("SELECT cell FROM features WHERE id = $1")
                    .bind(&row.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let cell = cell_column(row.cell)?;
            sqlx::query(
                "INSERT INTO features (id, class, lat, lon, cell, uncertainty_m, method, facing_deg, \
                 first_seen_ms, last_seen_ms, first_contributor_id, passes, misses, gone_at_ms, \
                 changed_at_ms, observation_count, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULLIF($14, -1), $15, $16, $17) \
                 ON CONFLICT (id) DO UPDATE SET class = excluded.class, lat = excluded.lat, \
                 lon = excluded.lon, cell = excluded.cell, uncertainty_m = excluded.uncertainty_m, \
                 method = excluded.method, facing_deg = excluded.facing_deg, \
                 first_seen_ms = excluded.first_seen_ms, last_seen_ms = excluded.last_seen_ms, \
                 first_contributor_id = excluded.first_contributor_id, passes = excluded.passes, \
                 misses = excluded.misses, gone_at_ms = excluded.gone_at_ms, \
                 changed_at_ms = excluded.changed_at_ms, \
                 observation_count = excluded.observation_count, updated_at_ms = excluded.updated_at_ms",
            )
            .bind(&row.id)
            .bind(&row.class)
            .bind(row.lat)
            .bind(row.lon)
            .bind(cell)
            .bind(row.uncertainty_m)
            .bind(&row.method)
            .bind(NullableFloat(row.facing_deg))
            .bind(row.first_seen_ms)
            .bind(row.last_seen_ms)
            .bind(&row.first_contributor_id)
            .bind(i64::from(row.passes))
            .bind(i64::from(row.misses))
            .bind(row.gone_at_ms.unwrap_or(NO_TIME))
            .bind(row.changed_at_ms)
            .bind(i64::from(row.observation_count))
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM feature_observations WHERE feature_id = $1")
                .bind(&row.id)
                .execute(&mut *tx)
                .await?;
            for o in &feature.observations {
                sqlx::query(
                    "INSERT INTO feature_observations (feature_id, capture_id, frame_sha256, \
                     sequence_id, contributor_id, time_ms, class, lat, lon, bearing_deg, range_m, \
                     heading_source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (feature_id, capture_id, frame_sha256) DO NOTHING",
                )
                .bind(&row.id)
                .bind(&o.capture_id)
                .bind(o.frame_sha256.to_hex())
                .bind(o.sequence_id.as_deref())
                .bind(&o.contributor_id)
                .bind(o.time_ms)
                .bind(&o.class)
                .bind(o.lat)
                .bind(o.lon)
                .bind(o.bearing_deg)
                .bind(o.range_m)
                .bind(&o.heading_source)
                .execute(&mut *tx)
                .await?;
            }
            for dirty in old_cell.into_iter().chain([cell]) {
                sqlx::query(
                    "INSERT INTO dirty_cells (cell, marked_at_ms) VALUES ($1, $2) \
                     ON CONFLICT (cell) DO UPDATE SET marked_at_ms = excluded.marked_at_ms",
                )
                .bind(dirty)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
        }
        for follow_up in follow_ups {
            JobQueue::enqueue_in(&mut tx, follow_up).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// One page of features, by id.
    pub async fn features_page(&self, query: &FeatureQuery) -> Result<Vec<FeatureRow>> {
        let mut filter = Filter::default();
        if let Some((min_lon, min_lat, max_lon, max_lat)) = query.bbox {
            let (a, b) = (filter.float(min_lat), filter.float(max_lat));
            let (c, d) = (filter.float(min_lon), filter.float(max_lon));
            filter.clause(format!(
                "lat >= {a} AND lat <= {b} AND lon >= {c} AND lon <= {d}"
            ));
        }
        if let Some(class) = &query.class {
            let at = filter.text(class);
            filter.clause(format!("class = {at}"));
        }
        if let Some(after) = &query.after_id {
            let at = filter.text(after);
            filter.clause(format!("id > {at}"));
        }
        match query.status {
            Some(StatusFilter::Gone) => filter.clause("gone_at_ms IS NOT NULL".into()),
            Some(StatusFilter::New { since_ms }) => {
                let at = filter.int(since_ms);
                filter.clause(format!("gone_at_ms IS NULL AND first_seen_ms >= {at}"));
            }
            Some(StatusFilter::Confirmed { since_ms }) => {
                let at = filter.int(since_ms);
                filter.clause(format!("gone_at_ms IS NULL AND first_seen_ms < {at}"));
            }
            None => {}
        }
        if let Some(since) = query.changed_since_ms {
            let (a, b) = (filter.int(since), filter.int(since));
            filter.clause(format!("(changed_at_ms >= {a} OR last_seen_ms >= {b})"));
        }
        let limit = filter.int(i64::from(query.limit.clamp(1, MAX_FEATURE_PAGE)));
        let condition = if filter.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", filter.clauses.join(" AND "))
        };
        let sql =
            format!("SELECT {FEATURE_COLUMNS} FROM features {condition} ORDER BY id LIMIT {limit}");
        let mut statement = sqlx::query(&sql);
        for value in filter.values {
            statement = match value {
                Value::Float(v) => statement.bind(v),
                Value::Text(v) => statement.bind(v),
                Value::Int(v) => statement.bind(v),
            };
        }
        statement
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(feature_row)
            .collect()
    }

    /// Every feature, or those in `cells` (H3 res 12), for the tiles.
    pub async fn map_features(&self, cells: Option<&[u64]>) -> Result<Vec<FeatureRow>> {
        let Some(cells) = cells else {
            let sql = format!("SELECT {FEATURE_COLUMNS} FROM features ORDER BY id");
            return sqlx::query(&sql)
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(feature_row)
                .collect();
        };
        let mut all = Vec::new();
        for chunk in cells.chunks(500) {
            let placeholders = placeholders(1..=chunk.len());
            let sql = format!(
                "SELECT {FEATURE_COLUMNS} FROM features WHERE cell IN ({placeholders}) ORDER BY id"
            );
            let mut query = sqlx::query(&sql);
            for cell in chunk {
                query = query.bind(cell_column(*cell)?);
            }
            for row in query.fetch_all(self.pool()).await? {
                all.push(feature_row(&row)?);
            }
        }
        Ok(all)
    }
}

/// A WHERE clause built with numbered placeholders, values in bind order.
#[derive(Default)]
struct Filter {
    clauses: Vec<String>,
    values: Vec<Value>,
}

enum Value {
    Float(f64),
    Text(String),
    Int(i64),
}

impl Filter {
    fn clause(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    fn push(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    fn float(&mut self, value: f64) -> String {
        self.push(Value::Float(value))
    }

    fn text(&mut self, value: &str) -> String {
        self.push(Value::Text(value.to_owned()))
    }

    fn int(&mut self, value: i64) -> String {
        self.push(Value::Int(value))
    }
}

fn cell_column(cell: u64) -> Result<i64> {
    i64::try_from(cell).map_err(|_| Error::Corrupt(format!("cell {cell} beyond 2^63")))
}

fn feature_row(row: &AnyRow) -> Result<FeatureRow> {
    let count = |column: &str| -> Result<u32> {
        let value: i64 = row.try_get(column)?;
        u32::try_from(value).map_err(|_| Error::Corrupt(format!("feature {column} {value}")))
    };
    let cell: i64 = row.try_get("cell")?;
    Ok(FeatureRow {
        id: row.try_get("id")?,
        class: row.try_get("class")?,
        lat: row.try_get("lat")?,
        lon: row.try_get("lon")?,
        cell: u64::try_from(cell).map_err(|_| Error::Corrupt(format!("feature cell {cell}")))?,
        uncertainty_m: row.try_get("uncertainty_m")?,
        method: row.try_get("method")?,
        facing_deg: row.try_get("facing_deg")?,
        first_seen_ms: row.try_get("first_seen_ms")?,
        last_seen_ms: row.try_get("last_seen_ms")?,
        first_contributor_id: row.try_get("first_contributor_id")?,
        passes: count("passes")?,
        misses: count("misses")?,
        gone_at_ms: row.try_get("gone_at_ms")?,
        changed_at_ms: row.try_get("changed_at_ms")?,
        observation_count: count("observation_count")?,
    })
}

fn observation_row(row: &AnyRow) -> Result<ObservationRow> {
    Ok(ObservationRow {
        capture_id: row.try_get("capture_id")?,
        frame_sha256: parse_column(row, "frame_sha256")?,
        sequence_id: row.try_get("sequence_id")?,
        contributor_id: row.try_get("contributor_id")?,
        time_ms: row.try_get("time_ms")?,
        class: row.try_get("class")?,
        lat: row.try_get("lat")?,
        lon: row.try_get("lon")?,
        bearing_deg: row.try_get("bearing_deg")?,
        range_m: row.try_get("range_m")?,
        heading_source: row.try_get("heading_source")?,
    })
}
