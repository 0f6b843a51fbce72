//! Invariants of the pure core, on random epochs laid over the real Munich drive.

use std::collections::BTreeMap;

use model::{ContributorId, DeviceId, FrameId};
use proptest::prelude::*;
use rewards::{EpochId, EpochInputs, Params, Payees, RewardFrame, compute};

use crate::{HOUR, at, munich_positions};

const DEVICES: usize = 5;

fn ids() -> (Vec<DeviceId>, Vec<ContributorId>) {
    let devices = (0..DEVICES as u128)
        .map(|i| DeviceId::from(uuid_of(i)))
        .collect();
    let contributors = (0..DEVICES as u128)
        .map(|i| ContributorId::from(uuid_of(100 + i)))
        .collect();
    (devices, contributors)
}

fn uuid_of(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(n + 1)
}

/// (device, position index on the drive, hours into the epoch, quality %, flagged)
type FrameSpec = (usize, usize, i64, u8, bool);

fn inputs(specs: &[FrameSpec], emission: u64, last_mapped: &[(usize, i64)]) -> EpochInputs {
    let epoch: EpochId = "2026-W40".parse().unwrap();
    let positions = munich_positions(400);
    let (devices, contributors) = ids();
    let frames = specs
        .iter()
        .enumerate()
        .map(|(n, &(device, position, hour, quality, flagged))| {
            let (lat, lon) = positions[position % positions.len()];
            RewardFrame {
                frame: FrameId::of_bytes(format!("{n}").as_bytes()),
                device: devices[device % DEVICES],
                time: at(epoch, hour * 3_600_000),
                lat,
                lon,
                quality: f64::from(quality) / 100.0,
                fraud: flagged.then(|| "replay".to_owned()),
            }
        })
        .collect();
    let cells_last_mapped = last_mapped
        .iter()
        .map(|&(position, hours_before)| {
            let (lat, lon) = positions[position % positions.len()];
            let cell = h3o::LatLng::new(lat, lon)
                .unwrap()
                .to_cell(model::COVERAGE_RESOLUTION);
            (
                u64::from(cell),
                epoch.starts_at().saturating_add_ms(-hours_before * HOUR),
            )
        })
        .collect();
    let device_payees = devices
        .iter()
        .zip(&contributors)
        .map(|(device, owner)| {
            (
                *device,
                Payees {
                    owner: *owner,
                    driver: None,
                    driver_share_bps: 0,
                },
            )
        })
        .collect();
    EpochInputs {
        epoch,
        params: Params::emission(emission.to_string(), Params::DEFAULT_REFILL_MS),
        frames,
        cells_last_mapped,
        devices: device_payees,
        bounties: Vec::new(),
        regions_geojson: String::new(),
        consumption: Vec::new(),
        discoveries: Vec::new(),
        captures: Vec::new(),
    }
}

fn frame_spec() -> impl Strategy<Value = FrameSpec> {
    (
        0..DEVICES,
        0usize..400,
        0i64..168,
        0u8..=100,
        prop::bool::weighted(0.1),
    )
}

