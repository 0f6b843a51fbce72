//! Loading: the Haar fallback when the CenterFace model is absent, typed errors for missing
//! models, and concurrent use of one `Vision`.

use model::PrivacyKind;
use vision::{Error, Vision, VisionConfig};

use crate::{VISION, crate_file, dataset};

#[test]
fn haar_cascades_stand_in_when_the_onnx_model_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = VisionConfig {
        face_model: dir.path().join("centerface.onnx"),
        ..VisionConfig::default()
    };
    let vision = Vision::new(config).expect("loads with the fallback");
    assert!(!vision.uses_face_dnn());
    let report = vision
        .analyze(&crate_file("eval/faces/basketball1.jpg"))
        .expect("analyses")
        .report;
    assert!(
        report.privacy.iter().any(|r| r.kind == PrivacyKind::Face),
        "the frontal face is found by the cascade: {:?}",
        report.privacy
    );
}

#[test]
fn missing_sign_model_is_a_typed_error_naming_the_file() {
    let config = VisionConfig {
        sign_model: "/nonexistent/signs.json".into(),
        ..VisionConfig::default()
    };
    let err = Vision::new(config).expect_err("no sign model");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/signs.json"), "{err}");
}

#[test]
fn missing_cascades_are_a_typed_error_saying_what_to_install() {
    let config = VisionConfig {
        haar_dir: "/nonexistent".into(),
        ..VisionConfig::default()
    };
    let err = Vision::new(config).expect_err("no cascades");
    assert!(matches!(err, Error::Model { .. }), "{err:?}");
    assert!(err.to_string().contains("opencv-data"), "{err}");
}

#[test]
fn concurrent_calls_agree_with_a_sequential_one() {
    let frame = dataset("images/udacity_lanes/whiteCarLaneSwitch.jpg");
    let expected = VISION.analyze(&frame).expect("analyses").report;
    let reports: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| VISION.analyze(&frame).expect("analyses").report))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    for report in reports {
        assert_eq!(report, expected);
    }
}
