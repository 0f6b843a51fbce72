//! Decoding and encoding frames: at reduced scale (the JPEG decoder skips the detail) for the
//! checks, at full scale only to blur; straight into OpenCV matrices of BGR pixels, by
//! libjpeg-turbo ([`crate::turbo`]). EXIF orientation is ignored so pixel boxes match the
//! stored pixels and the EXIF copied into the public frame stays true.

use opencv::core::{self, Mat, Scalar};
use opencv::prelude::*;

use crate::error::{CvContext, Error, Result};
use crate::{jpeg, turbo};

/// Frames are decoded for analysis at the largest reduction that keeps at least this width.
pub const MIN_ANALYSIS_WIDTH: u32 = 800;

/// The reduction factor (1, 2, 4 or 8) used to analyse a frame `width` pixels wide.
pub fn reduction_for(width: u32) -> u32 {
    [8, 4, 2]
        .into_iter()
        .find(|factor| width / factor >= MIN_ANALYSIS_WIDTH)
        .unwrap_or(1)
}

/// Decodes at `1/factor` scale (1, 2, 4 or 8) into BGR; an empty Mat means the data could
/// not be decoded, or declares more pixels than a frame may have ([`jpeg::MAX_PIXELS`]: the
/// header alone would make this allocate gigabytes).
pub fn decode_reduced(jpeg: &[u8], factor: u32) -> Result<Mat> {
    let factor = factor as usize;
    let Ok((width, height)) = turbo::dimensions(jpeg) else {
        return Ok(Mat::default());
    };
    if (width as u64).saturating_mul(height as u64) > jpeg::MAX_PIXELS {
        return Ok(Mat::default());
    }
    let (columns, rows) = turbo::scaled(width, height, factor);
    let mut bgr = Mat::new_rows_cols_with_default(
        rows as i32,
        columns as i32,
        core::CV_8UC3,
        Scalar::all(0.0),
    )
    .context("allocating the decoded frame")?;
    let pixels = bgr
        .data_bytes_mut()
        .context("allocating the decoded frame")?;
    match turbo::decode_bgr(jpeg, factor, pixels) {
        Ok(()) => Ok(bgr),
        Err(_) => Ok(Mat::default()),
    }
}

/// Decodes at full scale into BGR.
pub fn decode_full(jpeg: &[u8]) -> Result<Mat> {
    decode_reduced(jpeg, 1)
}

/// Encodes a BGR (or greyscale) image as JPEG at `quality` (1–100).
pub fn encode_jpeg(image: &Mat, quality: i32) -> Result<Vec<u8>> {
    let fail = |reason: String| Error::Jpeg {
        context: "encoding a JPEG",
        reason,
    };
    let layout = match image.typ() {
        core::CV_8UC3 => turbo::Layout::Bgr,
        core::CV_8UC1 => turbo::Layout::Gray,
        other => {
            return Err(fail(format!(
                "an image of OpenCV type {other}, not 8-bit BGR or grey"
            )));
        }
    };
    // A view into a larger image has gaps between its rows: packed first.
    let copy;
    let packed = if image.is_continuous() {
        image
    } else {
        copy = image.try_clone().context("packing an image to encode")?;
        &copy
    };
    let pixels = packed.data_bytes().context("reading an image to encode")?;
    turbo::encode(
        pixels,
        packed.cols() as usize,
        packed.rows() as usize,
        layout,
        quality,
    )
    .map_err(|err| fail(err.0))
}

/// Whether OpenCV produced an image at all.
pub fn is_empty(mat: &Mat) -> bool {
    mat.empty() || mat.cols() == 0 || mat.rows() == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_declaring_a_giant_frame_is_not_decoded() {
        let small = Mat::new_rows_cols_with_default(8, 8, core::CV_8UC3, Scalar::all(90.0))
            .expect("an image");
        let mut jpeg = encode_jpeg(&small, 90).expect("encodes");
        // The frame header's height and width (SOF0: FF C0, length, precision, then them).
        let sof = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("a SOF0");
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]); // 60 000 × 60 000
        assert_eq!(turbo::dimensions(&jpeg), Ok((60_000, 60_000)));
        assert!(is_empty(&decode_full(&jpeg).expect("no error")));
        assert!(!is_empty(
            &decode_full(&encode_jpeg(&small, 90).unwrap()).unwrap()
        ));
    }

    #[test]
    fn reduction_keeps_enough_width() {
        assert_eq!(reduction_for(3840), 4);
        assert_eq!(reduction_for(1920), 2);
        assert_eq!(reduction_for(960), 1);
        assert_eq!(reduction_for(7680), 8);
    }
}
