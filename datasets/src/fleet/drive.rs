//! One car driving one route: a speed profile (road speed, slower through turns,
//! accelerating from and braking to a stop) integrated in time, sampled at 1 Hz, and seen
//! through a [`Receiver`] (noise, quality, an occasional loss of signal).
//!
//! Never does: choose routes or times (the fleet does), or anything random outside the
//! generator it is handed.

use model::{Fix, TimestampMs};
use rand::Rng;

use super::device::Pose;
use super::gnss::Receiver;
use crate::geo::{bearing_deg, distance_m, lerp, offset};
use crate::graph::Route;

/// Forward acceleration, m/s².
const ACCELERATION: f64 = 1.5;
/// Comfortable braking, m/s².
const BRAKING: f64 = 2.0;
/// Spacing of the speed profile's samples along the route, metres.
const STEP_M: f64 = 2.0;
/// Share of trips that lose the signal once (a tunnel, a parking garage ramp).
const DROPOUT_SHARE: f64 = 0.3;

/// A point of the speed profile.
#[derive(Debug, Clone, Copy)]
struct Sample {
    position: (f64, f64),
    /// Seconds since the start.
    time_s: f64,
    speed_ms: f64,
    heading: f64,
}

/// The fastest a car takes a node where the road turns by `turn_deg`, m/s.
fn turn_speed(turn_deg: f64) -> f64 {
    if turn_deg < 25.0 {
        return f64::INFINITY;
    }
    (16.0 * (turn_deg.to_radians() / 2.0).cos().powi(2)).max(4.0)
}

/// The speed profile of `route` for a driver who keeps to `eagerness` (0..=1) of the road's
/// speed.
fn profile(route: &Route, eagerness: f64) -> Vec<Sample> {
    let mut points: Vec<((f64, f64), f64, f64)> = Vec::new(); // position, speed cap, heading
    for (i, edge) in route.edges.iter().enumerate() {
        let (a, b) = (route.points[i], route.points[i + 1]);
        let heading = bearing_deg(a, b);
        let steps = (edge.length_m / STEP_M).ceil().max(1.0) as usize;
        let mut cap = edge.speed_ms * eagerness;
        if i > 0 {
            let before = bearing_deg(route.points[i - 1], a);
            let turn = (heading - before).rem_euclid(360.0);
            cap = cap.min(turn_speed(turn.min(360.0 - turn)));
        }
        for step in 0..steps {
            points.push((lerp(a, b, step as f64 / steps as f64), cap, heading));
            cap = edge.speed_ms * eagerness;
        }
    }
    let last = *route.points.last().unwrap_or(&(0.0, 0.0));
    let last_heading = points.last().map_or(0.0, |p| p.2);
    points.push((last, 0.0, last_heading));

    let mut speeds: Vec<f64> = points.iter().map(|p| p.1).collect();
    speeds[0] = 0.0;
    let gaps: Vec<f64> = points
        .windows(2)
        .map(|pair| distance_m(pair[0].0, pair[1].0))
        .collect();
    for i in 1..speeds.len() {
        speeds[i] =
            speeds[i].min((speeds[i - 1].powi(2) + 2.0 * ACCELERATION * gaps[i - 1]).sqrt());
    }
    for i in (0..speeds.len() - 1).rev() {
        speeds[i] = speeds[i].min((speeds[i + 1].powi(2) + 2.0 * BRAKING * gaps[i]).sqrt());
    }
    let mut time_s = 0.0;
    let mut samples = Vec::with_capacity(points.len());
    for (i, point) in points.iter().enumerate() {
        if i > 0 {
            time_s += gaps[i - 1] / ((speeds[i - 1] + speeds[i]) / 2.0).max(0.05);
        }
        samples.push(Sample {
            position: point.0,
            time_s,
            speed_ms: speeds[i],
            heading: point.2,
        });
    }
    samples
}

