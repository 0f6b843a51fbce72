//! Writes the fix into the frame: an EXIF APP1 segment with GPS position, altitude, time,
//! speed, heading, satellites and DOP, and DateTimeOriginal in UTC — what photo tools and
//! mapillary_tools read back.
//!
//! Written here rather than with an EXIF crate: the kept pure-Rust EXIF writers cover IFD0
//! and the Exif IFD, not the GPS IFD this needs. It is a small big-endian TIFF writer;
//! the integration tests check the result with the real `exiftool`.

use chrono::{DateTime, Datelike, Timelike, Utc};
use model::{Fix, FixType};

use crate::{Error, Result};

const ASCII: u16 = 2;
const BYTE: u16 = 1;
const LONG: u16 = 4;
const RATIONAL: u16 = 5;

struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    data: Vec<u8>,
}

fn ascii(tag: u16, text: &str) -> Entry {
    let mut data = text.as_bytes().to_vec();
    data.push(0);
    Entry {
        tag,
        kind: ASCII,
        count: data.len() as u32,
        data,
    }
}

fn rationals(tag: u16, values: &[(u32, u32)]) -> Entry {
    let data = values
        .iter()
        .flat_map(|(n, d)| n.to_be_bytes().into_iter().chain(d.to_be_bytes()))
        .collect();
    Entry {
        tag,
        kind: RATIONAL,
        count: values.len() as u32,
        data,
    }
}

fn bytes(tag: u16, values: &[u8]) -> Entry {
    Entry {
        tag,
        kind: BYTE,
        count: values.len() as u32,
        data: values.to_vec(),
    }
}

fn long(tag: u16, value: u32) -> Entry {
    Entry {
        tag,
        kind: LONG,
        count: 1,
        data: value.to_be_bytes().to_vec(),
    }
}

/// A non-negative decimal as a rational with `scale` as denominator.
fn rational(value: f64, scale: u32) -> (u32, u32) {
    ((value.abs() * f64::from(scale)).round() as u32, scale)
}

/// Degrees as degrees, minutes and seconds (to 1/10 000 s ≈ 3 mm).
fn dms(degrees: f64) -> [(u32, u32); 3] {
    let total_ms = (degrees.abs() * 3_600.0 * 10_000.0).round() as u64;
    let deg = total_ms / (3_600 * 10_000);
    let min = total_ms / (60 * 10_000) % 60;
    let sec = total_ms % (60 * 10_000);
    [(deg as u32, 1), (min as u32, 1), (sec as u32, 10_000)]
}

/// Serialises one IFD at `offset` (from the TIFF header); returns its bytes.
fn ifd(mut entries: Vec<Entry>, offset: u32) -> Vec<u8> {
    entries.sort_by_key(|entry| entry.tag);
    let table_len = 2 + 12 * entries.len() as u32 + 4;
    let mut table = Vec::new();
    let mut data = Vec::new();
    table.extend((entries.len() as u16).to_be_bytes());
    for entry in &entries {
        table.extend(entry.tag.to_be_bytes());
        table.extend(entry.kind.to_be_bytes());
        table.extend(entry.count.to_be_bytes());
        if entry.data.len() <= 4 {
            let mut inline = entry.data.clone();
            inline.resize(4, 0);
            table.extend(inline);
        } else {
            table.extend((offset + table_len + data.len() as u32).to_be_bytes());
            data.extend(&entry.data);
            if data.len() % 2 == 1 {
                data.push(0);
            }
        }
    }
    table.extend(0u32.to_be_bytes());
    table.extend(data);
    table
}

fn gps_entries(fix: &Fix, time: DateTime<Utc>) -> Vec<Entry> {
    let mut entries = vec![
        bytes(0x0000, &[2, 3, 0, 0]),
        ascii(0x0001, if fix.lat >= 0.0 { "N" } else { "S" }),
        rationals(0x0002, &dms(fix.lat)),
        ascii(0x0003, if fix.lon >= 0.0 { "E" } else { "W" }),
        rationals(0x0004, &dms(fix.lon)),
        rationals(
            0x0007,
            &[
                (time.hour(), 1),
                (time.minute(), 1),
                rational(
                    f64::from(time.second()) + f64::from(time.timestamp_subsec_millis()) / 1000.0,
                    1000,
                ),
            ],
        ),
        ascii(0x0012, "WGS-84"),
        ascii(
            0x001D,
            &format!("{:04}:{:02}:{:02}", time.year(), time.month(), time.day()),
        ),
    ];
    if let Some(alt) = fix.alt {
        entries.push(bytes(0x0005, &[u8::from(alt < 0.0)]));
        entries.push(rationals(0x0006, &[rational(alt, 100)]));
    }
    if fix.satellites > 0 {
        entries.push(ascii(0x0008, &fix.satellites.to_string()));
    }
    let measure_mode = if fix.fix_type >= FixType::Fix3d {
        "3"
    } else {
        "2"
    };
    entries.push(ascii(0x000A, measure_mode));
    entries.push(rationals(0x000B, &[rational(f64::from(fix.hdop), 100)]));
    if let Some(speed) = fix.speed {
        entries.push(ascii(0x000C, "K"));
        entries.push(rationals(0x000D, &[rational(speed * 3.6, 1000)]));
    }
    if let Some(heading) = fix.heading {
        for tag in [0x000E, 0x0010] {
            entries.push(ascii(tag, "T"));
        }
        for tag in [0x000F, 0x0011] {
            entries.push(rationals(tag, &[rational(heading, 100)]));
        }
    }
    entries
}

