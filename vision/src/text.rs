//! Text regions: a licence plate is text on a vehicle.
//!
//! The detector is PaddleOCR's PP-OCRv4 text detection (a DB network, Apache-2.0), shipped as
//! `ch_PP-OCRv4_det_infer.onnx` inside PyPI's `rapidocr-onnxruntime` 1.4.4, run unmodified by
//! ONNX Runtime (2–3 times faster than OpenCV 4.6, which also needed its `Clip` bounds moved
//! to attributes). Decoding follows RapidOCR's `DBPostProcess`: threshold the
//! probability map, keep the connected regions whose mean probability is high enough, and
//! grow each box by `area × unclip / perimeter`.

use std::path::Path;

use opencv::core::{self, Mat, Point, Rect, Scalar, Size, Vector};
use opencv::prelude::*;
use opencv::{dnn, imgproc};

use crate::error::{CvContext, Error, Result};
use crate::onnx::OnnxNet;

/// Pixel probability above which a pixel is text (RapidOCR's `thresh`).
const PIXEL_THRESHOLD: f64 = 0.3;
/// Mean probability a region needs to be kept (RapidOCR's `box_thresh`).
const BOX_THRESHOLD: f32 = 0.5;
/// How much a region grows back to the whole word (RapidOCR's `unclip_ratio`).
const UNCLIP_RATIO: f32 = 1.6;

/// The text detector at one fixed input size (inputs are letter-boxed into it, so every
/// search costs the same).
#[allow(missing_debug_implementations)]
pub struct TextDetector {
    net: OnnxNet,
    input: Size,
}

impl TextDetector {
    /// Loads PP-OCRv4 into ONNX Runtime (the library at `runtime`) to run on `threads`
    /// threads (0: one per core); `input` is its size in px (rounded up to multiples of 32).
    pub fn load(runtime: &Path, path: &Path, threads: usize, input: Size) -> Result<Self> {
        Ok(Self {
            net: OnnxNet::load(runtime, path, threads)?,
            input: Size::new(
                (input.width.max(32) + 31) / 32 * 32,
                (input.height.max(32) + 31) / 32 * 32,
            ),
        })
    }

    /// Text boxes in `area` of a BGR image, in the image's pixels. The area is scaled to fit
    /// the input (up or down) with its aspect kept.
    pub fn detect_in(&mut self, bgr: &Mat, area: Rect) -> Result<Vec<(Rect, f32)>> {
        if area.width < 4 || area.height < 4 {
            return Ok(Vec::new());
        }
        let (side_w, side_h) = (self.input.width, self.input.height);
        let scale = (side_w as f32 / area.width as f32).min(side_h as f32 / area.height as f32);
        let fitted = Size::new(
            ((area.width as f32 * scale) as i32).clamp(1, side_w),
            ((area.height as f32 * scale) as i32).clamp(1, side_h),
        );
        let roi = Mat::roi(bgr, area).context("selecting a text search area")?;
        let mut resized = Mat::default();
        imgproc::resize(&roi, &mut resized, fitted, 0.0, 0.0, imgproc::INTER_LINEAR)
            .context("scaling a text search area")?;
        let mut canvas =
            Mat::new_rows_cols_with_default(side_h, side_w, core::CV_8UC3, Scalar::all(0.0))
                .context("making the text detector canvas")?;
        {
            let mut target =
                Mat::roi_mut(&mut canvas, Rect::new(0, 0, fitted.width, fitted.height))
                    .context("making the text detector canvas")?;
            resized
                .copy_to(&mut target)
                .context("making the text detector canvas")?;
        }
        // (pixel / 255 - 0.5) / 0.5, BGR as RapidOCR feeds it.
        let blob = dnn::blob_from_image(
            &canvas,
            1.0 / 127.5,
            self.input,
            Scalar::all(127.5),
            false,
            false,
            core::CV_32F,
        )
        .context("preparing the text detector input")?;
        let (w, h) = (side_w as usize, side_h as usize);
        let outputs = self.net.run_blob(&blob)?;
        let map = outputs
            .first()
            .filter(|map| map.values.len() == w * h)
            .ok_or_else(|| Error::Onnx {
                context: "reading text probabilities",
                reason: format!(
                    "outputs of shapes {:?}, expected one of [1, 1, {h}, {w}]",
                    outputs.iter().map(|o| &o.shape).collect::<Vec<_>>()
                ),
            })?;
        let probability = Mat::new_rows_cols_with_data(side_h, side_w, &map.values)
            .context("reading text probabilities")?
            .try_clone()
            .context("reading text probabilities")?;
        let found = regions(&probability)?;
        let fitted_area = Rect::new(0, 0, fitted.width, fitted.height);
        Ok(found
            .into_iter()
            .filter_map(|(rect, score)| {
                let rect = rect & fitted_area;
                (rect.width > 0 && rect.height > 0).then(|| {
                    let x = area.x + (rect.x as f32 / scale) as i32;
                    let y = area.y + (rect.y as f32 / scale) as i32;
                    let w = ((rect.width as f32 / scale).ceil() as i32).max(1);
                    let h = ((rect.height as f32 / scale).ceil() as i32).max(1);
                    (Rect::new(x, y, w, h), score)
                })
            })
            .collect())
    }
}

