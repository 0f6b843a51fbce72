//! What the vision stage says about one frame: quality, privacy regions, traffic signs.
//!
//! Plain serde data, no OpenCV types: `vision` produces a [`FrameReport`], `ingest` stores it
//! and decides what to accept, `tiles` and search show the signs. Boxes are in pixels of the
//! full-resolution frame. The blurred JPEG travels beside the report in an [`AnalyzedFrame`]
//! because it is a blob, not a row.

use serde::{Deserialize, Serialize};

/// The vision stage's findings for one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameReport {
    /// Width of the full-resolution frame in pixels (0 when the header could not be read).
    pub width: u32,
    /// Height of the full-resolution frame in pixels (0 when the header could not be read).
    pub height: u32,
    pub quality: QualityReport,
    /// Faces and licence plates found; every one of them is blurred in the public copy.
    pub privacy: Vec<PrivacyRegion>,
    pub signs: Vec<SignDetection>,
}

impl FrameReport {
    /// A report for a frame that cannot be analysed at all: no regions, no signs, score 0.
    pub fn broken(width: u32, height: u32, problem: QualityProblem) -> Self {
        Self {
            width,
            height,
            quality: QualityReport {
                verdict: QualityVerdict::Broken,
                score: 0.0,
                problems: vec![problem],
                measures: QualityMeasures::default(),
            },
            privacy: Vec::new(),
            signs: Vec::new(),
        }
    }
}

/// A report together with the only version of the frame that may ever be made public.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzedFrame {
    pub report: FrameReport,
    /// The frame re-encoded as JPEG with every privacy region blurred and the original EXIF
    /// kept (without its thumbnail and maker notes); `None` when the frame is broken
    /// (nothing of it may be published).
    pub public_jpeg: Option<Vec<u8>>,
}

/// The overall judgement on a frame's usefulness for mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityVerdict {
    /// No problem found.
    Good,
    /// Usable but degraded (blurred, badly exposed or partly obstructed).
    Poor,
    /// Not an image that can be used at all (see the [`QualityProblem`] for why).
    Broken,
}

/// A named problem with a frame. Slugs (`snake_case`) are stable once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityProblem {
    /// Motion blur or defocus: too little fine detail.
    Blurred,
    /// Underexposed: most of the frame is near black.
    TooDark,
    /// Overexposed: most of the frame is clipped white.
    Overexposed,
    /// A hood, dashboard or wiper fills a large part of the view.
    Obstructed,
    /// Broken: the JPEG data ends before the end-of-image marker.
    Truncated,
    /// Broken: the frame is one flat colour (lens cap, dead sensor).
    Uniform,
    /// Broken: the frame is too small to show a road.
    Tiny,
    /// Broken: the header declares dimensions no dashcam produces; not decoded.
    Oversized,
    /// Broken: not a decodable JPEG (empty, another format, corrupt).
    Undecodable,
}

impl QualityProblem {
    /// Whether this problem makes the frame unusable rather than merely poor.
    pub fn is_broken(self) -> bool {
        matches!(
            self,
            Self::Truncated | Self::Uniform | Self::Tiny | Self::Oversized | Self::Undecodable
        )
    }
}

/// Quality verdict, score and the measurements they were derived from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    pub verdict: QualityVerdict,
    /// 1.0 for a clean frame, 0.0 for a broken one; rewards multiply by it.
    pub score: f32,
    pub problems: Vec<QualityProblem>,
    pub measures: QualityMeasures,
}

/// The raw measurements behind a quality verdict, kept so thresholds can be re-tuned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityMeasures {
    /// Sharpness: the smallest over four directions of the variance of the second derivative,
    /// at the fixed analysis width (640 px).
    pub sharpness: f32,
    /// Mean luminance, 0–255.
    pub mean_luma: f32,
    /// Fraction of pixels at or below the shadow clip level.
    pub shadow_clipped: f32,
    /// Fraction of pixels at or above the highlight clip level.
    pub highlight_clipped: f32,
    /// Fraction of the frame covered by flat regions touching its edges.
    pub obstructed: f32,
}

/// A rectangle in pixels of the full-resolution frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl ImageBox {
    /// Area in pixels.
    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Intersection over union with another box (0 when disjoint).
    pub fn iou(&self, other: &ImageBox) -> f32 {
        let left = self.x.max(other.x);
        let top = self.y.max(other.y);
        let right = (self.x + self.width).min(other.x + other.width);
        let bottom = (self.y + self.height).min(other.y + other.height);
        if right <= left || bottom <= top {
            return 0.0;
        }
        let inter = u64::from(right - left) * u64::from(bottom - top);
        let union = self.area() + other.area() - inter;
        inter as f32 / union as f32
    }
}

/// What a privacy region hides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyKind {
    Face,
    LicencePlate,
}

/// A face or plate found in a frame; blurred (with padding) in the public copy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrivacyRegion {
    pub kind: PrivacyKind,
    /// The detected box, before padding.
    pub bbox: ImageBox,
    /// Detector confidence 0–1 (1.0 for cascade detectors, which give none).
    pub confidence: f32,
}

/// A traffic sign found in a frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignDetection {
    /// GTSRB class id, 0–42.
    pub class_id: u8,
    /// Human-readable class name, e.g. "stop".
    pub class_name: String,
    /// Classifier confidence 0–1.
    pub confidence: f32,
    pub bbox: ImageBox,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_serialise_as_stable_slugs() {
        let json = serde_json::to_string(&[QualityProblem::TooDark, QualityProblem::Undecodable])
            .expect("serialises");
        assert_eq!(json, r#"["too_dark","undecodable"]"#);
        assert!(QualityProblem::Truncated.is_broken());
        assert!(!QualityProblem::Blurred.is_broken());
    }

    #[test]
    fn iou_of_overlapping_and_disjoint_boxes() {
        let a = ImageBox {
            x: 0,
            y: 0,
            width: 10,
            height: 10,
        };
        let b = ImageBox {
            x: 5,
            y: 0,
            width: 10,
            height: 10,
        };
        let c = ImageBox {
            x: 50,
            y: 50,
            width: 1,
            height: 1,
        };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&c), 0.0);
        assert_eq!(a.iou(&a), 1.0);
    }

    #[test]
    fn report_round_trips_through_json() {
        let report = FrameReport {
            width: 3840,
            height: 2160,
            quality: QualityReport {
                verdict: QualityVerdict::Poor,
                score: 0.4,
                problems: vec![QualityProblem::Blurred],
                measures: QualityMeasures::default(),
            },
            privacy: vec![PrivacyRegion {
                kind: PrivacyKind::LicencePlate,
                bbox: ImageBox {
                    x: 1,
                    y: 2,
                    width: 3,
                    height: 4,
                },
                confidence: 1.0,
            }],
            signs: vec![SignDetection {
                class_id: 14,
                class_name: "stop".into(),
                confidence: 0.9,
                bbox: ImageBox {
                    x: 3000,
                    y: 1100,
                    width: 130,
                    height: 130,
                },
            }],
        };
        let json = serde_json::to_string(&report).expect("serialises");
        let back: FrameReport = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, report);
    }
}
