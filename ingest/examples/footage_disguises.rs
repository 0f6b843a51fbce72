//! Which disguises of a copy the global footage index sees through: real frames (the six
//! Udacity dashcam frames and the 4K Mapillary street frame, `datasets/images/`) are each
//! disguised many ways and re-encoded, and each copy is probed as the worker probes it. Prints
//! one Markdown row per disguise: the copies' distances to their original's core (nearest
//! probe; a wide probe is measured against the original's inner core) and how many would be
//! found (a probe shares an index key with the original's stored keys, and is closer than
//! `COPY_DISTANCE`).
//!
//!     cargo run --release -p ingest --example footage_disguises

use image::{DynamicImage, Rgb, RgbImage, imageops};
use ingest::similarity::frame_prints;
use model::footage::{COPY_DISTANCE, inner_core, stored_keys};

/// One way to pass a copy off as new footage.
type Disguise = (&'static str, fn(&RgbImage) -> RgbImage);

fn cut(image: &RgbImage, left: f64, top: f64, right: f64, bottom: f64) -> RgbImage {
    let (w, h) = (f64::from(image.width()), f64::from(image.height()));
    let (x, y) = ((w * left) as u32, (h * top) as u32);
    let (cw, ch) = (
        (w * (1.0 - left - right)) as u32,
        (h * (1.0 - top - bottom)) as u32,
    );
    imageops::crop_imm(image, x, y, cw, ch).to_image()
}

/// Cut, then scaled back to the original's size (as a re-encoder keeps the resolution).
fn cut_back(image: &RgbImage, left: f64, top: f64, right: f64, bottom: f64) -> RgbImage {
    let part = cut(image, left, top, right, bottom);
    imageops::resize(
        &part,
        image.width(),
        image.height(),
        imageops::FilterType::Triangle,
    )
}

/// Placed on a canvas `left`, `top`, `right`, `bottom` (shares of its own size) larger, in
/// `colour`: bars added to change the aspect (16:9 letterboxed into 4:3), or a border.
fn pad(image: &RgbImage, sides: [f64; 4], colour: [u8; 3]) -> RgbImage {
    let [left, top, right, bottom] = sides;
    let (w, h) = (f64::from(image.width()), f64::from(image.height()));
    let (x, y) = ((w * left) as i64, (h * top) as i64);
    let mut canvas = RgbImage::from_pixel(
        (w * (1.0 + left + right)) as u32,
        (h * (1.0 + top + bottom)) as u32,
        Rgb(colour),
    );
    imageops::replace(&mut canvas, image, x, y);
    canvas
}

/// Turned by `degrees` about the centre, corners black, size kept (ffmpeg's `rotate`).
fn rotate(image: &RgbImage, degrees: f64) -> RgbImage {
    let (w, h) = (image.width(), image.height());
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    let (sin, cos) = degrees.to_radians().sin_cos();
    RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (f64::from(x) - cx, f64::from(y) - cy);
        let (sx, sy) = (cx + dx * cos + dy * sin, cy - dx * sin + dy * cos);
        if sx < 0.0 || sy < 0.0 || sx >= f64::from(w - 1) || sy >= f64::from(h - 1) {
            return Rgb([0, 0, 0]);
        }
        *image.get_pixel(sx as u32, sy as u32)
    })
}

/// Turned by `degrees`, then zoomed in until no blank corner is left, size kept.
fn rotate_to_fill(image: &RgbImage, degrees: f64) -> RgbImage {
    let aspect = f64::from(image.width()) / f64::from(image.height());
    let share = model::footage::Cut::turned_to_fill(degrees, aspect).left;
    cut_back(&rotate(image, degrees), share, share, share, share)
}

fn map_pixels(image: &RgbImage, f: impl Fn(u8, u32, u32) -> u8) -> RgbImage {
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let p = image.get_pixel(x, y);
        Rgb([f(p[0], x, y), f(p[1], x, y), f(p[2], x, y)])
    })
}

