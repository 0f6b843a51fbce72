//! Map features: what a map consumer buys — one object per real-world sign, at its true
//! position, with when it was first and last seen and whether it is still there — made from
//! the per-frame sign detections the pipeline stores.
//!
//! The way through: a detection and the pose of the camera that made it become a
//! [`Ray`] (bearing from the camera's heading, the box's column and the camera's field of
//! view; a range from the box's size) — or a typed [`Unplaced`] reason. Rays of one sequence
//! are linked into tracks ([`track`]), each track is solved by weighted least squares
//! ([`solve`]: bearings intersected where they spread, the size range where they do not) and
//! merged into the nearest compatible feature of the same class, or starts one ([`merge`]).
//! Every pass that should have seen a feature and did not counts against it; enough such
//! misses and it is `gone` ([`change`]). [`update`] is the one entry point the pipeline
//! calls; [`eval`] scores features against ground truth for the simulator.
//!
//! Owns: the geometry, the merge rule and the change rule, all pure and deterministic.
//! Never does: IO, storage, HTTP, or vision (it takes boxes, it does not find them).

pub mod camera;
pub mod change;
pub mod eval;
pub mod geo;
pub mod heading;
pub mod merge;
pub mod observation;
pub mod solve;
pub mod track;

mod update;

pub use camera::{Camera, CameraError, CameraModels};
pub use change::{FeatureStatus, Pass, PassFrame};
pub use geo::LatLon;
pub use heading::{Heading, HeadingSource, TrackPoint, headings};
pub use merge::Feature;
pub use observation::{Ray, Sighting, Unplaced};
pub use solve::{Estimate, Method};
pub use update::{Config, Update, update};
