//! Loading: a missing or altered model stops vision with an error naming the set-up command,
//! and one `Vision` serves concurrent calls.

use vision::{Error, Vision, VisionConfig, models};

use crate::{VISION, dataset};

#[test]
fn a_missing_model_is_a_typed_error_naming_the_setup_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    for missing in [
        VisionConfig {
            face_model: dir.path().join("centerface.onnx"),
            ..VisionConfig::default()
        },
        VisionConfig {
            object_model: dir.path().join("ssd_mobilenet_v2_coco.onnx"),
            ..VisionConfig::default()
        },
        VisionConfig {
            text_model: dir.path().join("ppocrv4_det.onnx"),
            ..VisionConfig::default()
        },
        VisionConfig {
            onnx_runtime: dir.path().join("libonnxruntime.so.1.32.0"),
            ..VisionConfig::default()
        },
    ] {
        let err = Vision::new(missing).expect_err("a model is missing");
        assert!(matches!(err, Error::Model { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&*dir.path().to_string_lossy()),
            "{message}"
        );
        assert!(message.contains("scripts/setup-vision"), "{message}");
    }
}

#[test]
fn a_model_with_the_wrong_bytes_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let truncated = dir.path().join(models::TEXT.name);
    let real = std::fs::read(models::TEXT.path()).expect("scripts/setup-vision fetched the model");
    std::fs::write(&truncated, &real[..real.len() / 2]).expect("writes");
    let err = Vision::new(VisionConfig {
        text_model: truncated,
        ..VisionConfig::default()
    })
    .expect_err("half a model");
    let message = err.to_string();
    assert!(message.contains("SHA-256"), "{message}");
    assert!(message.contains(models::TEXT.sha256), "{message}");
    assert!(message.contains("scripts/setup-vision"), "{message}");
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
