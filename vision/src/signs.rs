//! Traffic signs: candidate regions by colour (red, blue, yellow in HSV) and shape (circle,
//! triangle, octagon, diamond), then a linear classifier over HOG and colour features for the
//! 43 GTSRB classes plus a "background" class that rejects sign-coloured clutter.
//!
//! The classifier is linear: linear discriminant analysis (LDA, one covariance shared by the
//! 43 classes) names the class, and a logistic regression scores "background, not a sign";
//! [`crate::train`] builds both reproducibly from `datasets/images/gtsrb/` and they are stored
//! as JSON in `vision/models/signs.json`.

use std::f64::consts::PI;
use std::path::Path;

use opencv::core::{self, Mat, Point, Rect, Scalar, Size, Vector};
use opencv::prelude::*;
use opencv::{imgproc, objdetect};
use serde::{Deserialize, Serialize};

use crate::error::{CvContext, Error, Result};
use crate::objects::{ObjectKind, Proposal};
use model::ImageBox;

/// The format tag written into every sign model.
pub const MODEL_FORMAT: &str = "waymark-signs-v2";
/// Side (px) of the square patch a candidate is resized to, as in GTSRB.
pub const PATCH: i32 = 32;
/// Margin added on every side of a colour blob before classifying (GTSRB crops have ~15%).
const CROP_MARGIN: f32 = 0.15;
/// Index of the background (not a sign) class, after the 43 GTSRB classes.
pub const BACKGROUND: usize = 43;

/// Names of the 43 GTSRB classes by id.
pub const GTSRB_CLASSES: [&str; 43] = [
    "speed limit 20",
    "speed limit 30",
    "speed limit 50",
    "speed limit 60",
    "speed limit 70",
    "speed limit 80",
    "end of speed limit 80",
    "speed limit 100",
    "speed limit 120",
    "no passing",
    "no passing for vehicles over 3.5 t",
    "right of way at the next intersection",
    "priority road",
    "yield",
    "stop",
    "no vehicles",
    "vehicles over 3.5 t prohibited",
    "no entry",
    "general caution",
    "dangerous curve to the left",
    "dangerous curve to the right",
    "double curve",
    "bumpy road",
    "slippery road",
    "road narrows on the right",
    "road work",
    "traffic signals",
    "pedestrians",
    "children crossing",
    "bicycles crossing",
    "beware of ice or snow",
    "wild animals crossing",
    "end of all speed and passing limits",
    "turn right ahead",
    "turn left ahead",
    "ahead only",
    "go straight or right",
    "go straight or left",
    "keep right",
    "keep left",
    "roundabout mandatory",
    "end of no passing",
    "end of no passing by vehicles over 3.5 t",
];

/// A trained linear sign classifier, as stored on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignModel {
    pub format: String,
    /// How this model was built (command, seed, data, held-out accuracy).
    pub provenance: String,
    /// Per-feature mean and inverse standard deviation used to standardise inputs.
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
    /// LDA's linear discriminant of each of the 43 GTSRB classes: weights and bias.
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
    /// Logistic regression of "background, not a sign": weights and bias.
    pub background_weights: Vec<f32>,
    pub background_bias: f32,
}

