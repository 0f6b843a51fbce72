//! The web map's one error type.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "MapLibre GL JS is not installed ({path} is missing); run scripts/setup, or `npm ci --prefix web-map`"
    )]
    MapLibreMissing { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}
