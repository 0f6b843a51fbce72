//! Detectors an operator names in `[[vision.detectors]]`: a real ONNX file of the documented
//! YOLOv8 layout, run by OpenCV inside the whole `Vision::analyze`.
//!
//! No permissively licensed YOLO plate or face model is on the registries this project may
//! use, so the tests write their own ONNX file (below, protobuf by hand): a one-convolution
//! "detector" whose score for a box is the mean red of the input pixels under that box. It
//! checks what an operator's model depends on: the input is RGB scaled to 0..1 and
//! letterboxed, both output orientations are read, boxes map back to the frame, scores under
//! the threshold and classes not named are ignored, and a model of another layout stops
//! vision at load with an error that names the file.

use model::PrivacyKind;
use opencv::core::{self, Mat, Rect, Scalar};
use opencv::imgproc;
use vision::{Error, NamedDetector, Vision, VisionConfig};

use crate::dataset;
use crate::privacy::{detail, gray};

/// The test model's input side (px).
const SIDE: i64 = 32;
/// The test frame's side (px): the model sees it 30 times smaller.
const FRAME: i32 = 960;
const CLASSES: usize = 2;
const PLATE: u32 = 0;
const FACE: u32 = 1;

/// One box of the test model: its geometry in input px (centre x, centre y, width,
/// height) and, per class, how its score is made.
struct TestBox {
    geometry: [f32; 4],
    scores: [Score; CLASSES],
}

#[derive(Clone, Copy)]
enum Score {
    Constant(f32),
    /// The mean of the red channel (0..1) under the box.
    MeanRed,
}

/// A plate scored from its pixels, a face scored from its pixels, a plate always scored 0.1
/// (under the threshold), and empty boxes (a real export has thousands of boxes, many more
/// than its values per box: that is how the two orientations are told apart).
fn test_boxes() -> Vec<TestBox> {
    let empty = (0..13).map(|_| TestBox {
        geometry: [16.0, 16.0, 4.0, 4.0],
        scores: [Score::Constant(0.0); CLASSES],
    });
    let mut boxes = vec![
        TestBox {
            geometry: [16.0, 24.0, 8.0, 4.0],
            scores: [Score::MeanRed, Score::Constant(0.0)],
        },
        TestBox {
            geometry: [8.0, 8.0, 4.0, 4.0],
            scores: [Score::Constant(0.0), Score::MeanRed],
        },
        TestBox {
            geometry: [24.0, 8.0, 6.0, 6.0],
            scores: [Score::Constant(0.1), Score::Constant(0.0)],
        },
    ];
    boxes.extend(empty);
    boxes
}

/// The frame rectangle a test box covers (the frame is 30 × the input, no padding).
fn in_frame(geometry: [f32; 4]) -> Rect {
    let scale = FRAME as f32 / SIDE as f32;
    let [cx, cy, w, h] = geometry;
    Rect::new(
        ((cx - w / 2.0) * scale) as i32,
        ((cy - h / 2.0) * scale) as i32,
        (w * scale) as i32,
        (h * scale) as i32,
    )
}

/// A real street frame stretched to 960 × 960, with a black/`colour` checkerboard (30-px
/// squares, one model pixel each) under the plate box and black under the face box.
fn test_frame(colour: Scalar) -> Vec<u8> {
    let jpeg = dataset("images/udacity_lanes/solidWhiteRight.jpg");
    let decoded = vision::decode::decode_full(&jpeg).expect("decodes");
    let mut frame = Mat::default();
    imgproc::resize(
        &decoded,
        &mut frame,
        core::Size::new(FRAME, FRAME),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )
    .expect("resizes");
    let boxes = test_boxes();
    let plate = in_frame(boxes[0].geometry);
    for row in 0..plate.height / 30 {
        for col in 0..plate.width / 30 {
            let square = Rect::new(plate.x + col * 30, plate.y + row * 30, 30, 30);
            let fill = if (row + col) % 2 == 0 {
                colour
            } else {
                Scalar::all(0.0)
            };
            imgproc::rectangle(&mut frame, square, fill, -1, imgproc::LINE_8, 0).expect("draws");
        }
    }
    let face = in_frame(boxes[1].geometry);
    imgproc::rectangle(&mut frame, face, Scalar::all(0.0), -1, imgproc::LINE_8, 0).expect("draws");
    vision::decode::encode_jpeg(&frame, 98).expect("encodes")
}

