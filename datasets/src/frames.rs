//! Real dashcam frames for simulated trips, consistent with the place they show: every
//! dashcam that passes one place looking one way films much the same picture, as on a real
//! street, and different streets look different.
//!
//! The pictures are the 45 stills cut from Udacity's `solidWhiteRight.mp4` (a real drive,
//! 5 stills a second: `frames/udacity_solidWhiteRight/`, see `scripts/extract-frames`),
//! laid over the simulated city like this ([`Look`]):
//! - **Place.** The car's true position and heading (never the fix it reports) pick the
//!   picture: heading by quarter (north, east, south, west), and along that direction a
//!   still every [`STILL_SPACING_M`], so driving on shows the next still, as the video
//!   does. Each street band ([`STREET_BAND_M`] across the direction of travel) starts the
//!   video at its own still, mirrored or not, cut at its own window.
//! - **Camera.** Each dashcam sees the place through its own mount (a window a few pixels
//!   off) and its own exposure.
//! - **Moment.** Each pass has its own place in the lane (the window a few pixels over), its
//!   own traffic (a patch of another still's road in the lower part of the picture) and its
//!   own light (brightness and gamma), so two passes of one place are never the same frame to
//!   ingest's near-duplicate rule (0.1 apart within a cell; the source keeps a margin of
//!   [`DISTINCT_DISTANCE`] from every frame it handed out for the fix's cell).
//!
//! With 45 stills, two mirrors and a few windows, streets far apart can show the same still:
//! the simulated city has fewer looks than a real one. Unique bytes: a JPEG comment names the
//! footage and the frame key. Asking again for a key gives the same bytes — which is what a
//! replaying device uploads. A spoofer who never went to a place can only send footage of
//! somewhere else ([`Look::elsewhere`]).
//!
//! Never does: pretend the footage was filmed where the fix says; [`Footage`] says what it is.

use std::collections::HashMap;
use std::path::Path;

use h3o::CellIndex;
use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};
use model::Fix;

use crate::error::{Error, Result, read};
use crate::fleet::{FrameKey, Pose};

/// Stills cut from the video by `scripts/extract-frames` (5 fps).
pub const VIDEO_STILLS: usize = 45;
/// Metres driven per still of the video.
pub const STILL_SPACING_M: f64 = 6.0;
/// Width of a street band: places this far apart across the direction of travel show
/// another street.
pub const STREET_BAND_M: f64 = 40.0;
/// How far [`Look::elsewhere`] moves a pose: footage of a town nowhere near this one.
pub const ELSEWHERE_M: f64 = 50_000.0;
/// A frame kept for a cell differs from the others there by at least this much (ingest
/// rejects below 0.1; the margin covers JPEG re-encoding).
pub const DISTINCT_DISTANCE: f32 = 0.15;
/// Width and height of every frame (a crop of the 960 × 540 footage).
pub const FRAME_SIZE: (u32, u32) = (864, 486);
/// Size of a pass's traffic patch.
const TRAFFIC_SIZE: (u32, u32) = (320, 160);
/// How far a camera's mount and the pass's place in the lane move the window, pixels
/// (either way).
const MOUNT_PX: (i32, i32) = (24, 6);
/// Of which the lane, per pass.
const LANE_PX: i32 = 14;
const JPEG_QUALITY: u8 = 90;
/// Variants tried per frame before the most distinct one is taken.
const ATTEMPTS: u32 = 48;
const METRES_PER_DEGREE: f64 = 111_320.0;

/// Where a frame's pixels come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Footage {
    /// A still of `udacity_solidWhiteRight.mp4`, `frame` of 0..45 at 5 fps.
    UdacityVideo { frame: u16 },
}

impl Footage {
    /// One line for a summary, with the source and licence.
    pub fn attribution(&self) -> String {
        match self {
            Self::UdacityVideo { frame } => format!(
                "Udacity CarND-LaneLines-P1 test_videos/solidWhiteRight.mp4, still {frame} (MIT)"
            ),
        }
    }

