//! Perceptual fingerprints for near-duplicate detection: the same scene uploaded again,
//! re-encoded or resized, has almost the same fingerprint; another scene does not.
//!
//! The fingerprint is the frame in grayscale, shrunk to 32 × 18 and normalised to zero mean
//! and unit contrast. Two fingerprints are compared by their mean absolute difference:
//! re-encoding and resizing barely move it; another moment of the drive moves it a lot.
//! (Bit hashes such as a 64- or 256-bit dHash are too coarse for dashcam frames: flat road
//! and sky make re-encoded copies flip as many bits as a different frame.) Pure Rust
//! (`image`), so the check runs without OpenCV.
//!
//! [`frame_prints`] adds, from the same decode, what the global footage index
//! (`model::footage`) keeps and asks: the frame's core (its centre, at 64 × 36) and one
//! probe per cut a copy may have had (centred, one side, a corner, two opposite sides,
//! turned), as it is and mirrored; and for cuts beyond the core's margin, the wide probes,
//! read where the original's inner core would be. A frame framed with bars (letterboxed,
//! pillarboxed, bordered: [`crate::framing`]) is probed again as the picture inside them.
//! The keyed probes are read at once; the others only when the index offers a candidate.

use image::imageops::FilterType;

const WIDTH: u32 = 32;
const HEIGHT: u32 = 18;

/// Fingerprints closer than this (mean absolute difference, in standard deviations) are the
/// same scene.
pub const NEAR_DUPLICATE_DISTANCE: f32 = 0.1;

pub use model::consensus::{Fingerprint, distance};

#[derive(Debug, thiserror::Error)]
#[error("cannot fingerprint the frame: {0}")]
pub struct FingerprintError(#[from] image::ImageError);

/// The fingerprint of a JPEG.
pub fn fingerprint(jpeg: &[u8]) -> Result<Fingerprint, FingerprintError> {
    let image = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)?;
    Ok(fingerprint_image(&image))
}

/// What the pipeline keeps and asks about one frame, from one decode.
///
/// The footage index's probes are read in two steps: the keyed ones, whose keys fetch the
/// candidates, as the prints are made ([`FramePrints::probe_keys`]); every probe only when
/// a candidate is to be measured ([`FramePrints::probe_sets`]), from the frame's summed
/// areas kept for it. Nearly every frame has no candidate, and so never pays for the probes
/// between the keyed ones.
#[derive(Debug, Clone)]
pub struct FramePrints {
    /// The whole frame: near duplicates and place consensus.
    pub whole: Fingerprint,
    /// The centre ([`model::footage::CORE_MARGIN`] of each side left out): what the footage
    /// index stores.
    pub core: Fingerprint,
    /// The frame's grayscale summed areas, and the pictures its probes read: the frame as
    /// sent, then the pictures inside the bars it was framed with, if it was
    /// ([`crate::framing::content_boxes`]: a copy letterboxed, pillarboxed or bordered shows
    /// its original whole, smaller, inside them).
    areas: SummedAreas,
    pictures: Vec<crate::framing::Rect>,
    /// The keyed probes of each picture.
    keyed: Vec<Probes>,
    /// Every probe of each picture, read the first time they are asked for.
    sets: std::sync::OnceLock<Vec<Probes>>,
}

/// What one picture asks the footage index.
#[derive(Debug, Clone, PartialEq)]
pub struct Probes {
    /// Two per cut of [`model::footage::copy_cuts`], as it is and mirrored
    /// ([`model::footage::mirrored`]), measured against the stored cores; the first
    /// [`model::footage::KEYED_CUTS`] cuts' probes are keyed.
    pub cuts: Vec<Fingerprint>,
    /// Two per cut of [`model::footage::wide_cuts`] (crops beyond the core's margin), as it
    /// is and mirrored, at the inner core's size: measured against the stored frames' inner
    /// cores; the first [`model::footage::WIDE_KEYED_CUTS`] cuts' probes are keyed.
    pub wide: Vec<Fingerprint>,
}

