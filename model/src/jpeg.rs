//! Reading a JPEG's header without decoding it: is it a JPEG, how big is it, is it complete.
//! Every stage that receives images from outside (ingest's upload route, the agent's import)
//! checks this first, so a "pixel bomb" is refused before anything allocates its pixels.

/// What the frame header (SOF) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegHeader {
    pub width: u32,
    pub height: u32,
    /// 1 grayscale, 3 YCbCr, 4 CMYK/YCCK.
    pub components: u8,
    /// Whether the data ends with the end-of-image marker (trailing zero padding ignored).
    pub complete: bool,
    /// Bytes of application (APP0–APP15: EXIF, XMP, ICC…) and comment segments before the
    /// frame header, markers included: what an "EXIF bomb" inflates.
    pub metadata_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JpegError {
    #[error("not a JPEG: it does not start with the JPEG start-of-image marker")]
    NotJpeg,
    #[error("the JPEG ends before its frame header; the file is truncated")]
    Truncated,
    #[error("the JPEG has no frame header before its image data")]
    NoFrameHeader,
}

impl JpegHeader {
    /// Walks the marker segments up to the first frame header.
    pub fn parse(bytes: &[u8]) -> Result<Self, JpegError> {
        if bytes.len() < 2 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
            return Err(JpegError::NotJpeg);
        }
        let mut pos = 2;
        let mut metadata_bytes = 0usize;
        loop {
            // Markers are 0xFF, optional 0xFF fill bytes, then the marker code.
            if pos >= bytes.len() {
                return Err(JpegError::Truncated);
            }
            if bytes[pos] != 0xFF {
                return Err(JpegError::NoFrameHeader);
            }
            while pos < bytes.len() && bytes[pos] == 0xFF {
                pos += 1;
            }
            let Some(&marker) = bytes.get(pos) else {
                return Err(JpegError::Truncated);
            };
            pos += 1;
            match marker {
                0x01 | 0xD0..=0xD8 => continue,
                0xD9 | 0xDA => return Err(JpegError::NoFrameHeader),
                _ => {}
            }
            let Some(length) = bytes
                .get(pos..pos + 2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            else {
                return Err(JpegError::Truncated);
            };
            if length < 2 {
                return Err(JpegError::NoFrameHeader);
            }
            let is_frame_header =
                matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF);
            if is_frame_header {
                let Some(segment) = bytes.get(pos + 2..pos + 8) else {
                    return Err(JpegError::Truncated);
                };
                let height = u32::from(u16::from_be_bytes([segment[1], segment[2]]));
                let width = u32::from(u16::from_be_bytes([segment[3], segment[4]]));
                let end = bytes.iter().rposition(|&b| b != 0).unwrap_or(0);
                let complete = end >= 1 && bytes[end - 1] == 0xFF && bytes[end] == 0xD9;
                return Ok(Self {
                    width,
                    height,
                    components: segment[5],
                    complete,
                    metadata_bytes,
                });
            }
            if matches!(marker, 0xE0..=0xEF | 0xFE) {
                metadata_bytes += 2 + length;
            }
            pos += length;
        }
    }

    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal baseline JPEG header: SOI, an APP0 segment, SOF0 of 1920×1080, EOI.
    fn header(width: u16, height: u16) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00];
        bytes.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&[0x03; 10]);
        bytes.extend_from_slice(&[0xFF, 0xD9]);
        bytes
    }

    #[test]
    fn reads_dimensions_without_decoding() {
        let parsed = JpegHeader::parse(&header(1920, 1080)).unwrap();
        assert_eq!(
            (parsed.width, parsed.height, parsed.components),
            (1920, 1080, 3)
        );
        assert!(parsed.complete);
        // A 65 535 × 65 535 pixel bomb is read in the same few bytes.
        assert_eq!(
            JpegHeader::parse(&header(65_535, 65_535)).unwrap().pixels(),
            65_535 * 65_535
        );
    }

    #[test]
    fn metadata_segments_are_counted() {
        assert_eq!(
            JpegHeader::parse(&header(640, 480)).unwrap().metadata_bytes,
            6
        );
        let mut bombed = vec![0xFF, 0xD8];
        for _ in 0..3 {
            bombed.extend([0xFF, 0xE1, 0xFF, 0xFF]);
            bombed.resize(bombed.len() + 0xFFFD, 0);
        }
        bombed.extend([0xFF, 0xFE, 0x00, 0x04, b'h', b'i']);
        bombed.extend(&header(640, 480)[2..]);
        let parsed = JpegHeader::parse(&bombed).unwrap();
        assert_eq!(parsed.metadata_bytes, 3 * 0x10001 + 6 + 6);
        assert_eq!((parsed.width, parsed.height), (640, 480));
    }

    #[test]
    fn hostile_and_broken_bytes_are_typed_errors() {
        let good = header(640, 480);
        assert_eq!(JpegHeader::parse(b""), Err(JpegError::NotJpeg));
        assert_eq!(
            JpegHeader::parse(b"\x89PNG\r\n\x1a\n"),
            Err(JpegError::NotJpeg)
        );
        for cut in 2..12 {
            assert_eq!(
                JpegHeader::parse(&good[..cut]),
                Err(JpegError::Truncated),
                "cut at {cut}"
            );
        }
        let mut no_eoi = good.clone();
        no_eoi.truncate(good.len() - 2);
        assert!(!JpegHeader::parse(&no_eoi).unwrap().complete);
        assert_eq!(
            JpegHeader::parse(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]),
            Err(JpegError::NoFrameHeader)
        );
        assert_eq!(
            JpegHeader::parse(&[0xFF, 0xD8, 0x00, 0x00]),
            Err(JpegError::NoFrameHeader)
        );
        // A zero-length segment cannot loop forever.
        assert_eq!(
            JpegHeader::parse(&[0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x00]),
            Err(JpegError::NoFrameHeader)
        );
    }
}
