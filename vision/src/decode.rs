//! Decoding with OpenCV: at reduced scale (`IMREAD_REDUCED_*`, the JPEG decoder skips the
//! detail) for the checks, at full scale only to blur. EXIF orientation is ignored so pixel
//! boxes match the stored pixels and the EXIF copied into the public frame stays true.

use opencv::core::{Mat, Vector};
use opencv::imgcodecs;
use opencv::prelude::*;

use crate::error::{CvContext, Result};

/// Frames are decoded for analysis at the largest reduction that keeps at least this width.
pub const MIN_ANALYSIS_WIDTH: u32 = 800;

/// The reduction factor (1, 2, 4 or 8) used to analyse a frame `width` pixels wide.
pub fn reduction_for(width: u32) -> u32 {
    [8, 4, 2]
        .into_iter()
        .find(|factor| width / factor >= MIN_ANALYSIS_WIDTH)
        .unwrap_or(1)
}

/// Decodes at `1/factor` scale into BGR; an empty Mat means the data could not be decoded.
pub fn decode_reduced(jpeg: &[u8], factor: u32) -> Result<Mat> {
    let reduced = match factor {
        8 => imgcodecs::IMREAD_REDUCED_COLOR_8,
        4 => imgcodecs::IMREAD_REDUCED_COLOR_4,
        2 => imgcodecs::IMREAD_REDUCED_COLOR_2,
        _ => imgcodecs::IMREAD_COLOR,
    };
    imgcodecs::imdecode(&jpeg, reduced | imgcodecs::IMREAD_IGNORE_ORIENTATION)
        .context("decoding the frame")
}

/// Decodes at full scale into BGR.
pub fn decode_full(jpeg: &[u8]) -> Result<Mat> {
    decode_reduced(jpeg, 1)
}

/// Encodes a BGR frame as JPEG at `quality` (0–100).
pub fn encode_jpeg(bgr: &Mat, quality: i32) -> Result<Vec<u8>> {
    let mut buffer: Vector<u8> = Vector::new();
    let params: Vector<i32> = Vector::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, quality]);
    imgcodecs::imencode(".jpg", bgr, &mut buffer, &params).context("encoding the public frame")?;
    Ok(buffer.to_vec())
}

/// Whether OpenCV produced an image at all.
pub fn is_empty(mat: &Mat) -> bool {
    mat.empty() || mat.cols() == 0 || mat.rows() == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduction_keeps_enough_width() {
        assert_eq!(reduction_for(3840), 4);
        assert_eq!(reduction_for(1920), 2);
        assert_eq!(reduction_for(960), 1);
        assert_eq!(reduction_for(7680), 8);
    }
}
