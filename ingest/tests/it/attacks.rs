//! The attack suite of the fleet simulator through the capture judge, for seeds 1–10: every
//! device's trips in time order, each capture judged with the context an in-memory store
//! of what was accepted before gives (what the upload handler reads from the database), its
//! passing frames then stored. Honest drivers must never get a fraud verdict; every cheat
//! must. (The demo runs the same attacks through the real agent, server and reward epochs
//! for one seed; this runs ten, fast, without pixels or rewards.) The worker's off-road
//! check (`model::roads`, against Monaco's OpenStreetMap roads) is asked of every capture's
//! passing frames too: no honest capture may be held, every GPS-offset capture must be.

use std::collections::{BTreeMap, HashMap};

use datasets::fleet::{Behaviour, Fleet, FleetConfig, SHORT_CAPTURE_FRAMES, simulate};
use ingest::judge::{Context, Needs, StoredFrame, history_of, judge, later_of, nearest_around};
use ingest::track::TrackConfig;
use model::roads::{RoadConfig, RoadFit, RoadIndex, device_holds, road_fit};
use model::{DeviceId, Fix, FrameEntry, FrameId, RejectReason, TimestampMs};

/// What the store holds: every accepted or pending frame, by device.
#[derive(Default)]
struct Memory {
    fixes: HashMap<u32, Vec<Fix>>,
    frames: HashMap<FrameId, (u32, TimestampMs)>,
    first_uploader: HashMap<FrameId, u32>,
}

fn device_id(index: u32) -> DeviceId {
    format!("00000000-0000-0000-0000-{index:012}")
        .parse()
        .unwrap()
}

impl Memory {
    /// What `gather_context` reads for a capture of `device`.
    fn context(&self, device: u32, needs: &Needs, now: TimestampMs) -> Context {
        let mut own = self.fixes.get(&device).cloned().unwrap_or_default();
        own.sort_by_key(|f| f.time);
        let own_around = nearest_around(&own, &needs.own_moments);
        let before: Vec<Fix> = own
            .iter()
            .filter(|f| f.time < needs.history_before)
            .copied()
            .collect();
        let history = history_of(&before);
        let after: Vec<Fix> = own
            .iter()
            .filter(|f| f.time > needs.later_after)
            .copied()
            .collect();
        let later = later_of(&after);
        let mut windows: HashMap<u64, Vec<(TimestampMs, TimestampMs)>> = HashMap::new();
        for (cell, start, end) in &needs.others {
            windows.entry(*cell).or_default().push((*start, *end));
        }
        let mut others_near: Vec<Fix> = self
            .fixes
            .iter()
            .filter(|(other, _)| **other != device)
            .flat_map(|(_, fixes)| fixes.iter())
            .filter(|f| {
                f.cell(model::COVERAGE_RESOLUTION)
                    .and_then(|cell| windows.get(&u64::from(cell)))
                    .is_some_and(|spans| {
                        spans
                            .iter()
                            .any(|(start, end)| f.time >= *start && f.time <= *end)
                    })
            })
            .copied()
            .collect();
        others_near.sort_by_key(|f| f.time);
        let stored = needs
            .frames
            .iter()
            .filter_map(|frame| {
                self.frames.get(frame).map(|(device, time)| StoredFrame {
                    frame: *frame,
                    device: device_id(*device),
                    time: *time,
                })
            })
            .collect();
        let first_uploaders = needs
            .frames
            .iter()
            .filter_map(|frame| {
                self.first_uploader
                    .get(frame)
                    .map(|device| (*frame, device_id(*device)))
            })
            .collect();
        Context {
            now,
            device: device_id(device),
            closed_until: None,
            own_around,
            history,
            later,
            others_near,
            stored,
            first_uploaders,
        }
    }

    fn keep(&mut self, device: u32, frames: &[FrameEntry], verdicts: &[Option<RejectReason>]) {
        for entry in frames {
            self.first_uploader.entry(entry.sha256).or_insert(device);
        }
        let fixes = self.fixes.entry(device).or_default();
        for (entry, verdict) in frames.iter().zip(verdicts) {
            if verdict.is_none() {
                fixes.push(entry.fix);
                self.frames.insert(entry.sha256, (device, entry.fix.time));
            }
        }
        fixes.sort_by_key(|f| f.time);
    }
}

