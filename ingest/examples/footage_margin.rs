//! How far the global footage index's copy distances stand from honest footage, over the
//! fleets of the README's ten-seed scoreboard (`waymark demo --drivers 3 --days 2 --trip-m
//! 500`, seeds 1–10): for every second keyframe of every honest or repeating driver, the
//! nearest core of another dashcam and of the driver's own other moments, probed as the
//! worker probes (every cut, as it is and mirrored, and the wide cuts against the inner
//! core), and the same without the wide cuts (all the worker probed before crops beyond the
//! core's margin were searched). Prints one
//! Markdown row per seed; a distance under `COPY_DISTANCE` (another dashcam) or
//! `OWN_COPY_DISTANCE` (its own) would be an honest frame taken for a copy, and the last
//! column counts such frames. First, the same on real footage: each still of the two real
//! videos (`datasets/frames/`: a highway at 5 stills a second, about 5 m apart, and a walk
//! past a car park) against every other still of its video: how far the footage index's
//! distance moves when the camera moves on a few metres.
//!
//!     cargo run --release -p ingest --example footage_margin -- [first_seed] [last_seed]

use datasets::fleet::{Behaviour, FleetConfig, simulate};
use datasets::frames::{FrameSource, Look};
use ingest::similarity::{FramePrints, frame_prints};
use model::consensus::Fingerprint;
use model::footage::{COPY_DISTANCE, CopyConfig, OWN_COPY_DISTANCE, inner_core};

/// The nearest of `prints`' probes to the stored `core` (and its wide probes to the stored
/// `inner` core, unless `without_wide`) when it is below `bound`, `bound` when not
/// (`f32::INFINITY` asks for the exact nearest): the worker's own search.
fn nearest(
    prints: &FramePrints,
    (core, inner): (&Fingerprint, &Fingerprint),
    without_wide: bool,
    bound: f32,
) -> f32 {
    prints.nearest(core, (!without_wide).then_some(inner), bound)
}

/// A frame's prints and the inner core the index would cut from its core.
fn with_inner(prints: FramePrints) -> (FramePrints, Fingerprint) {
    let inner = inner_core(&prints.core).unwrap_or_else(|| prints.core.clone());
    (prints, inner)
}

/// The nearest of each still's probes to any other still's core, per video: how near two
/// real frames of one street a few metres apart come.
fn real_footage() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "| real footage | stills | nearest other still (every cut) | without the wide cuts | nearest to the next still, median |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (name, count) in [("udacity_solidWhiteRight", 45), ("gopro_max_heromode", 11)] {
        let mut prints = Vec::new();
        for n in 0..count {
            let path = datasets::path(&format!("frames/{name}/frame_{n:03}.jpg"));
            prints.push(with_inner(frame_prints(&std::fs::read(path)?)?));
        }
        let mut nearest_any = [f32::INFINITY; 2];
        let mut next = Vec::new();
        for (i, a) in prints.iter().enumerate() {
            for (j, b) in prints.iter().enumerate() {
                if i == j {
                    continue;
                }
                let stored = (&b.0.core, &b.1);
                for (slot, without_wide) in [(0, false), (1, true)] {
                    let d = nearest(&a.0, stored, without_wide, nearest_any[slot]);
                    nearest_any[slot] = nearest_any[slot].min(d);
                }
                if j == i + 1 {
                    next.push(nearest(&a.0, stored, false, f32::INFINITY));
                }
            }
        }
        next.sort_by(f32::total_cmp);
        println!(
            "| {name} | {count} | {:.3} | {:.3} | {:.3} |",
            nearest_any[0],
            nearest_any[1],
            next[next.len() / 2]
        );
    }
    println!();
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>());
    let first = args.next().transpose()?.unwrap_or(1);
    let last = args.next().transpose()?.unwrap_or(10);
    let network = datasets::monaco()?;
    let graph = datasets::RoadGraph::new(&network);
    let same_moment_ms = CopyConfig::default().same_moment_ms;
    println!("copy distances: another dashcam {COPY_DISTANCE}, its own {OWN_COPY_DISTANCE}");
    println!();
    real_footage()?;
    println!(
        "| seed | honest frames | another dashcam's nearest (every cut) | without the wide cuts | its own other moment's nearest (every cut) | without the wide cuts | frames under a rule (every cut) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for seed in first..=last {
        let fleet = simulate(
            &graph,
            &FleetConfig {
                drivers: 3,
                days: 2,
                trip_length_m: 500.0,
                seed,
                ..FleetConfig::default()
            },
        )?;
        let mut source = FrameSource::open()?;
        let mut frames = Vec::new();
        for (device, trip) in fleet.trips() {
            if !matches!(device.behaviour, Behaviour::Honest | Behaviour::Repeating) {
                continue;
            }
            for index in (0..trip.fixes.len()).step_by(2) {
                let look = Look {
                    pose: trip.poses[index],
                    camera: device.index,
                };
                let frame = source.frame(trip.frame_key(index), &trip.fixes[index], look)?;
                frames.push((
                    device.index,
                    trip.fixes[index].time,
                    with_inner(frame_prints(&frame.jpeg)?),
                ));
            }
        }
        let mut other = [f32::INFINITY; 2];
        let mut own = [f32::INFINITY; 2];
        let mut under_a_rule = 0;
        for (device, time, (prints, _)) in &frames {
            let mut taken = false;
            for (stored_device, stored_time, (stored, inner)) in &frames {
                for (slot, without_wide) in [(0, false), (1, true)] {
                    // Measured only as far as it could move the nearest or fall under the rule.
                    let (nearest_so_far, rule) = if stored_device != device {
                        (&mut other[slot], COPY_DISTANCE)
                    } else if time.millis_since(*stored_time).abs() > same_moment_ms {
                        (&mut own[slot], OWN_COPY_DISTANCE)
                    } else {
                        continue;
                    };
                    let bound = if slot == 0 {
                        nearest_so_far.max(rule)
                    } else {
                        *nearest_so_far
                    };
                    let d = nearest(prints, (&stored.core, inner), without_wide, bound);
                    *nearest_so_far = nearest_so_far.min(d);
                    taken |= slot == 0 && d < rule;
                }
            }
            under_a_rule += usize::from(taken);
        }
        println!(
            "| {seed} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {under_a_rule} |",
            frames.len(),
            other[0],
            other[1],
            own[0],
            own[1]
        );
    }
    Ok(())
}