    /// The footage a summary groups by: `udacity_solidWhiteRight.mp4`.
    pub fn collection(&self) -> &'static str {
        match self {
            Self::UdacityVideo { .. } => "udacity_solidWhiteRight.mp4",
        }
    }
}

/// Where a dashcam's lens truly was, and which dashcam it is: what its frame shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    /// The car's true pose (not the fix it reports).
    pub pose: Pose,
    /// The dashcam (its mount and exposure); the simulator's device index serves.
    pub camera: u32,
}

impl Look {
    /// What a spoofer sends for a place it never went to: footage, from the same dashcam,
    /// of a town [`ELSEWHERE_M`] away.
    pub fn elsewhere(self) -> Self {
        let mut pose = self.pose;
        pose.position.1 += ELSEWHERE_M / METRES_PER_DEGREE;
        Self { pose, ..self }
    }
}

/// A JPEG for one fix, and what it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub jpeg: Vec<u8>,
    pub footage: Footage,
}

/// The picture of a place before camera and moment: which still, mirrored or not, cut where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Scene {
    still: usize,
    mirror: bool,
    crop: (u32, u32),
}

impl Scene {
    /// The scene at `pose` (see the module documentation).
    fn at(pose: &Pose) -> Self {
        let (lon, lat) = pose.position;
        let north = lat * METRES_PER_DEGREE;
        let east = lon * METRES_PER_DEGREE * lat.to_radians().cos();
        let quarter = ((pose.heading_deg.rem_euclid(360.0) + 45.0) / 90.0).floor() as u64 % 4;
        // Metres along the quarter's direction, and across it.
        let (along, across) = match quarter {
            0 => (north, east),
            1 => (east, -north),
            2 => (-north, -east),
            _ => (-east, north),
        };
        let band = (across / STREET_BAND_M).floor() as i64;
        let street = mix(quarter << 56 ^ band as u64);
        let step = (along / STILL_SPACING_M).floor() as i64;
        let stills = VIDEO_STILLS as i64;
        let still = ((street % VIDEO_STILLS as u64) as i64 + step).rem_euclid(stills);
        let (width, height) = FRAME_SIZE;
        let (slack_x, slack_y) = (
            960 - width - 2 * MOUNT_PX.0 as u32,
            540 - height - 2 * MOUNT_PX.1 as u32,
        );
        Self {
            still: still as usize,
            mirror: (street >> 8) & 1 == 1,
            crop: (
                ((street >> 9) % u64::from(slack_x + 1)) as u32 + MOUNT_PX.0 as u32,
                ((street >> 20) % u64::from(slack_y + 1)) as u32 + MOUNT_PX.1 as u32,
            ),
        }
    }
}

/// How one frame is made: the scene through a camera at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Variant {
    scene: Scene,
    /// The camera's window offset, pixels.
    mount: (i32, i32),
    /// Traffic: a patch of this still's road, at this x in the frame.
    traffic: (usize, u32),
    /// Brightness shift (the camera's exposure and the moment's light), levels.
    brightness: i32,
    /// The moment's light and shadows: a gamma of 0.80–1.25, in hundredths.
    gamma_percent: u64,
}

/// Hands out frames for frame keys; see the module documentation.
#[derive(Debug)]
pub struct FrameSource {
    stills: Vec<RgbImage>,
    issued: HashMap<FrameKey, Variant>,
    by_cell: HashMap<CellIndex, Vec<Vec<f32>>>,
}

impl FrameSource {
    /// Decodes the footage under the data directory.
    pub fn open() -> Result<Self> {
        let stills = (0..VIDEO_STILLS)
            .map(|frame| {
                decode(&crate::path(&format!(
                    "frames/udacity_solidWhiteRight/frame_{frame:03}.jpg"
                )))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            stills,
            issued: HashMap::new(),
            by_cell: HashMap::new(),
        })
    }

