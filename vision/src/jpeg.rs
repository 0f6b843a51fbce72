//! Reading a JPEG's structure without decoding it: dimensions from the frame header (so absurd
//! sizes are rejected before OpenCV allocates anything), truncation, and the EXIF segment that
//! the public copy keeps.

use model::QualityProblem;

/// The largest side a frame may have; dashcams top out at 8K (7680 px).
pub const MAX_SIDE: u32 = 8192;
/// The largest pixel count a frame may have (8K UHD).
pub const MAX_PIXELS: u64 = 7680 * 4320;
/// The smallest side a usable frame may have.
pub const MIN_SIDE: u32 = 64;

/// What the header says about a JPEG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegInfo {
    pub width: u32,
    pub height: u32,
    /// Number of colour components: 1 grayscale, 3 YCbCr, 4 CMYK/YCCK.
    pub components: u8,
    /// Whether the data ends with the end-of-image marker (ignoring trailing padding).
    pub complete: bool,
}

/// A frame that must not be decoded, with the dimensions known so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    pub width: u32,
    pub height: u32,
    pub problem: QualityProblem,
}

/// Reads the header and checks the limits; `Err` says which broken-frame problem applies.
pub fn inspect(bytes: &[u8]) -> Result<JpegInfo, Rejected> {
    let reject = |width, height, problem| Rejected {
        width,
        height,
        problem,
    };
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return Err(reject(0, 0, QualityProblem::Undecodable));
    }
    let Some((width, height, components)) = frame_header(bytes) else {
        // A header cut off before the frame header is a truncated file; anything else is junk.
        let problem = if ends_with_eoi(bytes) {
            QualityProblem::Undecodable
        } else {
            QualityProblem::Truncated
        };
        return Err(reject(0, 0, problem));
    };
    let (w, h) = (u32::from(width), u32::from(height));
    if w == 0 || h == 0 {
        return Err(reject(w, h, QualityProblem::Undecodable));
    }
    if w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(reject(w, h, QualityProblem::Oversized));
    }
    if w < MIN_SIDE || h < MIN_SIDE {
        return Err(reject(w, h, QualityProblem::Tiny));
    }
    Ok(JpegInfo {
        width: w,
        height: h,
        components,
        complete: ends_with_eoi(bytes),
    })
}

/// Whether the data ends with FFD9, allowing zero or 0xFF padding some cameras append.
fn ends_with_eoi(bytes: &[u8]) -> bool {
    let end = bytes
        .iter()
        .rposition(|&b| b != 0x00 && b != 0xFF)
        .map_or(0, |last| last + 1);
    // `end` points after the last non-padding byte, which must be the D9 of FFD9.
    end >= 2 && bytes[end - 1] == 0xD9 && bytes[end - 2] == 0xFF
}

/// Walks the marker segments up to the first start-of-frame and returns (width, height, components).
fn frame_header(bytes: &[u8]) -> Option<(u16, u16, u8)> {
    let mut at = 2;
    loop {
        while *bytes.get(at)? != 0xFF {
            at += 1;
        }
        while *bytes.get(at)? == 0xFF {
            at += 1;
        }
        let marker = *bytes.get(at)?;
        at += 1;
        if marker == 0xD8 || marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            continue; // standalone markers carry no length
        }
        if marker == 0xD9 || marker == 0xDA {
            return None; // end of image or scan data before any frame header
        }
        let length = usize::from(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]));
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let segment = bytes.get(at + 2..at + length)?;
            let height = u16::from_be_bytes([*segment.get(1)?, *segment.get(2)?]);
            let width = u16::from_be_bytes([*segment.get(3)?, *segment.get(4)?]);
            return Some((width, height, *segment.get(5)?));
        }
        at += length;
    }
}

