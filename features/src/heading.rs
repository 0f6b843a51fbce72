//! Which way the camera looked. A receiver's course over ground is good while the car
//! moves and noise when it crawls; a frame without a trustworthy one takes the bearing of
//! the track through its neighbours (the frames before and after it, at least
//! [`MIN_BASELINE_M`] apart). A frame with neither has no heading, and its detections are
//! not placed ([`crate::Unplaced::NoHeading`]).

use serde::{Deserialize, Serialize};

use crate::geo::{LatLon, bearing_deg, distance_m};

/// Below this speed a receiver's heading is not trusted, m/s.
pub const MIN_TRUSTED_SPEED_MS: f64 = 2.0;
/// The shortest stretch of track whose bearing stands for a heading, metres.
pub const MIN_BASELINE_M: f64 = 5.0;
/// Neighbours further apart in time than this do not describe the frame's heading, ms.
const MAX_NEIGHBOUR_GAP_MS: i64 = 15_000;

/// Where a heading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadingSource {
    /// The receiver's course over ground, while moving.
    Receiver,
    /// The bearing of the track through the neighbouring frames.
    Track,
}

impl HeadingSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receiver => "receiver",
            Self::Track => "track",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Receiver, Self::Track]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A heading in degrees clockwise from north, with where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Heading {
    pub deg: f64,
    pub source: HeadingSource,
}

/// One frame of a sequence as the receiver reported it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackPoint {
    pub time_ms: i64,
    pub position: LatLon,
    pub heading: Option<f64>,
    pub speed_ms: Option<f64>,
}

/// The heading of every point of one time-ordered sequence.
pub fn headings(points: &[TrackPoint]) -> Vec<Option<Heading>> {
    (0..points.len())
        .map(|i| receiver_heading(&points[i]).or_else(|| track_heading(points, i)))
        .collect()
}

fn receiver_heading(point: &TrackPoint) -> Option<Heading> {
    let deg = point
        .heading
        .filter(|h| h.is_finite() && (0.0..360.0).contains(h))?;
    let moving = point
        .speed_ms
        .is_none_or(|speed| speed >= MIN_TRUSTED_SPEED_MS);
    moving.then_some(Heading {
        deg,
        source: HeadingSource::Receiver,
    })
}

/// The bearing from the nearest point behind to the nearest point ahead that together span
/// at least [`MIN_BASELINE_M`], within [`MAX_NEIGHBOUR_GAP_MS`] of point `i`.
fn track_heading(points: &[TrackPoint], i: usize) -> Option<Heading> {
    let here = points[i];
    let near = |p: &TrackPoint| (p.time_ms - here.time_ms).abs() <= MAX_NEIGHBOUR_GAP_MS;
    let mut before = i;
    let mut after = i;
    loop {
        let (a, b) = (points[before].position, points[after].position);
        if distance_m(a, b) >= MIN_BASELINE_M {
            return Some(Heading {
                deg: bearing_deg(a, b),
                source: HeadingSource::Track,
            });
        }
        let can_back = before > 0 && near(&points[before - 1]);
        let can_ahead = after + 1 < points.len() && near(&points[after + 1]);
        match (can_back, can_ahead) {
            (false, false) => return None,
            (true, false) => before -= 1,
            (false, true) => after += 1,
            (true, true) if i - before <= after - i => before -= 1,
            (true, true) => after += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::destination;

    fn point(time_s: i64, position: LatLon, heading: Option<f64>, speed: f64) -> TrackPoint {
        TrackPoint {
            time_ms: time_s * 1000,
            position,
            heading,
            speed_ms: Some(speed),
        }
    }

    #[test]
    fn a_moving_receiver_is_trusted_and_a_crawling_one_is_replaced_by_the_track() {
        let start = LatLon::new(43.73, 7.42);
        let points: Vec<TrackPoint> = (0..5)
            .map(|s| {
                let at = destination(start, 90.0, 10.0 * s as f64);
                // The receiver claims north while crawling at the third point.
                let (heading, speed) = if s == 2 {
                    (Some(0.0), 0.5)
                } else {
                    (Some(91.0), 10.0)
                };
                point(s, at, heading, speed)
            })
            .collect();
        let found = headings(&points);
        assert_eq!(found[0].unwrap().source, HeadingSource::Receiver);
        assert_eq!(found[0].unwrap().deg, 91.0);
        let derived = found[2].unwrap();
        assert_eq!(derived.source, HeadingSource::Track);
        assert!((derived.deg - 90.0).abs() < 0.1, "{derived:?}");
    }

    #[test]
    fn a_car_standing_still_without_a_heading_has_none() {
        let here = LatLon::new(43.73, 7.42);
        let points: Vec<TrackPoint> = (0..4).map(|s| point(s, here, None, 0.0)).collect();
        assert!(headings(&points).iter().all(Option::is_none));
        assert!(headings(&points[..1]).iter().all(Option::is_none));
    }
}