impl Probes {
    /// The nearest of these probes to a stored `core` (and of the wide ones to its `inner`
    /// core) when nearer than `bound`; `bound` when none is. Stops measuring a pair as soon
    /// as it cannot be nearer (`distance_below`).
    pub fn nearest(&self, core: &Fingerprint, inner: Option<&Fingerprint>, bound: f32) -> f32 {
        let pairs = self.cuts.iter().map(|probe| (probe, core)).chain(
            inner
                .into_iter()
                .flat_map(|inner| self.wide.iter().map(move |probe| (probe, inner))),
        );
        let mut nearest = bound;
        for (probe, print) in pairs {
            if let Some(d) = model::consensus::distance_below(probe, print, nearest) {
                nearest = d;
            }
        }
        nearest
    }
}

impl FramePrints {
    /// Every probe of every picture: the frame as sent, and the pictures inside its bars if
    /// it has any. Read from the frame's summed areas the first time (tens of milliseconds
    /// for a 1080p frame: the pipeline worker asks from a blocking task).
    pub fn probe_sets(&self) -> &[Probes] {
        self.sets.get_or_init(|| {
            let (cuts, wide_cuts) = (model::footage::copy_cuts(), model::footage::wide_cuts());
            let rest = (
                &cuts[model::footage::KEYED_CUTS..],
                &wide_cuts[model::footage::WIDE_KEYED_CUTS..],
            );
            self.pictures
                .iter()
                .zip(&self.keyed)
                .map(|(&picture, keyed)| {
                    let more = self.areas.view(picture).probes(rest.0, rest.1);
                    Probes {
                        cuts: [keyed.cuts.as_slice(), &more.cuts].concat(),
                        wide: [keyed.wide.as_slice(), &more.wide].concat(),
                    }
                })
                .collect()
        })
    }

