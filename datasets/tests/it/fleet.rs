//! The fleet simulator on Monaco's roads: what a pipeline (and a reader of the demo's
//! summary) relies on.

use std::collections::{HashMap, HashSet};

use datasets::fleet::{Behaviour, Fleet, FleetConfig, simulate};
use datasets::geo::distance_m;
use datasets::{RoadGraph, RoadNetwork};
use model::{Fix, FixType, TimestampMs};

use crate::monaco;

const DAY_MS: i64 = 86_400_000;

/// A road segment: its ends and the speed a car drives on it.
type Segment = ((f64, f64), (f64, f64), f64);

/// Road segments bucketed by ~100 m cells, to find the roads near a fix.
struct Roads {
    cells: HashMap<(i64, i64), Vec<Segment>>,
}

const CELL_DEG: f64 = 0.001;

fn cell(point: (f64, f64)) -> (i64, i64) {
    (
        (point.0 / CELL_DEG).floor() as i64,
        (point.1 / CELL_DEG).floor() as i64,
    )
}

impl Roads {
    fn new(network: &RoadNetwork) -> Self {
        let mut cells: HashMap<_, Vec<_>> = HashMap::new();
        for way in &network.ways {
            for pair in way.coords.windows(2) {
                let (a, b) = (cell(pair[0]), cell(pair[1]));
                for x in a.0.min(b.0)..=a.0.max(b.0) {
                    for y in a.1.min(b.1)..=a.1.max(b.1) {
                        cells
                            .entry((x, y))
                            .or_default()
                            .push((pair[0], pair[1], way.speed_ms()));
                    }
                }
            }
        }
        Self { cells }
    }

    /// Distance to the nearest road, metres, and the fastest road speed within `radius_m`.
    fn near(&self, point: (f64, f64), radius_m: f64) -> (f64, f64) {
        let (cx, cy) = cell(point);
        let mut nearest = f64::INFINITY;
        let mut fastest: f64 = 0.0;
        for x in cx - 1..=cx + 1 {
            for y in cy - 1..=cy + 1 {
                for &(a, b, speed) in self.cells.get(&(x, y)).into_iter().flatten() {
                    let d = segment_distance(point, a, b);
                    nearest = nearest.min(d);
                    if d <= radius_m {
                        fastest = fastest.max(speed);
                    }
                }
            }
        }
        (nearest, fastest)
    }
}

/// Metres from `p` to segment `a`–`b` (flat approximation, fine over metres).
fn segment_distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let scale = p.1.to_radians().cos();
    let (ax, ay) = ((a.0 - p.0) * scale, a.1 - p.1);
    let (bx, by) = ((b.0 - p.0) * scale, b.1 - p.1);
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (x, y) = (ax + t * dx, ay + t * dy);
    (x * x + y * y).sqrt() * 111_195.0
}

fn default_fleet() -> &'static Fleet {
    static FLEET: std::sync::OnceLock<Fleet> = std::sync::OnceLock::new();
    FLEET.get_or_init(|| simulate(&monaco().1, &FleetConfig::default()).unwrap())
}

fn position(fix: &Fix) -> (f64, f64) {
    (fix.lon, fix.lat)
}

#[test]
fn the_default_fleet_has_every_kind_of_device_with_its_own_key() {
    let fleet = default_fleet();
    let config = FleetConfig::default();
    let tags: Vec<&str> = fleet.devices.iter().map(|d| d.behaviour.tag()).collect();
    assert_eq!(
        tags,
        [
            "repeating",
            "repeating",
            "repeating",
            "honest",
            "honest",
            "honest",
            "teleporting",
            "replaying",
            "short-captures",
            "sparse-fixes",
            "gps-offset",
            "smoothed-synthetic",
            "disguised-replay",
            "sybil-split",
            "sybil-split",
            "sybil-split",
            "device-farm",
            "device-farm",
            "device-farm",
            "device-farm",
            "device-farm",
            "cloned-key",
            "cloned-key"
        ]
    );
    let seeds: HashSet<[u8; 32]> = fleet.devices.iter().map(|d| d.seed).collect();
    assert_eq!(
        seeds.len(),
        fleet.devices.len() - 1,
        "only the cloned pair shares a key"
    );
    let every_day = config.days * config.trips_per_day;
    let mut sybil_trips = 0;
    for device in &fleet.devices {
        if let Behaviour::Sybil { .. } = device.behaviour {
            sybil_trips += device.trips.len() as u32;
            continue;
        }
        assert_eq!(device.trips.len() as u32, every_day, "{}", device.name);
    }
    assert_eq!(
        sybil_trips, every_day,
        "one sybil drives every day, on one account or another"
    );
    assert!(fleet.length_m() > 100_000.0, "{} m", fleet.length_m());
}

