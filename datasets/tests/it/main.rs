//! The datasets crate on the real files: loaders against what the files are known to hold
//! and against corrupted copies, the Monaco and Helsinki road graphs, the fleet simulator's
//! invariants and the frame source against ingest's own perceptual check.

mod fleet;
mod frames;
mod loaders;
mod map_features;
mod roads;

use std::sync::OnceLock;

use datasets::{RoadGraph, RoadNetwork};

/// Monaco's roads and graph, loaded once per test binary.
pub fn monaco() -> &'static (RoadNetwork, RoadGraph) {
    static MONACO: OnceLock<(RoadNetwork, RoadGraph)> = OnceLock::new();
    MONACO.get_or_init(|| {
        let network = datasets::monaco().expect("the Monaco extract loads");
        let graph = RoadGraph::new(&network);
        (network, graph)
    })
}