/// Connected text regions of a probability map, unclipped, in its pixels.
fn regions(probability: &Mat) -> Result<Vec<(Rect, f32)>> {
    let mut binary = Mat::default();
    imgproc::threshold(
        probability,
        &mut binary,
        PIXEL_THRESHOLD,
        255.0,
        imgproc::THRESH_BINARY,
    )
    .context("thresholding text probabilities")?;
    let mut mask = Mat::default();
    binary
        .convert_to(&mut mask, core::CV_8U, 1.0, 0.0)
        .context("thresholding text probabilities")?;
    let kernel = Mat::ones(2, 2, core::CV_8U)
        .context("dilating text regions")?
        .to_mat()
        .context("dilating text regions")?;
    let mut dilated = Mat::default();
    imgproc::dilate(
        &mask,
        &mut dilated,
        &kernel,
        Point::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        imgproc::morphology_default_border_value().context("dilating text regions")?,
    )
    .context("dilating text regions")?;
    let mut contours: Vector<Vector<Point>> = Vector::new();
    imgproc::find_contours(
        &dilated,
        &mut contours,
        imgproc::RETR_LIST,
        imgproc::CHAIN_APPROX_SIMPLE,
        Point::new(0, 0),
    )
    .context("finding text regions")?;
    let (rows, cols) = (probability.rows(), probability.cols());
    let mut found = Vec::new();
    for contour in contours.iter() {
        let rect = imgproc::bounding_rect(&contour).context("measuring a text region")?;
        if rect.width.min(rect.height) < 3 {
            continue;
        }
        // Mean probability inside the region's own outline (a tilted plate's bounding box
        // is mostly background).
        let mut outline = Mat::zeros(rect.height, rect.width, core::CV_8U)
            .context("scoring a text region")?
            .to_mat()
            .context("scoring a text region")?;
        let single: Vector<Vector<Point>> = std::iter::once(contour.clone()).collect();
        imgproc::draw_contours(
            &mut outline,
            &single,
            0,
            Scalar::all(255.0),
            imgproc::FILLED,
            imgproc::LINE_8,
            &core::no_array(),
            i32::MAX,
            Point::new(-rect.x, -rect.y),
        )
        .context("scoring a text region")?;
        let score = core::mean(
            &Mat::roi(probability, rect).context("scoring a text region")?,
            &outline,
        )
        .context("scoring a text region")?[0] as f32;
        if score < BOX_THRESHOLD {
            continue;
        }
        let (w, h) = (rect.width as f32, rect.height as f32);
        let grow = (w * h * UNCLIP_RATIO / (2.0 * (w + h))).ceil() as i32;
        let x0 = (rect.x - grow).max(0);
        let y0 = (rect.y - grow).max(0);
        let x1 = (rect.x + rect.width + grow).min(cols);
        let y1 = (rect.y + rect.height + grow).min(rows);
        found.push((Rect::new(x0, y0, x1 - x0, y1 - y0), score));
    }
    Ok(found)
}
