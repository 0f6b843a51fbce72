//! The privacy cascade: proposals once per frame, plates inside vehicles, faces over the
//! frame at a modest width, and the head of every person proposed.
//!
//! Pure composition of the three detectors, and of any the operator names
//! ([`crate::named`]); boxes come back in full-resolution pixels.

use model::{PrivacyKind, PrivacyRegion};
use opencv::core::{Mat, Rect, Size};
use opencv::prelude::*;

use crate::VisionConfig;
use crate::error::Result;
use crate::named::YoloDetector;
use crate::objects::{ObjectDetector, ObjectKind, Proposal};
use crate::privacy::{FaceDetector, to_full_scale};
use crate::text::TextDetector;

/// The detectors one privacy search needs (OpenCV state: one set per thread).
#[allow(missing_debug_implementations)]
pub struct PrivacySearch {
    objects: ObjectDetector,
    faces: FaceDetector,
    text: TextDetector,
    /// The operator's own detectors, in settings order.
    named: Vec<YoloDetector>,
}

impl PrivacySearch {
    /// Loads the three models named in `config` (already verified by the caller). ONNX
    /// Runtime optimises the SSD's graph for this CPU as it loads it, about as long as the
    /// other two take together: it is loaded beside them.
    pub fn load(config: &VisionConfig) -> Result<Self> {
        let (objects, faces, text) = std::thread::scope(|scope| {
            let objects = scope.spawn(|| {
                ObjectDetector::load(
                    &config.onnx_runtime,
                    &config.object_model,
                    config.onnx_threads,
                )
            });
            let faces = FaceDetector::load(
                &config.onnx_runtime,
                &config.face_model,
                config.onnx_threads,
            );
            let text = TextDetector::load(
                &config.onnx_runtime,
                &config.text_model,
                config.onnx_threads,
                Size::new(config.text_input[0], config.text_input[1]),
            );
            let objects = objects
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (objects, faces, text)
        });
        Ok(Self {
            objects: objects?,
            faces: faces?,
            text: text?,
            named: config
                .detectors
                .iter()
                .enumerate()
                .map(|(index, spec)| YoloDetector::load(spec, index))
                .collect::<Result<_>>()?,
        })
    }

    /// Faces and plates in a full-resolution BGR frame.
    pub fn find(&mut self, full: &Mat, config: &VisionConfig) -> Result<Vec<PrivacyRegion>> {
        let proposals = self.propose(full, config)?;
        self.find_with(full, &proposals, config)
    }

    /// The frame's object proposals (made once per frame), in full-resolution pixels.
    pub fn propose(&mut self, full: &Mat, config: &VisionConfig) -> Result<Vec<Proposal>> {
        let (small, factor) = crate::downscale_to(full, config.privacy_width)?;
        let threshold = config.vehicle_threshold.min(config.person_threshold);
        Ok(self
            .objects
            .propose(&small, tiles_for(full.cols(), config), threshold)?
            .into_iter()
            .map(|p| Proposal {
                rect: scale_rect(p.rect, factor, full),
                ..p
            })
            .collect())
    }

    /// Faces and plates in a full-resolution BGR frame, given its proposals.
    pub fn find_with(
        &mut self,
        full: &Mat,
        proposals: &[Proposal],
        config: &VisionConfig,
    ) -> Result<Vec<PrivacyRegion>> {
        let (width, height) = (full.cols() as u32, full.rows() as u32);
        let mut regions = self.plates(full, proposals, config)?;
        let faces = self.faces(full, config)?;
        let people = proposals
            .iter()
            .filter(|p| p.kind == ObjectKind::Person && p.score >= config.person_threshold);
        // Every person's head, whether or not a face was found on them: in a crowd a person's
        // box holds others' faces, and a face turned away or too small for the face pass is
        // still someone's. When unsure, blur.
        for person in people {
            regions.push(PrivacyRegion {
                kind: PrivacyKind::Face,
                bbox: to_full_scale(head_region(person.rect), 1.0, width, height),
                confidence: person.score,
            });
        }
        regions.extend(faces);
        for detector in &mut self.named {
            regions.extend(detector.detect(full)?);
        }
        Ok(regions)
    }

