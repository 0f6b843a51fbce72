//! GoPro GPMF telemetry: a KLV reader for the payloads of the `gpmd` track, and the GPS
//! streams in them — GPS5 (lat, lon, alt, 2D speed, 3D speed, with GPSU time, GPSF fix and
//! GPSP dop×100 beside it) and GPS9 (which carries its own time, dop and fix per sample).
//! Written here: no kept crate reads GPMF without pulling in a whole telemetry suite.

use std::fs::File;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};
use model::{Fix, FixType, TimestampMs};

use super::mp4;
use crate::{Error, Result};

/// One KLV item: a FourCC key, a type char, the struct size, the repeat count and the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Klv<'a> {
    pub key: [u8; 4],
    pub kind: u8,
    pub struct_size: usize,
    pub repeat: usize,
    pub body: &'a [u8],
}

/// Parses a sequence of KLV items (`base` is the offset of `data` for error messages).
pub fn parse_klv(data: &[u8], base: usize) -> Result<Vec<Klv<'_>>> {
    let mut items = Vec::new();
    let mut pos = 0;
    while pos + 8 <= data.len() {
        let key: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
        if key == [0; 4] {
            break; // padding
        }
        if !key.iter().all(|b| b.is_ascii_alphanumeric() || *b == b' ') {
            return Err(Error::Gpmf {
                offset: base + pos,
                reason: format!("key {key:02x?} is not a FourCC (corrupt payload)"),
            });
        }
        let kind = data[pos + 4];
        let struct_size = usize::from(data[pos + 5]);
        let repeat = usize::from(u16::from_be_bytes([data[pos + 6], data[pos + 7]]));
        let len = struct_size * repeat;
        let padded = len.div_ceil(4) * 4;
        let body = data
            .get(pos + 8..pos + 8 + len)
            .ok_or_else(|| Error::Gpmf {
                offset: base + pos,
                reason: format!(
                    "{} claims {len} bytes; only {} are left (truncated)",
                    String::from_utf8_lossy(&key),
                    data.len() - pos - 8
                ),
            })?;
        items.push(Klv {
            key,
            kind,
            struct_size,
            repeat,
            body,
        });
        pos += 8 + padded;
    }
    Ok(items)
}

/// Numbers of an item as f64 (one per element, structs flattened).
fn numbers(klv: &Klv<'_>) -> Vec<f64> {
    let b = klv.body;
    match klv.kind {
        b'b' => b.iter().map(|&v| f64::from(v as i8)).collect(),
        b'B' => b.iter().map(|&v| f64::from(v)).collect(),
        b's' => b
            .chunks_exact(2)
            .map(|c| f64::from(i16::from_be_bytes([c[0], c[1]])))
            .collect(),
        b'S' => b
            .chunks_exact(2)
            .map(|c| f64::from(u16::from_be_bytes([c[0], c[1]])))
            .collect(),
        b'l' => b
            .chunks_exact(4)
            .map(|c| f64::from(i32::from_be_bytes(c.try_into().expect("4 bytes"))))
            .collect(),
        b'L' => b
            .chunks_exact(4)
            .map(|c| f64::from(u32::from_be_bytes(c.try_into().expect("4 bytes"))))
            .collect(),
        b'f' => b
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_be_bytes(c.try_into().expect("4 bytes"))))
            .collect(),
        b'd' => b
            .chunks_exact(8)
            .map(|c| f64::from_be_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        _ => Vec::new(),
    }
}

/// `yymmddhhmmss.sss` (GPSU) as UTC milliseconds.
fn gpsu_ms(body: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(body.get(..16)?).ok()?;
    let date = NaiveDate::from_ymd_opt(
        2000 + text.get(0..2)?.parse::<i32>().ok()?,
        text.get(2..4)?.parse().ok()?,
        text.get(4..6)?.parse().ok()?,
    )?;
    let seconds: f64 = text.get(10..16)?.parse().ok()?;
    let time = date.and_hms_milli_opt(
        text.get(6..8)?.parse().ok()?,
        text.get(8..10)?.parse().ok()?,
        seconds.trunc() as u32,
        ((seconds.fract() * 1000.0).round() as u32).min(999),
    )?;
    Some(NaiveDateTime::and_utc(&time).timestamp_millis())
}

/// GPS samples of one payload, with their position in the payload (0..1) where the stream
/// has no time of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadGps {
    /// UTC of the payload's first sample (GPSU), when present.
    pub utc_ms: Option<i64>,
    /// `(fraction of the payload duration, fix)`; fixes of GPS5 carry time 0 until placed.
    pub samples: Vec<(f64, Fix)>,
}

fn fix_type(gpsf: Option<f64>) -> FixType {
    match gpsf.map(|f| f as u32) {
        Some(3) => FixType::Fix3d,
        Some(2) => FixType::Fix2d,
        Some(_) => FixType::NoFix,
        // GPS9 and GPS5 without GPSF: the stream only exists while locked.
        None => FixType::Fix3d,
    }
}

