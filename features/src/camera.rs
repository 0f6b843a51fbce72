//! The camera model: a pinhole with a horizontal field of view, which turns a box's column
//! into a bearing off the camera's heading and a box's width into a range. Dashcam lenses
//! are wide and barrel-distorted; a pinhole of the right field of view is good to a degree
//! or two away from the edges, and the solver's bearing noise covers the rest.
//!
//! Which field of view a frame gets comes from the capture's `camera` text, matched
//! against [`CameraModels`] (settings, with presets for dashcams, GoPros and phones).

use serde::{Deserialize, Serialize};

/// Why a field of view was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CameraError {
    #[error(
        "horizontal field of view {0}° is not between 10° and 170°; a pinhole cannot see wider"
    )]
    FieldOfView(f64),
}

/// A camera's horizontal field of view, degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Camera {
    hfov_deg: f64,
}

impl Camera {
    /// A consumer dashcam (1080p, "140° diagonal" lenses measure ≈ 120° across).
    pub const DASHCAM: Camera = Camera { hfov_deg: 120.0 };
    /// A GoPro in its default wide mode.
    pub const GOPRO: Camera = Camera { hfov_deg: 118.0 };
    /// A phone's main camera in landscape.
    pub const PHONE: Camera = Camera { hfov_deg: 66.0 };

    pub fn new(hfov_deg: f64) -> Result<Self, CameraError> {
        if !(10.0..=170.0).contains(&hfov_deg) {
            return Err(CameraError::FieldOfView(hfov_deg));
        }
        Ok(Self { hfov_deg })
    }

    pub fn hfov_deg(&self) -> f64 {
        self.hfov_deg
    }

    /// The focal length in pixels of an image `width` pixels wide.
    pub fn focal_px(&self, width: u32) -> f64 {
        f64::from(width) / 2.0 / (self.hfov_deg.to_radians() / 2.0).tan()
    }

    /// Degrees right of the heading at which `column` (pixels from the left) looks.
    pub fn offset_deg(&self, column: f64, width: u32) -> f64 {
        ((column - f64::from(width) / 2.0) / self.focal_px(width))
            .atan()
            .to_degrees()
    }

    /// The column at which a bearing `offset_deg` right of the heading appears, or `None`
    /// outside the field of view.
    pub fn column(&self, offset_deg: f64, width: u32) -> Option<f64> {
        (offset_deg.abs() < self.hfov_deg / 2.0)
            .then(|| f64::from(width) / 2.0 + self.focal_px(width) * offset_deg.to_radians().tan())
    }
}

/// One settings entry: capture `camera` texts containing `contains` (any case) get `hfov_deg`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraModel {
    pub contains: String,
    pub hfov_deg: f64,
}

/// The field of view of each device model: the first entry whose text the camera name
/// contains wins, then the presets (GoPro, phones), then the default.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraModels {
    default: Camera,
    models: Vec<(String, Camera)>,
}

impl Default for CameraModels {
    fn default() -> Self {
        Self {
            default: Camera::DASHCAM,
            models: Vec::new(),
        }
    }
}

/// Camera names that are phones or GoPros unless settings say otherwise.
const PRESETS: &[(&str, Camera)] = &[
    ("gopro", Camera::GOPRO),
    ("iphone", Camera::PHONE),
    ("pixel", Camera::PHONE),
    ("galaxy", Camera::PHONE),
    ("phone", Camera::PHONE),
    ("android", Camera::PHONE),
];

impl CameraModels {
    pub fn new(default_hfov_deg: f64, models: &[CameraModel]) -> Result<Self, CameraError> {
        Ok(Self {
            default: Camera::new(default_hfov_deg)?,
            models: models
                .iter()
                .map(|m| Ok((m.contains.to_lowercase(), Camera::new(m.hfov_deg)?)))
                .collect::<Result<_, CameraError>>()?,
        })
    }

    /// The camera of a capture whose manifest names `camera`.
    pub fn for_camera(&self, camera: &str) -> Camera {
        let name = camera.to_lowercase();
        self.models
            .iter()
            .map(|(text, camera)| (text.as_str(), *camera))
            .chain(PRESETS.iter().copied())
            .find(|(text, _)| !text.is_empty() && name.contains(text))
            .map_or(self.default, |(_, camera)| camera)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_bearings_invert_each_other() {
        let camera = Camera::DASHCAM;
        assert!(camera.offset_deg(960.0, 1920).abs() < 1e-12);
        assert!((camera.offset_deg(1920.0, 1920) - 60.0).abs() < 1e-9);
        for offset in [-50.0, -10.0, 0.5, 33.0] {
            let column = camera.column(offset, 1920).unwrap();
            assert!((camera.offset_deg(column, 1920) - offset).abs() < 1e-9);
        }
        assert_eq!(camera.column(61.0, 1920), None);
    }

    #[test]
    fn settings_win_over_presets_and_presets_over_the_default() {
        let models = CameraModels::new(
            120.0,
            &[CameraModel {
                contains: "HERO11".into(),
                hfov_deg: 92.0,
            }],
        )
        .unwrap();
        assert_eq!(models.for_camera("GoPro HERO11 Black").hfov_deg(), 92.0);
        assert_eq!(models.for_camera("GoPro HERO9").hfov_deg(), 118.0);
        assert_eq!(models.for_camera("Apple iPhone 15").hfov_deg(), 66.0);
        assert_eq!(models.for_camera("waymark-agent 0.1").hfov_deg(), 120.0);
        assert_eq!(
            CameraModels::new(200.0, &[]),
            Err(CameraError::FieldOfView(200.0))
        );
    }
}
