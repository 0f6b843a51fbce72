//! The global footage index: a frame that is a copy of footage already accepted — cropped,
//! re-encoded, brightened — is a replay wherever it is claimed, however far from the
//! original's place.
//!
//! Pure, and shared: ingest's pipeline worker computes each accepted frame's [`core`
//! fingerprint](CORE_MARGIN) and its [`stored_keys`], the store keeps both, and for each new frame
//! the worker fetches the stored footage sharing a key with any of the frame's probes and
//! asks [`copy_of`]. Never reads pixels itself (ingest's `similarity` does).
//!
//! How a copy is found:
//! - The stored side is the **core** of each accepted frame: its fingerprint over the centre,
//!   [`CORE_MARGIN`] of each side left out, so a copy cropped by up to that much still shows
//!   all of it.
//! - The new side is a set of **probes**: for each cut in [`copy_cuts`] (centred crops, one
//!   side cut off, a crop anchored at a corner, two opposite sides cut alike — a change of
//!   aspect —, every half percent up to the margin; and turns of up to 5°, every half degree),
//!   the part of the new frame that would be the original's core had the frame been cut that way from it
//!   ([`probe_window`]), as it is and [`mirrored`] (a copy flipped left to right is the
//!   original's core flipped, and its cut, left and right swapped, is in the set too:
//!   every probe of the set has its mirror image). Brightness and contrast are normalised away by the
//!   fingerprint; JPEG re-encoding barely moves it.
//! - A copy cut deeper than the margin no longer shows all of its original's core, but still
//!   all of its **inner core** ([`inner_core`]: the core less [`INNER_TRIM_COLUMNS`] and
//!   [`INNER_TRIM_ROWS`] each side, 15 % and 1/6 of the frame left out, cut from the stored
//!   core, never stored itself). The **wide probes**, one per cut of [`wide_cuts`] (the same
//!   shapes from 10.5 % to [`WIDE_MARGIN`]: a 12 % crop, the bottom 15 %, 16:9 cut to 4:3),
//!   read the part of the new frame that would be it ([`wide_probe_window`]), mirrored too.
//! - Candidates come from **locality-sensitive keys** ([`keys`]): [`BANDS`] random
//!   hyperplane hashes of [`BITS_PER_BAND`] bits each, of the print pooled 2 × 2. Two
//!   near-identical fingerprints share a band almost always; unrelated frames share one about
//!   once in 2^28 per band, so the keys of a frame's core and its 262 probes of whole-percent
//!   cuts and whole-degree turns ([`KEYED_CUTS`]; the half percents and half degrees between
//!   them only measure) fetch about one unrelated candidate per 130 000 frames held. (The first scheme's 14 bits fetched 1.2 % of the index: 239
//!   candidates of 20 000 frames, ingest's `worker_reads_bench`.) The inner core is keyed
//!   alike in bands of its own ([`inner_keys`]), asked by the 110 wide probes of whole
//!   percents ([`WIDE_KEYED_CUTS`]): 373 keyed prints, so about one unrelated candidate per
//!   92 000 frames held (scaled from the 263's figure by the count of keyed prints, not
//!   measured again). Keys carry their scheme
//!   ([`KEY_SCHEME`]); as it starts, ingest's worker re-makes the keys of an earlier scheme
//!   from the stored cores, and enters accepted frames the index lacks (accepted before it
//!   existed) from their published pictures (`ingest::footage_upkeep`).
//! - A candidate of another device closer than [`CopyConfig::copy_distance`] is the same
//!   shot (unless taken in the same place at the same moment: two cameras side by side).
//! - A device's own footage from another moment is a copy only closer than the tighter
//!   [`CopyConfig::own_copy_distance`]: one dashcam re-driving its street films much the
//!   same picture through the same mount, but never the same shot — so its own footage
//!   re-sent, time-shifted, for the same roads is a replay as much as when claimed
//!   elsewhere.
//! - A capture with [`CopyConfig::min_copied_frames`] copied frames is a replay, and so is
//!   each of them; one frame alone is never enough.
//!
//! What it cannot see (measured on real frames by ingest's example `footage_disguises`):
//! a copy is found only while the original's core, or its inner core, lines up with a probe
//! to a fraction of a core cell. Centred crops up to [`WIDE_MARGIN`], one side cut by up to
//! that much (the bonnet, the sky), a crop of up to that much anchored at a corner, a change
//! of aspect that takes up to that much off two opposite sides (16:9 to 16:10, 3:2 or 4:3,
//! a letterbox to 2:1 or 2.5:1), a turn of up to 5° with blank corners, any rescaling,
//! blur, noise, contrast, grey and mirroring are found (nearest probe 0.000–0.039), and so
//! is a copy framed anew in flat bars of any shade — letterboxed, pillarboxed, bordered,
//! given a caption strip, shrunk on a canvas of its size, each after any of those cuts or
//! none (0.000–0.027): ingest's `framing` reads the picture inside the bars and probes it
//! for every cut of [`copy_cuts`] and [`wide_cuts`], as a frame sent bare. A turn zoomed to fill is found most of the time (1.5–4.3°: 0.020–0.060, 21 of 28), its crop's
//! pixel rounding moving the picture by a fraction of a core cell. A crop beyond the wide
//! margin (17 %: 0.107 or more), a cut of another shape (a centred crop moved 2 %: 0.125 or
//! more; 3 % off the right and 9 % off the bottom: 0.127 or more), a turn beyond 5° (6°:
//! 0.083 or more) or a turn and a crop together (2° and 5 %: 0.074 or more) are not, nor is
//! a strong gamma now and then (0.6: up to 0.090), nor a copy framed on a blurred copy of
//! itself instead of flat bars (0.197 or more). Nor footage never accepted here before, nor footage
//! re-sent within [`CopyConfig::same_moment_ms`] of its original's time (side by side, as far
//! as the index can tell). Seeing through those takes an alignment the fixed probes do not
//! search (local features matched up to a similarity transform, say), with keys that survive
//! it.

use crate::consensus::{Fingerprint, distance_below, metres};
use crate::{DeviceId, Fix, TimestampMs};

