//! Reads what a geotagged JPEG says about itself (the `kamadak-exif` crate): when it was
//! taken and, if it has GPS tags, the fix — position, altitude, speed, direction, satellites,
//! DOP and 2D/3D mode, as written by cameras, phones, mapillary_tools or Waymark's agent — and
//! which camera says it took it (Make and Model). The agent's import reads photos with it;
//! ingest compares what a frame says about itself with what its manifest claims.

use crate::{Fix, FixType, TimestampMs};
use chrono::{NaiveDate, NaiveDateTime};
use exif::{Exif, In, Tag, Value};

/// The EXIF of one photo, as far as the agent and ingest need it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PhotoTags {
    /// DateTimeOriginal (+ sub-seconds, + offset when given; UTC otherwise).
    pub taken: Option<TimestampMs>,
    /// The GPS fix, when the photo has a position; timed by the GPS time stamp if present.
    pub fix: Option<Fix>,
    /// The receiver's own UTC time stamp (GPSDateStamp + GPSTimeStamp), when present: unlike
    /// DateTimeOriginal, never a local time without its offset.
    pub gps_time: Option<TimestampMs>,
    /// The camera that says it took the photo: Make and Model, space-joined (either alone when
    /// the other is missing).
    pub camera: Option<String>,
}

/// Whether a camera `declared` (a manifest's) may be the one an EXIF `named`: compared on
/// their letters only, case-folded, one containing the other — "SONY HDR-AS300" is "Sony
/// HDR-AS300" and "HDR-AS300", and an agent's "waymark-agent 0.4.1" is its "waymark-agent
/// 0.4.2" (a version is no other camera), while "waymark-agent" is not a "HERO9 Black". An
/// empty side names no camera and agrees with any.
pub fn same_camera(declared: &str, named: &str) -> bool {
    let letters = |text: &str| -> String {
        text.chars()
            .filter(|c| c.is_alphabetic())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (declared, named) = (letters(declared), letters(named));
    declared.is_empty()
        || named.is_empty()
        || declared.contains(&named)
        || named.contains(&declared)
}

fn rationals(exif: &Exif, tag: Tag) -> Option<Vec<f64>> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Rational(values) => Some(values.iter().map(|r| r.to_f64()).collect()),
        Value::SRational(values) => Some(values.iter().map(|r| r.to_f64()).collect()),
        _ => None,
    }
}

fn first(exif: &Exif, tag: Tag) -> Option<f64> {
    rationals(exif, tag)?
        .first()
        .copied()
        .filter(|v| v.is_finite())
}

fn ascii(exif: &Exif, tag: Tag) -> Option<String> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Ascii(parts) => parts
            .first()
            .map(|bytes| String::from_utf8_lossy(bytes).trim().to_owned()),
        _ => None,
    }
}

fn degrees(exif: &Exif, tag: Tag, reference: Tag, negative: &str) -> Option<f64> {
    let dms = rationals(exif, tag)?;
    let value =
        dms.first()? + dms.get(1).unwrap_or(&0.0) / 60.0 + dms.get(2).unwrap_or(&0.0) / 3600.0;
    let sign = if ascii(exif, reference).as_deref() == Some(negative) {
        -1.0
    } else {
        1.0
    };
    value.is_finite().then_some(sign * value)
}

fn taken(exif: &Exif) -> Option<TimestampMs> {
    let text = ascii(exif, Tag::DateTimeOriginal)?;
    let local = NaiveDateTime::parse_from_str(&text, "%Y:%m:%d %H:%M:%S").ok()?;
    let sub_ms = ascii(exif, Tag::SubSecTimeOriginal)
        .and_then(|s| format!("0.{s}").parse::<f64>().ok())
        .map_or(0, |f| (f * 1000.0).round() as i64);
    let offset_ms = ascii(exif, Tag::OffsetTimeOriginal)
        .and_then(|o| {
            chrono::DateTime::parse_from_str(
                &format!("2000-01-01T00:00:00{o}"),
                "%Y-%m-%dT%H:%M:%S%:z",
            )
            .ok()
        })
        .map_or(0, |t| i64::from(t.offset().local_minus_utc()) * 1000);
    Some(TimestampMs(
        local.and_utc().timestamp_millis() + sub_ms - offset_ms,
    ))
}

