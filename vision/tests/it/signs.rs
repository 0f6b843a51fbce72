//! Traffic signs: the STOP sign of the Mapillary frame and the held-out GTSRB photos.

use model::ImageBox;
use rstest::rstest;
use vision::eval::Degradation;
use vision::signs::{SignFeatures, SignModel};
use vision::train;

use crate::{VISION, dataset};

/// As shot, and three stops under or over (a dusk frame, a frame into the sun): a sign keeps
/// its hue when the exposure is off.
#[rstest]
#[case::as_shot(None)]
#[case::three_stops_under(Some(Degradation::Darken))]
#[case::overexposed(Some(Degradation::Overexpose))]
fn stop_sign_in_the_mapillary_frame_is_found(#[case] degradation: Option<Degradation>) {
    let shot = dataset("images/geotagged/mapillary_DSC00001.JPG");
    let frame = match degradation {
        Some(degradation) => degradation.apply(&shot).expect("degrades"),
        None => shot,
    };
    let report = VISION.analyze(&frame).expect("analyses").report;
    let labelled = ImageBox {
        x: 2976,
        y: 1124,
        width: 128,
        height: 132,
    };
    let stop = report
        .signs
        .iter()
        .find(|s| s.class_id == 14)
        .unwrap_or_else(|| panic!("no stop sign in {:?}", report.signs));
    assert_eq!(stop.class_name, "stop");
    assert!(stop.bbox.iou(&labelled) > 0.5, "{:?}", stop.bbox);
}

#[test]
fn committed_model_classifies_held_out_gtsrb_photos() {
    let model = SignModel::load(std::path::Path::new(vision::SIGN_MODEL)).expect("loads");
    let features = SignFeatures::new().expect("HOG");
    let photos = train::gtsrb_photos(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/images/gtsrb"),
    )
    .expect("GT.csv");
    assert_eq!(photos.len(), 215);
    let (accuracy, wrong) =
        train::fold_accuracy(&model, &photos, train::HELD_OUT_FOLD, &features).expect("classifies");
    // 0.930 for the committed model (BENCHMARKS.md); the issue asks 0.9.
    assert!(accuracy >= 0.9, "held-out accuracy {accuracy}: {wrong:?}");
}

/// Sign candidates that another proposed object explains are not signs: a red blob centred on
/// a car (a tail light) or a person (a jersey) much wider than it, or on a traffic light.
/// A sign beside them, or a big blob on a small object, is kept.
#[test]
fn candidates_on_vehicles_people_and_traffic_lights_are_not_signs() {
    use opencv::core::Rect;
    use vision::objects::{ObjectKind, Proposal};
    use vision::signs::explained_by_other_object;

    let proposal = |kind, x, y, width, height| Proposal {
        kind,
        rect: Rect::new(x, y, width, height),
        score: 0.9,
    };
    let sign = |x, y, side| model::ImageBox {
        x,
        y,
        width: side,
        height: side,
    };
    let car = proposal(ObjectKind::Vehicle, 100, 100, 200, 120);
    let person = proposal(ObjectKind::Person, 400, 50, 60, 160);
    let lights = proposal(ObjectKind::TrafficLight, 600, 20, 20, 50);
    let frame = [car, person, lights];
    assert!(
        explained_by_other_object(&sign(120, 150, 20), &frame),
        "tail light"
    );
    assert!(
        explained_by_other_object(&sign(415, 90, 20), &frame),
        "jersey"
    );
    assert!(
        explained_by_other_object(&sign(603, 25, 14), &frame),
        "traffic light"
    );
    assert!(
        !explained_by_other_object(&sign(320, 40, 30), &frame),
        "beside the car"
    );
    assert!(
        !explained_by_other_object(&sign(150, 120, 150), &frame),
        "larger than half the car"
    );
    assert!(
        !explained_by_other_object(&sign(120, 150, 20), &[]),
        "nothing proposed"
    );
}

/// The solid-red rule on real photos: the round red blob of every real GTSRB photo (upscaled
/// and set in a grey frame, so it is a candidate) of a red-rimmed class is a rim, and of a
/// STOP or no-entry sign is solid.
/// Measured: 0 of 20 round rims called solid, 4 of 4 STOP and no-entry signs.
#[test]
fn real_red_rimmed_signs_are_rims_and_stop_and_no_entry_are_solid() {
    use opencv::core::{Mat, Size};
    use vision::signs::{SOLID_RED, SignColour, SignShape, candidates};
    let photos = train::gtsrb_photos(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/images/gtsrb"),
    )
    .expect("GT.csv");
    let (mut rims, mut rims_solid, mut solids, mut solids_solid) = (0, 0, 0, 0);
    for photo in photos.iter().filter(|p| SignColour::Red.fits(p.class_id)) {
        let small = train::read_bgr(&photo.path).expect("reads");
        let mut sign = Mat::default();
        opencv::imgproc::resize(
            &small,
            &mut sign,
            Size::new(96, 96),
            0.0,
            0.0,
            opencv::imgproc::INTER_CUBIC,
        )
        .expect("resizes");
        // On a grey 480 × 480 frame: a sign is never a third of a frame.
        let mut big = Mat::default();
        opencv::core::copy_make_border(
            &sign,
            &mut big,
            192,
            192,
            192,
            192,
            opencv::core::BORDER_CONSTANT,
            opencv::core::Scalar::all(128.0),
        )
        .expect("pads");
        // The largest red candidate is the sign.
        let Some(sign) = candidates(&big, 12)
            .expect("candidates")
            .into_iter()
            .filter(|c| c.colour == SignColour::Red && c.shape == SignShape::Round)
            .max_by_key(|c| c.rect.area())
        else {
            continue;
        };
        if SOLID_RED.contains(&photo.class_id) {
            solids += 1;
            solids_solid += usize::from(sign.solid);
        } else {
            rims += 1;
            rims_solid += usize::from(sign.solid);
        }
    }
    let counts = format!(
        "rimmed classes: {rims_solid} of {rims} called solid; STOP and no entry: {solids_solid} of {solids} called solid"
    );
    println!("{counts}");
    assert!(rims >= 15 && solids >= 3, "{counts}");
    assert!(
        rims_solid * 50 <= rims,
        "at most 2 % of rims called solid: {counts}"
    );
    assert!(
        solids_solid * 10 >= solids * 7,
        "most solid signs called solid: {counts}"
    );
}
