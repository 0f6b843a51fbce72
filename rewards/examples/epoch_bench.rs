//! Times closing a reward epoch of N frames (default 10 million) beside the floor of
//! computing the H3 cells of the same frames, and prints a Markdown table row per step.
//!
//!     cargo run --release -p rewards --example epoch_bench -- [frames] [rounds]
//!
//! Frames: 2 000 devices driving the real Munich drive (bmwcarit/barefoot, 1 194 fixes)
//! with a per-device lateral offset of up to ±300 m and different days, so cells repeat
//! across devices the way a fleet covers one city. The "close" measured here is the pure
//! part (compute + manifest + Merkle tree); reading the rows from SQLite is not included.

use std::collections::BTreeMap;
use std::time::Instant;

use h3o::LatLng;
use model::{COVERAGE_RESOLUTION, ContributorId, DeviceId, FrameId, PayoutAddress};
use rewards::manifest::publish;
use rewards::{EpochId, EpochInputs, Params, Payees, RewardFrame, compute};

const DEVICES: usize = 2_000;

fn munich() -> Vec<(f64, f64)> {
    datasets::read_barefoot(&datasets::path("gps/barefoot_munich_x0001-001.json"))
        .expect("datasets/")
        .iter()
        .map(|fix| (fix.lat, fix.lon))
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .map_or(10_000_000, |a| a.parse().expect("frames"));
    let rounds: usize = args.next().map_or(3, |a| a.parse().expect("rounds"));
    let epoch: EpochId = "2026-W40".parse().unwrap();
    let drive = munich();
    let devices: Vec<DeviceId> = (0..DEVICES)
        .map(|i| DeviceId::from(uuid::Uuid::from_u128(i as u128 + 1)))
        .collect();
    let owners: Vec<ContributorId> = (0..DEVICES)
        .map(|i| ContributorId::from(uuid::Uuid::from_u128(1_000_000 + i as u128)))
        .collect();

    let started = Instant::now();
    let frames: Vec<RewardFrame> = (0..count)
        .map(|n| {
            let device = n % DEVICES;
            let (lat, lon) = drive[(n / DEVICES) % drive.len()];
            // ±300 m lateral offset per device (≈ 0.0027° of latitude).
            let offset = ((device as f64 * 0.618_033_988_75).fract() - 0.5) * 0.0054;
            RewardFrame {
                frame: FrameId::from_digest(blake_ish(n)),
                device: devices[device],
                time: epoch.starts_at().saturating_add_ms(
                    (device as i64 % 7) * 86_400_000 + (n / DEVICES) as i64 * 1000,
                ),
                lat: lat + offset,
                lon: lon + offset,
                quality: 0.5 + (n % 50) as f64 / 100.0,
                fraud: None,
            }
        })
        .collect();
    eprintln!(
        "generated {count} frames in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let inputs = EpochInputs {
        epoch,
        params: Params::emission("1000000000000000000000", Params::DEFAULT_REFILL_MS),
        frames,
        cells_last_mapped: BTreeMap::new(),
        devices: devices
            .iter()
            .zip(&owners)
            .map(|(d, o)| {
                (
                    *d,
                    Payees {
                        owner: *o,
                        driver: None,
                        driver_share_bps: 0,
                    },
                )
            })
            .collect(),
        bounties: Vec::new(),
        regions_geojson: String::new(),
        consumption: Vec::new(),
        discoveries: Vec::new(),
        captures: Vec::new(),
        reputation: Default::default(),
    };
    let addresses: BTreeMap<ContributorId, PayoutAddress> = owners
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut bytes = [0u8; 20];
            bytes[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            (*o, PayoutAddress::from_bytes(bytes))
        })
        .collect();

    let (mut floor, mut close) = (Vec::new(), Vec::new());
    let mut root = String::new();
    let mut cells = 0;
    for round in 0..=rounds {
        let started = Instant::now();
        let distinct: std::collections::HashSet<u64> = inputs
            .frames
            .iter()
            .filter_map(|f| LatLng::new(f.lat, f.lon).ok())
            .map(|p| u64::from(p.to_cell(COVERAGE_RESOLUTION)))
            .collect();
        let floor_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let result = compute(&inputs).expect("compute");
        let published = publish(&inputs, &result, &addresses);
        let close_s = started.elapsed().as_secs_f64();
        cells = distinct.len();
        root = published.manifest.merkle_root.clone();
        eprintln!("round {round}: floor {floor_s:.2} s, close {close_s:.2} s");
        if round > 0 {
            // Round 0 is the warm-up.
            floor.push(floor_s);
            close.push(close_s);
        }
    }
    let (floor, close) = (median(floor), median(close));
    println!(
        "| frames | distinct res-12 cells | floor: h3o lat/lng→cell | close (compute + manifest + tree) | ratio |"
    );
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {count} | {cells} | {floor:.2} s | {close:.2} s | {:.1}× |",
        close / floor
    );
    println!("merkle root {root}");
}

/// A cheap deterministic 32-byte id per frame number.
fn blake_ish(n: usize) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut x = n as u64 ^ 0x9e37_79b9_7f4a_7c15;
    for chunk in out.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_be_bytes());
    }
    out
}