#[test]
fn trips_are_time_ordered_1_hz_inside_the_simulated_week_and_never_overlap() {
    let fleet = default_fleet();
    let config = &fleet.config;
    let end = config
        .start
        .saturating_add_ms(i64::from(config.days) * DAY_MS);
    // (A generated track has its own cadence: see dishonest_devices_have_their_defect.)
    for device in fleet.devices.iter().filter(|d| !d.behaviour.is_generated()) {
        for (trip, next) in device.trips.iter().zip(device.trips.iter().skip(1)) {
            assert!(
                trip.end() < next.start(),
                "{} trip {} overlaps the next",
                device.name,
                trip.index
            );
        }
        for trip in &device.trips {
            assert!(trip.fixes.len() > 60, "{} trip {}", device.name, trip.index);
            let day_start = config.day_start(trip.day);
            assert!(trip.start().unwrap() >= day_start && trip.end().unwrap() < end);
            for pair in trip.fixes.windows(2) {
                let step = pair[1].time.millis_since(pair[0].time);
                assert!(
                    step >= 1_000 && step % 1_000 == 0,
                    "{} trip {}: step {step}",
                    device.name,
                    trip.index
                );
            }
            assert!(trip.fixes.iter().all(|fix| fix.validate().is_ok()));
        }
    }
}

#[test]
fn honest_fixes_lie_on_roads_at_road_speeds_with_plausible_quality() {
    let (network, _) = monaco();
    let roads = Roads::new(network);
    let fleet = default_fleet();
    let mut dropouts = 0;
    let mut fixes = 0;
    let mut weak = 0;
    for (device, trip) in fleet.trips() {
        if device.behaviour.is_dishonest() {
            continue;
        }
        for pair in trip.fixes.windows(2) {
            let gap = pair[1].time.millis_since(pair[0].time);
            if gap > 2_000 {
                dropouts += 1;
                continue;
            }
            let moved = distance_m(position(&pair[0]), position(&pair[1]));
            let (_, fastest) = roads.near(position(&pair[1]), 40.0);
            assert!(
                moved <= fastest + 8.0,
                "{} trip {}: {moved} m in 1 s where roads allow {fastest} m/s",
                device.name,
                trip.index
            );
        }
        for fix in &trip.fixes {
            fixes += 1;
            let (nearest, fastest) = roads.near(position(fix), 25.0);
            assert!(
                nearest < 25.0,
                "{} trip {}: fix {nearest} m off the road",
                device.name,
                trip.index
            );
            let speed = fix.speed.unwrap();
            assert!(
                speed <= fastest + 1.0,
                "{} trip {}: {speed} m/s on roads of {fastest}",
                device.name,
                trip.index
            );
            assert!((0.6..=9.0).contains(&fix.hdop) && fix.satellites >= 3);
            if !fix.fix_type.is_3d() {
                weak += 1;
            }
        }
        assert!(
            trip.fixes[0].speed.unwrap() < 1.0,
            "trips start from a standstill"
        );
        assert!(
            trip.fixes.last().unwrap().speed.unwrap() < 1.5,
            "trips end braking to a stop"
        );
    }
    assert!(dropouts > 0, "some trips lose the signal");
    assert!(
        weak > 0 && weak * 50 < fixes,
        "{weak} weak fixes of {fixes}"
    );
    let fix_types: HashSet<FixType> = fleet
        .trips()
        .flat_map(|(_, t)| t.fixes.iter().map(|f| f.fix_type))
        .collect();
    assert!(fix_types.contains(&FixType::Fix3d) && fix_types.contains(&FixType::Fix2d));
}

#[test]
fn repeating_drivers_drive_their_first_days_roads_again() {
    let fleet = default_fleet();
    let per_day = fleet.config.trips_per_day as usize;
    for device in fleet
        .devices
        .iter()
        .filter(|d| d.behaviour == Behaviour::Repeating)
    {
        for (n, trip) in device.trips.iter().enumerate().skip(per_day) {
            let original = &device.trips[n % per_day];
            let start = distance_m(position(&trip.fixes[0]), position(&original.fixes[0]));
            assert!(
                start < 30.0,
                "{} trip {n} starts {start} m from its day-0 trip",
                device.name
            );
            assert!((trip.length_m - original.length_m).abs() < 1e-6);
        }
    }
}

