//! The evaluation harness: runs [`crate::Vision`] over a labelled set and prints precision and
//! recall per check.
//!
//! A labelled set is a directory with `labels.json` ([`LabelledSet`]). Frames are files
//! (paths relative to the directory), optionally degraded in memory by a known
//! [`Degradation`] before analysis — so the degraded frames are generated reproducibly by this
//! code rather than committed. Sign classification is measured on GTSRB photos of the fold
//! the committed model never saw.

use std::fmt;
use std::path::Path;
use std::time::Instant;

use model::{ImageBox, PrivacyKind, QualityProblem, QualityVerdict};
use opencv::core::{self, Mat, Point, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{CvContext, Error, Result};
use crate::signs::{self, SignFeatures, SignModel};
use crate::{Vision, VisionConfig, decode, train};

/// `labels.json` of a labelled set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledSet {
    pub description: String,
    pub frames: Vec<LabelledFrame>,
    /// GTSRB directory (relative) whose held-out fold measures sign classification.
    pub gtsrb: Option<String>,
}

/// One frame of the labelled set and what a correct report says about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledFrame {
    /// Path relative to the labelled-set directory.
    pub file: String,
    #[serde(default)]
    pub degradation: Option<Degradation>,
    /// The quality problems a correct report names (broken ones count as "broken").
    #[serde(default)]
    pub problems: Vec<QualityProblem>,
    #[serde(default)]
    pub faces: Vec<ImageBox>,
    #[serde(default)]
    pub plates: Vec<ImageBox>,
    #[serde(default)]
    pub signs: Vec<LabelledSign>,
    /// Regions where detections are neither right nor wrong (tiny, out-of-focus crowds).
    #[serde(default)]
    pub ignore: Vec<ImageBox>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledSign {
    pub class_id: u8,
    pub bbox: ImageBox,
}

/// A known, reproducible way to spoil a frame (parameters relative to the frame width).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Degradation {
    /// Gaussian blur, σ = 0.4 % of the width (3.8 px on a 960 px frame).
    GaussianBlur,
    /// Horizontal motion blur over 2.5 % of the width.
    MotionBlur,
    /// Exposure cut to 12 % (three stops under).
    Darken,
    /// Exposure raised 3.5× and clipped.
    Overexpose,
    /// A dark, flat dashboard over the bottom 45 % with a curved edge.
    Dashboard,
    /// The JPEG cut to its first half.
    Truncate,
    /// Nothing at all (zero bytes).
    Empty,
    /// One flat grey frame of the same size.
    Uniform,
    /// A 1×1 pixel JPEG.
    OnePixel,
}