/// The core fingerprint's size: finer than the place fingerprint's 32 × 18, so that two
/// dashcams' shots of one place, a little apart, differ where a copy does not.
pub const CORE_WIDTH: u32 = 64;
pub const CORE_HEIGHT: u32 = 36;
/// Share of each side of a frame its core leaves out.
pub const CORE_MARGIN: f64 = 0.10;
/// Columns and rows of the core, each side, that its **inner core** leaves out: what a copy
/// cropped by more than [`CORE_MARGIN`] (up to [`WIDE_MARGIN`]) still shows all of. The
/// store keeps only the core; the inner core is cut from it ([`inner_core`]).
pub const INNER_TRIM_COLUMNS: u32 = 4;
pub const INNER_TRIM_ROWS: u32 = 3;
/// The inner core's size: 56 × 30 of the core's cells.
pub const INNER_WIDTH: u32 = CORE_WIDTH - 2 * INNER_TRIM_COLUMNS;
pub const INNER_HEIGHT: u32 = CORE_HEIGHT - 2 * INNER_TRIM_ROWS;
/// Share of each side of a frame its inner core leaves out, across (0.15) and down (1/6).
pub const INNER_MARGIN: (f64, f64) = (
    CORE_MARGIN + (1.0 - 2.0 * CORE_MARGIN) * INNER_TRIM_COLUMNS as f64 / CORE_WIDTH as f64,
    CORE_MARGIN + (1.0 - 2.0 * CORE_MARGIN) * INNER_TRIM_ROWS as f64 / CORE_HEIGHT as f64,
);
/// The widest share of a side [`wide_cuts`] probe: a copy cut by more than [`CORE_MARGIN`]
/// and up to this is probed against its original's inner core (16:9 cut to 4:3 takes 12.5 %
/// off the left and the right).
pub const WIDE_MARGIN: f64 = 0.15;
// The inner core lies inside every wide cut.
const _: () = assert!(WIDE_MARGIN <= INNER_MARGIN.0 + 1e-9 && WIDE_MARGIN <= INNER_MARGIN.1);
/// How a copy may have been made from its original: turned by [`Cut::turn_deg`] about its
/// centre (size kept), then the share of each side taken off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
    /// Degrees the picture was turned clockwise (as seen) about its centre before the cut;
    /// 0 for none.
    pub turn_deg: f64,
}

impl Cut {
    /// Nothing taken off.
    pub const NONE: Self = Self::sides(0.0, 0.0, 0.0, 0.0);

    pub const fn sides(left: f64, top: f64, right: f64, bottom: f64) -> Self {
        Self {
            left,
            top,
            right,
            bottom,
            turn_deg: 0.0,
        }
    }

    /// The same share off every side.
    pub const fn centred(share: f64) -> Self {
        Self::sides(share, share, share, share)
    }

    /// Turned by `degrees` and its size kept: the corners the picture left are blank
    /// (`ffmpeg -vf rotate`).
    pub const fn turned(degrees: f64) -> Self {
        Self {
            turn_deg: degrees,
            ..Self::NONE
        }
    }

    /// Turned by `degrees`, then zoomed in until no blank corner is left, for a frame of
    /// `aspect` (width / height): the centred crop that fills the frame.
    pub fn turned_to_fill(degrees: f64, aspect: f64) -> Self {
        let (sin, cos) = degrees.to_radians().abs().sin_cos();
        let zoom = cos + sin * aspect.max(1.0 / aspect);
        Self {
            turn_deg: degrees,
            ..Self::centred((1.0 - 1.0 / zoom) / 2.0)
        }
    }

    /// This cut as a mirrored copy of the original shows it: left and right swapped, turned
    /// the other way.
    pub fn mirrored(self) -> Self {
        Self {
            left: self.right,
            right: self.left,
            turn_deg: -self.turn_deg,
            ..self
        }
    }

    /// Where a point of the original (shares of its width and height from its top left)
    /// lies in a copy made by this cut (shares of the copy's size), for frames of `aspect`
    /// (width / height).
    pub fn copy_point(&self, aspect: f64, (x, y): (f64, f64)) -> (f64, f64) {
        let (x, y) = if self.turn_deg == 0.0 {
            (x, y)
        } else {
            // Turned in pixels (y down, so a positive angle turns clockwise as seen).
            let (sin, cos) = self.turn_deg.to_radians().sin_cos();
            let (dx, dy) = ((x - 0.5) * aspect, y - 0.5);
            (
                0.5 + (dx * cos - dy * sin) / aspect,
                0.5 + (dx * sin + dy * cos),
            )
        };
        (
            (x - self.left) / (1.0 - self.left - self.right),
            (y - self.top) / (1.0 - self.top - self.bottom),
        )
    }
}

/// The aspect (width / height) turned cuts are made for: dashcams film 16:9.
pub const TURN_ASPECT: f64 = 16.0 / 9.0;
/// Turns searched: every half degree up to this either way, keyed every whole degree.
pub const MAX_TURN_DEG: f64 = 5.0;

/// Steps of [`copy_cuts`]: every half percent up to [`CORE_MARGIN`], so that a copy's cut is
/// never more than a quarter of a percent from a probe's on any side (with probes at whole
/// percents only, a crop of 8.5 % towards a corner lay 0.041–0.073 from its original:
/// `footage_disguises`).
const CUT_STEPS: u32 = 20;
/// Every this many steps a cut is keyed ([`KEYED_CUTS`]).
const KEYED_STEP: u32 = 2;

/// The cuts a copy is probed for, each side's share every half percent up to [`CORE_MARGIN`]:
/// - centred crops (the same share of every side; none at all among them);
/// - one side cut (the bonnet or a time stamp off the bottom, the sky off the top, a side);
/// - two adjoining sides cut alike: a crop anchored at a corner, as `crop(0, 0, 0.9 w, 0.9 h)`
///   makes;
/// - two opposite sides cut alike: a change of aspect (16:9 cut to 16:10 takes 5 % off the
///   left and the right, to 3:2 7.8 %; a letterbox to 2:1 takes 5.6 % off the top and the
///   bottom), whether the copy keeps its new shape or is stretched back;
/// - turned up to [`MAX_TURN_DEG`] either way, every half degree: with blank corners
///   ([`Cut::turned`]) or zoomed in to fill the frame ([`Cut::turned_to_fill`]) — the small
///   turn re-uploaders give a picture so that it no longer matches.
///
/// The first [`KEYED_CUTS`] are the whole percents and whole degrees: their probes' [`keys`] fetch the
/// candidates (a copy between them still shares a key with its original almost always),
/// and every probe then measures the distance. Left and right appear alike, so a mirrored
/// copy's cut is in the set too. A cut of another shape (a crop moved sideways, unequal shares
/// of two or more sides) is not searched, nor a change of aspect beyond the margin (16:9 to
/// 4:3 takes 12.5 % off each side).
pub fn copy_cuts() -> Vec<Cut> {
    let keyed = (0..=CUT_STEPS).filter(|step| step % KEYED_STEP == 0);
    let between = (0..=CUT_STEPS).filter(|step| step % KEYED_STEP != 0);
    let mut cuts = cuts_at(keyed);
    cuts.extend(turns_at(
        (1..=TURN_STEPS).filter(|step| step % KEYED_STEP == 0),
    ));
    cuts.extend(cuts_at(between));
    cuts.extend(turns_at(
        (1..=TURN_STEPS).filter(|step| step % KEYED_STEP != 0),
    ));
    cuts
}

/// Steps of the turns of [`copy_cuts`] either way: every half degree up to [`MAX_TURN_DEG`].
const TURN_STEPS: u32 = 10;

/// How many of [`copy_cuts`], from the first, are keyed: at each whole percent a centred crop
/// (none among them), and beyond none four one-side cuts, four corners and two pairs of
/// opposite sides; at each whole degree either way a turn with blank corners and one zoomed
/// to fill (131).
pub const KEYED_CUTS: usize = {
    let whole_percents = (CUT_STEPS / KEYED_STEP) as usize;
    let whole_degrees = (TURN_STEPS / KEYED_STEP) as usize;
    (whole_percents + 1) + 10 * whole_percents + 4 * whole_degrees
};