fn points_of(inputs: &EpochInputs) -> BTreeMap<ContributorId, u128> {
    compute(inputs)
        .unwrap()
        .earnings
        .into_iter()
        .map(|(c, e)| (c, e.points))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn amounts_sum_exactly_to_the_emission(
        specs in prop::collection::vec(frame_spec(), 0..120),
        emission in 0u64..u64::MAX,
        last in prop::collection::vec((0usize..400, 0i64..240), 0..20),
    ) {
        let result = compute(&inputs(&specs, emission, &last)).unwrap();
        let paid: u128 = result.earnings.values().map(|e| e.emission_amount).sum();
        prop_assert_eq!(paid + result.unallocated, u128::from(emission));
        let anyone_earned = result.earnings.values().any(|e| e.points > 0);
        prop_assert_eq!(result.unallocated == 0 || emission == 0, anyone_earned || emission == 0);
    }

    #[test]
    fn input_order_changes_nothing(
        specs in prop::collection::vec(frame_spec(), 1..80),
        seed in any::<u64>(),
    ) {
        let original = inputs(&specs, 1_000_000_007, &[]);
        let mut shuffled = original.clone();
        // A deterministic shuffle driven by the seed.
        let len = shuffled.frames.len();
        let mut state = seed | 1;
        for i in (1..len).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.frames.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let a = compute(&original).unwrap();
        let b = compute(&shuffled).unwrap();
        prop_assert_eq!(a.earnings, b.earnings);
        prop_assert_eq!(original.hashes(), shuffled.hashes());
    }

    #[test]
    fn adding_a_frame_never_lowers_its_contributors_points(
        specs in prop::collection::vec(frame_spec(), 0..80),
        extra in frame_spec(),
    ) {
        let extra = (extra.0, extra.1, extra.2, extra.3, false);
        let honest: Vec<FrameSpec> = specs.iter().map(|s| (s.0, s.1, s.2, s.3, false)).collect();
        let before = points_of(&inputs(&honest, 1_000_000, &[]));
        let mut with_extra = honest.clone();
        with_extra.push(extra);
        let after = points_of(&inputs(&with_extra, 1_000_000, &[]));
        let (_, contributors) = ids();
        let owner = contributors[extra.0];
        prop_assert!(after.get(&owner).copied().unwrap_or(0) >= before.get(&owner).copied().unwrap_or(0));
    }

    #[test]
    fn a_device_caught_replaying_earns_nothing(
        specs in prop::collection::vec(frame_spec(), 1..80),
        replayed in prop::collection::vec((0usize..400, 0i64..168), 1..20),
    ) {
        // Device 0 replays positions (flagged by ingest) besides whatever else it uploads.
        let mut all = specs.clone();
        all.extend(replayed.iter().map(|&(position, hour)| (0, position, hour, 100, true)));
        let result = compute(&inputs(&all, 1_000_000, &[])).unwrap();
        let (devices, contributors) = ids();
        prop_assert!(result.flagged_devices.contains(&devices[0]));
        prop_assert!(result.earnings.get(&contributors[0]).is_none_or(|e| e.total() == 0));
    }
}

#[test]
fn a_refilling_cell_pays_in_proportion_to_its_refill() {
    let (_, contributors) = ids();
    let both_at_the_start = [(0, 0, 0, 100, false), (1, 399, 0, 100, false)];
    // Contributor 0's cell was mapped 3.5 days before: weight 0.5. Contributor 1's cell was
    // never mapped: weight 1. Emission 3 000 splits 1 000 : 2 000.
    let half = compute(&inputs(&both_at_the_start, 3_000, &[(0, 84)])).unwrap();
    assert_eq!(half.earnings[&contributors[0]].emission_amount, 1_000);
    assert_eq!(half.earnings[&contributors[1]].emission_amount, 2_000);
    // Mapped at the very moment the epoch began: weight 0, nothing to earn there.
    let empty = compute(&inputs(&both_at_the_start, 3_000, &[(0, 0)])).unwrap();
    assert!(
        empty
            .earnings
            .get(&contributors[0])
            .is_none_or(|e| e.total() == 0)
    );
    assert_eq!(empty.earnings[&contributors[1]].emission_amount, 3_000);
    // Seven days or more: fully refilled again.
    let full = compute(&inputs(&both_at_the_start, 3_000, &[(0, 7 * 24)])).unwrap();
    assert_eq!(full.earnings[&contributors[0]].emission_amount, 1_500);
}

#[test]
fn fraud_forfeits_the_epoch_and_teleports_only_when_they_repeat_on_two_days() {
    let (devices, contributors) = ids();
    // Device 0 and 1 drive honestly; each also has one flagged frame.
    let mut honest: Vec<FrameSpec> = (0..20).map(|i| (0, i, 1, 100, false)).collect();
    honest.extend((0..20).map(|i| (1, 200 + i, 1, 100, false)));
    let with_reason = |reason: &str, hours: &[i64], device: usize| {
        let mut epoch = inputs(&honest, 1_000_000, &[]);
        for (n, hour) in hours.iter().enumerate() {
            let mut flagged = epoch.frames[device * 20].clone();
            flagged.frame = FrameId::of_bytes(format!("flagged {n}").as_bytes());
            flagged.time = at("2026-W40".parse().unwrap(), hour * 3_600_000);
            flagged.fraud = Some(reason.to_owned());
            epoch.frames.push(flagged);
        }
        compute(&epoch).unwrap()
    };
    // A cloned key, a generated track, another device's track: the device forfeits the
    // epoch.
    for reason in ["cloned-key", "synthetic-track", "shared-track"] {
        let caught = with_reason(reason, &[2], 0);
        assert!(caught.flagged_devices.contains(&devices[0]), "{reason}");
        assert!(
            caught
                .earnings
                .get(&contributors[0])
                .is_none_or(|e| e.total() == 0),
            "{reason}"
        );
    }
    // One day with a GPS jump: only those frames are lost.
    let glitch = with_reason("teleport", &[2, 3], 0);
    assert!(!glitch.flagged_devices.contains(&devices[0]));
    assert!(glitch.earnings[&contributors[0]].total() > 0);
    // Jumps on two days: spoofing, the epoch is lost.
    let spoofing = with_reason("teleport", &[2, 30], 0);
    assert!(spoofing.flagged_devices.contains(&devices[0]));
    assert!(
        spoofing
            .earnings
            .get(&contributors[0])
            .is_none_or(|e| e.total() == 0)
    );
    assert!(spoofing.earnings[&contributors[1]].total() > 0);
}

