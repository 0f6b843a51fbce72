//! Real dashcam frames for simulated trips: the 45 stills cut from Udacity's
//! `solidWhiteRight.mp4` (`frames/udacity_solidWhiteRight/`, see `scripts/extract-frames`)
//! and the six Udacity lane photos, varied per frame so that every frame is new to the
//! server: unique bytes (a JPEG comment names the footage and the frame key) and, per H3
//! res-12 cell, a different picture to ingest's perceptual check (another source frame,
//! crop window, mirror image and brightness).
//!
//! The check is ingest's rule (`ingest::similarity`): a grayscale 32 × 18 thumbnail
//! normalised to zero mean and unit spread; two frames of one cell closer than 0.1 (mean
//! absolute difference) are the same scene. The source keeps the fingerprints it handed out
//! per cell and keeps a margin ([`DISTINCT_DISTANCE`]). Asking again for a key gives the
//! same bytes — which is what a replaying device uploads.
//!
//! Never does: pretend the footage was filmed where the fix says; [`Footage`] says what it is.

use std::collections::HashMap;
use std::path::Path;

use h3o::CellIndex;
use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};
use model::Fix;

use crate::error::{Error, Result, read};
use crate::fleet::FrameKey;

/// The six Udacity lane photos under `images/udacity_lanes/`.
pub const LANE_STILLS: [&str; 6] = [
    "solidWhiteCurve.jpg",
    "solidWhiteRight.jpg",
    "solidYellowCurve.jpg",
    "solidYellowCurve2.jpg",
    "solidYellowLeft.jpg",
    "whiteCarLaneSwitch.jpg",
];
/// Stills cut from the video by `scripts/extract-frames` (5 fps).
pub const VIDEO_STILLS: usize = 45;
/// A frame kept for a cell differs from the others there by at least this much (ingest
/// rejects below 0.1; the margin covers JPEG re-encoding).
pub const DISTINCT_DISTANCE: f32 = 0.15;
/// Width and height of every frame (a crop of the 960 × 540 footage).
pub const FRAME_SIZE: (u32, u32) = (864, 486);
const JPEG_QUALITY: u8 = 90;
/// Variants tried per frame before the most distinct one is taken.
const ATTEMPTS: u32 = 48;

/// Where a frame's pixels come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Footage {
    /// A still of `udacity_solidWhiteRight.mp4`, `frame` of 0..45 at 5 fps.
    UdacityVideo { frame: u16 },
    /// One of [`LANE_STILLS`].
    UdacityLaneStill { name: &'static str },
}

impl Footage {
    /// One line for a summary, with the source and licence.
    pub fn attribution(&self) -> String {
        match self {
            Self::UdacityVideo { frame } => format!(
                "Udacity CarND-LaneLines-P1 test_videos/solidWhiteRight.mp4, still {frame} (MIT)"
            ),
            Self::UdacityLaneStill { name } => {
                format!("Udacity CarND-LaneLines-P1 test_images/{name} (MIT)")
            }
        }
    }

    /// The footage a summary groups by: `udacity_solidWhiteRight.mp4` or
    /// `udacity_lanes`.
    pub fn collection(&self) -> &'static str {
        match self {
            Self::UdacityVideo { .. } => "udacity_solidWhiteRight.mp4",
            Self::UdacityLaneStill { .. } => "udacity_lanes",
        }
    }
}

/// A JPEG for one fix, and what it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub jpeg: Vec<u8>,
    pub footage: Footage,
}

/// How one frame is cut from its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Variant {
    source: usize,
    mirror: bool,
    crop: (u32, u32),
    /// Brightness shift, −12..=12 levels.
    brightness: i32,
}

/// Hands out frames for frame keys; see the module documentation.
#[derive(Debug)]
pub struct FrameSource {
    sources: Vec<(Footage, RgbImage)>,
    issued: HashMap<FrameKey, Variant>,
    by_cell: HashMap<CellIndex, Vec<Vec<f32>>>,
}

