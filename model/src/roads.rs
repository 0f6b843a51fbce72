//! Tracks agree with the road network: a car's fixes lie on a mapped road and run along it.
//! A drive reported with its positions shifted (a GPS offset: real footage, real driving,
//! claimed tens or hundreds of metres from where it was filmed) keeps the drive's shape and
//! noise — every track check passes it — but its fixes lie beside the roads, or on a road
//! that runs another way. A capture whose moving fixes mostly lie off the mapped roads of a
//! region the server knows is held for review (`off-road`): not paid, not published, a case
//! for a reviewer, who clears it where the map is wrong (a new road, a car park).
//!
//! What it can and cannot see:
//! - A fix is judged only when the car moves (a heading) and the fix lies inside the area
//!   the road network covers ([`RoadIndex::covers`]). Where the operator loaded no roads,
//!   nothing is judged.
//! - A fix is on the road when a mapped road lies within [`RoadConfig::near_m`] and runs
//!   within [`RoadConfig::axis_tolerance_deg`] of the fix's heading (either way along a
//!   two-way road; a one-way street only its own way). Consumer GNSS errs by a few metres;
//!   turns and junctions give a few fixes whose heading matches no road: a capture is held
//!   only when at least [`RoadConfig::min_off_fixes`] fixes are off and they are at least
//!   [`RoadConfig::off_share`] of its judged fixes.
//! - A device is judged over its week ([`device_holds`]): once one of its captures is off
//!   the roads, its others that lean off them are held too.
//! - An offset along a straight road, or onto a parallel street running the same way, keeps
//!   the fixes on a road: only the pixels can tell (`model::consensus`). How many honest
//!   captures are held rests on the map's completeness: a road the map lacks is off it.
//!
//! Pure: the road lines come in from whoever read them (the `datasets` crate reads an
//! OpenStreetMap extract); nothing here reads a file.

use std::collections::HashMap;

use crate::Fix;
use crate::consensus::heading_at;

/// Grid cell of the index, degrees of latitude (about 111 m); longitude cells are this wide
/// in degrees too, so narrower in metres away from the equator.
const GRID_DEG: f64 = 0.001;
const METRES_PER_DEGREE: f64 = 111_320.0;

/// One mapped road as a line of (lon, lat) points; a one-way road's points run the way it
/// may be driven.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadLine {
    pub points: Vec<(f64, f64)>,
    pub one_way: bool,
}

impl RoadLine {
    /// A road driven both ways.
    pub fn two_way(points: Vec<(f64, f64)>) -> Self {
        Self {
            points,
            one_way: false,
        }
    }

    /// A road driven only in the order of `points`.
    pub fn one_way(points: Vec<(f64, f64)>) -> Self {
        Self {
            points,
            one_way: true,
        }
    }
}

/// One piece of a road: its ends as (lon, lat), and whether it runs one way (from the first
/// to the second).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    from: (f64, f64),
    to: (f64, f64),
    one_way: bool,
}

/// The mapped roads of a region, indexed for "which roads are near this point".
#[derive(Debug, Clone, Default)]
pub struct RoadIndex {
    segments: Vec<Segment>,
    grid: HashMap<(i64, i64), Vec<u32>>,
    /// (south, west, north, east) of every road point.
    bounds: Option<(f64, f64, f64, f64)>,
}

fn grid_key(lon: f64, lat: f64) -> (i64, i64) {
    (
        (lon / GRID_DEG).floor() as i64,
        (lat / GRID_DEG).floor() as i64,
    )
}

