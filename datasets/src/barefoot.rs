//! The barefoot map-matcher's JSON drives (the Munich car drive): an array of
//! `{"point": "POINT(lon lat)", "time": "2014-09-10 06:54:07+0200", "id": …}` samples.
//!
//! The file has positions and times only, so every fix is given a good 3D fix (8
//! satellites, hdop 1.0) — what its receiver must have had to be recorded at 1 Hz in a car.
//! Never does: filtering (the drive's real 470 m GPS jump stays in; ingest must catch it).

use std::path::Path;

use model::{Fix, FixType, TimestampMs};
use serde::Deserialize;

use crate::error::{Error, Result, read};

#[derive(Deserialize)]
struct Sample {
    point: String,
    time: String,
}

/// The fixes of the barefoot drive at `path`, in file order.
pub fn read_barefoot(path: &Path) -> Result<Vec<Fix>> {
    parse_barefoot(&read(path)?, path)
}

/// The fixes of a barefoot JSON drive; `path` only names it in errors.
pub fn parse_barefoot(json: &[u8], path: &Path) -> Result<Vec<Fix>> {
    let samples: Vec<Sample> = serde_json::from_slice(json).map_err(|err| Error::Barefoot {
        path: path.to_owned(),
        index: 0,
        reason: format!("not a JSON array of samples: {err}"),
    })?;
    samples
        .iter()
        .enumerate()
        .map(|(index, sample)| {
            sample_fix(sample).map_err(|reason| Error::Barefoot {
                path: path.to_owned(),
                index,
                reason,
            })
        })
        .collect()
}

fn sample_fix(sample: &Sample) -> Result<Fix, String> {
    let inner = sample
        .point
        .strip_prefix("POINT(")
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(|| format!("point {:?} is not POINT(lon lat)", sample.point))?;
    let (lon, lat) = inner
        .split_once(' ')
        .ok_or_else(|| format!("point {:?} is not POINT(lon lat)", sample.point))?;
    let coordinate = |text: &str| {
        text.parse::<f64>()
            .map_err(|_| format!("coordinate {text:?} is not a number"))
    };
    let time = chrono::DateTime::parse_from_str(&sample.time, "%Y-%m-%d %H:%M:%S%z")
        .map_err(|err| format!("time {:?}: {err}", sample.time))?;
    let fix = Fix {
        time: TimestampMs(time.timestamp_millis()),
        lat: coordinate(lat)?,
        lon: coordinate(lon)?,
        alt: None,
        heading: None,
        speed: None,
        fix_type: FixType::Fix3d,
        satellites: 8,
        hdop: 1.0,
    };
    fix.validate().map_err(|err| err.to_string())?;
    Ok(fix)
}
