//! Near-duplicate fingerprints on real dashcam frames: re-encoded and resized copies of a
//! frame match it; the other real frames of the same highway do not. (Measured when the
//! threshold was set: copies at most ≈ 0.017 apart, the closest two different frames 0.23.)

use std::io::Cursor;

use crate::{LANES, lane};
use image::ImageFormat;
use image::codecs::jpeg::JpegEncoder;
use ingest::similarity::{NEAR_DUPLICATE_DISTANCE, distance, fingerprint, is_near_duplicate};

fn reencode(jpeg: &[u8], quality: u8, scale: f32) -> Vec<u8> {
    let image = image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg).unwrap();
    let image = image.resize(
        (image.width() as f32 * scale) as u32,
        (image.height() as f32 * scale) as u32,
        image::imageops::FilterType::Lanczos3,
    );
    let mut out = Cursor::new(Vec::new());
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&image.to_rgb8())
        .unwrap();
    out.into_inner()
}

#[test]
fn reencoded_copies_are_near_duplicates_and_other_frames_are_not() {
    let originals: Vec<_> = LANES
        .iter()
        .map(|name| fingerprint(&lane(name)).unwrap())
        .collect();
    for (name, original) in LANES.iter().zip(&originals) {
        let jpeg = lane(name);
        for (quality, scale) in [(90, 1.0), (60, 1.0), (75, 0.5), (50, 0.75)] {
            let copy = fingerprint(&reencode(&jpeg, quality, scale)).unwrap();
            assert!(
                is_near_duplicate(original, &copy),
                "{name} at q{quality} ×{scale}: distance {}",
                distance(original, &copy)
            );
        }
    }
    // The six frames are different moments of real highway driving: never duplicates,
    // even though lanes and sky look alike.
    for i in 0..originals.len() {
        for j in i + 1..originals.len() {
            let bits = distance(&originals[i], &originals[j]);
            assert!(
                bits > NEAR_DUPLICATE_DISTANCE,
                "{} vs {}: only {bits} apart",
                LANES[i],
                LANES[j]
            );
        }
    }
}

#[test]
fn broken_bytes_are_an_error_not_a_panic() {
    let jpeg = lane("solidWhiteCurve.jpg");
    // A cut-off JPEG decodes partially (the header check upstream refuses it); never panics.
    let _ = fingerprint(&jpeg[..jpeg.len() / 3]);
    assert!(fingerprint(b"not a jpeg").is_err());
    assert!(fingerprint(&[]).is_err());
}

