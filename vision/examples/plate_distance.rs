//! How far away a plate or a face is still blurred: real car photos of the labelled set, scaled so the
//! car is as wide as it would be 5–40 m ahead of a 1920-px dashcam with a 90° field of view,
//! pasted onto the road of a real dashcam frame (Udacity, upscaled to 1920×1080). Prints, per
//! distance, how many plates end up at least 90 % blurred; the same for the 16 labelled faces
//! of the street-crossing photo, scaled to people of that distance.
//!
//!     cargo run --release -p vision --example plate_distance

use opencv::core::{Mat, Rect, Size};
use opencv::imgproc;
use opencv::prelude::*;
use vision::{Vision, VisionConfig};

/// x, y, width, height in a photo's pixels.
type Box = (i32, i32, i32, i32);

/// (photo, the car's box in it, the plates in it)
const CARS: [(&str, Box, &[Box]); 3] = [
    (
        "eval/plates/fast_alpr_test_image.jpg",
        (40, 44, 412, 226),
        &[(307, 190, 80, 20)],
    ),
    (
        "eval/plates/alpr_test.jpg",
        (20, 295, 620, 265),
        &[(85, 485, 93, 31)],
    ),
    (
        "eval/plates/alpr_test.jpg",
        (510, 280, 640, 320),
        &[(579, 495, 127, 40)],
    ),
];

/// The labelled street crossing scaled so its people (the man in white: 370 px from head to
/// shoes) are `person_px` tall, pasted on the road: (faces at least 90 % blurred, faces).
fn faces_blurred(
    vision: &Vision,
    road: &Mat,
    root: &std::path::Path,
    person_px: f64,
) -> anyhow::Result<(usize, usize)> {
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("eval/labels.json"))?)?;
    let city = labels["frames"]
        .as_array()
        .and_then(|frames| frames.iter().find(|f| f["file"] == "faces/city.jpg"))
        .ok_or_else(|| anyhow::anyhow!("faces/city.jpg is not labelled"))?;
    let image = vision::decode::decode_full(&std::fs::read(root.join("eval/faces/city.jpg"))?)?;
    let scale = (person_px / 370.0).min(1080.0 / f64::from(image.rows()));
    let mut small = Mat::default();
    imgproc::resize(
        &image,
        &mut small,
        Size::default(),
        scale,
        scale,
        imgproc::INTER_AREA,
    )?;
    // Standing on the pavement to the right, feet 65 % down the frame.
    let (ox, oy) = (1100, (702 - small.rows()).max(0));
    let mut frame = road.clone();
    let dst = Rect::new(ox, oy, small.cols(), small.rows()) & Rect::new(0, 0, 1920, 1080);
    Mat::roi(&small, Rect::new(0, 0, dst.width, dst.height))?
        .copy_to(&mut Mat::roi_mut(&mut frame, dst)?)?;
    let jpeg = vision::decode::encode_jpeg(&frame, 90)?;
    let report = vision.analyze(&jpeg)?.report;
    let mut blurred = 0;
    let faces = city["faces"].as_array().cloned().unwrap_or_default();
    for face in &faces {
        let at = |key: &str| face[key].as_f64().unwrap_or(0.0) * scale;
        let target = Rect::new(
            ox + at("x") as i32,
            oy + at("y") as i32,
            (at("width").ceil() as i32).max(1),
            (at("height").ceil() as i32).max(1),
        ) & dst;
        if target.area() > 0 && covered(&report.privacy, target) {
            blurred += 1;
        }
    }
    Ok((blurred, faces.len()))
}

/// Whether at least 90 % of `target` lies in one padded privacy region.
fn covered(regions: &[model::PrivacyRegion], target: Rect) -> bool {
    regions.iter().any(|r| {
        let b = r.bbox;
        let pad_x = (b.width as f32 * 0.25).ceil() as i32;
        let pad_y = (b.height as f32 * 0.25).ceil() as i32;
        let region = Rect::new(
            b.x as i32 - pad_x,
            b.y as i32 - pad_y,
            b.width as i32 + 2 * pad_x,
            b.height as i32 + 2 * pad_y,
        );
        (region & target).area() as f64 >= 0.9 * target.area() as f64
    })
}