/// The TIFF body of the EXIF segment for `fix`.
fn tiff(fix: &Fix, camera: &str) -> Result<Vec<u8>> {
    let time = DateTime::<Utc>::from_timestamp_millis(fix.time.as_millis())
        .ok_or_else(|| Error::Jpeg(format!("fix time {} is out of range", fix.time)))?;
    let stamp = time.format("%Y:%m:%d %H:%M:%S").to_string();
    let header_len = 8u32;
    // IFD0: camera, date, and the two sub-IFD pointers (filled in below).
    let ifd0_entries = |exif_at: u32, gps_at: u32| {
        vec![
            ascii(0x0110, camera),
            ascii(0x0132, &stamp),
            long(0x8769, exif_at),
            long(0x8825, gps_at),
        ]
    };
    let ifd0_len = ifd(ifd0_entries(0, 0), header_len).len() as u32;
    let exif_at = header_len + ifd0_len;
    let exif_entries = || {
        vec![
            ascii(0x9003, &stamp),
            ascii(0x9011, "+00:00"),
            ascii(0x9291, &format!("{:03}", time.timestamp_subsec_millis())),
        ]
    };
    let exif_ifd = ifd(exif_entries(), exif_at);
    let gps_at = exif_at + exif_ifd.len() as u32;
    let gps_ifd = ifd(gps_entries(fix, time), gps_at);
    let mut out = b"MM\x00\x2a".to_vec();
    out.extend(header_len.to_be_bytes());
    out.extend(ifd(ifd0_entries(exif_at, gps_at), header_len));
    out.extend(exif_ifd);
    out.extend(gps_ifd);
    Ok(out)
}

/// `jpeg` with its EXIF replaced by one describing `fix` (other segments kept as they are).
pub fn tag_jpeg(jpeg: &[u8], fix: &Fix, camera: &str) -> Result<Vec<u8>> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err(Error::Jpeg(
            "the frame does not start with a JPEG SOI marker".into(),
        ));
    }
    let mut segment = b"Exif\x00\x00".to_vec();
    segment.extend(tiff(fix, camera)?);
    let length = u16::try_from(segment.len() + 2)
        .map_err(|_| Error::Jpeg("EXIF segment over 64 KB".into()))?;
    let mut out = Vec::with_capacity(jpeg.len() + segment.len() + 4);
    out.extend([0xFF, 0xD8]);
    let mut pos = 2;
    let mut inserted = false;
    // Walk the header segments up to the scan: keep APP0 (JFIF) first, drop old EXIF.
    while pos + 4 <= jpeg.len() && jpeg[pos] == 0xFF {
        let marker = jpeg[pos + 1];
        if marker == 0xDA || !(0xC0..=0xFE).contains(&marker) {
            break;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        let end = pos + 2 + len;
        if len < 2 || end > jpeg.len() {
            return Err(Error::Jpeg(format!(
                "segment at byte {pos} runs past the end"
            )));
        }
        let body = &jpeg[pos + 4..end];
        if !inserted && marker != 0xE0 {
            out.extend([0xFF, 0xE1]);
            out.extend(length.to_be_bytes());
            out.extend(&segment);
            inserted = true;
        }
        if !(marker == 0xE1 && body.starts_with(b"Exif\x00\x00")) {
            out.extend(&jpeg[pos..end]);
        }
        pos = end;
    }
    if !inserted {
        out.extend([0xFF, 0xE1]);
        out.extend(length.to_be_bytes());
        out.extend(&segment);
    }
    out.extend(&jpeg[pos..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degrees_split_into_dms() {
        assert_eq!(dms(33.5), [(33, 1), (30, 1), (0, 10_000)]);
        let [(d, _), (m, _), (s, _)] = dms(-117.327_337_5);
        let back = f64::from(d) + f64::from(m) / 60.0 + f64::from(s) / 10_000.0 / 3_600.0;
        assert!((back - 117.327_337_5).abs() < 1e-7);
    }

    #[test]
    fn non_jpeg_is_a_typed_error() {
        let fix = crate::track::tests::fix(0, 1.0, 1.0);
        assert!(matches!(
            tag_jpeg(b"GIF89a", &fix, "x"),
            Err(Error::Jpeg(_))
        ));
    }
}
