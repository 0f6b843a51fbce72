//! The pure core: epoch inputs → what every contributor earned, and why, per cell.
//!
//! Rules (DESIGN.md §5), all in integer fixed point (ppm) so results never depend on
//! floating-point rounding:
//! 1. **Fraud.** A frame ingest flagged (teleport, replay, zig-zag, cloned key, synthetic
//!    or shared track, a photo whose own EXIF contradicts its manifest) earns nothing. A
//!    device caught replaying frames, using its key on two dashcams at once, sending a
//!    generated track, another device's track or frames taken elsewhere or at another time
//!    forfeits the whole epoch (deliberate fraud), and so does one that teleports on two or
//!    more days of the epoch (spoofing); a single day's GPS jump or zig-zag costs only the
//!    frames concerned (receivers glitch).
//! 2. **Freshness.** A cell's weight refills linearly from 0 to 1 over `refill_ms` after it
//!    was last mapped before the epoch (never mapped: 1). A frame's value is
//!    `weight(frame time) × quality × reputation`, the device's reputation at the epoch's
//!    start (`inputs.reputation`, `model::reputation`; 1 when absent). A device with none
//!    left takes no rank.
//! 3. **Passes.** Per cell, the eligible frames in time order form passes: a pass starts at
//!    the first frame an hour or more after the current pass's first frame. A pass credits one
//!    frame, its best (value × region weight), whoever drove it ([`crate::passes`]).
//! 4. **Pass rank.** Passes earn ×1, ×1/2, ×1/4 in time order, later ones 0, so splitting one
//!    driver's work over several accounts or devices never pays more than one account. Epochs
//!    whose params name no `payout_rule` were closed with *contributor rank*: each contributor
//!    counts once per cell with their best frame, ranked by their first frame's time.
//! 5. **Region weight** of the credited frame's place multiplies the points.
//! 6. **Fleet split.** A device's points go to its owner, or `driver_share_bps` of them to
//!    its driver.
//! 7. **Emission** is split pro rata to points: each contributor gets
//!    `floor(points × emission / all points)`; the dust (fewer units than contributors) stays
//!    unallocated, so extra accounts cannot collect it. Contributor-rank epochs handed it out
//!    by largest remainder (ties by contributor id). With no points it all stays unallocated.
//! 8. **Bounties.** Each bounty's budget goes to the payees of the first fresh frame (a
//!    non-zero weight, not flagged) inside its area and time window; unclaimed and expired by
//!    the epoch's end → refunded; unclaimed and still running → carried to the next epoch.
//! 9. **Consumption.** A share of the credits map consumers spent goes to the devices whose
//!    coverage they used ([`crate::consumption`]); devices forfeiting the epoch take no part.
//!    Emission and consumption amounts together with what stays unallocated sum exactly to
//!    the emission plus the consumption pool.
//! 10. **Discovery.** When `discovery_share_ppm` is set and a map feature was first seen in
//!     the epoch by an eligible frame, that share of the emission goes to the first observers,
//!     equally per feature ([`crate::discovery`]), and rule 7 splits the rest.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use geo::{Contains, MultiPolygon, Point};
use h3o::LatLng;
use model::{COVERAGE_RESOLUTION, ContributorId, DeviceId, FrameId, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::consumption::ConsumptionResult;
use crate::discovery::DiscoveryResult;
use crate::regions::PPM;
use crate::split::{floor_shares, largest_remainder};
use crate::{Bounty, EpochInputs, Error, Payees, PayoutRule, Regions, Result};

/// The fraud reasons that cost a device its whole epoch.
pub const FORFEITING_FRAUD: [&str; 5] = [
    "replay",
    "cloned-key",
    "synthetic-track",
    "shared-track",
    "photo-mismatch",
];
/// Teleports on this many distinct days of an epoch cost the device the epoch.
pub const FORFEITING_TELEPORT_DAYS: usize = 2;

/// Rank multipliers as right shifts: ×1, ×1/2, ×1/4.
pub(crate) const RANK_SHIFTS: [u32; 3] = [0, 1, 2];

/// Why a cell paid what it paid, for one pass (one contributor under contributor rank).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellAward {
    /// H3 res-12 cell, hex.
    pub cell: String,
    pub owner: ContributorId,
    pub device: DeviceId,
    /// The frame whose value counted.
    pub frame: FrameId,
    /// The pass's place in the cell's passes this epoch (the contributor's place under
    /// contributor rank); 0 = first.
    pub rank: u32,
    pub weight_ppm: u64,
    pub quality_ppm: u64,
    pub region_ppm: u64,
    pub points: u128,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BountyOutcome {
    Claimed { frame: FrameId, device: DeviceId },
    Refunded,
    Carried,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BountyResult {
    pub id: String,
    pub budget: String,
    pub outcome: BountyOutcome,
}

/// One contributor's earnings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earnings {
    pub points: u128,
    pub emission_amount: u128,
    pub bounty_amount: u128,
    /// From map consumers' spending on this contributor's coverage.
    pub consumption_amount: u128,
    /// For being the first to observe map features new this epoch.
    pub discovery_amount: u128,
}

impl Earnings {
    pub fn total(&self) -> u128 {
        self.emission_amount + self.bounty_amount + self.consumption_amount + self.discovery_amount
    }
}

/// The outcome of an epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochResult {
    pub awards: Vec<CellAward>,
    pub earnings: BTreeMap<ContributorId, Earnings>,
    pub emission: u128,
    /// Emission nobody earned (no points at all) and consumption pool no device could take.
    pub unallocated: u128,
    pub consumption: ConsumptionResult,
    /// The share of the emission paid for discoveries (its pool is in `emission`).
    pub discovery: DiscoveryResult,
    pub bounties: Vec<BountyResult>,
    pub flagged_devices: BTreeSet<DeviceId>,
    pub flagged_frames: usize,
}

