//! Where an object is, from the rays that saw it: weighted least squares in a local flat
//! frame. Each ray contributes two measurements — the bearing (tight across the ray: its
//! error grows with range) and the size range (loose along the ray) — so bearings that
//! spread intersect, bearings that do not (one view, or a car driving straight at the
//! object) fall back on the size range, and the normal matrix is never singular. Rays that
//! disagree with the rest by more than four standard deviations are dropped once and the
//! rest solved again.

use serde::{Deserialize, Serialize};

use crate::geo::{LatLon, Local, angle_between};
use crate::observation::Ray;

/// The noise the solver assumes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Noise {
    /// Heading plus box-column error, degrees (1σ).
    pub bearing_deg: f64,
    /// Relative error of a size range (1σ).
    pub range_share: f64,
    /// A consumer receiver's position error, metres (1σ per axis).
    pub position_m: f64,
}

impl Default for Noise {
    fn default() -> Self {
        Self {
            bearing_deg: 3.0,
            range_share: 0.35,
            position_m: 2.5,
        }
    }
}

/// Bearings that spread less than this, degrees, are parallel: no intersection.
pub const MIN_SPREAD_DEG: f64 = 4.0;

/// How a position was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Bearings from views at least [`MIN_SPREAD_DEG`] apart, intersected.
    Intersection,
    /// One view, or parallel bearings: the size range along the mean ray.
    SizeOnly,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intersection => "intersection",
            Self::SizeOnly => "size_only",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Intersection, Self::SizeOnly]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

/// A solved position with its 1σ uncertainty (metres, worst axis).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub position: LatLon,
    pub uncertainty_m: f64,
    /// Covariance of the fit alone (east, north; m²), without the receiver bias the rays of
    /// one pass share: how far off this estimate another ray of the same pass may point.
    pub fit_covariance: [[f64; 2]; 2],
    pub method: Method,
    /// The widest angle between two of its rays, degrees.
    pub spread_deg: f64,
}

/// Solves the rays; `None` only for no rays.
pub fn solve(rays: &[&Ray], noise: &Noise) -> Option<Estimate> {
    let first = rays.first()?;
    let local = Local::around(first.origin);
    let all: Vec<usize> = (0..rays.len()).collect();
    let (point, _) = least_squares(rays, &all, &local, noise);
    let kept: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| residual_sigmas(rays[i], point, [[0.0; 2]; 2], &local, noise) <= 4.0)
        .collect();
    let kept = if kept.is_empty() || kept.len() == all.len() {
        all
    } else {
        kept
    };
    let (point, covariance) = least_squares(rays, &kept, &local, noise);
    let spread_deg = spread(kept.iter().map(|&i| rays[i].bearing_deg));
    let sequences: std::collections::BTreeSet<_> =
        kept.iter().map(|&i| rays[i].sequence.as_deref()).collect();
    // Each pass carries one receiver bias the rays of that pass share: it averages over
    // passes, not over rays.
    let bias = noise.position_m.powi(2) / sequences.len().max(1) as f64;
    Some(Estimate {
        position: local.to_lat_lon(point),
        uncertainty_m: (largest_eigenvalue(covariance) + bias).sqrt(),
        fit_covariance: covariance,
        method: if spread_deg >= MIN_SPREAD_DEG {
            Method::Intersection
        } else {
            Method::SizeOnly
        },
        spread_deg,
    })
}

type Matrix = [[f64; 2]; 2];