impl Degradation {
    /// Applies the degradation to JPEG bytes and returns the JPEG to analyse.
    pub fn apply(self, jpeg: &[u8]) -> Result<Vec<u8>> {
        match self {
            Self::Truncate => return Ok(jpeg[..jpeg.len() / 2].to_vec()),
            Self::Empty => return Ok(Vec::new()),
            _ => {}
        }
        let image = decode::decode_full(jpeg)?;
        let (w, h) = (image.cols(), image.rows());
        let mut out = Mat::default();
        match self {
            Self::GaussianBlur => {
                let sigma = f64::from(w) * 0.004;
                imgproc::gaussian_blur(
                    &image,
                    &mut out,
                    Size::new(0, 0),
                    sigma,
                    sigma,
                    core::BORDER_REFLECT,
                )
                .context("blurring")?;
            }
            Self::MotionBlur => {
                let length = ((w as f32 * 0.025) as i32).max(3);
                let kernel = Mat::new_rows_cols_with_default(
                    1,
                    length,
                    core::CV_32F,
                    Scalar::all(1.0 / f64::from(length)),
                )
                .context("building a motion kernel")?;
                imgproc::filter_2d(
                    &image,
                    &mut out,
                    -1,
                    &kernel,
                    Point::new(-1, -1),
                    0.0,
                    core::BORDER_REFLECT,
                )
                .context("motion-blurring")?;
            }
            Self::Darken => image
                .convert_to(&mut out, -1, 0.12, 0.0)
                .context("darkening")?,
            Self::Overexpose => image
                .convert_to(&mut out, -1, 3.5, 0.0)
                .context("overexposing")?,
            Self::Dashboard => {
                out = image.try_clone().context("copying")?;
                let top = (h as f32 * 0.55) as i32;
                let bulge = (h as f32 * 0.08) as i32;
                imgproc::rectangle(
                    &mut out,
                    core::Rect::new(0, top + bulge, w, h - top - bulge),
                    Scalar::new(24.0, 22.0, 20.0, 0.0),
                    -1,
                    imgproc::LINE_8,
                    0,
                )
                .context("drawing a dashboard")?;
                imgproc::ellipse(
                    &mut out,
                    Point::new(w / 2, top + bulge),
                    Size::new(w / 2 + w / 8, bulge),
                    0.0,
                    180.0,
                    360.0,
                    Scalar::new(24.0, 22.0, 20.0, 0.0),
                    -1,
                    imgproc::LINE_AA,
                    0,
                )
                .context("drawing a dashboard")?;
            }
            Self::Uniform => {
                out = Mat::new_rows_cols_with_default(h, w, core::CV_8UC3, Scalar::all(128.0))
                    .context("making a flat frame")?;
            }
            Self::OnePixel => {
                imgproc::resize(
                    &image,
                    &mut out,
                    Size::new(1, 1),
                    0.0,
                    0.0,
                    imgproc::INTER_AREA,
                )
                .context("shrinking")?;
            }
            Self::Truncate | Self::Empty => unreachable!("handled above"),
        }
        decode::encode_jpeg(&out, 90)
    }
}

/// True/false positive and false negative counts for one check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub true_positives: u32,
    pub false_positives: u32,
    pub false_negatives: u32,
}

impl Counts {
    pub fn precision(&self) -> f32 {
        let found = self.true_positives + self.false_positives;
        if found == 0 {
            1.0
        } else {
            self.true_positives as f32 / found as f32
        }
    }

    pub fn recall(&self) -> f32 {
        let actual = self.true_positives + self.false_negatives;
        if actual == 0 {
            1.0
        } else {
            self.true_positives as f32 / actual as f32
        }
    }

    fn record(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.true_positives += 1,
            (true, false) => self.false_positives += 1,
            (false, true) => self.false_negatives += 1,
            (false, false) => {}
        }
    }
}

/// Precision and recall per check over a labelled set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// (check name, counts) in display order.
    pub checks: Vec<(String, Counts)>,
    pub frames: usize,
    /// Frames whose report disagreed with the labels, with what differed.
    pub mistakes: Vec<String>,
    /// Seconds spent in `analyze` over all frames.
    pub analyze_seconds: f64,
    /// Over the frames labelled with faces or plates: the fraction of their pixels blurred
    /// outside every labelled face and plate (and outside `ignore` boxes).
    pub blurred_outside_targets: f64,
    /// Frames with no face or plate labelled are not scored for privacy: how many regions
    /// were blurred on them, and the fraction of their pixels blurred.
    pub unlabelled_regions: usize,
    pub blurred_unlabelled: f64,
}

