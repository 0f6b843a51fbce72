//! How far each frame is from the nearest view of its claimed place, as ingest's place
//! consensus (`model::consensus`) sees it, for honest drivers and for the attacks that send
//! pixels of somewhere else: the figures `LIKE_DISTANCE`'s documentation quotes.
//!
//!   cargo run --release -p datasets --example place_consensus -- [seed]

use std::collections::HashMap;

use datasets::fleet::{Dishonest, FleetConfig, simulate};
use datasets::frames::{FrameSource, Look, disguise};
use datasets::graph::RoadGraph;
use ingest::similarity::{Fingerprint, fingerprint};
use model::DeviceId;
use model::consensus::{Agreement, ConsensusConfig, View, agreement, heading_at};

fn main() -> anyhow::Result<()> {
    let seed = std::env::args().nth(1).map_or(Ok(1), |s| s.parse())?;
    let network = datasets::monaco()?;
    let graph = RoadGraph::new(&network);
    let config = FleetConfig {
        seed,
        drivers: 6,
        days: 2,
        trips_per_day: 2,
        trip_length_m: 1_500.0,
        dishonest: Dishonest::none(),
        ..FleetConfig::default()
    };
    let fleet = simulate(&graph, &config)?;
    let mut source = FrameSource::open()?;
    // (cell, device, heading, print) of every 8th metre of every trip.
    let mut views: HashMap<u64, Vec<(u32, View)>> = HashMap::new();
    let mut shots = Vec::new();
    for (device, trip) in fleet.trips() {
        let mut last: Option<(f64, f64)> = None;
        for (i, fix) in trip.fixes.iter().enumerate() {
            if last.is_some_and(|p| datasets::geo::distance_m(p, (fix.lon, fix.lat)) < 8.0) {
                continue;
            }
            last = Some((fix.lon, fix.lat));
            let look = Look {
                pose: trip.poses[i],
                camera: device.index,
            };
            let frame = source.frame(trip.frame_key(i), fix, look)?;
            let print = fingerprint(&frame.jpeg)?;
            let cell = u64::from(fix.cell(model::COVERAGE_RESOLUTION).unwrap());
            let heading = heading_at(&trip.fixes, i);
            views.entry(cell).or_default().push((
                device.index,
                View {
                    device: id(device.index),
                    heading,
                    print: print.clone(),
                },
            ));
            shots.push((
                device.index,
                cell,
                heading,
                print,
                trip.poses[i],
                frame.jpeg,
                *fix,
            ));
        }
    }
    let consensus = ConsensusConfig::default();
    let near = |cell: u64| -> Vec<View> {
        h3o::CellIndex::try_from(cell)
            .unwrap()
            .grid_disk::<Vec<_>>(model::consensus::VIEW_RINGS)
            .into_iter()
            .flat_map(|c| views.get(&u64::from(c)).into_iter().flatten())
            .map(|(_, v)| v.clone())
            .collect()
    };
    let nearest = |print: &Fingerprint, heading, device: u32, cell: u64| {
        let mut loose = consensus.clone();
        loose.like_distance = -1.0;
        match agreement(print, heading, id(device), &near(cell), &loose) {
            Agreement::Unlike { nearest } => Some(nearest),
            _ => None,
        }
    };
    let mut honest = Vec::new();
    let mut elsewhere = Vec::new();
    let mut offset = Vec::new();
    let mut disguised = Vec::new();
    for (n, (device, cell, heading, print, pose, _, fix)) in shots.iter().enumerate() {
        if let Some(d) = nearest(print, *heading, *device, *cell) {
            honest.push(d);
        }
        if n % 5 != 0 {
            continue;
        }
        // The same claim with footage of a town far away.
        let key = datasets::fleet::FrameKey {
            device: 999,
            trip: n as u32,
            index: 0,
        };
        let far = source.frame(
            key,
            fix,
            Look {
                pose: *pose,
                camera: 999,
            }
            .elsewhere(),
        )?;
        if let Some(d) = nearest(&fingerprint(&far.jpeg)?, *heading, 999, *cell) {
            elsewhere.push(d);
        }
        // This frame claimed 200 m north.
        let moved = model::Fix {
            lat: fix.lat + 200.0 / 111_320.0,
            ..*fix
        };
        let moved_cell = u64::from(moved.cell(model::COVERAGE_RESOLUTION).unwrap());
        if let Some(d) = nearest(print, *heading, 999, moved_cell) {
            offset.push(d);
        }
        // Another frame (of elsewhere in the fleet), cropped 5 %, brighter, re-encoded.
        let (_, _, _, _, _, other, _) = &shots[(n * 7919 + 4049) % shots.len()];
        let copy = disguise(other, 0.05, 12, 80)?;
        if let Some(d) = nearest(&fingerprint(&copy)?, *heading, 999, *cell) {
            disguised.push(d);
        }
    }
    for (name, mut values) in [
        ("honest", honest),
        ("elsewhere", elsewhere),
        ("offset-200m", offset),
        ("disguised-copy", disguised),
    ] {
        let unlike = values
            .iter()
            .filter(|d| **d > consensus.like_distance)
            .count();
        values.sort_by(f32::total_cmp);
        let q = |p: f64| {
            values
                .get(((values.len() as f64 - 1.0) * p) as usize)
                .copied()
                .unwrap_or(f32::NAN)
        };
        println!(
            "{name:>15}: {} judged, {unlike} over like_distance; nearest view: min {:.3} p01 {:.3} p05 {:.3} p50 {:.3} p95 {:.3} p99 {:.3} max {:.3}",
            values.len(),
            q(0.0),
            q(0.01),
            q(0.05),
            q(0.5),
            q(0.95),
            q(0.99),
            q(1.0)
        );
    }
    Ok(())
}

fn id(device: u32) -> DeviceId {
    format!("00000000-0000-0000-0000-{device:012}")
        .parse()
        .unwrap()
}
