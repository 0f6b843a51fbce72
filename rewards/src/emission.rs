//! The emission schedule: how much an epoch pays for fresh coverage, declining over time so
//! that map consumers' spending (consumption rewards) takes over from the subsidy.

use crate::regions::PPM;
use crate::{EPOCH_MS, EpochId};

/// How the emission changes from one epoch to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmissionCurve {
    /// Every epoch pays the same.
    Flat,
    /// Every epoch pays `decline_ppm` millionths less than the one before (rounded down),
    /// never less than `floor`.
    Geometric { decline_ppm: u64, floor: u128 },
    /// The emission halves every `epochs` epochs (Helium's and Bitcoin's schedule), never
    /// less than `floor`.
    Halving { epochs: u32, floor: u128 },
}

/// The emission of every epoch: `initial` in `start` and before it, then along `curve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmissionSchedule {
    pub initial: u128,
    pub start: EpochId,
    pub curve: EmissionCurve,
}

impl EmissionSchedule {
    /// The emission of `epoch`. Pure integer math: anyone recomputes the same amount.
    pub fn at(&self, epoch: EpochId) -> u128 {
        let elapsed = epoch
            .starts_at()
            .millis_since(self.start.starts_at())
            .max(0)
            / EPOCH_MS;
        match self.curve {
            EmissionCurve::Flat => self.initial,
            EmissionCurve::Geometric { decline_ppm, floor } => {
                let keep = u128::from(PPM - decline_ppm.min(PPM));
                let mut amount = self.initial;
                for _ in 0..elapsed {
                    if amount <= floor {
                        break;
                    }
                    // amount × keep / PPM without overflow: keep ≤ PPM.
                    amount = amount / u128::from(PPM) * keep
                        + amount % u128::from(PPM) * keep / u128::from(PPM);
                }
                amount.max(floor.min(self.initial))
            }
            EmissionCurve::Halving { epochs, floor } => {
                let halvings = elapsed / i64::from(epochs.max(1));
                let amount = u32::try_from(halvings)
                    .ok()
                    .and_then(|shift| self.initial.checked_shr(shift))
                    .unwrap_or(0);
                amount.max(floor.min(self.initial))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn week(text: &str) -> EpochId {
        text.parse().unwrap()
    }

    #[test]
    fn flat_pays_the_same_every_epoch() {
        let schedule = EmissionSchedule {
            initial: 1_000,
            start: week("2026-W01"),
            curve: EmissionCurve::Flat,
        };
        assert_eq!(schedule.at(week("2020-W01")), 1_000);
        assert_eq!(schedule.at(week("2040-W30")), 1_000);
    }

    #[test]
    fn geometric_declines_by_its_rate_from_its_start() {
        let schedule = EmissionSchedule {
            initial: 1_000_000,
            start: week("2026-W10"),
            curve: EmissionCurve::Geometric {
                decline_ppm: 100_000,
                floor: 500_000,
            },
        };
        assert_eq!(schedule.at(week("2026-W09")), 1_000_000, "before the start");
        assert_eq!(schedule.at(week("2026-W10")), 1_000_000);
        assert_eq!(schedule.at(week("2026-W11")), 900_000);
        assert_eq!(schedule.at(week("2026-W12")), 810_000);
        assert_eq!(schedule.at(week("2026-W13")), 729_000);
        assert_eq!(schedule.at(week("2026-W17")), 500_000, "held at the floor");
        assert_eq!(schedule.at(week("2036-W17")), 500_000);
    }

    #[test]
    fn halving_halves_every_n_epochs_across_years() {
        let schedule = EmissionSchedule {
            initial: 1 << 20,
            start: week("2026-W50"),
            curve: EmissionCurve::Halving {
                epochs: 4,
                floor: 0,
            },
        };
        assert_eq!(schedule.at(week("2026-W53")), 1 << 20);
        assert_eq!(
            schedule.at(week("2027-W01")),
            1 << 19,
            "four epochs after W50"
        );
        assert_eq!(schedule.at(week("2027-W05")), 1 << 18);
        assert_eq!(schedule.at(week("2126-W05")), 0, "shifted out, no overflow");
    }

    proptest! {
        #[test]
        fn every_curve_never_rises_and_never_crosses_its_floor(
            initial in 0u128..10u128.pow(30),
            decline_ppm in 0u64..=2_000_000,
            epochs in 0u32..60,
            floor in 0u128..10u128.pow(24),
            steps in 1i64..300,
        ) {
            let start = week("2026-W01");
            for curve in [
                EmissionCurve::Geometric { decline_ppm, floor },
                EmissionCurve::Halving { epochs, floor },
            ] {
                let schedule = EmissionSchedule { initial, start, curve };
                let mut previous = schedule.at(start);
                prop_assert_eq!(previous, initial);
                let mut epoch = start;
                for _ in 0..steps {
                    epoch = epoch.next();
                    let amount = schedule.at(epoch);
                    prop_assert!(amount <= previous);
                    prop_assert!(amount >= floor.min(initial));
                    previous = amount;
                }
            }
        }
    }
}
