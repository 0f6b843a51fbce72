//! Detectors an operator names in `[[vision.detectors]]`: any ONNX model of the YOLOv8
//! layout that finds licence plates or faces. Their boxes are blurred besides the shipped
//! cascade's (never instead of it). Models under AGPL (most YOLO plate detectors on PyPI)
//! are not shipped with Waymark; an operator who may run one names it here.
//!
//! The layout (what `ultralytics` exports with `format=onnx`, no NMS inside; YOLOv8, v9 and
//! v11 alike):
//! - one input, `1 × 3 × height × width`, RGB scaled to 0..1, the frame letterboxed into it
//!   (aspect kept, centred, padded with grey 114);
//! - one output, `1 × (4 + classes) × boxes` (or its transpose, `1 × boxes × (4 + classes)`):
//!   per box its centre x, centre y, width and height in input pixels, then one score (0..1)
//!   per class.
//!
//! The model is run once at load on a grey picture, so a file of another layout, or a class
//! index the model does not have, stops vision at start-up instead of at the first frame.

use std::path::PathBuf;

use opencv::core::{self, Mat, Rect, Scalar, Size};
use opencv::prelude::*;
use opencv::{dnn, imgproc};
use serde::{Deserialize, Serialize};

use crate::error::{CvContext, Error, Result};
use crate::privacy::nms;

/// Boxes kept per class before non-maximum suppression (`ultralytics`' `max_det`).
const MAX_BOXES_PER_CLASS: usize = 300;
/// Overlap above which two boxes of one class are one object.
const NMS_IOU: f32 = 0.5;
/// Letterbox padding, as `ultralytics` pads.
const PAD_GREY: f64 = 114.0;

/// One operator-named detector, as `[[vision.detectors]]` gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedDetector {
    /// The ONNX file.
    pub model: PathBuf,
    /// Its input width and height in px (the export's `imgsz`), multiples of 32.
    #[serde(default = "default_input")]
    pub input: [i32; 2],
    /// The class index that means a licence plate, if the model finds plates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_class: Option<u32>,
    /// The class index that means a face, if the model finds faces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_class: Option<u32>,
    /// Score from which a box is blurred (low: when unsure, blur).
    #[serde(default = "default_threshold")]
    pub threshold: f32,
    /// The file's SHA-256 (hex), when the operator pins it: another file is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

fn default_input() -> [i32; 2] {
    [640, 640]
}

fn default_threshold() -> f32 {
    0.25
}

impl NamedDetector {
    /// The settings problems of entry `index`, before any file is read.
    pub fn check(&self, index: usize) -> Result<()> {
        let fail = |field: &str, reason: String| Error::Setting {
            key: format!("vision.detectors[{index}].{field}"),
            reason,
        };
        for side in self.input {
            if !(32..=4096).contains(&side) || side % 32 != 0 {
                return Err(fail(
                    "input",
                    format!("{side} px is not a multiple of 32 from 32 to 4096"),
                ));
            }
        }
        if self.plate_class.is_none() && self.face_class.is_none() {
            return Err(fail(
                "plate_class",
                "give plate_class, face_class or both: which of the model's classes is a plate or a face".into(),
            ));
        }
        if self.threshold.is_nan() || self.threshold <= 0.0 || self.threshold > 1.0 {
            return Err(fail(
                "threshold",
                format!("{} is not a score in (0, 1]", self.threshold),
            ));
        }
        if let Some(hash) = &self.sha256 {
            let valid = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
            if !valid {
                return Err(fail("sha256", format!("{hash:?} is not 64 hex digits")));
            }
        }
        Ok(())
    }

    /// What each wanted class is blurred as.
    fn wanted(&self) -> Vec<(u32, model::PrivacyKind)> {
        let plate = self
            .plate_class
            .map(|c| (c, model::PrivacyKind::LicencePlate));
        let face = self.face_class.map(|c| (c, model::PrivacyKind::Face));
        plate.into_iter().chain(face).collect()
    }
}