/// Reads the GPS of one GPMF payload (a `DEVC` tree).
pub fn payload_gps(payload: &[u8]) -> Result<PayloadGps> {
    let mut out = PayloadGps {
        utc_ms: None,
        samples: Vec::new(),
    };
    for devc in parse_klv(payload, 0)? {
        if devc.kind != 0 {
            continue;
        }
        for strm in parse_klv(devc.body, 0)? {
            if strm.kind != 0 || &strm.key != b"STRM" {
                continue;
            }
            read_stream(&parse_klv(strm.body, 0)?, &mut out);
        }
    }
    Ok(out)
}

fn read_stream(items: &[Klv<'_>], out: &mut PayloadGps) {
    let find = |key: &[u8; 4]| items.iter().find(|k| &k.key == key);
    let scal = find(b"SCAL").map(numbers).unwrap_or_default();
    let scale = |i: usize| {
        match scal.len() {
            0 => 1.0,
            1 => scal[0],
            _ => scal.get(i).copied().unwrap_or(1.0),
        }
        .max(f64::MIN_POSITIVE)
    };
    if let Some(gps5) = find(b"GPS5") {
        out.utc_ms = find(b"GPSU").and_then(|k| gpsu_ms(k.body));
        let fix = fix_type(find(b"GPSF").and_then(|k| numbers(k).first().copied()));
        let hdop = find(b"GPSP")
            .and_then(|k| numbers(k).first().copied())
            .map_or(0.0, |p| (p / 100.0) as f32);
        let values = numbers(gps5);
        let count = values.len() / 5;
        for (i, sample) in values.chunks_exact(5).enumerate() {
            out.samples.push((
                i as f64 / count as f64,
                Fix {
                    time: TimestampMs(0),
                    lat: sample[0] / scale(0),
                    lon: sample[1] / scale(1),
                    alt: Some(sample[2] / scale(2)),
                    heading: None,
                    speed: Some(sample[3] / scale(3)),
                    fix_type: fix,
                    satellites: 0,
                    hdop,
                },
            ));
        }
    } else if let Some(gps9) = find(b"GPS9") {
        // lat, lon, alt, speed2d, speed3d, days since 2000, seconds since midnight, dop, fix
        let values = numbers(gps9);
        let per = 9;
        let epoch_2000 = NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or(946_684_800_000, |t| t.and_utc().timestamp_millis());
        for sample in values.chunks_exact(per) {
            let days = sample[5] / scale(5);
            let secs = sample[6] / scale(6);
            let since_2000_ms = (days * 86_400_000.0 + secs * 1000.0).round();
            // A time no receiver meant (not a number, or tens of thousands of years away):
            // the sample is dropped rather than overflowing.
            if since_2000_ms.is_nan() || since_2000_ms.abs() >= 1e15 {
                continue;
            }
            let time = epoch_2000 + since_2000_ms as i64;
            out.samples.push((
                0.0,
                Fix {
                    time: TimestampMs(time),
                    lat: sample[0] / scale(0),
                    lon: sample[1] / scale(1),
                    alt: Some(sample[2] / scale(2)),
                    heading: None,
                    speed: Some(sample[3] / scale(3)),
                    fix_type: fix_type(Some(sample[8] / scale(8))),
                    satellites: 0,
                    hdop: (sample[7] / scale(7)) as f32,
                },
            ));
            out.utc_ms = out.utc_ms.or(Some(time));
        }
    }
}

/// The GPS track of a GoPro MP4 and where its media clock sits in UTC.
#[derive(Debug, Clone, PartialEq)]
pub struct GoproTrack {
    pub fixes: Vec<Fix>,
    /// UTC at media time 0: a video frame at `pts` ms was taken at `media_origin + pts`.
    pub media_origin: TimestampMs,
}

/// Reads the GPMF track of a GoPro MP4; `None` if it has none (not a GoPro file).
pub fn read_mp4(path: &Path) -> Result<Option<GoproTrack>> {
    let name = path.display().to_string();
    let moov = mp4::read_moov(path)?;
    let Some(table) = mp4::find_track(&moov, b"gpmd", &name)? else {
        return Ok(None);
    };
    let mut file = File::open(path).map_err(crate::error::io("open", path))?;
    let mut fixes = Vec::new();
    let mut origin = None;
    for sample in &table.samples {
        let payload = mp4::read_sample(&mut file, sample, path)?;
        let gps = payload_gps(&payload).map_err(|err| match err {
            Error::Gpmf { offset, reason } => Error::Gpmf {
                offset: (sample.offset as usize).saturating_add(offset),
                reason,
            },
            other => other,
        })?;
        let start_ms = table.ms(sample.start);
        let duration_ms = table.ms(u64::from(sample.duration));
        if origin.is_none()
            && let Some(utc) = gps.utc_ms
        {
            origin = Some(utc.saturating_sub(start_ms));
        }
        for (fraction, fix) in gps.samples {
            let media_ms = start_ms.saturating_add((fraction * duration_ms as f64).round() as i64);
            let time = if fix.time.as_millis() != 0 {
                fix.time
            } else if let Some(origin) = origin {
                TimestampMs(origin.saturating_add(media_ms))
            } else {
                continue; // GPS5 before the first GPSU: no clock yet
            };
            fixes.push(Fix { time, ..fix });
        }
    }
    let Some(origin) = origin else {
        return Err(Error::NoFixes(format!("GPMF track of {name}")));
    };
    Ok(Some(GoproTrack {
        fixes,
        media_origin: TimestampMs(origin),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../datasets/video/gopro/raw_payloads/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// A `DEVC` › `STRM` › `GPS9` payload of one sample of 64-bit floats.
    fn gps9_payload(sample: [f64; 9]) -> Vec<u8> {
        let klv = |key: &[u8; 4], kind: u8, size: u8, repeat: u16, body: &[u8]| {
            let mut out = key.to_vec();
            out.extend([kind, size]);
            out.extend(repeat.to_be_bytes());
            out.extend(body);
            out.resize(out.len().div_ceil(4) * 4, 0);
            out
        };
        let values: Vec<u8> = sample.iter().flat_map(|v| v.to_be_bytes()).collect();
        let gps9 = klv(b"GPS9", b'd', 72, 1, &values);
        let strm = klv(b"STRM", 0, 1, gps9.len() as u16, &gps9);
        klv(b"DEVC", 0, 1, strm.len() as u16, &strm)
    }

    /// Found by `scripts/fuzz` (target `mp4_gpmf`, "attempt to add with overflow"): a GPS9
    /// sample whose day count is absurd overflowed the time.
    #[test]
    fn a_gps9_sample_with_an_absurd_time_is_dropped() {
        let good = [33.1, -117.3, 20.0, 1.5, 1.5, 8_000.0, 3_600.0, 1.2, 3.0];
        let gps = payload_gps(&gps9_payload(good)).unwrap();
        assert_eq!(gps.samples.len(), 1);
        assert_eq!(
            gps.samples[0].1.time,
            TimestampMs(946_684_800_000 + 8_000 * 86_400_000 + 3_600_000)
        );
        for days in [1e300, f64::INFINITY, f64::NAN, -1e30] {
            let gps = payload_gps(&gps9_payload([
                33.1, -117.3, 20.0, 1.5, 1.5, days, 0.0, 1.2, 3.0,
            ]))
            .unwrap();
            assert!(gps.samples.is_empty(), "{days}");
        }
    }

    #[test]
    fn hero_payloads_hold_gps5_with_time_and_dop() {
        for name in ["gpmf_hero5.raw", "gpmf_hero6.raw", "gpmf_hero6+ble.raw"] {
            let gps = payload_gps(&raw(name)).unwrap();
            assert!(!gps.samples.is_empty(), "{name}");
            assert!(gps.utc_ms.is_some(), "{name}");
            for (_, fix) in &gps.samples {
                assert!(
                    (-90.0..=90.0).contains(&fix.lat) && fix.lat != 0.0,
                    "{name} {fix:?}"
                );
            }
        }
    }

    #[test]
    fn a_payload_without_gps_gives_no_samples_and_a_cut_one_a_typed_error() {
        let karma = raw("gpmf_karma.raw");
        assert!(payload_gps(&karma).unwrap().samples.is_empty());
        let hero = raw("gpmf_hero5.raw");
        assert!(matches!(
            payload_gps(&hero[..hero.len() / 2]),
            Err(Error::Gpmf { .. })
        ));
        let mut noise = hero.clone();
        noise[..4].copy_from_slice(&[0xff, 0x00, 0x13, 0x80]);
        assert!(matches!(
            payload_gps(&noise),
            Err(Error::Gpmf { offset: 0, .. })
        ));
    }

    #[test]
    fn the_gopro_max_sample_walks_along_a_carlsbad_sidewalk() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../datasets/video/gopro/gpmf_max-heromode.mp4");
        let track = read_mp4(&path).unwrap().unwrap();
        assert!(
            (185..=195).contains(&track.fixes.len()),
            "{}",
            track.fixes.len()
        );
        let first = track.fixes[0];
        assert!((first.lat - 33.12677).abs() < 1e-4, "{first:?}");
        assert!((first.lon + 117.32734).abs() < 1e-4, "{first:?}");
        assert_eq!(first.fix_type, FixType::Fix3d);
        // GPSU 2019-11-18 23:45:14 UTC
        let start = chrono::DateTime::parse_from_rfc3339("2019-11-18T23:45:13Z").unwrap();
        assert!((0..3_000).contains(&(track.media_origin.as_millis() - start.timestamp_millis())));
    }
}
