//! Perceptual fingerprints for near-duplicate detection: the same scene uploaded again,
//! re-encoded or resized, has almost the same fingerprint; another scene does not.
//!
//! The fingerprint is the frame in grayscale, shrunk to 32 × 18 and normalised to zero mean
//! and unit contrast. Two fingerprints are compared by their mean absolute difference:
//! re-encoding and resizing barely move it; another moment of the drive moves it a lot.
//! (Bit hashes such as a 64- or 256-bit dHash are too coarse for dashcam frames: flat road
//! and sky make re-encoded copies flip as many bits as a different frame.) Pure Rust
//! (`image`), so the check runs without OpenCV.

use image::imageops::FilterType;

const WIDTH: u32 = 32;
const HEIGHT: u32 = 18;

/// Fingerprints closer than this (mean absolute difference, in standard deviations) are the
/// same scene.
pub const NEAR_DUPLICATE_DISTANCE: f32 = 0.1;

pub use model::consensus::{Fingerprint, distance};

#[derive(Debug, thiserror::Error)]
#[error("cannot fingerprint the frame: {0}")]
pub struct FingerprintError(#[from] image::ImageError);

/// The fingerprint of a JPEG.
pub fn fingerprint(jpeg: &[u8]) -> Result<Fingerprint, FingerprintError> {
    let image = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)?;
    Ok(fingerprint_image(&image))
}

/// The fingerprint of decoded pixels.
pub fn fingerprint_image(image: &image::DynamicImage) -> Fingerprint {
    let small = image
        .thumbnail(256, 256)
        .resize_exact(WIDTH, HEIGHT, FilterType::Triangle)
        .to_luma8();
    let values: Vec<f32> = small.pixels().map(|p| f32::from(p[0])).collect();
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    let spread = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32)
        .sqrt()
        .max(1.0);
    Fingerprint(values.iter().map(|v| (v - mean) / spread).collect())
}

pub fn is_near_duplicate(a: &Fingerprint, b: &Fingerprint) -> bool {
    distance(a, b) < NEAR_DUPLICATE_DISTANCE
}
