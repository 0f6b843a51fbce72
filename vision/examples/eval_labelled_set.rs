//! Prints precision/recall per check over a labelled set (default: the committed one) and
//! the single-core throughput on 1080p-class real frames.
//!
//!     cargo run -p vision --example eval_labelled_set [-- DIR]

use std::path::PathBuf;
use std::time::Instant;

use opencv::core::{Mat, Size, Vector};
use opencv::{imgcodecs, imgproc};
use vision::{Vision, VisionConfig};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from(vision::LABELLED_SET), PathBuf::from);
    let report = vision::evaluate(&dir)?;
    println!("{report}");

    // Throughput on one core: the 3840×2160 Mapillary frame, the same frame at 1920×1080, and
    // the 960×540 Udacity frames.
    let vision = Vision::new(VisionConfig::default())?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets/images");
    let uhd = std::fs::read(root.join("geotagged/mapillary_DSC00001.JPG"))?;
    let full = imgcodecs::imdecode(&uhd.as_slice(), imgcodecs::IMREAD_COLOR)?;
    let mut half = Mat::default();
    imgproc::resize(
        &full,
        &mut half,
        Size::new(1920, 1080),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )?;
    let mut hd: Vector<u8> = Vector::new();
    imgcodecs::imencode(
        ".jpg",
        &half,
        &mut hd,
        &Vector::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, 90]),
    )?;
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
    Ok(())
}
