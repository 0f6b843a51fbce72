//! Synthetic sign photos drawn with OpenCV, to add to the four real photos per class the
//! classifier trains from.
//!
//! Only signs that are plain geometry, digits or simple symbols are drawn: the eight speed
//! limits and their end, stop, yield, priority road, no entry, no vehicles, no passing, the
//! general-caution and traffic-signal triangles, right of way, end of all limits and the blue
//! direction arrows. Each drawing takes its sizes, colours, stroke widths and position from the
//! seeded generator and sits on a real background patch, so the same seed draws the same
//! photos. The result is a 32×32 patch framed like a GTSRB photo (sign ≈ 75 % of the side),
//! which [`crate::train`] then augments like a real photo.

use std::f64::consts::PI;

use opencv::core::{self, Mat, Point, Rect, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use crate::error::{CvContext, Result};
use crate::signs::PATCH;
use crate::train::{SplitMix, mirrored_class};

/// Side (px) of the canvas signs are drawn on before they are shrunk to [`PATCH`].
const CANVAS: i32 = 96;

/// The GTSRB classes [`render`] can draw (mirrored drawings give the left-hand classes).
pub const DRAWN_CLASSES: [usize; 26] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 17, 18, 26, 32, 33, 34, 35, 36, 37, 38, 39,
];

/// The sign colours of one drawing, varied around their daylight values (BGR).
struct Palette {
    red: Scalar,
    white: Scalar,
    black: Scalar,
    grey: Scalar,
    blue: Scalar,
    yellow: Scalar,
}

impl Palette {
    fn random(rng: &mut SplitMix) -> Self {
        let mut pick = |b: (f64, f64), g: (f64, f64), r: (f64, f64)| {
            Scalar::new(
                rng.uniform(b.0, b.1),
                rng.uniform(g.0, g.1),
                rng.uniform(r.0, r.1),
                0.0,
            )
        };
        let red = pick((20.0, 70.0), (20.0, 70.0), (150.0, 230.0));
        let blue = pick((140.0, 220.0), (50.0, 110.0), (0.0, 40.0));
        let yellow = pick((0.0, 50.0), (160.0, 220.0), (210.0, 255.0));
        let black = pick((0.0, 45.0), (0.0, 45.0), (0.0, 45.0));
        let light = rng.uniform(190.0, 255.0);
        let white = Scalar::new(light, light, light, 0.0);
        let shade = rng.uniform(90.0, 150.0);
        let grey = Scalar::new(shade, shade, shade, 0.0);
        Self {
            red,
            white,
            black,
            grey,
            blue,
            yellow,
        }
    }
}