impl RoadIndex {
    pub fn new(roads: impl IntoIterator<Item = RoadLine>) -> Self {
        let mut index = Self::default();
        for road in roads {
            for pair in road.points.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                if !(a.0.is_finite() && a.1.is_finite() && b.0.is_finite() && b.1.is_finite()) {
                    continue;
                }
                let Ok(id) = u32::try_from(index.segments.len()) else {
                    break;
                };
                index.segments.push(Segment {
                    from: a,
                    to: b,
                    one_way: road.one_way,
                });
                let (k0, k1) = (grid_key(a.0, a.1), grid_key(b.0, b.1));
                for x in k0.0.min(k1.0)..=k0.0.max(k1.0) {
                    for y in k0.1.min(k1.1)..=k0.1.max(k1.1) {
                        index.grid.entry((x, y)).or_default().push(id);
                    }
                }
                for (lon, lat) in [a, b] {
                    let (s, w, n, e) = index.bounds.unwrap_or((lat, lon, lat, lon));
                    index.bounds = Some((s.min(lat), w.min(lon), n.max(lat), e.max(lon)));
                }
            }
        }
        index
    }

    /// How many road segments the index holds.
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Whether `fix` lies inside the area the roads cover (the box around them): outside it
    /// the server knows no roads, and nothing is judged.
    pub fn covers(&self, fix: &Fix) -> bool {
        self.bounds
            .is_some_and(|(s, w, n, e)| (s..=n).contains(&fix.lat) && (w..=e).contains(&fix.lon))
    }

    /// Whether a road within `near_m` of `fix` runs within `tolerance_deg` of `heading`
    /// (either way along it, or its own way when it is one-way).
    pub fn on_road(&self, fix: &Fix, heading: f64, near_m: f64, tolerance_deg: f64) -> bool {
        let east_per_deg = METRES_PER_DEGREE * fix.lat.to_radians().cos().max(0.01);
        let reach_lat = (near_m / METRES_PER_DEGREE / GRID_DEG).ceil() as i64;
        let reach_lon = (near_m / east_per_deg / GRID_DEG).ceil() as i64;
        let (cx, cy) = grid_key(fix.lon, fix.lat);
        let local = |(lon, lat): (f64, f64)| {
            (
                (lon - fix.lon) * east_per_deg,
                (lat - fix.lat) * METRES_PER_DEGREE,
            )
        };
        for x in cx - reach_lon..=cx + reach_lon {
            for y in cy - reach_lat..=cy + reach_lat {
                let Some(ids) = self.grid.get(&(x, y)) else {
                    continue;
                };
                for &id in ids {
                    let segment = self.segments[id as usize];
                    let (a, b) = (local(segment.from), local(segment.to));
                    if distance_to_segment(a, b) > near_m {
                        continue;
                    }
                    let bearing = (b.0 - a.0).atan2(b.1 - a.1).to_degrees();
                    let off = if segment.one_way {
                        direction_difference(bearing, heading)
                    } else {
                        axis_difference(bearing, heading)
                    };
                    if off <= tolerance_deg {
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// Distance from the origin to segment `a`–`b` (local metres).
fn distance_to_segment(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let length2 = dx * dx + dy * dy;
    let t = if length2 > 0.0 {
        (-(a.0 * dx + a.1 * dy) / length2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (a.0 + t * dx).hypot(a.1 + t * dy)
}

/// Angle between two directions (0–180°).
fn direction_difference(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(360.0);
    d.min(360.0 - d)
}

/// Angle between two directions taken as lines (0–90°): a road runs both ways.
fn axis_difference(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(180.0);
    d.min(180.0 - d)
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoadConfig {
    /// A road this close (metres) can be the one driven: consumer GNSS errs by a few metres,
    /// a wide road's centre line lies up to ~10 m from its outer lane.
    pub near_m: f64,
    /// The fix's heading and the road's axis differ by at most this, degrees.
    pub axis_tolerance_deg: f64,
    /// Off-road fixes needed to hold a capture.
    pub min_off_fixes: usize,
    /// Share of the capture's judged fixes that must be off the roads to hold it.
    pub off_share: f64,
    /// A device with a capture held off-road in [`DEVICE_WINDOW_MS`] is judged on its
    /// record: its other captures there are held from this share of off-road fixes on
    /// ([`device_holds`]).
    pub device_off_share: f64,
    /// And from this many off-road fixes.
    pub device_min_off_fixes: usize,
}

/// How far back a device's captures are judged together: a week, a reward epoch.
pub const DEVICE_WINDOW_MS: i64 = 7 * 24 * 3_600_000;

impl Default for RoadConfig {
    fn default() -> Self {
        Self {
            near_m: 20.0,
            axis_tolerance_deg: 30.0,
            min_off_fixes: 8,
            off_share: 0.3,
            device_off_share: 0.1,
            device_min_off_fixes: 3,
        }
    }
}

/// How a capture's fixes lie against the roads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoadFit {
    /// Moving fixes inside the covered area.
    pub judged: usize,
    /// Of which no road near runs their way.
    pub off: usize,
}

impl RoadFit {
    /// Whether the capture lies off the roads (see [`RoadConfig`]).
    pub fn is_off_road(&self, config: &RoadConfig) -> bool {
        self.off >= config.min_off_fixes && self.off as f64 >= config.off_share * self.judged as f64
    }
}

impl RoadFit {
    /// Whether the capture leans off the roads: enough for a device already caught off
    /// them ([`RoadConfig::device_off_share`]), never alone.
    fn leans_off_road(&self, config: &RoadConfig) -> bool {
        self.off >= config.device_min_off_fixes
            && self.off as f64 >= config.device_off_share * self.judged as f64
    }
}

/// Which of one device's captures (their fits, over [`DEVICE_WINDOW_MS`]) are held: each
/// off the roads on its own, and — once one is — every other that leans off them. A GPS
/// offset puts most of a drive beside the roads but now and then on one that runs its way
/// (a parallel street, a long straight): judged per device over time, its luckier captures
/// do not earn either. An honest driver's captures lie on the roads (a few fixes off at
/// junctions or where GNSS wanders), so one capture on a road the map lacks holds nothing
/// else.
pub fn device_holds(fits: &[RoadFit], config: &RoadConfig) -> Vec<bool> {
    let caught = fits.iter().any(|fit| fit.is_off_road(config));
    fits.iter()
        .map(|fit| fit.is_off_road(config) || (caught && fit.leans_off_road(config)))
        .collect()
}

/// How `fixes` (one capture, in time order) lie against `roads`.
pub fn road_fit(fixes: &[Fix], roads: &RoadIndex, config: &RoadConfig) -> RoadFit {
    let mut fit = RoadFit::default();
    for (i, fix) in fixes.iter().enumerate() {
        if !roads.covers(fix) {
            continue;
        }
        let Some(heading) = heading_at(fixes, i) else {
            continue;
        };
        fit.judged += 1;
        if !roads.on_road(fix, heading, config.near_m, config.axis_tolerance_deg) {
            fit.off += 1;
        }
    }
    fit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FixType, TimestampMs};

    const LAT: f64 = 43.73;
    const LON: f64 = 7.42;

    fn metres_east(m: f64) -> f64 {
        m / (METRES_PER_DEGREE * LAT.to_radians().cos())
    }

    fn metres_north(m: f64) -> f64 {
        m / METRES_PER_DEGREE
    }

    fn fix(east_m: f64, north_m: f64, second: i64) -> Fix {
        Fix {
            lat: LAT + metres_north(north_m),
            lon: LON + metres_east(east_m),
            time: TimestampMs(1_700_000_000_000 + second * 1000),
            alt: None,
            heading: None,
            speed: None,
            fix_type: FixType::Fix3d,
            satellites: 9,
            hdop: 0.9,
        }
    }

    /// A grid of roads 100 m apart, east–west and north–south, 1 km square.
    fn grid_city() -> RoadIndex {
        let mut roads = Vec::new();
        for k in 0..=10 {
            let offset = f64::from(k) * 100.0;
            roads.push(RoadLine::two_way(vec![
                (LON, LAT + metres_north(offset)),
                (LON + metres_east(1000.0), LAT + metres_north(offset)),
            ]));
            roads.push(RoadLine::two_way(vec![
                (LON + metres_east(offset), LAT),
                (LON + metres_east(offset), LAT + metres_north(1000.0)),
            ]));
        }
        RoadIndex::new(roads)
    }

    /// A drive east along the road at `north_m`, 10 m a second, with a few metres of
    /// wandering error; `shift` moves every fix.
    fn drive_east(north_m: f64, shift: (f64, f64)) -> Vec<Fix> {
        (0..60)
            .map(|s| {
                let wander = 3.0 * (f64::from(s) / 7.0).sin();
                fix(
                    100.0 + 10.0 * f64::from(s) + shift.0,
                    north_m + wander + shift.1,
                    i64::from(s),
                )
            })
            .collect()
    }

    #[test]
    fn a_drive_along_a_mapped_road_is_on_it_and_the_same_drive_shifted_off_it_is_not() {
        let roads = grid_city();
        let config = RoadConfig::default();
        let cases = [
            ("on the road, GNSS noise", (0.0, 0.0), false),
            ("10 m off (a wide road's outer lane)", (0.0, 10.0), false),
            ("30 m north: between two roads", (0.0, 30.0), true),
            ("50 m north: between two roads", (0.0, 50.0), true),
            ("40 m south: between two roads", (0.0, -40.0), true),
            // On the parallel road: the fixes lie on a road that runs their way.
            ("100 m north: the next street", (0.0, 100.0), false),
        ];
        for (name, shift, held) in cases {
            let fit = road_fit(&drive_east(300.0, shift), &roads, &config);
            assert!(fit.judged >= 55, "{name}: {fit:?}");
            assert_eq!(fit.is_off_road(&config), held, "{name}: {fit:?}");
        }
    }

    #[test]
    fn a_road_that_runs_another_way_does_not_carry_a_drive() {
        // Driving east along the north–south road at 500 m east: every fix is near that
        // road, none runs its way (the cross streets are at 300 and 400 m north).
        let roads = grid_city();
        let config = RoadConfig::default();
        let fixes: Vec<Fix> = (0..40)
            .map(|s| fix(500.0 + f64::from(s % 2), 340.0 + f64::from(s), i64::from(s)))
            .collect();
        let along: Vec<Fix> = fixes
            .iter()
            .enumerate()
            .map(|(s, f)| Fix {
                heading: Some(90.0 + if s % 2 == 0 { 5.0 } else { -5.0 }),
                ..*f
            })
            .collect();
        let fit = road_fit(&along, &roads, &config);
        assert_eq!(fit.judged, 40);
        assert!(fit.is_off_road(&config), "{fit:?}");
    }

    #[test]
    fn a_one_way_road_carries_a_drive_only_its_way() {
        // A road east–west at 300 m north, one-way eastbound; two-way roads far off (at 0
        // and 1000 m north) make the mapped area.
        let line = |north: f64| {
            vec![
                (LON, LAT + metres_north(north)),
                (LON + metres_east(1000.0), LAT + metres_north(north)),
            ]
        };
        let roads = RoadIndex::new([
            RoadLine::one_way(line(300.0)),
            RoadLine::two_way(line(0.0)),
            RoadLine::two_way(line(1000.0)),
        ]);
        let config = RoadConfig::default();
        let east = drive_east(300.0, (0.0, 0.0));
        let mut west = east.clone();
        west.reverse();
        for (n, fix) in west.iter_mut().enumerate() {
            fix.time = TimestampMs(1_700_000_000_000 + n as i64 * 1000);
        }
        assert!(!road_fit(&east, &roads, &config).is_off_road(&config));
        assert!(road_fit(&west, &roads, &config).is_off_road(&config));
    }

    #[test]
    fn outside_the_mapped_area_or_standing_still_nothing_is_judged() {
        let roads = grid_city();
        let config = RoadConfig::default();
        let far = drive_east(300.0, (5_000.0, 0.0));
        assert_eq!(road_fit(&far, &roads, &config).judged, 0);
        let parked: Vec<Fix> = (0..30).map(|s| fix(150.0, 250.0, s)).collect();
        assert_eq!(road_fit(&parked, &roads, &config).judged, 0);
        let nothing = RoadIndex::new(Vec::new());
        assert!(nothing.is_empty());
        assert_eq!(
            road_fit(&drive_east(300.0, (0.0, 50.0)), &nothing, &config),
            RoadFit::default()
        );
    }

    #[test]
    fn a_device_caught_off_the_roads_is_judged_on_its_record() {
        let config = RoadConfig::default();
        let fit = |judged, off| RoadFit { judged, off };
        let cases = [
            (
                "one capture off: only it",
                vec![fit(100, 60), fit(100, 2)],
                vec![true, false],
            ),
            (
                "its luckier captures lean off the roads too",
                vec![fit(55, 7), fit(100, 60), fit(95, 24)],
                vec![true, true, true],
            ),
            (
                "an honest driver's captures never lean",
                vec![fit(100, 1), fit(100, 2), fit(40, 0)],
                vec![false, false, false],
            ),
            (
                "leaning alone holds nothing",
                vec![fit(55, 7), fit(95, 24)],
                vec![false, false],
            ),
            ("nothing judged", vec![RoadFit::default()], vec![false]),
        ];
        for (name, fits, held) in cases {
            assert_eq!(device_holds(&fits, &config), held, "{name}");
        }
    }

    #[test]
    fn a_few_fixes_off_at_a_turn_never_hold_a_capture() {
        let config = RoadConfig::default();
        let few = RoadFit {
            judged: 100,
            off: 7,
        };
        let short = RoadFit { judged: 10, off: 7 };
        let most = RoadFit { judged: 14, off: 8 };
        let a_quarter = RoadFit {
            judged: 40,
            off: 10,
        };
        assert!(!few.is_off_road(&config));
        assert!(!short.is_off_road(&config));
        assert!(most.is_off_road(&config));
        assert!(!a_quarter.is_off_road(&config));
    }
}
