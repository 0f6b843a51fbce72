//! What a dashcam's sign detector would report while the fleet drives past OpenStreetMap's
//! signs: every sign the camera truly sees (in range, inside the field of view, its face
//! towards the camera) becomes a box in the frame, projected through a pinhole camera at
//! the car's true pose — and then made as wrong as the world makes it.
//!
//! The noise, per trip unless said otherwise:
//! - the camera's true field of view is the model's ± 4 % (the server assumes the model's);
//! - the camera is mounted up to ~1° off the car's axis (a yaw bias, Gaussian σ 1°);
//! - the position is the trip's noisy GNSS fix, the heading the receiver's with Gaussian
//!   noise of σ 2° + 4° at walking pace (what a consumer receiver does), per frame;
//! - per frame: the box's column is off by σ 1.5° (detector jitter), its width by σ 10 %
//!   (tight or loose boxes) on top of a per-sign size factor of 0.85–1.15 (real signs are
//!   not all the standard size); a sign is detected with probability 0.85 within 30 m and
//!   0.5 beyond, 3 % of detections take a wrong class, and 2 % of frames carry a false
//!   positive of a random class at a random place.
//!
//! Frames are those a dashcam agent keeps from video: one every [`FRAME_SPACING_M`] of
//! travel (DESIGN's keyframe spacing), between the simulator's 1 Hz fixes. Two truths:
//! signs the detector reported in at least two frames of one pass (what the map can know),
//! and signs in view in at least two frames (which adds the detector's misses).
//!
//! Never does: IO, pixels, or anything random outside the generator it is handed.

use features::eval::Truth;
use features::{Camera, LatLon, Pass, PassFrame, Sighting, TrackPoint};
use model::FrameId;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::gnss::normal;
use super::{Device, Fleet, Trip};
use crate::geo::{bearing_deg, distance_m, lerp};
use crate::signs::RoadSign;

/// A kept frame is at least this far from the previous kept frame, metres (the agent's rule).
pub const FRAME_SPACING_M: f64 = 8.0;
/// The detector finds nothing further than this, metres.
pub const DETECTION_RANGE_M: f64 = 45.0;
/// Nor nearer than this (the sign has left the top of the frame).
const NEAREST_M: f64 = 3.0;
/// A sign whose face turns further than this from the camera is not recognisable, degrees.
const MAX_FACE_ANGLE_DEG: f64 = 50.0;
/// The frames' width, pixels.
pub const IMAGE_WIDTH: u32 = 1920;
const IMAGE_HEIGHT: i32 = 1080;
/// Boxes narrower than this are never reported, pixels.
const MIN_BOX_PX: f64 = 6.0;
const FALSE_POSITIVE_SHARE: f64 = 0.02;
const WRONG_CLASS_SHARE: f64 = 0.03;
/// Classes a false positive or a wrong class takes.
const CONFUSIONS: [&str; 5] = [
    "stop",
    "yield",
    "speed limit 50",
    "traffic light",
    "pedestrian crossing",
];

/// The simulated sightings and passes of some trips, and what was truly there.
#[derive(Debug, Clone, Default)]
pub struct Simulated {
    /// Per trip in the order given: its sightings and its pass.
    pub trips: Vec<(Vec<Sighting>, Pass)>,
    /// Signs the detector reported (in their true class) in at least two frames of one
    /// pass: what the map can know. The pipeline's recall is measured against these.
    pub truths: Vec<Truth>,
    /// Signs in view in at least two kept frames, detected or not: recall against these
    /// includes the detector's misses.
    pub in_view: Vec<Truth>,
    /// Frames kept, detections made, of which false (wrong class or nothing there).
    pub frames: usize,
    pub detections: usize,
    pub false_detections: usize,
}

impl Simulated {
    /// Map features made by applying each trip in turn, in time order, as the pipeline
    /// would, capture after capture.
    pub fn map_features(&self, config: &features::Config) -> Vec<features::Feature> {
        let mut order: Vec<&(Vec<Sighting>, Pass)> = self.trips.iter().collect();
        order.sort_by_key(|(_, pass)| pass.frames.first().map_or(i64::MAX, |f| f.time_ms));
        let mut found = Vec::new();
        for (sightings, pass) in order {
            features::update(&mut found, sightings, std::slice::from_ref(pass), config);
        }
        found
    }
}

