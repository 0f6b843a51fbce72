//! Prints precision/recall per check over a labelled set (default: the committed one) and
//! the single-core throughput on 1080p-class real frames.
//!
//!     cargo run -p vision --example eval_labelled_set [-- DIR]

use std::path::PathBuf;
use std::time::Instant;

use opencv::core::{Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;
use vision::objects::{ObjectDetector, ObjectKind};
use vision::text::TextDetector;
use vision::{FaceDetector, Vision, VisionConfig};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from(vision::LABELLED_SET), PathBuf::from);
    let report = vision::evaluate(&dir)?;
    println!("{report}");

    // Throughput on one core: the 3840×2160 Mapillary frame, the same frame at 1920×1080, and
    // the 960×540 Udacity frames.
    let vision = Vision::new(VisionConfig {
        onnx_threads: 1,
        ..VisionConfig::default()
    })?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets/images");
    let uhd = std::fs::read(root.join("geotagged/mapillary_DSC00001.JPG"))?;
    let full = vision::decode::decode_full(&uhd)?;
    let mut half = Mat::default();
    imgproc::resize(
        &full,
        &mut half,
        Size::new(1920, 1080),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )?;
    let hd = vision::decode::encode_jpeg(&half, 90)?;
    let udacity = std::fs::read(root.join("udacity_lanes/solidWhiteCurve.jpg"))?;
    opencv::core::set_num_threads(1)?;
    for (name, bytes, runs) in [
        ("3840×2160 Mapillary", uhd.as_slice(), 3),
        ("1920×1080 Mapillary (downscaled)", hd.as_slice(), 5),
        ("960×540 Udacity", udacity.as_slice(), 10),
    ] {
        vision.analyze(bytes)?;
        let started = Instant::now();
        for _ in 0..runs {
            vision.analyze(bytes)?;
        }
        let per_frame = started.elapsed().as_secs_f64() / f64::from(runs);
        println!(
            "{name}: {:.0} ms/frame, {:.2} frames/s per core",
            per_frame * 1000.0,
            1.0 / per_frame
        );
    }
    stages(hd.as_slice())?;
    Ok(())
}

/// Where a 1920×1080 frame's time goes: each stage of `analyze` timed alone, one core.
fn stages(jpeg: &[u8]) -> anyhow::Result<()> {
    let config = VisionConfig::default();
    let mut objects = ObjectDetector::load(&config.onnx_runtime, &config.object_model, 1)?;
    let mut faces = FaceDetector::load(&config.onnx_runtime, &config.face_model, 1)?;
    let mut text = TextDetector::load(
        &config.onnx_runtime,
        &config.text_model,
        1,
        Size::new(config.text_input[0], config.text_input[1]),
    )?;
    let runs = 5;
    let time = |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<f64> {
        f()?;
        let started = Instant::now();
        for _ in 0..runs {
            f()?;
        }
        Ok(started.elapsed().as_secs_f64() * 1000.0 / f64::from(runs))
    };
    let frame = vision::decode::decode_full(jpeg)?;
    let decode = time(&mut || {
        vision::decode::decode_full(jpeg)?;
        Ok(())
    })?;
    let encode = time(&mut || {
        vision::decode::encode_jpeg(&frame, 90)?;
        Ok(())
    })?;
    let mut proposals = Vec::new();
    let propose = time(&mut || {
        proposals = objects.propose(&frame, config.proposal_tiles, config.vehicle_threshold)?;
        Ok(())
    })?;
    let near: Vec<_> = proposals
        .iter()
        .filter(|p| p.kind == ObjectKind::Vehicle && p.rect.width >= config.plate_read_width)
        .map(|p| vision::plate_area(p.rect))
        .take(config.max_vehicles)
        .collect();
    let plates = time(&mut || {
        for area in &near {
            text.detect_in(&frame, *area)?;
        }
        Ok(())
    })?;
    let mut small = Mat::default();
    let factor = f64::from(config.face_width) / f64::from(frame.cols());
    imgproc::resize(
        &frame,
        &mut small,
        Size::default(),
        factor,
        factor,
        imgproc::INTER_AREA,
    )?;
    let face = time(&mut || {
        faces.detect(&small, config.face_threshold)?;
        Ok(())
    })?;
    println!(
        "1920×1080 stages, ms: decode {decode:.0}, encode {encode:.0}, proposals ({} SSD passes) {propose:.0}, \
         plates as text ({} near vehicles) {plates:.0}, faces at {} px {face:.0}",
        1 + config.proposal_tiles,
        near.len(),
        config.face_width
    );
    Ok(())
}
