//! Faces and plates are found, and the public copy has nothing readable left.

use model::PrivacyKind;
use rstest::rstest;

use crate::{VISION, crate_file, dataset};

#[rstest]
#[case::basketball("eval/faces/basketball1.jpg", 1)]
#[case::football("eval/faces/messi5.jpg", 1)]
fn faces_in_real_photos_are_found(#[case] photo: &str, #[case] at_least: usize) {
    assert!(
        VISION.uses_face_dnn(),
        "run scripts/setup-vision to fetch CenterFace"
    );
    let report = VISION.analyze(&crate_file(photo)).expect("analyses").report;
    let faces = report
        .privacy
        .iter()
        .filter(|r| r.kind == PrivacyKind::Face)
        .count();
    assert!(faces >= at_least, "{photo}: {:?}", report.privacy);
}

#[rstest]
#[case::basketball(crate_file("eval/faces/basketball1.jpg"))]
#[case::football(crate_file("eval/faces/messi5.jpg"))]
fn blurred_copy_has_no_face_or_plate_left(#[case] frame: Vec<u8>) {
    let analyzed = VISION.analyze(&frame).expect("analyses");
    assert!(
        !analyzed.report.privacy.is_empty(),
        "something to blur was found"
    );
    let public = analyzed.public_jpeg.expect("a public copy");
    let left = VISION.find_privacy_regions(&public).expect("re-detects");
    assert!(left.is_empty(), "still detectable after blurring: {left:?}");
}

#[test]
fn public_copy_keeps_the_exif() {
    let original = dataset("images/geotagged/mapillary_DSC00001.JPG");
    let public = VISION
        .analyze(&original)
        .expect("analyses")
        .public_jpeg
        .expect("a public copy");
    let exif = |bytes: &[u8]| -> Option<Vec<u8>> {
        let at = bytes.windows(6).position(|w| w == b"Exif\0\0")?;
        let length = usize::from(u16::from_be_bytes([bytes[at - 2], bytes[at - 1]]));
        Some(bytes[at..at - 2 + length].to_vec())
    };
    let kept = exif(&public).expect("the public copy has EXIF");
    assert_eq!(
        Some(kept),
        exif(&original),
        "EXIF (GPS, time) is copied byte for byte"
    );
    assert_ne!(public, original, "the public copy is a re-encode");
}

#[test]
fn frame_without_people_keeps_its_pixels_outside_regions() {
    let frame = dataset("images/udacity_lanes/solidWhiteCurve.jpg");
    let analyzed = VISION.analyze(&frame).expect("analyses");
    assert!(
        analyzed
            .report
            .privacy
            .iter()
            .all(|r| r.kind != PrivacyKind::Face),
        "no faces on an empty highway: {:?}",
        analyzed.report.privacy
    );
}