/// Computes the epoch. Pure: the same inputs, in any order, give the same result.
pub fn compute(inputs: &EpochInputs) -> Result<EpochResult> {
    let sorted;
    let inputs = if inputs.is_canonical() {
        inputs
    } else {
        let mut copy = inputs.clone();
        copy.canonicalise();
        sorted = copy;
        &sorted
    };
    let emission = inputs.params.emission_units()?;
    let regions = inputs.regions()?;
    let refill_ms = inputs.params.refill_ms.max(1);

    let mut teleport_days: BTreeMap<DeviceId, BTreeSet<i64>> = BTreeMap::new();
    for frame in &inputs.frames {
        if frame.fraud.as_deref() == Some("teleport") {
            let day = frame.time.as_millis().div_euclid(86_400_000);
            teleport_days.entry(frame.device).or_default().insert(day);
        }
    }
    let flagged_devices: BTreeSet<DeviceId> = inputs
        .frames
        .iter()
        .filter(|f| {
            f.fraud
                .as_deref()
                .is_some_and(|r| FORFEITING_FRAUD.contains(&r))
        })
        .map(|f| f.device)
        .chain(
            teleport_days
                .iter()
                .filter(|(_, days)| days.len() >= FORFEITING_TELEPORT_DAYS)
                .map(|(device, _)| *device),
        )
        .collect();
    let flagged_frames = inputs.frames.iter().filter(|f| f.fraud.is_some()).count();

    // Eligible frames with their cell and value.
    let mut eligible = Vec::new();
    for frame in &inputs.frames {
        if frame.fraud.is_some() || flagged_devices.contains(&frame.device) {
            continue;
        }
        let Some(payees) = inputs.devices.get(&frame.device) else {
            continue; // a device nobody owns cannot be paid
        };
        let Ok(position) = LatLng::new(frame.lat, frame.lon) else {
            continue;
        };
        let cell = position.to_cell(COVERAGE_RESOLUTION);
        let weight_ppm = refill_ppm(
            inputs.cells_last_mapped.get(&u64::from(cell)),
            frame.time,
            refill_ms,
        );
        let quality_ppm = (frame.quality.clamp(0.0, 1.0) * PPM as f64).round() as u64;
        // A device below full trust keeps its reputation's share of the worth (rule 2).
        let trust_ppm = inputs.reputation_ppm(&frame.device);
        let value = weight_ppm * quality_ppm / PPM * trust_ppm / PPM;
        if weight_ppm * quality_ppm == 0 || trust_ppm == 0 {
            // Worth nothing (no refill yet, no quality, no trust): it must not take a rank.
            continue;
        }
        eligible.push(Eligible {
            frame: frame.frame,
            device: frame.device,
            owner: payees.owner,
            time: frame.time,
            lat: frame.lat,
            lon: frame.lon,
            cell,
            weight_ppm,
            quality_ppm,
            value,
        });
    }

    let (awards, points) = match inputs.params.payout_rule {
        PayoutRule::ContributorRank => rank_contributors(&eligible, &regions, &inputs.devices),
        PayoutRule::PassRank => crate::passes::rank_passes(&eligible, &regions, &inputs.devices),
    };

    let mut earnings: BTreeMap<ContributorId, Earnings> = BTreeMap::new();
    let ordered: Vec<(ContributorId, u128)> = points
        .into_iter()
        .filter(|(_, p)| *p > 0)
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let discovery = crate::discovery::settle(inputs, emission, &flagged_devices)?;
    let pool = emission - discovery.pool;
    let shares = match inputs.params.payout_rule {
        PayoutRule::ContributorRank => largest_remainder(pool, &ordered),
        // The dust stays unallocated: handed out, it would go to whoever has more accounts.
        PayoutRule::PassRank => floor_shares(pool, &ordered),
    };
    let paid: u128 = shares.iter().sum();
    for ((contributor, contributor_points), amount) in ordered.iter().zip(&shares) {
        let entry = earnings.entry(*contributor).or_default();
        entry.points = *contributor_points;
        entry.emission_amount = *amount;
    }

    for (contributor, amount) in &discovery.earned {
        earnings.entry(*contributor).or_default().discovery_amount = *amount;
    }
    let bounties = settle_bounties(inputs, &eligible, &mut earnings)?;
    let consumption = crate::consumption::settle(inputs, &flagged_devices)?;
    for (contributor, amount) in &consumption.earned {
        earnings.entry(*contributor).or_default().consumption_amount = *amount;
    }

    Ok(EpochResult {
        awards,
        earnings,
        emission,
        unallocated: emission - discovery.pool - paid + consumption.pool - consumption.paid(),
        consumption,
        discovery,
        bounties,
        flagged_devices,
        flagged_frames,
    })
}

