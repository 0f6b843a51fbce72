//! A device's reputation: how far its history lets its work be trusted, from 0 to 1 (in
//! millionths), and why. Pure; the rewards shell weights a device's points by it, and its
//! owner sees it with the reasons.
//!
//! Rule: every fraud finding against the device that stands (a case open, appealed or
//! confirmed; a cleared one does not count) costs [`FINDING_COST_PPM`], and each finding's
//! cost halves with every [`RECOVERY_FRAMES`] frames the device had accepted after it. A
//! device caught once earns half until it drives clean again; twice, nothing; clean
//! driving earns its trust back, waiting alone does not.

use serde::{Deserialize, Serialize};

use crate::TimestampMs;

/// Full trust, in millionths.
pub const FULL_PPM: u32 = 1_000_000;
/// What one standing finding costs, fresh.
pub const FINDING_COST_PPM: u32 = 500_000;
/// Accepted frames after a finding that halve its cost (about 16 km at 8 m a frame).
pub const RECOVERY_FRAMES: u64 = 2_000;

/// One finding that stands against a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// When the flagged frames were taken.
    pub at: TimestampMs,
    /// Frames of the device accepted since.
    pub clean_frames_since: u64,
}

/// The reputation, in millionths of full trust, of a device with these findings.
pub fn reputation_ppm(findings: &[Finding]) -> u32 {
    let cost: f64 = findings
        .iter()
        .map(|finding| {
            let halvings = finding.clean_frames_since as f64 / RECOVERY_FRAMES as f64;
            f64::from(FINDING_COST_PPM) * 0.5f64.powf(halvings)
        })
        .sum();
    // Whole millionths, rounded down: the same findings always give the same figure.
    (f64::from(FULL_PPM) - cost)
        .clamp(0.0, f64::from(FULL_PPM))
        .floor() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(clean: u64) -> Finding {
        Finding {
            at: TimestampMs(0),
            clean_frames_since: clean,
        }
    }

    #[test]
    fn findings_cost_trust_and_clean_driving_earns_it_back() {
        assert_eq!(reputation_ppm(&[]), FULL_PPM);
        assert_eq!(reputation_ppm(&[finding(0)]), 500_000);
        assert_eq!(reputation_ppm(&[finding(0), finding(0)]), 0);
        assert_eq!(reputation_ppm(&[finding(0), finding(0), finding(0)]), 0);
        assert_eq!(reputation_ppm(&[finding(RECOVERY_FRAMES)]), 750_000);
        assert_eq!(reputation_ppm(&[finding(2 * RECOVERY_FRAMES)]), 875_000);
        // Long clean driving brings it close to full trust, never past it.
        let recovered = reputation_ppm(&[finding(40 * RECOVERY_FRAMES)]);
        assert!((999_999..=FULL_PPM).contains(&recovered), "{recovered}");
    }
}