    /// Every index key this frame's probes ask for: the core keys of its keyed probes and
    /// the inner keys of its keyed wide probes, of every picture, sorted, each once.
    pub fn probe_keys(&self) -> Vec<i64> {
        let mut keys: Vec<i64> = self
            .keyed
            .iter()
            .flat_map(|set| {
                set.cuts
                    .iter()
                    .flat_map(model::footage::keys)
                    .chain(set.wide.iter().flat_map(model::footage::inner_keys))
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The nearest of every probe set to a stored `core` and its `inner` core (infinity
    /// when `bound` is and nothing is nearer).
    pub fn nearest(&self, core: &Fingerprint, inner: Option<&Fingerprint>, bound: f32) -> f32 {
        self.probe_sets()
            .iter()
            .fold(bound, |bound, set| set.nearest(core, inner, bound))
    }
}

/// [`FramePrints`] of a JPEG.
pub fn frame_prints(jpeg: &[u8]) -> Result<FramePrints, FingerprintError> {
    let image = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)?;
    Ok(frame_prints_image(&image))
}

/// [`FramePrints`] of decoded pixels: the whole fingerprint, and the core and keyed probes as
/// exact area averages over the frame in grayscale (a frame over [`MAX_AREA_PIXELS`] is
/// first shrunk to 1920 px), read from its summed-area table: one pass over the pixels, and
/// the probes' cells in four reads each.
pub fn frame_prints_image(image: &image::DynamicImage) -> FramePrints {
    let gray = grayscale_for_probes(image);
    let areas = SummedAreas::of(&gray);
    let whole_frame = whole_of(&gray);
    let pictures: Vec<_> = std::iter::once(whole_frame)
        .chain(crate::framing::content_boxes(&gray))
        .collect();
    let (cuts, wide_cuts) = (model::footage::copy_cuts(), model::footage::wide_cuts());
    let keyed_cuts = (
        &cuts[..model::footage::KEYED_CUTS],
        &wide_cuts[..model::footage::WIDE_KEYED_CUTS],
    );
    let keyed = pictures
        .iter()
        .map(|&picture| areas.view(picture).probes(keyed_cuts.0, keyed_cuts.1))
        .collect();
    FramePrints {
        whole: fingerprint_image(image),
        core: core_of(&areas, whole_frame),
        areas,
        pictures,
        keyed,
        sets: std::sync::OnceLock::new(),
    }
}

/// Only [`FramePrints::core`] of a JPEG: what the footage index stores for a frame, without
/// the whole fingerprint or any probe (the backfill of frames published before the index).
pub fn core_print(jpeg: &[u8]) -> Result<Fingerprint, FingerprintError> {
    let image = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)?;
    let gray = grayscale_for_probes(&image);
    Ok(core_of(&SummedAreas::of(&gray), whole_of(&gray)))
}

/// The frame in grayscale as its probes and core read it: shrunk to 1920 px first when it
/// is over [`MAX_AREA_PIXELS`].
fn grayscale_for_probes(image: &image::DynamicImage) -> image::GrayImage {
    if u64::from(image.width()) * u64::from(image.height()) > MAX_AREA_PIXELS {
        image.thumbnail(1920, 1920).to_luma8()
    } else {
        image.to_luma8()
    }
}

/// The whole of a picture, as a rectangle.
fn whole_of(gray: &image::GrayImage) -> crate::framing::Rect {
    crate::framing::Rect {
        x: 0,
        y: 0,
        width: gray.width(),
        height: gray.height(),
    }
}

/// The core of the frame `whole_frame` covers.
fn core_of(areas: &SummedAreas, whole_frame: crate::framing::Rect) -> Fingerprint {
    areas.view(whole_frame).window(
        model::footage::probe_window(model::footage::Cut::NONE),
        CORE_CELLS,
    )
}

/// The core's columns and rows.
const CORE_CELLS: (usize, usize) = (
    model::footage::CORE_WIDTH as usize,
    model::footage::CORE_HEIGHT as usize,
);
/// The inner core's columns and rows.
const INNER_CELLS: (usize, usize) = (
    model::footage::INNER_WIDTH as usize,
    model::footage::INNER_HEIGHT as usize,
);

/// The largest frame whose prints are read at full resolution (1920 × 1080 and a little
/// more): its sums fit in `u32` many times over.
const MAX_AREA_PIXELS: u64 = 2_500_000;

/// A grayscale picture's summed-area table: the sum over any rectangle in four reads.
#[derive(Debug, Clone)]
struct SummedAreas {
    width: usize,
    height: usize,
    /// `(width + 1) × (height + 1)`, row-major; row and column 0 are zeros.
    sums: Vec<u32>,
}

impl SummedAreas {
    fn of(picture: &image::GrayImage) -> Self {
        let (width, height) = (picture.width() as usize, picture.height() as usize);
        let mut sums = vec![0u32; (width + 1) * (height + 1)];
        for (y, row) in picture.rows().enumerate() {
            let mut along = 0u32;
            for (x, pixel) in row.enumerate() {
                along += u32::from(pixel[0]);
                sums[(y + 1) * (width + 1) + x + 1] = sums[y * (width + 1) + x + 1] + along;
            }
        }
        Self {
            width,
            height,
            sums,
        }
    }

    /// The mean over columns `x0..x1` and rows `y0..y1` (each at least one wide).
    fn mean(&self, (x0, x1): (usize, usize), (y0, y1): (usize, usize)) -> f32 {
        let at = |x: usize, y: usize| self.sums[y * (self.width + 1) + x];
        let sum = u64::from(at(x1, y1)) + u64::from(at(x0, y0))
            - u64::from(at(x0, y1))
            - u64::from(at(x1, y0));
        sum as f32 / ((x1 - x0) * (y1 - y0)) as f32
    }

    /// The part of the picture inside `inside` (cut to the picture), read as a picture of
    /// its own.
    fn view(&self, inside: crate::framing::Rect) -> View<'_> {
        let x = (inside.x as usize).min(self.width.saturating_sub(1));
        let y = (inside.y as usize).min(self.height.saturating_sub(1));
        View {
            areas: self,
            x,
            y,
            width: (inside.width as usize).clamp(1, (self.width - x).max(1)),
            height: (inside.height as usize).clamp(1, (self.height - y).max(1)),
        }
    }
}

/// A rectangle of a [`SummedAreas`] picture, read as a picture of its own: shares are of its
/// size, from its corner.
struct View<'a> {
    areas: &'a SummedAreas,
    x: usize,
    y: usize,
    width: usize,
    height: usize,
}