    /// The frame for `key`, reported at `fix`, showing what `look` saw. The same key always
    /// gives the same bytes; a new key gives a picture distinct from every frame handed out
    /// for the fix's H3 res-12 cell.
    pub fn frame(&mut self, key: FrameKey, fix: &Fix, look: Look) -> Result<Frame> {
        let (variant, pixels) = self.choose(key, fix, look)?;
        let pixels = pixels.unwrap_or_else(|| self.pixels(variant));
        self.render(key, variant, &pixels)
    }

    /// The pixels of [`FrameSource::frame`]'s picture, before JPEG (for checks that do not
    /// need the bytes).
    pub fn picture(&mut self, key: FrameKey, fix: &Fix, look: Look) -> Result<RgbImage> {
        let (variant, pixels) = self.choose(key, fix, look)?;
        Ok(pixels.unwrap_or_else(|| self.pixels(variant)))
    }

    /// The variant issued for `key`, with its pixels when they were made to choose it.
    fn choose(
        &mut self,
        key: FrameKey,
        fix: &Fix,
        look: Look,
    ) -> Result<(Variant, Option<RgbImage>)> {
        if let Some(variant) = self.issued.get(&key).copied() {
            return Ok((variant, None));
        }
        let cell = fix.cell(model::COVERAGE_RESOLUTION);
        let taken = cell.and_then(|cell| self.by_cell.get(&cell));
        let scene = Scene::at(&look.pose);
        let mut best: Option<(f32, Variant, Vec<f32>, DynamicImage)> = None;
        for attempt in 0..ATTEMPTS {
            let variant = self.variant(key, scene, look.camera, attempt);
            let pixels = DynamicImage::ImageRgb8(self.pixels(variant));
            let print = fingerprint(&pixels);
            let nearest = taken
                .into_iter()
                .flatten()
                .map(|other| distance(&print, other))
                .fold(f32::INFINITY, f32::min);
            if best
                .as_ref()
                .is_none_or(|(distance, ..)| nearest > *distance)
            {
                best = Some((nearest, variant, print, pixels));
            }
            if nearest >= DISTINCT_DISTANCE {
                break;
            }
        }
        let Some((_, variant, print, pixels)) = best else {
            return Err(Error::Config("no frame variant could be made".into()));
        };
        if let Some(cell) = cell {
            self.by_cell.entry(cell).or_default().push(print);
        }
        self.issued.insert(key, variant);
        Ok((variant, Some(pixels.into_rgb8())))
    }

    /// The `attempt`-th moment for `key`: the camera is fixed, the traffic and light vary.
    fn variant(&self, key: FrameKey, scene: Scene, camera: u32, attempt: u32) -> Variant {
        let mount = mix(0xCA3E_u64 << 32 | u64::from(camera));
        let moment = mix((u64::from(key.device) << 40
            | u64::from(key.trip) << 20
            | u64::from(key.index))
            ^ u64::from(attempt).wrapping_mul(0x9E37_79B9));
        let span = |bits: u64, half: i32| (bits % (2 * half as u64 + 1)) as i32 - half;
        let (width, _) = FRAME_SIZE;
        Variant {
            scene,
            mount: (
                span(mount, MOUNT_PX.0 - LANE_PX) + span(moment >> 48, LANE_PX),
                span(mount >> 16, MOUNT_PX.1),
            ),
            gamma_percent: 80 + (moment >> 24) % 46,
            traffic: (
                (moment % VIDEO_STILLS as u64) as usize,
                ((moment >> 8) % u64::from(width - TRAFFIC_SIZE.0)) as u32,
            ),
            brightness: span(mount >> 32, 6) + span(moment >> 32, 10),
        }
    }