/// A loaded operator detector (OpenCV state: one per thread).
#[allow(missing_debug_implementations)]
pub struct YoloDetector {
    spec: NamedDetector,
    net: dnn::Net,
}

/// Where a letterboxed frame sits in the model's input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Input px per frame px.
    pub scale: f32,
    pub pad_x: f32,
    pub pad_y: f32,
}

impl Letterbox {
    /// How a `width` × `height` frame fits into `input` (width, height).
    pub fn fit(width: i32, height: i32, input: [i32; 2]) -> Self {
        let scale = (input[0] as f32 / width as f32).min(input[1] as f32 / height as f32);
        let (w, h) = scaled_size(width, height, scale);
        Self {
            scale,
            pad_x: ((input[0] - w) / 2) as f32,
            pad_y: ((input[1] - h) / 2) as f32,
        }
    }

    /// A box given as centre and size in input px, in frame px, clipped to the
    /// `width` × `height` frame; `None` when nothing of it is in the frame.
    pub fn to_frame(&self, [cx, cy, w, h]: [f32; 4], width: i32, height: i32) -> Option<Rect> {
        if ![cx, cy, w, h].iter().all(|v| v.is_finite()) || w <= 0.0 || h <= 0.0 {
            return None;
        }
        let x1 = ((cx - w / 2.0 - self.pad_x) / self.scale).floor().max(0.0);
        let y1 = ((cy - h / 2.0 - self.pad_y) / self.scale).floor().max(0.0);
        let x2 = ((cx + w / 2.0 - self.pad_x) / self.scale)
            .ceil()
            .min(width as f32);
        let y2 = ((cy + h / 2.0 - self.pad_y) / self.scale)
            .ceil()
            .min(height as f32);
        (x2 > x1 && y2 > y1)
            .then(|| Rect::new(x1 as i32, y1 as i32, (x2 - x1) as i32, (y2 - y1) as i32))
    }
}

fn scaled_size(width: i32, height: i32, scale: f32) -> (i32, i32) {
    (
        ((width as f32 * scale).round() as i32).max(1),
        ((height as f32 * scale).round() as i32).max(1),
    )
}

/// The model's output read as rows of `4 + classes` values per box.
#[derive(Debug)]
struct Output<'a> {
    values: &'a [f32],
    channels: usize,
    boxes: usize,
    /// `1 × channels × boxes` (else `1 × boxes × channels`).
    channels_first: bool,
}

impl<'a> Output<'a> {
    /// Reads the output's shape; `Err` names what is not the documented layout.
    fn read(mat: &'a Mat) -> std::result::Result<Self, String> {
        let dims: Vec<i32> = mat.mat_size().iter().copied().collect();
        let (a, b) = match dims.as_slice() {
            [1, a, b] | [a, b] => (*a as usize, *b as usize),
            other => {
                return Err(format!(
                    "its output has shape {other:?}, not 1 × (4 + classes) × boxes"
                ));
            }
        };
        // Boxes outnumber channels in every real export (8 400 against 4 + 80 at 640 px).
        let (channels, boxes, channels_first) = if a <= b { (a, b, true) } else { (b, a, false) };
        if channels < 5 {
            return Err(format!(
                "its output has {channels} values per box; the layout has 4 box values and at least one class score"
            ));
        }
        let values = mat
            .data_typed::<f32>()
            .map_err(|err| format!("its output is not 32-bit floats: {err}"))?;
        Ok(Self {
            values,
            channels,
            boxes,
            channels_first,
        })
    }

    fn classes(&self) -> usize {
        self.channels - 4
    }

    fn value(&self, channel: usize, index: usize) -> f32 {
        if self.channels_first {
            self.values[channel * self.boxes + index]
        } else {
            self.values[index * self.channels + channel]
        }
    }
}

