//! JPEG decoding and encoding with libjpeg-turbo's TurboJPEG API (Debian's `libturbojpeg0`),
//! straight into and out of BGR pixels: the same decoder OpenCV's image codecs wrap, without
//! their byte swap and without the ~140 libraries (GDAL, DICOM, HEIF…) that module links, which
//! a process spent ~80 ms loading and which no upload should ever reach.
//!
//! This is the workspace's one module with `unsafe` code: the calls into the C library
//! (`turbojpeg-sys`'s bindings). The safe `turbojpeg` crate for TurboJPEG 2.x cannot tell a
//! warning from an error — libjpeg-turbo 2.1 returns −1 for both, and only
//! `tjGetErrorCode` says that the image was decoded in full despite, say, stray bytes
//! between two markers, which phone cameras write and OpenCV always accepted. Every buffer
//! handed to C is a Rust slice whose length is checked against the size C will write first.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_int, c_ulong};

use turbojpeg_sys as tj;

/// Why TurboJPEG gave no image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurboError(pub String);

impl std::fmt::Display for TurboError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A TurboJPEG instance, destroyed when dropped.
struct Handle(tj::tjhandle);

impl Handle {
    fn decompressor() -> Result<Self, TurboError> {
        // SAFETY: no arguments; a null handle is refused below.
        Self::checked(unsafe { tj::tjInitDecompress() })
    }

    fn compressor() -> Result<Self, TurboError> {
        // SAFETY: as above.
        Self::checked(unsafe { tj::tjInitCompress() })
    }

    fn checked(handle: tj::tjhandle) -> Result<Self, TurboError> {
        if handle.is_null() {
            return Err(TurboError("TurboJPEG could not be initialised".into()));
        }
        Ok(Self(handle))
    }

    /// The message of the last call's failure.
    fn error(&self) -> TurboError {
        // SAFETY: the handle is live; the string is owned by it and copied at once.
        let message = unsafe { CStr::from_ptr(tj::tjGetErrorStr2(self.0)) };
        TurboError(message.to_string_lossy().into_owned())
    }

    /// Whether the last call's failure was only a warning (the output is complete).
    fn warned(&self) -> bool {
        // SAFETY: the handle is live.
        unsafe { tj::tjGetErrorCode(self.0) == tj::TJERR_TJERR_WARNING as c_int }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle is live and dropped once.
        unsafe { tj::tjDestroy(self.0) };
    }
}

/// Width and height of a JPEG image, from its header.
pub fn dimensions(jpeg: &[u8]) -> Result<(usize, usize), TurboError> {
    let handle = Handle::decompressor()?;
    header(&handle, jpeg).map(|(width, height, _)| (width, height))
}

/// Width, height and colour space (`TJCS_*`) of a JPEG image, from its header.
fn header(handle: &Handle, jpeg: &[u8]) -> Result<(usize, usize, c_int), TurboError> {
    let (mut width, mut height, mut subsampling, mut colourspace) = (0, 0, 0, 0);
    // SAFETY: `jpeg` is read within its length; the four outputs are live locals.
    let status = unsafe {
        tj::tjDecompressHeader3(
            handle.0,
            jpeg.as_ptr(),
            jpeg.len() as c_ulong,
            &mut width,
            &mut height,
            &mut subsampling,
            &mut colourspace,
        )
    };
    if status != 0 {
        return Err(handle.error());
    }
    let positive = |side: c_int| usize::try_from(side).ok().filter(|&side| side > 0);
    match (positive(width), positive(height)) {
        (Some(width), Some(height)) => Ok((width, height, colourspace)),
        _ => Err(TurboError(format!("a {width}×{height} image"))),
    }
}

/// The size a `width` × `height` image decodes to at `1/factor` scale (TurboJPEG's
/// `TJSCALED`: rounded up).
pub fn scaled(width: usize, height: usize, factor: usize) -> (usize, usize) {
    (width.div_ceil(factor), height.div_ceil(factor))
}