    fn pixels(&self, variant: Variant) -> RgbImage {
        let scene = variant.scene;
        let image = &self.stills[scene.still];
        let (width, height) = FRAME_SIZE;
        let x = (scene.crop.0 as i32 + variant.mount.0).clamp(0, (960 - width) as i32) as u32;
        let y = (scene.crop.1 as i32 + variant.mount.1).clamp(0, (540 - height) as i32) as u32;
        let x = x.min(image.width().saturating_sub(width));
        let y = y.min(image.height().saturating_sub(height));
        let mut cut = cut_out(image, x, y, width, height);
        // Traffic: the road of another still, over the lower part of the picture.
        let (source, at) = variant.traffic;
        let other = &self.stills[source];
        let (patch_w, patch_h) = TRAFFIC_SIZE;
        let from_x = (u64::from(at) * 7 % u64::from(other.width().saturating_sub(patch_w))) as u32;
        let from_y = other.height().saturating_sub(patch_h + 40);
        let patch = cut_out(other, from_x, from_y, patch_w, patch_h);
        image::imageops::replace(
            &mut cut,
            &patch,
            i64::from(at),
            i64::from(height - patch_h - 30),
        );
        if scene.mirror {
            image::imageops::flip_horizontal_in_place(&mut cut);
        }
        if variant.brightness != 0 || variant.gamma_percent != 100 {
            let table = tone_table(variant.brightness, variant.gamma_percent);
            for value in cut.iter_mut() {
                *value = table[usize::from(*value)];
            }
        }
        cut
    }