impl YoloDetector {
    /// Reads and checks the model named by `spec` (entry `index` of the settings).
    pub fn load(spec: &NamedDetector, index: usize) -> Result<Self> {
        spec.check(index)?;
        let fail = |reason: String| Error::Detector {
            path: spec.model.clone(),
            reason,
        };
        let meta = std::fs::metadata(&spec.model).map_err(|err| fail(err.to_string()))?;
        if !meta.is_file() {
            return Err(fail("not a file".into()));
        }
        if let Some(expected) = &spec.sha256 {
            let actual =
                crate::models::sha256_of(&spec.model).map_err(|err| fail(err.to_string()))?;
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(fail(format!(
                    "its SHA-256 is {actual}, the settings pin {expected}"
                )));
            }
        }
        let net = dnn::read_net_from_onnx(&spec.model)
            .map_err(|err| fail(format!("OpenCV cannot read it as ONNX: {err}")))?;
        let mut detector = Self {
            spec: spec.clone(),
            net,
        };
        detector.probe().map_err(fail)?;
        Ok(detector)
    }

    /// One forward pass on a grey picture: the output must be the documented layout and
    /// have the classes the settings name.
    fn probe(&mut self) -> std::result::Result<(), String> {
        let [w, h] = self.spec.input;
        let grey = Mat::new_rows_cols_with_default(h, w, core::CV_8UC3, Scalar::all(PAD_GREY))
            .map_err(|err| err.to_string())?;
        let output = self.forward(&grey).map_err(|err| err.to_string())?;
        let output = Output::read(&output)?;
        for (class, _) in self.spec.wanted() {
            if class as usize >= output.classes() {
                return Err(format!(
                    "class {class} is named, but the model has {} classes (0 to {})",
                    output.classes(),
                    output.classes() - 1
                ));
            }
        }
        Ok(())
    }

    /// The raw output for a BGR picture already `input`-sized.
    fn forward(&mut self, input: &Mat) -> Result<Mat> {
        let blob = dnn::blob_from_image(
            input,
            1.0 / 255.0,
            Size::new(self.spec.input[0], self.spec.input[1]),
            Scalar::all(0.0),
            true,
            false,
            core::CV_32F,
        )
        .context("preparing a named detector's input")?;
        self.net
            .set_input(&blob, "", 1.0, Scalar::default())
            .context("feeding a named detector")?;
        self.net
            .forward_single("")
            .context("running a named detector")
    }

    /// Plates and faces in a full-resolution BGR frame, in its pixels.
    pub fn detect(&mut self, full: &Mat) -> Result<Vec<model::PrivacyRegion>> {
        let (width, height) = (full.cols(), full.rows());
        let fit = Letterbox::fit(width, height, self.spec.input);
        let letterboxed = letterbox(full, &fit, self.spec.input)?;
        let raw = self.forward(&letterboxed)?;
        let output = Output::read(&raw).map_err(|reason| Error::Detector {
            path: self.spec.model.clone(),
            reason,
        })?;
        let mut regions = Vec::new();
        for (class, kind) in self.spec.wanted() {
            let channel = 4 + class as usize;
            if channel >= output.channels {
                continue;
            }
            let mut boxes: Vec<([f32; 4], f32)> = (0..output.boxes)
                .filter_map(|i| {
                    let score = output.value(channel, i);
                    // NaN scores are no detection.
                    if score.is_nan() || score < self.spec.threshold {
                        return None;
                    }
                    let geometry = [0, 1, 2, 3].map(|c| output.value(c, i));
                    let rect = fit.to_frame(geometry, width, height)?;
                    Some((
                        [
                            rect.x as f32,
                            rect.y as f32,
                            (rect.x + rect.width) as f32,
                            (rect.y + rect.height) as f32,
                        ],
                        score.min(1.0),
                    ))
                })
                .collect();
            boxes.sort_by(|a, b| b.1.total_cmp(&a.1));
            boxes.truncate(MAX_BOXES_PER_CLASS);
            regions.extend(
                nms(boxes, NMS_IOU)
                    .into_iter()
                    .map(|([x1, y1, x2, y2], score)| model::PrivacyRegion {
                        kind,
                        bbox: model::ImageBox {
                            x: x1 as u32,
                            y: y1 as u32,
                            width: (x2 - x1) as u32,
                            height: (y2 - y1) as u32,
                        },
                        confidence: score,
                    }),
            );
        }
        Ok(regions)
    }
}