/// Decodes `jpeg` at `1/factor` scale (1, 2, 4 or 8: the decoder skips the detail) into
/// `bgr`, which must hold exactly [`scaled`]`(width, height, factor)` pixels of 3 bytes, row
/// after row. A stream that decodes in full with a warning (stray bytes, a damaged segment
/// the decoder fills in) is an image, as it was to OpenCV; so is a CMYK one (print software
/// writes them), converted as OpenCV converts it.
pub fn decode_bgr(jpeg: &[u8], factor: usize, bgr: &mut [u8]) -> Result<(), TurboError> {
    if ![1, 2, 4, 8].contains(&factor) {
        return Err(TurboError(format!("no 1/{factor} scale")));
    }
    let handle = Handle::decompressor()?;
    let (width, height, colourspace) = header(&handle, jpeg)?;
    let (columns, rows) = scaled(width, height, factor);
    if bgr.len() != columns * rows * 3 {
        return Err(TurboError(format!(
            "a buffer of {} bytes for a {columns}×{rows} BGR image",
            bgr.len()
        )));
    }
    let cmyk = [tj::TJCS_TJCS_CMYK, tj::TJCS_TJCS_YCCK]
        .iter()
        .any(|&space| space as c_int == colourspace);
    if !cmyk {
        return decompress(&handle, jpeg, (columns, rows), tj::TJPF_TJPF_BGR, bgr);
    }
    let mut inks = vec![0; columns * rows * 4];
    decompress(
        &handle,
        jpeg,
        (columns, rows),
        tj::TJPF_TJPF_CMYK,
        &mut inks,
    )?;
    for (pixel, ink) in bgr.chunks_exact_mut(3).zip(inks.chunks_exact(4)) {
        pixel.copy_from_slice(&cmyk_to_bgr([ink[0], ink[1], ink[2], ink[3]]));
    }
    Ok(())
}

/// One pixel of libjpeg's CMYK output (inverted, as Adobe writes it) as BGR, as OpenCV's
/// JPEG reader converts it.
fn cmyk_to_bgr([c, m, y, k]: [u8; 4]) -> [u8; 3] {
    let channel = |ink: u8| {
        let (ink, key) = (i32::from(ink), i32::from(k));
        (key - (((255 - ink) * key) >> 8)) as u8
    };
    [channel(y), channel(m), channel(c)]
}

/// `tjDecompress2` into `out`, `size` pixels of `format`; `out`'s length is checked by the
/// caller against `size` and the format's bytes per pixel.
fn decompress(
    handle: &Handle,
    jpeg: &[u8],
    (columns, rows): (usize, usize),
    format: tj::TJPF,
    out: &mut [u8],
) -> Result<(), TurboError> {
    let bytes_per_pixel = if format == tj::TJPF_TJPF_CMYK { 4 } else { 3 };
    if out.len() != columns * rows * bytes_per_pixel {
        return Err(TurboError("an output buffer of the wrong size".into()));
    }
    // SAFETY: `jpeg` is read within its length; TurboJPEG writes `rows` packed rows of
    // `columns` pixels of `format`, exactly `out.len()` bytes (checked above).
    let status = unsafe {
        tj::tjDecompress2(
            handle.0,
            jpeg.as_ptr(),
            jpeg.len() as c_ulong,
            out.as_mut_ptr(),
            side(columns)?,
            0,
            side(rows)?,
            format as c_int,
            0,
        )
    };
    if status != 0 && !handle.warned() {
        return Err(handle.error());
    }
    Ok(())
}

/// A side as C wants it.
fn side(value: usize) -> Result<c_int, TurboError> {
    c_int::try_from(value).map_err(|_| TurboError(format!("a side of {value} px")))
}

/// How the pixels handed to [`encode`] are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 3 bytes a pixel, blue first; encoded with 4:2:0 chroma, as OpenCV's encoder did.
    Bgr,
    /// 1 byte a pixel; encoded as a greyscale JPEG.
    Gray,
}

