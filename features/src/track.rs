//! Linking the rays of one sequence: a sign seen in ten consecutive frames is one track.
//! Rays are taken in time order; each joins the open track of its class whose current
//! estimate it points at (within [`GATE_SIGMAS`] standard deviations, in front of the
//! camera) and which it follows closely in time, the best-fitting one when several fit —
//! or starts a track. One frame never gives two rays to one track.

use std::collections::BTreeMap;

use crate::geo::Local;
use crate::observation::Ray;
use crate::solve::{Noise, residual_sigmas, solve};

/// How far off a track's estimate a ray may point and still join it, in its σ.
pub const GATE_SIGMAS: f64 = 3.0;
/// A track not seen for this long is closed, ms.
pub const MAX_TRACK_GAP_MS: i64 = 8_000;

/// The tracks of `rays`, each time-ordered; tracks of different sequences never mix.
pub fn tracks(rays: Vec<Ray>, noise: &Noise) -> Vec<Vec<Ray>> {
    let mut by_sequence: BTreeMap<(Option<String>, String), Vec<Ray>> = BTreeMap::new();
    for ray in rays {
        let key = (ray.sequence.clone(), ray.capture.clone());
        by_sequence.entry(key).or_default().push(ray);
    }
    let mut all = Vec::new();
    for (_, mut rays) in by_sequence {
        rays.sort_by(|a, b| {
            a.time_ms
                .cmp(&b.time_ms)
                .then(a.bearing_deg.total_cmp(&b.bearing_deg))
        });
        all.extend(link(rays, noise));
    }
    all
}

fn link(rays: Vec<Ray>, noise: &Noise) -> Vec<Vec<Ray>> {
    let mut tracks: Vec<Vec<Ray>> = Vec::new();
    for ray in rays {
        let best = tracks
            .iter()
            .enumerate()
            .filter(|(_, track)| fits_in_time(track, &ray))
            .filter_map(|(i, track)| fit(track, &ray, noise).map(|sigmas| (i, sigmas)))
            .filter(|(_, sigmas)| *sigmas <= GATE_SIGMAS)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((i, _)) => tracks[i].push(ray),
            None => tracks.push(vec![ray]),
        }
    }
    tracks
}

fn fits_in_time(track: &[Ray], ray: &Ray) -> bool {
    let Some(last) = track.last() else {
        return false;
    };
    last.class == ray.class
        && ray.time_ms - last.time_ms <= MAX_TRACK_GAP_MS
        && track.iter().all(|seen| seen.frame != ray.frame)
}

/// How many σ the track's estimate lies off `ray`.
fn fit(track: &[Ray], ray: &Ray, noise: &Noise) -> Option<f64> {
    let refs: Vec<&Ray> = track.iter().collect();
    let estimate = solve(&refs, noise)?;
    let local = Local::around(ray.origin);
    Some(residual_sigmas(
        ray,
        local.to_xy(estimate.position),
        estimate.fit_covariance,
        &local,
        noise,
    ))
}

#[cfg(test)]
mod tests {
    use model::FrameId;

    use super::*;
    use crate::geo::{LatLon, bearing_deg, destination, distance_m};
    use crate::heading::HeadingSource;

    fn ray(time_s: i64, origin: LatLon, target: LatLon, class: &str) -> Ray {
        Ray {
            frame: FrameId::of_bytes(&time_s.to_le_bytes()),
            capture: "c".into(),
            sequence: Some("c-0".into()),
            contributor: "alice".into(),
            time_ms: time_s * 1000,
            class: class.into(),
            origin,
            bearing_deg: bearing_deg(origin, target),
            range_m: distance_m(origin, target),
            heading_source: HeadingSource::Receiver,
        }
    }

    #[test]
    fn two_signs_on_both_sides_seen_together_make_two_tracks() {
        let road = LatLon::new(43.7384, 7.4246);
        let left = destination(destination(road, 0.0, 40.0), 270.0, 4.0);
        let right = destination(destination(road, 0.0, 45.0), 90.0, 4.0);
        let mut rays = Vec::new();
        for s in 0..4 {
            let car = destination(road, 0.0, 8.0 * s as f64);
            rays.push(ray(s, car, left, "stop"));
            rays.push(ray(s, car, right, "stop"));
        }
        let mut other = ray(2, destination(road, 0.0, 16.0), right, "yield");
        other.frame = FrameId::of_bytes(b"other");
        rays.push(other);
        let found = tracks(rays, &Noise::default());
        let mut sizes: Vec<usize> = found.iter().map(Vec::len).collect();
        sizes.sort();
        assert_eq!(sizes, vec![1, 4, 4]);
        for track in &found {
            let east = track.iter().all(|r| r.bearing_deg < 180.0);
            let west = track.iter().all(|r| r.bearing_deg > 180.0);
            assert!(east || west, "a track mixes the two sides: {track:?}");
        }
    }

    #[test]
    fn a_long_gap_closes_a_track() {
        let road = LatLon::new(43.7384, 7.4246);
        let sign = destination(destination(road, 0.0, 40.0), 90.0, 4.0);
        let rays = vec![
            ray(0, road, sign, "stop"),
            ray(60, destination(road, 0.0, 10.0), sign, "stop"),
        ];
        assert_eq!(tracks(rays, &Noise::default()).len(), 2);
    }
}