/// The global footage index's promises on the simulator's real stills: a copy — cropped
/// 0–10 % a side, mirrored or not, or cut off-centre (the bottom, the top, towards a
/// corner), brightened or darkened, re-encoded at quality 50–90; or cut deeper (to 4:3, 12 %
/// a side, the bottom 15 %, a corner 13.5 %), measured against the original's inner core —
/// is within `OWN_COPY_DISTANCE` (and so `COPY_DISTANCE`) of its original and shares an
/// index key with it; no frame of another honest dashcam is within `COPY_DISTANCE` of any
/// other's, wherever and whenever it was taken (the simulator mirrors some streets' stills,
/// so the mirrored probes meet the same still shown both ways); and no dashcam's frame is within
/// `OWN_COPY_DISTANCE` of its own frames of another moment (over `same_moment_ms` apart:
/// the repeating drivers' second day re-drives their first day's roads).
#[test]
fn footage_copies_are_found_and_other_dashcams_are_not() {
    use datasets::fleet::{Behaviour, FleetConfig, simulate};
    use datasets::frames::{FrameSource, Look};
    use ingest::similarity::frame_prints;
    use model::footage::{COPY_DISTANCE, CopyConfig, OWN_COPY_DISTANCE, inner_core, stored_keys};
    let network = datasets::monaco().unwrap();
    let graph = datasets::RoadGraph::new(&network);
    let fleet = simulate(
        &graph,
        &FleetConfig {
            days: 2,
            trips_per_day: 1,
            trip_length_m: 500.0,
            seed: 3,
            ..FleetConfig::default()
        },
    )
    .unwrap();
    let mut source = FrameSource::open().unwrap();
    // How each copy is made from its frame, its brightness and its JPEG quality.
    enum Made {
        /// Each side's share cut off.
        Cut([f64; 4]),
        /// Turned this many degrees, zoomed to fill or with blank corners.
        Turned(f64, bool),
    }
    let disguises = [
        (Made::Cut([0.05; 4]), 12, 82),
        (Made::Cut([0.03; 4]), -20, 60),
        (Made::Cut([0.08; 4]), 30, 70),
        (Made::Cut([0.0; 4]), 0, 50),
        (Made::Cut([0.10; 4]), 10, 90),
        (Made::Cut([0.0, 0.0, 0.0, 0.08]), 5, 80),
        (Made::Cut([0.0, 0.10, 0.0, 0.0]), -5, 75),
        (Made::Cut([0.0, 0.0, 0.06, 0.06]), 0, 85),
        (Made::Cut([0.09, 0.0, 0.0, 0.09]), 8, 70),
        // Between two keyed probes' cuts.
        (Made::Cut([0.045; 4]), -10, 80),
        (Made::Cut([0.0, 0.0, 0.085, 0.085]), 15, 85),
        (Made::Cut([0.0, 0.0, 0.0, 0.065]), 0, 90),
        // A change of aspect: 16:9 to 16:10, letterboxed to 2:1.
        (Made::Cut([0.05, 0.0, 0.05, 0.0]), 0, 80),
        (Made::Cut([0.0, 0.055, 0.0, 0.055]), -8, 85),
        // Turned, with blank corners or zoomed to fill.
        (Made::Turned(2.0, false), 0, 85),
        (Made::Turned(-3.5, false), 6, 80),
        (Made::Turned(1.0, true), 0, 85),
        (Made::Turned(-4.0, true), -6, 80),
        // Beyond the core's margin, found by the inner core: 16:9 to 4:3, a crop of 12 %,
        // the bottom 15 %, a corner crop of 13.5 % (between two keyed wide cuts).
        (Made::Cut([0.125, 0.0, 0.125, 0.0]), 4, 80),
        (Made::Cut([0.12; 4]), -12, 70),
        (Made::Cut([0.0, 0.0, 0.0, 0.15]), 0, 85),
        (Made::Cut([0.135, 0.135, 0.0, 0.0]), 10, 75),
    ];
    let mut frames = Vec::new();
    let mut copy_distances = Vec::new();
    for (device, trip) in fleet.trips() {
        if !matches!(device.behaviour, Behaviour::Honest | Behaviour::Repeating) {
            continue;
        }
        for index in (0..trip.fixes.len()).step_by(5) {
            let look = Look {
                pose: trip.poses[index],
                camera: device.index,
            };
            let frame = source
                .frame(trip.frame_key(index), &trip.fixes[index], look)
                .unwrap();
            let prints = frame_prints(&frame.jpeg).unwrap();
            let (made, brightness, quality) = &disguises[frames.len() % disguises.len()];
            let (brightness, quality) = (*brightness, *quality);
            let mirror = frames.len() % 2 == 1;
            let copy = match *made {
                Made::Cut(sides) => {
                    datasets::frames::disguise_cut(&frame.jpeg, sides, mirror, brightness, quality)
                }
                Made::Turned(degrees, fill) => datasets::frames::disguise_turned(
                    &frame.jpeg,
                    degrees,
                    fill,
                    mirror,
                    brightness,
                    quality,
                ),
            }
            .unwrap();
            let copy = frame_prints(&copy).unwrap();
            let inner = inner_core(&prints.core).unwrap();
            let nearest = copy.nearest(&prints.core, Some(&inner), f32::INFINITY);
            copy_distances.push(nearest);
            let stored = stored_keys(&prints.core);
            assert!(
                copy.probe_keys().iter().any(|key| stored.contains(key)),
                "a copy shares no index key with its original"
            );
            frames.push((device.index, trip.fixes[index].time, prints, inner));
        }
    }
    copy_distances.sort_by(f32::total_cmp);
    let farthest_copy = copy_distances[copy_distances.len() - 1];
    eprintln!(
        "{} copies: {:.3}..{farthest_copy:.3} from their original",
        copy_distances.len(),
        copy_distances[0]
    );
    assert!(farthest_copy < OWN_COPY_DISTANCE, "{farthest_copy}");
    let same_moment_ms = CopyConfig::default().same_moment_ms;
    let (mut nearest_other, mut nearest_own) = (f32::INFINITY, f32::INFINITY);
    for (device, time, prints, _) in &frames {
        for (other, other_time, stored, inner) in &frames {
            let nearest = if other != device {
                &mut nearest_other
            } else if time.millis_since(*other_time).abs() > same_moment_ms {
                &mut nearest_own
            } else {
                continue;
            };
            // Only a pair nearer than the nearest so far moves it (the index's own search).
            *nearest = prints.nearest(&stored.core, Some(inner), *nearest);
        }
    }
    eprintln!(
        "{} honest frames: another dashcam's nearest {nearest_other:.3}, a dashcam's own \
         frame of another moment {nearest_own:.3}",
        frames.len()
    );
    assert!(nearest_other > COPY_DISTANCE, "{nearest_other}");
    assert!(nearest_own > OWN_COPY_DISTANCE, "{nearest_own}");
}