/// The bytes' identity of a frame: the footage it shows, re-encoded per farm key.
fn frame_id(trip: &datasets::fleet::Trip, index: usize, behaviour: Behaviour) -> FrameId {
    let key = trip.frame_key(index);
    let encoding = match behaviour {
        Behaviour::DeviceFarm { key, .. } => key,
        _ => 0,
    };
    FrameId::of_bytes(format!("{}/{}/{}/{encoding}", key.device, key.trip, key.index).as_bytes())
}

/// Verdicts per device index: reason → frames; a capture the worker would hold off-road
/// counts its passing frames as `off-road`.
fn run(fleet: &Fleet, roads: &RoadIndex) -> BTreeMap<u32, BTreeMap<Option<RejectReason>, usize>> {
    let road_config = RoadConfig::default();
    let mut fits: BTreeMap<u32, Vec<(RoadFit, usize)>> = BTreeMap::new();
    let config = TrackConfig::default();
    let mut memory = Memory::default();
    let mut trips: Vec<_> = fleet.trips().collect();
    trips.sort_by_key(|(device, trip)| (trip.start(), device.index, trip.index));
    let mut outcome: BTreeMap<u32, BTreeMap<Option<RejectReason>, usize>> = BTreeMap::new();
    // The server knows a device by its key: a cloned pair is one device there.
    let key_of = |index: u32| -> u32 {
        let seed = fleet.devices[index as usize].seed;
        fleet
            .devices
            .iter()
            .find(|d| d.seed == seed)
            .map_or(index, |d| d.index)
    };
    for (device, trip) in trips {
        let key = key_of(device.index);
        let frames: Vec<FrameEntry> = trip
            .fixes
            .iter()
            .enumerate()
            .map(|(index, fix)| FrameEntry {
                sha256: frame_id(trip, index, device.behaviour),
                fix: *fix,
            })
            .collect();
        let per_capture = if device.behaviour == Behaviour::ShortCaptures {
            SHORT_CAPTURE_FRAMES
        } else {
            model::MAX_FRAMES_PER_CAPTURE
        };
        for capture in frames.chunks(per_capture) {
            let now = capture
                .last()
                .map_or(TimestampMs(0), |e| e.fix.time)
                .saturating_add_ms(3_600_000);
            let needs = Needs::of(capture, now, &config);
            let context = memory.context(key, &needs, now);
            let verdicts = judge(capture, &context, &config);
            memory.keep(key, capture, &verdicts);
            let passing: Vec<Fix> = capture
                .iter()
                .zip(&verdicts)
                .filter(|(_, verdict)| verdict.is_none())
                .map(|(entry, _)| entry.fix)
                .collect();
            fits.entry(device.index)
                .or_default()
                .push((road_fit(&passing, roads, &road_config), passing.len()));
            let counts = outcome.entry(device.index).or_default();
            for verdict in verdicts {
                *counts.entry(verdict).or_default() += 1;
            }
        }
    }
    // The worker's off-road hold, judged per device over the run (at most a week).
    for (device, captures) in fits {
        let just_fits: Vec<RoadFit> = captures.iter().map(|(fit, _)| *fit).collect();
        let counts = outcome.entry(device).or_default();
        for (held, (_, passing)) in device_holds(&just_fits, &road_config).iter().zip(&captures) {
            if *held && *passing > 0 {
                *counts.entry(None).or_default() -= passing;
                *counts.entry(Some(RejectReason::OffRoad)).or_default() += passing;
            }
        }
        counts.retain(|_, n| *n > 0);
    }
    outcome
}

