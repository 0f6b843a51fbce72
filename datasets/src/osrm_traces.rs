//! The OSRM test suite's Berlin GPS traces (`TrackID,Latitude,Longitude,Time`, gzip): 132
//! public OSM traces as ordered positions. Their time column is empty, so they come out as
//! positions, not [`model::Fix`]es.
//!
//! Never does: invent times or speeds for them.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use crate::error::{Error, Result, read};

/// One trace: its id in the file and its positions in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub id: u32,
    /// `(lon, lat)` in degrees, WGS84.
    pub points: Vec<(f64, f64)>,
}

/// The traces of the gzip-compressed CSV at `path`, in file order.
pub fn read_osrm_traces(path: &Path) -> Result<Vec<Trace>> {
    let compressed = read(path)?;
    let mut text = String::new();
    GzDecoder::new(compressed.as_slice())
        .read_to_string(&mut text)
        .map_err(|err| Error::OsrmTraces {
            path: path.to_owned(),
            line: 0,
            reason: format!("not a complete gzip file of UTF-8 text: {err}"),
        })?;
    parse_osrm_traces(&text, path)
}

/// The traces of the decompressed CSV text; `path` only names it in errors.
pub fn parse_osrm_traces(text: &str, path: &Path) -> Result<Vec<Trace>> {
    let malformed = |line: usize, reason: String| Error::OsrmTraces {
        path: path.to_owned(),
        line,
        reason,
    };
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    if header.trim() != "TrackID,Latitude,Longitude,Time" {
        return Err(malformed(
            1,
            format!("header {header:?} is not TrackID,Latitude,Longitude,Time"),
        ));
    }
    let mut traces: Vec<Trace> = Vec::new();
    for (offset, row) in lines.enumerate() {
        let line = offset + 2;
        let fields: Vec<&str> = row.split(',').collect();
        let [id, lat, lon, _time] = fields.as_slice() else {
            return Err(malformed(line, format!("{row:?} does not have 4 fields")));
        };
        let id: u32 = id
            .parse()
            .map_err(|_| malformed(line, format!("track id {id:?} is not a number")))?;
        let coordinate = |text: &str, range: f64| {
            text.parse::<f64>()
                .ok()
                .filter(|value| value.abs() <= range)
                .ok_or_else(|| {
                    malformed(line, format!("coordinate {text:?} is not a degree value"))
                })
        };
        let point = (coordinate(lon, 180.0)?, coordinate(lat, 90.0)?);
        match traces.last_mut() {
            Some(trace) if trace.id == id => trace.points.push(point),
            _ => traces.push(Trace {
                id,
                points: vec![point],
            }),
        }
    }
    Ok(traces)
}
