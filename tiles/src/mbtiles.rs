//! The live tileset as an MBTiles 1.3 file (SQLite): `metadata` with the `json` key holding
//! `vector_layers`, tiles in TMS rows, gzip-compressed MVT. Tiles live in martin's
//! "flat-with-hash" layout — a `tiles_with_hash` table whose `tile_hash` (MD5, hex) is the
//! HTTP ETag, and a `tiles` view — so GDAL, QGIS and martin open the file as it is. A
//! batch of tiles is written in one transaction; a tile whose bytes did not change is not
//! rewritten, so its ETag stays.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use md5::{Digest, Md5};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, SqliteConnection};

use crate::coord::TileCoord;
use crate::tile_cache::{Cached, TileCache};

/// Tiles the serving path keeps in memory, per open file.
const CACHE_BUDGET_BYTES: usize = 64 * 1024 * 1024;
/// How long another process's write to the file can go unseen by [`MbTiles::cached_tile`]
/// (writes through this handle are seen at once).
const CACHE_TTL: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum MbTilesError {
    #[error(
        "{path} is not a usable MBTiles file: {reason}; move it away and run `waymark tiles build` to rebuild it"
    )]
    Unusable { path: PathBuf, reason: String },
    #[error("MBTiles file {path}: {source}")]
    Database { path: PathBuf, source: sqlx::Error },
}

pub type Result<T, E = MbTilesError> = std::result::Result<T, E>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS metadata (name TEXT NOT NULL PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS tiles_with_hash (
    zoom_level INTEGER NOT NULL,
    tile_column INTEGER NOT NULL,
    tile_row INTEGER NOT NULL,
    tile_data BLOB,
    tile_hash TEXT,
    PRIMARY KEY (zoom_level, tile_column, tile_row)
);
CREATE VIEW IF NOT EXISTS tiles AS
    SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles_with_hash;
";

/// One stored tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTile {
    /// gzip-compressed MVT.
    pub data: Vec<u8>,
    /// MD5 of `data`, uppercase hex: the tile's ETag.
    pub hash: String,
}

/// What a batch write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
}

/// An open MBTiles file.
#[derive(Debug, Clone)]
pub struct MbTiles {
    pool: SqlitePool,
    path: PathBuf,
    cache: Arc<TileCache>,
}

