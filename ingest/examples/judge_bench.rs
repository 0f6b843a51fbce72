//! Times the capture judge on a manifest of the real Munich drive (its last 594 fixes), with
//! the densest context the upload handler reads: the device's history (600
//! fixes a second apart) before the capture, its own fixes around it, another device driving the same road a
//! few seconds behind, and every frame's upload on record (its own). Beside it, the floor the
//! handler pays anyway: parsing and verifying the signed manifest. The reads that gather the
//! context (`uploads::gather_context`, seven queries) are not included. Prints a Markdown
//! table.
//!
//!     cargo run --release -p ingest --example judge_bench -- [rounds]

use std::time::Instant;

use ingest::judge::{Context, HISTORY_SECONDS, Needs, StoredFrame, history_of, judge};
use ingest::track::TrackConfig;
use model::{
    CaptureId, CaptureManifest, DeviceId, DeviceKeypair, Fix, FrameEntry, FrameId,
    MANIFEST_FORMAT_VERSION, MAX_FRAMES_PER_CAPTURE, TimestampMs,
};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(201, |a| a.parse().expect("rounds"));
    let drive = datasets::read_barefoot(&datasets::path("gps/barefoot_munich_x0001-001.json"))
        .expect("datasets/");
    let now = TimestampMs::now();
    let shift = now
        .saturating_add_ms(-3_600_000)
        .millis_since(drive[0].time);
    let moved: Vec<Fix> = drive
        .iter()
        .map(|fix| Fix {
            time: fix.time.saturating_add_ms(shift),
            ..*fix
        })
        .collect();
    // The capture: the drive after fix 600 (past the receiver's real jump at 619 too).
    let frames: Vec<FrameEntry> = moved[600..]
        .iter()
        .take(MAX_FRAMES_PER_CAPTURE)
        .enumerate()
        .map(|(i, fix)| FrameEntry {
            sha256: FrameId::of_bytes(format!("frame {i}").as_bytes()),
            fix: *fix,
        })
        .collect();
    let device: DeviceId = "00000000-0000-0000-0000-000000000001".parse().unwrap();
    let other: DeviceId = "00000000-0000-0000-0000-000000000002".parse().unwrap();
    let history: Vec<Fix> = history_of(&moved[..600]);
    assert_eq!(history.len(), HISTORY_SECONDS as usize);
    let behind: Vec<Fix> = frames
        .iter()
        .map(|e| Fix {
            time: e.fix.time.saturating_add_ms(4_000),
            ..e.fix
        })
        .collect();
    let context = Context {
        now,
        device,
        closed_until: Some(now.saturating_add_ms(-30 * 86_400_000)),
        own_around: history[history.len() - 120..].to_vec(),
        history,
        // Nothing after it: a capture sent in order (the densest reads are the same).
        later: Vec::new(),
        others_near: behind,
        // One frame stored before by another device (a replay); every upload its own.
        stored: vec![StoredFrame {
            frame: frames[10].sha256,
            device: other,
            time: frames[10].fix.time,
        }],
        first_uploaders: frames.iter().map(|e| (e.sha256, device)).collect(),
    };
    let key = DeviceKeypair::from_seed([1; 32]);
    let manifest = CaptureManifest {
        format_version: MANIFEST_FORMAT_VERSION,
        device_key: key.public(),
        capture_id: CaptureId::new(),
        sequence_number: 1,
        firmware: "bench".into(),
        camera: "bench".into(),
        frames: frames.clone(),
    };
    let (body, signature) = manifest.sign(&key);
    let config = TrackConfig::default();

    let mut parse = Vec::new();
    let mut judged = Vec::new();
    let mut verdicts = Vec::new();
    for round in 0..=rounds {
        let started = Instant::now();
        let parsed = CaptureManifest::parse_and_verify(&body, &signature).expect("signed");
        let parse_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let needs = Needs::of(&parsed.frames, now, &config);
        verdicts = judge(&parsed.frames, &context, &config);
        let judge_s = started.elapsed().as_secs_f64();
        assert_eq!(needs.frames.len(), frames.len());
        if round > 0 {
            parse.push(parse_s);
            judged.push(judge_s);
        }
    }
    let rejected = verdicts.iter().filter(|v| v.is_some()).count();
    let (parse, judged) = (median(parse), median(judged));
    println!(
        "| frames | floor: parse + verify the signed manifest | Needs::of + judge | ratio | frames rejected |"
    );
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {:.2} ms | {:.2} ms | {:.1}× | {rejected} |",
        frames.len(),
        parse * 1e3,
        judged * 1e3,
        judged / parse
    );
}