fn fraction(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl EvalReport {
    pub fn counts(&self, check: &str) -> Option<Counts> {
        self.checks
            .iter()
            .find(|(name, _)| name == check)
            .map(|(_, c)| *c)
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} labelled frames; faces and plates count as found when at least {:.0} % of the box is blurred",
            self.frames,
            COVERED_FRACTION * 100.0
        )?;
        writeln!(f, "| check | precision | recall | TP | FP | FN |")?;
        writeln!(f, "|---|---|---|---|---|---|")?;
        for (name, c) in &self.checks {
            writeln!(
                f,
                "| {name} | {:.3} | {:.3} | {} | {} | {} |",
                c.precision(),
                c.recall(),
                c.true_positives,
                c.false_positives,
                c.false_negatives
            )?;
        }
        writeln!(
            f,
            "faces and plates are scored on the frames where they are labelled; there, blurred outside any labelled face or plate: {:.2} % of the pixels",
            self.blurred_outside_targets * 100.0
        )?;
        writeln!(
            f,
            "on the other frames: {} regions blurred, {:.2} % of the pixels (distant cars' plate zones, people's heads, false alarms)",
            self.unlabelled_regions,
            self.blurred_unlabelled * 100.0
        )?;
        for mistake in &self.mistakes {
            writeln!(f, "- {mistake}")?;
        }
        Ok(())
    }
}

const QUALITY_CHECKS: [(&str, QualityProblem); 4] = [
    ("blurred", QualityProblem::Blurred),
    ("too_dark", QualityProblem::TooDark),
    ("overexposed", QualityProblem::Overexposed),
    ("obstructed", QualityProblem::Obstructed),
];

/// Evaluates the default [`VisionConfig`] on the labelled set in `dir`.
pub fn evaluate(dir: &Path) -> Result<EvalReport> {
    evaluate_with(dir, VisionConfig::default())
}