/// Simulates the sign detections of `trips` of `fleet` driving past `signs`, with a
/// camera model of `camera` (which the server is told). `seed` picks the noise.
pub fn simulate_sightings(
    fleet: &Fleet,
    trips: &[(&Device, &Trip)],
    signs: &[RoadSign],
    camera: Camera,
    seed: u64,
) -> Simulated {
    let mut out = Simulated::default();
    let size_factor: Vec<f64> = signs
        .iter()
        .map(|sign| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ sign.osm_node as u64);
            rng.gen_range(0.85..1.15)
        })
        .collect();
    let mut seen = vec![0usize; signs.len()];
    let mut detected_twice = vec![false; signs.len()];
    for (device, trip) in trips {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fleet.config.seed);
        rng.set_stream(u64::from(device.index) << 20 | u64::from(trip.index));
        let drive = TripDrive {
            device,
            trip,
            true_camera: Camera::new(camera.hfov_deg() * rng.gen_range(0.96..1.04))
                .unwrap_or(camera),
            yaw_bias_deg: normal(&mut rng),
        };
        let mut detected = vec![0usize; signs.len()];
        let (sightings, pass) = drive.sightings(
            signs,
            &size_factor,
            (&mut seen, &mut detected),
            camera,
            &mut rng,
            &mut out,
        );
        for (twice, n) in detected_twice.iter_mut().zip(detected) {
            *twice |= n >= 2;
        }
        out.trips.push((sightings, pass));
    }
    let truth = |sign: &RoadSign| Truth {
        class: sign.class.clone(),
        position: LatLon::new(sign.position.1, sign.position.0),
    };
    out.in_view = signs
        .iter()
        .zip(&seen)
        .filter(|(_, n)| **n >= 2)
        .map(|(sign, _)| truth(sign))
        .collect();
    out.truths = signs
        .iter()
        .zip(&detected_twice)
        .filter(|(_, twice)| **twice)
        .map(|(sign, _)| truth(sign))
        .collect();
    out
}

/// One kept frame: the truth and what the dashcam recorded.
struct Frame {
    time_ms: i64,
    /// True `(lon, lat)` and heading.
    position: (f64, f64),
    heading_deg: f64,
    /// The GNSS fix `(lon, lat)`, its heading and speed, interpolated.
    fix: (f64, f64),
    receiver_heading: Option<f64>,
    speed_ms: Option<f64>,
}

struct TripDrive<'a> {
    device: &'a Device,
    trip: &'a Trip,
    true_camera: Camera,
    yaw_bias_deg: f64,
}