#[test]
fn dishonest_devices_have_their_defect() {
    let fleet = default_fleet();
    for device in &fleet.devices {
        match device.behaviour {
            Behaviour::Teleporting => {
                for trip in &device.trips {
                    let at = trip.teleport_at.unwrap();
                    let (before, after) = (&trip.fixes[at - 1], &trip.fixes[at]);
                    let jump = distance_m(position(before), position(after));
                    assert!(jump > 1_000.0, "trip {}: jump of {jump} m", trip.index);
                    assert!(after.time.millis_since(before.time) <= 2_000);
                }
            }
            Behaviour::Replaying => {
                for trip in device.trips.iter().filter(|t| t.day > 0) {
                    let of = trip.replay_of.unwrap();
                    let original = &fleet.devices[of.device as usize].trips[of.trip as usize];
                    assert_eq!(original.day, 0);
                    assert_eq!(trip.frame_key(5), original.frame_key(5));
                    assert!(
                        trip.fixes
                            .iter()
                            .zip(&original.fixes)
                            .all(|(a, b)| (a.lat, a.lon) == (b.lat, b.lon))
                    );
                    assert_eq!(
                        trip.start()
                            .unwrap()
                            .millis_since(original.start().unwrap()),
                        i64::from(trip.day) * DAY_MS
                    );
                }
            }
            Behaviour::ClonedKey { twin } => {
                let other = &fleet.devices[twin as usize];
                assert_eq!(device.seed, other.seed);
                assert_eq!(device.keypair().public(), other.keypair().public());
                let overlapping = device.trips.iter().filter(|trip| {
                    other
                        .trips
                        .iter()
                        .any(|o| o.start() <= trip.end() && trip.start() <= o.end())
                });
                assert!(
                    overlapping.count() > 0,
                    "{} never drives at the same time as its twin",
                    device.name
                );
            }
            Behaviour::ShortCaptures | Behaviour::SparseFixes => {
                let every = if device.behaviour == Behaviour::SparseFixes {
                    i64::from(datasets::fleet::SPARSE_FIX_EVERY_S) * 1000
                } else {
                    1000
                };
                for trip in &device.trips {
                    assert!(trip.fixes.len() > 5, "{} trip {}", device.name, trip.index);
                    // A set speed, a set interval, no receiver noise: every fix exactly on
                    // the route and the same speed reported.
                    for pair in trip.fixes.windows(2) {
                        assert_eq!(pair[1].time.millis_since(pair[0].time), every);
                        assert_eq!(pair[0].speed, pair[1].speed);
                    }
                }
            }
            Behaviour::Sybil { person, account } => {
                // The person's accounts drive the same routes, each on its own days.
                let accounts: Vec<_> = fleet
                    .devices
                    .iter()
                    .filter(|d| matches!(d.behaviour, Behaviour::Sybil { person: p, .. } if p == person))
                    .collect();
                assert_eq!(accounts.len(), datasets::fleet::SYBIL_ACCOUNTS as usize);
                assert!(
                    accounts
                        .iter()
                        .map(|d| &d.owner)
                        .collect::<HashSet<_>>()
                        .len()
                        == accounts.len()
                );
                for trip in &device.trips {
                    assert_eq!(trip.day % datasets::fleet::SYBIL_ACCOUNTS, account);
                    for other in accounts.iter().filter(|d| !d.trips.is_empty()) {
                        let nearest = other
                            .trips
                            .iter()
                            .map(|o| distance_m(position(&trip.fixes[0]), position(&o.fixes[0])))
                            .fold(f64::INFINITY, f64::min);
                        assert!(
                            nearest < 30.0,
                            "{} trip {} starts {nearest} m from {}'s routes",
                            device.name,
                            trip.index,
                            other.name
                        );
                    }
                }
            }
            Behaviour::DeviceFarm { phone, key } => {
                let phone = &fleet.devices[phone as usize];
                assert_eq!(phone.owner, device.owner);
                if key > 0 {
                    assert_ne!(device.seed, phone.seed, "a farm key is a key of its own");
                    assert_eq!(device.trips.len(), phone.trips.len());
                    for (copy, original) in device.trips.iter().zip(&phone.trips) {
                        assert_eq!(copy.fixes, original.fixes);
                        assert_eq!(copy.frame_key(3), original.frame_key(3));
                    }
                }
            }
            Behaviour::GpsOffset => {
                // Every fix is 200 m north of the truth (give or take the receiver's noise).
                for trip in &device.trips {
                    for (fix, pose) in trip.fixes.iter().zip(&trip.poses) {
                        let north = (fix.lat - pose.position.1) * 111_320.0;
                        assert!(
                            (north - datasets::fleet::GPS_OFFSET_M).abs() < 30.0,
                            "{} trip {}: {north} m north of the truth",
                            device.name,
                            trip.index
                        );
                    }
                }
            }
            // A drive's noise over a route it never drove: the track is as a receiver makes
            // it (1 s steps, speeds that vary); what gives it away is the pixels.
            Behaviour::SmoothedSynthetic | Behaviour::DisguisedReplay { .. } => {
                for trip in &device.trips {
                    let speeds: HashSet<u64> = trip
                        .fixes
                        .iter()
                        .filter_map(|f| f.speed.map(f64::to_bits))
                        .collect();
                    assert!(speeds.len() > 10, "{} trip {}", device.name, trip.index);
                    assert!(trip.fixes.len() > 60, "{} trip {}", device.name, trip.index);
                }
            }
            Behaviour::Honest | Behaviour::Repeating => {
                assert!(
                    device
                        .trips
                        .iter()
                        .all(|t| t.replay_of.is_none() && t.teleport_at.is_none())
                );
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_fleet_and_another_seed_another() {
    let graph: &RoadGraph = &monaco().1;
    let small = FleetConfig {
        drivers: 2,
        days: 2,
        ..FleetConfig::default()
    };
    let once = simulate(graph, &small).unwrap();
    assert_eq!(simulate(graph, &small).unwrap(), once);
    let other = simulate(
        graph,
        &FleetConfig {
            seed: 2,
            ..small.clone()
        },
    )
    .unwrap();
    assert_ne!(other.devices[0].seed, once.devices[0].seed);
    assert_ne!(
        other.devices[0].trips[0].fixes,
        once.devices[0].trips[0].fixes
    );
}

#[test]
fn a_fleet_that_cannot_be_simulated_is_refused_before_any_work() {
    let graph = &monaco().1;
    let err = simulate(
        graph,
        &FleetConfig {
            start: TimestampMs(0),
            ..FleetConfig::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("Monday"), "{err}");
}

/// The agent's spacing: a frame whenever the car moved 8 m since the last one.
fn keyframes(fixes: &[Fix]) -> Vec<model::FrameEntry> {
    let mut entries: Vec<model::FrameEntry> = Vec::new();
    for (i, fix) in fixes.iter().enumerate() {
        let far = entries
            .last()
            .is_none_or(|last| distance_m(position(&last.fix), position(fix)) >= 8.0);
        if far {
            entries.push(model::FrameEntry {
                sha256: model::FrameId::of_bytes(format!("{i}").as_bytes()),
                fix: *fix,
            });
        }
    }
    entries
}

#[test]
fn ingest_track_checks_pass_honest_trips_and_catch_every_teleport() {
    use model::RejectReason;
    let fleet = default_fleet();
    let config = &fleet.config;
    let now = config
        .start
        .saturating_add_ms(i64::from(config.days) * DAY_MS);
    let track = ingest::track::TrackConfig::default();
    for (device, trip) in fleet.trips() {
        let verdicts = ingest::track::check(&keyframes(&trip.fixes), now, &track);
        let reasons: HashSet<RejectReason> = verdicts.into_iter().flatten().collect();
        match device.behaviour {
            Behaviour::ShortCaptures | Behaviour::SparseFixes => {}
            Behaviour::Teleporting => {
                assert!(
                    reasons.contains(&RejectReason::Teleport),
                    "{} trip {}: {reasons:?}",
                    device.name,
                    trip.index
                );
            }
            _ => {
                // Only the weak fixes before a loss of signal may be refused.
                assert!(
                    reasons
                        .iter()
                        .all(|reason| *reason == RejectReason::PoorGnss),
                    "{} trip {}: {reasons:?}",
                    device.name,
                    trip.index
                );
            }
        }
    }
}