// Consumption rewards (rule 9): map consumers' spending paid to whoever made what they used.

/// (cell-week index 0–7, credits, per device: res-12 cells covered)
type ConsumedSpec = (u64, u64, [u64; DEVICES]);

fn with_consumption(
    mut epoch: EpochInputs,
    consumed: &[ConsumedSpec],
    share_ppm: u64,
    units_per_credit: u64,
) -> EpochInputs {
    let (devices, _) = ids();
    let positions = munich_positions(400);
    epoch.params.consumption_share_ppm = share_ppm;
    epoch.params.units_per_credit = units_per_credit.to_string();
    let mut seen = std::collections::BTreeSet::new();
    for &(index, credits, coverage) in consumed {
        if !seen.insert(index) {
            continue; // one entry per cell-week, as the store sums them
        }
        let (lat, lon) = positions[(index as usize * 50) % positions.len()];
        let cell = h3o::LatLng::new(lat, lon)
            .unwrap()
            .to_cell(model::CONSUMPTION_RESOLUTION);
        epoch.consumption.push(rewards::ConsumedCellWeek {
            cell: u64::from(cell),
            week: format!("2026-W{:02}", 30 + index),
            credits,
            coverage: devices
                .iter()
                .zip(coverage)
                .filter(|(_, cells)| *cells > 0)
                .map(|(device, cells)| (*device, cells))
                .collect(),
        });
    }
    epoch
}

fn consumed_spec() -> impl Strategy<Value = ConsumedSpec> {
    (
        0u64..8,
        0u64..5_000,
        prop::array::uniform5(prop::sample::select(vec![0u64, 0, 1, 3, 40, 343])),
    )
}

