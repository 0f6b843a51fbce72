//! What of a frame's EXIF may be published beside its blurred pixels. Pure.
//!
//! The public copy keeps the upload's EXIF (position, time, camera) — but EXIF can carry
//! pictures of its own: the thumbnail of IFD1 (a small copy of the *unblurred* frame; real
//! cameras write one, the Sony in `datasets/images/geotagged/` among them) and maker notes
//! (vendors' previews). [`publishable`] blanks IFD1 with every value it points to and the
//! maker notes, unlinks IFD1, and refuses the whole segment if any embedded JPEG remains or
//! the structure cannot be followed: when unsure, publish no EXIF rather than a face.

/// Bytes before the TIFF header in an EXIF APP1 segment: marker, length, `Exif\0\0`.
const TIFF_START: usize = 10;
/// The Exif sub-IFD pointer (in IFD0) and the maker note (in the Exif sub-IFD).
const EXIF_IFD_POINTER: u16 = 0x8769;
const MAKER_NOTE: u16 = 0x927C;
/// IFD1's thumbnail: a JPEG at an offset with a length, or uncompressed strips.
const THUMBNAIL_OFFSET: u16 = 0x0201;
const THUMBNAIL_LENGTH: u16 = 0x0202;
const STRIP_OFFSETS: u16 = 0x0111;
const STRIP_BYTE_COUNTS: u16 = 0x0117;

/// A copy of the EXIF APP1 `segment` fit to publish, or `None` when it cannot be made
/// safe.
pub fn publishable(segment: &[u8]) -> Option<Vec<u8>> {
    let mut out = segment.to_vec();
    sanitise(&mut Tiff::new(out.get_mut(TIFF_START..)?)?)?;
    let embedded_jpeg = out[TIFF_START..]
        .windows(3)
        .any(|w| w == [0xFF, 0xD8, 0xFF]);
    (!embedded_jpeg).then_some(out)
}

fn sanitise(tiff: &mut Tiff<'_>) -> Option<()> {
    let ifd0 = tiff.u32(4)? as usize;
    let entries = tiff.u16(ifd0)? as usize;
    let next_at = ifd0 + 2 + entries * 12;
    let ifd1 = tiff.u32(next_at)? as usize;
    if ifd1 != 0 {
        blank_thumbnail_ifd(tiff, ifd1)?;
        tiff.put_u32(next_at, 0)?;
    }
    if let Some(exif_ifd) = tiff.entry(ifd0, EXIF_IFD_POINTER)? {
        let exif_ifd = tiff.u32(exif_ifd + 8)? as usize;
        if let Some(note) = tiff.entry(exif_ifd, MAKER_NOTE)? {
            let (at, len) = tiff.value_span(note)?;
            tiff.zero(at, len)?;
        }
    }
    Some(())
}

/// Zeroes IFD1's thumbnail (JPEG or strips), every value its entries point to, and the
/// IFD itself.
fn blank_thumbnail_ifd(tiff: &mut Tiff<'_>, ifd: usize) -> Option<()> {
    let entries = tiff.u16(ifd)? as usize;
    let span =
        |tiff: &Tiff<'_>, offset_tag: u16, length_tag: u16| -> Option<Option<(usize, usize)>> {
            let (Some(offset), Some(length)) =
                (tiff.entry(ifd, offset_tag)?, tiff.entry(ifd, length_tag)?)
            else {
                return Some(None);
            };
            Some(Some((
                tiff.scalar(offset)? as usize,
                tiff.scalar(length)? as usize,
            )))
        };
    let thumbnail = span(tiff, THUMBNAIL_OFFSET, THUMBNAIL_LENGTH)?;
    let strip = span(tiff, STRIP_OFFSETS, STRIP_BYTE_COUNTS)?;
    for (at, len) in thumbnail.into_iter().chain(strip) {
        tiff.zero(at, len)?;
    }
    for i in 0..entries {
        let entry = ifd + 2 + i * 12;
        let (at, len) = tiff.value_span(entry)?;
        if len > 4 {
            tiff.zero(at, len)?;
        }
    }
    tiff.zero(ifd, 2 + entries * 12 + 4)
}

/// A TIFF structure in a byte buffer, in its byte order; every read is bounds-checked.
struct Tiff<'a> {
    data: &'a mut [u8],
    little_endian: bool,
}

impl<'a> Tiff<'a> {
    fn new(data: &'a mut [u8]) -> Option<Self> {
        let little_endian = match data.get(..4)? {
            b"II*\0" => true,
            b"MM\0*" => false,
            _ => return None,
        };
        Some(Self {
            data,
            little_endian,
        })
    }

