//! The crate's one error type: every way a sample file, a road network or a fleet
//! configuration can be unusable, each saying which file (or setting) and what to do.
//!
//! Never does: recovery. Loaders return these; callers decide.

use std::path::PathBuf;

/// Why a dataset could not be loaded or a fleet not simulated.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {source}; check the path (datasets::path gives the data directory)", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not well-formed GPX: {reason}", path.display())]
    Gpx { path: PathBuf, reason: String },
    #[error("{}: track point {index} has no <time>; a drive needs a time on every point", path.display())]
    GpxWithoutTime { path: PathBuf, index: usize },
    #[error("{} holds no track points", path.display())]
    GpxEmpty { path: PathBuf },
    #[error("{}: sample {index} is not a barefoot drive sample: {reason}", path.display())]
    Barefoot {
        path: PathBuf,
        index: usize,
        reason: String,
    },
    #[error("{} line {line}: {reason}", path.display())]
    OsrmTraces {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{} is not a readable OSM PBF file: {source}", path.display())]
    Pbf {
        path: PathBuf,
        source: osmpbf::Error,
    },
    #[error("{} holds no drivable roads (motorway … residential, service, unclassified)", path.display())]
    NoRoads { path: PathBuf },
    #[error("cannot decode the dashcam frame {}: {source}", path.display())]
    Image {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error("cannot encode a frame as JPEG: {0}")]
    Encode(image::ImageError),
    #[error("fleet configuration: {0}")]
    Config(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reads a whole file, naming it in the error.
pub(crate) fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}