const RED: Scalar = Scalar::new(0.0, 0.0, 255.0, 0.0);
const BLUE: Scalar = Scalar::new(255.0, 0.0, 0.0, 0.0);

fn spec(model: &std::path::Path) -> NamedDetector {
    NamedDetector {
        model: model.to_path_buf(),
        input: [SIDE as i32, SIDE as i32],
        plate_class: Some(PLATE),
        face_class: Some(FACE),
        threshold: 0.25,
        sha256: None,
    }
}

fn vision_with(detector: NamedDetector) -> Result<Vision, Error> {
    Vision::new(VisionConfig {
        detectors: vec![detector],
        ..VisionConfig::default()
    })
}

#[test]
fn a_named_plate_detector_has_its_boxes_blurred_in_either_output_orientation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let frame = test_frame(RED);
    let plate = in_frame(test_boxes()[0].geometry);
    for channels_first in [true, false] {
        let path = dir.path().join(format!("test-{channels_first}.onnx"));
        std::fs::write(&path, onnx::detector(&test_boxes(), channels_first)).expect("writes");
        let vision = vision_with(spec(&path)).expect("loads the named detector");
        let analyzed = vision.analyze(&frame).expect("analyses");
        let regions = &analyzed.report.privacy;
        assert!(
            regions
                .iter()
                .any(|r| r.kind == PrivacyKind::LicencePlate && tightly_covers(r, plate)),
            "channels first {channels_first}: the checkerboard plate {plate:?} not among {regions:?}"
        );
        // The box scored 0.1 is under the threshold; the black face box scores 0.
        for unwanted in [
            in_frame(test_boxes()[2].geometry),
            in_frame(test_boxes()[1].geometry),
        ] {
            assert!(
                !regions
                    .iter()
                    .any(|r| (rect(r) & unwanted).area() * 2 > unwanted.area()),
                "{unwanted:?} blurred: {regions:?}"
            );
        }
        let public = analyzed.public_jpeg.expect("a public copy");
        let (before, after) = (detail(&gray(&frame), plate), detail(&gray(&public), plate));
        assert!(
            after < 0.1 * before,
            "the plate's detail {before:.0} before, {after:.0} after"
        );
    }
}

#[test]
fn the_named_detector_is_fed_rgb_so_a_blue_plate_scores_nothing_in_red() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("test.onnx");
    std::fs::write(&path, onnx::detector(&test_boxes(), true)).expect("writes");
    let vision = vision_with(spec(&path)).expect("loads");
    let plate = in_frame(test_boxes()[0].geometry);
    let regions = vision
        .find_privacy_regions(&test_frame(BLUE))
        .expect("analyses");
    assert!(
        !regions.iter().any(|r| tightly_covers(r, plate)),
        "{regions:?}"
    );
}

#[test]
fn a_named_face_class_is_blurred_as_a_face() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("test.onnx");
    // The face box scored from its pixels, the plate class not named.
    std::fs::write(&path, onnx::detector(&test_boxes(), true)).expect("writes");
    let vision = vision_with(NamedDetector {
        plate_class: None,
        ..spec(&path)
    })
    .expect("loads");
    let mut frame = test_frame(RED);
    let face = in_frame(test_boxes()[1].geometry);
    let plate = in_frame(test_boxes()[0].geometry);
    paint(&mut frame, face, RED);
    let regions = vision.find_privacy_regions(&frame).expect("analyses");
    assert!(
        regions
            .iter()
            .any(|r| r.kind == PrivacyKind::Face && tightly_covers(r, face)),
        "{regions:?}"
    );
    assert!(
        !regions.iter().any(|r| tightly_covers(r, plate)),
        "{regions:?}"
    );
}

fn rect(region: &model::PrivacyRegion) -> Rect {
    let b = region.bbox;
    Rect::new(b.x as i32, b.y as i32, b.width as i32, b.height as i32)
}

