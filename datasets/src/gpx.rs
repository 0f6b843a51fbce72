//! GPX 1.0 and 1.1 track points → [`model::Fix`]es, with the receiver's fix type, satellite
//! count, hdop, speed and course when the file has them (GPSBabel writes all five).
//!
//! A small reader over `roxmltree` rather than the `gpx` crate: `gpx` 0.10 refuses GPX 1.0's
//! `<course>`, which the GPSBabel drives carry. A point without `<fix>`, `<sat>` or `<hdop>`
//! gets what "the receiver said nothing" means to the GNSS gate: no fix, 0 satellites, hdop
//! 99. Never does: smoothing, filtering or reordering — points come out as recorded.

use std::path::Path;

use model::{Fix, FixType, TimestampMs};

use crate::error::{Error, Result, read};

/// The track points of the GPX file at `path`, in file order.
pub fn read_gpx(path: &Path) -> Result<Vec<Fix>> {
    let bytes = read(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|err| Error::Gpx {
        path: path.to_owned(),
        reason: format!("not UTF-8: {err}"),
    })?;
    parse_gpx(text, path)
}

/// The track points of a GPX document; `path` only names it in errors.
pub fn parse_gpx(text: &str, path: &Path) -> Result<Vec<Fix>> {
    let malformed = |reason: String| Error::Gpx {
        path: path.to_owned(),
        reason,
    };
    let document = roxmltree::Document::parse(text).map_err(|err| malformed(err.to_string()))?;
    if document.root_element().tag_name().name() != "gpx" {
        return Err(malformed(format!(
            "the root element is <{}>, not <gpx>",
            document.root_element().tag_name().name()
        )));
    }
    let fixes = document
        .descendants()
        .filter(|node| node.is_element() && node.tag_name().name() == "trkpt")
        .enumerate()
        .map(|(index, point)| track_point(point, index, path))
        .collect::<Result<Vec<_>>>()?;
    if fixes.is_empty() {
        return Err(Error::GpxEmpty {
            path: path.to_owned(),
        });
    }
    Ok(fixes)
}

fn track_point(point: roxmltree::Node<'_, '_>, index: usize, path: &Path) -> Result<Fix> {
    let malformed = |reason: String| Error::Gpx {
        path: path.to_owned(),
        reason: format!("track point {index}: {reason}"),
    };
    let child = |name: &str| -> Option<&str> {
        point
            .children()
            .find(|node| node.is_element() && node.tag_name().name() == name)
            .map(|node| node.text().unwrap_or("").trim())
    };
    let number = |name: &str, text: &str| -> Result<f64> {
        text.parse::<f64>()
            .map_err(|_| malformed(format!("{name} {text:?} is not a number")))
    };
    let attribute = |name: &str| -> Result<f64> {
        let text = point
            .attribute(name)
            .ok_or_else(|| malformed(format!("no {name} attribute")))?;
        number(name, text)
    };
    let Some(time_text) = child("time") else {
        return Err(Error::GpxWithoutTime {
            path: path.to_owned(),
            index,
        });
    };
    let time = chrono::DateTime::parse_from_rfc3339(time_text)
        .map_err(|err| malformed(format!("time {time_text:?}: {err}")))?;
    let optional = |name: &str| -> Result<Option<f64>> {
        child(name).map(|text| number(name, text)).transpose()
    };
    let fix_type = match child("fix") {
        None | Some("none") => FixType::NoFix,
        Some("2d") => FixType::Fix2d,
        Some("3d") | Some("pps") => FixType::Fix3d,
        Some("dgps") => FixType::Dgps,
        Some(other) => {
            return Err(malformed(format!(
                "fix {other:?} is not none|2d|3d|dgps|pps"
            )));
        }
    };
    let satellites = match child("sat") {
        None => 0,
        Some(text) => text
            .parse::<u8>()
            .map_err(|_| malformed(format!("sat {text:?} is not a count")))?,
    };
    let fix = Fix {
        time: TimestampMs(time.timestamp_millis()),
        lat: attribute("lat")?,
        lon: attribute("lon")?,
        alt: optional("ele")?,
        heading: optional("course")?.map(|course| course.rem_euclid(360.0)),
        speed: optional("speed")?,
        fix_type,
        satellites,
        hdop: optional("hdop")?.map_or(99.0, |hdop| hdop as f32),
    };
    fix.validate().map_err(|err| malformed(err.to_string()))?;
    Ok(fix)
}
