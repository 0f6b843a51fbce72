//! How far the global footage index's copy distances stand from honest footage, over the
//! fleets of the README's ten-seed scoreboard (`waymark demo --drivers 3 --days 2 --trip-m
//! 500`, seeds 1–10): for every second keyframe of every honest or repeating driver, the
//! nearest core of another dashcam and of the driver's own other moments, probed as the
//! worker probes (every crop, as it is and mirrored), and the same without the mirrored
//! probes. Prints one Markdown row per seed; a distance under `COPY_DISTANCE` (another
//! dashcam) or `OWN_COPY_DISTANCE` (its own) would be an honest frame taken for a copy.
//!
//!     cargo run --release -p ingest --example footage_margin -- [first_seed] [last_seed]

use datasets::fleet::{Behaviour, FleetConfig, simulate};
use datasets::frames::{FrameSource, Look};
use ingest::similarity::{FramePrints, distance, frame_prints};
use model::footage::{COPY_DISTANCE, CopyConfig, OWN_COPY_DISTANCE};

/// The nearest of `probes` (every second one when `unmirrored_only`: the worker interleaves
/// each crop's mirrored probe before it) to `core`.
fn nearest(
    prints: &FramePrints,
    core: &model::consensus::Fingerprint,
    unmirrored_only: bool,
) -> f32 {
    prints
        .probes
        .iter()
        .enumerate()
        .filter(|(n, _)| !unmirrored_only || n % 2 == 1)
        .map(|(_, probe)| distance(probe, core))
        .fold(f32::INFINITY, f32::min)
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
    println!(
        "| seed | honest frames | another dashcam's nearest (mirrored probes) | without them | its own other moment's nearest (mirrored) | without them |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
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
                    frame_prints(&frame.jpeg)?,
                ));
            }
        }
        let mut other = [f32::INFINITY; 2];
        let mut own = [f32::INFINITY; 2];
        for (device, time, prints) in &frames {
            for (stored_device, stored_time, stored) in &frames {
                for (slot, unmirrored_only) in [(0, false), (1, true)] {
                    let d = nearest(prints, &stored.core, unmirrored_only);
                    if stored_device != device {
                        other[slot] = other[slot].min(d);
                    } else if time.millis_since(*stored_time).abs() > same_moment_ms {
                        own[slot] = own[slot].min(d);
                    }
                }
            }
        }
        println!(
            "| {seed} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            frames.len(),
            other[0],
            other[1],
            own[0],
            own[1]
        );
    }
    Ok(())
}
