//! The bars a frame was framed with: footage letterboxed into another aspect (bars above and
//! below), pillarboxed (left and right), bordered or given a caption strip shows its
//! original whole, smaller, inside a flat margin. The footage index's probes read a frame
//! as its original cut (`model::footage::copy_cuts`); a frame with bars is probed a second
//! time as the picture inside them ([`content_boxes`]), so that a copy framed anew is found
//! as a copy.
//!
//! A bar is a run of lines (rows from the top or bottom, columns from the left or right)
//! whose pixels nearly all keep the shade of the frame's outermost line on that side, at
//! least [`MIN_BAR_SHARE`] of the frame deep. Bars of any shade count: black, white, grey.
//! A clear sky or a dark bonnet is as flat as a bar (the Udacity frames' skies keep within
//! 6 levels over their top 30 rows), so a side read as a bar may be picture: the pictures
//! read are the one inside every bar found and, when two or more sides were found, each
//! with one of them left as it is (a strip added below a frame with a clear sky). A picture
//! inside bars is probed for every cut a frame sent bare is (`model::footage::copy_cuts`
//! and `wide_cuts`: a few lines of bar misread, or any cut before the framing), so an
//! honest frame with a flat sky pays for a second set of probes.
//!
//! Pure: reads grayscale pixels, never decodes, never judges.

use image::GrayImage;

/// A rectangle of a picture, pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// A bar is at least this share of the frame's side deep (and two pixels): an encoder's
/// stray edge line is not a bar.
pub const MIN_BAR_SHARE: f64 = 0.01;
/// The picture inside the bars keeps at least this share of each side, or it is not read
/// as one.
pub const MIN_CONTENT_SHARE: f64 = 0.5;
/// How far, in grey levels, a bar's pixel may stray from the bar's shade (JPEG noise).
pub const SHADE_TOLERANCE: u8 = 6;
/// Share of a line's pixels that must keep the bar's shade for the line to be bar: a
/// caption's thin letters or a logo may cover the rest.
pub const FLAT_SHARE: f64 = 0.97;

/// The pictures inside the frame's bars, if it has any (see the module documentation):
/// the one inside them all first, then each with one side's bar kept. Empty without bars.
pub fn content_boxes(gray: &GrayImage) -> Vec<Rect> {
    let (width, height) = (gray.width(), gray.height());
    if width < 4 || height < 4 {
        return Vec::new();
    }
    let row = |y: u32, (from, to): (u32, u32)| (from..to).map(move |x| gray.get_pixel(x, y)[0]);
    let column = |x: u32, (from, to): (u32, u32)| (from..to).map(move |y| gray.get_pixel(x, y)[0]);
    let top = bar_depth(height, |n| row(n, (0, width)).collect());
    let bottom = bar_depth(height - top, |n| row(height - 1 - n, (0, width)).collect());
    let rows = (top, height - bottom);
    let left = bar_depth(width, |n| column(n, rows).collect());
    let right = bar_depth(width - left, |n| column(width - 1 - n, rows).collect());
    let depths = [left, top, right, bottom];
    let found = depths.iter().filter(|&&depth| depth > 0).count();
    let kept_one = (0..4)
        .filter(|&side| found >= 2 && depths[side] > 0)
        .map(|side| {
            let mut depths = depths;
            depths[side] = 0;
            depths
        });
    let inside = |[left, top, right, bottom]: [u32; 4]| Rect {
        x: left,
        y: top,
        width: width - left - right,
        height: height - top - bottom,
    };
    let keeps = |part: u32, whole: u32| f64::from(part) >= MIN_CONTENT_SHARE * f64::from(whole);
    let mut boxes: Vec<Rect> = Vec::new();
    for depths in std::iter::once(depths).chain(kept_one) {
        let candidate = inside(depths);
        if found > 0
            && keeps(candidate.width, width)
            && keeps(candidate.height, height)
            && !boxes.contains(&candidate)
        {
            boxes.push(candidate);
        }
    }
    boxes
}

/// How deep the bar is on one side: `line(n)` is the `n`-th line in from that side's edge,
/// and at most `lines` are read. 0 when the lines that keep the outermost line's shade are
/// fewer than a bar's least depth.
fn bar_depth(lines: u32, line: impl Fn(u32) -> Vec<u8>) -> u32 {
    let Some(shade) = median(line(0)) else {
        return 0;
    };
    let depth = (0..lines)
        .take_while(|&n| keeps_shade(&line(n), shade))
        .count() as u32;
    let least = ((f64::from(lines) * MIN_BAR_SHARE).ceil() as u32).max(2);
    if depth >= least { depth } else { 0 }
}

/// Whether nearly all of `pixels` (at least [`FLAT_SHARE`]) lie within
/// [`SHADE_TOLERANCE`] of `shade`.
fn keeps_shade(pixels: &[u8], shade: u8) -> bool {
    let kept = pixels
        .iter()
        .filter(|&&value| value.abs_diff(shade) <= SHADE_TOLERANCE)
        .count();
    !pixels.is_empty() && kept as f64 >= FLAT_SHARE * pixels.len() as f64
}