fn main() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = VisionConfig::default();
    let vision = Vision::new(config.clone())?;
    let mut objects =
        vision::objects::ObjectDetector::load(&config.onnx_runtime, &config.object_model, 1)?;
    let mut text = vision::text::TextDetector::load(
        &config.onnx_runtime,
        &config.text_model,
        1,
        Size::new(config.text_input[0], config.text_input[1]),
    )?;
    let road = vision::decode::decode_full(&std::fs::read(
        root.join("../datasets/images/udacity_lanes/solidWhiteRight.jpg"),
    )?)?;
    let mut frame_base = Mat::default();
    imgproc::resize(
        &road,
        &mut frame_base,
        Size::new(1920, 1080),
        0.0,
        0.0,
        imgproc::INTER_CUBIC,
    )?;
    let focal = 960.0_f64; // px, 90° across 1920 px
    for distance in [5.0, 8.0, 12.0, 16.0, 20.0, 25.0, 30.0, 40.0] {
        let car_px = 1.8 * focal / distance;
        let (mut blurred, mut total) = (0, 0);
        for (photo, car, plates) in CARS {
            let image = vision::decode::decode_full(&std::fs::read(root.join(photo))?)?;
            let scale = car_px / f64::from(car.2);
            let mut small = Mat::default();
            imgproc::resize(
                &image,
                &mut small,
                Size::default(),
                scale,
                scale,
                imgproc::INTER_AREA,
            )?;
            // The car's bottom centre on the lane ahead, 62 % down the frame.
            let (cx, cy) = (
                (f64::from(car.0) + f64::from(car.2) / 2.0) * scale,
                f64::from(car.1 + car.3) * scale,
            );
            let (ox, oy) = (960 - cx as i32, 700 - cy as i32);
            let mut frame = frame_base.clone();
            let src = Rect::new(0, 0, small.cols(), small.rows());
            let dst = Rect::new(ox, oy, small.cols(), small.rows()) & Rect::new(0, 0, 1920, 1080);
            let from = Mat::roi(
                &small,
                Rect::new(dst.x - ox, dst.y - oy, dst.width, dst.height) & src,
            )?;
            from.copy_to(&mut Mat::roi_mut(&mut frame, dst)?)?;
            let jpeg = vision::decode::encode_jpeg(&frame, 90)?;
            let report = vision.analyze(&jpeg)?.report;
            if std::env::var_os("DIAGNOSE").is_some() {
                let car_rect = Rect::new(
                    ox + (f64::from(car.0) * scale) as i32,
                    oy + (f64::from(car.1) * scale) as i32,
                    (f64::from(car.2) * scale) as i32,
                    (f64::from(car.3) * scale) as i32,
                );
                let found = objects.propose(&frame, 2, 0.3)?;
                let best = found
                    .iter()
                    .filter(|p| p.kind == vision::objects::ObjectKind::Vehicle)
                    .map(|p| {
                        (
                            (p.rect & car_rect).area() as f64 / (p.rect | car_rect).area() as f64,
                            p.score,
                        )
                    })
                    .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
                let area = vision::plate_area(car_rect);
                let mut texts = Vec::new();
                for grow in [1, 2, 3, 4] {
                    let (w, h) = (area.width * grow, area.height * grow);
                    let wider = Rect::new(
                        area.x + area.width / 2 - w / 2,
                        area.y + area.height / 2 - h / 2,
                        w,
                        h,
                    ) & Rect::new(0, 0, 1920, 1080);
                    texts.push((grow, text.detect_in(&frame, wider)?.len()));
                }
                eprintln!(
                    "  {photo} at {distance} m: car {car_rect:?} best vehicle IoU {:.2} (score {:.2}); text in the car's plate area: {texts:?}",
                    best.0, best.1
                );
            }
            for &(x, y, w, h) in plates {
                total += 1;
                let plate = Rect::new(
                    ox + (f64::from(x) * scale) as i32,
                    oy + (f64::from(y) * scale) as i32,
                    ((f64::from(w) * scale).ceil() as i32).max(1),
                    ((f64::from(h) * scale).ceil() as i32).max(1),
                );
                let covered = covered(&report.privacy, plate);
                if covered {
                    blurred += 1;
                }
            }
        }
        let faces = faces_blurred(&vision, &frame_base, root, 1.75 * focal / distance)?;
        println!(
            "{distance:>4} m: car {car_px:>5.0} px wide, plate ~{:>3.0} px: {blurred}/{total} plates blurred; \
             people {:>4.0} px tall, faces ~{:>3.0} px: {}/{} faces blurred",
            0.52 * focal / distance,
            1.75 * focal / distance,
            0.2 * focal / distance,
            faces.0,
            faces.1
        );
    }
    Ok(())
}