/// A frame that may earn, with its cell and value (`weight × quality`, ppm).
pub(crate) struct Eligible {
    pub(crate) frame: FrameId,
    pub(crate) device: DeviceId,
    pub(crate) owner: ContributorId,
    pub(crate) time: TimestampMs,
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) cell: h3o::CellIndex,
    pub(crate) weight_ppm: u64,
    pub(crate) quality_ppm: u64,
    pub(crate) value: u64,
}

/// Contributor rank (epochs published before pass rank): per cell each owner counts once,
/// with their best frame, ranked by their first frame's time.
fn rank_contributors(
    eligible: &[Eligible],
    regions: &Regions,
    devices: &BTreeMap<DeviceId, Payees>,
) -> (Vec<CellAward>, HashMap<ContributorId, u128>) {
    // Per cell, per owner: the first frame (for rank) and the best frame (for value).
    let mut cells: BTreeMap<u64, BTreeMap<ContributorId, (TimestampMs, FrameId, usize)>> =
        BTreeMap::new();
    for (index, frame) in eligible.iter().enumerate() {
        let entry = cells.entry(u64::from(frame.cell)).or_default();
        entry
            .entry(frame.owner)
            .and_modify(|(first_time, first_frame, best)| {
                if (frame.time, frame.frame) < (*first_time, *first_frame) {
                    (*first_time, *first_frame) = (frame.time, frame.frame);
                }
                if frame.value > eligible[*best].value {
                    *best = index;
                }
            })
            .or_insert((frame.time, frame.frame, index));
    }

    let mut awards = Vec::new();
    let mut points: HashMap<ContributorId, u128> = HashMap::new();
    for owners in cells.values() {
        let mut ranked: Vec<_> = owners.iter().collect();
        ranked.sort_by_key(|(owner, (time, frame, _))| (*time, *frame, **owner));
        for (rank, (owner, (_, _, best))) in ranked.into_iter().enumerate() {
            let frame = &eligible[*best];
            let region_ppm = regions.weight_ppm_at(frame.lat, frame.lon);
            let shift = RANK_SHIFTS.get(rank).copied();
            let cell_points = match shift {
                Some(shift) => {
                    (u128::from(frame.value) * u128::from(region_ppm) / u128::from(PPM)) >> shift
                }
                None => 0,
            };
            awards.push(CellAward {
                cell: frame.cell.to_string(),
                owner: *owner,
                device: frame.device,
                frame: frame.frame,
                rank: rank as u32,
                weight_ppm: frame.weight_ppm,
                quality_ppm: frame.quality_ppm,
                region_ppm,
                points: cell_points,
            });
            split_to_payees(&devices[&frame.device], cell_points, &mut points);
        }
    }
    (awards, points)
}

