//! The attack suite's pixel attacks through the place consensus (`model::consensus`), for
//! several seeds: the simulator's place-consistent frames (`datasets::frames`), sampled every
//! 8 m as the agent does, each capture judged against the views the captures before it left
//! (what the worker reads from the fingerprint table), its views then kept unless it was
//! held. Honest drivers (and the real work of a sybil or a farm's phone) must never be held;
//! a GPS offset, a smoothed synthetic route with pixels of elsewhere, and disguised copies of
//! another driver's frames must be. (The demo runs the same through the real worker for one
//! seed.)

use std::collections::{BTreeMap, HashMap};

use datasets::fleet::{Behaviour, Device, Fleet, FleetConfig, Trip, simulate};
use datasets::frames::{FrameSource, Look, disguise_image};
use image::DynamicImage;
use ingest::similarity::{Fingerprint, fingerprint_image};
use model::DeviceId;
use model::consensus::{
    Agreement, ConsensusConfig, VIEW_RINGS, View, agreement, capture_disagrees, heading_at,
};

fn device_id(index: u32) -> DeviceId {
    format!("00000000-0000-0000-0000-{index:012}")
        .parse()
        .unwrap()
}

/// Agent-like sampling: a fix whenever the car moved 8 m since the last kept one.
fn sampled(trip: &Trip) -> Vec<usize> {
    let mut kept: Vec<usize> = Vec::new();
    for (i, fix) in trip.fixes.iter().enumerate() {
        let far = kept.last().is_none_or(|&last| {
            let before = &trip.fixes[last];
            datasets::geo::distance_m((before.lon, before.lat), (fix.lon, fix.lat)) >= 8.0
        });
        if far {
            kept.push(i);
        }
    }
    kept
}

/// Whether the device's frames reach the place consensus at all (the others are rejected
/// by the track and byte checks first, so they never leave views either).
fn judged_by_pixels(behaviour: Behaviour) -> bool {
    matches!(
        behaviour,
        Behaviour::Honest
            | Behaviour::Repeating
            | Behaviour::Sybil { .. }
            | Behaviour::DeviceFarm { key: 0, .. }
            | Behaviour::GpsOffset
            | Behaviour::SmoothedSynthetic
            | Behaviour::DisguisedReplay { .. }
    )
}

/// The fingerprint of what `device` sends for fix `index` of `trip`.
fn print_of(
    fleet: &Fleet,
    source: &mut FrameSource,
    device: &Device,
    trip: &Trip,
    index: usize,
) -> Fingerprint {
    let look = Look {
        pose: trip.poses[index],
        camera: device.index,
    };
    let picture = match device.behaviour {
        Behaviour::SmoothedSynthetic => source
            .picture(trip.frame_key(index), &trip.fixes[index], look.elsewhere())
            .unwrap(),
        Behaviour::DisguisedReplay { victim } => {
            let victim = &fleet.devices[victim as usize];
            let original = &victim.trips[trip.index as usize % victim.trips.len()];
            let at = index % original.fixes.len();
            let look = Look {
                pose: original.poses[at],
                camera: victim.index,
            };
            let picture = source
                .picture(original.frame_key(at), &original.fixes[at], look)
                .unwrap();
            disguise_image(&picture, 0.05, 12)
        }
        _ => source
            .picture(trip.frame_key(index), &trip.fixes[index], look)
            .unwrap(),
    };
    fingerprint_image(&DynamicImage::ImageRgb8(picture))
}

/// Per device index: (frames judged against a well-mapped place, frames held).
fn run(fleet: &Fleet) -> BTreeMap<u32, (usize, usize)> {
    let config = ConsensusConfig::default();
    let mut source = FrameSource::open().unwrap();
    let mut views: HashMap<u64, Vec<View>> = HashMap::new();
    let mut outcome: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    let mut trips: Vec<_> = fleet
        .trips()
        .filter(|(device, _)| judged_by_pixels(device.behaviour))
        .collect();
    trips.sort_by_key(|(device, trip)| (trip.start(), device.index, trip.index));
    for (device, trip) in trips {
        let kept = sampled(trip);
        let fixes: Vec<model::Fix> = kept.iter().map(|&i| trip.fixes[i]).collect();
        for (chunk, capture) in kept.chunks(model::MAX_FRAMES_PER_CAPTURE).enumerate() {
            let offset = chunk * model::MAX_FRAMES_PER_CAPTURE;
            let mut frames = Vec::new();
            let mut agreements = Vec::new();
            for (n, &index) in capture.iter().enumerate() {
                let print = print_of(fleet, &mut source, device, trip, index);
                let fix = &trip.fixes[index];
                let cell = fix.cell(model::COVERAGE_RESOLUTION).unwrap();
                let heading = heading_at(&fixes[offset..offset + capture.len()], n);
                let near: Vec<View> = cell
                    .grid_disk::<Vec<_>>(VIEW_RINGS)
                    .into_iter()
                    .flat_map(|c| views.get(&u64::from(c)).into_iter().flatten())
                    .cloned()
                    .collect();
                agreements.push(agreement(
                    &print,
                    heading,
                    device_id(device.index),
                    &near,
                    &config,
                ));
                frames.push((u64::from(cell), heading, print));
            }
            let held = capture_disagrees(&agreements, &config);
            let entry = outcome.entry(device.index).or_default();
            entry.0 += agreements
                .iter()
                .filter(|a| !matches!(a, Agreement::Unjudged))
                .count();
            if held {
                entry.1 += frames.len();
                continue;
            }
            for (cell, heading, print) in frames {
                views.entry(cell).or_default().push(View {
                    device: device_id(device.index),
                    heading,
                    print,
                });
            }
        }
    }
    outcome
}

#[test]
fn pixels_of_elsewhere_are_held_and_honest_drivers_never_are() {
    let network = datasets::monaco().unwrap();
    let graph = datasets::RoadGraph::new(&network);
    let mut honest_judged = 0;
    for seed in 1..=3 {
        let fleet = simulate(
            &graph,
            &FleetConfig {
                drivers: 8,
                days: 3,
                trips_per_day: 1,
                trip_length_m: 1_500.0,
                seed,
                ..FleetConfig::default()
            },
        )
        .unwrap();
        let outcome = run(&fleet);
        for device in fleet
            .devices
            .iter()
            .filter(|d| judged_by_pixels(d.behaviour))
        {
            let (judged, held) = outcome.get(&device.index).copied().unwrap_or_default();
            let name = format!("seed {seed} {} ({:?})", device.name, device.behaviour);
            eprintln!("{name}: {judged} frames judged, {held} held");
            match device.behaviour {
                Behaviour::GpsOffset
                | Behaviour::SmoothedSynthetic
                | Behaviour::DisguisedReplay { .. } => {
                    assert!(held > 0, "{name}: never held ({judged} frames judged)");
                }
                _ => {
                    assert_eq!(held, 0, "{name}: held ({judged} frames judged)");
                    honest_judged += judged;
                }
            }
        }
    }
    assert!(
        honest_judged > 300,
        "honest frames judged against well-mapped places: {honest_judged}"
    );
}
