//! The fleet simulator: honest, repeating and dishonest dashcams driving fastest routes on
//! a real road network over simulated days, as 1 Hz GNSS fixes. Pure and deterministic:
//! every random choice comes from ChaCha generators seeded by [`FleetConfig::seed`] (one
//! stream per device), never from the wall clock.
//!
//! Never does: IO, frames (see [`crate::frames`]), or talk to a server (the demo does).

mod config;
mod device;
mod drive;
mod gnss;
mod sightings;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::{ChaCha8Rng, ChaCha20Rng};

pub use config::{
    DEFAULT_START, Dishonest, FARM_KEYS, FleetConfig, GENERATED_TRIP_FACTOR, GPS_OFFSET_M,
    SHORT_CAPTURE_FRAMES, SPARSE_FIX_EVERY_S, SYBIL_ACCOUNTS,
};
pub use device::{Behaviour, Device, FrameKey, Pose, Trip, TripRef};
pub use sightings::{FRAME_SPACING_M, IMAGE_WIDTH, Simulated, simulate_sightings};

use crate::error::{Error, Result};
use crate::graph::{RoadGraph, Route};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// How many random nodes a teleporting device considers for the far end of its jump.
const TELEPORT_CANDIDATES: usize = 64;
/// The set speed of a generated track, m/s (43 km/h).
const GENERATED_SPEED_MS: f64 = 12.0;

/// A simulated fleet: its configuration and every device with its trips.
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    pub config: FleetConfig,
    pub devices: Vec<Device>,
}

impl Fleet {
    /// Every trip with its device, devices in order, trips in time order.
    pub fn trips(&self) -> impl Iterator<Item = (&Device, &Trip)> {
        self.devices
            .iter()
            .flat_map(|device| device.trips.iter().map(move |trip| (device, trip)))
    }

    /// Metres driven by the whole fleet.
    pub fn length_m(&self) -> f64 {
        self.devices.iter().map(Device::length_m).sum()
    }
}

