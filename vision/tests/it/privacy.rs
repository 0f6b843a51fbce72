//! Faces and plates are found, and the public copy has nothing readable left.

use model::PrivacyKind;
use rstest::rstest;

use crate::{VISION, crate_file, dataset};

#[rstest]
#[case::basketball("eval/faces/basketball1.jpg", 1)]
#[case::football("eval/faces/messi5.jpg", 1)]
#[case::street_crossing("eval/faces/city.jpg", 12)]
fn faces_in_real_photos_are_found(#[case] photo: &str, #[case] at_least: usize) {
    let report = VISION.analyze(&crate_file(photo)).expect("analyses").report;
    let faces = report
        .privacy
        .iter()
        .filter(|r| r.kind == PrivacyKind::Face)
        .count();
    assert!(faces >= at_least, "{photo}: {:?}", report.privacy);
}

/// Real cars with readable plates (Czech, Norwegian, Swedish): each plate is inside a
/// blurred plate region, and nothing of it survives in the public copy.
#[rstest]
#[case::czech("eval/plates/fast_alpr_test_image.jpg", &[(307, 190, 80, 20)])]
#[case::norwegian_and_swedish("eval/plates/alpr_test.jpg", &[(85, 485, 93, 31), (579, 495, 127, 40)])]
fn plates_on_real_cars_are_blurred(#[case] photo: &str, #[case] plates: &[(u32, u32, u32, u32)]) {
    let analyzed = VISION.analyze(&crate_file(photo)).expect("analyses");
    let found: Vec<_> = analyzed
        .report
        .privacy
        .iter()
        .filter(|r| r.kind == PrivacyKind::LicencePlate)
        .map(|r| r.bbox)
        .collect();
    for &(x, y, width, height) in plates {
        let plate = model::ImageBox {
            x,
            y,
            width,
            height,
        };
        let centre = (x + width / 2, y + height / 2);
        assert!(
            found.iter().any(|b| {
                centre.0 >= b.x
                    && centre.0 < b.x + b.width
                    && centre.1 >= b.y
                    && centre.1 < b.y + b.height
            }),
            "{photo}: plate {plate:?} not among {found:?}"
        );
    }
}

/// Every region's detail is gone from the public copy: the Laplacian variance (edges: eyes,
/// characters) inside each blurred box falls to a small fraction of the original's, and
/// the face detector no longer fires confidently on any face it blurred.
#[rstest]
#[case::basketball(crate_file("eval/faces/basketball1.jpg"))]
#[case::football(crate_file("eval/faces/messi5.jpg"))]
#[case::street_crossing(crate_file("eval/faces/city.jpg"))]
#[case::plates(crate_file("eval/plates/alpr_test.jpg"))]
fn blurred_copy_has_no_face_or_plate_left(#[case] frame: Vec<u8>) {
    let analyzed = VISION.analyze(&frame).expect("analyses");
    let regions = &analyzed.report.privacy;
    assert!(!regions.is_empty(), "something to blur was found");
    let public = analyzed.public_jpeg.expect("a public copy");
    let (before, after) = (gray(&frame), gray(&public));
    for region in regions {
        let b = region.bbox;
        if b.width < 8 || b.height < 8 {
            continue;
        }
        let rect = opencv::core::Rect::new(b.x as i32, b.y as i32, b.width as i32, b.height as i32);
        let (detail_before, detail_after) = (detail(&before, rect), detail(&after, rect));
        assert!(
            detail_after < 0.1 * detail_before + 1.0,
            "{region:?}: detail {detail_before:.1} before, {detail_after:.1} after blurring"
        );
    }
    let left = VISION.find_privacy_regions(&public).expect("re-detects");
    for region in regions
        .iter()
        .filter(|r| r.kind == PrivacyKind::LicencePlate)
    {
        assert!(
            !left
                .iter()
                .any(|l| l.kind == PrivacyKind::LicencePlate && l.bbox.iou(&region.bbox) > 0.3),
            "text still found on a blurred plate {region:?}: {left:?}"
        );
    }
}

pub(crate) fn gray(jpeg: &[u8]) -> opencv::core::Mat {
    let colour = vision::decode::decode_full(jpeg).expect("decodes");
    let mut grey = opencv::core::Mat::default();
    opencv::imgproc::cvt_color_def(&colour, &mut grey, opencv::imgproc::COLOR_BGR2GRAY)
        .expect("converts");
    grey
}

