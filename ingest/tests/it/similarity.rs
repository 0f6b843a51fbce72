//! Near-duplicate fingerprints on real dashcam frames: re-encoded and resized copies of a
//! frame match it; the other real frames of the same highway do not. (Measured when the
//! threshold was set: copies at most ≈ 0.017 apart, the closest two different frames 0.23.)

use std::io::Cursor;

use crate::{LANES, lane};
use image::ImageFormat;
use image::codecs::jpeg::JpegEncoder;
use ingest::similarity::{NEAR_DUPLICATE_DISTANCE, distance, fingerprint, is_near_duplicate};

fn reencode(jpeg: &[u8], quality: u8, scale: f32) -> Vec<u8> {
    let image = image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg).unwrap();
    let image = image.resize(
        (image.width() as f32 * scale) as u32,
        (image.height() as f32 * scale) as u32,
        image::imageops::FilterType::Lanczos3,
    );
    let mut out = Cursor::new(Vec::new());
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&image.to_rgb8())
        .unwrap();
    out.into_inner()
}

#[test]
fn reencoded_copies_are_near_duplicates_and_other_frames_are_not() {
    let originals: Vec<_> = LANES
        .iter()
        .map(|name| fingerprint(&lane(name)).unwrap())
        .collect();
    for (name, original) in LANES.iter().zip(&originals) {
        let jpeg = lane(name);
        for (quality, scale) in [(90, 1.0), (60, 1.0), (75, 0.5), (50, 0.75)] {
            let copy = fingerprint(&reencode(&jpeg, quality, scale)).unwrap();
            assert!(
                is_near_duplicate(original, &copy),
                "{name} at q{quality} ×{scale}: distance {}",
                distance(original, &copy)
            );
        }
    }
    // The six frames are different moments of real highway driving: never duplicates,
    // even though lanes and sky look alike.
    for i in 0..originals.len() {
        for j in i + 1..originals.len() {
            let bits = distance(&originals[i], &originals[j]);
            assert!(
                bits > NEAR_DUPLICATE_DISTANCE,
                "{} vs {}: only {bits} apart",
                LANES[i],
                LANES[j]
            );
        }
    }
}

#[test]
fn broken_bytes_are_an_error_not_a_panic() {
    let jpeg = lane("solidWhiteCurve.jpg");
    // A cut-off JPEG decodes partially (the header check upstream refuses it); never panics.
    let _ = fingerprint(&jpeg[..jpeg.len() / 3]);
    assert!(fingerprint(b"not a jpeg").is_err());
    assert!(fingerprint(&[]).is_err());
}