impl FrameSource {
    /// Decodes the footage under the data directory.
    pub fn open() -> Result<Self> {
        let video = (0..VIDEO_STILLS).map(|frame| {
            let path = crate::path(&format!(
                "frames/udacity_solidWhiteRight/frame_{frame:03}.jpg"
            ));
            let frame = u16::try_from(frame).unwrap_or(u16::MAX);
            (Footage::UdacityVideo { frame }, path)
        });
        let stills = LANE_STILLS.iter().map(|name| {
            let path = crate::path(&format!("images/udacity_lanes/{name}"));
            (Footage::UdacityLaneStill { name }, path)
        });
        let sources = video
            .chain(stills)
            .map(|(footage, path)| Ok((footage, decode(&path)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            sources,
            issued: HashMap::new(),
            by_cell: HashMap::new(),
        })
    }

    /// The frame for `key`, taken at `fix`. The same key always gives the same bytes; a new
    /// key gives a picture distinct from every frame handed out for the fix's H3 res-12 cell.
    pub fn frame(&mut self, key: FrameKey, fix: &Fix) -> Result<Frame> {
        if let Some(variant) = self.issued.get(&key).copied() {
            return self.render(key, variant);
        }
        let cell = fix.cell(model::COVERAGE_RESOLUTION);
        let taken = cell.and_then(|cell| self.by_cell.get(&cell));
        let mut best: Option<(f32, Variant, Vec<f32>)> = None;
        for attempt in 0..ATTEMPTS {
            let variant = self.variant(key, attempt);
            // Brightness barely moves a normalised fingerprint: judge the cut alone.
            let cut = Variant {
                brightness: 0,
                ..variant
            };
            let print = fingerprint(&DynamicImage::ImageRgb8(self.pixels(cut)));
            let nearest = taken
                .into_iter()
                .flatten()
                .map(|other| distance(&print, other))
                .fold(f32::INFINITY, f32::min);
            if best
                .as_ref()
                .is_none_or(|(distance, ..)| nearest > *distance)
            {
                best = Some((nearest, variant, print));
            }
            if nearest >= DISTINCT_DISTANCE {
                break;
            }
        }
        let Some((_, variant, print)) = best else {
            return Err(Error::Config("no frame variant could be made".into()));
        };
        if let Some(cell) = cell {
            self.by_cell.entry(cell).or_default().push(print);
        }
        self.issued.insert(key, variant);
        self.render(key, variant)
    }

    /// The `attempt`-th candidate for `key`: consecutive frames of a trip walk through the
    /// video like a drive does; trips start at different stills and crops.
    fn variant(&self, key: FrameKey, attempt: u32) -> Variant {
        let trip_hash = mix(u64::from(key.device) << 32 | u64::from(key.trip));
        let count = self.sources.len() as u64;
        let step = u64::from(attempt) * 7;
        let source = ((trip_hash % count) + u64::from(key.index) + step) % count;
        let style = mix(trip_hash ^ u64::from(attempt).wrapping_mul(0x9E37)) ^ u64::from(key.index);
        let (width, height) = FRAME_SIZE;
        Variant {
            source: source as usize,
            mirror: style & 1 == 1,
            crop: (
                ((style >> 1) % 4) as u32 * (960 - width) / 3,
                ((style >> 3) % 3) as u32 * (540 - height) / 2,
            ),
            brightness: ((style >> 5) % 25) as i32 - 12,
        }
    }

    fn pixels(&self, variant: Variant) -> RgbImage {
        let (_, image) = &self.sources[variant.source];
        let (width, height) = FRAME_SIZE;
        let (x, y) = variant.crop;
        let x = x.min(image.width().saturating_sub(width));
        let y = y.min(image.height().saturating_sub(height));
        let mut cut = image::imageops::crop_imm(image, x, y, width, height).to_image();
        if variant.mirror {
            image::imageops::flip_horizontal_in_place(&mut cut);
        }
        if variant.brightness != 0 {
            cut = image::imageops::colorops::brighten(&cut, variant.brightness);
        }
        cut
    }

    fn render(&self, key: FrameKey, variant: Variant) -> Result<Frame> {
        let footage = self.sources[variant.source].0;
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
            .encode_image(&self.pixels(variant))
            .map_err(Error::Encode)?;
        let comment = format!(
            "Waymark simulated frame: device {} trip {} fix {}; pixels from {}",
            key.device,
            key.trip,
            key.index,
            footage.attribution()
        );
        Ok(Frame {
            jpeg: with_comment(jpeg, &comment),
            footage,
        })
    }
}

/// `jpeg` decoded and encoded again at `quality`: the same picture in other bytes (what
/// anyone re-sending footage as new makes of it).
pub fn reencode(jpeg: &[u8], quality: u8) -> Result<Vec<u8>> {
    let image =
        image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).map_err(|source| {
            Error::Image {
                path: "(a frame in memory)".into(),
                source,
            }
        })?;
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&image.to_rgb8())
        .map_err(Error::Encode)?;
    Ok(out)
}

fn decode(path: &Path) -> Result<RgbImage> {
    let bytes = read(path)?;
    let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).map_err(
        |source| Error::Image {
            path: path.to_owned(),
            source,
        },
    )?;
    Ok(image.to_rgb8())
}

/// `jpeg` with a COM segment holding `text` after its first segment (JFIF's APP0 when
/// there is one).
fn with_comment(jpeg: Vec<u8>, text: &str) -> Vec<u8> {
    let body = &text.as_bytes()[..text.len().min(60_000)];
    let length = u16::try_from(body.len() + 2).unwrap_or(u16::MAX);
    let insert_at = match jpeg.get(2..6) {
        Some([0xFF, 0xE0, high, low]) => 4 + usize::from(u16::from_be_bytes([*high, *low])),
        _ => 2,
    };
    let mut out = Vec::with_capacity(jpeg.len() + body.len() + 4);
    out.extend_from_slice(&jpeg[..insert_at]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&jpeg[insert_at..]);
    out
}

/// ingest's perceptual fingerprint (`ingest::similarity::fingerprint`), on decoded pixels.
fn fingerprint(image: &DynamicImage) -> Vec<f32> {
    let small = image
        .thumbnail(256, 256)
        .resize_exact(32, 18, FilterType::Triangle)
        .to_luma8();
    let values: Vec<f32> = small.pixels().map(|p| f32::from(p[0])).collect();
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    let spread = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32)
        .sqrt()
        .max(1.0);
    values.iter().map(|v| (v - mean) / spread).collect()
}

fn distance(a: &[f32], b: &[f32]) -> f32 {
    let sum: f32 = a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum();
    sum / a.len().max(1) as f32
}

/// SplitMix64's finaliser: spreads a key's bits deterministically.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