proptest! {
    #[test]
    fn emission_and_consumption_sum_exactly_to_emission_plus_pool(
        specs in prop::collection::vec(frame_spec(), 0..60),
        consumed in prop::collection::vec(consumed_spec(), 0..8),
        emission in 0u64..u64::MAX,
        share_ppm in 0u64..=1_000_000,
        units_per_credit in 0u64..10u64.pow(15),
    ) {
        let epoch = with_consumption(inputs(&specs, emission, &[]), &consumed, share_ppm, units_per_credit);
        let result = compute(&epoch).unwrap();
        let credits: u128 = epoch.consumption.iter().map(|c| u128::from(c.credits)).sum();
        prop_assert_eq!(result.consumption.credits, credits);
        prop_assert_eq!(
            result.consumption.pool,
            credits * u128::from(units_per_credit) * u128::from(share_ppm) / 1_000_000
        );
        let emission_paid: u128 = result.earnings.values().map(|e| e.emission_amount).sum();
        let consumption_paid: u128 = result.earnings.values().map(|e| e.consumption_amount).sum();
        prop_assert_eq!(consumption_paid, result.consumption.paid());
        prop_assert_eq!(
            emission_paid + consumption_paid + result.unallocated,
            u128::from(emission) + result.consumption.pool
        );
        // Each cell-week pays out all of its part whenever anyone made it.
        let awarded: u128 = result.consumption.awards.iter().map(|a| a.amount).sum();
        prop_assert_eq!(awarded, consumption_paid);
        let every_cell_week_has_a_paid_maker = epoch
            .consumption
            .iter()
            .all(|c| c.coverage.keys().any(|d| !result.flagged_devices.contains(d)));
        if every_cell_week_has_a_paid_maker {
            prop_assert_eq!(consumption_paid, result.consumption.pool);
        }
    }

    #[test]
    fn consumption_pays_exactly_the_makers_of_the_consumed_cells_by_their_coverage(
        consumed in prop::collection::vec(consumed_spec(), 1..8),
        share_ppm in 1u64..=1_000_000,
    ) {
        let epoch = with_consumption(inputs(&[], 0, &[]), &consumed, share_ppm, 1_000_000);
        let result = compute(&epoch).unwrap();
        let (devices, contributors) = ids();
        for (device, contributor) in devices.iter().zip(&contributors) {
            let made: u64 = epoch
                .consumption
                .iter()
                .filter(|c| c.credits > 0)
                .filter_map(|c| c.coverage.get(device))
                .sum();
            let earned = result.earnings.get(contributor).map_or(0, |e| e.consumption_amount);
            if made == 0 {
                prop_assert_eq!(earned, 0, "a device that made no consumed cell earns nothing");
            }
        }
        // Within a cell-week, more coverage never earns less.
        for cell_week in &epoch.consumption {
            let cell = format!("{:x}", cell_week.cell);
            let mut awards: Vec<_> = result
                .consumption
                .awards
                .iter()
                .filter(|a| a.cell == cell && a.week == cell_week.week)
                .collect();
            awards.sort_by_key(|a| a.coverage);
            for pair in awards.windows(2) {
                if pair[0].coverage < pair[1].coverage {
                    prop_assert!(pair[0].amount <= pair[1].amount);
                }
            }
        }
    }

    #[test]
    fn a_forfeiting_device_takes_no_consumption_and_the_others_share_its_part(
        consumed in prop::collection::vec(consumed_spec(), 1..8),
    ) {
        // Device 0 replays a frame this epoch: it forfeits the epoch, consumption included.
        let caught = inputs(&[(0, 5, 3, 100, true)], 0, &[]);
        let epoch = with_consumption(caught, &consumed, 500_000, 1_000);
        let result = compute(&epoch).unwrap();
        let (devices, contributors) = ids();
        prop_assert!(result.flagged_devices.contains(&devices[0]));
        prop_assert!(result.earnings.get(&contributors[0]).is_none_or(|e| e.consumption_amount == 0));
        prop_assert!(result.consumption.awards.iter().all(|a| a.device != devices[0]));
        let others_made_all = epoch
            .consumption
            .iter()
            .all(|c| c.coverage.keys().any(|d| *d != devices[0]));
        if others_made_all {
            prop_assert_eq!(result.consumption.paid(), result.consumption.pool);
        }
    }
}

#[test]
fn consumption_is_split_by_spend_then_by_coverage_then_by_fleet_share() {
    let (devices, contributors) = ids();
    // Cell-week A: 300 credits, made by device 0 (2 cells) and device 1 (1 cell).
    // Cell-week B: 100 credits, made by device 2 alone, a fleet car whose driver (the
    // contributor of device 3) takes 70 %.
    let mut epoch = with_consumption(
        inputs(&[], 1_000, &[]),
        &[(0, 300, [2, 1, 0, 0, 0]), (1, 100, [0, 0, 5, 0, 0])],
        500_000,
        20,
    );
    epoch.devices.get_mut(&devices[2]).unwrap().driver = Some(contributors[3]);
    epoch.devices.get_mut(&devices[2]).unwrap().driver_share_bps = 7_000;
    let result = compute(&epoch).unwrap();
    // 400 credits × 20 units × 50 % = 4 000: A takes 3 000, B 1 000.
    assert_eq!(result.consumption.pool, 4_000);
    let consumption_of = |n: usize| {
        result
            .earnings
            .get(&contributors[n])
            .map_or(0, |e| e.consumption_amount)
    };
    assert_eq!(consumption_of(0), 2_000);
    assert_eq!(consumption_of(1), 1_000);
    assert_eq!(consumption_of(2), 300, "the fleet owner keeps 30 %");
    assert_eq!(consumption_of(3), 700, "the driver takes 70 %");
    assert_eq!(consumption_of(4), 0);
    // Nobody drove this epoch: the emission stays unallocated, the pool does not.
    assert_eq!(result.unallocated, 1_000);
}

