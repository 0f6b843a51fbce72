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
