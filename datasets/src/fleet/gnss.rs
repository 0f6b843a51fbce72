//! What a consumer dashcam's GNSS receiver makes of a true position: a slowly wandering
//! error of a few metres (so consecutive fixes do not zig-zag), an hdop and satellite count
//! that drift, and a short loss of signal now and then with weak fixes before it.
//!
//! Never does: multipath or urban-canyon models; the error is Gaussian, correlated in time.

use model::FixType;
use rand::Rng;

/// One standard normal draw (Box–Muller), from `rng` only.
pub(crate) fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The receiver's state during one trip.
#[derive(Debug, Clone)]
pub(crate) struct Receiver {
    east_m: f64,
    north_m: f64,
    hdop: f64,
    satellites: f64,
    fix: FixType,
}

/// What the receiver reports for one epoch, beside the position error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reading {
    pub east_m: f64,
    pub north_m: f64,
    pub hdop: f32,
    pub satellites: u8,
    pub fix_type: FixType,
}

/// Standard deviation of the position error per axis, metres.
const SIGMA_M: f64 = 2.0;
/// Correlation of the error from one second to the next.
const PERSISTENCE: f64 = 0.9;

impl Receiver {
    pub(crate) fn new(rng: &mut impl Rng) -> Self {
        Self {
            east_m: normal(rng) * SIGMA_M,
            north_m: normal(rng) * SIGMA_M,
            hdop: rng.gen_range(0.7..1.3),
            satellites: rng.gen_range(8.0..14.0),
            fix: if rng.gen_bool(0.1) {
                FixType::Dgps
            } else {
                FixType::Fix3d
            },
        }
    }

    /// The next second's reading; `weak` for the seconds before a loss of signal.
    pub(crate) fn next(&mut self, rng: &mut impl Rng, weak: bool) -> Reading {
        let innovation = SIGMA_M * (1.0 - PERSISTENCE * PERSISTENCE).sqrt();
        self.east_m = PERSISTENCE * self.east_m + innovation * normal(rng);
        self.north_m = PERSISTENCE * self.north_m + innovation * normal(rng);
        self.hdop = (self.hdop + 0.03 * normal(rng)).clamp(0.6, 2.0);
        self.satellites = (self.satellites + 0.2 * normal(rng)).clamp(6.0, 16.0);
        if weak {
            return Reading {
                east_m: self.east_m * 2.0,
                north_m: self.north_m * 2.0,
                hdop: rng.gen_range(4.5..9.0) as f32,
                satellites: rng.gen_range(3..=4),
                fix_type: FixType::Fix2d,
            };
        }
        Reading {
            east_m: self.east_m,
            north_m: self.north_m,
            hdop: ((self.hdop * 10.0).round() / 10.0) as f32,
            satellites: self.satellites.round() as u8,
            fix_type: self.fix,
        }
    }
}