/// Frames with a fraud verdict or held for review.
fn fraud(counts: &BTreeMap<Option<RejectReason>, usize>) -> usize {
    counts
        .iter()
        .filter(|(reason, _)| reason.is_some_and(RejectReason::opens_case))
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn over_ten_seeds_no_honest_frame_is_fraud_and_every_cheat_is_caught() {
    let honest_frames = judge_ten_seeds(6, 7, 800.0);
    assert!(honest_frames > 10_000, "{honest_frames}");
}

/// The fleet of the README's ten-seed scoreboard (`waymark demo --drivers 3 --days 2
/// --trip-m 500`): two days are one epoch, so a cheat must be caught in two trips or it
/// earns. (A generated track with a fix every 5 s along Monaco's bends escaped here.)
#[test]
fn at_the_demo_scoreboards_size_every_cheat_is_caught_within_its_epoch() {
    let honest_frames = judge_ten_seeds(3, 2, 500.0);
    assert!(honest_frames > 1_000, "{honest_frames}");
}

/// Judges ten seeds' fleets of `drivers` honest drivers over `days` days of one trip of
/// `trip_length_m`; panics on an honest driver with a fraud verdict or a cheat without
/// one. Returns how many honest frames were judged.
fn judge_ten_seeds(drivers: u32, days: u32, trip_length_m: f64) -> usize {
    let network = datasets::monaco().unwrap();
    let graph = datasets::RoadGraph::new(&network);
    let roads = network.road_index();
    let mut honest_frames = 0;
    for seed in 1..=10 {
        let fleet = simulate(
            &graph,
            &FleetConfig {
                drivers,
                days,
                trips_per_day: 1,
                trip_length_m,
                seed,
                ..FleetConfig::default()
            },
        )
        .unwrap();
        let mut outcome = run(&fleet, &roads);
        for device in &fleet.devices {
            // A sybil account whose days fall outside a short fleet sends nothing.
            outcome.entry(device.index).or_default();
        }
        for device in &fleet.devices {
            let counts = &outcome[&device.index];
            // A cloned pair is caught as a pair: whichever of the two sent later.
            let caught = match device.behaviour {
                Behaviour::ClonedKey { twin } => fraud(counts) + fraud(&outcome[&twin]),
                _ => fraud(counts),
            };
            let name = format!("seed {seed} {} ({:?})", device.name, device.behaviour);
            match device.behaviour {
                Behaviour::Honest | Behaviour::Repeating => {
                    assert_eq!(caught, 0, "{name}: {counts:?}");
                    honest_frames += counts.values().sum::<usize>();
                }
                // Real work: one driver over three accounts, a farm's own phone.
                Behaviour::Sybil { .. } | Behaviour::DeviceFarm { key: 0, .. } => {
                    assert_eq!(caught, 0, "{name}: {counts:?}")
                }
                // A real drive with its fixes moved 200 m: held off-road, every frame that
                // passed the judge (a capture that earns nothing).
                Behaviour::GpsOffset => {
                    let passed: usize = counts
                        .iter()
                        .filter(|(reason, _)| reason.is_none_or(|r| r == RejectReason::OffRoad))
                        .map(|(_, n)| n)
                        .sum();
                    let held = counts.get(&Some(RejectReason::OffRoad)).copied();
                    assert_eq!(held.unwrap_or(0), passed, "{name}: {counts:?}");
                    assert!(passed > 0, "{name}: {counts:?}");
                }
                // A real receiver's track with pixels of elsewhere: only the pixels tell
                // (the pipeline's and the demo's place consensus and footage index).
                Behaviour::SmoothedSynthetic | Behaviour::DisguisedReplay { .. } => {}
                // Every other device of an attack is caught at least once in its week,
                // which costs it the epoch.
                _ => assert!(caught > 0, "{name}: {counts:?}"),
            }
            let expected = match device.behaviour {
                Behaviour::ShortCaptures | Behaviour::SparseFixes => {
                    Some(RejectReason::SyntheticTrack)
                }
                Behaviour::DeviceFarm { key, .. } if key > 0 => Some(RejectReason::SharedTrack),
                Behaviour::Replaying => Some(RejectReason::Replay),
                _ => None,
            };
            if let Some(reason) = expected {
                assert!(counts.contains_key(&Some(reason)), "{name}: {counts:?}");
            }
        }
    }
    honest_frames
}