/// `full` resized into `input` as `fit` says, padded with grey.
fn letterbox(full: &Mat, fit: &Letterbox, input: [i32; 2]) -> Result<Mat> {
    let (w, h) = scaled_size(full.cols(), full.rows(), fit.scale);
    let mut resized = Mat::default();
    imgproc::resize(
        full,
        &mut resized,
        Size::new(w, h),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .context("resizing for a named detector")?;
    let (left, top) = (fit.pad_x as i32, fit.pad_y as i32);
    let mut padded = Mat::default();
    core::copy_make_border(
        &resized,
        &mut padded,
        top,
        input[1] - h - top,
        left,
        input[0] - w - left,
        core::BORDER_CONSTANT,
        Scalar::all(PAD_GREY),
    )
    .context("letterboxing for a named detector")?;
    Ok(padded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_frame_is_letterboxed_centred_and_boxes_map_back() {
        let fit = Letterbox::fit(1920, 1080, [640, 640]);
        assert!((fit.scale - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!((fit.pad_x, fit.pad_y), (0.0, 140.0));
        // A 60 × 20 input-px box centred at (320, 320) is the frame's centre, 180 × 60.
        let rect = fit
            .to_frame([320.0, 320.0, 60.0, 20.0], 1920, 1080)
            .unwrap();
        assert_eq!(rect, Rect::new(870, 510, 180, 60));
    }

    #[test]
    fn boxes_outside_the_frame_or_degenerate_are_dropped_and_others_clipped() {
        let fit = Letterbox::fit(1920, 1080, [640, 640]);
        // Wholly in the top padding.
        assert_eq!(fit.to_frame([320.0, 50.0, 40.0, 40.0], 1920, 1080), None);
        assert_eq!(fit.to_frame([320.0, 320.0, 0.0, 10.0], 1920, 1080), None);
        assert_eq!(fit.to_frame([f32::NAN, 320.0, 5.0, 10.0], 1920, 1080), None);
        let clipped = fit.to_frame([0.0, 320.0, 30.0, 30.0], 1920, 1080).unwrap();
        assert_eq!((clipped.x, clipped.width), (0, 45));
    }

    #[test]
    fn a_tall_frame_pads_left_and_right() {
        let fit = Letterbox::fit(540, 960, [640, 640]);
        assert_eq!(fit.pad_y, 0.0);
        assert_eq!(fit.pad_x, 140.0);
        // The left edge of the picture is input px 140.
        let rect = fit.to_frame([150.0, 320.0, 20.0, 20.0], 540, 960).unwrap();
        assert_eq!(rect, Rect::new(0, 465, 30, 30));
    }

    #[test]
    fn settings_problems_name_their_key() {
        let spec = NamedDetector {
            model: "plates.onnx".into(),
            input: [640, 640],
            plate_class: Some(0),
            face_class: None,
            threshold: 0.25,
            sha256: None,
        };
        assert!(spec.check(0).is_ok());
        let cases = [
            (
                NamedDetector {
                    input: [600, 640],
                    ..spec.clone()
                },
                "vision.detectors[2].input",
            ),
            (
                NamedDetector {
                    plate_class: None,
                    ..spec.clone()
                },
                "vision.detectors[2].plate_class",
            ),
            (
                NamedDetector {
                    threshold: 0.0,
                    ..spec.clone()
                },
                "vision.detectors[2].threshold",
            ),
            (
                NamedDetector {
                    threshold: f32::NAN,
                    ..spec.clone()
                },
                "vision.detectors[2].threshold",
            ),
            (
                NamedDetector {
                    sha256: Some("abc".into()),
                    ..spec.clone()
                },
                "vision.detectors[2].sha256",
            ),
        ];
        for (bad, key) in cases {
            let err = bad.check(2).expect_err("refused");
            assert!(err.to_string().contains(key), "{err}");
        }
    }
}
