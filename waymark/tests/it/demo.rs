//! `waymark demo --exit`, as CI and a newcomer run it: a small fleet on Monaco's real roads
//! through the real agent, upload, pipeline (OpenCV vision), tiles and reward epochs.

use crate::{output, waymark};

fn demo(data: &std::path::Path, extra: &[&str]) -> String {
    let mut args = vec![
        "--data",
        data.to_str().unwrap(),
        "demo",
        "--exit",
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let out = output(waymark(&args));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A fleet CI can wait for: two honest drivers and one of each attack, two days.
const SMALL_FLEET: &[&str] = &[
    "--drivers",
    "2",
    "--days",
    "2",
    "--trip-m",
    "400",
    "--seed",
    "3",
];

fn roots(summary: &str) -> Vec<String> {
    summary
        .lines()
        .filter_map(|line| line.split_once(" merkle root: "))
        .map(|(_, rest)| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn the_demo_catches_the_dishonest_devices_pays_the_honest_ones_and_repeats_its_roots() {
    let data = tempfile::tempdir().unwrap();
    let summary = demo(data.path(), SMALL_FLEET);
    let roots = roots(&summary);
    assert!(!roots.is_empty(), "{summary}");
    for root in &roots {
        assert!(
            root.len() == 66
                && root.starts_with("0x")
                && root[2..].bytes().all(|b| b.is_ascii_hexdigit()),
            "{summary}"
        );
    }
    assert!(
        summary.contains("attacks that earned more than allowed: none\n"),
        "{summary}"
    );
    assert!(summary.contains("honest drivers: 0 of "), "{summary}");
    for caught in [
        "replay",
        "cloned-key",
        "teleport",
        "synthetic-track",
        "shared-track",
        "off-road",
    ] {
        assert!(summary.contains(caught), "no {caught} caught: {summary}");
    }
    // Honest drivers earned something.
    let honest_paid = summary
        .lines()
        .filter(|l| l.trim_start().starts_with("driver-") && !l.contains("dishonest"))
        .any(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|amount| amount != "0")
        });
    assert!(honest_paid, "{summary}");
    // The data directory holds the live tiles and the base map.
    assert!(data.path().join("tiles.mbtiles").exists());
    assert!(data.path().join("basemap.mbtiles").exists());

    // The same seed again, from scratch: the same Merkle roots.
    let again = tempfile::tempdir().unwrap();
    let rerun = demo(again.path(), SMALL_FLEET);
    assert_eq!(self::roots(&rerun), roots, "{summary}\n{rerun}");
}
