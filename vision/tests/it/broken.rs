//! Bad input never panics and never lets an OpenCV exception out: it gets a `Broken` verdict
//! (or, for odd but valid JPEGs, a normal report).

use model::{QualityProblem, QualityVerdict};
use opencv::core::{self, Mat, Scalar};
use opencv::prelude::*;
use rstest::rstest;
use vision::eval::Degradation;

use crate::{VISION, crate_file, dataset};

fn encode(image: &Mat) -> Vec<u8> {
    vision::decode::encode_jpeg(image, 95).expect("encodes")
}

fn decode(jpeg: &[u8]) -> Mat {
    let image = vision::decode::decode_full(jpeg).expect("decodes");
    assert!(!vision::decode::is_empty(&image), "not decodable");
    image
}

/// How many colour components a JPEG's frame header declares.
fn components(jpeg: &[u8]) -> u8 {
    let sof = jpeg
        .windows(2)
        .position(|w| w[0] == 0xFF && matches!(w[1], 0xC0..=0xC2))
        .expect("a frame header");
    jpeg[sof + 9]
}

fn udacity() -> Vec<u8> {
    dataset("images/udacity_lanes/solidWhiteRight.jpg")
}

#[rstest]
#[case::zero_bytes(Vec::new(), QualityProblem::Undecodable)]
#[case::truncated(udacity()[..udacity().len() / 2].to_vec(), QualityProblem::Truncated)]
#[case::header_only(udacity()[..600].to_vec(), QualityProblem::Truncated)]
#[case::not_a_jpeg(
    crate_file("../datasets/images/gtsrb/00000.ppm"),
    QualityProblem::Undecodable
)]
#[case::one_pixel(Degradation::OnePixel.apply(&udacity()).unwrap(), QualityProblem::Tiny)]
#[case::uniform(Degradation::Uniform.apply(&udacity()).unwrap(), QualityProblem::Uniform)]
#[case::garbage_after_soi([&[0xFF, 0xD8][..], &[0x5A; 4000][..], &[0xFF, 0xD9][..]].concat(), QualityProblem::Undecodable)]
fn bad_input_is_a_broken_verdict(#[case] bytes: Vec<u8>, #[case] problem: QualityProblem) {
    let analyzed = VISION
        .analyze(&bytes)
        .expect("bad input is a verdict, not an error");
    assert_eq!(analyzed.report.quality.verdict, QualityVerdict::Broken);
    assert_eq!(analyzed.report.quality.problems, vec![problem]);
    assert_eq!(analyzed.report.quality.score, 0.0);
    assert!(
        analyzed.public_jpeg.is_none(),
        "nothing of a broken frame is published"
    );
}

#[test]
fn twenty_thousand_pixel_wide_frame_is_rejected_from_its_header() {
    let wide = Mat::new_rows_cols_with_default(16, 20_000, core::CV_8UC1, Scalar::all(90.0))
        .expect("allocates");
    let analyzed = VISION.analyze(&encode(&wide)).expect("a verdict");
    assert_eq!(
        analyzed.report.quality.problems,
        vec![QualityProblem::Oversized]
    );
    assert_eq!(
        (analyzed.report.width, analyzed.report.height),
        (20_000, 16)
    );
}

#[test]
fn cmyk_jpeg_is_analysed_like_any_frame() {
    let analyzed = VISION
        .analyze(&crate_file("tests/data/solidYellowLeft_cmyk.jpg"))
        .expect("CMYK decodes");
    assert_eq!((analyzed.report.width, analyzed.report.height), (960, 540));
    assert_eq!(
        analyzed.report.quality.verdict,
        QualityVerdict::Good,
        "{:?}",
        analyzed.report.quality
    );
    let public = analyzed.public_jpeg.expect("a public copy");
    assert_eq!(components(&public), 3, "the public copy is plain YCbCr");
}

#[test]
fn grayscale_jpeg_is_analysed_like_any_frame() {
    let mut grey = Mat::default();
    opencv::imgproc::cvt_color_def(
        &decode(&udacity()),
        &mut grey,
        opencv::imgproc::COLOR_BGR2GRAY,
    )
    .expect("converts");
    let jpeg = encode(&grey);
    assert_eq!(components(&jpeg), 1, "a greyscale JPEG");
    let analyzed = VISION.analyze(&jpeg).expect("grayscale decodes");
    assert_eq!(
        analyzed.report.quality.verdict,
        QualityVerdict::Good,
        "{:?}",
        analyzed.report.quality
    );
    assert!(analyzed.public_jpeg.is_some());
}

/// Real pictures at the extremes of what is accepted (the narrowest side, a panorama at the
/// widest side, a tall strip, a 4:3 phone photo just above the tiles' width limit) go through
/// every detector of the privacy cascade and come back with a public copy of their own size
/// and regions inside the frame.
#[rstest]
#[case::narrowest(64, 64)]
#[case::panorama(8192, 1024)]
#[case::tall_strip(96, 4096)]
#[case::just_over_the_tiles_limit(1281, 961)]
fn odd_shapes_go_through_the_whole_cascade(#[case] width: i32, #[case] height: i32) {
    let street = decode(&crate_file("eval/faces/city.jpg"));
    let mut resized = Mat::default();
    opencv::imgproc::resize(
        &street,
        &mut resized,
        core::Size::new(width, height),
        0.0,
        0.0,
        opencv::imgproc::INTER_LINEAR,
    )
    .expect("resizes");
    let analyzed = VISION.analyze(&encode(&resized)).expect("analyses");
    let report = analyzed.report;
    assert_ne!(report.quality.verdict, QualityVerdict::Broken, "{report:?}");
    for region in &report.privacy {
        let b = region.bbox;
        assert!(
            b.width > 0
                && b.height > 0
                && b.x + b.width <= width as u32
                && b.y + b.height <= height as u32,
            "{region:?} outside {width}×{height}"
        );
    }
    let public = analyzed.public_jpeg.expect("a public copy");
    let decoded = decode(&public);
    assert_eq!((decoded.cols(), decoded.rows()), (width, height));
}