#[test]
fn inputs_without_consumption_hash_as_before_consumption_rewards() {
    // The JSON of the params and the input hashes of an epoch with nothing consumed are
    // those of manifests published before consumption rewards, so those still verify.
    let epoch = inputs(&[(0, 1, 1, 90, false)], 5_000, &[]);
    assert_eq!(
        serde_json::to_string(&epoch.params).unwrap(),
        format!(
            r#"{{"emission":"5000","refill_ms":{}}}"#,
            Params::DEFAULT_REFILL_MS
        )
    );
    let hashes = serde_json::to_value(epoch.hashes()).unwrap();
    assert!(hashes.get("consumption").is_none());
    let with = with_consumption(epoch.clone(), &[(0, 10, [1, 0, 0, 0, 0])], 1, 1);
    assert_ne!(with.hashes().params, epoch.hashes().params);
    assert!(with.hashes().consumption.is_some());
    assert_eq!(
        with.hashes().differences(&epoch.hashes()),
        vec!["params", "consumption"]
    );
}

// Discovery rewards (rule 10): the first observers of new map features, paid from the
// emission.

/// Each frame of `epoch` at one of `picks` (indices into its frames) is the first
/// observation of a feature; a pick past the end names a frame that is not in the epoch.
fn with_discoveries(mut epoch: EpochInputs, picks: &[usize], share_ppm: u64) -> EpochInputs {
    epoch.params.discovery_share_ppm = share_ppm;
    for (n, &pick) in picks.iter().enumerate() {
        let (frame, device, time) = match epoch.frames.get(pick) {
            Some(f) => (f.frame, f.device, f.time),
            None => (
                FrameId::of_bytes(format!("not in the epoch {n}").as_bytes()),
                ids().0[n % DEVICES],
                epoch.epoch.starts_at(),
            ),
        };
        epoch.discoveries.push(rewards::Discovery {
            feature: format!("ft-{n:03}"),
            class: "stop".into(),
            frame,
            device,
            time,
        });
    }
    epoch
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn discoveries_and_coverage_sum_exactly_to_the_emission(
        specs in prop::collection::vec(frame_spec(), 0..60),
        picks in prop::collection::vec(0usize..80, 0..12),
        emission in 0u64..u64::MAX,
        share_ppm in 0u64..=1_000_000,
    ) {
        let epoch = with_discoveries(inputs(&specs, emission, &[]), &picks, share_ppm);
        let result = compute(&epoch).unwrap();
        let coverage: u128 = result.earnings.values().map(|e| e.emission_amount).sum();
        let discovery: u128 = result.earnings.values().map(|e| e.discovery_amount).sum();
        prop_assert_eq!(coverage + discovery + result.unallocated, u128::from(emission));
        let awarded: u128 = result.discovery.awards.iter().map(|a| a.amount).sum();
        prop_assert_eq!(awarded, discovery);
        prop_assert_eq!(discovery, result.discovery.pool, "the pool is taken only to be paid");
        if share_ppm == 0 {
            prop_assert_eq!(discovery, 0);
        }
        // Every paid discovery is a frame of the epoch, not flagged, from a device that keeps
        // the epoch; each feature is paid once.
        for award in &result.discovery.awards {
            prop_assert!(!result.flagged_devices.contains(&award.device));
            prop_assert!(epoch.frames.iter().any(|f| f.frame == award.frame
                && f.device == award.device
                && f.fraud.is_none()));
        }
        let features: std::collections::BTreeSet<_> =
            result.discovery.awards.iter().map(|a| &a.feature).collect();
        prop_assert_eq!(features.len(), result.discovery.awards.len());
    }
}

#[test]
fn with_discovery_rewards_off_nothing_changes() {
    let specs: Vec<FrameSpec> = (0..40)
        .map(|i| (i % DEVICES, i * 7, 2, 90, false))
        .collect();
    let plain = inputs(&specs, 1_000_000, &[]);
    let listed = with_discoveries(plain.clone(), &[0, 5, 9], 0);
    let (a, b) = (compute(&plain).unwrap(), compute(&listed).unwrap());
    assert_eq!(a.earnings, b.earnings);
    assert_eq!(b.discovery.pool, 0);
    // On, the three features take 20 % of the emission, equally.
    let on = compute(&with_discoveries(plain, &[0, 5, 9], 200_000)).unwrap();
    let amounts: Vec<u128> = on.discovery.awards.iter().map(|a| a.amount).collect();
    assert_eq!(amounts, [66_667, 66_667, 66_666]);
}