/// The turned cuts of [`copy_cuts`] at `steps`, each either way: blank corners, then zoomed
/// to fill.
fn turns_at(steps: impl Iterator<Item = u32>) -> Vec<Cut> {
    steps
        .map(|step| MAX_TURN_DEG * f64::from(step) / f64::from(TURN_STEPS))
        .flat_map(|degrees| {
            [
                Cut::turned(degrees),
                Cut::turned(-degrees),
                Cut::turned_to_fill(degrees, TURN_ASPECT),
                Cut::turned_to_fill(-degrees, TURN_ASPECT),
            ]
        })
        .collect()
}

/// The cuts of [`copy_cuts`] at `steps`: centred (none at all at step 0), then one side,
/// then a corner, then two opposite sides.
fn cuts_at(steps: impl Iterator<Item = u32> + Clone) -> Vec<Cut> {
    let share = |step: u32| CORE_MARGIN * f64::from(step) / f64::from(CUT_STEPS);
    let none = steps.clone().filter(|step| *step == 0).map(|_| Cut::NONE);
    let mut cuts: Vec<Cut> = none.collect();
    cuts.extend(shaped_cuts(steps.filter(|step| *step > 0).map(share)));
    cuts
}

/// For `shares` (each above zero): centred crops, then one side cut, then a corner, then two
/// opposite sides, each by the share.
fn shaped_cuts(shares: impl Iterator<Item = f64> + Clone) -> Vec<Cut> {
    let centred = shares.clone().map(Cut::centred);
    let one_side = shares.clone().flat_map(|s| {
        [
            Cut::sides(s, 0.0, 0.0, 0.0),
            Cut::sides(0.0, s, 0.0, 0.0),
            Cut::sides(0.0, 0.0, s, 0.0),
            Cut::sides(0.0, 0.0, 0.0, s),
        ]
    });
    let corner = shares.clone().flat_map(|s| {
        [
            Cut::sides(0.0, 0.0, s, s),
            Cut::sides(s, 0.0, 0.0, s),
            Cut::sides(0.0, s, s, 0.0),
            Cut::sides(s, s, 0.0, 0.0),
        ]
    });
    let opposite = shares.flat_map(|s| [Cut::sides(s, 0.0, s, 0.0), Cut::sides(0.0, s, 0.0, s)]);
    centred
        .chain(one_side)
        .chain(corner)
        .chain(opposite)
        .collect()
}

/// Steps of [`wide_cuts`]: every half percent beyond [`CORE_MARGIN`] up to [`WIDE_MARGIN`].
const WIDE_STEPS: u32 = 10;

/// The cuts a copy is probed for beyond [`CORE_MARGIN`], against its original's inner core
/// ([`inner_core`], read in the copy at [`wide_probe_window`]): the shapes of [`copy_cuts`]
/// (centred, one side, a corner, two opposite sides) with each side's share every half
/// percent from 10.5 % to [`WIDE_MARGIN`]: a crop of 12 %, the bonnet and the dashboard off
/// the bottom 15 %, 16:9 cut to 4:3 (12.5 % off the left and the right). The first
/// [`WIDE_KEYED_CUTS`] (whole percents) are keyed ([`inner_keys`]). Turns are not searched
/// beyond the margin, nor a turn and a crop together.
pub fn wide_cuts() -> Vec<Cut> {
    let share = |step: u32| {
        CORE_MARGIN + (WIDE_MARGIN - CORE_MARGIN) * f64::from(step) / f64::from(WIDE_STEPS)
    };
    let keyed = (1..=WIDE_STEPS).filter(|step| step % KEYED_STEP == 0);
    let between = (1..=WIDE_STEPS).filter(|step| step % KEYED_STEP != 0);
    let mut cuts = shaped_cuts(keyed.map(share));
    cuts.extend(shaped_cuts(between.map(share)));
    cuts
}

/// How many of [`wide_cuts`], from the first, are keyed: at each whole percent from 11 to
/// 15, one centred crop, four one-side cuts, four corners and two pairs of opposite sides
/// (55).
pub const WIDE_KEYED_CUTS: usize = (WIDE_STEPS / KEYED_STEP) as usize * 11;

/// Hash bands of [`keys`].
pub const BANDS: u32 = 8;
/// Bits of each band. Unrelated prints share a band once in 2^28, so the 8 bands of a
/// frame's 263 keyed prints meet about one unrelated frame per 130 000 held (its 373 with
/// the wide probes', in bands of their own, about one per 92 000): the candidates a
/// frame fetches grow slowly with the index (at 14 bits they were 1.1 % of it, measured by
/// ingest's `worker_reads_bench`). A copy at the copy rule's edge (0.045) agrees on a bit 98 %
/// of the time, so on a whole band 60 % of the time and on some band of eight 99.9 %.
pub const BITS_PER_BAND: u32 = 28;
/// The scheme of [`stored_keys`], in their top bits: keys an earlier scheme made are told
/// apart and re-made from the stored cores (ingest's worker does so as it starts). Scheme 2
/// keyed the core only; scheme 3 adds the inner core's [`inner_keys`].
pub const KEY_SCHEME: i64 = 3;
/// Every key of this scheme is at least this; every earlier one below (scheme 2's from
/// `2 << 40`, the first scheme's band << 14 | 14 bits).
pub const SCHEME_FLOOR: i64 = KEY_SCHEME << 40;
/// Where a key's band number starts.
const BAND_SHIFT: u32 = 32;
// A band's bits never reach its band number.
const _: () = assert!(BITS_PER_BAND <= BAND_SHIFT);

/// The part of a frame (left, top, width, height as shares of its size) that is the
/// original's core if the frame was cut from it by `cut` (its turn left aside: a turned
/// cut's core is read at [`turned_probe_cells`]).
pub fn probe_window(cut: Cut) -> (f64, f64, f64, f64) {
    window_inside(cut, (CORE_MARGIN, CORE_MARGIN))
}

/// The part of a frame that is the original's inner core ([`inner_core`]) if the frame was
/// cut from it by `cut` (one of [`wide_cuts`]): read at [`INNER_WIDTH`] × [`INNER_HEIGHT`].
pub fn wide_probe_window(cut: Cut) -> (f64, f64, f64, f64) {
    window_inside(cut, INNER_MARGIN)
}

/// The part of a frame cut by `cut` that is the original less `margins` (across, down) of
/// each side.
fn window_inside(cut: Cut, (across, down): (f64, f64)) -> (f64, f64, f64, f64) {
    let axis = |margin: f64, start: f64, end: f64| {
        let kept = 1.0 - start - end;
        (
            ((margin - start) / kept).max(0.0),
            (1.0 - 2.0 * margin) / kept,
        )
    };
    let (left, width) = axis(across, cut.left, cut.right);
    let (top, height) = axis(down, cut.top, cut.bottom);
    (left, top, width.min(1.0 - left), height.min(1.0 - top))
}