impl SignModel {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |reason: String| Error::SignModel {
            path: path.to_path_buf(),
            reason,
        };
        let model: SignModel =
            serde_json::from_str(&text).map_err(|err| invalid(err.to_string()))?;
        if model.format != MODEL_FORMAT {
            return Err(invalid(format!(
                "format is {:?}, expected {MODEL_FORMAT:?}",
                model.format
            )));
        }
        let features = model.mean.len();
        let consistent = features == FEATURES
            && model.inv_std.len() == features
            && model.weights.len() == BACKGROUND
            && model.bias.len() == BACKGROUND
            && model.weights.iter().all(|row| row.len() == features)
            && model.background_weights.len() == features;
        if !consistent {
            return Err(invalid(format!(
                "weight dimensions do not match {FEATURES} features and {BACKGROUND} classes; \
                 rebuild it with `cargo run --release -p vision --example build_sign_model`"
            )));
        }
        Ok(model)
    }

    /// Probabilities of the 43 GTSRB classes, then of background, for one feature vector: the
    /// background score, and the class posterior (softmax of the discriminants) for the rest.
    pub fn probabilities(&self, features: &[f32]) -> Vec<f32> {
        let standardized: Vec<f32> = features
            .iter()
            .zip(self.mean.iter().zip(&self.inv_std))
            .map(|(x, (m, s))| (x - m) * s)
            .collect();
        let score = |row: &[f32], bias: f32| {
            bias + row
                .iter()
                .zip(&standardized)
                .map(|(w, x)| w * x)
                .sum::<f32>()
        };
        let background =
            1.0 / (1.0 + (-score(&self.background_weights, self.background_bias)).exp());
        let logits: Vec<f32> = self
            .weights
            .iter()
            .zip(&self.bias)
            .map(|(row, &b)| score(row, b))
            .collect();
        let mut probabilities: Vec<f32> = softmax(&logits)
            .into_iter()
            .map(|p| p * (1.0 - background))
            .collect();
        probabilities.push(background);
        probabilities
    }
}

pub(crate) fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// Turns a sign patch into the classifier's feature vector: HOG of the whole sign (its outline),
/// finer HOG of its centre (the pictogram: digits, arrows, symbols) and of the lower centre
/// where a warning triangle's symbol sits, the centre's grey levels as a thumbnail, and a
/// coarse colour layout. Every grey image is histogram-equalised, so dark and washed-out photos
/// look alike.
#[allow(missing_debug_implementations)]
pub struct SignFeatures {
    outline: objdetect::HOGDescriptor,
    pictogram: objdetect::HOGDescriptor,
}

/// The centre square of the 32×32 patch that holds the pictogram inside the rim.
const PICTOGRAM: Rect = Rect {
    x: 7,
    y: 7,
    width: 18,
    height: 18,
};
/// The symbol inside a warning triangle: the triangle's centroid is below the patch centre.
const TRIANGLE_SYMBOL: Rect = Rect {
    x: 9,
    y: 12,
    width: 14,
    height: 14,
};
/// Side (px) the pictogram and the triangle symbol are resampled to before their HOG.
const PICTOGRAM_SIDE: i32 = 24;
/// Side (px) of the pictogram's grey thumbnail.
const THUMBNAIL: i32 = 12;
/// Length of a feature vector: outline HOG (3×3 blocks of 4 cells × 9 bins), pictogram and
/// triangle-symbol HOG (5×5 blocks of 4 cells × 9 bins each), the pictogram's 12×12 grey
/// thumbnail, then hue (cos, sin) and value of a 4×4 colour thumbnail.
pub const FEATURES: usize = 3 * 3 * 36 + 2 * 5 * 5 * 36 + 12 * 12 + 4 * 4 * 3;

impl SignFeatures {
    pub fn new() -> Result<Self> {
        let outline = objdetect::HOGDescriptor::new_def(
            Size::new(PATCH, PATCH),
            Size::new(16, 16),
            Size::new(8, 8),
            Size::new(8, 8),
            9,
        )
        .context("creating the HOG descriptor")?;
        let pictogram = objdetect::HOGDescriptor::new_def(
            Size::new(PICTOGRAM_SIDE, PICTOGRAM_SIDE),
            Size::new(8, 8),
            Size::new(4, 4),
            Size::new(4, 4),
            9,
        )
        .context("creating the HOG descriptor")?;
        Ok(Self { outline, pictogram })
    }

