//! Traffic signs: the STOP sign of the Mapillary frame and the held-out GTSRB photos.

use model::ImageBox;
use vision::signs::{SignFeatures, SignModel};
use vision::train;

use crate::{VISION, dataset};

#[test]
fn stop_sign_in_the_mapillary_frame_is_found() {
    let report = VISION
        .analyze(&dataset("images/geotagged/mapillary_DSC00001.JPG"))
        .expect("analyses")
        .report;
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