fn gps_time(exif: &Exif) -> Option<TimestampMs> {
    let date = NaiveDate::parse_from_str(&ascii(exif, Tag::GPSDateStamp)?, "%Y:%m:%d").ok()?;
    let hms = rationals(exif, Tag::GPSTimeStamp)?;
    let seconds = hms.first()? * 3600.0 + hms.get(1)? * 60.0 + hms.get(2)?;
    // A time of day (a leap second at most past midnight): a zero denominator or a huge
    // hour is no time at all.
    if !(0.0..86_401.0).contains(&seconds) {
        return None;
    }
    let midnight = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(TimestampMs(midnight + (seconds * 1000.0).round() as i64))
}

/// Reads the tags of `jpeg`; a photo without EXIF gives empty tags, not an error.
pub fn read_photo(jpeg: &[u8]) -> PhotoTags {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(jpeg)) else {
        return PhotoTags::default();
    };
    let taken = taken(&exif);
    let gps_time = gps_time(&exif);
    let position = degrees(&exif, Tag::GPSLatitude, Tag::GPSLatitudeRef, "S").zip(degrees(
        &exif,
        Tag::GPSLongitude,
        Tag::GPSLongitudeRef,
        "W",
    ));
    let fix = position.and_then(|(lat, lon)| {
        let time = gps_time.or(taken)?;
        let below_sea = matches!(
            exif.get_field(Tag::GPSAltitudeRef, In::PRIMARY).map(|f| &f.value),
            Some(Value::Byte(b)) if b.first() == Some(&1)
        );
        let speed_factor = match ascii(&exif, Tag::GPSSpeedRef).as_deref() {
            Some("M") => 0.447_04,
            Some("N") => 0.514_444,
            _ => 1.0 / 3.6,
        };
        let fix = Fix {
            time,
            lat,
            lon,
            alt: first(&exif, Tag::GPSAltitude).map(|a| if below_sea { -a } else { a }),
            heading: first(&exif, Tag::GPSTrack)
                .or_else(|| first(&exif, Tag::GPSImgDirection))
                .map(|h| h.rem_euclid(360.0))
                .filter(|h| *h < 360.0),
            speed: first(&exif, Tag::GPSSpeed).map(|s| s * speed_factor),
            fix_type: if ascii(&exif, Tag::GPSMeasureMode).as_deref() == Some("2") {
                FixType::Fix2d
            } else {
                FixType::Fix3d
            },
            satellites: ascii(&exif, Tag::GPSSatellites)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            hdop: first(&exif, Tag::GPSDOP).map_or(0.0, |d| d as f32),
        };
        fix.validate().is_ok().then_some(fix)
    });
    let camera = [ascii(&exif, Tag::Make), ascii(&exif, Tag::Model)]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    PhotoTags {
        taken,
        fix,
        gps_time,
        camera: (!camera.is_empty()).then_some(camera),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(relative: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../datasets/images/{relative}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// Found by `scripts/fuzz` (target `exif_photo`, "attempt to add with overflow"): a GPS
    /// time stamp of 1/0 hours became `i64::MAX` milliseconds past midnight.
    #[test]
    fn a_gps_time_stamp_that_is_no_time_of_day_gives_no_fix_time() {
        use exif::experimental::Writer;
        use exif::{Field, Rational};

        let rational = |values: &[(u32, u32)]| {
            Value::Rational(
                values
                    .iter()
                    .map(|&(n, d)| Rational::from((n, d)))
                    .collect(),
            )
        };
        let ascii = |text: &str| Value::Ascii(vec![text.as_bytes().to_vec()]);
        let photo = |time: Value| {
            let fields = [
                (Tag::GPSLatitudeRef, ascii("N")),
                (Tag::GPSLatitude, rational(&[(48, 1), (8, 1), (0, 1)])),
                (Tag::GPSLongitudeRef, ascii("E")),
                (Tag::GPSLongitude, rational(&[(11, 1), (34, 1), (0, 1)])),
                (Tag::GPSDateStamp, ascii("2020:01:01")),
                (Tag::GPSTimeStamp, time),
            ]
            .map(|(tag, value)| Field {
                tag,
                ifd_num: In::PRIMARY,
                value,
            });
            let mut writer = Writer::new();
            for field in &fields {
                writer.push_field(field);
            }
            let mut tiff = std::io::Cursor::new(Vec::new());
            writer.write(&mut tiff, false).unwrap();
            let mut segment = b"Exif\0\0".to_vec();
            segment.extend(tiff.into_inner());
            let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
            jpeg.extend(u16::try_from(segment.len() + 2).unwrap().to_be_bytes());
            jpeg.extend(segment);
            jpeg.extend([0xFF, 0xD9]);
            read_photo(&jpeg)
        };
        let noon = photo(rational(&[(12, 1), (0, 1), (0, 1)])).fix.unwrap();
        assert_eq!(noon.time, TimestampMs(1_577_880_000_000));
        for time in [
            rational(&[(1, 0), (0, 1), (0, 1)]),
            rational(&[(u32::MAX, 1), (0, 1), (0, 1)]),
        ] {
            assert_eq!(photo(time).fix, None);
        }
    }

    #[test]
    fn a_real_camera_photo_gives_its_portland_position_and_time() {
        let tags = read_photo(&dataset("geotagged/mapillary_DSC00001.JPG"));
        let fix = tags.fix.unwrap();
        assert!((fix.lat - 45.516_903).abs() < 1e-5, "{fix:?}");
        assert!((fix.lon + 122.572_765).abs() < 1e-5, "{fix:?}");
        // Local time with its offset (-07:00), and the receiver's own UTC a second later.
        let taken = chrono::DateTime::parse_from_rfc3339("2018-06-08T13:24:10-07:00").unwrap();
        assert_eq!(tags.taken, Some(TimestampMs(taken.timestamp_millis())));
        let gps = chrono::DateTime::parse_from_rfc3339("2018-06-08T20:24:11Z").unwrap();
        assert_eq!(fix.time, TimestampMs(gps.timestamp_millis()));
        assert_eq!(tags.camera.as_deref(), Some("SONY HDR-AS300"));
        assert_eq!(read_photo(b"not a jpeg"), PhotoTags::default());
    }

    #[rstest::rstest]
    #[case::the_same_words("waymark-agent 0.4.1", "waymark-agent 0.4.1", true)]
    #[case::another_version("waymark-agent 0.4.1", "waymark-agent 0.5.0", true)]
    #[case::make_and_model_against_the_model("Sony HDR-AS300", "SONY HDR-AS300", true)]
    #[case::the_model_alone("HDR-AS300", "SONY HDR-AS300", true)]
    #[case::a_model_with_more_words("iPhone 12", "Apple iPhone 12 Pro", true)]
    #[case::nothing_declared("", "GoPro HERO9 Black", true)]
    #[case::a_name_without_letters("waymark-agent", "0.4.1", true)]
    #[case::another_camera("waymark-agent 0.4.1", "GoPro HERO9 Black", false)]
    #[case::another_brand("Sony HDR-AS300", "Garmin VIRB Ultra 30", false)]
    fn cameras_are_the_same_when_their_letters_are(
        #[case] declared: &str,
        #[case] named: &str,
        #[case] same: bool,
    ) {
        assert_eq!(same_camera(declared, named), same);
    }
}