    /// Features of a BGR patch of any size (it is resized to 32×32).
    pub fn extract(&self, bgr: &impl core::ToInputArray) -> Result<Vec<f32>> {
        let mut patch = Mat::default();
        imgproc::resize(
            bgr,
            &mut patch,
            Size::new(PATCH, PATCH),
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )
        .context("resizing a sign patch")?;
        let mut gray = Mat::default();
        imgproc::cvt_color_def(&patch, &mut gray, imgproc::COLOR_BGR2GRAY)
            .context("converting to gray")?;
        let mut features = Vec::with_capacity(FEATURES);
        let whole = equalized(&gray)?;
        hog(&self.outline, &whole, &mut features)?;
        let centre = equalized(&resized_roi(&gray, PICTOGRAM, PICTOGRAM_SIDE)?)?;
        hog(&self.pictogram, &centre, &mut features)?;
        let symbol = equalized(&resized_roi(&gray, TRIANGLE_SYMBOL, PICTOGRAM_SIDE)?)?;
        hog(&self.pictogram, &symbol, &mut features)?;
        let mut thumbnail = Mat::default();
        imgproc::resize(
            &centre,
            &mut thumbnail,
            Size::new(THUMBNAIL, THUMBNAIL),
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )
        .context("resizing the pictogram")?;
        let grey_levels = thumbnail.data_bytes().context("reading the pictogram")?;
        features.extend(grey_levels.iter().map(|&v| f32::from(v) / 255.0));
        let mut tiny = Mat::default();
        imgproc::resize(
            &patch,
            &mut tiny,
            Size::new(4, 4),
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )
        .context("resizing a sign patch")?;
        let mut hsv = Mat::default();
        imgproc::cvt_color_def(&tiny, &mut hsv, imgproc::COLOR_BGR2HSV)
            .context("converting to HSV")?;
        for pixel in hsv
            .data_bytes()
            .context("reading a sign patch")?
            .chunks_exact(3)
        {
            // Hue on the unit circle (it wraps at red), weighted by saturation; then value.
            let hue = f64::from(pixel[0]) * PI / 90.0;
            let saturation = f32::from(pixel[1]) / 255.0;
            features.push(hue.cos() as f32 * saturation);
            features.push(hue.sin() as f32 * saturation);
            features.push(f32::from(pixel[2]) / 255.0);
        }
        Ok(features)
    }
}

/// The `rect` part of `gray`, resampled to a `side`×`side` square.
fn resized_roi(gray: &Mat, rect: Rect, side: i32) -> Result<Mat> {
    let mut out = Mat::default();
    imgproc::resize(
        &Mat::roi(gray, rect).context("cropping a sign patch")?,
        &mut out,
        Size::new(side, side),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )
    .context("resizing a part of a sign patch")?;
    Ok(out)
}

fn equalized(gray: &Mat) -> Result<Mat> {
    let mut out = Mat::default();
    imgproc::equalize_hist(gray, &mut out).context("equalising a sign patch")?;
    Ok(out)
}

fn hog(descriptor: &objdetect::HOGDescriptor, gray: &Mat, features: &mut Vec<f32>) -> Result<()> {
    let mut descriptors: Vector<f32> = Vector::new();
    descriptor
        .compute(
            gray,
            &mut descriptors,
            Size::default(),
            Size::default(),
            &Vector::<Point>::new(),
        )
        .context("computing HOG features")?;
    features.extend(descriptors.iter());
    Ok(())
}

/// A colour blob that may be a sign, in the analysed image's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub rect: Rect,
    pub colour: SignColour,
    pub shape: SignShape,
    /// Round and mostly of its colour inside its outline ([`SOLID_SHARE`]), not a rim.
    pub solid: bool,
}

/// The outline of a candidate blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignShape {
    /// Circle or octagon (high circularity).
    Round,
    /// Three corners: warning signs, yield.
    Triangle,
    /// Four corners: the priority-road diamond.
    Quad,
    /// Anything else that still looks compact enough.
    Other,
}