/// Evaluates `config` on the labelled set in `dir`.
pub fn evaluate_with(dir: &Path, config: VisionConfig) -> Result<EvalReport> {
    let labels_path = dir.join("labels.json");
    let text = std::fs::read_to_string(&labels_path).map_err(|source| Error::Io {
        path: labels_path.clone(),
        source,
    })?;
    let set: LabelledSet = serde_json::from_str(&text).map_err(|err| Error::LabelledSet {
        path: labels_path.clone(),
        reason: err.to_string(),
    })?;
    let sign_model_path = config.sign_model.clone();
    let vision = Vision::new(config)?;
    let mut counts: Vec<(String, Counts)> = QUALITY_CHECKS
        .iter()
        .map(|(name, _)| ((*name).to_owned(), Counts::default()))
        .collect();
    let mut broken = Counts::default();
    let mut faces = Counts::default();
    let mut plates = Counts::default();
    let mut sign_detection = Counts::default();
    let mut mistakes = Vec::new();
    let mut analyze_seconds = 0.0;
    let (mut outside, mut privacy_pixels) = (0u64, 0u64);
    let (mut unlabelled_regions, mut unlabelled_blurred, mut unlabelled_pixels) =
        (0usize, 0u64, 0u64);
    for frame in &set.frames {
        let path = dir.join(&frame.file);
        let original = crate::read(&path)?;
        let bytes = match frame.degradation {
            Some(degradation) => degradation.apply(&original)?,
            None => original,
        };
        let started = Instant::now();
        let analyzed = vision.analyze(&bytes)?;
        analyze_seconds += started.elapsed().as_secs_f64();
        let report = &analyzed.report;
        let name = match frame.degradation {
            Some(d) => format!("{} ({d:?})", frame.file),
            None => frame.file.clone(),
        };
        for ((check, problem), (_, c)) in QUALITY_CHECKS.iter().zip(counts.iter_mut()) {
            let predicted = report.quality.problems.contains(problem);
            let actual = frame.problems.contains(problem);
            c.record(predicted, actual);
            if predicted != actual {
                mistakes.push(format!(
                    "{name}: {check} predicted {predicted}, labelled {actual} ({:?})",
                    report.quality.measures
                ));
            }
        }
        let predicted_broken = report.quality.verdict == QualityVerdict::Broken;
        let actual_broken = frame.problems.iter().any(|p| p.is_broken());
        broken.record(predicted_broken, actual_broken);
        if predicted_broken != actual_broken {
            mistakes.push(format!(
                "{name}: broken predicted {predicted_broken}, labelled {actual_broken}"
            ));
        }
        if !frame.faces.is_empty() || !frame.plates.is_empty() {
            let blurred = BlurMask::of(report);
            let targets: Vec<ImageBox> = frame
                .faces
                .iter()
                .chain(&frame.plates)
                .chain(&frame.ignore)
                .copied()
                .collect();
            outside += blurred.count_outside(&targets);
            privacy_pixels += u64::from(report.width) * u64::from(report.height);
            for (kind, labelled, c) in [
                (PrivacyKind::Face, &frame.faces, &mut faces),
                (PrivacyKind::LicencePlate, &frame.plates, &mut plates),
            ] {
                score_privacy(
                    report,
                    &blurred,
                    kind,
                    labelled,
                    &frame.ignore,
                    c,
                    &name,
                    &mut mistakes,
                );
            }
        } else {
            // No face or plate is labelled here (highway frames whose distant cars' plates are
            // a few pixels): what is blurred is counted as cost, not scored.
            unlabelled_regions += report.privacy.len();
            unlabelled_blurred += BlurMask::of(report).count_outside(&[]);
            unlabelled_pixels += u64::from(report.width) * u64::from(report.height);
        }
        for detected in &report.signs {
            let matched = frame
                .signs
                .iter()
                .any(|s| s.class_id == detected.class_id && s.bbox.iou(&detected.bbox) >= 0.3);
            sign_detection.record(true, matched);
            if !matched {
                mistakes.push(format!(
                    "{name}: unexpected sign {:?} ({}) at {:?}",
                    detected.class_name, detected.confidence, detected.bbox
                ));
            }
        }
        for labelled in &frame.signs {
            let found = report
                .signs
                .iter()
                .any(|s| s.class_id == labelled.class_id && s.bbox.iou(&labelled.bbox) >= 0.3);
            if !found {
                sign_detection.false_negatives += 1;
                mistakes.push(format!(
                    "{name}: missed sign class {} at {:?}",
                    labelled.class_id, labelled.bbox
                ));
            }
        }
    }
    counts.push(("broken".into(), broken));
    counts.push(("faces".into(), faces));
    counts.push(("plates".into(), plates));
    counts.push(("sign detection (frames)".into(), sign_detection));
    if let Some(gtsrb) = &set.gtsrb {
        let classification = classify_held_out(&dir.join(gtsrb), &sign_model_path, &mut mistakes)?;
        counts.push((
            "sign classification (GTSRB held-out)".into(),
            classification,
        ));
    }
    Ok(EvalReport {
        checks: counts,
        frames: set.frames.len(),
        mistakes,
        analyze_seconds,
        blurred_outside_targets: fraction(outside, privacy_pixels),
        unlabelled_regions,
        blurred_unlabelled: fraction(unlabelled_blurred, unlabelled_pixels),
    })
}

/// A labelled face or plate counts as found when at least this fraction of its box is blurred.
pub const COVERED_FRACTION: f64 = 0.9;

/// Which pixels of a frame the public copy blurred (every region, padded as it is blurred).
struct BlurMask {
    width: usize,
    blurred: Vec<bool>,
}

impl BlurMask {
    fn of(report: &model::FrameReport) -> Self {
        let (width, height) = (report.width as usize, report.height as usize);
        let mut blurred = vec![false; width * height];
        for region in &report.privacy {
            let b = crate::privacy::padded(
                region.bbox,
                crate::privacy::BLUR_PADDING,
                report.width,
                report.height,
            );
            for y in b.y as usize..(b.y + b.height) as usize {
                blurred[y * width + b.x as usize..y * width + (b.x + b.width) as usize].fill(true);
            }
        }
        Self { width, blurred }
    }