/// Where the original's core cells lie in a copy made by `cut` from a frame of `aspect`
/// (width / height): each cell's centre (row-major, shares of the copy's size), and half a
/// cell's width and height there. A turned cell is read as the upright box about its centre:
/// reading each as four smaller boxes along its turned outline measured no nearer a copy
/// turned 1–5° (`footage_disguises`).
pub fn turned_probe_cells(cut: Cut, aspect: f64) -> (Vec<(f64, f64)>, (f64, f64)) {
    let core = 1.0 - 2.0 * CORE_MARGIN;
    let (cols, rows) = (CORE_WIDTH, CORE_HEIGHT);
    let centres = (0..rows)
        .flat_map(|row| (0..cols).map(move |col| (col, row)))
        .map(|(col, row)| {
            let x = CORE_MARGIN + core * (f64::from(col) + 0.5) / f64::from(cols);
            let y = CORE_MARGIN + core * (f64::from(row) + 0.5) / f64::from(rows);
            cut.copy_point(aspect, (x, y))
        })
        .collect();
    let half = (
        core / f64::from(cols) / 2.0 / (1.0 - cut.left - cut.right),
        core / f64::from(rows) / 2.0 / (1.0 - cut.top - cut.bottom),
    );
    (centres, half)
}

/// A core-sized or inner-core-sized fingerprint ([`CORE_WIDTH`] × [`CORE_HEIGHT`] or
/// [`INNER_WIDTH`] × [`INNER_HEIGHT`], row-major) flipped left to right: the print of the
/// same window of the frame mirrored. A fingerprint of another size is returned as it is.
pub fn mirrored(print: &Fingerprint) -> Fingerprint {
    let Some((width, _)) = grid_of(print) else {
        return print.clone();
    };
    Fingerprint(
        print
            .0
            .chunks(width)
            .flat_map(|row| row.iter().rev().copied())
            .collect(),
    )
}

/// The columns and rows of a core-sized or inner-core-sized print.
fn grid_of(print: &Fingerprint) -> Option<(usize, usize)> {
    [(CORE_WIDTH, CORE_HEIGHT), (INNER_WIDTH, INNER_HEIGHT)]
        .into_iter()
        .map(|(w, h)| (w as usize, h as usize))
        .find(|(w, h)| print.0.len() == w * h)
}

/// The inner core of a core print: its centre, [`INNER_TRIM_COLUMNS`] and
/// [`INNER_TRIM_ROWS`] of each side left out, [`renormalised`]. `None` for a print that is
/// not core-sized.
pub fn inner_core(core: &Fingerprint) -> Option<Fingerprint> {
    let (width, height) = (CORE_WIDTH as usize, CORE_HEIGHT as usize);
    if core.0.len() != width * height {
        return None;
    }
    let (columns, rows) = (INNER_TRIM_COLUMNS as usize, INNER_TRIM_ROWS as usize);
    let values = core
        .0
        .chunks(width)
        .skip(rows)
        .take(height - 2 * rows)
        .flat_map(|row| row[columns..width - columns].iter().copied())
        .collect();
    Some(renormalised(Fingerprint(values)))
}

/// A print brought back to zero mean and unit spread: how an inner core is cut from a stored
/// core, and how a wide probe is read (both sides the same rule, so a flat picture's print
/// is as flat on either). Unchanged for a print already so, to rounding.
pub fn renormalised(print: Fingerprint) -> Fingerprint {
    let n = print.0.len().max(1) as f32;
    let mean = print.0.iter().sum::<f32>() / n;
    let spread = (print.0.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n)
        .sqrt()
        .max(1e-6);
    Fingerprint(print.0.iter().map(|v| (v - mean) / spread).collect())
}

/// The index keys of a core fingerprint: for each of [`BANDS`] bands, [`SCHEME_FLOOR`], the
/// band number, and the signs of [`BITS_PER_BAND`] fixed pseudo-random projections of the
/// print pooled 2 × 2 (a core print is hashed at 32 × 18: a copy's noise is finer than
/// that, and it costs a quarter). Deterministic (a SplitMix64 stream), so every node computes
/// the same keys.
pub fn keys(core: &Fingerprint) -> Vec<i64> {
    let pooled = pooled(core);
    if pooled.len() == POOLED_CELLS {
        band_keys(&pooled, &CORE_PROJECTIONS, 0)
    } else {
        band_keys(&pooled, &projections(pooled.len(), CORE_SEED), 0)
    }
}

/// The index keys of an inner core ([`inner_core`]) or a wide probe: as [`keys`], over the
/// inner print pooled 2 × 2 (28 × 15), with projections of their own and band numbers
/// [`BANDS`] to `2 ×` [`BANDS`] − 1, so that they never meet a core's keys.
pub fn inner_keys(inner: &Fingerprint) -> Vec<i64> {
    let pooled = pooled(inner);
    if pooled.len() == POOLED_INNER_CELLS {
        band_keys(&pooled, &INNER_PROJECTIONS, BANDS)
    } else {
        band_keys(&pooled, &projections(pooled.len(), INNER_SEED), BANDS)
    }
}

/// Every key the index keeps for a stored core: its [`keys`] and its inner core's
/// [`inner_keys`].
pub fn stored_keys(core: &Fingerprint) -> Vec<i64> {
    let mut all = keys(core);
    if let Some(inner) = inner_core(core) {
        all.extend(inner_keys(&inner));
    }
    all
}

/// [`BANDS`] keys of `pooled` values, bands numbered from `first_band`, one row of
/// `projections` per bit.
fn band_keys(pooled: &[f32], projections: &[f32], first_band: u32) -> Vec<i64> {
    let mut rows = projections.chunks_exact(pooled.len().max(1));
    let mut keys = Vec::with_capacity(BANDS as usize);
    for band in first_band..first_band + BANDS {
        let mut bits: i64 = 0;
        for bit in 0..BITS_PER_BAND {
            let row = rows.next().unwrap_or_default();
            let projection = dot(pooled, row);
            if projection > 0.0 {
                bits |= 1 << bit;
            }
        }
        keys.push(SCHEME_FLOOR | (i64::from(band) << BAND_SHIFT) | bits);
    }
    keys
}

/// The dot product of `a` and `b` in a fixed order every node repeats: eight running sums
/// over interleaved values (the lanes a vector unit adds at once), added first to last, then
/// the values past the last whole eight. One running sum would wait on each addition in turn
/// (four times slower, `footage_bench`); a print on the edge of a projection may fall on
/// the other side of it than under that order, as under any rounding.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let (whole_a, whole_b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let rest = whole_a.remainder().iter().zip(whole_b.remainder());
    let mut sums = [0.0f32; LANES];
    for (x, y) in whole_a.zip(whole_b) {
        for lane in 0..LANES {
            sums[lane] += x[lane] * y[lane];
        }
    }
    let mut total = sums.iter().fold(0.0, |total, sum| total + sum);
    for (x, y) in rest {
        total += x * y;
    }
    total
}

/// Values of a core print pooled 2 × 2.
const POOLED_CELLS: usize = (CORE_WIDTH as usize / 2) * (CORE_HEIGHT as usize / 2);
/// Values of an inner core pooled 2 × 2.
const POOLED_INNER_CELLS: usize = (INNER_WIDTH as usize / 2) * (INNER_HEIGHT as usize / 2);
/// The SplitMix64 seeds of the core's and the inner core's projections: "WAYMARK2",
/// "WAYMARK3".
const CORE_SEED: u64 = 0x5741_594D_4152_4B32;
const INNER_SEED: u64 = 0x5741_594D_4152_4B33;

