//! Invariants of the pure core, on random epochs laid over the real Munich drive.

use std::collections::BTreeMap;

use model::{ContributorId, DeviceId, FrameId};
use proptest::prelude::*;
use rewards::{EpochId, EpochInputs, Params, Payees, PayoutRule, RewardFrame, compute};

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
        reputation: Default::default(),
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

fn rule() -> impl Strategy<Value = PayoutRule> {
    prop_oneof![
        Just(PayoutRule::ContributorRank),
        Just(PayoutRule::PassRank)
    ]
}

/// `epoch` computed under `rule`.
fn under(rule: PayoutRule, mut epoch: EpochInputs) -> EpochInputs {
    epoch.params = epoch.params.with_rule(rule);
    epoch
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
        rule in rule(),
    ) {
        let result = compute(&under(rule, inputs(&specs, emission, &last))).unwrap();
        let paid: u128 = result.earnings.values().map(|e| e.emission_amount).sum();
        prop_assert_eq!(paid + result.unallocated, u128::from(emission));
        let earners = result.earnings.values().filter(|e| e.points > 0).count() as u128;
        match rule {
            // Largest remainder hands every unit out whenever anyone earned.
            PayoutRule::ContributorRank => prop_assert_eq!(
                result.unallocated == 0 || emission == 0,
                earners > 0 || emission == 0
            ),
            // The floor split leaves less than a unit per earner.
            PayoutRule::PassRank if earners > 0 => prop_assert!(result.unallocated < earners),
            PayoutRule::PassRank => prop_assert_eq!(result.unallocated, u128::from(emission)),
        }
    }

    #[test]
    fn input_order_changes_nothing(
        specs in prop::collection::vec(frame_spec(), 1..80),
        seed in any::<u64>(),
        rule in rule(),
    ) {
        let original = under(rule, inputs(&specs, 1_000_000_007, &[]));
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
        prop_assert_eq!(a.awards, b.awards);
        prop_assert_eq!(original.hashes(), shuffled.hashes());
    }

    /// Contributor rank only: under pass rank an extra early pass pushes its driver's later
    /// pass a rank down (see `rewards::passes`), which this would find.
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
        rule in rule(),
    ) {
        // Device 0 replays positions (flagged by ingest) besides whatever else it uploads.
        let mut all = specs.clone();
        all.extend(replayed.iter().map(|&(position, hour)| (0, position, hour, 100, true)));
        let result = compute(&under(rule, inputs(&all, 1_000_000, &[]))).unwrap();
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
fn a_device_below_full_trust_earns_its_reputations_share_and_none_takes_no_rank() {
    let (devices, contributors) = ids();
    // Two devices in two cells, and device 2 in device 0's cell an hour later.
    let specs = [
        (0, 0, 0, 100, false),
        (1, 399, 0, 100, false),
        (2, 0, 2, 100, false),
    ];
    for rule in [PayoutRule::ContributorRank, PayoutRule::PassRank] {
        let trusted = under(rule, inputs(&specs, 3_500, &[]));
        assert_eq!(
            trusted.hashes().reputation,
            None,
            "absent while all are trusted"
        );
        // Device 0 caught once: half the worth of its frames.
        let mut halved = trusted.clone();
        halved.reputation.insert(devices[0], 500_000);
        let hashes = halved.hashes();
        assert!(hashes.reputation.is_some());
        assert_eq!(hashes.differences(&trusted.hashes()), vec!["reputation"]);
        let points = points_of(&halved);
        assert_eq!(
            points[&contributors[0]] * 2,
            points_of(&trusted)[&contributors[0]],
            "{rule:?}"
        );
        // None left: device 0 takes no rank, so device 2 is the cell's first.
        let mut none = trusted.clone();
        none.reputation.insert(devices[0], 0);
        let result = compute(&none).unwrap();
        assert!(!result.earnings.contains_key(&contributors[0]), "{rule:?}");
        let first_in_cell = result
            .awards
            .iter()
            .find(|award| award.device == devices[2])
            .unwrap();
        assert_eq!(first_in_cell.rank, 0, "{rule:?}");
        // The reputation survives the published JSON.
        let back: EpochInputs =
            serde_json::from_str(&serde_json::to_string(&none).unwrap()).unwrap();
        assert_eq!(back.reputation, none.reputation);
    }
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
        rule in rule(),
    ) {
        let epoch = with_consumption(
            under(rule, inputs(&specs, emission, &[])),
            &consumed,
            share_ppm,
            units_per_credit,
        );
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

/// The inputs of an epoch published before pass rank, as the shell wrote them then: two
/// cars in one cell ten minutes apart (Monday 08:00 and 08:10 of 2026-W40).
const INPUTS_BEFORE_PASS_RANK: &str = concat!(
    r#"{"epoch":"2026-W40","params":{"emission":"5000","refill_ms":604800000},"frames":["#,
    r#"{"frame":"1111111111111111111111111111111111111111111111111111111111111111","#,
    r#""device":"00000000-0000-0000-0000-00000000000a","time":1790582400000,"#,
    r#""lat":48.137,"lon":11.575,"quality":1.0},"#,
    r#"{"frame":"2222222222222222222222222222222222222222222222222222222222222222","#,
    r#""device":"00000000-0000-0000-0000-00000000000b","time":1790583000000,"#,
    r#""lat":48.137,"lon":11.575,"quality":0.5}],"#,
    r#""cells_last_mapped":{},"devices":{"#,
    r#""00000000-0000-0000-0000-00000000000a":{"owner":"00000000-0000-0000-0000-0000000000aa","driver":null,"driver_share_bps":0},"#,
    r#""00000000-0000-0000-0000-00000000000b":{"owner":"00000000-0000-0000-0000-0000000000bb","driver":null,"driver_share_bps":0}},"#,
    r#""bounties":[],"regions_geojson":""}"#
);

#[test]
fn inputs_published_before_pass_rank_keep_their_hash_and_their_rule() {
    let old: EpochInputs = serde_json::from_str(INPUTS_BEFORE_PASS_RANK).unwrap();
    assert_eq!(old.params.payout_rule, PayoutRule::ContributorRank);
    assert_eq!(
        serde_json::to_string(&old).unwrap(),
        INPUTS_BEFORE_PASS_RANK,
        "re-serialised byte for byte"
    );
    // sha256 of `{"emission":"5000","refill_ms":604800000}` (sha256sum).
    assert_eq!(
        old.hashes().params,
        "0e727ad404c4126163ed0471ea5dca412891475362f420dccbcb7724f9e254ba"
    );
    // Recomputed with the rule it was closed with: contributor rank pays the second car ×1/2
    // of its 0.5 quality, 1 : 0.25 of 5 000.
    let (a, b) = (
        ContributorId::from(uuid::Uuid::from_u128(0xaa)),
        ContributorId::from(uuid::Uuid::from_u128(0xbb)),
    );
    let amounts = |epoch: &EpochInputs| {
        let result = compute(epoch).unwrap();
        let of = |id| result.earnings.get(id).map_or(0, |e| e.total());
        (of(&a), of(&b))
    };
    assert_eq!(amounts(&old), (4_000, 1_000));

    // Closed today, the same frames are one pass that credits the better frame; the params
    // name the rule, so their hash (and only theirs) differs.
    let today = EpochInputs {
        params: old.params.clone().with_rule(PayoutRule::PassRank),
        ..old.clone()
    };
    assert_eq!(
        serde_json::to_string(&today.params).unwrap(),
        r#"{"emission":"5000","refill_ms":604800000,"payout_rule":"pass-rank"}"#
    );
    // sha256 of that text (sha256sum).
    assert_eq!(
        today.hashes().params,
        "f41558d6ad54ec9536f5d9bc4efc461e31a1d0695713ee5484df1dd668a18fe8"
    );
    assert_eq!(today.hashes().differences(&old.hashes()), vec!["params"]);
    assert_eq!(amounts(&today), (5_000, 0));
    let back: EpochInputs = serde_json::from_str(&serde_json::to_string(&today).unwrap()).unwrap();
    assert_eq!(back.params.payout_rule, PayoutRule::PassRank);
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
        rule in rule(),
    ) {
        let epoch = with_discoveries(under(rule, inputs(&specs, emission, &[])), &picks, share_ppm);
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

// Pass rank (rules 3, 4 and 7, issue 24): splitting one driver's work over several accounts
// or devices never pays more than one account would.

/// `epoch` with every frame of `device` moved to one of `accounts` new accounts, each a new
/// contributor with a device of its own: the device's `n`-th frame to account
/// `picks[n] % accounts`. Returns the accounts' contributor ids.
fn spread_over_accounts(
    epoch: &EpochInputs,
    device: DeviceId,
    accounts: usize,
    picks: &[usize],
) -> (EpochInputs, Vec<ContributorId>) {
    let new: Vec<(DeviceId, ContributorId)> = (0..accounts as u128)
        .map(|k| {
            (
                DeviceId::from(uuid_of(50 + k)),
                ContributorId::from(uuid_of(150 + k)),
            )
        })
        .collect();
    let mut split = epoch.clone();
    let theirs = split.frames.iter_mut().filter(|f| f.device == device);
    for (n, frame) in theirs.enumerate() {
        frame.device = new[picks.get(n).copied().unwrap_or(0) % accounts].0;
    }
    split.devices.remove(&device);
    for (device, owner) in &new {
        let payees = Payees {
            owner: *owner,
            driver: None,
            driver_share_bps: 0,
        };
        split.devices.insert(*device, payees);
    }
    (split, new.into_iter().map(|(_, owner)| owner).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The property of issue 24: in any honest epoch (no fraud flags, no consumption, no
    /// discovery), under pass rank, one person's frames spread over 1–3 accounts (each with
    /// its own device) earn those accounts together at most what the person's one account
    /// earned — the same points, less at most the dust of the floor split — and every other
    /// contributor earns exactly the same.
    #[test]
    fn splitting_a_drivers_work_over_accounts_never_pays_more(
        specs in prop::collection::vec(frame_spec(), 1..120),
        emission in 0u64..u64::MAX,
        last in prop::collection::vec((0usize..400, 0i64..240), 0..20),
        person in 0..DEVICES,
        accounts in 1usize..=3,
        picks in prop::collection::vec(0usize..3, 120),
    ) {
        let honest: Vec<FrameSpec> = specs.iter().map(|s| (s.0, s.1, s.2, s.3, false)).collect();
        let (devices, contributors) = ids();
        let one = under(PayoutRule::PassRank, inputs(&honest, emission, &last));
        let (split, account_ids) = spread_over_accounts(&one, devices[person], accounts, &picks);
        let (one, split) = (compute(&one).unwrap(), compute(&split).unwrap());

        let one_account = one.earnings.get(&contributors[person]).cloned().unwrap_or_default();
        let spread: Vec<_> = account_ids
            .iter()
            .map(|id| split.earnings.get(id).cloned().unwrap_or_default())
            .collect();
        let total: u128 = spread.iter().map(|e| e.total()).sum();
        prop_assert!(total <= one_account.total(), "{total} > {}", one_account.total());
        prop_assert!(one_account.total() - total < accounts as u128, "more than the dust lost");
        prop_assert_eq!(spread.iter().map(|e| e.points).sum::<u128>(), one_account.points);
        let mut others = one.earnings.clone();
        others.remove(&contributors[person]);
        let mut split_others = split.earnings.clone();
        for id in &account_ids {
            split_others.remove(id);
        }
        prop_assert_eq!(others, split_others);
    }
}

/// Four drives of the same 100 positions of the Munich drive, a day apart: a person's three
/// and another driver's one, before or after them. The person's amount with one account and
/// with one account per drive, under each rule (emission 7 000 000).
#[test]
fn three_accounts_pay_more_under_contributor_rank_and_the_same_under_pass_rank() {
    let (devices, contributors) = ids();
    let (person, other) = (0, 1);
    let drive = |device: usize, hour: i64| -> Vec<FrameSpec> {
        (0..100).map(|i| (device, i, hour, 100, false)).collect()
    };
    // Every cell of the route sees the same four drives, so each cell's shares are the
    // epoch's. The cases: (the person's drive hours, the other's, then the person's amount
    // under contributor rank with one account and with three, and under pass rank).
    let cases = [
        // Contributor rank, one account: the person ×1 and the other ×1/2, 2/3 of 7 000 000
        // (4 666 666.67; the larger remainder takes the unit). Three accounts: ×1, ×1/2, ×1/4
        // and the other fourth (0): 1.75× the points, all of it. Pass rank: the person's
        // drives are passes 0, 1, 2 under any number of accounts, the other's pass 3 earns 0.
        ([8, 32, 56], 80, 4_666_667, 7_000_000, 7_000_000),
        // The other first: contributor rank pays the person ×1/2 with one account (1/3:
        // 2 333 333) and ×1/2 + ×1/4 with three (3/7: 3 000 000); pass rank pays passes 1
        // and 2 (×1/2, ×1/4; the third drive is pass 3) either way: 3 000 000.
        ([32, 56, 80], 8, 2_333_333, 3_000_000, 3_000_000),
    ];
    for (hours, other_hour, legacy_one, legacy_three, pass_rank) in cases {
        let mut specs = drive(other, other_hour);
        let mut picks = Vec::new();
        for (account, hour) in hours.into_iter().enumerate() {
            specs.extend(drive(person, hour));
            picks.extend([account; 100]);
        }
        let one = inputs(&specs, 7_000_000, &[]);
        let (three, accounts) = spread_over_accounts(&one, devices[person], 3, &picks);
        let amount = |epoch: &EpochInputs, rule: PayoutRule, who: &[ContributorId]| {
            let result = compute(&under(rule, epoch.clone())).unwrap();
            let of = |id| {
                result
                    .earnings
                    .get(id)
                    .map_or((0, 0), |e| (e.total(), e.points))
            };
            who.iter()
                .map(of)
                .fold((0, 0), |(a, p), (b, q)| (a + b, p + q))
        };
        let person_id = [contributors[person]];
        let legacy = PayoutRule::ContributorRank;
        let (amount_one, points_one) = amount(&one, legacy, &person_id);
        let (amount_three, points_three) = amount(&three, legacy, &accounts);
        assert_eq!(
            (amount_one, amount_three),
            (legacy_one, legacy_three),
            "{hours:?}"
        );
        assert!(
            amount_three > amount_one,
            "contributor rank pays the split more"
        );
        if hours[0] < other_hour {
            assert_eq!(points_three * 4, points_one * 7, "1 + 1/2 + 1/4 = 1.75×");
        }
        let pass = PayoutRule::PassRank;
        assert_eq!(amount(&one, pass, &person_id).0, pass_rank, "{hours:?}");
        assert_eq!(amount(&three, pass, &accounts).0, pass_rank, "{hours:?}");
        assert_eq!(
            amount(&one, pass, &person_id).1,
            amount(&three, pass, &accounts).1
        );
    }
}

/// One cell, driven five times (minutes into the epoch's Monday 08:00): the first pass holds
/// two cars, 20 minutes apart, and credits the better frame; a pass starts an hour after the
/// previous pass's first frame, not its last.
#[test]
fn pass_rank_pays_each_pass_of_a_cell_once_whoever_drove_it() {
    let (devices, contributors) = ids();
    // (device, minute, quality %)
    let drives = [
        (0, 0, 80),
        (1, 20, 100),  // same pass as device 0, and better: pass 0 pays device 1
        (2, 70, 90),   // pass 1 (70 ≥ 0 + 60), though 50 minutes after device 1
        (0, 129, 60),  // pass 1 still (129 < 70 + 60): device 2's 90 % is better
        (0, 130, 70),  // pass 2
        (3, 300, 100), // pass 3: nothing
    ];
    let specs: Vec<FrameSpec> = drives
        .iter()
        .map(|&(d, _, q)| (d, 0, 0, q, false))
        .collect();
    let mut epoch = under(PayoutRule::PassRank, inputs(&specs, 0, &[]));
    for (frame, &(_, minute, _)) in epoch.frames.iter_mut().zip(&drives) {
        frame.time = at(epoch.epoch, 8 * HOUR + minute * 60_000);
    }
    let result = compute(&epoch).unwrap();
    let paid: Vec<(DeviceId, u32, u128)> = result
        .awards
        .iter()
        .map(|a| (a.device, a.rank, a.points))
        .collect();
    assert_eq!(
        paid,
        [
            (devices[1], 0, 1_000_000),
            (devices[2], 1, 900_000 / 2),
            (devices[0], 2, 700_000 / 4),
            (devices[3], 3, 0),
        ]
    );
    let points = |n: usize| {
        result
            .earnings
            .get(&contributors[n])
            .map_or(0, |e| e.points)
    };
    assert_eq!(
        [points(0), points(1), points(2), points(3)],
        [175_000, 1_000_000, 450_000, 0]
    );
}
