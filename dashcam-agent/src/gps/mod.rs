//! GPS sources: every format the agent reads, each producing a list of [`model::Fix`]es.
//!
//! NMEA 0183 ([`nmea`], via the `nmea` crate), GPX ([`gpx`], the `gpx` crate), FIT
//! ([`fit`], `fitparser`), gpsd's JSON over TCP ([`gpsd`]), and GoPro GPMF inside MP4
//! ([`gpmf`] over the small box reader [`mp4`]; both written here).

pub mod fit;
pub mod gpmf;
pub mod gpsd;
pub mod gpx;
pub mod mp4;
pub mod nmea;

use std::path::Path;

use model::Fix;

use crate::{Error, Result};

/// Reads a track file, choosing the format by extension (`.gpx`, `.fit`, `.mp4`/`.mov`
/// for GoPro GPMF, anything else as an NMEA log).
pub fn read_track_file(path: &Path) -> Result<Vec<Fix>> {
    let name = path.display().to_string();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let fixes = match extension.as_str() {
        "mp4" | "mov" => {
            gpmf::read_mp4(path)?
                .ok_or_else(|| Error::NoFixes(format!("{name} (no GPMF track)")))?
                .fixes
        }
        _ => {
            let bytes = std::fs::read(path).map_err(crate::error::io("read", path))?;
            match extension.as_str() {
                "gpx" => gpx::parse(&bytes, &name)?,
                "fit" => fit::parse(&bytes, &name)?,
                _ => nmea::parse_log(&bytes).0,
            }
        }
    };
    if fixes.is_empty() {
        return Err(Error::NoFixes(name));
    }
    Ok(fixes)
}