    /// Plates on every vehicle wide enough to carry a readable one. Up close (at least
    /// `plate_read_width`) the plate is found as text, on at most `max_vehicles` vehicles
    /// (the largest; the others' plate zones are blurred whole); further away the text detector cannot tell a plate of a dozen pixels,
    /// so the lower part of the vehicle, where its plate is, is blurred whole — as it is on a
    /// near vehicle on which no text is found.
    fn plates(
        &mut self,
        full: &Mat,
        proposals: &[Proposal],
        config: &VisionConfig,
    ) -> Result<Vec<PrivacyRegion>> {
        let (width, height) = (full.cols() as u32, full.rows() as u32);
        let mut vehicles: Vec<&Proposal> = proposals
            .iter()
            .filter(|p| {
                p.kind == ObjectKind::Vehicle
                    && p.score >= config.vehicle_threshold
                    && p.rect.width >= config.plate_min_vehicle_width
            })
            .collect();
        vehicles.sort_by_key(|p| std::cmp::Reverse(p.rect.area()));
        let mut plates = Vec::new();
        let (mut near, mut far): (Vec<&Proposal>, Vec<&Proposal>) = vehicles
            .into_iter()
            .partition(|p| p.rect.width >= config.plate_read_width);
        // Near vehicles past the cap are not searched as text: their plate zones are blurred,
        // never left alone.
        far.extend(near.drain(near.len().min(config.max_vehicles)..));
        for vehicle in far {
            plates.push(PrivacyRegion {
                kind: PrivacyKind::LicencePlate,
                bbox: to_full_scale(plate_zone(vehicle.rect), 1.0, width, height),
                confidence: vehicle.score,
            });
        }
        let mut searched: Vec<Rect> = Vec::new();
        for vehicle in near {
            let area = plate_area(vehicle.rect);
            // An area mostly inside one already searched adds little.
            let covered = searched
                .iter()
                .any(|s| (*s & area).area() as f32 >= 0.8 * area.area() as f32);
            if covered {
                continue;
            }
            searched.push(area);
            let mut texts = self.text.detect_in(full, area)?;
            texts.sort_by(|a, b| b.1.total_cmp(&a.1));
            if texts.is_empty() {
                // No text where a plate would be: a plate too blurred, dirty or slanted to
                // read as text may still be read by a person. When unsure, blur.
                plates.push(PrivacyRegion {
                    kind: PrivacyKind::LicencePlate,
                    bbox: to_full_scale(plate_zone(vehicle.rect), 1.0, width, height),
                    confidence: vehicle.score,
                });
            }
            for (i, (text, score)) in texts.into_iter().enumerate() {
                // A plate's text is often found a word at a time ("Passat" of "Passat CC",
                // "AB 123" of "AB 123 CD"): a closer look around the line finds the rest.
                let line = if i < SECOND_LOOKS_PER_VEHICLE {
                    self.whole_line(full, text)?
                } else {
                    text
                };
                plates.push(PrivacyRegion {
                    kind: PrivacyKind::LicencePlate,
                    bbox: to_full_scale(plate_around(line), 1.0, width, height),
                    confidence: score,
                });
            }
        }
        Ok(plates)
    }

    /// The text line around `text`: the text found in a closer look at [`line_window`]
    /// that lies on the line (or on the line above or below it: two-line plates), with
    /// `text` itself.
    fn whole_line(&mut self, full: &Mat, text: Rect) -> Result<Rect> {
        let window = line_window(text, full.cols(), full.rows());
        let mut line = text;
        for (found, _) in self.text.detect_in(full, window)? {
            if is_same_plate(text, found) {
                line |= found;
            }
        }
        Ok(line)
    }

    /// CenterFace over the whole frame at `face_width`.
    fn faces(&mut self, full: &Mat, config: &VisionConfig) -> Result<Vec<PrivacyRegion>> {
        let (width, height) = (full.cols() as u32, full.rows() as u32);
        let (image, factor) = crate::downscale_to(full, config.face_width)?;
        Ok(self
            .faces
            .detect(&image, config.face_threshold)?
            .into_iter()
            .map(|(rect, confidence)| PrivacyRegion {
                kind: PrivacyKind::Face,
                bbox: to_full_scale(rect, factor, width, height),
                confidence,
            })
            .collect())
    }
}

/// How many band tiles a frame `width` px wide gets.
fn tiles_for(width: i32, config: &VisionConfig) -> i32 {
    if width > config.tiles_min_width {
        config.proposal_tiles
    } else {
        0
    }
}

/// A proposal box found on the downscaled image, in full-resolution pixels, inside the frame.
fn scale_rect(rect: Rect, factor: f32, full: &Mat) -> Rect {
    let x = (rect.x as f32 * factor) as i32;
    let y = (rect.y as f32 * factor) as i32;
    let w = (rect.width as f32 * factor).ceil() as i32;
    let h = (rect.height as f32 * factor).ceil() as i32;
    Rect::new(x, y, w, h) & Rect::new(0, 0, full.cols(), full.rows())
}

/// Where on a vehicle a plate can be: the lower 70 % of its box (a plate is never on the
/// roof), so the text detector sees the plate larger.
pub fn plate_area(vehicle: Rect) -> Rect {
    let top = vehicle.height * 3 / 10;
    Rect::new(
        vehicle.x,
        vehicle.y + top,
        vehicle.width,
        (vehicle.height - top).max(1),
    )
}

/// Where a distant vehicle's plate is, blurred whole: the lower 55 % of its box across its
/// width (front, back or three-quarter view alike).
pub fn plate_zone(vehicle: Rect) -> Rect {
    let top = vehicle.height * 45 / 100;
    Rect::new(
        vehicle.x,
        vehicle.y + top,
        vehicle.width,
        (vehicle.height - top).max(1),
    )
}