/// Variance of the Laplacian inside `rect`.
pub(crate) fn detail(gray: &opencv::core::Mat, rect: opencv::core::Rect) -> f64 {
    let roi = opencv::core::Mat::roi(gray, rect).expect("inside the frame");
    let mut laplacian = opencv::core::Mat::default();
    opencv::imgproc::laplacian(
        &roi,
        &mut laplacian,
        opencv::core::CV_64F,
        3,
        1.0,
        0.0,
        opencv::core::BORDER_DEFAULT,
    )
    .expect("laplacian");
    let (mut mean, mut deviation) = (
        opencv::core::Scalar::default(),
        opencv::core::Scalar::default(),
    );
    opencv::core::mean_std_dev(
        &laplacian,
        &mut mean,
        &mut deviation,
        &opencv::core::no_array(),
    )
    .expect("variance");
    deviation[0] * deviation[0]
}

/// `exiftool` (Debian's, installed by scripts/setup) on a JPEG: `-TAG` values, one per line.
fn exiftool(jpeg: &[u8], args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frame.jpg");
    std::fs::write(&path, jpeg).unwrap();
    let out = std::process::Command::new("exiftool")
        .args(args)
        .arg(&path)
        .output()
        .expect("exiftool runs (scripts/setup installs libimage-exiftool-perl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Real cameras put a small copy of the unblurred frame in their EXIF (IFD1): the public
/// copy keeps the position, time and camera, never that picture.
/// A real dashcam frame carrying the EXIF of another real photo (an HTC phone's, with a
/// 47 KB thumbnail), spliced in right after the start marker.
fn lane_with_phone_exif() -> Vec<u8> {
    let phone = dataset("images/geotagged/mapillary_test_exif.jpg");
    let at = phone.windows(6).position(|w| w == b"Exif\0\0").unwrap() - 4;
    let length = usize::from(u16::from_be_bytes([phone[at + 2], phone[at + 3]]));
    let lane = dataset("images/udacity_lanes/solidWhiteRight.jpg");
    let mut spliced = lane[..2].to_vec();
    spliced.extend_from_slice(&phone[at..at + 2 + length]);
    spliced.extend_from_slice(&lane[2..]);
    spliced
}

#[rstest]
#[case::sony_action_cam(dataset("images/geotagged/mapillary_DSC00001.JPG"))]
#[case::phone_exif_on_a_dashcam_frame(lane_with_phone_exif())]
fn public_copy_keeps_the_exif_but_no_thumbnail(#[case] original: Vec<u8>) {
    let public = VISION
        .analyze(&original)
        .expect("analyses")
        .public_jpeg
        .expect("a public copy");
    assert_ne!(public, original, "the public copy is a re-encode");
    let thumbnail = |jpeg: &[u8]| exiftool(jpeg, &["-b", "-ThumbnailImage"]).len();
    assert!(thumbnail(&original) > 1000, "the upload has a thumbnail");
    assert_eq!(thumbnail(&public), 0, "no thumbnail in the public copy");
    let kept = [
        "-s",
        "-GPSLatitude",
        "-GPSLongitude",
        "-DateTimeOriginal",
        "-Make",
        "-Model",
    ];
    let (before, after) = (exiftool(&original, &kept), exiftool(&public, &kept));
    assert!(!before.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&after),
        String::from_utf8_lossy(&before),
        "position, time and camera are kept"
    );
    assert!(
        !public[2..].windows(3).any(|w| w == [0xFF, 0xD8, 0xFF]),
        "no embedded JPEG anywhere"
    );
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

/// A street of parked cars has more near vehicles than are searched for text: those past the
/// cap still have their plate zone blurred. With the cap at 0, the Czech plate is blurred by
/// its car's zone.
#[test]
fn near_vehicles_past_the_text_search_cap_are_still_blurred() {
    let vision = vision::Vision::new(vision::VisionConfig {
        max_vehicles: 0,
        ..vision::VisionConfig::default()
    })
    .expect("models load");
    let report = vision
        .analyze(&crate_file("eval/plates/fast_alpr_test_image.jpg"))
        .expect("analyses")
        .report;
    let (cx, cy) = (307 + 40, 190 + 10);
    assert!(
        report.privacy.iter().any(|r| {
            let b = r.bbox;
            r.kind == PrivacyKind::LicencePlate
                && cx >= b.x
                && cx < b.x + b.width
                && cy >= b.y
                && cy < b.y + b.height
        }),
        "{:?}",
        report.privacy
    );
}