impl View<'_> {
    /// The probes of this picture for `cuts` (read against a stored core) and `wide_cuts`
    /// (against its inner core), each as it is and mirrored.
    fn probes(&self, cuts: &[model::footage::Cut], wide_cuts: &[model::footage::Cut]) -> Probes {
        let aspect = self.width as f64 / self.height.max(1) as f64;
        Probes {
            cuts: cuts
                .iter()
                .map(|&cut| {
                    if cut.turn_deg == 0.0 {
                        self.window(model::footage::probe_window(cut), CORE_CELLS)
                    } else {
                        let (centres, half) = model::footage::turned_probe_cells(cut, aspect);
                        self.boxes(&centres, half)
                    }
                })
                .flat_map(|probe| [model::footage::mirrored(&probe), probe])
                .collect(),
            wide: wide_cuts
                .iter()
                .map(|&cut| {
                    let window = self.window(model::footage::wide_probe_window(cut), INNER_CELLS);
                    model::footage::renormalised(window)
                })
                .flat_map(|probe| [model::footage::mirrored(&probe), probe])
                .collect(),
        }
    }

    /// The mean over the view's columns `x0..x1` and rows `y0..y1`.
    fn mean(&self, (x0, x1): (usize, usize), (y0, y1): (usize, usize)) -> f32 {
        self.areas
            .mean((self.x + x0, self.x + x1), (self.y + y0, self.y + y1))
    }

    /// The fingerprint, `(cols, rows)` cells, of the part at `(left, top, width, height)`,
    /// shares of the view's size: each of its cells the mean of the pixels it covers.
    fn window(
        &self,
        (left, top, width, height): (f64, f64, f64, f64),
        (cols, rows): (usize, usize),
    ) -> Fingerprint {
        let spans = |start: f64, span: f64, cells: usize, size: usize| -> Vec<(usize, usize)> {
            let edge = |n: usize| {
                let at = (start + span * n as f64 / cells as f64) * size as f64;
                (at.round().max(0.0) as usize).min(size)
            };
            (0..cells)
                .map(|n| {
                    let to = edge(n + 1).max(edge(n) + 1).min(size.max(1));
                    (edge(n).min(to - 1), to)
                })
                .collect()
        };
        let xs = spans(left, width, cols, self.width);
        let ys = spans(top, height, rows, self.height);
        let values = ys
            .iter()
            .flat_map(|&y| xs.iter().map(move |&x| self.mean(x, y)))
            .collect();
        normalised_values(values)
    }

    /// The fingerprint of the boxes of half size `(half_width, half_height)` about `centres`
    /// (shares of the view's size), each cut to the view and at least one pixel.
    fn boxes(&self, centres: &[(f64, f64)], (half_width, half_height): (f64, f64)) -> Fingerprint {
        let span = |centre: f64, half: f64, size: usize| {
            let at = |share: f64| ((share * size as f64).round().max(0.0) as usize).min(size);
            let from = at(centre - half).min(size.saturating_sub(1));
            (from, at(centre + half).max(from + 1).min(size.max(1)))
        };
        let values = centres
            .iter()
            .map(|&(x, y)| {
                self.mean(
                    span(x, half_width, self.width),
                    span(y, half_height, self.height),
                )
            })
            .collect();
        normalised_values(values)
    }
}

/// The fingerprint of decoded pixels.
pub fn fingerprint_image(image: &image::DynamicImage) -> Fingerprint {
    fingerprint_sized(image, WIDTH, HEIGHT)
}

/// The normalised grayscale thumbnail of `image` at `width` × `height`.
fn fingerprint_sized(image: &image::DynamicImage, width: u32, height: u32) -> Fingerprint {
    let small = image
        .thumbnail(256, 256)
        .resize_exact(width, height, FilterType::Triangle)
        .to_luma8();
    normalised(&small)
}

/// `small`'s values normalised to zero mean and unit spread.
fn normalised(small: &image::GrayImage) -> Fingerprint {
    normalised_values(small.pixels().map(|p| f32::from(p[0])).collect())
}

/// `values` normalised to zero mean and unit spread (a flat picture keeps its spread of 1).
fn normalised_values(values: Vec<f32>) -> Fingerprint {
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    let spread = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32)
        .sqrt()
        .max(1.0);
    Fingerprint(values.iter().map(|v| (v - mean) / spread).collect())
}

pub fn is_near_duplicate(a: &Fingerprint, b: &Fingerprint) -> bool {
    distance(a, b) < NEAR_DUPLICATE_DISTANCE
}