impl TripDrive<'_> {
    fn sequence(&self) -> String {
        format!("sim-{}-{}", self.device.index, self.trip.index)
    }

    /// The frames a dashcam agent keeps from video: one every [`FRAME_SPACING_M`] of true
    /// travel (12 m above 24 m/s), the pose, fix and receiver heading interpolated between
    /// the 1 Hz fixes around it. A loss of signal (fixes more than a second apart) keeps none.
    fn frames(&self) -> Vec<Frame> {
        let (fixes, poses) = (&self.trip.fixes, &self.trip.poses);
        let mut frames = Vec::new();
        let mut travelled = f64::INFINITY;
        for i in 0..fixes.len().saturating_sub(1) {
            let (a, b) = (&fixes[i], &fixes[i + 1]);
            if b.time.millis_since(a.time) > 1_000 {
                continue;
            }
            let step = distance_m(poses[i].position, poses[i + 1].position);
            let speed = poses[i].speed_ms.max(poses[i + 1].speed_ms);
            let spacing = if speed > 24.0 { 12.0 } else { FRAME_SPACING_M };
            if speed <= 0.5 || step <= 0.0 {
                continue;
            }
            let mut along = (spacing - travelled).max(0.0);
            while along < step {
                let t = along / step;
                let pose = poses[i];
                frames.push(Frame {
                    time_ms: a.time.as_millis() + (t * 1000.0).round() as i64,
                    position: lerp(poses[i].position, poses[i + 1].position, t),
                    heading_deg: pose.heading_deg,
                    fix: lerp((a.lon, a.lat), (b.lon, b.lat), t),
                    receiver_heading: a.heading.or(b.heading),
                    speed_ms: a.speed.zip(b.speed).map(|(x, y)| x + (y - x) * t),
                });
                along += spacing;
            }
            travelled = step - (along - spacing);
        }
        frames
    }

    fn sightings(
        &self,
        signs: &[RoadSign],
        size_factor: &[f64],
        (seen, detected): (&mut [usize], &mut [usize]),
        camera: Camera,
        rng: &mut ChaCha8Rng,
        out: &mut Simulated,
    ) -> (Vec<Sighting>, Pass) {
        let frames = self.frames();
        out.frames += frames.len();
        let track: Vec<TrackPoint> = frames
            .iter()
            .map(|frame| {
                let sigma = 2.0 + 4.0 / frame.speed_ms.unwrap_or(0.0).max(1.0);
                TrackPoint {
                    time_ms: frame.time_ms,
                    position: LatLon::new(frame.fix.1, frame.fix.0),
                    heading: frame
                        .receiver_heading
                        .map(|h| (h + sigma * normal(rng)).rem_euclid(360.0)),
                    speed_ms: frame.speed_ms,
                }
            })
            .collect();
        let headings = features::headings(&track);
        let sequence = self.sequence();
        let mut sightings = Vec::new();
        let mut pass = Pass {
            sequence: sequence.clone(),
            frames: Vec::new(),
        };
        for (i, ((frame, point), heading)) in frames.iter().zip(&track).zip(&headings).enumerate() {
            let id = frame_id(&sequence, i);
            if let Some(heading) = heading {
                pass.frames.push(PassFrame {
                    time_ms: point.time_ms,
                    position: point.position,
                    heading_deg: heading.deg,
                    camera,
                });
            }
            let mut boxes: Vec<(String, [i32; 4], bool)> = Vec::new();
            for (s, sign) in signs.iter().enumerate() {
                let Some((column, width)) = self.project(frame, sign, size_factor[s]) else {
                    continue;
                };
                seen[s] += 1;
                let distance = distance_m(frame.position, sign.position);
                let p_detect = if distance < 30.0 { 0.85 } else { 0.5 };
                if !rng.gen_bool(p_detect) {
                    continue;
                }
                let column = column
                    + self.true_camera.focal_px(IMAGE_WIDTH) * (1.5 * normal(rng)).to_radians();
                let width = width * (1.0 + 0.1 * normal(rng)).max(0.5);
                let wrong = rng.gen_bool(WRONG_CLASS_SHARE);
                let class = if wrong {
                    let others: Vec<&str> = CONFUSIONS
                        .iter()
                        .copied()
                        .filter(|c| *c != sign.class)
                        .collect();
                    others[rng.gen_range(0..others.len())].to_owned()
                } else {
                    sign.class.clone()
                };
                if let Some(bbox) = bbox(column, width) {
                    detected[s] += usize::from(!wrong);
                    boxes.push((class, bbox, wrong));
                }
            }
            if rng.gen_bool(FALSE_POSITIVE_SHARE) {
                let width = rng.gen_range(8.0..60.0);
                let column = rng.gen_range(width..f64::from(IMAGE_WIDTH) - width);
                let class = CONFUSIONS[rng.gen_range(0..CONFUSIONS.len())].to_owned();
                if let Some(bbox) = bbox(column, width) {
                    boxes.push((class, bbox, true));
                }
            }
            for (class, bbox, false_detection) in boxes {
                out.detections += 1;
                out.false_detections += usize::from(false_detection);
                sightings.push(Sighting {
                    frame: id,
                    capture: sequence.clone(),
                    sequence: Some(sequence.clone()),
                    contributor: self.device.owner.clone(),
                    time_ms: point.time_ms,
                    class,
                    bbox,
                    image_width: Some(IMAGE_WIDTH),
                    camera,
                    position: point.position,
                    heading: *heading,
                });
            }
        }
        (sightings, pass)
    }

    /// Where `sign` truly falls in `frame`: its box centre column and width, pixels; `None`
    /// when the camera cannot see it.
    fn project(&self, frame: &Frame, sign: &RoadSign, size_factor: f64) -> Option<(f64, f64)> {
        let distance = distance_m(frame.position, sign.position);
        if !(NEAREST_M..=DETECTION_RANGE_M).contains(&distance) {
            return None;
        }
        let towards = bearing_deg(frame.position, sign.position);
        let offset = signed_angle(towards - frame.heading_deg - self.yaw_bias_deg);
        let back_to_camera = (towards + 180.0).rem_euclid(360.0);
        if signed_angle(back_to_camera - sign.facing_deg).abs() > MAX_FACE_ANGLE_DEG {
            return None;
        }
        let column = self.true_camera.column(offset, IMAGE_WIDTH)?;
        let focal = self.true_camera.focal_px(IMAGE_WIDTH);
        let width = focal * features::observation::real_width_m(&sign.class) * size_factor
            / (distance * offset.to_radians().cos());
        (width >= MIN_BOX_PX).then_some((column, width))
    }
}

/// A square box of `width` centred on `column`, in the upper half of the frame, or `None`
/// when it leaves the frame.
fn bbox(column: f64, width: f64) -> Option<[i32; 4]> {
    let left = (column - width / 2.0).round();
    let right = left + width.round();
    if left < 0.0 || right > f64::from(IMAGE_WIDTH) || width < MIN_BOX_PX {
        return None;
    }
    let top = (f64::from(IMAGE_HEIGHT) * 0.3 - width).max(0.0).round();
    Some([
        left as i32,
        top as i32,
        width.round() as i32,
        width.round() as i32,
    ])
}

/// `degrees` folded into -180..180.
fn signed_angle(degrees: f64) -> f64 {
    (degrees + 180.0).rem_euclid(360.0) - 180.0
}

/// A stable frame id for frame `index` of a simulated sequence.
fn frame_id(sequence: &str, index: usize) -> FrameId {
    FrameId::from_digest(Sha256::digest(format!("{sequence}/{index}").as_bytes()).into())
}