/// The region holds `target` and is not much larger (what the named detector's own box is,
/// give or take a pixel of rounding).
fn tightly_covers(region: &model::PrivacyRegion, target: Rect) -> bool {
    let r = rect(region);
    (r & target) == target && r.area() <= target.area() * 11 / 10
}

fn paint(jpeg: &mut Vec<u8>, rect: Rect, colour: Scalar) {
    let mut frame = vision::decode::decode_full(jpeg).expect("decodes");
    imgproc::rectangle(&mut frame, rect, colour, -1, imgproc::LINE_8, 0).expect("draws");
    *jpeg = vision::decode::encode_jpeg(&frame, 98).expect("encodes");
}

#[test]
fn a_named_detector_that_cannot_serve_stops_vision_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("good.onnx");
    std::fs::write(&good, onnx::detector(&test_boxes(), true)).expect("writes");
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"not a protobuf at all").expect("writes");
    let four_values = dir.path().join("boxes-only.onnx");
    std::fs::write(&four_values, onnx::boxes_only(8)).expect("writes");
    let cases: Vec<(NamedDetector, &str)> = vec![
        (spec(&dir.path().join("absent.onnx")), "absent.onnx"),
        (spec(&garbage), "cannot read it as ONNX"),
        (spec(&four_values), "4 values per box"),
        (
            NamedDetector {
                face_class: Some(5),
                ..spec(&good)
            },
            "class 5 is named, but the model has 2 classes",
        ),
        (
            NamedDetector {
                sha256: Some("0".repeat(64)),
                ..spec(&good)
            },
            "the settings pin 0000",
        ),
        (
            NamedDetector {
                input: [SIDE as i32, 100],
                ..spec(&good)
            },
            "vision.detectors[0].input",
        ),
    ];
    for (detector, expected) in cases {
        let err = vision_with(detector).expect_err("refused");
        let message = err.to_string();
        assert!(message.contains(expected), "{message}");
        if matches!(err, Error::Detector { .. }) {
            assert!(message.contains("[[vision.detectors]]"), "{message}");
        }
    }
}

#[test]
fn a_pinned_hash_that_matches_loads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("test.onnx");
    let bytes = onnx::detector(&test_boxes(), false);
    std::fs::write(&path, &bytes).expect("writes");
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    vision_with(NamedDetector {
        sha256: Some(hash),
        ..spec(&path)
    })
    .expect("the pinned file loads (hex in any case)");
}

/// ONNX files written by hand: just enough of the protobuf for OpenCV's importer.
mod onnx {
    use super::{CLASSES, SIDE, Score, TestBox};

    /// A YOLOv8-layout detector: one `Conv` whose kernel covers the whole input (so each
    /// output channel is a weighted sum of every input pixel plus a bias), reshaped to
    /// `1 × (4 + classes) × boxes`, or `1 × boxes × (4 + classes)`.
    pub fn detector(boxes: &[TestBox], channels_first: bool) -> Vec<u8> {
        let values = 4 + CLASSES;
        let outputs = values * boxes.len();
        let plane = (SIDE * SIDE) as usize;
        let mut weights = vec![0f32; outputs * 3 * plane];
        let mut bias = vec![0f32; outputs];
        for (n, b) in boxes.iter().enumerate() {
            for value in 0..values {
                let k = if channels_first {
                    value * boxes.len() + n
                } else {
                    n * values + value
                };
                if value < 4 {
                    bias[k] = b.geometry[value];
                    continue;
                }
                match b.scores[value - 4] {
                    Score::Constant(score) => bias[k] = score,
                    Score::MeanRed => {
                        let [cx, cy, w, h] = b.geometry;
                        let (x0, y0) = ((cx - w / 2.0) as usize, (cy - h / 2.0) as usize);
                        let (x1, y1) = ((cx + w / 2.0) as usize, (cy + h / 2.0) as usize);
                        let area = ((x1 - x0) * (y1 - y0)) as f32;
                        for y in y0..y1 {
                            for x in x0..x1 {
                                // Channel 0 of an RGB input is red.
                                weights[k * 3 * plane + y * SIDE as usize + x] = 1.0 / area;
                            }
                        }
                    }
                }
            }
        }
        let shape = if channels_first {
            [1, values as i64, boxes.len() as i64]
        } else {
            [1, boxes.len() as i64, values as i64]
        };
        model(outputs, &weights, &bias, shape)
    }

