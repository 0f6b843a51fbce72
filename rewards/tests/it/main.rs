//! Integration tests of rewards: a hand-checked multi-driver scenario on a real drive through
//! a real SQLite store, property tests of the pure core, and the published trees checked by
//! OpenZeppelin's own `@openzeppelin/merkle-tree`.

mod openzeppelin;
mod properties;
mod scenario;

use std::path::PathBuf;

use model::TimestampMs;

/// The first `limit` positions of the real Munich car drive (bmwcarit/barefoot), 1 Hz.
pub fn munich_positions(limit: usize) -> Vec<(f64, f64)> {
    #[derive(serde::Deserialize)]
    struct Sample {
        point: String,
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../datasets/gps/barefoot_munich_x0001-001.json");
    let samples: Vec<Sample> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    samples
        .iter()
        .take(limit)
        .map(|s| {
            let inner = s.point.trim_start_matches("POINT(").trim_end_matches(')');
            let (lon, lat) = inner.split_once(' ').unwrap();
            (lat.parse().unwrap(), lon.parse().unwrap())
        })
        .collect()
}

pub const HOUR: i64 = 3600 * 1000;
pub const DAY: i64 = 24 * HOUR;

pub fn at(epoch: rewards::EpochId, offset_ms: i64) -> TimestampMs {
    epoch.starts_at().saturating_add_ms(offset_ms)
}