    fn u16(&self, at: usize) -> Option<u16> {
        let bytes: [u8; 2] = self.data.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.little_endian {
            u16::from_le_bytes(bytes)
        } else {
            u16::from_be_bytes(bytes)
        })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let bytes: [u8; 4] = self.data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.little_endian {
            u32::from_le_bytes(bytes)
        } else {
            u32::from_be_bytes(bytes)
        })
    }

    fn put_u32(&mut self, at: usize, value: u32) -> Option<()> {
        let bytes = if self.little_endian {
            value.to_le_bytes()
        } else {
            value.to_be_bytes()
        };
        self.data
            .get_mut(at..at.checked_add(4)?)?
            .copy_from_slice(&bytes);
        Some(())
    }

    fn zero(&mut self, at: usize, len: usize) -> Option<()> {
        self.data.get_mut(at..at.checked_add(len)?)?.fill(0);
        Some(())
    }

    /// The position of the entry for `tag` in the IFD at `ifd`, if it has one.
    fn entry(&self, ifd: usize, tag: u16) -> Option<Option<usize>> {
        let entries = self.u16(ifd)? as usize;
        for i in 0..entries {
            let entry = ifd + 2 + i * 12;
            if self.u16(entry)? == tag {
                return Some(Some(entry));
            }
        }
        Some(None)
    }

    /// Where an entry's value lies: inline in the entry when it fits in four bytes.
    fn value_span(&self, entry: usize) -> Option<(usize, usize)> {
        let size = match self.u16(entry + 2)? {
            1 | 2 | 6 | 7 => 1,
            3 | 8 => 2,
            4 | 9 | 11 => 4,
            5 | 10 | 12 => 8,
            _ => return None,
        };
        let len = (self.u32(entry + 4)? as usize).checked_mul(size)?;
        if len <= 4 {
            Some((entry + 8, len))
        } else {
            Some((self.u32(entry + 8)? as usize, len))
        }
    }

    /// A SHORT or LONG entry's first value.
    fn scalar(&self, entry: usize) -> Option<u32> {
        match self.u16(entry + 2)? {
            3 => self.u16(entry + 8).map(u32::from),
            4 => self.u32(entry + 8),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian EXIF segment: IFD0 with one ASCII entry (Make, 6 bytes out of line),
    /// and IFD1 with a thumbnail (a tiny "JPEG") when `thumbnail` is set.
    fn segment(thumbnail: bool) -> Vec<u8> {
        let mut tiff = b"II*\0".to_vec();
        tiff.extend_from_slice(&8u32.to_le_bytes());
        // IFD0 at 8: one entry, then next IFD.
        tiff.extend_from_slice(&1u16.to_le_bytes());
        tiff.extend_from_slice(&0x010Fu16.to_le_bytes());
        tiff.extend_from_slice(&2u16.to_le_bytes());
        tiff.extend_from_slice(&6u32.to_le_bytes());
        tiff.extend_from_slice(&26u32.to_le_bytes());
        let ifd1_at = 32u32;
        tiff.extend_from_slice(&(if thumbnail { ifd1_at } else { 0 }).to_le_bytes());
        // Value of Make at 26.
        tiff.extend_from_slice(b"SONY\0\0");
        if thumbnail {
            // IFD1 at 32: offset and length of the thumbnail at 62.
            tiff.extend_from_slice(&2u16.to_le_bytes());
            for (tag, value) in [(THUMBNAIL_OFFSET, 62u32), (THUMBNAIL_LENGTH, 6)] {
                tiff.extend_from_slice(&tag.to_le_bytes());
                tiff.extend_from_slice(&4u16.to_le_bytes());
                tiff.extend_from_slice(&1u32.to_le_bytes());
                tiff.extend_from_slice(&value.to_le_bytes());
            }
            tiff.extend_from_slice(&0u32.to_le_bytes());
            tiff.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xDB, 0xFF, 0xD9]);
        }
        let mut out = vec![0xFF, 0xE1];
        out.extend_from_slice(&u16::try_from(tiff.len() + 8).unwrap().to_be_bytes());
        out.extend_from_slice(b"Exif\0\0");
        out.extend_from_slice(&tiff);
        out
    }

    #[test]
    fn the_thumbnail_goes_and_the_rest_stays() {
        let with = segment(true);
        let clean = publishable(&with).expect("a thumbnail can be removed");
        assert_eq!(clean.len(), with.len());
        assert!(!clean.windows(3).any(|w| w == [0xFF, 0xD8, 0xFF]));
        // IFD0 and the Make value are untouched; IFD1 is unlinked.
        assert_eq!(
            clean[TIFF_START..TIFF_START + 22],
            with[TIFF_START..TIFF_START + 22]
        );
        assert_eq!(&clean[TIFF_START + 26..TIFF_START + 32], b"SONY\0\0");
        assert_eq!(&clean[TIFF_START + 22..TIFF_START + 26], &[0, 0, 0, 0]);
    }

    #[test]
    fn a_segment_without_pictures_is_kept_as_it_is() {
        let plain = segment(false);
        assert_eq!(publishable(&plain).as_deref(), Some(plain.as_slice()));
    }

    #[test]
    fn what_cannot_be_followed_is_not_published() {
        let mut broken = segment(true);
        // IFD0 claims thousands of entries.
        broken[TIFF_START + 8] = 0xFF;
        broken[TIFF_START + 9] = 0xFF;
        assert_eq!(publishable(&broken), None);
        assert_eq!(publishable(&[0xFF, 0xE1, 0, 8, b'E', b'x']), None);
        let mut not_tiff = segment(false);
        not_tiff[TIFF_START] = b'X';
        assert_eq!(publishable(&not_tiff), None);
    }
}
