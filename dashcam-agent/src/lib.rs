//! The Waymark dashcam agent: turns a camera and a GPS into signed, privacy-trimmed captures
//! on the ingest server.
//!
//! Owns: GPS sources ([`gps`]: NMEA, gpsd, GPX, FIT, GoPro GPMF), time alignment
//! ([`track`]), the device-side gates and distance sampling ([`sampling`]), privacy zones and
//! trip trimming ([`privacy`]), EXIF geotags ([`geotag`]), the durable spool ([`spool`]), the
//! signed upload with resume ([`upload`]) and the [`Agent`] that ties them together. With the
//! `capture` feature (on by default, needs GStreamer), [`capture`] reads cameras, RTSP
//! streams and video files that [`import`] turns into spooled frames; folders of geotagged
//! JPEGs ([`photo`]) import without it.
//!
//! Never does: link OpenCV, tantivy or a web server; decide whether a frame is accepted
//! (that is ingest's call); keep a frame inside a privacy zone or a trip's first/last metres
//! on disk, even for a moment.

pub mod agent;
#[cfg(feature = "capture")]
pub mod capture;
mod error;
pub mod geodesy;
pub mod geotag;
pub mod gps;
pub mod import;
pub mod photo;
pub mod privacy;
pub mod sampling;
pub mod settings;
pub mod spool;
pub mod track;
pub mod upload;

pub use agent::{Agent, AgentConfig, Offer, TripSummary};
pub use error::{Error, Result};
pub use privacy::PrivacyZone;
pub use sampling::{DropReason, SamplingConfig};
pub use settings::Settings;
pub use spool::{Spool, SpoolState, SpoolStatus};
pub use track::{AlignConfig, Track};
pub use upload::{UploadConfig, UploadSummary};