    fn render(&self, key: FrameKey, variant: Variant, pixels: &RgbImage) -> Result<Frame> {
        let footage = Footage::UdacityVideo {
            frame: u16::try_from(variant.scene.still).unwrap_or(u16::MAX),
        };
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
            .encode_image(pixels)
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
    let image = decode_memory(jpeg)?;
    encode(&image, quality)
}

/// `jpeg` cropped by `share` of each side (at most a quarter), scaled back to its size,
/// `brightness` levels brighter and encoded at `quality`: what someone passing footage off
/// as new makes of it so that neither its bytes nor its exact pixels match.
pub fn disguise(jpeg: &[u8], share: f64, brightness: i32, quality: u8) -> Result<Vec<u8>> {
    disguise_cut(jpeg, [share; 4], false, brightness, quality)
}

/// [`disguise`] of `jpeg` flipped left to right: footage passed off as new that does not
/// even show its street the right way round.
pub fn disguise_mirrored(jpeg: &[u8], share: f64, brightness: i32, quality: u8) -> Result<Vec<u8>> {
    disguise_cut(jpeg, [share; 4], true, brightness, quality)
}

/// `jpeg` (flipped left to right first when `mirror`) cut by `[left, top, right, bottom]`
/// (shares of each side, each at most a quarter), scaled back to its size, `brightness`
/// levels brighter and encoded at `quality`: the bonnet or a time stamp cut off the bottom,
/// or a crop anchored at a corner.
pub fn disguise_cut(
    jpeg: &[u8],
    sides: [f64; 4],
    mirror: bool,
    brightness: i32,
    quality: u8,
) -> Result<Vec<u8>> {
    let image = decode_mirrored(jpeg, mirror)?;
    encode(
        &cut_image(&image, sides.map(|s| s.clamp(0.0, 0.25)), brightness),
        quality,
    )
}

/// [`disguise_cut`], the cut kept at its own size instead of scaled back: 16:9 footage cut
/// to 4:3 and sent as 4:3. (Nothing is upscaled, yet a deep cut still shows its picture
/// larger at the quality check's fixed analysis width, so a soft original may be refused as
/// `blurred`.)
pub fn disguise_cut_kept(
    jpeg: &[u8],
    sides: [f64; 4],
    mirror: bool,
    brightness: i32,
    quality: u8,
) -> Result<Vec<u8>> {
    let image = decode_mirrored(jpeg, mirror)?;
    let cut = crop_shares(&image, sides.map(|s| s.clamp(0.0, 0.25)));
    encode(
        &image::imageops::colorops::brighten(&cut, brightness),
        quality,
    )
}

/// `jpeg` (flipped left to right first when `mirror`) turned `degrees` clockwise about its
/// centre (size kept, the corners it leaves black; with `fill`, zoomed in until none is
/// left), `brightness` levels brighter and encoded at `quality`: the small turn a
/// re-uploader gives footage so that it no longer matches.
pub fn disguise_turned(
    jpeg: &[u8],
    degrees: f64,
    fill: bool,
    mirror: bool,
    brightness: i32,
    quality: u8,
) -> Result<Vec<u8>> {
    let image = decode_mirrored(jpeg, mirror)?;
    let turned = turn_image(&image, degrees);
    let share = if fill {
        let aspect = f64::from(image.width()) / f64::from(image.height().max(1));
        model::footage::Cut::turned_to_fill(degrees, aspect).left
    } else {
        0.0
    };
    encode(&cut_image(&turned, [share; 4], brightness), quality)
}

/// `jpeg` (flipped left to right first when `mirror`) `brightness` levels brighter, placed
/// whole on a canvas larger by `[left, top, right, bottom]` (shares of its own sides, each
/// at most a half) in `shade`, and encoded at `quality`: footage letterboxed into another
/// aspect, pillarboxed, bordered or given a caption strip, so that neither its bytes nor
/// its frame match.
pub fn disguise_framed(
    jpeg: &[u8],
    bars: [f64; 4],
    shade: u8,
    mirror: bool,
    brightness: i32,
    quality: u8,
) -> Result<Vec<u8>> {
    let image = image::imageops::colorops::brighten(&decode_mirrored(jpeg, mirror)?, brightness);
    let (width, height) = (f64::from(image.width()), f64::from(image.height()));
    let [left, top, right, bottom] = bars.map(|share| share.clamp(0.0, 0.5));
    let mut canvas = RgbImage::from_pixel(
        (width * (1.0 + left + right)).round() as u32,
        (height * (1.0 + top + bottom)).round() as u32,
        image::Rgb([shade; 3]),
    );
    image::imageops::replace(
        &mut canvas,
        &image,
        (width * left).round() as i64,
        (height * top).round() as i64,
    );
    encode(&canvas, quality)
}

/// `jpeg` decoded, and flipped left to right when `mirror`.
fn decode_mirrored(jpeg: &[u8], mirror: bool) -> Result<RgbImage> {
    let mut image = decode_memory(jpeg)?;
    if mirror {
        image::imageops::flip_horizontal_in_place(&mut image);
    }
    Ok(image)
}

/// `image` turned `degrees` clockwise about its centre, sampled bilinearly; what falls
/// outside it is black.
fn turn_image(image: &RgbImage, degrees: f64) -> RgbImage {
    let (width, height) = (image.width(), image.height());
    let (cx, cy) = (f64::from(width) / 2.0, f64::from(height) / 2.0);
    let (sin, cos) = degrees.to_radians().sin_cos();
    RgbImage::from_fn(width, height, |x, y| {
        // The source of this pixel's centre: turned back.
        let (dx, dy) = (f64::from(x) + 0.5 - cx, f64::from(y) + 0.5 - cy);
        let (sx, sy) = (
            cx + dx * cos + dy * sin - 0.5,
            cy - dx * sin + dy * cos - 0.5,
        );
        if sx < 0.0 || sy < 0.0 || sx > f64::from(width - 1) || sy > f64::from(height - 1) {
            return image::Rgb([0, 0, 0]);
        }
        let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(width - 1), (y0 + 1).min(height - 1));
        let (fx, fy) = (sx - f64::from(x0), sy - f64::from(y0));
        let channel = |c: usize| {
            let at = |x: u32, y: u32| f64::from(image.get_pixel(x, y)[c]);
            let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
            let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
            (top * (1.0 - fy) + bottom * fy).round() as u8
        };
        image::Rgb([channel(0), channel(1), channel(2)])
    })
}

/// `image` without `[left, top, right, bottom]` of its sides, scaled back, brightened.
fn cut_image(image: &RgbImage, sides: [f64; 4], brightness: i32) -> RgbImage {
    let cut = crop_shares(image, sides);
    let scaled = image::imageops::resize(&cut, image.width(), image.height(), FilterType::Triangle);
    image::imageops::colorops::brighten(&scaled, brightness)
}