    /// Fraction of `b`'s pixels (clipped to the frame) that are blurred.
    fn covered(&self, b: &ImageBox) -> f64 {
        let height = self.blurred.len() / self.width.max(1);
        let (x0, y0) = ((b.x as usize).min(self.width), (b.y as usize).min(height));
        let x1 = ((b.x + b.width) as usize).min(self.width);
        let y1 = ((b.y + b.height) as usize).min(height);
        let total = (x1 - x0) * (y1 - y0);
        if total == 0 {
            return 0.0;
        }
        let hit: usize = (y0..y1)
            .map(|y| {
                self.blurred[y * self.width + x0..y * self.width + x1]
                    .iter()
                    .filter(|b| **b)
                    .count()
            })
            .sum();
        hit as f64 / total as f64
    }

    /// Blurred pixels outside every box of `targets`.
    fn count_outside(&self, targets: &[ImageBox]) -> u64 {
        let mut count = 0u64;
        for (at, blurred) in self.blurred.iter().enumerate() {
            if !blurred {
                continue;
            }
            let (x, y) = ((at % self.width) as u32, (at / self.width) as u32);
            let in_target = targets
                .iter()
                .any(|t| x >= t.x && x < t.x + t.width && y >= t.y && y < t.y + t.height);
            if !in_target {
                count += 1;
            }
        }
        count
    }
}

/// Recall: a labelled box is found when [`COVERED_FRACTION`] of it is blurred (by any
/// region: a face under a head-region blur is as private as one under a face box).
/// Precision: a region of `kind` is right when it overlaps a labelled box of that kind; one
/// centred in an `ignore` box is neither right nor wrong.
#[allow(clippy::too_many_arguments)]
fn score_privacy(
    report: &model::FrameReport,
    blurred: &BlurMask,
    kind: PrivacyKind,
    labelled: &[ImageBox],
    ignore: &[ImageBox],
    counts: &mut Counts,
    name: &str,
    mistakes: &mut Vec<String>,
) {
    for target in labelled {
        let covered = blurred.covered(target);
        if covered >= COVERED_FRACTION {
            counts.true_positives += 1;
        } else {
            counts.false_negatives += 1;
            mistakes.push(format!(
                "{name}: {kind:?} at {target:?} only {:.0} % blurred",
                covered * 100.0
            ));
        }
    }
    for region in report.privacy.iter().filter(|r| r.kind == kind) {
        let right = labelled.iter().any(|l| l.iou(&region.bbox) > 0.0);
        let b = region.bbox;
        let (cx, cy) = (b.x + b.width / 2, b.y + b.height / 2);
        let ignored = ignore
            .iter()
            .any(|i| cx >= i.x && cx < i.x + i.width && cy >= i.y && cy < i.y + i.height);
        if !right && !ignored {
            counts.false_positives += 1;
            mistakes.push(format!("{name}: unexpected {kind:?} at {b:?}"));
        }
    }
}

/// The classifier on the held-out GTSRB fold (one photo per class), counts summed over the 43
/// classes: a wrong class is a false positive (for the class claimed) and a false negative.
fn classify_held_out(
    gtsrb: &Path,
    model_path: &Path,
    mistakes: &mut Vec<String>,
) -> Result<Counts> {
    let model = SignModel::load(model_path)?;
    let features = SignFeatures::new()?;
    let mut counts = Counts::default();
    for photo in train::gtsrb_photos(gtsrb)?
        .iter()
        .filter(|p| p.fold == train::HELD_OUT_FOLD)
    {
        let image = train::read_bgr(&photo.path)?;
        let (predicted, confidence) =
            signs::argmax(&model.probabilities(&features.extract(&image)?));
        if predicted == photo.class_id {
            counts.true_positives += 1;
        } else {
            // A wrong class is a false positive for that class and a false negative for the truth;
            // "background" is only a false negative.
            if predicted != signs::BACKGROUND {
                counts.false_positives += 1;
            }
            counts.false_negatives += 1;
            mistakes.push(format!(
                "GTSRB {}: class {} classified as {predicted} ({confidence:.2})",
                photo.path.display(),
                photo.class_id
            ));
        }
    }
    Ok(counts)
}
