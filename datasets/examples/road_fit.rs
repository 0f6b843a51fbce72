//! How simulated drives lie against the road network, as ingest's off-road check
//! (`model::roads`) sees them: for honest drivers as they drove, and for the same drives with
//! every fix shifted (a GPS offset) by 25–200 m in eight directions. Frames are kept every
//! 8 m, as a dashcam agent keeps them: the check judges a capture's frames' fixes. And the
//! honest drives against the same map missing one way in twenty (roads a real map lacks).
//!
//!   cargo run --release -p datasets --example road_fit -- [monaco|helsinki] [seed]

use datasets::fleet::{Dishonest, FleetConfig, simulate};
use datasets::graph::RoadGraph;
use model::Fix;
use model::roads::{RoadConfig, RoadIndex, road_fit};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let place = args.next().unwrap_or_else(|| "monaco".into());
    let seed = args.next().map_or(Ok(1), |s| s.parse())?;
    let network = match place.as_str() {
        "helsinki" => datasets::helsinki()?,
        _ => datasets::monaco()?,
    };
    let started = std::time::Instant::now();
    let roads = network.road_index();
    let index_ms = started.elapsed().as_secs_f64() * 1000.0;
    // The same map missing one way in twenty (every 20th by id): roads the map lacks.
    let missing = RoadIndex::new(
        network
            .ways
            .iter()
            .filter(|w| w.id % 20 != 7)
            .map(datasets::roads::RoadWay::road_line),
    );
    let mut held_on_missing = 0;
    let graph = RoadGraph::new(&network);
    let config = FleetConfig {
        seed,
        drivers: 12,
        days: 2,
        trips_per_day: 2,
        trip_length_m: 1_500.0,
        dishonest: Dishonest::none(),
        ..FleetConfig::default()
    };
    let fleet = simulate(&graph, &config)?;
    if std::env::var("DEMO").is_ok() {
        // The demo's scoreboard fleet: its GPS-offset device's captures.
        let number = |name: &str, default: f64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let demo = FleetConfig {
            seed,
            drivers: number("DRIVERS", 3.0) as u32,
            days: 2,
            trips_per_day: 1,
            trip_length_m: number("TRIP_M", 500.0),
            ..FleetConfig::default()
        };
        let demo_fleet = simulate(&graph, &demo)?;
        for (device, trip) in demo_fleet.trips() {
            if device.behaviour == datasets::fleet::Behaviour::GpsOffset {
                // The agent keeps a frame every 8 m and drops the first and last 100 m.
                let kept = every_8_m(&trip.fixes);
                let travelled: Vec<f64> = kept
                    .iter()
                    .scan((0.0, None::<Fix>), |(sum, last), fix| {
                        if let Some(last) = last {
                            *sum +=
                                datasets::geo::distance_m((last.lon, last.lat), (fix.lon, fix.lat));
                        }
                        *last = Some(*fix);
                        Some(*sum)
                    })
                    .collect();
                let total = travelled.last().copied().unwrap_or(0.0);
                let middle: Vec<Fix> = kept
                    .iter()
                    .zip(&travelled)
                    .filter(|(_, d)| **d > 100.0 && **d < total - 100.0)
                    .map(|(f, _)| *f)
                    .collect();
                let fit = road_fit(&middle, &roads, &RoadConfig::default());
                println!("demo seed {seed}: gps-offset trip {}: {fit:?}", trip.index);
            }
        }
    }
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
    let mut rules = RoadConfig::default();
    rules.near_m = env("NEAR").unwrap_or(rules.near_m);
    rules.axis_tolerance_deg = env("AXIS").unwrap_or(rules.axis_tolerance_deg);
    rules.off_share = env("SHARE").unwrap_or(rules.off_share);
    let shifts = [25.0, 50.0, 100.0, 200.0];
    let mut honest_shares = Vec::new();
    let mut honest_held = 0;
    let mut held = vec![0usize; shifts.len()];
    let mut judged_trips = 0usize;
    let mut shares_200 = Vec::new();
    for (_, trip) in fleet.trips() {
        let kept = every_8_m(&trip.fixes);
        let fit = road_fit(&kept, &roads, &rules);
        if fit.judged < 10 {
            continue;
        }
        judged_trips += 1;
        honest_shares.push(fit.off as f64 / fit.judged as f64);
        honest_held += usize::from(fit.is_off_road(&rules));
        held_on_missing += usize::from(road_fit(&kept, &missing, &rules).is_off_road(&rules));
        for (n, metres) in shifts.iter().enumerate() {
            for direction in 0..8 {
                let angle = f64::from(direction) * 45f64.to_radians();
                let shifted: Vec<Fix> = kept
                    .iter()
                    .map(|f| Fix {
                        lat: f.lat + metres * angle.cos() / 111_320.0,
                        lon: f.lon + metres * angle.sin() / (111_320.0 * f.lat.to_radians().cos()),
                        ..*f
                    })
                    .collect();
                let fit = road_fit(&shifted, &roads, &rules);
                held[n] += usize::from(fit.is_off_road(&rules));
                if *metres == 200.0 {
                    shares_200.push(fit.off as f64 / fit.judged.max(1) as f64);
                }
            }
        }
    }
    honest_shares.sort_by(f64::total_cmp);
    let q = |p: f64| honest_shares[((honest_shares.len() - 1) as f64 * p) as usize];
    println!(
        "{place} seed {seed}: {judged_trips} trips, {} road segments (indexed in {index_ms:.1} ms)",
        roads.len()
    );
    // What the worker spends per capture: one fit of 60 fixes (a 500 m capture at 8 m).
    let sample: Vec<Fix> = fleet
        .trips()
        .flat_map(|(_, trip)| every_8_m(&trip.fixes))
        .take(60)
        .collect();
    let runs = 2_000;
    let started = std::time::Instant::now();
    for _ in 0..runs {
        std::hint::black_box(road_fit(std::hint::black_box(&sample), &roads, &rules));
    }
    println!(
        "one fit of {} fixes: {:.1} µs",
        sample.len(),
        started.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
    );
    println!(
        "honest: held {honest_held}; off share median {:.3}, p95 {:.3}, max {:.3}",
        q(0.5),
        q(0.95),
        q(1.0)
    );
    println!(
        "honest, on a map missing one way in twenty: held {held_on_missing} of {judged_trips}"
    );
    shares_200.sort_by(f64::total_cmp);
    let deciles: Vec<String> = (0..=10)
        .map(|d| format!("{:.2}", shares_200[(shares_200.len() - 1) * d / 10]))
        .collect();
    println!("shifted 200 m: off share deciles {}", deciles.join(" "));
    for (n, metres) in shifts.iter().enumerate() {
        println!(
            "shifted {metres:>3} m: held {} of {} (8 directions per trip)",
            held[n],
            judged_trips * 8
        );
    }
    Ok(())
}

fn every_8_m(fixes: &[Fix]) -> Vec<Fix> {
    let mut kept: Vec<Fix> = Vec::new();
    for fix in fixes {
        if kept.last().is_none_or(|last| {
            datasets::geo::distance_m((last.lon, last.lat), (fix.lon, fix.lat)) >= 8.0
        }) {
            kept.push(*fix);
        }
    }
    kept
}