impl SignShape {
    /// Whether GTSRB class `class_id` can have this outline; `Other` rules nothing out.
    pub fn fits(self, class_id: usize) -> bool {
        match self {
            Self::Round => !matches!(class_id, 11 | 12 | 13 | 18..=31),
            Self::Triangle => matches!(class_id, 11 | 13 | 18..=31),
            Self::Quad => class_id == 12,
            Self::Other => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignColour {
    Red,
    Blue,
    Yellow,
}

impl SignColour {
    /// Whether GTSRB class `class_id` has this colour: red rims (prohibitions, warnings, yield,
    /// stop, no entry), blue discs (mandatory directions), the yellow priority-road diamond.
    /// The four white-and-grey "end of" classes (6, 32, 41, 42) have no sign colour.
    pub fn fits(self, class_id: usize) -> bool {
        match self {
            Self::Red => matches!(class_id, 0..=5 | 7..=11 | 13..=31),
            Self::Blue => matches!(class_id, 33..=40),
            Self::Yellow => class_id == 12,
        }
    }
}

/// Narrowest candidate blob, width over height (a round sign seen at 50° from its face).
pub const MIN_ASPECT: f64 = 0.6;
/// Widest candidate blob, width over height (a triangle, 1.15, and a blob's slack).
pub const MAX_ASPECT: f64 = 1.3;
/// Share of a round red blob's convex hull that is red from which it is a solid red sign
/// (STOP, no entry: their white legend is a fifth of the face) rather than a red rim round
/// a white face (a round sign's rim is about a third of it).
pub const SOLID_SHARE: f64 = 0.6;

/// Sign-coloured, sign-shaped blobs in a BGR image.
pub fn candidates(bgr: &Mat, min_side: i32) -> Result<Vec<Candidate>> {
    let mut hsv = Mat::default();
    imgproc::cvt_color_def(bgr, &mut hsv, imgproc::COLOR_BGR2HSV).context("converting to HSV")?;
    expose_for_colour(&mut hsv)?;
    let max_side = bgr.cols().min(bgr.rows()) / 3;
    let kernel = imgproc::get_structuring_element(
        imgproc::MORPH_ELLIPSE,
        Size::new(3, 3),
        Point::new(-1, -1),
    )
    .context("building a morphology kernel")?;
    let mut found = Vec::new();
    for colour in [SignColour::Red, SignColour::Blue, SignColour::Yellow] {
        let mask = colour_mask(&hsv, colour)?;
        let mut closed = Mat::default();
        imgproc::morphology_ex(
            &mask,
            &mut closed,
            imgproc::MORPH_CLOSE,
            &kernel,
            Point::new(-1, -1),
            1,
            core::BORDER_CONSTANT,
            imgproc::morphology_default_border_value().context("morphology")?,
        )
        .context("closing the colour mask")?;
        let mut contours: Vector<Vector<Point>> = Vector::new();
        imgproc::find_contours(
            &closed,
            &mut contours,
            imgproc::RETR_EXTERNAL,
            imgproc::CHAIN_APPROX_SIMPLE,
            Point::new(0, 0),
        )
        .context("finding colour blobs")?;
        for contour in contours.iter() {
            let rect = imgproc::bounding_rect(&contour).context("bounding a blob")?;
            if rect.width < min_side
                || rect.height < min_side
                || rect.width > max_side
                || rect.height > max_side
            {
                continue;
            }
            // A sign's face is never much wider than tall: an equilateral warning triangle
            // is 1.15 times as wide, a yield sign the same, every other class as wide as
            // tall, and seen at an angle from the road a sign only gets narrower. Wider
            // blobs are bumpers, awnings, jerseys and signs merged with clutter.
            let aspect = rect.width as f64 / rect.height as f64;
            if !(MIN_ASPECT..=MAX_ASPECT).contains(&aspect) {
                continue;
            }
            let area = imgproc::contour_area(&contour, false).context("measuring a blob")?;
            let fill = area / f64::from(rect.width * rect.height);
            let perimeter = imgproc::arc_length(&contour, true).context("measuring a blob")?;
            let circularity = 4.0 * PI * area / (perimeter * perimeter).max(1.0);
            let mut polygon: Vector<Point> = Vector::new();
            imgproc::approx_poly_dp(&contour, &mut polygon, 0.04 * perimeter, true)
                .context("approximating a blob")?;
            let vertices = polygon.len();
            let round = circularity > 0.6 && fill > 0.55; // circle or octagon
            let polygonal = (3..=8).contains(&vertices) && fill > 0.4; // triangle, diamond
            let shape = match vertices {
                _ if round => SignShape::Round,
                3 => SignShape::Triangle,
                4 => SignShape::Quad,
                _ => SignShape::Other,
            };
            // The priority-road diamond is the only yellow class: a yellow blob must be one.
            let plausible = colour != SignColour::Yellow || shape == SignShape::Quad;
            if (round || polygonal) && plausible {
                // Of the blob's convex hull, so a broken rim's arc is not solid either.
                let mut hull: Vector<Point> = Vector::new();
                imgproc::convex_hull(&contour, &mut hull, false, true)
                    .context("measuring a blob's colour")?;
                let hull_area =
                    imgproc::contour_area(&hull, false).context("measuring a blob's colour")?;
                let coloured = core::count_non_zero(
                    &Mat::roi(&closed, rect).context("measuring a blob's colour")?,
                )
                .context("measuring a blob's colour")?;
                // Only round blobs: the solid classes are round (STOP's octagon, no entry's
                // disc), and a warning triangle's rim is over half its face.
                let solid = shape == SignShape::Round
                    && f64::from(coloured) >= SOLID_SHARE * hull_area.max(1.0);
                found.push(Candidate {
                    rect,
                    colour,
                    shape,
                    solid,
                });
            }
        }
    }
    Ok(found)
}

/// The brightness (HSV value, 0–255) an image's brightest percent is brought up to before
/// the colour thresholds: a sign in a frame shot at dusk or three stops under is as red as
/// by day, only darker than the thresholds' floor.
const EXPOSED_VALUE: f64 = 200.0;
/// The most an image's brightness is raised (past it, sensor noise is all there is).
const MAX_EXPOSURE_GAIN: f64 = 8.0;

/// Raises the value channel of an underexposed HSV image so that its 99th percentile is
/// [`EXPOSED_VALUE`] (hue and saturation are ratios, unchanged by exposure); a normally
/// exposed image is left as it is.
fn expose_for_colour(hsv: &mut Mat) -> Result<()> {
    let bright = value_percentile(hsv, 0.99)?;
    let gain = (EXPOSED_VALUE / f64::from(bright.max(1))).min(MAX_EXPOSURE_GAIN);
    if gain <= 1.0 {
        return Ok(());
    }
    let mut channels: Vector<Mat> = Vector::new();
    core::split(hsv, &mut channels).context("splitting HSV")?;
    let mut value = Mat::default();
    channels
        .get(2)
        .context("splitting HSV")?
        .convert_to(&mut value, -1, gain, 0.0)
        .context("raising the exposure")?;
    channels.set(2, value).context("raising the exposure")?;
    core::merge(&channels, hsv).context("merging HSV")?;
    Ok(())
}

/// The value (HSV's third channel) below which `share` of an HSV image's pixels lie.
fn value_percentile(hsv: &Mat, share: f64) -> Result<u8> {
    let mut histogram = [0u64; 256];
    let bytes = hsv.data_bytes().context("reading HSV pixels")?;
    for pixel in bytes.chunks_exact(3) {
        histogram[usize::from(pixel[2])] += 1;
    }
    let wanted = ((bytes.len() / 3) as f64 * share).ceil() as u64;
    let mut seen = 0;
    for (value, count) in histogram.iter().enumerate() {
        seen += count;
        if seen >= wanted {
            return Ok(value as u8);
        }
    }
    Ok(u8::MAX)
}

fn colour_mask(hsv: &Mat, colour: SignColour) -> Result<Mat> {
    let range = |low: [f64; 3], high: [f64; 3]| -> Result<Mat> {
        let mut mask = Mat::default();
        core::in_range(
            hsv,
            &Scalar::new(low[0], low[1], low[2], 0.0),
            &Scalar::new(high[0], high[1], high[2], 0.0),
            &mut mask,
        )
        .context("thresholding a colour")?;
        Ok(mask)
    };
    match colour {
        SignColour::Red => {
            let low = range([0.0, 70.0, 50.0], [10.0, 255.0, 255.0])?;
            let high = range([160.0, 70.0, 50.0], [180.0, 255.0, 255.0])?;
            let mut both = Mat::default();
            core::bitwise_or(&low, &high, &mut both, &core::no_array())
                .context("combining red ranges")?;
            Ok(both)
        }
        SignColour::Blue => range([100.0, 90.0, 40.0], [130.0, 255.0, 255.0]),
        SignColour::Yellow => range([15.0, 100.0, 90.0], [35.0, 255.0, 255.0]),
    }
}

/// The candidate's box widened by the GTSRB-like margin, clipped to the image.
pub fn crop_rect(rect: Rect, cols: i32, rows: i32) -> Rect {
    let mx = (rect.width as f32 * CROP_MARGIN).round() as i32;
    let my = (rect.height as f32 * CROP_MARGIN).round() as i32;
    let x0 = (rect.x - mx).max(0);
    let y0 = (rect.y - my).max(0);
    let x1 = (rect.x + rect.width + mx).min(cols);
    let y1 = (rect.y + rect.height + my).min(rows);
    Rect::new(x0, y0, (x1 - x0).max(1), (y1 - y0).max(1))
}

/// A classified candidate in the analysed image's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Classified {
    pub rect: Rect,
    pub class_id: usize,
    pub confidence: f32,
}

/// Finds and classifies signs in a BGR image; keeps sign classes above `min_confidence`.
/// GTSRB's class id of the STOP sign.
pub const STOP: u8 = 14;
/// The solid red classes: STOP and no entry.
pub const SOLID_RED: [usize; 2] = [STOP as usize, 17];

/// Whether a sign candidate is better explained by another object the detector proposed: its
/// centre on a vehicle or a person at least twice its width (tail lights, stickers, bus
/// adverts, a red jersey), or on a traffic light.
pub fn explained_by_other_object(sign: &ImageBox, proposals: &[Proposal]) -> bool {
    let (cx, cy) = (
        (sign.x + sign.width / 2) as i32,
        (sign.y + sign.height / 2) as i32,
    );
    proposals.iter().any(|p| {
        let r = p.rect;
        let centred = cx >= r.x && cx < r.x + r.width && cy >= r.y && cy < r.y + r.height;
        match p.kind {
            ObjectKind::Vehicle | ObjectKind::Person => centred && r.width >= 2 * sign.width as i32,
            ObjectKind::TrafficLight => centred,
            ObjectKind::StopSign => false,
        }
    })
}

pub fn detect(
    bgr: &Mat,
    model: &SignModel,
    features: &SignFeatures,
    min_confidence: f32,
    min_side: i32,
) -> Result<Vec<Classified>> {
    let mut found = Vec::new();
    for candidate in candidates(bgr, min_side)? {
        let crop = crop_rect(candidate.rect, bgr.cols(), bgr.rows());
        let patch = Mat::roi(bgr, crop).context("cropping a sign candidate")?;
        let mut probabilities = model.probabilities(&features.extract(&patch)?);
        // A blob's colour and outline rule out most classes: keep those that fit, and background.
        for (class_id, p) in probabilities.iter_mut().enumerate().take(BACKGROUND) {
            if !candidate.colour.fits(class_id)
                || !candidate.shape.fits(class_id)
                || (candidate.solid
                    && candidate.colour == SignColour::Red
                    && !SOLID_RED.contains(&class_id))
            {
                *p = 0.0;
            }
        }
        let total: f32 = probabilities.iter().sum();
        let (class_id, best) = argmax(&probabilities);
        let confidence = best / total.max(f32::MIN_POSITIVE);
        if class_id != BACKGROUND && confidence >= min_confidence {
            found.push(Classified {
                rect: candidate.rect,
                class_id,
                confidence,
            });
        }
    }
    found.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let mut kept: Vec<Classified> = Vec::new();
    for detection in found {
        let overlaps = kept.iter().any(|k| rect_iou(k.rect, detection.rect) > 0.3);
        if !overlaps {
            kept.push(detection);
        }
    }
    Ok(kept)
}

fn rect_iou(a: Rect, b: Rect) -> f32 {
    let inter = (a & b).area();
    let union = a.area() + b.area() - inter;
    inter as f32 / union.max(1) as f32
}

pub(crate) fn argmax(values: &[f32]) -> (usize, f32) {
    values
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, v)| {
            if v > best.1 { (i, v) } else { best }
        })
}