/// Encodes packed pixels, `width` × `height` of `layout`, as a baseline JPEG at `quality`
/// (1–100): the bytes `cjpeg -quality Q` writes for the same pixels.
pub fn encode(
    pixels: &[u8],
    width: usize,
    height: usize,
    layout: Layout,
    quality: i32,
) -> Result<Vec<u8>, TurboError> {
    let (bytes_per_pixel, format, subsampling) = match layout {
        Layout::Bgr => (3, tj::TJPF_TJPF_BGR, tj::TJSAMP_TJSAMP_420),
        Layout::Gray => (1, tj::TJPF_TJPF_GRAY, tj::TJSAMP_TJSAMP_GRAY),
    };
    if pixels.len() != width * height * bytes_per_pixel || width == 0 || height == 0 {
        return Err(TurboError(format!(
            "{} bytes for a {width}×{height} {layout:?} image",
            pixels.len()
        )));
    }
    let handle = Handle::compressor()?;
    let mut output: *mut u8 = std::ptr::null_mut();
    let mut size: c_ulong = 0;
    // SAFETY: TurboJPEG reads `height` packed rows of `width` pixels of `format`, exactly
    // `pixels.len()` bytes (checked above), and allocates `output` itself (freed below).
    let status = unsafe {
        tj::tjCompress2(
            handle.0,
            pixels.as_ptr(),
            side(width)?,
            0,
            side(height)?,
            format as c_int,
            &mut output,
            &mut size,
            subsampling as c_int,
            quality,
            // The accurate DCT, as libjpeg (OpenCV, cjpeg) uses by default; TurboJPEG's own
            // default when compressing is the fast one.
            tj::TJFLAG_ACCURATEDCT as c_int,
        )
    };
    let encoded = if status == 0 && !output.is_null() {
        // SAFETY: on success `output` holds `size` bytes written by TurboJPEG.
        Ok(unsafe { std::slice::from_raw_parts(output, size as usize) }.to_vec())
    } else {
        Err(handle.error())
    };
    if !output.is_null() {
        // SAFETY: allocated by TurboJPEG for this call, freed once.
        unsafe { tj::tjFree(output) };
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16 × 8 image: left half pure blue, right half pure red (BGR).
    fn halves() -> Vec<u8> {
        (0..8 * 16)
            .flat_map(|i| if i % 16 < 8 { [255, 0, 0] } else { [0, 0, 255] })
            .collect()
    }

    #[test]
    fn an_encoded_image_decodes_to_its_pixels_at_every_scale() {
        let jpeg = encode(&halves(), 16, 8, Layout::Bgr, 95).expect("encodes");
        assert_eq!(dimensions(&jpeg).expect("header"), (16, 8));
        let mut full = vec![0; 16 * 8 * 3];
        decode_bgr(&jpeg, 1, &mut full).expect("decodes");
        let (left, right) = (&full[..3], &full[15 * 3..16 * 3]);
        assert!(left[0] > 200 && left[2] < 60, "left {left:?}");
        assert!(right[2] > 200 && right[0] < 60, "right {right:?}");
        let mut half = vec![0; 8 * 4 * 3];
        decode_bgr(&jpeg, 2, &mut half).expect("decodes at 1/2");
        assert!(half[0] > 200 && half[7 * 3 + 2] > 200, "{half:?}");
    }

    #[test]
    fn grey_images_encode_as_one_component_and_decode_as_bgr() {
        let grey: Vec<u8> = (0..16 * 8).map(|i| (i * 2) as u8).collect();
        let jpeg = encode(&grey, 16, 8, Layout::Gray, 95).expect("encodes");
        let mut bgr = vec![0; 16 * 8 * 3];
        decode_bgr(&jpeg, 1, &mut bgr).expect("decodes");
        let pixel = &bgr[40 * 3..41 * 3];
        assert!(pixel[0] == pixel[1] && pixel[1] == pixel[2], "{pixel:?}");
        assert!(pixel[0].abs_diff(80) <= 4, "{pixel:?}");
    }

    #[test]
    fn cmyk_converts_as_opencv_does() {
        // Adobe's inverted inks: 255 is no ink.
        assert_eq!(cmyk_to_bgr([255, 255, 255, 255]), [255, 255, 255]);
        assert_eq!(cmyk_to_bgr([0, 0, 0, 255]), [1, 1, 1]);
        assert_eq!(cmyk_to_bgr([255, 0, 0, 255]), [1, 1, 255]);
        assert_eq!(cmyk_to_bgr([255, 255, 255, 0]), [0, 0, 0]);
    }

    #[test]
    fn odd_sizes_round_up_when_scaled() {
        assert_eq!(scaled(1921, 1081, 2), (961, 541));
        assert_eq!(scaled(7, 7, 8), (1, 1));
    }

    #[test]
    fn a_wrong_buffer_or_scale_is_refused_not_written() {
        let jpeg = encode(&halves(), 16, 8, Layout::Bgr, 90).expect("encodes");
        assert!(decode_bgr(&jpeg, 1, &mut [0; 10]).is_err());
        assert!(decode_bgr(&jpeg, 3, &mut vec![0; 16 * 8 * 3]).is_err());
        assert!(encode(&[0; 10], 16, 8, Layout::Bgr, 90).is_err());
        assert!(encode(&halves(), 16, 8, Layout::Gray, 90).is_err());
    }

    #[test]
    fn garbage_and_truncated_streams_are_errors() {
        assert!(dimensions(b"not a jpeg").is_err());
        assert!(dimensions(&[]).is_err());
        let jpeg = encode(&halves(), 16, 8, Layout::Bgr, 90).expect("encodes");
        // The header alone: a fatal error, not a warning.
        let header_only = &jpeg[..jpeg.len() / 4];
        let mut out = vec![0; 16 * 8 * 3];
        assert!(decode_bgr(header_only, 1, &mut out).is_err());
    }

    #[test]
    fn stray_bytes_before_a_marker_are_only_a_warning() {
        let jpeg = encode(&halves(), 16, 8, Layout::Bgr, 90).expect("encodes");
        // Garbage between the entropy-coded data and the end-of-image marker: libjpeg warns
        // "extraneous bytes before marker 0xd9" and the image is whole.
        let end = jpeg.len() - 2;
        let mut damaged = jpeg[..end].to_vec();
        damaged.extend_from_slice(&[0x12, 0x34, 0x56]);
        damaged.extend_from_slice(&jpeg[end..]);
        let mut out = vec![0; 16 * 8 * 3];
        decode_bgr(&damaged, 1, &mut out).expect("a warning only");
        assert!(out[0] > 200);
    }
}
