//! Garmin FIT files (the `fitparser` crate): `gps_metadata` messages of action cameras
//! (VIRB) and `record` messages of activity files, with positions in semicircles.

use fitparser::Value;
use fitparser::profile::MesgNum;
use model::{Fix, FixType, TimestampMs};

use crate::{Error, Result};

const SEMICIRCLE_TO_DEG: f64 = 180.0 / 2_147_483_648.0;

fn number(value: &Value) -> Option<f64> {
    Some(match value {
        Value::SInt8(v) => f64::from(*v),
        Value::UInt8(v) | Value::UInt8z(v) | Value::Byte(v) | Value::Enum(v) => f64::from(*v),
        Value::SInt16(v) => f64::from(*v),
        Value::UInt16(v) | Value::UInt16z(v) => f64::from(*v),
        Value::SInt32(v) => f64::from(*v),
        Value::UInt32(v) | Value::UInt32z(v) => f64::from(*v),
        Value::SInt64(v) => *v as f64,
        Value::UInt64(v) | Value::UInt64z(v) => *v as f64,
        Value::Float32(v) => f64::from(*v),
        Value::Float64(v) => *v,
        _ => return None,
    })
}

/// Fixes of every positioned `gps_metadata` or `record` message.
pub fn parse(bytes: &[u8], name: &str) -> Result<Vec<Fix>> {
    // fitparser 0.11 underflows (a panic in debug builds) on a header shorter than the size
    // its first byte claims; FIT headers are 12 or 14 bytes.
    match bytes.first() {
        Some(&size @ (12 | 14)) if bytes.len() >= usize::from(size) => {}
        _ => {
            return Err(Error::Fit {
                path: name.to_owned(),
                reason: "not a FIT file: it does not start with a 12- or 14-byte FIT header".into(),
            });
        }
    }
    let records = fitparser::from_bytes(bytes).map_err(|err| Error::Fit {
        path: name.to_owned(),
        reason: err.to_string(),
    })?;
    // Cameras write both; their gps_metadata is the GNSS itself.
    let wanted = if records.iter().any(|r| r.kind() == MesgNum::GpsMetadata) {
        MesgNum::GpsMetadata
    } else {
        MesgNum::Record
    };
    let mut fixes = Vec::new();
    for record in &records {
        if record.kind() != wanted {
            continue;
        }
        let mut time_ms = None;
        let mut extra_ms = 0.0;
        let (mut lat, mut lon, mut alt, mut speed, mut heading) = (None, None, None, None, None);
        for field in record.fields() {
            let value = field.value();
            match (field.name(), value) {
                ("utc_timestamp" | "timestamp", Value::Timestamp(t)) => {
                    time_ms = time_ms.or(Some(t.timestamp_millis()));
                }
                ("timestamp_ms", v) => extra_ms = number(v).unwrap_or(0.0),
                ("position_lat", v) => lat = number(v).map(|s| s * SEMICIRCLE_TO_DEG),
                ("position_long", v) => lon = number(v).map(|s| s * SEMICIRCLE_TO_DEG),
                ("enhanced_altitude" | "altitude", v) => alt = alt.or(number(v)),
                ("enhanced_speed" | "speed", v) => speed = speed.or(number(v)),
                ("heading", v) => heading = number(v).map(|h| h.rem_euclid(360.0)),
                _ => {}
            }
        }
        let (Some(time_ms), Some(lat), Some(lon)) = (time_ms, lat, lon) else {
            continue;
        };
        fixes.push(Fix {
            time: TimestampMs(time_ms + extra_ms as i64),
            lat,
            lon,
            alt,
            heading: heading.filter(|h| *h < 360.0),
            speed,
            // FIT records carry no receiver quality; a logged position is taken as 3D.
            fix_type: FixType::Fix3d,
            satellites: 0,
            hdop: 0.0,
        });
    }
    if fixes.is_empty() {
        return Err(Error::NoFixes(format!("FIT {name}")));
    }
    Ok(fixes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `scripts/fuzz` (target `fit`): the two bytes `01 00` panicked inside
    /// fitparser ("attempt to subtract with overflow").
    #[test]
    fn a_header_shorter_than_it_claims_is_an_error_not_a_panic() {
        for bytes in [&[0x01, 0x00][..], &[], &[14, 0x10, 0x00], &[0xFF; 20]] {
            let err = parse(bytes, "short.fit").unwrap_err();
            assert!(err.to_string().contains("not a FIT file"), "{err}");
        }
    }

    #[test]
    fn the_virb_camera_file_gives_145_seconds_of_10_hz_fixes_in_palo_alto() {
        let bytes = std::fs::read(format!(
            "{}/../datasets/gps/gpsbabel_garmin-virb-ultra-30.fit",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let fixes = parse(&bytes, "virb").unwrap();
        let seconds: std::collections::HashSet<i64> =
            fixes.iter().map(|f| f.time.as_millis() / 1000).collect();
        let distinct: std::collections::HashSet<i64> =
            fixes.iter().map(|f| f.time.as_millis()).collect();
        // 145 seconds of gps_metadata at ≈ 10 Hz (timestamp + timestamp_ms).
        assert_eq!(seconds.len(), 145);
        assert!(distinct.len() > 1_000, "{}", distinct.len());
        // A few repeated timestamps in the real file; the track keeps one of each.
        assert_eq!(
            crate::Track::new(fixes.clone()).fixes().len(),
            distinct.len()
        );
        let first = fixes[0];
        assert!((37.3..37.5).contains(&first.lat), "{first:?}");
        assert!((-122.3..-122.0).contains(&first.lon), "{first:?}");
        // 2017-06-28
        assert!((1_498_608_000_000..1_498_694_400_000).contains(&first.time.as_millis()));
        assert!(matches!(
            parse(&bytes[..100], "cut"),
            Err(Error::Fit { .. })
        ));
    }
}