/// The complete APP1 segments holding EXIF (marker and length included), in file order,
/// from the file's header only: EXIF belongs before the frame header (SOF), and an APP1
/// found after it (between SOF and the scan, or in a later scan's tables) is not the
/// image's metadata but something smuggled beside it, so it is never carried over.
pub fn exif_segments(bytes: &[u8]) -> Vec<&[u8]> {
    let mut segments = Vec::new();
    let mut at = 2;
    while at + 4 <= bytes.len() && bytes[at] == 0xFF {
        let marker = bytes[at + 1];
        let is_frame_header =
            matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if marker == 0xDA || marker == 0xD9 || is_frame_header {
            break;
        }
        let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        let Some(segment) = bytes.get(at..at + 2 + length) else {
            break;
        };
        if marker == 0xE1 && segment.get(4..10) == Some(b"Exif\0\0".as_slice()) {
            segments.push(segment);
        }
        at += 2 + length;
    }
    segments
}

/// Inserts EXIF segments into a freshly encoded JPEG, right after its JFIF APP0 segment.
pub fn with_exif(encoded: &[u8], exif: &[&[u8]]) -> Vec<u8> {
    if exif.is_empty() || encoded.len() < 4 {
        return encoded.to_vec();
    }
    let mut insert_at = 2;
    if encoded.get(2..4) == Some([0xFF, 0xE0].as_slice()) && encoded.len() >= 6 {
        insert_at = 4 + usize::from(u16::from_be_bytes([encoded[4], encoded[5]]));
    }
    let extra: usize = exif.iter().map(|segment| segment.len()).sum();
    let mut out = Vec::with_capacity(encoded.len() + extra);
    out.extend_from_slice(&encoded[..insert_at]);
    for segment in exif {
        out.extend_from_slice(segment);
    }
    out.extend_from_slice(&encoded[insert_at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal(width: u16, height: u16) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08];
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xFF, 0xD9]);
        bytes
    }

    #[test]
    fn absurd_width_is_rejected_from_the_header() {
        let rejected = inspect(&minimal(20_000, 1080)).expect_err("20000 px is too wide");
        assert_eq!(rejected.problem, QualityProblem::Oversized);
        assert_eq!((rejected.width, rejected.height), (20_000, 1080));
    }

    #[test]
    fn ordinary_header_is_read() {
        let info = inspect(&minimal(1920, 1080)).expect("a 1080p header is fine");
        assert_eq!((info.width, info.height, info.components), (1920, 1080, 3));
        assert!(info.complete);
    }

    #[test]
    fn junk_and_empty_input_are_undecodable() {
        assert_eq!(
            inspect(&[]).unwrap_err().problem,
            QualityProblem::Undecodable
        );
        assert_eq!(
            inspect(b"\x89PNG\r\n").unwrap_err().problem,
            QualityProblem::Undecodable
        );
    }

    #[test]
    fn exif_after_the_frame_header_is_not_the_images() {
        let exif: &[u8] = &[0xFF, 0xE1, 0x00, 0x08, b'E', b'x', b'i', b'f', 0, 0];
        let sof = minimal(4, 4);
        // SOI, SOF, then an EXIF segment before the scan would start.
        let mut smuggled = sof[..sof.len() - 2].to_vec();
        smuggled.extend_from_slice(exif);
        smuggled.extend_from_slice(&[0xFF, 0xD9]);
        assert!(exif_segments(&smuggled).is_empty());
        // The same segment before the frame header is the image's EXIF.
        let mut header = vec![0xFF, 0xD8];
        header.extend_from_slice(exif);
        header.extend_from_slice(&sof[2..]);
        assert_eq!(exif_segments(&header), vec![exif]);
    }

    #[test]
    fn exif_is_spliced_after_app0() {
        let exif: &[u8] = &[0xFF, 0xE1, 0x00, 0x08, b'E', b'x', b'i', b'f', 0, 0];
        let encoded = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0xFF, 0xD9];
        let out = with_exif(&encoded, &[exif]);
        assert_eq!(&out[..6], &encoded[..6]);
        assert_eq!(&out[6..16], exif);
        assert_eq!(exif_segments(&out), vec![exif]);
    }
}