    /// A model whose output has box geometry only (no class scores): not the layout.
    pub fn boxes_only(boxes: usize) -> Vec<u8> {
        let outputs = 4 * boxes;
        let plane = (SIDE * SIDE) as usize;
        model(
            outputs,
            &vec![0f32; outputs * 3 * plane],
            &vec![1f32; outputs],
            [1, 4, boxes as i64],
        )
    }

    fn model(outputs: usize, weights: &[f32], bias: &[f32], shape: [i64; 3]) -> Vec<u8> {
        let floats = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let mut graph = Vec::new();
        let conv = node(
            &["images", "W", "B"],
            &["features"],
            "conv",
            "Conv",
            &[ints_attribute("kernel_shape", &[SIDE, SIDE])],
        );
        message(&mut graph, 1, &conv);
        message(
            &mut graph,
            1,
            &node(
                &["features", "shape"],
                &["output"],
                "reshape",
                "Reshape",
                &[],
            ),
        );
        message(&mut graph, 2, b"test_detector");
        message(
            &mut graph,
            5,
            &tensor("W", &[outputs as i64, 3, SIDE, SIDE], 1, &floats(weights)),
        );
        message(
            &mut graph,
            5,
            &tensor("B", &[outputs as i64], 1, &floats(bias)),
        );
        let shape_bytes: Vec<u8> = shape.iter().flat_map(|x| x.to_le_bytes()).collect();
        message(&mut graph, 5, &tensor("shape", &[3], 7, &shape_bytes));
        message(&mut graph, 11, &value_info("images", &[1, 3, SIDE, SIDE]));
        message(&mut graph, 12, &value_info("output", &shape));
        let mut opset = Vec::new();
        message(&mut opset, 1, b"");
        varint_field(&mut opset, 2, 13);
        let mut model = Vec::new();
        varint_field(&mut model, 1, 7);
        message(&mut model, 8, &opset);
        message(&mut model, 7, &graph);
        model
    }

    fn node(
        inputs: &[&str],
        outputs: &[&str],
        name: &str,
        op: &str,
        attributes: &[Vec<u8>],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        for input in inputs {
            message(&mut out, 1, input.as_bytes());
        }
        for output in outputs {
            message(&mut out, 2, output.as_bytes());
        }
        message(&mut out, 3, name.as_bytes());
        message(&mut out, 4, op.as_bytes());
        for attribute in attributes {
            message(&mut out, 5, attribute);
        }
        out
    }

    fn ints_attribute(name: &str, values: &[i64]) -> Vec<u8> {
        let mut out = Vec::new();
        message(&mut out, 1, name.as_bytes());
        for v in values {
            varint_field(&mut out, 8, *v as u64);
        }
        varint_field(&mut out, 20, 7); // AttributeType INTS
        out
    }

    fn tensor(name: &str, dims: &[i64], data_type: u64, raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for d in dims {
            varint_field(&mut out, 1, *d as u64);
        }
        varint_field(&mut out, 2, data_type);
        message(&mut out, 8, name.as_bytes());
        message(&mut out, 9, raw);
        out
    }

    fn value_info(name: &str, dims: &[i64]) -> Vec<u8> {
        let mut shape = Vec::new();
        for d in dims {
            let mut dimension = Vec::new();
            varint_field(&mut dimension, 1, *d as u64);
            message(&mut shape, 1, &dimension);
        }
        let mut tensor_type = Vec::new();
        varint_field(&mut tensor_type, 1, 1); // FLOAT
        message(&mut tensor_type, 2, &shape);
        let mut type_proto = Vec::new();
        message(&mut type_proto, 1, &tensor_type);
        let mut out = Vec::new();
        message(&mut out, 1, name.as_bytes());
        message(&mut out, 2, &type_proto);
        out
    }

    fn varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    fn varint_field(out: &mut Vec<u8>, field: u64, value: u64) {
        varint(out, field << 3);
        varint(out, value);
    }

    fn message(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
        varint(out, (field << 3) | 2);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
}