/// `image` less `[left, top, right, bottom]` shares of its sides, rounded to whole pixels.
fn crop_shares(image: &RgbImage, [left, top, right, bottom]: [f64; 4]) -> RgbImage {
    let (width, height) = (image.width(), image.height());
    let px = |share: f64, size: u32| (f64::from(size) * share).round() as u32;
    let (x, y) = (px(left, width), px(top, height));
    image::imageops::crop_imm(
        image,
        x,
        y,
        width - x - px(right, width),
        height - y - px(bottom, height),
    )
    .to_image()
}

fn decode_memory(jpeg: &[u8]) -> Result<RgbImage> {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .map(|image| image.to_rgb8())
        .map_err(|source| Error::Image {
            path: "(a frame in memory)".into(),
            source,
        })
}

fn encode(image: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
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

/// The part of `image` at `(x, y)` of `width` × `height` (cut to the image, as
/// `image::imageops::crop_imm` cuts), copied a row at a time.
fn cut_out(image: &RgbImage, x: u32, y: u32, width: u32, height: u32) -> RgbImage {
    let x = x.min(image.width());
    let y = y.min(image.height());
    let width = width.min(image.width() - x);
    let height = height.min(image.height() - y);
    let stride = image.width() as usize * 3;
    let (from, span) = (x as usize * 3, width as usize * 3);
    let mut out = Vec::with_capacity(span * height as usize);
    for row in image
        .as_raw()
        .chunks_exact(stride)
        .skip(y as usize)
        .take(height as usize)
    {
        out.extend_from_slice(&row[from..from + span]);
    }
    RgbImage::from_raw(width, height, out).expect("rows of the cut's size")
}

/// What a variant's brightness (levels added, clamped as `image`'s `brighten` clamps) and
/// then gamma (in percent; 100 is none) make of each 8-bit value: both in one pass.
fn tone_table(brightness: i32, gamma_percent: u64) -> [u8; 256] {
    let gamma = gamma_percent as f64 / 100.0;
    std::array::from_fn(|v| {
        let brightened = (v as i32 + brightness).clamp(0, 255) as u8;
        if gamma_percent == 100 {
            brightened
        } else {
            ((f64::from(brightened) / 255.0).powf(gamma) * 255.0).round() as u8
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture whose channels take every 8-bit value.
    fn every_value() -> RgbImage {
        RgbImage::from_fn(37, 23, |x, y| {
            let v = (x * 23 + y) as u8;
            image::Rgb([v, v.wrapping_mul(7), 255 - v])
        })
    }

    #[test]
    fn cut_out_is_crop_imm_row_by_row() {
        let picture = every_value();
        for (x, y, width, height) in [
            (0, 0, 37, 23),
            (5, 3, 10, 7),
            (30, 20, 20, 20),
            (40, 0, 3, 3),
        ] {
            assert_eq!(
                cut_out(&picture, x, y, width, height),
                image::imageops::crop_imm(&picture, x, y, width, height).to_image(),
                "({x}, {y}) {width} × {height}"
            );
        }
    }

    #[test]
    fn the_tone_table_is_brighten_then_gamma() {
        let picture = every_value();
        for (brightness, gamma_percent) in [(0, 100), (-16, 100), (12, 80), (-7, 125), (0, 93)] {
            let mut expected = image::imageops::colorops::brighten(&picture, brightness);
            let gamma = gamma_percent as f64 / 100.0;
            for value in expected.iter_mut() {
                if gamma_percent != 100 {
                    *value = ((f64::from(*value) / 255.0).powf(gamma) * 255.0).round() as u8;
                }
            }
            let table = tone_table(brightness, gamma_percent);
            let mut toned = picture.clone();
            for value in toned.iter_mut() {
                *value = table[usize::from(*value)];
            }
            assert_eq!(
                toned, expected,
                "brightness {brightness}, gamma {gamma_percent} %"
            );
        }
    }
}
