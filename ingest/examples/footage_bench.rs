//! Times what the global footage index adds to the pipeline worker for one accepted frame,
//! beside the floor the worker pays anyway for its near-duplicate fingerprint (decoding the
//! JPEG and the 32 × 18 fingerprint): the frame's prints from the same decode (the whole
//! fingerprint, the 64 × 36 core and its keyed probes: the 131 keyed cuts of
//! `model::footage::copy_cuts` and the 55 keyed `model::footage::wide_cuts` at 56 × 30, as
//! they are and mirrored, for the frame and for each picture read inside bars), the index keys of the core (and its inner core)
//! and of the 262 keyed probes and 110 keyed wide probes a picture (and how many distinct keys they
//! are), every probe (522 and 220 a picture, read only when the index offers a candidate),
//! and [`model::footage::copy_of`]
//! against two sets of candidates: 100 that are each one of the frame's own probes (the worst
//! case: every candidate a copy), and the cores of the 45 stills of one real drive (a street
//! filmed at other moments: near, never copies, what a busy road's keys offer). The index read
//! (`Db::footage_sharing`, one indexed query) is not included. Real frames: the Mapillary
//! photo downscaled to 1920 × 1080 and a 960 × 540 Udacity still. Prints a Markdown table.
//!
//!     cargo run --release -p ingest --example footage_bench -- [rounds]

use std::io::Cursor;
use std::time::Instant;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use ingest::similarity::{fingerprint, frame_prints};
use model::footage::{CopyConfig, Stored, copy_of, stored_keys};
use model::{DeviceId, Fix, FixType, FrameId, TimestampMs};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn timed(rounds: usize, mut run: impl FnMut()) -> f64 {
    run();
    median(
        (0..rounds)
            .map(|_| {
                let started = Instant::now();
                run();
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    )
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(51, |a| a.parse().expect("rounds"));
    let images = datasets::path("images");
    let uhd = image::open(images.join("geotagged/mapillary_DSC00001.JPG")).expect("datasets/");
    let mut hd = Vec::new();
    JpegEncoder::new_with_quality(&mut Cursor::new(&mut hd), 90)
        .encode_image(&uhd.resize_exact(1920, 1080, FilterType::Triangle).to_rgb8())
        .expect("encode");
    let udacity =
        std::fs::read(images.join("udacity_lanes/solidWhiteCurve.jpg")).expect("datasets/");
    let device: DeviceId = "00000000-0000-0000-0000-000000000001".parse().unwrap();
    let other: DeviceId = "00000000-0000-0000-0000-000000000002".parse().unwrap();
    let claimed = Fix {
        time: TimestampMs(1_790_000_000_000),
        lat: 43.73,
        lon: 7.42,
        alt: None,
        heading: None,
        speed: None,
        fix_type: FixType::Fix3d,
        satellites: 9,
        hdop: 0.9,
    };
    let keyed = 1 + 2 * (model::footage::KEYED_CUTS + model::footage::WIDE_KEYED_CUTS);
    println!(
        "| frame | floor: decode + 32×18 fingerprint | prints (same decode, keyed probes) | keys ×{keyed} a picture | distinct keys | every probe (when there is a candidate) | copy_of, 100 copies | copy_of, 45 stills of a drive | added, no candidate | added, with the stills |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let stills: Vec<Stored> = (0..datasets::frames::VIDEO_STILLS)
        .map(|n| {
            let path = datasets::path(&format!("frames/udacity_solidWhiteRight/frame_{n:03}.jpg"));
            let jpeg = std::fs::read(path).expect("datasets/");
            Stored {
                sha256: FrameId::of_bytes(&jpeg),
                device: other,
                lat: 43.70,
                lon: 7.42,
                time: TimestampMs(1_780_000_000_000),
                core: frame_prints(&jpeg).expect("a still").core,
            }
        })
        .collect();
    for (name, jpeg) in [
        ("1920×1080 Mapillary (downscaled)", &hd),
        ("960×540 Udacity", &udacity),
    ] {
        let floor = timed(rounds, || {
            fingerprint(jpeg).unwrap();
        });
        let prints = frame_prints(jpeg).unwrap();
        let with_prints = timed(rounds, || {
            frame_prints(jpeg).unwrap();
        });
        let every_probe = timed(rounds, || {
            frame_prints(jpeg).unwrap().probe_sets();
        }) - with_prints;
        let keying = timed(rounds, || {
            stored_keys(&prints.core);
            prints.probe_keys();
        });
        // What the worker asks the index (near probes, of neighbouring cuts, share keys) and
        // stores.
        let distinct = prints.probe_keys().len() + stored_keys(&prints.core).len();
        let sets = prints.probe_sets();
        let candidates: Vec<Stored> = (0..100u32)
            .map(|n| Stored {
                sha256: FrameId::of_bytes(&n.to_le_bytes()),
                device: other,
                lat: 43.70,
                lon: 7.42,
                time: TimestampMs(1_780_000_000_000),
                core: sets[0].cuts[(n as usize) % sets[0].cuts.len()].clone(),
            })
            .collect();
        // As the worker asks: each probe set in turn, until one finds a copy.
        let copy_of_all = |candidates: &[Stored]| {
            timed(rounds, || {
                sets.iter().any(|set| {
                    copy_of(
                        &set.cuts,
                        &set.wide,
                        &claimed,
                        device,
                        candidates,
                        &CopyConfig::default(),
                    )
                    .is_some()
                });
            })
        };
        let (copying, street) = (copy_of_all(&candidates), copy_of_all(&stills));
        let lone = with_prints - floor + keying;
        let added = lone + every_probe + street;
        println!(
            "| {name} | {floor:.1} ms | {with_prints:.1} ms | {keying:.2} ms | {distinct} | {every_probe:.1} ms | {copying:.2} ms | {street:.2} ms | {lone:.1} ms | {added:.1} ms |"
        );
    }
}
