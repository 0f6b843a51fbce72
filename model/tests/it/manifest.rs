//! The signed capture manifest: round trip, tamper evidence and hostile bodies.

use std::path::PathBuf;

use model::{
    CaptureId, CaptureManifest, DeviceKeypair, Fix, FixType, FrameEntry, FrameId,
    MANIFEST_FORMAT_VERSION, MAX_FRAMES_PER_CAPTURE, MAX_MANIFEST_BYTES, ManifestError,
    TimestampMs,
};
use proptest::prelude::*;

/// The first `limit` fixes of the real Munich drive, as a device would report them.
fn munich_fixes(limit: usize) -> Vec<Fix> {
    #[derive(serde::Deserialize)]
    struct Sample {
        point: String,
        time: String,
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../datasets/gps/barefoot_munich_x0001-001.json");
    let text = std::fs::read_to_string(&path).expect("the Munich drive is in datasets/");
    let samples: Vec<Sample> = serde_json::from_str(&text).expect("barefoot JSON");
    samples
        .into_iter()
        .take(limit)
        .map(|sample| {
            let inner = sample
                .point
                .trim_start_matches("POINT(")
                .trim_end_matches(')');
            let (lon, lat) = inner.split_once(' ').expect("POINT(lon lat)");
            let time = chrono::DateTime::parse_from_str(&sample.time, "%Y-%m-%d %H:%M:%S%z")
                .expect("barefoot time");
            Fix {
                time: TimestampMs(time.timestamp_millis()),
                lat: lat.parse().unwrap(),
                lon: lon.parse().unwrap(),
                alt: None,
                heading: None,
                speed: None,
                fix_type: FixType::Fix3d,
                satellites: 8,
                hdop: 1.2,
            }
        })
        .collect()
}

fn manifest_of(fixes: &[Fix], key: &DeviceKeypair) -> CaptureManifest {
    CaptureManifest {
        format_version: MANIFEST_FORMAT_VERSION,
        device_key: key.public(),
        capture_id: CaptureId::new(),
        sequence_number: 1,
        firmware: "waymark-agent 0.1.0".into(),
        camera: "test".into(),
        frames: fixes
            .iter()
            .enumerate()
            .map(|(i, fix)| FrameEntry {
                sha256: FrameId::of_bytes(format!("frame {i}").as_bytes()),
                fix: *fix,
            })
            .collect(),
    }
}

#[test]
fn a_real_drive_round_trips_signed() {
    let fixes = munich_fixes(120);
    assert_eq!(fixes.len(), 120);
    assert_eq!(fixes[0].time, TimestampMs(1_410_324_847_000)); // 2014-09-10 04:54:07Z
    let key = DeviceKeypair::from_seed([1; 32]);
    let manifest = manifest_of(&fixes, &key);
    let (body, signature) = manifest.sign(&key);
    let parsed = CaptureManifest::parse_and_verify(&body, &signature).unwrap();
    assert_eq!(parsed, manifest);
}

#[test]
fn a_manifest_signed_by_another_key_fails() {
    let key = DeviceKeypair::from_seed([1; 32]);
    let impostor = DeviceKeypair::from_seed([2; 32]);
    let manifest = manifest_of(&munich_fixes(5), &key);
    let body = manifest.to_json_bytes();
    let forged = impostor.sign(&body);
    assert!(matches!(
        CaptureManifest::parse_and_verify(&body, &forged),
        Err(ManifestError::Signature(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Flipping any one bit of the signed body makes it fail: either it no longer parses,
    /// or the signature no longer verifies. Nothing tampered is ever accepted.
    #[test]
    fn one_flipped_bit_anywhere_fails(position in any::<prop::sample::Index>(), bit in 0u8..8) {
        let key = DeviceKeypair::from_seed([3; 32]);
        let (mut body, signature) = manifest_of(&munich_fixes(10), &key).sign(&key);
        let index = position.index(body.len());
        body[index] ^= 1 << bit;
        prop_assert!(CaptureManifest::parse_and_verify(&body, &signature).is_err());
    }
}

#[test]
fn truncated_bodies_say_where_the_json_ends() {
    let key = DeviceKeypair::from_seed([4; 32]);
    let (body, signature) = manifest_of(&munich_fixes(3), &key).sign(&key);
    for cut in [0, 1, body.len() / 2, body.len() - 1] {
        let err = CaptureManifest::parse_and_verify(&body[..cut], &signature).unwrap_err();
        assert!(
            matches!(err, ManifestError::Malformed { .. }),
            "cut {cut}: {err}"
        );
    }
}

#[test]
fn hostile_bodies_get_typed_errors() {
    let key = DeviceKeypair::from_seed([5; 32]);
    let good = manifest_of(&munich_fixes(2), &key);

    let oversize = vec![b' '; MAX_MANIFEST_BYTES + 1];
    assert_eq!(
        CaptureManifest::parse(&oversize),
        Err(ManifestError::TooLarge {
            size: MAX_MANIFEST_BYTES + 1
        })
    );

    let future = serde_json::to_vec(&serde_json::json!({ "format_version": 2 })).unwrap();
    let err = CaptureManifest::parse(&future).unwrap_err();
    assert_eq!(err, ManifestError::UnsupportedVersion { found: 2 });
    assert!(err.to_string().contains("update the agent"));

    let empty = CaptureManifest {
        frames: vec![],
        ..good.clone()
    };
    assert_eq!(
        CaptureManifest::parse(&empty.to_json_bytes()),
        Err(ManifestError::NoFrames)
    );

    let mut huge = good.clone();
    huge.frames = vec![good.frames[0]; MAX_FRAMES_PER_CAPTURE + 1];
    assert!(matches!(
        CaptureManifest::parse(&huge.to_json_bytes()),
        Err(ManifestError::TooLarge { .. } | ManifestError::TooManyFrames { .. })
    ));

    let mut absurd = good.clone();
    absurd.frames[1].fix.lat = 123.0;
    let err = CaptureManifest::parse(&absurd.to_json_bytes()).unwrap_err();
    assert!(
        matches!(err, ManifestError::InvalidFix { index: 1, .. }),
        "{err}"
    );

    let mut extra: serde_json::Value = serde_json::from_slice(&good.to_json_bytes()).unwrap();
    extra["admin"] = serde_json::Value::Bool(true);
    let err = CaptureManifest::parse(&serde_json::to_vec(&extra).unwrap()).unwrap_err();
    assert!(err.to_string().contains("unknown field `admin`"), "{err}");

    let label = CaptureManifest {
        camera: "x".repeat(500),
        ..good
    };
    assert!(matches!(
        CaptureManifest::parse(&label.to_json_bytes()),
        Err(ManifestError::LabelTooLong {
            field: "camera",
            chars: 500
        })
    ));
}