/// The weighted least-squares point of rays `use_`, and its covariance.
fn least_squares(
    rays: &[&Ray],
    use_: &[usize],
    local: &Local,
    noise: &Noise,
) -> ((f64, f64), Matrix) {
    let mut a = [[0.0; 2]; 2];
    let mut b = [0.0; 2];
    for &i in use_ {
        let ray = rays[i];
        let origin = local.to_xy(ray.origin);
        let u = unit(ray.bearing_deg);
        let (across, along) = sigmas(ray, noise);
        let (w_across, w_along) = (1.0 / across.powi(2), 1.0 / along.powi(2));
        let target = (origin.0 + ray.range_m * u.0, origin.1 + ray.range_m * u.1);
        for r in 0..2 {
            for c in 0..2 {
                let uu = [u.0, u.1][r] * [u.0, u.1][c];
                let identity = if r == c { 1.0 } else { 0.0 };
                a[r][c] += w_across * (identity - uu) + w_along * uu;
            }
        }
        // P·origin for the bearing, (u·uᵀ)·target for the range.
        let o = [origin.0, origin.1];
        let u_dot_o = u.0 * o[0] + u.1 * o[1];
        let u_dot_t = u.0 * target.0 + u.1 * target.1;
        let uv = [u.0, u.1];
        for r in 0..2 {
            b[r] += w_across * (o[r] - uv[r] * u_dot_o) + w_along * uv[r] * u_dot_t;
        }
    }
    let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    let inverse = [
        [a[1][1] / det, -a[0][1] / det],
        [-a[1][0] / det, a[0][0] / det],
    ];
    let point = (
        inverse[0][0] * b[0] + inverse[0][1] * b[1],
        inverse[1][0] * b[0] + inverse[1][1] * b[1],
    );
    (point, inverse)
}

/// Fix-to-fix jitter of a receiver's position within one pass, metres (1σ). Most of a
/// receiver's error is a bias it keeps for minutes: it moves a pass's rays together and
/// leaves their intersection's shape alone, so it enters the uncertainty per pass, not
/// per ray.
const JITTER_M: f64 = 0.5;

/// 1σ of a ray's error across and along it, metres.
fn sigmas(ray: &Ray, noise: &Noise) -> (f64, f64) {
    let range = ray.range_m.max(1.0);
    let across = (range * noise.bearing_deg.to_radians()).hypot(JITTER_M);
    let along = (range * noise.range_share).hypot(JITTER_M);
    (across, along)
}

/// How many standard deviations `point` — itself uncertain by `point_covariance` (east,
/// north; m²) — lies off `ray` (the worse of across and along).
pub fn residual_sigmas(
    ray: &Ray,
    point: (f64, f64),
    point_covariance: [[f64; 2]; 2],
    local: &Local,
    noise: &Noise,
) -> f64 {
    let origin = local.to_xy(ray.origin);
    let u = unit(ray.bearing_deg);
    let (dx, dy) = (point.0 - origin.0, point.1 - origin.1);
    let along = u.0 * dx + u.1 * dy;
    let across = (u.0 * dy - u.1 * dx).abs();
    let (s_across, s_along) = sigmas(ray, noise);
    let projected = |d: (f64, f64)| {
        let c = point_covariance;
        (d.0 * (c[0][0] * d.0 + c[0][1] * d.1) + d.1 * (c[1][0] * d.0 + c[1][1] * d.1)).max(0.0)
    };
    let s_across = (s_across.powi(2) + projected((u.1, -u.0))).sqrt();
    let s_along = (s_along.powi(2) + projected(u)).sqrt();
    if along <= 0.0 {
        return f64::INFINITY; // behind the camera
    }
    (across / s_across).max((along - ray.range_m).abs() / s_along)
}

fn unit(bearing_deg: f64) -> (f64, f64) {
    let b = bearing_deg.to_radians();
    (b.sin(), b.cos())
}

fn largest_eigenvalue(m: Matrix) -> f64 {
    let trace = m[0][0] + m[1][1];
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let gap = (trace * trace / 4.0 - det).max(0.0).sqrt();
    (trace / 2.0 + gap).max(0.0)
}

fn spread(bearings: impl Iterator<Item = f64>) -> f64 {
    let bearings: Vec<f64> = bearings.collect();
    let mut widest: f64 = 0.0;
    for (i, a) in bearings.iter().enumerate() {
        for b in &bearings[i + 1..] {
            widest = widest.max(angle_between(*a, *b));
        }
    }
    widest
}

