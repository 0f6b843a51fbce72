//! The tile builder's IO shell: loads the map from the store, renders tiles into the MBTiles
//! file, and keeps it fresh from dirty cells.
//!
//! Exactly-once across two databases: the MBTiles file and the store are separate SQLite
//! files, so one transaction cannot span both. The builder reads the dirty marks first,
//! then the rows, writes every touched tile in one MBTiles transaction, and only then
//! clears the marks it read — each only if the cell was not marked again meanwhile. A crash
//! between the two leaves marks behind; they rebuild the same tiles again (rendering is
//! deterministic, so bytes and ETags stay the same). No mark is ever lost.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use store::{Db, Store};

use crate::coord::{LonLatBox, TileCoord};
use crate::mbtiles::{MbTiles, MbTilesError, WriteSummary};
use crate::render::{RenderConfig, RenderError, render};
use crate::state::{MapState, MapUpdate, SequenceLine};
use crate::tileset::mbtiles_metadata;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot read the map from the store: {0}")]
    Store(#[from] store::Error),
    #[error(transparent)]
    MbTiles(#[from] MbTilesError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("the tile rendering task stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// What a build or update did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildSummary {
    pub tiles_rendered: usize,
    pub tiles: WriteSummary,
    pub cells_cleared: u64,
    pub thinned: usize,
    pub elapsed: Duration,
}

/// Settings the builder needs.
#[derive(Debug, Clone)]
pub struct TilesConfig {
    pub render: RenderConfig,
}

/// Holds the map in memory and the MBTiles file it renders into.
#[derive(Debug)]
pub struct TileBuilder {
    db: Db,
    tiles: MbTiles,
    /// `None` until the map is first read from the store.
    state: Option<MapState>,
    config: TilesConfig,
}

impl TileBuilder {
    /// A builder over `store`; the map is read on the first build or update.
    pub fn new(store: &Store, tiles: MbTiles, config: TilesConfig) -> Self {
        Self {
            db: store.db.clone(),
            tiles,
            state: None,
            config,
        }
    }

    pub fn tiles(&self) -> &MbTiles {
        &self.tiles
    }

    /// The map as last read (empty before the first build or update).
    pub fn state(&self) -> &MapState {
        static EMPTY: std::sync::OnceLock<MapState> = std::sync::OnceLock::new();
        self.state
            .as_ref()
            .unwrap_or_else(|| EMPTY.get_or_init(MapState::default))
    }

    /// Renders every tile from scratch, replacing what the file held, and clears every
    /// dirty mark that was there when the map was read.
    pub async fn build_all(&mut self, now_ms: i64) -> Result<BuildSummary, BuildError> {
        let started = Instant::now();
        // Marks first, rows second: whatever a mark points at is in the rows read.
        let marks = self.db.dirty_cell_marks().await?;
        let mut state = MapState::default();
        state.apply(self.read_update(None).await?);
        let targets = state.all_tiles();
        self.state = Some(state);
        self.tiles.clear().await?;
        let mut summary = self.render_and_write(targets, now_ms).await?;
        summary.cells_cleared = self.db.clear_dirty_cells(&marks).await?;
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    /// Brings the tiles up to date with the cells marked dirty since the last run: only the
    /// tiles those cells touch are rendered again.
    pub async fn update(&mut self, now_ms: i64) -> Result<BuildSummary, BuildError> {
        let started = Instant::now();
        let marks = self.db.dirty_cell_marks().await?;
        if self.state.is_none() {
            let mut state = MapState::default();
            state.apply(self.read_update(None).await?);
            self.state = Some(state);
        }
        if marks.is_empty() {
            return Ok(BuildSummary::default());
        }
        let cells: Vec<u64> = marks.iter().map(|m| m.cell).collect();
        let update = self.read_update(Some(&cells)).await?;
        let targets = self
            .state
            .get_or_insert_with(MapState::default)
            .apply(update);
        let mut summary = self.render_and_write(targets, now_ms).await?;
        summary.cells_cleared = self.db.clear_dirty_cells(&marks).await?;
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    /// Runs [`Self::update`] every `interval` until the task is dropped.
    pub async fn run(mut self, interval: Duration) {
        loop {
            match self.update(model::TimestampMs::now().as_millis()).await {
                Ok(summary) if summary.tiles_rendered > 0 => tracing::info!(
                    rendered = summary.tiles_rendered,
                    written = summary.tiles.written,
                    unchanged = summary.tiles.unchanged,
                    cells = summary.cells_cleared,
                    ms = summary.elapsed.as_millis() as u64,
                    "tiles updated"
                ),
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(error = %err, "updating tiles failed; retrying next interval")
                }
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Frames, map features and sequences: everything, or what lies in `cells`.
    async fn read_update(&self, cells: Option<&[u64]>) -> Result<MapUpdate, BuildError> {
        let frames = self.db.map_frames(cells).await?;
        let features = self.db.map_features(cells).await?;
        let ids: BTreeSet<String> = frames
            .iter()
            .filter_map(|f| f.sequence_id.clone())
            .collect();
        let sequences = self
            .db
            .map_sequences(&ids)
            .await?
            .into_iter()
            .filter_map(|row| match SequenceLine::from_row(row) {
                Ok(line) => Some(line),
                Err(err) => {
                    tracing::warn!(error = %err, "sequence left off the map");
                    None
                }
            })
            .collect();
        Ok(MapUpdate {
            frames,
            sequences,
            features,
            cells_read: cells.map(<[u64]>::to_vec),
        })
    }

    /// Renders `targets` off the async runtime and writes them, with fresh metadata, in one
    /// MBTiles transaction.
    async fn render_and_write(
        &mut self,
        targets: BTreeSet<TileCoord>,
        now_ms: i64,
    ) -> Result<BuildSummary, BuildError> {
        let state = self.state.take().unwrap_or_default();
        let config = RenderConfig {
            now_ms,
            ..self.config.render.clone()
        };
        let (state, rendered) = tokio::task::spawn_blocking(move || {
            let rendered: Result<Vec<_>, RenderError> = targets
                .into_iter()
                .map(|tile| render(&state, tile, &config).map(|r| (tile, r)))
                .collect();
            (state, rendered)
        })
        .await?;
        self.state = Some(state);
        let rendered = rendered?;
        let thinned = rendered
            .iter()
            .filter(|(_, r)| r.as_ref().is_some_and(|r| r.thinned))
            .count();
        let batch: Vec<(TileCoord, Option<Vec<u8>>)> = rendered
            .into_iter()
            .map(|(tile, r)| (tile, r.map(|r| r.gzipped)))
            .collect();
        let metadata = mbtiles_metadata(self.bounds());
        let tiles = self.tiles.write(&metadata, &batch).await?;
        metrics::counter!("waymark_tiles_rendered_total").increment(batch.len() as u64);
        metrics::counter!("waymark_tiles_written_total").increment(tiles.written as u64);
        Ok(BuildSummary {
            tiles_rendered: batch.len(),
            tiles,
            cells_cleared: 0,
            thinned,
            elapsed: Duration::ZERO,
        })
    }

    /// The box around every frame on the map.
    pub fn bounds(&self) -> Option<LonLatBox> {
        self.state().bounds()
    }
}