/// Simulates `config` on `graph`.
pub fn simulate(graph: &RoadGraph, config: &FleetConfig) -> Result<Fleet> {
    config.validate()?;
    if graph.component().len() < 2 {
        return Err(Error::Config(
            "the road network has no two nodes that reach each other; pick a larger extract".into(),
        ));
    }
    let mut devices: Vec<Device> = Vec::new();
    for plan in plans(config) {
        let index = u32::try_from(devices.len()).unwrap_or(u32::MAX);
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(1_000 + u64::from(index));
        let seed = match plan.behaviour {
            Behaviour::ClonedKey { twin } if twin < index => devices[twin as usize].seed,
            _ => key_seed(config.seed, index),
        };
        let me = |trip: usize| TripRef {
            device: index,
            trip: u32::try_from(trip).unwrap_or(u32::MAX),
        };
        let trips = match plan.behaviour {
            // A farm's phone drives like any honest driver; its other keys copy it (below).
            Behaviour::Honest | Behaviour::DeviceFarm { key: 0, .. } => {
                random_drives(graph, config, config.trip_length_m, index, &mut rng)?
            }
            Behaviour::Repeating => {
                let mut routes: Vec<Route> = Vec::new();
                let mut trips = Vec::new();
                for (day, start) in schedule(config, &mut rng) {
                    let n = trips.len();
                    let route = if day == 0 {
                        routes.push(route(graph, &mut rng, config.trip_length_m)?);
                        routes[n].clone()
                    } else {
                        routes[n % routes.len()].clone()
                    };
                    trips.push(driven(me(n), day, &route, after(&trips, start), &mut rng));
                }
                trips
            }
            Behaviour::Teleporting => {
                let mut trips = Vec::new();
                for (day, start) in schedule(config, &mut rng) {
                    let start = after(&trips, start);
                    trips.push(teleporting(
                        graph,
                        config,
                        me(trips.len()),
                        day,
                        start,
                        &mut rng,
                    )?);
                }
                trips
            }
            Behaviour::Replaying => {
                let mut trips: Vec<Trip> = Vec::new();
                for (day, start) in schedule(config, &mut rng) {
                    let n = trips.len();
                    let trip = if day == 0 {
                        let route = route(graph, &mut rng, config.trip_length_m)?;
                        driven(me(n), day, &route, after(&trips, start), &mut rng)
                    } else {
                        let per_day = config.trips_per_day as usize;
                        let original = &trips[n % per_day];
                        Trip::replaying(me(n), day, original, i64::from(day) * DAY_MS)
                    };
                    trips.push(trip);
                }
                trips
            }
            Behaviour::ShortCaptures | Behaviour::SparseFixes => {
                let every_s = if plan.behaviour == Behaviour::SparseFixes {
                    SPARSE_FIX_EVERY_S
                } else {
                    1
                };
                let mut trips = Vec::new();
                for (day, start) in schedule(config, &mut rng) {
                    let length = config.trip_length_m * GENERATED_TRIP_FACTOR;
                    let route = route(graph, &mut rng, length)?;
                    let start = after(&trips, start);
                    let fixes = drive::generated(&route, start, GENERATED_SPEED_MS, every_s);
                    trips.push(Trip::new(me(trips.len()), day, fixes, route.length_m));
                }
                trips
            }
            Behaviour::GpsOffset => {
                let mut trips =
                    random_drives(graph, config, config.trip_length_m, index, &mut rng)?;
                for fix in trips.iter_mut().flat_map(|trip| trip.fixes.iter_mut()) {
                    fix.lat = drive::round7(fix.lat + GPS_OFFSET_M / METRES_PER_DEGREE);
                }
                trips
            }
            Behaviour::SmoothedSynthetic | Behaviour::DisguisedReplay { .. } => {
                let length = config.trip_length_m * GENERATED_TRIP_FACTOR;
                random_drives(graph, config, length, index, &mut rng)?
            }
            Behaviour::Sybil { person, account } => {
                // Every account of the person draws the same routes from the person's own
                // stream and drives them on its share of the days.
                let mut person_rng = ChaCha8Rng::seed_from_u64(config.seed);
                person_rng.set_stream(5_000 + u64::from(person));
                let per_day = config.trips_per_day as usize;
                let routes = (0..per_day)
                    .map(|_| route(graph, &mut person_rng, config.trip_length_m))
                    .collect::<Result<Vec<_>>>()?;
                let mut trips = Vec::new();
                for (n, (day, start)) in schedule(config, &mut person_rng).into_iter().enumerate() {
                    if day % SYBIL_ACCOUNTS != account {
                        continue;
                    }
                    let start = after(&trips, start);
                    trips.push(driven(
                        me(trips.len()),
                        day,
                        &routes[n % per_day],
                        start,
                        &mut rng,
                    ));
                }
                trips
            }
            // The farm's other keys: the phone (planned before them) drove these trips.
            Behaviour::DeviceFarm { phone, .. } => devices
                .get(phone as usize)
                .ok_or_else(|| Error::Config(format!("device farm key {index} has no phone")))?
                .trips
                .iter()
                .enumerate()
                .map(|(n, trip)| Trip::replaying(me(n), trip.day, trip, 0))
                .collect(),
            Behaviour::ClonedKey { twin } if twin < index => {
                let starts: Vec<(u32, model::TimestampMs)> = devices[twin as usize]
                    .trips
                    .iter()
                    .filter_map(|trip| Some((trip.day, trip.start()?)))
                    .collect();
                let mut trips = Vec::new();
                for (day, start) in starts {
                    let route = route(graph, &mut rng, config.trip_length_m)?;
                    trips.push(driven(
                        me(trips.len()),
                        day,
                        &route,
                        after(&trips, start),
                        &mut rng,
                    ));
                }
                trips
            }
            Behaviour::ClonedKey { .. } => {
                random_drives(graph, config, config.trip_length_m, index, &mut rng)?
            }
        };
        devices.push(Device {
            index,
            name: plan.name,
            owner: plan.owner,
            seed,
            behaviour: plan.behaviour,
            trips,
        });
    }
    Ok(Fleet {
        config: config.clone(),
        devices,
    })
}

/// Who is in the fleet, in device order.
struct Plan {
    name: String,
    owner: String,
    behaviour: Behaviour,
}

fn plans(config: &FleetConfig) -> Vec<Plan> {
    let mut plans = Vec::new();
    let solo = |name: String, behaviour| Plan {
        owner: name.clone(),
        name,
        behaviour,
    };
    for driver in 0..config.drivers {
        let behaviour = if driver < config.repeating_drivers() {
            Behaviour::Repeating
        } else {
            Behaviour::Honest
        };
        plans.push(solo(format!("driver-{:02}", driver + 1), behaviour));
    }
    for n in 1..=config.dishonest.teleporting {
        plans.push(solo(format!("teleporting-{n}"), Behaviour::Teleporting));
    }
    for n in 1..=config.dishonest.replaying {
        plans.push(solo(format!("replaying-{n}"), Behaviour::Replaying));
    }
    for n in 1..=config.dishonest.short_captures {
        plans.push(solo(
            format!("short-captures-{n}"),
            Behaviour::ShortCaptures,
        ));
    }
    for n in 1..=config.dishonest.sparse_fixes {
        plans.push(solo(format!("sparse-fixes-{n}"), Behaviour::SparseFixes));
    }
    for n in 1..=config.dishonest.gps_offset {
        plans.push(solo(format!("gps-offset-{n}"), Behaviour::GpsOffset));
    }
    for n in 1..=config.dishonest.smoothed_synthetic {
        plans.push(solo(
            format!("smoothed-synthetic-{n}"),
            Behaviour::SmoothedSynthetic,
        ));
    }
    for n in 1..=config.dishonest.disguised_replay {
        // The victim: an honest driver's published frames (the first driver's).
        plans.push(solo(
            format!("disguised-replay-{n}"),
            Behaviour::DisguisedReplay { victim: 0 },
        ));
    }
    for person in 0..config.dishonest.sybil_splits {
        for account in 0..SYBIL_ACCOUNTS {
            let name = format!(
                "sybil-{}{}",
                person + 1,
                char::from(b'a' + u8::try_from(account).unwrap_or(0))
            );
            plans.push(solo(name, Behaviour::Sybil { person, account }));
        }
    }
    for n in 1..=config.dishonest.device_farms {
        let phone = u32::try_from(plans.len()).unwrap_or(u32::MAX);
        let owner = format!("device-farm-{n}");
        for key in 0..FARM_KEYS {
            plans.push(Plan {
                name: format!("{owner}-key{key}"),
                owner: owner.clone(),
                behaviour: Behaviour::DeviceFarm { phone, key },
            });
        }
    }
    for n in 1..=config.dishonest.cloned_key_pairs {
        let first = u32::try_from(plans.len()).unwrap_or(u32::MAX);
        let owner = format!("cloned-key-{n}");
        for (suffix, twin) in [("a", first + 1), ("b", first)] {
            plans.push(Plan {
                name: format!("{owner}{suffix}"),
                owner: owner.clone(),
                behaviour: Behaviour::ClonedKey { twin },
            });
        }
    }
    plans
}