/// A synthetic 32×32 photo of GTSRB class `class_id` on `background`, or `None` for a class
/// that is not drawn.
pub fn render(class_id: usize, background: &Mat, rng: &mut SplitMix) -> Result<Option<Mat>> {
    if !DRAWN_CLASSES.contains(&class_id) {
        return Ok(None);
    }
    // Left-hand classes are the mirror images of right-hand drawings.
    let drawn_class = match class_id {
        34 | 37 | 39 => mirrored_class(class_id).unwrap_or(class_id),
        _ => class_id,
    };
    let mut canvas = Mat::default();
    imgproc::resize(
        background,
        &mut canvas,
        Size::new(CANVAS, CANVAS),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )
    .context("resizing a background")?;
    let palette = Palette::random(rng);
    let half = f64::from(CANVAS) / 2.0;
    let sign = Sign {
        cx: half + rng.uniform(-3.0, 3.0),
        cy: half + rng.uniform(-3.0, 3.0),
        // Radius of the sign's bounding circle: GTSRB photos keep a ~12 % margin.
        r: half * rng.uniform(0.68, 0.84),
    };
    draw(&mut canvas, drawn_class, &sign, &palette, rng)?;
    if drawn_class != class_id {
        let mut flipped = Mat::default();
        core::flip(&canvas, &mut flipped, 1).context("mirroring a drawing")?;
        canvas = flipped;
    }
    let mut patch = Mat::default();
    imgproc::resize(
        &canvas,
        &mut patch,
        Size::new(PATCH, PATCH),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .context("shrinking a drawing")?;
    Ok(Some(patch))
}

/// Where a sign is drawn: centre and radius of its bounding circle, in canvas pixels.
struct Sign {
    cx: f64,
    cy: f64,
    r: f64,
}

impl Sign {
    /// The canvas point at `(dx, dy)` radii from the centre.
    fn at(&self, dx: f64, dy: f64) -> Point {
        Point::new(
            (self.cx + dx * self.r).round() as i32,
            (self.cy + dy * self.r).round() as i32,
        )
    }

    fn len(&self, fraction: f64) -> i32 {
        ((fraction * self.r).round() as i32).max(1)
    }
}

fn draw(
    canvas: &mut Mat,
    class_id: usize,
    sign: &Sign,
    palette: &Palette,
    rng: &mut SplitMix,
) -> Result<()> {
    let rim = rng.uniform(0.16, 0.24);
    let stroke = rng.uniform(0.11, 0.16);
    match class_id {
        0..=5 | 7 | 8 => {
            let digits = ["20", "30", "50", "60", "70", "80", "", "100", "120"][class_id];
            red_ring(canvas, sign, palette, rim)?;
            let width = if digits.len() == 3 { 1.25 } else { 1.05 };
            text(
                canvas,
                digits,
                sign.at(0.0, 0.0),
                (
                    width * sign.r * rng.uniform(0.9, 1.05),
                    sign.r * rng.uniform(0.8, 0.95),
                ),
                palette.black,
            )?;
        }
        6 | 32 => {
            disc(canvas, sign, 1.0, palette.white)?;
            circle_outline(canvas, sign, 0.96, palette.grey, 0.04)?;
            if class_id == 6 {
                text(
                    canvas,
                    "80",
                    sign.at(0.0, 0.0),
                    (0.95 * sign.r, 0.8 * sign.r),
                    palette.grey,
                )?;
            }
            end_stripes(
                canvas,
                sign,
                palette.black,
                if class_id == 6 { 3 } else { 5 },
            )?;
        }
        9 => {
            red_ring(canvas, sign, palette, rim)?;
            car(canvas, sign, -0.28, palette.black)?;
            car(canvas, sign, 0.28, palette.red)?;
        }
        15 => red_ring(canvas, sign, palette, rim)?,
        17 => {
            disc(canvas, sign, 1.0, palette.white)?;
            disc(canvas, sign, 0.95, palette.red)?;
            rect(canvas, sign, (-0.65, -0.15), (0.65, 0.15), palette.white)?;
        }
        14 => {
            polygon(canvas, sign, 8, PI / 8.0, 1.0, palette.white)?;
            polygon(canvas, sign, 8, PI / 8.0, 0.93, palette.red)?;
            text(
                canvas,
                "STOP",
                sign.at(0.0, 0.0),
                (1.35 * sign.r, 0.45 * sign.r),
                palette.white,
            )?;
        }
        12 => {
            polygon(canvas, sign, 4, 0.0, 1.0, palette.white)?;
            polygon(canvas, sign, 4, 0.0, 0.62, palette.yellow)?;
        }
        11 | 13 | 18 | 26 => triangle(canvas, sign, class_id, palette, rng)?,
        33 | 35 | 36 | 38 => {
            disc(canvas, sign, 1.0, palette.white)?;
            disc(canvas, sign, 0.94, palette.blue)?;
            arrows(canvas, sign, class_id, palette.white, stroke)?;
        }
        _ => {}
    }
    Ok(())
}

fn disc(canvas: &mut Mat, sign: &Sign, radius: f64, colour: Scalar) -> Result<()> {
    imgproc::circle(
        canvas,
        sign.at(0.0, 0.0),
        sign.len(radius),
        colour,
        -1,
        imgproc::LINE_AA,
        0,
    )
    .context("drawing a disc")
}

fn circle_outline(
    canvas: &mut Mat,
    sign: &Sign,
    radius: f64,
    colour: Scalar,
    width: f64,
) -> Result<()> {
    imgproc::circle(
        canvas,
        sign.at(0.0, 0.0),
        sign.len(radius),
        colour,
        sign.len(width),
        imgproc::LINE_AA,
        0,
    )
    .context("drawing a circle")
}

/// The prohibition sign: thin white edge, red rim `rim` radii wide, white inside.
fn red_ring(canvas: &mut Mat, sign: &Sign, palette: &Palette, rim: f64) -> Result<()> {
    disc(canvas, sign, 1.0, palette.white)?;
    disc(canvas, sign, 0.95, palette.red)?;
    disc(canvas, sign, 0.95 - rim, palette.white)
}

fn rect(
    canvas: &mut Mat,
    sign: &Sign,
    top_left: (f64, f64),
    bottom_right: (f64, f64),
    colour: Scalar,
) -> Result<()> {
    let a = sign.at(top_left.0, top_left.1);
    let b = sign.at(bottom_right.0, bottom_right.1);
    imgproc::rectangle(
        canvas,
        Rect::new(a.x, a.y, (b.x - a.x).max(1), (b.y - a.y).max(1)),
        colour,
        -1,
        imgproc::LINE_AA,
        0,
    )
    .context("drawing a rectangle")
}

/// A regular polygon with `corners` corners, the first at `phase` (radians from "right",
/// clockwise on screen), inscribed in `radius` radii.
fn polygon(
    canvas: &mut Mat,
    sign: &Sign,
    corners: usize,
    phase: f64,
    radius: f64,
    colour: Scalar,
) -> Result<()> {
    let points: Vector<Point> = (0..corners)
        .map(|k| {
            let angle = phase + 2.0 * PI * k as f64 / corners as f64;
            sign.at(radius * angle.cos(), radius * angle.sin())
        })
        .collect();
    imgproc::fill_convex_poly(canvas, &points, colour, imgproc::LINE_AA, 0)
        .context("drawing a polygon")
}

/// `label` in a Hershey font, stretched to fill a `(width, height)` box centred on `centre`.
fn text(
    canvas: &mut Mat,
    label: &str,
    centre: Point,
    (width, height): (f64, f64),
    colour: Scalar,
) -> Result<()> {
    let font = imgproc::FONT_HERSHEY_DUPLEX;
    let (scale, thickness) = (3.0, 7);
    let mut baseline = 0;
    let size = imgproc::get_text_size(label, font, scale, thickness, &mut baseline)
        .context("measuring text")?;
    let mut mask = Mat::new_rows_cols_with_default(
        size.height + 2 * thickness,
        size.width + 2 * thickness,
        core::CV_8UC1,
        Scalar::all(0.0),
    )
    .context("allocating a text mask")?;
    imgproc::put_text(
        &mut mask,
        label,
        Point::new(thickness, size.height + thickness),
        font,
        scale,
        Scalar::all(255.0),
        thickness,
        imgproc::LINE_8,
        false,
    )
    .context("drawing text")?;
    let (w, h) = (width.round() as i32, height.round() as i32);
    let target = Rect::new(centre.x - w / 2, centre.y - h / 2, w, h)
        & Rect::new(0, 0, canvas.cols(), canvas.rows());
    if target.width < 2 || target.height < 2 {
        return Ok(());
    }
    let mut fitted = Mat::default();
    imgproc::resize(
        &mask,
        &mut fitted,
        target.size(),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .context("fitting text")?;
    let mut binary = Mat::default();
    imgproc::threshold(&fitted, &mut binary, 100.0, 255.0, imgproc::THRESH_BINARY)
        .context("thresholding text")?;
    let mut region = Mat::roi_mut(canvas, target).context("placing text")?;
    region.set_to(&colour, &binary).context("painting text")?;
    Ok(())
}

/// The diagonal band of thin lines of the "end of" signs, top right to bottom left.
fn end_stripes(canvas: &mut Mat, sign: &Sign, colour: Scalar, lines: usize) -> Result<()> {
    let (ux, uy) = (-(0.5f64.sqrt()), 0.5f64.sqrt());
    let (nx, ny) = (uy, -ux);
    for k in 0..lines {
        let offset = (k as f64 - (lines as f64 - 1.0) / 2.0) * 0.09;
        let reach = (0.9f64 * 0.9 - offset * offset).max(0.0).sqrt();
        let a = sign.at(offset * nx - reach * ux, offset * ny - reach * uy);
        let b = sign.at(offset * nx + reach * ux, offset * ny + reach * uy);
        imgproc::line(canvas, a, b, colour, sign.len(0.035), imgproc::LINE_AA, 0)
            .context("drawing a stripe")?;
    }
    Ok(())
}

/// A car seen from behind, centred `dx` radii from the middle.
fn car(canvas: &mut Mat, sign: &Sign, dx: f64, colour: Scalar) -> Result<()> {
    rect(canvas, sign, (dx - 0.2, -0.05), (dx + 0.2, 0.25), colour)?;
    rect(canvas, sign, (dx - 0.13, -0.22), (dx + 0.13, -0.05), colour)
}

/// The red-rimmed triangles: right of way, yield (upside down), general caution, signals.
fn triangle(
    canvas: &mut Mat,
    sign: &Sign,
    class_id: usize,
    palette: &Palette,
    rng: &mut SplitMix,
) -> Result<()> {
    // A triangle's bounding box is centred a quarter of its circumradius off its centroid.
    let upside_down = class_id == 13;
    let shift = if upside_down { -0.25 } else { 0.25 };
    let centroid = Sign {
        cx: sign.cx,
        cy: sign.cy + shift * sign.r * 1.12,
        r: sign.r * 1.12,
    };
    let phase = if upside_down { PI / 2.0 } else { -PI / 2.0 };
    let inner = rng.uniform(0.52, 0.62);
    polygon(canvas, &centroid, 3, phase, 1.0, palette.white)?;
    polygon(canvas, &centroid, 3, phase, 0.92, palette.red)?;
    polygon(canvas, &centroid, 3, phase, inner, palette.white)?;
    let symbol = Sign {
        cx: centroid.cx,
        cy: centroid.cy,
        r: centroid.r * inner,
    };
    match class_id {
        18 => {
            imgproc::line(
                canvas,
                symbol.at(0.0, -0.55),
                symbol.at(0.0, 0.15),
                palette.black,
                symbol.len(0.18),
                imgproc::LINE_AA,
                0,
            )
            .context("drawing a symbol")?;
            disc(canvas, &offset(&symbol, 0.0, 0.42), 0.1, palette.black)?;
        }
        26 => {
            rect(canvas, &symbol, (-0.2, -0.6), (0.2, 0.6), palette.black)?;
            for (dy, colour) in [(-0.38, palette.red), (0.0, palette.yellow)] {
                disc(canvas, &offset(&symbol, 0.0, dy), 0.13, colour)?;
            }
            let green = Scalar::new(90.0, 160.0, 30.0, 0.0);
            disc(canvas, &offset(&symbol, 0.0, 0.38), 0.13, green)?;
        }
        11 => {
            rect(canvas, &symbol, (-0.08, -0.6), (0.08, 0.6), palette.black)?;
            rect(canvas, &symbol, (-0.4, -0.12), (0.4, 0.02), palette.black)?;
            rect(canvas, &symbol, (-0.15, 0.2), (0.15, 0.6), palette.black)?;
        }
        _ => {}
    }
    Ok(())
}

/// `sign` moved by `(dx, dy)` of its radius, same size.
fn offset(sign: &Sign, dx: f64, dy: f64) -> Sign {
    Sign {
        cx: sign.cx + dx * sign.r,
        cy: sign.cy + dy * sign.r,
        r: sign.r,
    }
}

/// The white arrows of the blue mandatory signs (right-hand versions).
fn arrows(
    canvas: &mut Mat,
    sign: &Sign,
    class_id: usize,
    colour: Scalar,
    stroke: f64,
) -> Result<()> {
    let width = sign.len(stroke);
    let arrow = |canvas: &mut Mat, from: (f64, f64), to: (f64, f64), tip: f64| {
        imgproc::arrowed_line(
            canvas,
            sign.at(from.0, from.1),
            sign.at(to.0, to.1),
            colour,
            width,
            imgproc::LINE_AA,
            0,
            tip,
        )
        .context("drawing an arrow")
    };
    let stem = |canvas: &mut Mat, from: (f64, f64), to: (f64, f64)| {
        imgproc::line(
            canvas,
            sign.at(from.0, from.1),
            sign.at(to.0, to.1),
            colour,
            width,
            imgproc::LINE_AA,
            0,
        )
        .context("drawing an arrow")
    };
    match class_id {
        35 => arrow(canvas, (0.0, 0.65), (0.0, -0.65), 0.4)?,
        38 => arrow(canvas, (-0.45, -0.45), (0.42, 0.42), 0.45)?,
        36 => {
            arrow(canvas, (-0.15, 0.65), (-0.15, -0.65), 0.35)?;
            arrow(canvas, (-0.15, 0.15), (0.55, -0.2), 0.4)?;
        }
        33 => {
            stem(canvas, (-0.25, 0.6), (-0.25, -0.05))?;
            imgproc::ellipse(
                canvas,
                sign.at(0.05, -0.05),
                Size::new(sign.len(0.3), sign.len(0.3)),
                0.0,
                180.0,
                270.0,
                colour,
                width,
                imgproc::LINE_AA,
                0,
            )
            .context("drawing an arrow")?;
            arrow(canvas, (0.0, -0.35), (0.6, -0.35), 0.5)?;
        }
        _ => {}
    }
    Ok(())
}
