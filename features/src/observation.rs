//! From a detection to a ray: the camera's position, the bearing at which it saw the
//! object (heading + the box column's offset through the camera model) and a range from
//! the box's width against the object's real width — or a typed reason it cannot be placed.

use model::FrameId;
use serde::{Deserialize, Serialize};

use crate::camera::Camera;
use crate::geo::LatLon;
use crate::heading::{Heading, HeadingSource};

/// A box narrower than this, pixels, is too far to range and too small to trust.
pub const MIN_BOX_PX: f64 = 6.0;

/// One detection with the frame and camera that made it, as the pipeline stored them.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    pub frame: FrameId,
    pub capture: String,
    /// The sequence the frame belongs to; rays of one sequence are tracked together.
    pub sequence: Option<String>,
    pub contributor: String,
    pub time_ms: i64,
    pub class: String,
    /// Left, top, width, height in pixels of the frame.
    pub bbox: [i32; 4],
    pub image_width: Option<u32>,
    pub camera: Camera,
    pub position: LatLon,
    pub heading: Option<Heading>,
}

/// Why a sighting gave no ray. Each is counted, none becomes a feature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Unplaced {
    #[error(
        "the frame has no trustworthy heading (standing still, no course over ground, no track)"
    )]
    NoHeading,
    #[error("the frame's width is unknown, so the box's column gives no bearing")]
    NoImageWidth,
    #[error("the box lies outside the frame or is empty")]
    BoxOutsideFrame,
    #[error("the camera position is not a real place")]
    BadPosition,
    #[error("the box is {width_px} px wide, under {MIN_BOX_PX} px: too far to place")]
    TooSmall { width_px: i32 },
    #[error(
        "the object is about {range_m:.0} m away, beyond the {max_m:.0} m a sighting is trusted to"
    )]
    TooFar { range_m: f64, max_m: f64 },
    #[error("seen once and never again: one sighting does not make a feature")]
    SingleSighting,
}

impl Unplaced {
    /// The stable name of the reason (as serialized).
    pub fn slug(&self) -> &'static str {
        match self {
            Self::NoHeading => "no_heading",
            Self::NoImageWidth => "no_image_width",
            Self::BoxOutsideFrame => "box_outside_frame",
            Self::BadPosition => "bad_position",
            Self::TooSmall { .. } => "too_small",
            Self::TooFar { .. } => "too_far",
            Self::SingleSighting => "single_sighting",
        }
    }
}

/// A sighting placed in the world: where the camera was, the bearing it saw the object
/// at, and how far the box's size says it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ray {
    pub frame: FrameId,
    pub capture: String,
    pub sequence: Option<String>,
    pub contributor: String,
    pub time_ms: i64,
    pub class: String,
    pub origin: LatLon,
    /// Degrees clockwise from north, `0..360`.
    pub bearing_deg: f64,
    /// Metres, from the box's width.
    pub range_m: f64,
    pub heading_source: HeadingSource,
}

/// The real width of a sign face of `class`, metres (Vienna Convention sizes for ordinary
/// roads: octagon 0.75 m, triangles 0.9 m, circles and the rest 0.6 m; a traffic light's
/// housing 0.35 m).
pub fn real_width_m(class: &str) -> f64 {
    match class {
        "stop" => 0.75,
        "yield"
        | "general caution"
        | "dangerous curve to the left"
        | "dangerous curve to the right"
        | "double curve"
        | "bumpy road"
        | "slippery road"
        | "road narrows on the right"
        | "road work"
        | "traffic signals"
        | "pedestrians"
        | "children crossing"
        | "bicycles crossing"
        | "beware of ice or snow"
        | "wild animals crossing"
        | "right of way at the next intersection" => 0.9,
        "traffic light" => 0.35,
        _ => 0.6,
    }
}