fn median(mut values: Vec<u8>) -> Option<u8> {
    if values.is_empty() {
        return None;
    }
    let middle = values.len() / 2;
    Some(*values.select_nth_unstable(middle).1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// A textured picture (no line of it flat) of `width` × `height`.
    fn textured(width: u32, height: u32) -> GrayImage {
        GrayImage::from_fn(width, height, |x, y| {
            Luma([(40 + (x * 37 + y * 91 + (x * y) % 53) % 170) as u8])
        })
    }

    /// `picture` on a `shade` canvas with `[left, top, right, bottom]` pixels of margin.
    fn framed(picture: &GrayImage, [left, top, right, bottom]: [u32; 4], shade: u8) -> GrayImage {
        let mut canvas = GrayImage::from_pixel(
            picture.width() + left + right,
            picture.height() + top + bottom,
            Luma([shade]),
        );
        image::imageops::replace(&mut canvas, picture, i64::from(left), i64::from(top));
        canvas
    }

    #[test]
    fn a_picture_without_bars_has_no_content_box() {
        assert_eq!(content_boxes(&textured(320, 180)), []);
    }

    #[test]
    fn letterbox_pillarbox_and_border_bars_are_found_in_any_shade() {
        let picture = textured(320, 180);
        for (margins, shade) in [
            ([0, 30, 0, 30], 0),
            ([40, 0, 40, 0], 0),
            ([10, 10, 10, 10], 255),
            ([0, 0, 0, 15], 40),
            ([12, 0, 0, 0], 128),
        ] {
            let inside = content_boxes(&framed(&picture, margins, shade));
            assert_eq!(
                inside.first(),
                Some(&Rect {
                    x: margins[0],
                    y: margins[1],
                    width: 320,
                    height: 180
                }),
                "{margins:?} in {shade}"
            );
        }
    }

    #[test]
    fn a_line_or_two_at_the_edge_is_not_a_bar() {
        let picture = textured(320, 180);
        assert_eq!(content_boxes(&framed(&picture, [0, 1, 0, 0], 0)), []);
        assert_eq!(content_boxes(&framed(&picture, [1, 0, 1, 0], 0)), []);
    }

    #[test]
    fn a_caption_s_letters_on_the_bar_keep_it_a_bar() {
        let mut framed = framed(&textured(320, 180), [0, 0, 0, 20], 0);
        // A few white letters' strokes on four rows of the strip: 2 % of each row.
        for y in 188..192 {
            for x in (100..260).step_by(25) {
                framed.put_pixel(x, y, Luma([255]));
            }
        }
        assert_eq!(content_boxes(&framed).first().map(|b| b.height), Some(180));
    }

    #[test]
    fn a_mostly_flat_frame_is_not_read_as_a_small_picture_in_bars() {
        // A frame that is 80 % black (a night, a lens cap): no content box of 20 %.
        let frame = framed(&textured(64, 36), [128, 72, 128, 72], 0);
        assert_eq!(content_boxes(&frame), []);
    }

    proptest::proptest! {
        /// Any picture, bars or none: every box lies inside it and keeps at least half of
        /// each side.
        #[test]
        fn every_box_lies_inside_the_picture_and_keeps_half_of_it(
            width in 0u32..40,
            height in 0u32..40,
            margins in proptest::array::uniform4(0u32..12),
            shade in proptest::num::u8::ANY,
            seed in proptest::num::u32::ANY,
        ) {
            let picture = GrayImage::from_fn(width, height, |x, y| {
                Luma([(x.wrapping_mul(seed | 1) ^ y.wrapping_mul(97)) as u8])
            });
            let frame = framed(&picture, margins, shade);
            for inside in content_boxes(&frame) {
                proptest::prop_assert!(inside.x + inside.width <= frame.width());
                proptest::prop_assert!(inside.y + inside.height <= frame.height());
                proptest::prop_assert!(2 * inside.width >= frame.width());
                proptest::prop_assert!(2 * inside.height >= frame.height());
            }
        }
    }

    #[test]
    fn tiny_and_empty_pictures_have_no_content_box() {
        assert_eq!(content_boxes(&GrayImage::new(0, 0)), []);
        assert_eq!(content_boxes(&GrayImage::new(3, 3)), []);
        assert_eq!(content_boxes(&GrayImage::from_pixel(64, 64, Luma([0]))), []);
    }

    #[test]
    fn a_flat_sky_read_as_a_bar_leaves_the_picture_under_a_real_bar_among_the_boxes() {
        // The top 20 rows are a clear sky (one shade, as flat as a bar), then texture; a
        // grey strip of 15 rows is added below.
        let mut picture = textured(320, 180);
        for y in 0..20 {
            for x in 0..320 {
                picture.put_pixel(x, y, Luma([230]));
            }
        }
        let boxes = content_boxes(&framed(&picture, [0, 0, 0, 15], 40));
        let original = Rect {
            x: 0,
            y: 0,
            width: 320,
            height: 180,
        };
        assert_eq!(boxes.len(), 3, "{boxes:?}");
        assert!(boxes.contains(&original), "{boxes:?}");
    }
}