/// The projections of [`keys`] for a core print, made once: a frame's probes are keyed
/// against them a hundred times and more.
static CORE_PROJECTIONS: std::sync::LazyLock<Vec<f32>> =
    std::sync::LazyLock::new(|| projections(POOLED_CELLS, CORE_SEED));
/// The projections of [`inner_keys`] for an inner print, made once.
static INNER_PROJECTIONS: std::sync::LazyLock<Vec<f32>> =
    std::sync::LazyLock::new(|| projections(POOLED_INNER_CELLS, INNER_SEED));

/// The [`BANDS`] × [`BITS_PER_BAND`] pseudo-random projections of a print of `cells` values,
/// row after row: the fixed SplitMix64 stream from `seed` every node draws alike.
fn projections(cells: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..(BANDS * BITS_PER_BAND) as usize * cells)
        .map(|_| uniform(&mut state))
        .collect()
}

/// A core-sized or inner-core-sized print's 2 × 2 means (any other print as it is).
fn pooled(print: &Fingerprint) -> Vec<f32> {
    let Some((width, height)) = grid_of(print) else {
        return print.0.clone();
    };
    let at = |x: usize, y: usize| print.0[y * width + x];
    (0..height / 2)
        .flat_map(|y| {
            (0..width / 2).map(move |x| {
                (at(2 * x, 2 * y)
                    + at(2 * x + 1, 2 * y)
                    + at(2 * x, 2 * y + 1)
                    + at(2 * x + 1, 2 * y + 1))
                    / 4.0
            })
        })
        .collect()
}

/// A value in -1..1 from a SplitMix64 stream.
fn uniform(state: &mut u64) -> f32 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// An accepted frame in the index.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub sha256: crate::FrameId,
    pub device: DeviceId,
    pub lat: f64,
    pub lon: f64,
    pub time: TimestampMs,
    pub core: Fingerprint,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CopyConfig {
    /// A probe this close to a stored core (mean absolute difference, in standard
    /// deviations) is the same shot.
    pub copy_distance: f32,
    /// Two devices' frames within this many metres…
    pub same_place_m: f64,
    /// …and this many milliseconds are two cameras side by side, not a copy.
    pub same_moment_ms: i64,
    /// Copied frames a capture needs to be a replay.
    pub min_copied_frames: usize,
    /// A device's own footage from another moment is a copy only closer than this (see
    /// [`OWN_COPY_DISTANCE`]).
    pub own_copy_distance: f32,
}

impl Default for CopyConfig {
    fn default() -> Self {
        Self {
            copy_distance: COPY_DISTANCE,
            same_place_m: 30.0,
            same_moment_ms: 60_000,
            min_copied_frames: 3,
            own_copy_distance: OWN_COPY_DISTANCE,
        }
    }
}

/// See [`CopyConfig::copy_distance`]. Measured on the real Udacity stills the simulator
/// films (`ingest` test `footage_copies_are_found_and_other_dashcams_are_not`, 64 × 36 cores
/// probed at every cut of [`copy_cuts`]): copies cropped 0–10 % a side or cut off-centre
/// (the bottom, the top, towards a corner), cut to another aspect, turned 1–4° (with blank
/// corners or zoomed to fill), brightened −20…+30 and re-encoded at quality 50–90, mirrored
/// or not, lie 0.005–0.017 from their original's core; the nearest frame of
/// another simulated dashcam, 0.050 or more (0.055 with the centred crops' probes only, 0.080
/// without the mirrored ones: the simulator shows some streets' stills mirrored, which no
/// real street is). On real footage, the stills of a real highway drive about 5 m apart come no
/// nearer each other than 0.060 (`footage_margin`'s first table): a few metres of driving
/// move a frame past this distance, but two real dashcams' passes within a metre or two of
/// each other are not measured. Over the ten seeds of the
/// README's scoreboard (`ingest` example `footage_margin`), the nearest pair of two dashcams'
/// frames is 0.033–0.061 with every cut of [`copy_cuts`] probed (0.039–0.079 with the centred
/// crops only: the simulator's dashcams see one still through windows a few pixels apart,
/// which the finer probes line up better; the aspect and turn probes moved no seed's nearest
/// pair); 4 of 4 068 honest frames are under this distance (seeds 2, 3 and 6), and a capture needs [`CopyConfig::min_copied_frames`] copies. (At 32 × 18 and every
/// 2 %, copies reached 0.044 and other dashcams came to 0.054: too close to split.)
pub const COPY_DISTANCE: f32 = 0.045;

/// See [`CopyConfig::own_copy_distance`]: tighter than [`COPY_DISTANCE`] because one
/// dashcam's frames share its mount, so its passes of one street are nearer each other than
/// two dashcams' are. Measured as [`COPY_DISTANCE`] was
/// (`footage_copies_are_found_and_other_dashcams_are_not`): copies 0.007–0.018 from their
/// original; a simulated dashcam's own frames of another moment, re-driving its first
/// day's roads or elsewhere, 0.068 or more (every frame of the repeating drivers of seeds
/// 1–3 at the demo scoreboard's size: 0.072 or more on the roads they re-drove), and 0.044
/// or more over the ten scoreboard seeds with every cut of [`copy_cuts`] probed
/// (`footage_margin`).
pub const OWN_COPY_DISTANCE: f32 = 0.030;

/// The stored footage the frame of `device` claimed at `claimed` copies, if any: the
/// nearest candidate within the copy distance of any probe and not taken side by side
/// (same place, same moment) — another device's, or the device's own from another moment
/// under the tighter [`CopyConfig::own_copy_distance`]. `probes` (core-sized, one per cut of
/// [`copy_cuts`]) are measured against each candidate's core, `wide_probes` (inner-sized,
/// one per cut of [`wide_cuts`]) against its [`inner_core`].
pub fn copy_of<'a>(
    probes: &[Fingerprint],
    wide_probes: &[Fingerprint],
    claimed: &Fix,
    device: DeviceId,
    candidates: &'a [Stored],
    config: &CopyConfig,
) -> Option<&'a Stored> {
    // The nearest so far bounds every later distance: a candidate is only measured as far
    // as it could still be nearer (the first of equally near candidates is kept).
    let mut nearest: Option<(f32, &Stored)> = None;
    for stored in candidates {
        let same_moment = claimed.time.millis_since(stored.time).abs() <= config.same_moment_ms;
        let limit = if stored.device == device {
            if same_moment {
                continue;
            }
            config.own_copy_distance
        } else {
            let same_place =
                metres((claimed.lat, claimed.lon), (stored.lat, stored.lon)) <= config.same_place_m;
            if same_moment && same_place {
                continue;
            }
            config.copy_distance
        };
        let mut bound = nearest.map_or(limit, |(best, _)| best.min(limit));
        let mut found = false;
        let inner = if wide_probes.is_empty() {
            None
        } else {
            inner_core(&stored.core)
        };
        let pairs = probes.iter().map(|probe| (probe, &stored.core)).chain(
            inner
                .iter()
                .flat_map(|inner| wide_probes.iter().map(move |p| (p, inner))),
        );
        for (probe, print) in pairs {
            if let Some(d) = distance_below(probe, print, bound) {
                bound = d;
                found = true;
            }
        }
        if found {
            nearest = Some((bound, stored));
        }
    }
    nearest.map(|(_, stored)| stored)
}

