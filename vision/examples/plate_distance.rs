//! How far away a plate is still blurred: real car photos of the labelled set, scaled so the
//! car is as wide as it would be 5–40 m ahead of a 1920-px dashcam with a 90° field of view,
//! pasted onto the road of a real dashcam frame (Udacity, upscaled to 1920×1080). Prints, per
//! distance, how many plates end up at least 90 % blurred.
//!
//!     cargo run --release -p vision --example plate_distance

use opencv::core::{Mat, Rect, Size, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};
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

fn main() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = VisionConfig::default();
    let vision = Vision::new(config.clone())?;
    let mut objects =
        vision::objects::ObjectDetector::load(&config.object_graph, &config.object_config)?;
    let mut text = vision::text::TextDetector::load(
        &config.text_model,
        Size::new(config.text_input[0], config.text_input[1]),
    )?;
    let road = imgcodecs::imread(
        root.join("../datasets/images/udacity_lanes/solidWhiteRight.jpg"),
        imgcodecs::IMREAD_COLOR,
    )?;
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
            let image = imgcodecs::imread(root.join(photo), imgcodecs::IMREAD_COLOR)?;
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
            let mut jpeg = Vector::<u8>::new();
            imgcodecs::imencode(
                ".jpg",
                &frame,
                &mut jpeg,
                &Vector::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, 90]),
            )?;
            let report = vision.analyze(jpeg.as_slice())?.report;
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
                let covered = report.privacy.iter().any(|r| {
                    let b = r.bbox;
                    let pad_x = (b.width as f32 * 0.25).ceil() as i32;
                    let pad_y = (b.height as f32 * 0.25).ceil() as i32;
                    let region = Rect::new(
                        b.x as i32 - pad_x,
                        b.y as i32 - pad_y,
                        b.width as i32 + 2 * pad_x,
                        b.height as i32 + 2 * pad_y,
                    );
                    (region & plate).area() as f64 >= 0.9 * plate.area() as f64
                });
                if covered {
                    blurred += 1;
                }
            }
        }
        println!(
            "{distance:>4} m: car {car_px:>5.0} px wide, plate ~{:>3.0} px: {blurred}/{total} plates blurred",
            0.52 * focal / distance
        );
    }
    Ok(())
}