#[cfg(test)]
mod tests {
    use model::FrameId;

    use super::*;
    use crate::geo::{bearing_deg, destination, distance_m};
    use crate::heading::HeadingSource;

    fn ray_at(origin: LatLon, target: LatLon, range_m: f64) -> Ray {
        Ray {
            frame: FrameId::of_bytes(format!("{origin:?}").as_bytes()),
            capture: "c".into(),
            sequence: Some("c-0".into()),
            contributor: "alice".into(),
            time_ms: 0,
            class: "stop".into(),
            origin,
            bearing_deg: bearing_deg(origin, target),
            range_m,
            heading_source: HeadingSource::Receiver,
        }
    }

    #[test]
    fn bearings_that_spread_intersect_at_the_object_whatever_the_size_says() {
        let sign = LatLon::new(43.7384, 7.4246);
        // A car passing 4 m to the side, from 30 m to 9 m before the sign; sizes say 25% more.
        let rays: Vec<Ray> = (0..4)
            .map(|k| {
                let before = destination(sign, 180.0, 30.0 - 7.0 * k as f64);
                let origin = destination(before, 270.0, 4.0);
                let range = distance_m(origin, sign) * 1.25;
                ray_at(origin, sign, range)
            })
            .collect();
        let refs: Vec<&Ray> = rays.iter().collect();
        let estimate = solve(&refs, &Noise::default()).unwrap();
        assert_eq!(estimate.method, Method::Intersection);
        let error = distance_m(estimate.position, sign);
        assert!(error < 3.0, "{error} m off: {estimate:?}");
        // The size alone puts it a quarter further: ≈ 7.5 m off for the furthest view.
        let sizes_only = solve(&refs[..1], &Noise::default()).unwrap();
        assert!(distance_m(sizes_only.position, sign) > error);
    }

    #[test]
    fn one_view_or_parallel_bearings_fall_back_on_the_size_range() {
        let sign = LatLon::new(43.7384, 7.4246);
        let origin = destination(sign, 180.0, 20.0);
        let one = ray_at(origin, sign, 22.0);
        let estimate = solve(&[&one], &Noise::default()).unwrap();
        assert_eq!(estimate.method, Method::SizeOnly);
        assert!((distance_m(estimate.position, origin) - 22.0).abs() < 0.01);
        assert!(estimate.uncertainty_m > 5.0, "{estimate:?}");
        // Straight at it: three parallel bearings.
        let rays: Vec<Ray> = [30.0, 20.0, 10.0]
            .iter()
            .map(|d| ray_at(destination(sign, 180.0, *d), sign, *d))
            .collect();
        let refs: Vec<&Ray> = rays.iter().collect();
        let estimate = solve(&refs, &Noise::default()).unwrap();
        assert_eq!(estimate.method, Method::SizeOnly);
        assert!(distance_m(estimate.position, sign) < 1.0);
        assert!(estimate.position.is_plausible());
        assert_eq!(solve(&[], &Noise::default()), None);
    }

    #[test]
    fn a_ray_that_disagrees_with_the_rest_is_dropped() {
        let sign = LatLon::new(43.7384, 7.4246);
        let mut rays: Vec<Ray> = (0..5)
            .map(|k| {
                let origin =
                    destination(destination(sign, 180.0, 25.0 - 5.0 * k as f64), 270.0, 4.0);
                ray_at(origin, sign, distance_m(origin, sign))
            })
            .collect();
        rays[2].bearing_deg = (rays[2].bearing_deg + 40.0) % 360.0;
        let refs: Vec<&Ray> = rays.iter().collect();
        let estimate = solve(&refs, &Noise::default()).unwrap();
        assert!(distance_m(estimate.position, sign) < 1.0, "{estimate:?}");
    }
}
