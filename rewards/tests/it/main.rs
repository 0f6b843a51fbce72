//! Integration tests of rewards: a hand-checked multi-driver scenario on a real drive through
//! a real SQLite store, property tests of the pure core, and the published trees checked by
//! OpenZeppelin's own `@openzeppelin/merkle-tree`.

mod openzeppelin;
mod place;
mod properties;
#[path = "../../../store/tests/it/received.rs"]
mod received;
mod scenario;

use model::TimestampMs;

/// The first `limit` positions of the real Munich car drive (bmwcarit/barefoot), 1 Hz.
pub fn munich_positions(limit: usize) -> Vec<(f64, f64)> {
    datasets::read_barefoot(&datasets::path("gps/barefoot_munich_x0001-001.json"))
        .unwrap()
        .iter()
        .take(limit)
        .map(|fix| (fix.lat, fix.lon))
        .collect()
}

pub const HOUR: i64 = 3600 * 1000;
pub const DAY: i64 = 24 * HOUR;

pub fn at(epoch: rewards::EpochId, offset_ms: i64) -> TimestampMs {
    epoch.starts_at().saturating_add_ms(offset_ms)
}