/// Whether a capture with `copied` frames found to be copies is a replay.
pub fn capture_copies(copied: usize, config: &CopyConfig) -> bool {
    copied >= config.min_copied_frames.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FixType;

    fn device(n: u128) -> DeviceId {
        format!("00000000-0000-0000-0000-{n:012}").parse().unwrap()
    }

    fn print(seed: u64) -> Fingerprint {
        let mut state = seed;
        Fingerprint((0..2304).map(|_| uniform(&mut state)).collect())
    }

    fn fix(lat: f64, time: i64) -> Fix {
        Fix {
            time: TimestampMs(time),
            lat,
            lon: 7.42,
            alt: None,
            heading: None,
            speed: None,
            fix_type: FixType::Fix3d,
            satellites: 9,
            hdop: 0.9,
        }
    }

    fn stored(device_n: u128, lat: f64, time: i64, core: Fingerprint) -> Stored {
        Stored {
            sha256: crate::FrameId::of_bytes(&time.to_le_bytes()),
            device: device(device_n),
            lat,
            lon: 7.42,
            time: TimestampMs(time),
            core,
        }
    }

    #[test]
    fn the_lane_ordered_dot_product_keys_prints_as_one_running_sum_did() {
        // Keys stored before the eight-lane sum were made with one running sum: both orders
        // put 1 000 random prints (224 000 projections) on the same side of every one.
        let one_running_sum =
            |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| x * y).sum() };
        let mut flipped = 0;
        for seed in 0..1_000u64 {
            let pooled = pooled(&print(seed));
            for row in CORE_PROJECTIONS.chunks_exact(pooled.len()) {
                let (now, before) = (dot(&pooled, row), one_running_sum(&pooled, row));
                assert!((now - before).abs() <= 1e-3 * (1.0 + before.abs()));
                flipped += usize::from((now > 0.0) != (before > 0.0));
            }
        }
        assert_eq!(flipped, 0);
        // Lengths that are not a multiple of eight add their last values too.
        assert_eq!(dot(&[1.0; 11], &[2.0; 11]), 22.0);
        assert_eq!(dot(&[], &[]), 0.0);
    }

    #[test]
    fn a_probe_window_is_the_originals_core_in_the_copys_coordinates() {
        assert_eq!(probe_window(Cut::NONE), (0.1, 0.1, 0.8, 0.8));
        // Cropped 5 % a side, the copy shows 90 % of the original: the core starts 5 % in,
        // which is 5/90 of the copy.
        let (left, _, width, _) = probe_window(Cut::centred(0.05));
        assert!((left - 0.05 / 0.9).abs() < 1e-12 && (width - 0.8 / 0.9).abs() < 1e-12);
        assert_eq!(probe_window(Cut::centred(0.10)).0, 0.0);
        // The bottom 8 % cut off: across, the core is where it was; down, it starts 10/92 in
        // and is 80/92 of the copy.
        let (left, top, width, height) = probe_window(Cut::sides(0.0, 0.0, 0.0, 0.08));
        assert_eq!((left, width), (0.1, 0.8));
        assert!((top - 0.1 / 0.92).abs() < 1e-12 && (height - 0.8 / 0.92).abs() < 1e-12);
        // Every window, mapped back through its cut, is the original's core.
        for cut in copy_cuts() {
            let (left, top, width, height) = probe_window(cut);
            let back = |at: f64, start: f64, end: f64| start + at * (1.0 - start - end);
            assert!((back(left, cut.left, cut.right) - CORE_MARGIN).abs() < 1e-12);
            assert!((back(left + width, cut.left, cut.right) - (1.0 - CORE_MARGIN)).abs() < 1e-12);
            assert!((back(top, cut.top, cut.bottom) - CORE_MARGIN).abs() < 1e-12);
            assert!((back(top + height, cut.top, cut.bottom) - (1.0 - CORE_MARGIN)).abs() < 1e-12);
        }
    }

    /// Whether `cuts` holds `cut` (to rounding).
    fn has_cut(cuts: &[Cut], cut: Cut) -> bool {
        cuts.iter().any(|c| {
            [
                (c.left, cut.left),
                (c.top, cut.top),
                (c.right, cut.right),
                (c.bottom, cut.bottom),
            ]
            .iter()
            .all(|(a, b)| (a - b).abs() < 1e-9)
                && (c.turn_deg - cut.turn_deg).abs() < 1e-9
        })
    }

    #[test]
    fn the_cuts_searched_are_centred_one_side_corner_and_aspect_crops_and_mirror_into_each_other() {
        let cuts = copy_cuts();
        assert_eq!(
            cuts.len(),
            (11 + 40 + 40 + 20 + 20) + (10 + 40 + 40 + 20 + 20)
        );
        assert_eq!(cuts[0], Cut::NONE);
        // The keyed ones first: every side a whole percent, or a turn of whole degrees.
        let whole = |share: f64| ((share * 100.0).round() - share * 100.0).abs() < 1e-9;
        for (n, cut) in cuts.iter().enumerate() {
            let on_whole = if cut.turn_deg == 0.0 {
                [cut.left, cut.top, cut.right, cut.bottom]
                    .into_iter()
                    .all(whole)
            } else {
                cut.turn_deg.fract() == 0.0
            };
            assert_eq!(on_whole, n < KEYED_CUTS, "{n}: {cut:?}");
        }
        assert!(has_cut(&cuts, Cut::centred(0.045)));
        assert!(has_cut(&cuts, Cut::sides(0.0, 0.0, 0.085, 0.085)));
        let has = |cut: Cut| has_cut(&cuts, cut);
        assert!(has(Cut::centred(0.07)));
        assert!(has(Cut::sides(0.0, 0.0, 0.0, 0.05)));
        assert!(has(Cut::sides(0.0, 0.10, 0.0, 0.0)));
        assert!(has(Cut::sides(0.0, 0.0, 0.10, 0.10)));
        assert!(has(Cut::sides(0.05, 0.0, 0.05, 0.0)));
        assert!(has(Cut::sides(0.0, 0.055, 0.0, 0.055)));
        assert!(!has(Cut::sides(0.125, 0.0, 0.125, 0.0)));
        assert!(!has(Cut::sides(0.07, 0.0, 0.03, 0.0)));
        assert!(!has(Cut::sides(0.0, 0.0, 0.0, 0.0525)));
        assert!(!has(Cut::sides(0.0, 0.0, 0.03, 0.09)));
        assert!(!has(Cut::centred(0.12)));
        // A mirrored copy's cut (left and right swapped, turned the other way) is searched too.
        for cut in &cuts {
            assert!(has(cut.mirrored()), "{cut:?}");
            for side in [cut.left, cut.top, cut.right, cut.bottom] {
                assert!((0.0..=CORE_MARGIN + 1e-12).contains(&side));
            }
            assert!(cut.turn_deg.abs() <= MAX_TURN_DEG);
        }
        // Turns every half degree either way, blank-cornered and zoomed to fill; keyed at
        // whole degrees.
        for degrees in [0.5, 1.0, -2.5, 5.0] {
            assert!(has(Cut::turned(degrees)));
            assert!(has(Cut::turned_to_fill(degrees, TURN_ASPECT)));
        }
        assert!(!has(Cut::turned(0.75)));
        assert!(cuts[..KEYED_CUTS].contains(&Cut::turned(-3.0)));
        assert!(!cuts[..KEYED_CUTS].contains(&Cut::turned(1.5)));
    }

    #[test]
    fn a_turned_cut_moves_the_originals_points_as_the_turn_does() {
        // A quarter turn of a square picture takes its top left corner to its top right.
        let quarter = Cut::turned(90.0);
        let (x, y) = quarter.copy_point(1.0, (0.0, 0.0));
        assert!((x - 1.0).abs() < 1e-9 && y.abs() < 1e-9, "{x} {y}");
        // The centre stays; a small turn moves a point on the 16:9 frame's right edge down.
        let small = Cut::turned(2.0);
        let (x, y) = small.copy_point(TURN_ASPECT, (0.5, 0.5));
        assert!((x - 0.5).abs() < 1e-12 && (y - 0.5).abs() < 1e-12);
        let (_, y) = small.copy_point(TURN_ASPECT, (1.0, 0.5));
        assert!((y - 0.5 - TURN_ASPECT / 2.0 * 2f64.to_radians().sin()).abs() < 1e-9);
        // Zoomed to fill: the copy's corners lie inside the turned original.
        for degrees in [1.0, 3.0, -5.0] {
            let fill = Cut::turned_to_fill(degrees, TURN_ASPECT);
            let turned_back = Cut::turned(-degrees);
            for corner in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)] {
                // The copy's corner, as a point of the turned original…
                let x = fill.left + corner.0 * (1.0 - fill.left - fill.right);
                let y = fill.top + corner.1 * (1.0 - fill.top - fill.bottom);
                // …is a point of the original inside its frame.
                let (ox, oy) = turned_back.copy_point(TURN_ASPECT, (x, y));
                assert!((-1e-9..=1.0 + 1e-9).contains(&ox), "{degrees}: {ox}");
                assert!((-1e-9..=1.0 + 1e-9).contains(&oy), "{degrees}: {oy}");
            }
        }
        // An upright cut maps points as its probe window does.
        let cut = Cut::sides(0.02, 0.0, 0.05, 0.08);
        let (left, top, width, height) = probe_window(cut);
        let (x, y) = cut.copy_point(TURN_ASPECT, (CORE_MARGIN, 1.0 - CORE_MARGIN));
        assert!((x - left).abs() < 1e-9 && (y - (top + height)).abs() < 1e-9);
        assert!(width > 0.0);
    }

    #[test]
    fn a_mirrored_print_reverses_each_row_and_twice_is_the_print() {
        let a = print(7);
        let flipped = mirrored(&a);
        assert_ne!(flipped, a);
        assert_eq!(mirrored(&flipped), a);
        let width = CORE_WIDTH as usize;
        for row in [0, 17, CORE_HEIGHT as usize - 1] {
            let (left, right) = (&a.0[row * width..], &flipped.0[row * width..]);
            assert_eq!(right[0], left[width - 1]);
            assert_eq!(right[width - 1], left[0]);
        }
        // Not a core print: left as it is.
        let small = Fingerprint(vec![1.0, 2.0, 3.0]);
        assert_eq!(mirrored(&small), small);
    }

    #[test]
    fn keys_are_fixed_and_near_prints_share_one() {
        let a = print(1);
        assert_eq!(keys(&a), keys(&a.clone()));
        assert_eq!(keys(&a).len(), BANDS as usize);
        assert!(keys(&a).iter().all(|k| *k >= SCHEME_FLOOR));
        let bands: Vec<i64> = keys(&a)
            .iter()
            .map(|k| (k - SCHEME_FLOOR) >> BAND_SHIFT)
            .collect();
        assert_eq!(bands, (0..i64::from(BANDS)).collect::<Vec<_>>());
        // A copy's noise (0.02 of a unit spread) keeps most bands; an unrelated print none.
        let mut noise = 99;
        let near = Fingerprint(a.0.iter().map(|v| v + 0.02 * uniform(&mut noise)).collect());
        let shared = |b: &Fingerprint| keys(&a).iter().filter(|k| keys(b).contains(k)).count();
        assert!(shared(&near) >= 4, "{}", shared(&near));
        assert_eq!(shared(&print(2)), 0);
    }

    #[test]
    fn the_keys_of_scheme_3_never_change() {
        // Keys the store holds were made by this scheme: the same print must always give the
        // same keys (else they must carry a new KEY_SCHEME and be re-made). The core's keys
        // are scheme 2's bits under the new floor.
        let mut state = 42;
        let fixed = Fingerprint((0..2304).map(|_| uniform(&mut state)).collect());
        let scheme_2: [i64; 8] = [
            2199245882944,
            2203453129714,
            2207814432125,
            2211941617744,
            2216418344545,
            2220688003268,
            2224864222661,
            2229234090324,
        ];
        let expected: Vec<i64> = scheme_2.iter().map(|k| k + (1 << 40)).collect();
        assert_eq!(keys(&fixed), expected);
        let stored = stored_keys(&fixed);
        assert_eq!(stored[..8], expected[..]);
        assert_eq!(stored[8..], INNER_KEYS_OF_FIXED);
    }

    /// [`inner_keys`] of the inner core of `the_keys_of_scheme_3_never_change`'s print.
    const INNER_KEYS_OF_FIXED: [i64; 8] = [
        3333143464733,
        3337445820936,
        3341620719960,
        3345791097730,
        3350078656813,
        3354417205801,
        3358802395961,
        3362982217800,
    ];

    #[test]
    fn wide_cuts_go_from_the_core_margin_to_the_wide_margin_and_mirror_into_each_other() {
        let cuts = wide_cuts();
        assert_eq!(cuts.len(), 2 * WIDE_KEYED_CUTS);
        assert_eq!(WIDE_KEYED_CUTS, 55);
        let whole = |share: f64| ((share * 100.0).round() - share * 100.0).abs() < 1e-9;
        let has = |cut: Cut| has_cut(&cuts, cut);
        for (n, cut) in cuts.iter().enumerate() {
            let sides = [cut.left, cut.top, cut.right, cut.bottom];
            assert_eq!(cut.turn_deg, 0.0);
            assert!(sides.iter().any(|s| *s > CORE_MARGIN + 1e-9), "{cut:?}");
            assert!(sides.iter().all(|s| *s <= WIDE_MARGIN + 1e-9), "{cut:?}");
            assert_eq!(
                sides.into_iter().all(whole),
                n < WIDE_KEYED_CUTS,
                "{n}: {cut:?}"
            );
            assert!(has(cut.mirrored()), "{cut:?}");
        }
        // 16:9 to 4:3; a 12 % crop; the bottom 15 %; a corner crop of 13.5 %.
        assert!(has(Cut::sides(0.125, 0.0, 0.125, 0.0)));
        assert!(has(Cut::centred(0.12)));
        assert!(has(Cut::sides(0.0, 0.0, 0.0, 0.15)));
        assert!(has(Cut::sides(0.135, 0.135, 0.0, 0.0)));
        assert!(!has(Cut::centred(0.10)));
        assert!(!has(Cut::centred(0.16)));
        // Every wide window, mapped back through its cut, is the original's inner core.
        for cut in cuts {
            let (left, top, width, height) = wide_probe_window(cut);
            let back = |at: f64, start: f64, end: f64| start + at * (1.0 - start - end);
            let (across, down) = INNER_MARGIN;
            assert!((back(left, cut.left, cut.right) - across).abs() < 1e-12);
            assert!((back(left + width, cut.left, cut.right) - (1.0 - across)).abs() < 1e-12);
            assert!((back(top, cut.top, cut.bottom) - down).abs() < 1e-12);
            assert!((back(top + height, cut.top, cut.bottom) - (1.0 - down)).abs() < 1e-12);
        }
    }

    #[test]
    fn the_inner_core_is_the_cores_centre_renormalised() {
        assert!((INNER_MARGIN.0 - 0.15).abs() < 1e-12);
        assert!((INNER_MARGIN.1 - 1.0 / 6.0).abs() < 1e-12);
        let core = print(5);
        let inner = inner_core(&core).unwrap();
        assert_eq!(inner.0.len(), (INNER_WIDTH * INNER_HEIGHT) as usize);
        let n = inner.0.len() as f32;
        let mean = inner.0.iter().sum::<f32>() / n;
        let spread = (inner.0.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
        assert!(
            mean.abs() < 1e-4 && (spread - 1.0).abs() < 1e-4,
            "{mean} {spread}"
        );
        // Each cell of the inner core is the core's cell 4 columns and 3 rows further on,
        // brought to the inner core's mean and spread.
        let width = CORE_WIDTH as usize;
        let kept: Vec<f32> = (3..33)
            .flat_map(|row| (4..60).map(move |column| row * width + column))
            .map(|at| core.0[at])
            .collect();
        let kept_mean = kept.iter().sum::<f32>() / n;
        let kept_spread = (kept.iter().map(|v| (v - kept_mean).powi(2)).sum::<f32>() / n).sqrt();
        for (cell, value) in inner.0.iter().zip(&kept) {
            assert!((cell - (value - kept_mean) / kept_spread).abs() < 1e-4);
        }
        // Mirroring commutes with taking the inner core (the trims are symmetric).
        let near = |a: &Fingerprint, b: &Fingerprint| {
            a.0.len() == b.0.len() && a.0.iter().zip(&b.0).all(|(x, y)| (x - y).abs() < 1e-4)
        };
        assert!(near(
            &inner_core(&mirrored(&core)).unwrap(),
            &mirrored(&inner_core(&core).unwrap())
        ));
        // Renormalising a renormalised print changes nothing; a flat print stays flat.
        assert!(near(&renormalised(inner.clone()), &inner));
        assert!(
            renormalised(Fingerprint(vec![3.0; 8]))
                .0
                .iter()
                .all(|v| *v == 0.0)
        );
        assert_eq!(inner_core(&Fingerprint(vec![1.0; 10])), None);
        // Its keys are bands 8–15, never a core's.
        let inner_bands: Vec<i64> = inner_keys(&inner)
            .iter()
            .map(|k| (k - SCHEME_FLOOR) >> BAND_SHIFT)
            .collect();
        assert_eq!(inner_bands, (8..16).collect::<Vec<i64>>());
        assert_eq!(stored_keys(&core).len(), 2 * BANDS as usize);
    }

    #[test]
    fn a_wide_probe_finds_a_copy_by_its_originals_inner_core() {
        let config = CopyConfig::default();
        let original = print(11);
        let stored_frame = stored(2, 43.73, 1_000, original.clone());
        let here = fix(43.70, 10_000_000);
        let inner = inner_core(&original).unwrap();
        let wide_probe = Fingerprint(inner.0.iter().map(|v| v + 0.01).collect());
        let candidates = std::slice::from_ref(&stored_frame);
        // A core probe of another shot alone misses it; the wide probe finds it.
        let elsewhere = print(12);
        assert!(
            copy_of(
                std::slice::from_ref(&elsewhere),
                &[],
                &here,
                device(1),
                candidates,
                &config
            )
            .is_none()
        );
        let found = copy_of(
            std::slice::from_ref(&elsewhere),
            std::slice::from_ref(&wide_probe),
            &here,
            device(1),
            candidates,
            &config,
        );
        assert_eq!(found, Some(&stored_frame));
        // An unrelated wide probe finds nothing.
        let unrelated = inner_core(&print(13)).unwrap();
        assert!(
            copy_of(
                &[],
                std::slice::from_ref(&unrelated),
                &here,
                device(1),
                candidates,
                &config
            )
            .is_none()
        );
        // The wide probe's keys meet the stored frame's.
        let stored = stored_keys(&original);
        assert!(inner_keys(&wide_probe).iter().any(|k| stored.contains(k)));
    }

    #[test]
    fn a_copy_is_the_same_shot_of_another_device_or_of_its_own_other_moment() {
        let config = CopyConfig::default();
        let original = print(7);
        let copy = Fingerprint(original.0.iter().map(|v| v + 0.01).collect());
        let here = fix(43.70, 10_000_000);
        let cases = [
            // Another device's shot, 3 km away: a copy.
            (stored(2, 43.73, 1_000, original.clone()), true),
            // Another device's shot, same place, hours before: a copy.
            (stored(2, 43.70, 1_000, original.clone()), true),
            // Side by side: same place, same moment: not judged.
            (
                stored(2, 43.70, 10_000_000 - 5_000, original.clone()),
                false,
            ),
            // The device's own footage, 3 km away: a copy.
            (stored(1, 43.73, 1_000, original.clone()), true),
            // Its own, same place, hours before: its drive re-sent, time-shifted.
            (stored(1, 43.70, 1_000, original.clone()), true),
            // Its own, 3 km away but the same moment: a frame of the same instant is not
            // judged (another check's business: one key, two places).
            (
                stored(1, 43.73, 10_000_000 - 5_000, original.clone()),
                false,
            ),
            // Its own, 3 km away, but only as near as another dashcam could be: not a copy.
            (
                stored(
                    1,
                    43.73,
                    1_000,
                    Fingerprint(original.0.iter().map(|v| v + 0.05).collect()),
                ),
                false,
            ),
            // Another device's shot that near is one.
            (
                stored(
                    2,
                    43.73,
                    1_000,
                    Fingerprint(original.0.iter().map(|v| v + 0.05).collect()),
                ),
                true,
            ),
            // Another shot altogether.
            (stored(2, 43.73, 1_000, print(8)), false),
        ];
        for (n, (candidate, is_copy)) in cases.into_iter().enumerate() {
            let found = copy_of(
                std::slice::from_ref(&copy),
                &[],
                &here,
                device(1),
                std::slice::from_ref(&candidate),
                &config,
            );
            assert_eq!(found.is_some(), is_copy, "case {n}");
        }
        assert!(!capture_copies(2, &config));
        assert!(capture_copies(3, &config));
    }
}
