//! Frame quality: sharpness (variance of the Laplacian at a fixed analysis width, so it does
//! not depend on resolution), exposure (clipped shadows and highlights), obstruction (large
//! flat regions touching the frame edges) and flat (uniform) frames.
//!
//! Thresholds were calibrated on the real frames of `datasets/images/` and their degraded
//! copies (the labelled set in `vision/eval/`, measured with `cargo run -p vision --example
//! probe`): at 640 px wide the six Udacity dashcam frames measure sharpness 15–26, the
//! Mapillary street frame 695, the two face photos 31 and 61, the dashboard-occluded copies
//! 7–11; their Gaussian- and motion-blurred copies 0–3 and the real OpenCV motion-blurred
//! and defocused photos 2. Darkened copies (12 % exposure) have mean luma 14–16 against
//! 119–135 for the originals; overexposed copies clip 51–100 % of pixels against 0–20 %.
//! A frame too dark or too bright to see is reported as that, not also as blurred or
//! obstructed: clipped pixels carry no detail to measure.

use model::{QualityMeasures, QualityProblem, QualityReport, QualityVerdict};
use opencv::core::{self, Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{CvContext, Result};

/// Width (px) every frame is resized to before measuring, so measures compare across cameras.
pub const ANALYSIS_WIDTH: i32 = 640;
/// Grid of cells used for the obstruction check (columns, rows).
const GRID: (usize, usize) = (16, 9);

/// Quality thresholds; the defaults are the calibrated values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityThresholds {
    /// Below this sharpness (smallest directional second-derivative variance) it is blurred.
    pub min_sharpness: f32,
    /// Gray levels at or below this count as clipped shadows.
    pub shadow_level: u8,
    /// Gray levels at or above this count as clipped highlights.
    pub highlight_level: u8,
    /// Too dark when the mean luma is below this…
    pub dark_mean: f32,
    /// …or when this fraction of pixels is clipped to black.
    pub dark_clipped: f32,
    /// Overexposed when the mean luma is above this…
    pub bright_mean: f32,
    /// …or when this fraction of pixels is clipped to white.
    pub bright_clipped: f32,
    /// A cell is flat when its gray standard deviation is below this.
    pub flat_stddev: f32,
    /// Flat cells brighter than this are sky, not an obstruction.
    pub obstruction_max_luma: f32,
    /// Obstructed when edge-connected flat dark cells cover more than this fraction.
    pub obstructed_fraction: f32,
    /// The whole frame is uniform (broken) when its gray standard deviation is below this.
    pub uniform_stddev: f32,
}

impl Default for QualityThresholds {
    fn default() -> Self {
        Self {
            min_sharpness: 6.0,
            shadow_level: 16,
            highlight_level: 245,
            dark_mean: 45.0,
            dark_clipped: 0.5,
            bright_mean: 215.0,
            bright_clipped: 0.5,
            flat_stddev: 6.0,
            obstruction_max_luma: 90.0,
            obstructed_fraction: 0.3,
            uniform_stddev: 2.0,
        }
    }
}

/// Measures a decoded BGR frame (any scale) and judges it.
pub fn assess(bgr: &Mat, thresholds: &QualityThresholds) -> Result<QualityReport> {
    let gray = analysis_gray(bgr)?;
    let measures = measure(&gray, thresholds)?;
    let mut stddev_all = core::Scalar::default();
    let mut mean_all = core::Scalar::default();
    core::mean_std_dev(&gray, &mut mean_all, &mut stddev_all, &core::no_array())
        .context("measuring frame contrast")?;
    if (stddev_all[0] as f32) < thresholds.uniform_stddev {
        return Ok(QualityReport {
            verdict: QualityVerdict::Broken,
            score: 0.0,
            problems: vec![QualityProblem::Uniform],
            measures,
        });
    }
    Ok(judge(measures, thresholds))
}

/// Turns measures into a verdict, problems and a score.
pub fn judge(measures: QualityMeasures, thresholds: &QualityThresholds) -> QualityReport {
    let mut problems = Vec::new();
    // Each factor is 1 when clean and falls towards 0 as the problem gets worse.
    let sharp = (measures.sharpness / thresholds.min_sharpness).min(1.0);
    let dark = measures.mean_luma < thresholds.dark_mean
        || measures.shadow_clipped > thresholds.dark_clipped;
    let dark_factor = (measures.mean_luma / thresholds.dark_mean).min(1.0)
        * (1.0 - (measures.shadow_clipped - thresholds.dark_clipped).max(0.0));
    if dark {
        problems.push(QualityProblem::TooDark);
    }
    let bright = measures.mean_luma > thresholds.bright_mean
        || measures.highlight_clipped > thresholds.bright_clipped;
    let bright_factor = ((255.0 - measures.mean_luma) / (255.0 - thresholds.bright_mean)).min(1.0)
        * (1.0 - (measures.highlight_clipped - thresholds.bright_clipped).max(0.0));
    if bright {
        problems.push(QualityProblem::Overexposed);
    }
    let exposed = !dark && !bright;
    if measures.sharpness < thresholds.min_sharpness && exposed {
        problems.insert(0, QualityProblem::Blurred);
    }
    let obstruction_factor = 1.0 - measures.obstructed;
    // A frame too dark to see is too dark, not obstructed: every cell of it is flat and dark.
    if measures.obstructed > thresholds.obstructed_fraction && !dark {
        problems.push(QualityProblem::Obstructed);
    }
    let mut score = sharp * dark_factor.max(0.0) * bright_factor.max(0.0) * obstruction_factor;
    if !problems.is_empty() {
        // A frame with a named problem is never worth more than half a clean one.
        score = score.min(0.5);
    }
    let verdict = if problems.is_empty() {
        QualityVerdict::Good
    } else {
        QualityVerdict::Poor
    };
    QualityReport {
        verdict,
        score: score.clamp(0.0, 1.0),
        problems,
        measures,
    }
}