/// The 1 Hz fixes of driving `route` from `start`, each with the car's true pose.
pub(crate) fn drive(
    route: &Route,
    start: TimestampMs,
    rng: &mut impl Rng,
) -> (Vec<Fix>, Vec<Pose>) {
    let eagerness = rng.gen_range(0.85..1.0);
    let samples = profile(route, eagerness);
    let duration_s = samples.last().map_or(0.0, |s| s.time_s).ceil() as usize;
    // A loss of signal, never in the first 30 s or the last 10 s of a drive.
    let dropout = rng.gen_bool(DROPOUT_SHARE).then(|| {
        let length = rng.gen_range(4..=15);
        let begin = rng.gen_range(30..(duration_s.saturating_sub(length + 10)).max(31));
        begin..begin + length
    });
    let dropout = dropout.filter(|lost| lost.end + 10 <= duration_s);
    let mut receiver = Receiver::new(rng);
    let altitude = rng.gen_range(5.0..120.0);
    let mut fixes = Vec::with_capacity(duration_s + 1);
    let mut poses = Vec::with_capacity(duration_s + 1);
    let mut at = 0;
    for second in 0..=duration_s {
        let t = second as f64;
        while at + 1 < samples.len() - 1 && samples[at + 1].time_s <= t {
            at += 1;
        }
        let (a, b) = (samples[at], samples[(at + 1).min(samples.len() - 1)]);
        let span = b.time_s - a.time_s;
        let share = if span > 0.0 {
            ((t - a.time_s) / span).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let weak = dropout
            .as_ref()
            .is_some_and(|lost| (lost.start.saturating_sub(3)..lost.start).contains(&second));
        let reading = receiver.next(rng, weak);
        if dropout.as_ref().is_some_and(|lost| lost.contains(&second)) {
            continue;
        }
        let truth = lerp(a.position, b.position, share);
        let speed = a.speed_ms + (b.speed_ms - a.speed_ms) * share;
        let (lon, lat) = offset(truth, reading.east_m, reading.north_m);
        let reported_speed = (speed + 0.15 * super::gnss::normal(rng)).max(0.0);
        poses.push(Pose {
            position: truth,
            heading_deg: a.heading.rem_euclid(360.0),
            speed_ms: speed,
        });
        fixes.push(Fix {
            time: start.saturating_add_ms(second as i64 * 1000),
            lat: round7(lat),
            lon: round7(lon),
            alt: Some(((altitude + reading.north_m * 0.5) * 10.0).round() / 10.0),
            heading: (speed > 0.5).then(|| ((a.heading * 100.0).round() / 100.0).rem_euclid(360.0)),
            speed: Some((reported_speed * 100.0).round() / 100.0),
            fix_type: reading.fix_type,
            satellites: reading.satellites,
            hdop: reading.hdop,
        });
    }
    (fixes, poses)
}

/// What a track generator makes of `route`: a fix every `every_s` seconds at a set
/// `speed_ms`, exactly on the road, with good quality fields and no receiver noise — the
/// track a spoofer sends without driving.
pub(crate) fn generated(
    route: &Route,
    start: TimestampMs,
    speed_ms: f64,
    every_s: u32,
) -> (Vec<Fix>, Vec<Pose>) {
    let step_m = speed_ms * f64::from(every_s.max(1));
    let mut fixes = Vec::new();
    let mut poses = Vec::new();
    let mut travelled = 0.0;
    let mut next_at = 0.0;
    for pair in route.points.windows(2) {
        let leg = distance_m(pair[0], pair[1]);
        let heading = bearing_deg(pair[0], pair[1]);
        while leg > 0.0 && next_at <= travelled + leg {
            let (lon, lat) = lerp(pair[0], pair[1], (next_at - travelled) / leg);
            let n = fixes.len() as i64;
            poses.push(Pose {
                position: (lon, lat),
                heading_deg: heading,
                speed_ms,
            });
            fixes.push(Fix {
                time: start.saturating_add_ms(n * i64::from(every_s.max(1)) * 1000),
                lat: round7(lat),
                lon: round7(lon),
                alt: Some(50.0),
                heading: Some((heading * 100.0).round() / 100.0),
                speed: Some(speed_ms),
                fix_type: model::FixType::Fix3d,
                satellites: 10,
                hdop: 0.9,
            });
            next_at += step_m;
        }
        travelled += leg;
    }
    (fixes, poses)
}

pub(crate) fn round7(degrees: f64) -> f64 {
    (degrees * 1e7).round() / 1e7
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_slow_the_car_and_straight_roads_do_not() {
        assert!(turn_speed(10.0).is_infinite());
        assert!(turn_speed(90.0) < 9.0);
        assert_eq!(turn_speed(180.0), 4.0);
    }
}
