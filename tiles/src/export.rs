//! Exports of the live tileset for CDNs and offline use: a PMTiles v3 archive (the `pmtiles`
//! crate, tiles in tile-id order, gzip kept as stored) and a standalone MBTiles copy
//! (SQLite's `VACUUM INTO`, a consistent snapshot even while the builder writes).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use pmtiles::{Compression, PmTilesWriter, TileId, TileType};

use crate::coord::TileCoord;
use crate::mbtiles::{MbTiles, MbTilesError};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    MbTiles(#[from] MbTilesError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the PMTiles archive {path}: {source}")]
    PmTiles {
        path: PathBuf,
        source: pmtiles::PmtError,
    },
    #[error("{path} already exists; choose another file or remove it first")]
    Exists { path: PathBuf },
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    pub tiles: usize,
    pub bytes: u64,
}

/// Writes every stored tile and the tileset's metadata into a new PMTiles v3 archive.
pub async fn to_pmtiles(tiles: &MbTiles, out: &Path) -> Result<ExportSummary, ExportError> {
    refuse_existing(out)?;
    let metadata = tiles.metadata().await?;
    let value = |key: &str| {
        metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let bounds: Vec<f64> = value("bounds")
        .unwrap_or_default()
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let mut coords = tiles.tile_coords().await?;
    coords.sort_by_key(|c| tile_id(*c).map(u64::from).unwrap_or(u64::MAX));
    let pm_error = |source| ExportError::PmTiles {
        path: out.to_owned(),
        source,
    };
    let file = File::create(out).map_err(|source| ExportError::Io {
        path: out.to_owned(),
        source,
    })?;
    let mut builder = PmTilesWriter::new(TileType::Mvt)
        .precompressed(Compression::Gzip)
        .min_zoom(coords.first().map_or(0, |c| c.z))
        .max_zoom(coords.iter().map(|c| c.z).max().unwrap_or(0))
        .metadata(pmtiles_metadata(&metadata));
    if let [west, south, east, north] = bounds[..] {
        builder = builder
            .bounds(west, south, east, north)
            .center((west + east) / 2.0, (south + north) / 2.0)
            .center_zoom(12);
    }
    let mut writer = builder.create(BufWriter::new(file)).map_err(pm_error)?;
    let mut written = 0;
    for coord in coords {
        let Some(stored) = tiles.tile(coord).await? else {
            continue;
        };
        let pm_coord = pmtiles::TileCoord::new(coord.z, coord.x, coord.y).map_err(pm_error)?;
        writer.add_tile(pm_coord, &stored.data).map_err(pm_error)?;
        written += 1;
    }
    writer.finalize().map_err(pm_error)?;
    Ok(ExportSummary {
        tiles: written,
        bytes: file_size(out)?,
    })
}

/// Writes a standalone copy of the MBTiles file.
pub async fn to_mbtiles(tiles: &MbTiles, out: &Path) -> Result<ExportSummary, ExportError> {
    refuse_existing(out)?;
    tiles.snapshot_to(out).await?;
    Ok(ExportSummary {
        tiles: tiles.tile_coords().await?.len(),
        bytes: file_size(out)?,
    })
}

/// PMTiles metadata is the JSON object MBTiles keeps split over rows, `json` merged in.
fn pmtiles_metadata(rows: &[(String, String)]) -> String {
    let mut object = serde_json::Map::new();
    for (name, value) in rows {
        if name == "json" {
            if let Ok(serde_json::Value::Object(extra)) = serde_json::from_str(value) {
                object.extend(extra);
            }
            continue;
        }
        object.insert(name.clone(), serde_json::Value::from(value.clone()));
    }
    serde_json::Value::Object(object).to_string()
}

fn tile_id(coord: TileCoord) -> Option<TileId> {
    pmtiles::TileCoord::new(coord.z, coord.x, coord.y)
        .ok()
        .map(TileId::from)
}

fn refuse_existing(out: &Path) -> Result<(), ExportError> {
    if out.exists() {
        return Err(ExportError::Exists {
            path: out.to_owned(),
        });
    }
    Ok(())
}

fn file_size(path: &Path) -> Result<u64, ExportError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|source| ExportError::Io {
            path: path.to_owned(),
            source,
        })
}