const DISGUISES: &[Disguise] = &[
    ("re-encoded only", |i| i.clone()),
    ("centred crop 5 %", |i| cut_back(i, 0.05, 0.05, 0.05, 0.05)),
    ("centred crop 10 %", |i| cut_back(i, 0.10, 0.10, 0.10, 0.10)),
    ("centred crop 12 %", |i| cut_back(i, 0.12, 0.12, 0.12, 0.12)),
    ("centred crop 15 %", |i| cut_back(i, 0.15, 0.15, 0.15, 0.15)),
    ("centred crop 20 %", |i| cut_back(i, 0.20, 0.20, 0.20, 0.20)),
    ("bottom 5 % cut (hood)", |i| {
        cut_back(i, 0.0, 0.0, 0.0, 0.05)
    }),
    ("bottom 10 % cut (hood)", |i| {
        cut_back(i, 0.0, 0.0, 0.0, 0.10)
    }),
    ("bottom 15 % cut (hood)", |i| {
        cut_back(i, 0.0, 0.0, 0.0, 0.15)
    }),
    ("top 10 % cut (sky)", |i| cut_back(i, 0.0, 0.10, 0.0, 0.0)),
    ("left 5 % cut", |i| cut_back(i, 0.05, 0.0, 0.0, 0.0)),
    ("sides cut to 4:3, kept 4:3", |i| {
        cut(i, 0.125, 0.0, 0.125, 0.0)
    }),
    ("crop 5 % off-centre (x 2 %)", |i| {
        cut_back(i, 0.07, 0.05, 0.03, 0.05)
    }),
    ("half size", |i| {
        imageops::resize(
            i,
            i.width() / 2,
            i.height() / 2,
            imageops::FilterType::Triangle,
        )
    }),
    ("rotated 1°", |i| rotate(i, 1.0)),
    ("rotated 2°", |i| rotate(i, 2.0)),
    ("rotated 3°", |i| rotate(i, 3.0)),
    ("rotated 5°", |i| rotate(i, 5.0)),
    ("blurred (σ 2)", |i| imageops::blur(i, 2.0)),
    ("noise ±16", |i| {
        map_pixels(i, |v, x, y| {
            let n = ((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 33) as i32 - 16;
            (i32::from(v) + n).clamp(0, 255) as u8
        })
    }),
    ("gamma 0.6", |i| {
        map_pixels(i, |v, _, _| {
            (255.0 * (f64::from(v) / 255.0).powf(0.6)).round() as u8
        })
    }),
    ("contrast halved", |i| {
        map_pixels(i, |v, _, _| (64 + i32::from(v) / 2) as u8)
    }),
    ("grey", |i| {
        DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(i.clone()).to_luma8()).to_rgb8()
    }),
    ("mirrored, crop 5 %", |i| {
        cut_back(&imageops::flip_horizontal(i), 0.05, 0.05, 0.05, 0.05)
    }),
    ("bottom 7 % cut, size kept", |i| cut(i, 0.0, 0.0, 0.0, 0.07)),
    ("corner crop 10 % (top left kept)", |i| {
        cut_back(i, 0.0, 0.0, 0.10, 0.10)
    }),
    ("corner crop 6 % (bottom right kept), size kept", |i| {
        cut(i, 0.06, 0.06, 0.0, 0.0)
    }),
    ("mirrored, bottom 8 % cut", |i| {
        cut_back(&imageops::flip_horizontal(i), 0.0, 0.0, 0.0, 0.08)
    }),
    ("centred crop 4.5 % (between probes)", |i| {
        cut_back(i, 0.045, 0.045, 0.045, 0.045)
    }),
    ("centred crop 7.3 %", |i| {
        cut_back(i, 0.073, 0.073, 0.073, 0.073)
    }),
    ("bottom 6.5 % cut", |i| cut_back(i, 0.0, 0.0, 0.0, 0.065)),
    ("corner crop 8.5 % (top left kept)", |i| {
        cut_back(i, 0.0, 0.0, 0.085, 0.085)
    }),
    ("right 3 % and bottom 9 % cut", |i| {
        cut_back(i, 0.0, 0.0, 0.03, 0.09)
    }),
    ("sides cut to 16:10 (5 % each), kept 16:10", |i| {
        cut(i, 0.05, 0.0, 0.05, 0.0)
    }),
    ("sides cut to 3:2 (7.8 % each), kept 3:2", |i| {
        cut(i, 0.078, 0.0, 0.078, 0.0)
    }),
    ("sides cut to 3:2, stretched back to 16:9", |i| {
        cut_back(i, 0.078, 0.0, 0.078, 0.0)
    }),
    ("mirrored, sides cut 6.5 % each", |i| {
        cut(&imageops::flip_horizontal(i), 0.065, 0.0, 0.065, 0.0)
    }),
    ("letterboxed to 2:1 (top and bottom 5.6 % each)", |i| {
        cut(i, 0.0, 0.056, 0.0, 0.056)
    }),
    ("top and bottom cut 9 % each", |i| {
        cut(i, 0.0, 0.09, 0.0, 0.09)
    }),
    ("rotated 0.7°", |i| rotate(i, 0.7)),
    ("rotated −1.2°", |i| rotate(i, -1.2)),
    ("rotated 4°", |i| rotate(i, 4.0)),
    ("rotated 1.5°, zoomed to fill", |i| rotate_to_fill(i, 1.5)),
    ("rotated −2°, zoomed to fill", |i| {
        rotate_to_fill(i, -2.0)
    }),
    ("rotated 4.3°, zoomed to fill", |i| rotate_to_fill(i, 4.3)),
    ("mirrored, rotated 3°, zoomed to fill", |i| {
        rotate_to_fill(&imageops::flip_horizontal(i), 3.0)
    }),
    ("rotated 6°", |i| rotate(i, 6.0)),
    ("rotated 2°, then crop 5 %", |i| {
        cut_back(&rotate(i, 2.0), 0.05, 0.05, 0.05, 0.05)
    }),
    // Beyond the core's margin: the wide cuts, against the inner core.
    ("sides cut to 4:3, stretched back to 16:9", |i| {
        cut_back(i, 0.125, 0.0, 0.125, 0.0)
    }),
    ("centred crop 11.3 %", |i| {
        cut_back(i, 0.113, 0.113, 0.113, 0.113)
    }),
    ("centred crop 14 %", |i| cut_back(i, 0.14, 0.14, 0.14, 0.14)),
    ("bottom 12 % cut, size kept", |i| {
        cut(i, 0.0, 0.0, 0.0, 0.12)
    }),
    ("top 13.5 % cut (sky)", |i| {
        cut_back(i, 0.0, 0.135, 0.0, 0.0)
    }),
    ("corner crop 12 % (bottom left kept)", |i| {
        cut_back(i, 0.0, 0.12, 0.12, 0.0)
    }),
    ("mirrored, centred crop 12.5 %", |i| {
        cut_back(&imageops::flip_horizontal(i), 0.125, 0.125, 0.125, 0.125)
    }),
    ("top and bottom cut 14 % each (letterbox to 2.5:1)", |i| {
        cut(i, 0.0, 0.14, 0.0, 0.14)
    }),
    ("crop 12 % off-centre (x 2 %)", |i| {
        cut_back(i, 0.14, 0.12, 0.10, 0.12)
    }),
    ("centred crop 17 %", |i| cut_back(i, 0.17, 0.17, 0.17, 0.17)),
    // Bars added: the picture whole, smaller, inside a larger frame.
    ("letterboxed into 4:3 (black bars top and bottom)", |i| {
        pad(i, [0.0, 0.1667, 0.0, 0.1667], [0, 0, 0])
    }),
    ("pillarboxed into 21:9 (black bars left and right)", |i| {
        pad(i, [0.1667, 0.0, 0.1667, 0.0], [0, 0, 0])
    }),
    ("black border 5 % each side", |i| {
        pad(i, [0.05, 0.05, 0.05, 0.05], [0, 0, 0])
    }),
    ("white border 3 % each side", |i| {
        pad(i, [0.03, 0.03, 0.03, 0.03], [255, 255, 255])
    }),
    ("grey bar 8 % below (a caption strip)", |i| {
        pad(i, [0.0, 0.0, 0.0, 0.08], [40, 40, 40])
    }),
    ("shrunk to 80 %, centred on black at its size", |i| {
        let small = imageops::resize(
            i,
            i.width() * 4 / 5,
            i.height() * 4 / 5,
            imageops::FilterType::Triangle,
        );
        pad(&small, [0.125; 4], [0, 0, 0])
    }),
    ("crop 5 %, then letterboxed into 4:3", |i| {
        pad(
            &cut(i, 0.05, 0.05, 0.05, 0.05),
            [0.0, 0.1667, 0.0, 0.1667],
            [0, 0, 0],
        )
    }),
    (
        "bottom 8 % cut, then letterboxed into 4:3 (a cut not centred)",
        |i| {
            pad(
                &cut(i, 0.0, 0.0, 0.0, 0.08),
                [0.0, 0.1667, 0.0, 0.1667],
                [0, 0, 0],
            )
        },
    ),
    ("left 6 % cut, then pillarboxed into 21:9", |i| {
        pad(
            &cut(i, 0.06, 0.0, 0.0, 0.0),
            [0.1667, 0.0, 0.1667, 0.0],
            [0, 0, 0],
        )
    }),
    (
        "corner crop 7 % (right and bottom), then a white border 3 %",
        |i| {
            pad(
                &cut(i, 0.0, 0.0, 0.07, 0.07),
                [0.03, 0.03, 0.03, 0.03],
                [255, 255, 255],
            )
        },
    ),
    ("mirrored, top 4 % cut, then a grey strip 8 % below", |i| {
        pad(
            &imageops::flip_horizontal(&cut(i, 0.0, 0.04, 0.0, 0.0)),
            [0.0, 0.0, 0.0, 0.08],
            [40, 40, 40],
        )
    }),
    ("bottom 13 % cut, then letterboxed into 4:3", |i| {
        pad(
            &cut(i, 0.0, 0.0, 0.0, 0.13),
            [0.0, 0.1667, 0.0, 0.1667],
            [0, 0, 0],
        )
    }),
    ("turned 3°, then letterboxed into 4:3", |i| {
        pad(&rotate(i, 3.0), [0.0, 0.1667, 0.0, 0.1667], [0, 0, 0])
    }),
    (
        "pillarboxed on a blurred copy of itself (not flat bars)",
        |i| {
            let mut back = imageops::blur(
                &imageops::resize(
                    i,
                    i.width() * 4 / 3,
                    i.height(),
                    imageops::FilterType::Triangle,
                ),
                12.0,
            );
            imageops::replace(&mut back, i, i64::from(i.width() / 6), 0);
            back
        },
    ),
];

