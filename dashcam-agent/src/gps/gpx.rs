//! GPX 1.0/1.1 tracks (the `gpx` crate): every track point with its time, elevation, speed,
//! fix type, satellites and hdop where the logger recorded them. Points without a time cannot
//! be aligned to frames: a file with none is an error, not a guess.

use model::{Fix, FixType, TimestampMs};

use crate::{Error, Result};

/// `<course>` of GPX 1.0 track points, which the `gpx` crate refuses as unknown; the
/// heading is derived from the motion instead (see [`crate::Track::new`]).
fn without_course(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const OPEN: &[u8] = b"<course>";
    const CLOSE: &[u8] = b"</course>";
    if !bytes.windows(OPEN.len()).any(|w| w == OPEN) {
        return bytes.into();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(start) = rest.windows(OPEN.len()).position(|w| w == OPEN) {
        out.extend(&rest[..start]);
        match rest[start..].windows(CLOSE.len()).position(|w| w == CLOSE) {
            Some(end) => rest = &rest[start + end + CLOSE.len()..],
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.extend(rest);
    out.into()
}

/// Fixes of every track point in `bytes` (`name` is for messages).
pub fn parse(bytes: &[u8], name: &str) -> Result<Vec<Fix>> {
    let gpx = gpx::read(&*without_course(bytes)).map_err(|err| Error::Gpx {
        path: name.to_owned(),
        reason: err.to_string(),
    })?;
    let points: Vec<&gpx::Waypoint> = gpx
        .tracks
        .iter()
        .flat_map(|track| &track.segments)
        .flat_map(|segment| &segment.points)
        .collect();
    if points.is_empty() {
        return Err(Error::NoFixes(format!("GPX {name} (no track points)")));
    }
    let mut fixes = Vec::with_capacity(points.len());
    for point in points {
        let Some(time) = &point.time else {
            continue;
        };
        let text = time.format().map_err(|err| Error::Gpx {
            path: name.to_owned(),
            reason: err.to_string(),
        })?;
        let time = chrono::DateTime::parse_from_rfc3339(&text).map_err(|err| Error::Gpx {
            path: name.to_owned(),
            reason: format!("time {text:?}: {err}"),
        })?;
        let position = point.point();
        fixes.push(Fix {
            time: TimestampMs(time.timestamp_millis()),
            lat: position.y(),
            lon: position.x(),
            alt: point.elevation,
            heading: None,
            speed: point.speed,
            // A logged point without <fix> had a position: taken as 3D (hdop still gates).
            fix_type: match point.fix {
                Some(gpx::Fix::None) => FixType::NoFix,
                Some(gpx::Fix::TwoDimensional) => FixType::Fix2d,
                Some(gpx::Fix::DGPS) => FixType::Dgps,
                _ => FixType::Fix3d,
            },
            satellites: point.sat.map_or(0, |n| n.min(255) as u8),
            hdop: point.hdop.map_or(0.0, |h| h as f32),
        });
    }
    if fixes.is_empty() {
        return Err(Error::Gpx {
            path: name.to_owned(),
            reason: "no track point has a <time>; frames cannot be aligned to it".into(),
        });
    }
    Ok(fixes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../datasets/gps/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn the_delft_drive_has_3453_timed_points_with_quality() {
        let fixes = parse(&dataset("gpsbabel_sbn-v13.gpx"), "sbn").unwrap();
        assert_eq!(fixes.len(), 3453);
        assert!(
            fixes
                .iter()
                .any(|fix| fix.satellites >= 4 && fix.hdop > 0.0)
        );
        let track = crate::Track::new(fixes);
        let km = track.length_m() / 1000.0;
        assert!((30.0..45.0).contains(&km), "{km} km");
    }

    #[test]
    fn gpx_without_times_is_a_typed_error() {
        let text = String::from_utf8(dataset("gpxpy_around-visnjan-with-car.gpx")).unwrap();
        let mut stripped = text.clone();
        while let Some(start) = stripped.find("<time>") {
            let end = stripped[start..].find("</time>").unwrap() + start + "</time>".len();
            stripped.replace_range(start..end, "");
        }
        let err = parse(stripped.as_bytes(), "visnjan").unwrap_err();
        assert!(
            err.to_string().contains("no track point has a <time>"),
            "{err}"
        );
        assert!(matches!(
            parse(b"<gpx><trk><trkseg><trkpt lat=", "cut"),
            Err(Error::Gpx { .. })
        ));
    }
}