/// Text lines per near vehicle, the most confident first, that get a second, closer look
/// (two: a front or back plate and one other line, a sticker or a plate's second line).
const SECOND_LOOKS_PER_VEHICLE: usize = 2;

/// Where the rest of a plate can be around a line of its text: two text heights to either
/// side (a missing word of up to four characters after a gap) and one above and below (the
/// other line of a two-line plate), inside the frame.
pub fn line_window(text: Rect, width: i32, height: i32) -> Rect {
    let h = text.height.max(1);
    Rect::new(text.x - 2 * h, text.y - h, text.width + 4 * h, 3 * h)
        & Rect::new(0, 0, width, height)
}

/// Whether text found near a plate's line is more of that plate: as tall as the line within
/// a factor of two (not the dealer's small print, not a banner), and level with it or the
/// line above or below.
pub fn is_same_plate(line: Rect, found: Rect) -> bool {
    let (a, b) = (line.height as f32, found.height as f32);
    let similar_height = b <= 2.0 * a && a <= 2.0 * b;
    let centre = |r: Rect| r.y as f32 + r.height as f32 / 2.0;
    let level = (centre(found) - centre(line)).abs() <= 1.5 * a;
    let near = found.x <= line.x + line.width + 2 * line.height
        && found.x + found.width >= line.x - 2 * line.height;
    similar_height && level && near
}

/// The plate around a line of its text: the plate's frame is about a third of the text's
/// height above and below it, more when the plate is seen at a slant.
pub fn plate_around(text: Rect) -> Rect {
    let margin = (text.height as f32 * 0.35).ceil() as i32;
    Rect::new(
        text.x,
        text.y - margin,
        text.width,
        text.height + 2 * margin,
    )
}

/// Where a person's head is: the top of their box, as wide as the box, a quarter of a
/// standing person's height and more of a person cut off by the frame's edge (whose box is
/// wider than tall).
pub fn head_region(person: Rect) -> Rect {
    let height = ((person.height as f32 * 0.22).max(person.width as f32 * 0.45))
        .min(person.height as f32)
        .ceil() as i32;
    Rect::new(person.x, person.y, person.width, height.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standing_persons_head_is_the_top_fifth_of_their_box() {
        let head = head_region(Rect::new(100, 50, 40, 120));
        assert_eq!(head, Rect::new(100, 50, 40, 27));
    }

    #[test]
    fn a_person_cut_off_by_the_frame_has_a_taller_head_region() {
        // Only head and shoulders in view: the box is wider than tall.
        let head = head_region(Rect::new(0, 0, 80, 60));
        assert_eq!(head, Rect::new(0, 0, 80, 36));
        // Never more than the box.
        assert_eq!(head_region(Rect::new(0, 0, 100, 20)).height, 20);
    }

    #[test]
    fn plates_are_searched_below_the_roof() {
        assert_eq!(
            plate_area(Rect::new(10, 100, 200, 100)),
            Rect::new(10, 130, 200, 70)
        );
    }

    #[test]
    fn only_frames_wider_than_the_limit_get_band_tiles() {
        let config = VisionConfig::default();
        assert_eq!(tiles_for(1920, &config), config.proposal_tiles);
        assert_eq!(tiles_for(1281, &config), config.proposal_tiles);
        assert_eq!(tiles_for(1280, &config), 0);
        assert_eq!(tiles_for(960, &config), 0);
    }

    #[test]
    fn a_distant_vehicles_plate_zone_is_its_lower_part() {
        assert_eq!(
            plate_zone(Rect::new(10, 100, 80, 40)),
            Rect::new(10, 118, 80, 22)
        );
    }

    #[test]
    fn the_rest_of_a_plate_is_looked_for_beside_above_and_below_its_line() {
        assert_eq!(
            line_window(Rect::new(100, 300, 110, 50), 1920, 1080),
            Rect::new(0, 250, 310, 150)
        );
        assert_eq!(
            line_window(Rect::new(10, 10, 40, 20), 1920, 1080),
            Rect::new(0, 0, 90, 50)
        );
    }

    #[test]
    fn only_level_text_of_a_like_height_near_the_line_is_the_same_plate() {
        let line = Rect::new(17, 323, 103, 54);
        // "CC" beside "Passat".
        assert!(is_same_plate(line, Rect::new(122, 350, 53, 36)));
        // A second line below, of a two-line plate.
        assert!(is_same_plate(line, Rect::new(30, 380, 80, 50)));
        // Small print and a banner.
        assert!(!is_same_plate(line, Rect::new(122, 350, 40, 12)));
        assert!(!is_same_plate(line, Rect::new(0, 300, 300, 140)));
        // Level, but far to the side.
        assert!(!is_same_plate(line, Rect::new(300, 330, 50, 50)));
    }

    #[test]
    fn a_plate_reaches_above_and_below_its_text() {
        assert_eq!(
            plate_around(Rect::new(50, 40, 90, 20)),
            Rect::new(50, 33, 90, 34)
        );
    }
}