fn encode(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(image)
        .expect("an RGB image encodes");
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut originals = Vec::new();
    for name in [
        "solidWhiteCurve",
        "solidWhiteRight",
        "solidYellowCurve",
        "solidYellowCurve2",
        "solidYellowLeft",
        "whiteCarLaneSwitch",
    ] {
        let path = datasets::path(&format!("images/udacity_lanes/{name}.jpg"));
        originals.push(image::open(path)?.to_rgb8());
    }
    let street = image::open(datasets::path("images/geotagged/mapillary_DSC00001.JPG"))?;
    originals.push(
        street
            .resize(1920, 1080, imageops::FilterType::Triangle)
            .to_rgb8(),
    );
    let stored: Vec<_> = originals
        .iter()
        .map(|original| {
            let prints = frame_prints(&encode(original)).expect("a JPEG just made");
            let keys = stored_keys(&prints.core);
            let inner = inner_core(&prints.core).expect("a core-sized print");
            (prints.core, inner, keys)
        })
        .collect();
    println!(
        "{} real frames; a copy is found under {COPY_DISTANCE}",
        originals.len()
    );
    println!();
    println!("| disguise | nearest probe to its original's core (min–max) | found |");
    println!("|---|---|---:|");
    for (name, disguise) in DISGUISES {
        let (mut low, mut high, mut found) = (f32::INFINITY, 0.0f32, 0);
        for (original, (core, inner, keys)) in originals.iter().zip(&stored) {
            let prints = frame_prints(&encode(&disguise(original)))?;
            let nearest = prints.nearest(core, Some(inner), f32::INFINITY);
            let keyed = prints.probe_keys().iter().any(|k| keys.contains(k));
            low = low.min(nearest);
            high = high.max(nearest);
            found += usize::from(keyed && nearest < COPY_DISTANCE);
        }
        println!(
            "| {name} | {low:.3}–{high:.3} | {found} of {} |",
            originals.len()
        );
    }
    Ok(())
}
