//! Waymark's live coverage map: what map consumers and the web map draw.
//!
//! Owns: aggregating accepted frames by H3 cell to the resolution each zoom needs
//! ([`state`]), drawing the `coverage`, `sequences`, `frames` and `features` layers as Mapbox
//! Vector Tiles within tippecanoe's per-tile budgets ([`render`]), the live tileset in an
//! MBTiles file ([`mbtiles`]) kept fresh from the store's dirty cells ([`builder`]), the
//! PMTiles export ([`export`]), TileJSON and the MapLibre style ([`tileset`]), and
//! the tile routes ([`routes`]).
//!
//! Never does: know about uploads, devices or rewards. It reads accepted frames, sequences
//! and map features from `store`, and clears dirty-cell marks only after the tiles they touch are
//! written.

pub mod basemap;
pub mod builder;
pub mod coord;
pub mod export;
pub mod inspect;
pub mod layers;
pub mod mbtiles;

pub mod render;
pub mod routes;

pub mod state;
pub mod tile_cache;
pub mod tileset;

pub use builder::{BuildError, BuildSummary, TileBuilder, TilesConfig};
pub use coord::{CoordError, LonLatBox, TileCoord};
pub use layers::Layer;
pub use mbtiles::{MbTiles, MbTilesError, StoredTile};
pub use render::{RenderConfig, RenderedTile, render};
pub use state::{MapState, MapUpdate};
