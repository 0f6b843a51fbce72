//! The tileset's layers and the zooms each appears at (DESIGN.md §4, after Mapillary and
//! Panoramax), the H3 resolution coverage is aggregated to at each zoom, and the freshness
//! rule (a cell's reward weight refills linearly from 0 to 1 over 7 days after it is
//! mapped). Pure.

use std::ops::RangeInclusive;

use h3o::Resolution;

/// Tile units per side (MVT's usual extent).
pub const EXTENT: u32 = 4096;
/// How far beyond its edges a tile carries geometry, in tile units, so lines and polygons
/// meet seamlessly at tile borders.
pub const BUFFER: u32 = 64;
/// The deepest zoom tiles are built for; MapLibre over-zooms beyond it.
pub const MAX_ZOOM: u8 = 14;
/// Per-tile budgets (tippecanoe's defaults).
pub const MAX_TILE_BYTES: usize = 500 * 1024;
pub const MAX_TILE_FEATURES: usize = 200_000;
/// Days over which a cell's freshness weight refills from 0 to 1.
pub const FRESHNESS_REFILL_DAYS: i64 = 7;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// One layer of the tileset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// H3 cells aggregated to a resolution that fits the zoom: `frames`, `contributors`,
    /// `last_seen` (day number since 1970-01-01 UTC), `freshness` (0..1 at build time).
    Coverage,
    /// Sequence lines: `id`, `captured_at` (ms), `contributor`, `quality`.
    Sequences,
    /// Accepted frames: `id` (sha256), `captured_at`, `heading`, `sequence`, `thumb`.
    Frames,
    /// Map features (one per real-world sign, positioned and merged): `id`, `class`,
    /// `status` (new, confirmed, gone), `uncertainty_m`, `observations`, `last_seen`.
    Features,
    /// The base map's roads, from OpenStreetMap: `class`, `name` (a separate tileset).
    Roads,
}

impl Layer {
    /// The live tileset's layers.
    pub const ALL: [Layer; 4] = [
        Layer::Coverage,
        Layer::Sequences,
        Layer::Frames,
        Layer::Features,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Layer::Coverage => "coverage",
            Layer::Sequences => "sequences",
            Layer::Frames => "frames",
            Layer::Features => "features",
            Layer::Roads => "roads",
        }
    }

    pub fn zooms(self) -> RangeInclusive<u8> {
        match self {
            Layer::Coverage => 0..=11,
            Layer::Sequences => 6..=MAX_ZOOM,
            Layer::Frames => MAX_ZOOM..=MAX_ZOOM,
            Layer::Features => 12..=MAX_ZOOM,
            Layer::Roads => 6..=MAX_ZOOM,
        }
    }

    pub fn at(self, zoom: u8) -> bool {
        self.zooms().contains(&zoom)
    }

    /// The layer's attributes and their TileJSON types.
    pub fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Layer::Coverage => &[
                ("frames", "Number"),
                ("contributors", "Number"),
                ("last_seen", "Number"),
                ("freshness", "Number"),
            ],
            Layer::Sequences => &[
                ("id", "String"),
                ("captured_at", "Number"),
                ("contributor", "String"),
                ("quality", "Number"),
            ],
            Layer::Frames => &[
                ("id", "String"),
                ("captured_at", "Number"),
                ("heading", "Number"),
                ("sequence", "String"),
                ("thumb", "String"),
            ],
            Layer::Features => &[
                ("id", "String"),
                ("class", "String"),
                ("status", "String"),
                ("uncertainty_m", "Number"),
                ("observations", "Number"),
                ("last_seen", "Number"),
            ],
            Layer::Roads => &[("class", "String"), ("name", "String")],
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Layer::Coverage => "H3 cells mapped, aggregated to fit the zoom",
            Layer::Sequences => "the lines drivers' accepted sequences follow",
            Layer::Frames => "accepted, privacy-blurred frames",
            Layer::Features => {
                "map features: one per real-world sign, positioned from every frame that saw it"
            }
            Layer::Roads => "roads from OpenStreetMap, for context",
        }
    }
}

/// The H3 resolution coverage is shown at for a zoom: cells a few pixels wide on a 512 px
/// tile (res 1 at z0 … res 9 at z11).
pub fn coverage_resolution(zoom: u8) -> Resolution {
    let resolution = match zoom {
        0 => 1,
        1 | 2 => 2,
        3 => 3,
        4 | 5 => 4,
        6 => 5,
        7 | 8 => 6,
        9 => 7,
        10 => 8,
        _ => 9,
    };
    Resolution::try_from(resolution).expect("resolutions 1..=9 exist")
}

/// The whole day number (since 1970-01-01 UTC) of a time in ms.
pub fn day_number(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// A cell's reward weight `now_ms`: 0 right after it is mapped, back to 1 after 7 days.
pub fn freshness(last_mapped_ms: i64, now_ms: i64) -> f64 {
    let age = (now_ms - last_mapped_ms).max(0) as f64;
    (age / (FRESHNESS_REFILL_DAYS * DAY_MS) as f64).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_refills_linearly_over_a_week() {
        let mapped = 1_700_000_000_000;
        assert_eq!(freshness(mapped, mapped), 0.0);
        assert!((freshness(mapped, mapped + 7 * DAY_MS / 2) - 0.5).abs() < 1e-12);
        assert_eq!(freshness(mapped, mapped + 30 * DAY_MS), 1.0);
        assert_eq!(freshness(mapped, mapped - DAY_MS), 0.0);
    }

    #[test]
    fn coverage_gets_finer_as_the_map_zooms_in() {
        let resolutions: Vec<u8> = Layer::Coverage
            .zooms()
            .map(|z| u8::from(coverage_resolution(z)))
            .collect();
        assert!(resolutions.windows(2).all(|w| w[0] <= w[1]));
        assert!(*resolutions.last().unwrap() < u8::from(model::COVERAGE_RESOLUTION));
    }
}