/// The key seed of device `index`: 32 bytes from a ChaCha20 stream of its own.
fn key_seed(seed: u64, index: u32) -> [u8; 32] {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(u64::from(index));
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// `(day, start)` of each trip a device makes: the first between 07:00 and 09:00 UTC, the
/// next ones 20 min to 2 h after the previous one's planned hour, at most one an hour.
fn schedule(config: &FleetConfig, rng: &mut impl Rng) -> Vec<(u32, model::TimestampMs)> {
    let mut starts = Vec::new();
    for day in 0..config.days {
        let mut at = config
            .day_start(day)
            .saturating_add_ms(7 * HOUR_MS + rng.gen_range(0..2 * HOUR_MS));
        for _ in 0..config.trips_per_day {
            starts.push((day, at));
            at = at.saturating_add_ms(HOUR_MS + rng.gen_range(20 * 60_000..2 * HOUR_MS));
        }
    }
    starts
}

/// `planned`, or ten minutes after the end of the last of `trips` if that is later: a device
/// never drives two trips at once.
fn after(trips: &[Trip], planned: model::TimestampMs) -> model::TimestampMs {
    trips.last().and_then(Trip::end).map_or(planned, |end| {
        planned.max(end.saturating_add_ms(10 * 60_000))
    })
}

/// Device `index`'s trips on its schedule, each a random route of about `length_m`, driven
/// with a real receiver's noise.
fn random_drives(
    graph: &RoadGraph,
    config: &FleetConfig,
    length_m: f64,
    index: u32,
    rng: &mut impl Rng,
) -> Result<Vec<Trip>> {
    let mut trips: Vec<Trip> = Vec::new();
    for (day, start) in schedule(config, rng) {
        let route = route(graph, rng, length_m)?;
        let me = TripRef {
            device: index,
            trip: u32::try_from(trips.len()).unwrap_or(u32::MAX),
        };
        let start = after(&trips, start);
        trips.push(driven(me, day, &route, start, rng));
    }
    Ok(trips)
}

fn route(graph: &RoadGraph, rng: &mut impl Rng, target_m: f64) -> Result<Route> {
    graph
        .random_route(rng, target_m)
        .ok_or_else(|| Error::Config("no route in the road network's largest component".into()))
}

fn driven(
    me: TripRef,
    day: u32,
    route: &Route,
    start: model::TimestampMs,
    rng: &mut impl Rng,
) -> Trip {
    Trip::new(me, day, drive::drive(route, start, rng), route.length_m)
}

/// Half a trip, a jump of kilometres in one second, the other half somewhere far away.
fn teleporting(
    graph: &RoadGraph,
    config: &FleetConfig,
    me: TripRef,
    day: u32,
    start: model::TimestampMs,
    rng: &mut impl Rng,
) -> Result<Trip> {
    let half = config.trip_length_m / 2.0;
    let first = route(graph, rng, half)?;
    let end = *first.points.last().unwrap_or(&(0.0, 0.0));
    let far = graph
        .far_node(rng, end, TELEPORT_CANDIDATES)
        .ok_or_else(|| Error::Config("the road network is empty".into()))?;
    let second = graph
        .random_route_from(rng, far, half)
        .ok_or_else(|| Error::Config("no route from the far end of a teleport".into()))?;
    let (mut fixes, mut poses) = drive::drive(&first, start, rng);
    let jump_at = fixes.len();
    let resume = fixes
        .last()
        .map_or(start, |fix| fix.time)
        .saturating_add_ms(1_000);
    let (more_fixes, more_poses) = drive::drive(&second, resume, rng);
    fixes.extend(more_fixes);
    poses.extend(more_poses);
    let mut trip = Trip::new(me, day, (fixes, poses), first.length_m + second.length_m);
    trip.teleport_at = Some(jump_at);
    Ok(trip)
}

const METRES_PER_DEGREE: f64 = 111_320.0;
