//! Tile addresses and Web Mercator math (EPSG:3857, XYZ scheme as in `/{z}/{x}/{y}`):
//! parsing a request's `z/x/y` with a typed error, the lon/lat box of a tile, the tile of a
//! point, and the tiles a box touches. Pure; no IO.

use std::f64::consts::PI;
use std::fmt;

/// The deepest zoom a request may name; deeper is a client error (`400`).
pub const MAX_REQUEST_ZOOM: u8 = 22;
/// Web Mercator's latitude limit.
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// One tile of the XYZ pyramid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoord {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

/// Why a `z/x/y` is not a tile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordError {
    #[error(
        "{part} `{text}` is not a whole number; tile addresses look like /tiles/14/8529/5974.mvt"
    )]
    NotANumber { part: &'static str, text: String },
    #[error("zoom {z} is deeper than {MAX_REQUEST_ZOOM}, the deepest zoom served")]
    ZoomTooDeep { z: u64 },
    #[error("tile {x}/{y} does not exist at zoom {z}: x and y go from 0 to {max}")]
    OutOfRange { z: u8, x: u64, y: u64, max: u64 },
}

impl TileCoord {
    /// A checked tile address.
    pub fn new(z: u8, x: u32, y: u32) -> Result<Self, CoordError> {
        if z > MAX_REQUEST_ZOOM {
            return Err(CoordError::ZoomTooDeep { z: u64::from(z) });
        }
        let max = (1u64 << z) - 1;
        if u64::from(x) > max || u64::from(y) > max {
            return Err(CoordError::OutOfRange {
                z,
                x: u64::from(x),
                y: u64::from(y),
                max,
            });
        }
        Ok(Self { z, x, y })
    }

    /// Parses the three path segments of a tile request (`y` without its extension).
    pub fn parse(z: &str, x: &str, y: &str) -> Result<Self, CoordError> {
        let number = |part: &'static str, text: &str| {
            // Only plain decimal digits: no sign, no spaces, no `+`, bounded length.
            if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CoordError::NotANumber {
                    part,
                    text: text.chars().take(32).collect(),
                });
            }
            text.parse::<u64>().map_err(|_| CoordError::NotANumber {
                part,
                text: text.to_owned(),
            })
        };
        let (z, x, y) = (number("zoom", z)?, number("x", x)?, number("y", y)?);
        if z > u64::from(MAX_REQUEST_ZOOM) {
            return Err(CoordError::ZoomTooDeep { z });
        }
        let z = z as u8;
        let max = (1u64 << z) - 1;
        if x > max || y > max {
            return Err(CoordError::OutOfRange { z, x, y, max });
        }
        Ok(Self {
            z,
            x: x as u32,
            y: y as u32,
        })
    }

    /// The row in MBTiles' TMS scheme (y counted from the south).
    pub fn tms_row(self) -> u32 {
        ((1u64 << self.z) - 1 - u64::from(self.y)) as u32
    }

    /// The tile of an MBTiles row.
    pub fn from_tms(z: u8, column: u32, row: u32) -> Self {
        let y = ((1u64 << z) - 1 - u64::from(row)) as u32;
        Self { z, x: column, y }
    }

    /// The tile one zoom up that contains this one.
    pub fn parent(self) -> Option<Self> {
        (self.z > 0).then(|| Self {
            z: self.z - 1,
            x: self.x / 2,
            y: self.y / 2,
        })
    }

    /// West, south, east, north in degrees.
    pub fn bounds(self) -> LonLatBox {
        let n = f64::from(1u32 << self.z);
        let west = f64::from(self.x) / n * 360.0 - 180.0;
        let east = f64::from(self.x + 1) / n * 360.0 - 180.0;
        let north = tile_y_to_lat(f64::from(self.y), n);
        let south = tile_y_to_lat(f64::from(self.y + 1), n);
        LonLatBox {
            west,
            south,
            east,
            north,
        }
    }

    /// Where a lon/lat falls inside this tile, in tile units (0..extent, y down); points
    /// outside give values outside that range.
    pub fn project(self, lon: f64, lat: f64, extent: f64) -> (f64, f64) {
        let (wx, wy) = world_xy(lon, lat);
        let n = f64::from(1u32 << self.z);
        (
            (wx * n - f64::from(self.x)) * extent,
            (wy * n - f64::from(self.y)) * extent,
        )
    }

    /// The tile at zoom `z` containing a point.
    pub fn containing(lon: f64, lat: f64, z: u8) -> Self {
        let (wx, wy) = world_xy(lon, lat);
        let n = 1u64 << z;
        let clamp = |v: f64| ((v * n as f64).floor().max(0.0) as u64).min(n - 1) as u32;
        Self {
            z,
            x: clamp(wx),
            y: clamp(wy),
        }
    }

    /// Every tile at zoom `z` that a lon/lat box touches.
    pub fn covering(area: LonLatBox, z: u8) -> impl Iterator<Item = Self> {
        let nw = Self::containing(area.west, area.north, z);
        let se = Self::containing(area.east, area.south, z);
        (nw.x..=se.x).flat_map(move |x| (nw.y..=se.y).map(move |y| Self { z, x, y }))
    }
}

