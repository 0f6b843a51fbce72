//! Where the store keeps things: one URL per backend.

use std::path::{Path, PathBuf};

/// Backend locations. The binary fills these from its settings; [`StoreConfig::under`] gives
/// the single-machine defaults (everything under one data directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `file:///abs/dir` (local filesystem) or `memory://` (tests).
    pub blobs_url: String,
    /// `sqlite:///abs/path/waymark.db` (WAL mode).
    pub database_url: String,
    /// Directory of the tantivy index; `None` keeps it in memory (tests).
    pub search_dir: Option<PathBuf>,
}

impl StoreConfig {
    /// Single-machine layout: `blobs/`, `waymark.db` and `search/` under `data_dir`.
    pub fn under(data_dir: &Path) -> Self {
        Self {
            blobs_url: format!("file://{}", data_dir.join("blobs").display()),
            database_url: format!("sqlite://{}", data_dir.join("waymark.db").display()),
            search_dir: Some(data_dir.join("search")),
        }
    }
}