/// Places `sighting`, or says why it cannot be placed. `max_range_m` bounds how far a
/// sighting is trusted.
pub fn ray(sighting: &Sighting, max_range_m: f64) -> Result<Ray, Unplaced> {
    if !sighting.position.is_plausible() {
        return Err(Unplaced::BadPosition);
    }
    let Some(width) = sighting.image_width.filter(|w| *w > 0) else {
        return Err(Unplaced::NoImageWidth);
    };
    let Some(heading) = sighting.heading else {
        return Err(Unplaced::NoHeading);
    };
    let [x, _, w, h] = sighting.bbox;
    if w <= 0 || h <= 0 || x < 0 || i64::from(x) + i64::from(w) > i64::from(width) {
        return Err(Unplaced::BoxOutsideFrame);
    }
    if f64::from(w) < MIN_BOX_PX {
        return Err(Unplaced::TooSmall { width_px: w });
    }
    let centre = f64::from(x) + f64::from(w) / 2.0;
    let offset = sighting.camera.offset_deg(centre, width);
    let depth = sighting.camera.focal_px(width) * real_width_m(&sighting.class) / f64::from(w);
    let range_m = depth / offset.to_radians().cos();
    if range_m > max_range_m {
        return Err(Unplaced::TooFar {
            range_m,
            max_m: max_range_m,
        });
    }
    Ok(Ray {
        frame: sighting.frame,
        capture: sighting.capture.clone(),
        sequence: sighting.sequence.clone(),
        contributor: sighting.contributor.clone(),
        time_ms: sighting.time_ms,
        class: sighting.class.clone(),
        origin: sighting.position,
        bearing_deg: (heading.deg + offset).rem_euclid(360.0),
        range_m,
        heading_source: heading.source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sighting(bbox: [i32; 4], heading: Option<f64>) -> Sighting {
        Sighting {
            frame: FrameId::of_bytes(b"frame"),
            capture: "c".into(),
            sequence: Some("c-0".into()),
            contributor: "alice".into(),
            time_ms: 0,
            class: "stop".into(),
            bbox,
            image_width: Some(1920),
            camera: Camera::DASHCAM,
            position: LatLon::new(43.73, 7.42),
            heading: heading.map(|deg| Heading {
                deg,
                source: HeadingSource::Receiver,
            }),
        }
    }

    #[test]
    fn a_box_right_of_centre_is_right_of_the_heading_and_its_width_gives_the_range() {
        // Focal length of a 120° camera 1920 px wide: 960 / tan 60° ≈ 554 px; a 0.75 m stop
        // sign 28 px wide at the centre is ≈ 14.8 m away.
        let placed = ray(&sighting([946, 500, 28, 28], Some(350.0)), 60.0).unwrap();
        assert!((placed.bearing_deg - 350.0).abs() < 0.01);
        assert!((placed.range_m - 14.84).abs() < 0.05, "{placed:?}");
        let right = ray(&sighting([1500, 500, 28, 28], Some(350.0)), 60.0).unwrap();
        assert!(right.bearing_deg > 350.0 + 40.0 - 360.0 && right.bearing_deg < 40.0);
    }

    #[test]
    fn what_cannot_be_placed_says_why() {
        assert_eq!(
            ray(&sighting([10, 10, 20, 20], None), 60.0),
            Err(Unplaced::NoHeading)
        );
        assert_eq!(
            ray(&sighting([1910, 10, 20, 20], Some(0.0)), 60.0),
            Err(Unplaced::BoxOutsideFrame)
        );
        assert_eq!(
            ray(&sighting([10, 10, 3, 3], Some(0.0)), 60.0),
            Err(Unplaced::TooSmall { width_px: 3 })
        );
        assert!(matches!(
            ray(&sighting([900, 10, 7, 7], Some(0.0)), 30.0),
            Err(Unplaced::TooFar { .. })
        ));
        let mut nowhere = sighting([10, 10, 20, 20], Some(0.0));
        nowhere.position = LatLon::new(0.0, 0.0);
        assert_eq!(ray(&nowhere, 60.0), Err(Unplaced::BadPosition));
        nowhere.position = LatLon::new(43.0, 7.0);
        nowhere.image_width = None;
        assert_eq!(ray(&nowhere, 60.0), Err(Unplaced::NoImageWidth));
    }
}