impl MbTiles {
    /// Opens the file, creating it (and its schema) if it does not exist. An existing file
    /// that is not an MBTiles tileset is refused with an error naming it.
    pub async fn open(path: &Path) -> Result<Self> {
        let existed = path.exists();
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|source| MbTilesError::Database {
                path: path.to_owned(),
                source,
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| unusable(path, e.to_string()))?;
        let tiles = Self {
            pool,
            path: path.to_owned(),
            cache: Arc::new(TileCache::new(CACHE_BUDGET_BYTES, CACHE_TTL)),
        };
        if existed {
            tiles.check().await?;
        }
        sqlx::raw_sql(SCHEMA)
            .execute(&tiles.pool)
            .await
            .map_err(|e| unusable(path, e.to_string()))?;
        Ok(tiles)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An existing file must be SQLite with `metadata` and `tiles`; tiles written by other
    /// tools (a plain `tiles` table) cannot be updated in place.
    async fn check(&self) -> Result<()> {
        let names: Vec<(String, String)> =
            sqlx::query_as("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| unusable(&self.path, e.to_string()))?;
        let has = |name: &str| names.iter().any(|(n, _)| n == name);
        if names.is_empty() {
            return Ok(());
        }
        if !has("metadata") || !has("tiles") {
            return Err(unusable(
                &self.path,
                "it has no `metadata` and `tiles` tables".into(),
            ));
        }
        if !has("tiles_with_hash") {
            return Err(unusable(
                &self.path,
                "its tiles are not in the `tiles_with_hash` layout Waymark keeps live tiles in"
                    .into(),
            ));
        }
        Ok(())
    }

    /// One tile, if stored.
    pub async fn tile(&self, tile: TileCoord) -> Result<Option<StoredTile>> {
        let row = sqlx::query(
            "SELECT tile_data, tile_hash FROM tiles_with_hash \
             WHERE zoom_level = $1 AND tile_column = $2 AND tile_row = $3",
        )
        .bind(i64::from(tile.z))
        .bind(i64::from(tile.x))
        .bind(i64::from(tile.tms_row()))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        row.map(|row| {
            Ok(StoredTile {
                data: row.try_get("tile_data").map_err(|e| self.db(e))?,
                hash: row.try_get("tile_hash").map_err(|e| self.db(e))?,
            })
        })
        .transpose()
    }

    /// One tile through the in-memory cache (see [`crate::tile_cache`]): what the serving
    /// path reads.
    pub async fn cached_tile(&self, tile: TileCoord) -> Result<Option<Arc<StoredTile>>> {
        match self.cache.get(tile) {
            Cached::Tile(stored) => return Ok(Some(stored)),
            Cached::Empty => return Ok(None),
            Cached::Miss => {}
        }
        let generation = self.cache.generation();
        let found = self.tile(tile).await?.map(Arc::new);
        self.cache.put(tile, found.clone(), generation);
        Ok(found)
    }

    /// Writes a batch in one transaction: `Some(bytes)` stores a tile (unless the same bytes
    /// are already there), `None` removes it (the tile became empty). `metadata` is upserted
    /// in the same transaction.
    pub async fn write(
        &self,
        metadata: &[(String, String)],
        tiles: &[(TileCoord, Option<Vec<u8>>)],
    ) -> Result<WriteSummary> {
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        let mut summary = WriteSummary::default();
        for (tile, data) in tiles {
            let outcome = write_tile(&mut tx, *tile, data.as_deref())
                .await
                .map_err(|e| self.db(e))?;
            match outcome {
                TileWrite::Written => summary.written += 1,
                TileWrite::Unchanged => summary.unchanged += 1,
                TileWrite::Removed => summary.removed += 1,
            }
        }
        for (name, value) in metadata {
            sqlx::query(
                "INSERT INTO metadata (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        self.cache.evict(tiles.iter().map(|(tile, _)| *tile));
        Ok(summary)
    }

    /// Removes every tile (a full rebuild starts from nothing).
    pub async fn clear(&self) -> Result<()> {
        sqlx::query("DELETE FROM tiles_with_hash")
            .execute(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        self.cache.clear();
        Ok(())
    }

    pub async fn metadata(&self) -> Result<Vec<(String, String)>> {
        sqlx::query_as("SELECT name, COALESCE(value, '') FROM metadata ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))
    }

    pub async fn tile_count(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tiles_with_hash")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(count as u64)
    }

    /// Every stored tile address.
    pub async fn tile_coords(&self) -> Result<Vec<TileCoord>> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT zoom_level, tile_column, tile_row FROM tiles_with_hash \
             ORDER BY zoom_level, tile_column, tile_row",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(rows
            .into_iter()
            .map(|(z, x, row)| TileCoord::from_tms(z as u8, x as u32, row as u32))
            .collect())
    }

    /// Writes a consistent copy of the whole file to `out` (which must not exist).
    pub async fn snapshot_to(&self, out: &Path) -> Result<()> {
        sqlx::query("VACUUM INTO $1")
            .bind(out.display().to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// Stops taking new queries and waits for open ones; the file is then complete on disk.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn db(&self, source: sqlx::Error) -> MbTilesError {
        MbTilesError::Database {
            path: self.path.clone(),
            source,
        }
    }
}

enum TileWrite {
    Written,
    Unchanged,
    Removed,
}

async fn write_tile(
    tx: &mut SqliteConnection,
    tile: TileCoord,
    data: Option<&[u8]>,
) -> std::result::Result<TileWrite, sqlx::Error> {
    let (z, x, row) = (
        i64::from(tile.z),
        i64::from(tile.x),
        i64::from(tile.tms_row()),
    );
    let Some(data) = data else {
        sqlx::query(
            "DELETE FROM tiles_with_hash WHERE zoom_level = $1 AND tile_column = $2 AND tile_row = $3",
        )
        .bind(z)
        .bind(x)
        .bind(row)
        .execute(&mut *tx)
        .await?;
        return Ok(TileWrite::Removed);
    };
    let hash = tile_hash(data);
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT tile_hash FROM tiles_with_hash WHERE zoom_level = $1 AND tile_column = $2 AND tile_row = $3",
    )
    .bind(z)
    .bind(x)
    .bind(row)
    .fetch_optional(&mut *tx)
    .await?;
    if stored.as_deref() == Some(hash.as_str()) {
        return Ok(TileWrite::Unchanged);
    }
    sqlx::query(
        "INSERT INTO tiles_with_hash (zoom_level, tile_column, tile_row, tile_data, tile_hash) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (zoom_level, tile_column, tile_row) \
         DO UPDATE SET tile_data = excluded.tile_data, tile_hash = excluded.tile_hash",
    )
    .bind(z)
    .bind(x)
    .bind(row)
    .bind(data)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    Ok(TileWrite::Written)
}

/// MD5 of the stored bytes in uppercase hex, as martin's flat-with-hash layout keeps it.
pub fn tile_hash(data: &[u8]) -> String {
    hex::encode_upper(Md5::digest(data))
}

fn unusable(path: &Path, reason: String) -> MbTilesError {
    MbTilesError::Unusable {
        path: path.to_owned(),
        reason,
    }
}
