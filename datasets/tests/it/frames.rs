//! The frame source against what ingest checks: size, JPEG header, exact duplicates and its
//! own perceptual near-duplicate rule per H3 res-12 cell.

use std::collections::{HashMap, HashSet};

use datasets::fleet::{Dishonest, FleetConfig, FrameKey, simulate};
use datasets::frames::{FRAME_SIZE, FrameSource, Look};
use datasets::geo::distance_m;
use ingest::similarity::{fingerprint, is_near_duplicate};
use model::{FrameId, JpegHeader};

use crate::monaco;

/// Agent-like sampling: a frame whenever the car moved 8 m since the last one.
fn sampled(fixes: &[model::Fix]) -> Vec<usize> {
    let mut taken: Vec<usize> = Vec::new();
    for (i, fix) in fixes.iter().enumerate() {
        let far = taken.last().is_none_or(|&last| {
            distance_m((fixes[last].lon, fixes[last].lat), (fix.lon, fix.lat)) >= 8.0
        });
        if far {
            taken.push(i);
        }
    }
    taken
}

#[test]
fn frames_pass_ingests_gates_and_repeated_roads_never_look_the_same_twice() -> anyhow::Result<()> {
    let config = FleetConfig {
        drivers: 2,
        days: 2,
        trips_per_day: 1,
        trip_length_m: 800.0,
        repeat_share: 1.0,
        dishonest: Dishonest {
            replaying: 1,
            ..Dishonest::none()
        },
        ..FleetConfig::default()
    };
    let fleet = simulate(&monaco().1, &config)?;
    let mut source = FrameSource::open()?;
    let mut by_key: HashMap<FrameKey, FrameId> = HashMap::new();
    let mut by_cell: HashMap<h3o::CellIndex, Vec<(FrameKey, ingest::similarity::Fingerprint)>> =
        HashMap::new();
    let mut collections = HashSet::new();
    let mut replayed = 0;
    for (device, trip) in fleet.trips() {
        for index in sampled(&trip.fixes) {
            let fix = &trip.fixes[index];
            let key = trip.frame_key(index);
            let look = Look {
                pose: trip.poses[index],
                camera: device.index,
            };
            let frame = source.frame(key, fix, look)?;
            let id = FrameId::of_bytes(&frame.jpeg);
            if let Some(earlier) = by_key.insert(key, id) {
                assert_eq!(earlier, id, "asking again for {key:?} gives the same bytes");
                replayed += 1;
                continue;
            }
            assert!(
                (30_000..=2_000_000).contains(&frame.jpeg.len()),
                "{} bytes",
                frame.jpeg.len()
            );
            let header = JpegHeader::parse(&frame.jpeg)?;
            assert!(header.complete);
            assert_eq!((header.width, header.height), FRAME_SIZE);
            collections.insert(frame.footage.collection());
            let cell = fix.cell(model::COVERAGE_RESOLUTION).unwrap();
            by_cell
                .entry(cell)
                .or_default()
                .push((key, fingerprint(&frame.jpeg)?));
        }
    }
    let unique: HashSet<&FrameId> = by_key.values().collect();
    assert_eq!(
        unique.len(),
        by_key.len(),
        "every frame key has its own bytes"
    );
    assert!(
        replayed > 50,
        "the replaying device re-uploads its first day's frames"
    );
    assert_eq!(collections, HashSet::from(["udacity_solidWhiteRight.mp4"]));
    let shared_cells = by_cell.values().filter(|frames| frames.len() > 1).count();
    assert!(
        shared_cells > 100,
        "repeating drivers cover cells again ({shared_cells})"
    );
    for frames in by_cell.values() {
        for (i, (a_key, a)) in frames.iter().enumerate() {
            for (b_key, b) in &frames[i + 1..] {
                assert!(
                    !is_near_duplicate(a, b),
                    "{a_key:?} and {b_key:?} look the same to ingest"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn a_framed_disguise_shows_the_whole_frame_inside_bars_of_its_shade() -> anyhow::Result<()> {
    let jpeg = std::fs::read(datasets::path(
        "frames/udacity_solidWhiteRight/frame_000.jpg",
    ))?;
    // Letterboxed into 4:3: a sixth of the height added above and below, in black.
    let framed = datasets::frames::disguise_framed(
        &jpeg,
        [0.0, 1.0 / 6.0, 0.0, 1.0 / 6.0],
        0,
        false,
        0,
        90,
    )?;
    let original = image::load_from_memory(&jpeg)?.to_luma8();
    let framed = image::load_from_memory(&framed)?.to_luma8();
    assert_eq!(framed.dimensions(), (960, 720));
    let bar_rows = [0, 40, 80, 640, 680, 719];
    for y in bar_rows {
        assert!(
            framed.rows().nth(y as usize).unwrap().all(|p| p[0] <= 12),
            "row {y} is bar"
        );
    }
    // The picture inside: the original row for row (JPEG twice, so within a few levels on
    // average).
    let row_mean = |image: &image::GrayImage, y: u32| {
        (0..image.width())
            .map(|x| f64::from(image.get_pixel(x, y)[0]))
            .sum::<f64>()
            / f64::from(image.width())
    };
    for y in [100, 270, 500] {
        let difference = (row_mean(&original, y) - row_mean(&framed, y + 90)).abs();
        assert!(difference < 3.0, "row {y} moved by {difference}");
    }
    assert!(datasets::frames::disguise_framed(b"not a jpeg", [0.1; 4], 0, false, 0, 90).is_err());
    Ok(())
}
