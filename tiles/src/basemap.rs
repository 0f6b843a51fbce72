//! The base map: OpenStreetMap roads as a tileset of their own (`roads` layer, z6–14), so
//! the web map has context without any external tile server. Roads come in as plain lines
//! with a class and a name (the `datasets` crate reads them from an OSM PBF); which classes
//! show at which zoom follows the usual cartography: main roads from z6, secondary and
//! tertiary from z10, everything drivable from z12. Pure, apart from the write into the
//! basemap's MBTiles file.

use std::collections::BTreeSet;

use geo::{Coord, LineString, Simplify};

use crate::coord::{LonLatBox, TileCoord};
use crate::layers::{BUFFER, EXTENT, Layer};
use crate::mbtiles::{MbTiles, MbTilesError, WriteSummary};
use crate::render::{Feature, RenderError, Shape, Value, clip_line, fit_budget};
use crate::tileset::{mbtiles_metadata_for, vector_layers_of};

/// One road as OpenStreetMap draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct Road {
    /// The OSM `highway` value: `motorway`, `primary`, `residential`, …
    pub class: String,
    pub name: Option<String>,
    /// lon, lat
    pub coords: Vec<(f64, f64)>,
}

/// The lowest zoom a road class is drawn at.
pub fn min_zoom(class: &str) -> u8 {
    match class.trim_end_matches("_link") {
        "motorway" | "trunk" | "primary" => 6,
        "secondary" | "tertiary" => 10,
        _ => 12,
    }
}

/// Roads with their bounds, ready to draw.
#[derive(Debug, Clone, Default)]
pub struct RoadMap {
    roads: Vec<(LonLatBox, Road)>,
}

impl RoadMap {
    pub fn new(roads: impl IntoIterator<Item = Road>) -> Self {
        Self {
            roads: roads
                .into_iter()
                .filter(|r| r.coords.len() >= 2)
                .filter_map(|r| Some((LonLatBox::around(r.coords.iter().copied())?, r)))
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.roads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roads.is_empty()
    }

    /// Every tile some road shows in.
    pub fn tiles(&self) -> BTreeSet<TileCoord> {
        let mut tiles = BTreeSet::new();
        for (bounds, road) in &self.roads {
            for zoom in min_zoom(&road.class)..=*Layer::Roads.zooms().end() {
                tiles.extend(TileCoord::covering(*bounds, zoom));
            }
        }
        tiles
    }

    /// One basemap tile; `None` when no road shows in it.
    pub fn render(
        &self,
        tile: TileCoord,
    ) -> Result<Option<crate::render::RenderedTile>, RenderError> {
        let extent = f64::from(EXTENT);
        let buffer_degrees = 360.0 / f64::from(1u32 << tile.z) * f64::from(BUFFER) / extent;
        let area = tile.bounds().grown_by_degrees(buffer_degrees);
        let tolerance = if tile.z >= 14 { 0.5 } else { 1.0 };
        let features: Vec<Feature> = self
            .roads
            .iter()
            .filter(|(bounds, road)| bounds.intersects(area) && min_zoom(&road.class) <= tile.z)
            .filter_map(|(_, road)| {
                let line: LineString = road
                    .coords
                    .iter()
                    .map(|&(lon, lat)| {
                        let (x, y) = tile.project(lon, lat, extent);
                        Coord { x, y }
                    })
                    .collect();
                let clipped = clip_line(&line.simplify(tolerance));
                if clipped.0.is_empty() {
                    return None;
                }
                let mut attributes = vec![("class", Value::Text(road.class.clone()))];
                if let Some(name) = &road.name {
                    attributes.push(("name", Value::Text(name.clone())));
                }
                Some(Feature {
                    shape: Shape::Lines(clipped),
                    attributes,
                })
            })
            .collect();
        fit_budget(tile, vec![(Layer::Roads, features)])
    }

    /// The box around every road.
    pub fn bounds(&self) -> Option<LonLatBox> {
        self.roads.iter().map(|(b, _)| *b).reduce(LonLatBox::union)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BasemapError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    MbTiles(#[from] MbTilesError),
}

/// Renders every basemap tile into `tiles` (replacing what it held).
pub async fn build(roads: &RoadMap, tiles: &MbTiles) -> Result<WriteSummary, BasemapError> {
    let rendered: Vec<(TileCoord, Option<Vec<u8>>)> = roads
        .tiles()
        .into_iter()
        .map(|tile| Ok((tile, roads.render(tile)?.map(|r| r.gzipped))))
        .collect::<Result<_, RenderError>>()?;
    tiles.clear().await?;
    let metadata = mbtiles_metadata_for(
        "waymark-basemap",
        "Roads from OpenStreetMap (© OpenStreetMap contributors, ODbL)",
        &vector_layers_of(&[Layer::Roads]),
        roads.bounds(),
    );
    Ok(tiles.write(&metadata, &rendered).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::decode;

    fn road(class: &str, coords: &[(f64, f64)]) -> Road {
        Road {
            class: class.into(),
            name: Some(format!("{class} street")),
            coords: coords.to_vec(),
        }
    }

    #[test]
    fn minor_roads_appear_only_when_zoomed_in() {
        let harbour = [(7.4200, 43.7340), (7.4260, 43.7350)];
        let roads = RoadMap::new([
            road("primary", &harbour),
            road("residential", &[(7.4210, 43.7342), (7.4230, 43.7345)]),
        ]);
        let names_at = |z: u8| -> Vec<String> {
            let tile = TileCoord::containing(7.4220, 43.7344, z);
            let Some(rendered) = roads.render(tile).unwrap() else {
                return vec![];
            };
            let layers = decode(&rendered.gzipped).unwrap();
            assert_eq!(layers[0].name, "roads");
            layers[0]
                .features
                .iter()
                .map(|f| f.attributes["class"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(names_at(5), Vec::<String>::new());
        assert_eq!(names_at(8), vec!["primary"]);
        assert_eq!(names_at(14).len(), 2);
        assert!(roads.tiles().iter().all(|t| (6..=14).contains(&t.z)));
    }
}