/// The frame as 8-bit gray at [`ANALYSIS_WIDTH`] px wide.
fn analysis_gray(bgr: &Mat) -> Result<Mat> {
    let mut gray = Mat::default();
    imgproc::cvt_color_def(bgr, &mut gray, imgproc::COLOR_BGR2GRAY)
        .context("converting to gray")?;
    let width = gray.cols().max(1);
    let height = ((i64::from(gray.rows()) * i64::from(ANALYSIS_WIDTH)) / i64::from(width)).max(1);
    let mut resized = Mat::default();
    let interpolation = if width > ANALYSIS_WIDTH {
        imgproc::INTER_AREA
    } else {
        imgproc::INTER_LINEAR
    };
    imgproc::resize(
        &gray,
        &mut resized,
        Size::new(ANALYSIS_WIDTH, height as i32),
        0.0,
        0.0,
        interpolation,
    )
    .context("resizing for analysis")?;
    Ok(resized)
}

fn measure(gray: &Mat, thresholds: &QualityThresholds) -> Result<QualityMeasures> {
    let sharpness = directional_sharpness(gray)?;

    let pixels = gray.data_bytes().context("reading gray pixels")?;
    let total = pixels.len().max(1) as f32;
    let mut sum = 0u64;
    let mut shadows = 0u32;
    let mut highlights = 0u32;
    for &p in pixels {
        sum += u64::from(p);
        shadows += u32::from(p <= thresholds.shadow_level);
        highlights += u32::from(p >= thresholds.highlight_level);
    }
    Ok(QualityMeasures {
        sharpness,
        mean_luma: sum as f32 / total,
        shadow_clipped: shadows as f32 / total,
        highlight_clipped: highlights as f32 / total,
        obstructed: obstructed_fraction(gray, thresholds)?,
    })
}

/// Sharpness: the smallest, over four directions (horizontal, vertical, both diagonals), of the
/// variance of the second derivative — motion blur only removes detail along its direction, so
/// the plain Laplacian misses it (a 2.5 %-of-width horizontal smear keeps a third of the
/// Laplacian's variance but leaves almost none in the horizontal direction).
fn directional_sharpness(gray: &Mat) -> Result<f32> {
    let mut float = Mat::default();
    gray.convert_to(&mut float, core::CV_32F, 1.0, 0.0)
        .context("converting to float")?;
    let kernels: [[f32; 9]; 4] = [
        [0.0, 0.0, 0.0, 1.0, -2.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0, -2.0, 0.0, 0.0, 1.0, 0.0],
        [1.0, 0.0, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 1.0],
        [0.0, 0.0, 1.0, 0.0, -2.0, 0.0, 1.0, 0.0, 0.0],
    ];
    let mut smallest = f64::INFINITY;
    for kernel in kernels {
        let kernel =
            Mat::new_rows_cols_with_data(3, 3, &kernel).context("building a derivative kernel")?;
        let mut derivative = Mat::default();
        imgproc::filter_2d(
            &float,
            &mut derivative,
            core::CV_32F,
            &kernel,
            core::Point::new(-1, -1),
            0.0,
            core::BORDER_REFLECT,
        )
        .context("computing a second derivative")?;
        let mut d_mean = core::Scalar::default();
        let mut d_std = core::Scalar::default();
        core::mean_std_dev(&derivative, &mut d_mean, &mut d_std, &core::no_array())
            .context("measuring sharpness")?;
        smallest = smallest.min(d_std[0] * d_std[0]);
    }
    Ok(smallest as f32)
}

/// Fraction of the frame covered by flat, dark cells connected to an edge of the frame.
fn obstructed_fraction(gray: &Mat, thresholds: &QualityThresholds) -> Result<f32> {
    let (cols, rows) = GRID;
    let cell_w = gray.cols() / cols as i32;
    let cell_h = gray.rows() / rows as i32;
    if cell_w < 2 || cell_h < 2 {
        return Ok(0.0);
    }
    let mut flat = vec![false; cols * rows];
    for row in 0..rows {
        for col in 0..cols {
            let rect = core::Rect::new(col as i32 * cell_w, row as i32 * cell_h, cell_w, cell_h);
            let cell = Mat::roi(gray, rect).context("selecting a grid cell")?;
            let mut mean = core::Scalar::default();
            let mut stddev = core::Scalar::default();
            core::mean_std_dev(&cell, &mut mean, &mut stddev, &core::no_array())
                .context("measuring a grid cell")?;
            flat[row * cols + col] = (stddev[0] as f32) < thresholds.flat_stddev
                && (mean[0] as f32) < thresholds.obstruction_max_luma;
        }
    }
    // Flood fill from the flat cells on the border.
    let mut reached = vec![false; cols * rows];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for row in 0..rows {
        for col in 0..cols {
            let on_border = row == 0 || col == 0 || row == rows - 1 || col == cols - 1;
            if on_border && flat[row * cols + col] {
                stack.push((row, col));
            }
        }
    }
    while let Some((row, col)) = stack.pop() {
        let index = row * cols + col;
        if reached[index] || !flat[index] {
            continue;
        }
        reached[index] = true;
        if row > 0 {
            stack.push((row - 1, col));
        }
        if row + 1 < rows {
            stack.push((row + 1, col));
        }
        if col > 0 {
            stack.push((row, col - 1));
        }
        if col + 1 < cols {
            stack.push((row, col + 1));
        }
    }
    let covered = reached.iter().filter(|&&r| r).count();
    Ok(covered as f32 / (cols * rows) as f32)
}