impl fmt::Display for TileCoord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// A box in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LonLatBox {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

impl LonLatBox {
    /// The smallest box holding every point; `None` when there are none.
    pub fn around(points: impl IntoIterator<Item = (f64, f64)>) -> Option<Self> {
        points.into_iter().fold(None, |acc, (lon, lat)| {
            Some(match acc {
                None => Self {
                    west: lon,
                    south: lat,
                    east: lon,
                    north: lat,
                },
                Some(b) => Self {
                    west: b.west.min(lon),
                    south: b.south.min(lat),
                    east: b.east.max(lon),
                    north: b.north.max(lat),
                },
            })
        })
    }

    pub fn union(self, other: Self) -> Self {
        Self {
            west: self.west.min(other.west),
            south: self.south.min(other.south),
            east: self.east.max(other.east),
            north: self.north.max(other.north),
        }
    }

    pub fn intersects(self, other: Self) -> bool {
        self.west <= other.east
            && other.west <= self.east
            && self.south <= other.north
            && other.south <= self.north
    }

    pub fn contains(self, lon: f64, lat: f64) -> bool {
        self.west <= lon && lon <= self.east && self.south <= lat && lat <= self.north
    }

    /// The box grown on every side by `degrees`, kept on the Web Mercator square.
    pub fn grown_by_degrees(self, degrees: f64) -> Self {
        Self {
            west: (self.west - degrees).max(-180.0),
            south: (self.south - degrees).max(-MAX_LATITUDE),
            east: (self.east + degrees).min(180.0),
            north: (self.north + degrees).min(MAX_LATITUDE),
        }
    }

    /// The box grown on every side by a share of its own size.
    pub fn grown(self, share: f64) -> Self {
        let dx = (self.east - self.west) * share;
        let dy = (self.north - self.south) * share;
        Self {
            west: (self.west - dx).max(-180.0),
            south: (self.south - dy).max(-MAX_LATITUDE),
            east: (self.east + dx).min(180.0),
            north: (self.north + dy).min(MAX_LATITUDE),
        }
    }
}

/// A point's position on the Web Mercator square, both axes 0..1, y down.
fn world_xy(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    let x = (lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0;
    (x, y)
}

fn tile_y_to_lat(y: f64, n: f64) -> f64 {
    let mercator = PI * (1.0 - 2.0 * y / n);
    mercator.sinh().atan().to_degrees()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("23", "0", "0", "zoom 23 is deeper than 22")]
    #[case("-1", "0", "0", "`-1` is not a whole number")]
    #[case("a", "0", "0", "`a` is not a whole number")]
    #[case("1", "2", "0", "x and y go from 0 to 1")]
    #[case("0", "0", "1", "x and y go from 0 to 0")]
    #[case("99999999999", "0", "0", "is not a whole number")]
    #[case("14", "", "0", "x `` is not a whole number")]
    #[case("14", "+3", "0", "x `+3` is not a whole number")]
    fn bad_addresses_are_refused_with_the_reason(
        #[case] z: &str,
        #[case] x: &str,
        #[case] y: &str,
        #[case] message: &str,
    ) {
        let error = TileCoord::parse(z, x, y).unwrap_err().to_string();
        assert!(error.contains(message), "{error}");
    }

    #[test]
    fn monaco_falls_in_the_tile_osm_gives_it() {
        // OSM: Monaco harbour at z14 is tile 8529/5974.
        let tile = TileCoord::containing(7.4246, 43.7347, 14);
        assert_eq!((tile.x, tile.y), (8529, 5974));
        let bounds = tile.bounds();
        assert!(bounds.west <= 7.4246 && 7.4246 <= bounds.east);
        assert!(bounds.south <= 43.7347 && 43.7347 <= bounds.north);
        assert_eq!(tile.tms_row(), (1 << 14) - 1 - 5974);
        assert_eq!(TileCoord::from_tms(14, tile.x, tile.tms_row()), tile);
    }

    proptest! {
        #[test]
        fn a_point_projects_inside_its_own_tile(lon in -179.9f64..179.9, lat in -85.0f64..85.0, z in 0u8..=22) {
            let tile = TileCoord::containing(lon, lat, z);
            let (x, y) = tile.project(lon, lat, 4096.0);
            prop_assert!((-1e-6..=4096.0 + 1e-6).contains(&x), "x {x}");
            prop_assert!((-1e-6..=4096.0 + 1e-6).contains(&y), "y {y}");
            prop_assert!(TileCoord::new(tile.z, tile.x, tile.y).is_ok());
            if let Some(parent) = tile.parent() {
                prop_assert_eq!(parent, TileCoord::containing(lon, lat, z - 1));
            }
        }
    }
}