/// The keyed probes read at once are the first probes of each picture's full set, so the
/// keys asked before the rest is read are the keys of the full sets' keyed probes; every
/// picture read inside bars (a real Udacity frame letterboxed into 4:3 has some) has a full
/// set of its own beside the frame's.
#[test]
fn the_probes_read_later_begin_with_the_keyed_probes_read_at_once() {
    use ingest::framing::content_boxes;
    use ingest::similarity::frame_prints;
    use model::footage::{KEYED_CUTS, WIDE_KEYED_CUTS, copy_cuts, inner_keys, keys, wide_cuts};
    let udacity =
        std::fs::read(datasets::path("images/udacity_lanes/solidWhiteRight.jpg")).unwrap();
    let street = std::fs::read(datasets::path("images/geotagged/mapillary_DSC00001.JPG")).unwrap();
    let letterboxed = datasets::frames::disguise_framed(
        &udacity,
        [0.0, 1.0 / 6.0, 0.0, 1.0 / 6.0],
        0,
        false,
        0,
        90,
    )
    .unwrap();
    for (name, frame) in [("letterboxed", &letterboxed), ("street", &street)] {
        let gray = image::load_from_memory(frame).unwrap().to_luma8();
        let boxes = content_boxes(&gray).len();
        assert!(name != "letterboxed" || boxes > 0, "the letterbox is read");
        let prints = frame_prints(frame).unwrap();
        let asked_at_once = prints.probe_keys();
        let sets = prints.probe_sets();
        assert_eq!(sets.len(), 1 + boxes, "{name}");
        let mut keyed: Vec<i64> = sets
            .iter()
            .flat_map(|set| {
                assert_eq!(set.cuts.len(), 2 * copy_cuts().len());
                assert_eq!(set.wide.len(), 2 * wide_cuts().len());
                set.cuts[..2 * KEYED_CUTS]
                    .iter()
                    .flat_map(keys)
                    .chain(set.wide[..2 * WIDE_KEYED_CUTS].iter().flat_map(inner_keys))
            })
            .collect();
        keyed.sort_unstable();
        keyed.dedup();
        assert_eq!(asked_at_once, keyed, "{name}");
    }
}

/// The backfill's core-only print is the core the pipeline stores, for a frame read at its
/// own size (Udacity, 960 × 540) and for one shrunk first (the 3840 × 2160 street).
#[test]
fn the_core_print_is_the_core_of_the_frame_prints() {
    use ingest::similarity::{core_print, frame_prints};
    for name in [
        "images/udacity_lanes/solidWhiteRight.jpg",
        "images/geotagged/mapillary_DSC00001.JPG",
    ] {
        let frame = std::fs::read(datasets::path(name)).unwrap();
        assert_eq!(
            core_print(&frame).unwrap(),
            frame_prints(&frame).unwrap().core,
            "{name}"
        );
    }
    assert!(core_print(b"\xff\xd8\xff not a whole JPEG").is_err());
}
