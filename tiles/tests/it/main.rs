//! The tile builder on a real store (SQLite files, the pipeline's own commit path) holding
//! the real Munich drive (bmwcarit/barefoot), and the MBTiles, PMTiles and tile routes it
//! produces.

mod build;
mod files;
mod peers;
mod routes;
mod support;

pub use support::*;