/// The refill weight (ppm) of a cell last mapped at `last` when a frame arrives at `now`.
pub fn refill_ppm(last: Option<&TimestampMs>, now: TimestampMs, refill_ms: i64) -> u64 {
    let Some(last) = last else {
        return PPM;
    };
    let elapsed = now.millis_since(*last).max(0);
    if elapsed >= refill_ms {
        return PPM;
    }
    (i128::from(elapsed) * i128::from(PPM) / i128::from(refill_ms)) as u64
}

pub(crate) fn split_to_payees(
    payees: &Payees,
    amount: u128,
    into: &mut HashMap<ContributorId, u128>,
) {
    let driver_part = match payees.driver {
        Some(driver) => {
            let bps = u128::from(payees.driver_share_bps.min(10_000));
            // amount × bps / 10 000 without overflowing for any u128 amount.
            let part = amount / 10_000 * bps + amount % 10_000 * bps / 10_000;
            *into.entry(driver).or_default() += part;
            part
        }
        None => 0,
    };
    *into.entry(payees.owner).or_default() += amount - driver_part;
}

fn settle_bounties(
    inputs: &EpochInputs,
    eligible: &[Eligible],
    earnings: &mut BTreeMap<ContributorId, Earnings>,
) -> Result<Vec<BountyResult>> {
    let epoch_end = inputs.epoch.ends_at();
    let mut results = Vec::new();
    for bounty in &inputs.bounties {
        let area = bounty_area(bounty)?;
        let budget: u128 = bounty.budget.parse().map_err(|_| Error::Bounty {
            id: bounty.id.clone(),
            reason: format!("budget {:?} is not an integer amount", bounty.budget),
        })?;
        let claim = eligible.iter().find(|frame| {
            frame.weight_ppm > 0
                && frame.time >= bounty.starts_at
                && frame.time < bounty.expires_at
                && area.contains(&Point::new(frame.lon, frame.lat))
        });
        let outcome = match claim {
            Some(frame) => {
                let mut paid = HashMap::new();
                split_to_payees(&inputs.devices[&frame.device], budget, &mut paid);
                for (contributor, amount) in paid {
                    earnings.entry(contributor).or_default().bounty_amount += amount;
                }
                BountyOutcome::Claimed {
                    frame: frame.frame,
                    device: frame.device,
                }
            }
            None if bounty.expires_at <= epoch_end => BountyOutcome::Refunded,
            None => BountyOutcome::Carried,
        };
        results.push(BountyResult {
            id: bounty.id.clone(),
            budget: bounty.budget.clone(),
            outcome,
        });
    }
    Ok(results)
}

pub(crate) fn bounty_area(bounty: &Bounty) -> Result<MultiPolygon<f64>> {
    let invalid = |reason: String| Error::Bounty {
        id: bounty.id.clone(),
        reason,
    };
    let geometry: geojson::Geometry = bounty
        .area_geojson
        .parse::<geojson::GeoJson>()
        .map_err(|err| invalid(format!("area is not GeoJSON: {err}")))
        .and_then(|parsed| match parsed {
            geojson::GeoJson::Geometry(geometry) => Ok(geometry),
            geojson::GeoJson::Feature(feature) => feature
                .geometry
                .ok_or_else(|| invalid("area feature has no geometry".into())),
            geojson::GeoJson::FeatureCollection(_) => {
                Err(invalid("area must be one geometry".into()))
            }
        })?;
    match &geometry.value {
        geojson::GeometryValue::Polygon { .. } => Ok(MultiPolygon::new(vec![
            geo::Polygon::try_from(&geometry.value).map_err(|err| invalid(err.to_string()))?,
        ])),
        geojson::GeometryValue::MultiPolygon { .. } => {
            MultiPolygon::try_from(&geometry.value).map_err(|err| invalid(err.to_string()))
        }
        _ => Err(invalid("area must be a Polygon or MultiPolygon".into())),
    }
}
