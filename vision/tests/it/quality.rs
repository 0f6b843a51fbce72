//! Quality checks on real frames and on the same frames degraded by known amounts.

use model::{QualityProblem, QualityVerdict};
use rstest::rstest;
use vision::eval::Degradation;

use crate::{VISION, dataset};

#[rstest]
#[case("images/udacity_lanes/solidWhiteCurve.jpg")]
#[case("images/udacity_lanes/solidYellowLeft.jpg")]
#[case("images/udacity_lanes/whiteCarLaneSwitch.jpg")]
#[case("images/geotagged/mapillary_DSC00001.JPG")]
fn sharp_real_frames_are_good(#[case] frame: &str) {
    let report = VISION.analyze(&dataset(frame)).expect("analyses").report;
    assert_eq!(
        report.quality.verdict,
        QualityVerdict::Good,
        "{frame}: {:?}",
        report.quality
    );
    assert!(report.quality.score > 0.9, "{frame}: {:?}", report.quality);
}

#[rstest]
#[case(Degradation::GaussianBlur, QualityProblem::Blurred)]
#[case(Degradation::MotionBlur, QualityProblem::Blurred)]
#[case(Degradation::Darken, QualityProblem::TooDark)]
#[case(Degradation::Overexpose, QualityProblem::Overexposed)]
#[case(Degradation::Dashboard, QualityProblem::Obstructed)]
fn degraded_frames_name_their_problem(
    #[case] degradation: Degradation,
    #[case] problem: QualityProblem,
) {
    let frame = dataset("images/udacity_lanes/solidYellowCurve2.jpg");
    let report = VISION
        .analyze(&degradation.apply(&frame).expect("degrades"))
        .expect("analyses")
        .report;
    assert_eq!(
        report.quality.verdict,
        QualityVerdict::Poor,
        "{:?}",
        report.quality
    );
    assert!(
        report.quality.problems.contains(&problem),
        "{degradation:?}: {:?}",
        report.quality
    );
    assert!(report.quality.score <= 0.5);
}

#[rstest]
#[case("images/opencv/text_motion.jpg")]
#[case("images/opencv/text_defocus.jpg")]
#[case("images/opencv/licenseplate_motion.jpg")]
fn real_motion_blurred_and_defocused_photos_are_blurred(#[case] photo: &str) {
    let report = VISION.analyze(&dataset(photo)).expect("analyses").report;
    assert!(
        report.quality.problems.contains(&QualityProblem::Blurred),
        "{photo}: {:?}",
        report.quality
    );
}

#[test]
fn sharpness_does_not_depend_on_resolution() {
    // The Mapillary frame is 3840 px wide and analysed from a 1/4-scale decode; a copy
    // re-encoded at 1920 px must measure about the same.
    use opencv::core::{Mat, Size};
    use opencv::imgproc;
    let original = dataset("images/geotagged/mapillary_DSC00001.JPG");
    let full = vision::decode::decode_full(&original).expect("decodes");
    let mut half = Mat::default();
    imgproc::resize(
        &full,
        &mut half,
        Size::new(1920, 1080),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .expect("resizes");
    let encoded = vision::decode::encode_jpeg(&half, 95).expect("encodes");
    let big = VISION
        .analyze(&original)
        .expect("analyses")
        .report
        .quality
        .measures
        .sharpness;
    let small = VISION
        .analyze(encoded.as_slice())
        .expect("analyses")
        .report
        .quality
        .measures
        .sharpness;
    let ratio = big / small;
    assert!(
        (0.7..1.4).contains(&ratio),
        "sharpness {big} at 3840 px vs {small} at 1920 px"
    );
}
