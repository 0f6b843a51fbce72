//! What describes the tileset: MBTiles 1.3 `metadata` (with `json` → `vector_layers`),
//! TileJSON 3.0 for `/tiles.json`, and a MapLibre style for `/style.json` that colours
//! coverage by how long ago each cell was last mapped — computed from the `last_seen` day
//! number against the day the style is served, so time passing never needs re-tiling.

use serde_json::{Value, json};

use crate::coord::LonLatBox;
use crate::layers::{FRESHNESS_REFILL_DAYS, Layer, MAX_ZOOM};

pub const NAME: &str = "waymark";
pub const ATTRIBUTION: &str = "© Waymark contributors";

/// The live layers as TileJSON's `vector_layers`.
pub fn vector_layers() -> Value {
    vector_layers_of(&Layer::ALL)
}

/// `layers` as TileJSON's `vector_layers`.
pub fn vector_layers_of(layers: &[Layer]) -> Value {
    Value::Array(
        layers
            .iter()
            .map(|layer| {
                let fields: serde_json::Map<String, Value> = layer
                    .fields()
                    .iter()
                    .map(|(name, kind)| ((*name).to_owned(), Value::from(*kind)))
                    .collect();
                json!({
                    "id": layer.name(),
                    "description": layer.description(),
                    "minzoom": layer.zooms().start(),
                    "maxzoom": layer.zooms().end(),
                    "fields": fields,
                })
            })
            .collect(),
    )
}

/// MBTiles `metadata` rows of the live tileset, for data covering `bounds`.
pub fn mbtiles_metadata(bounds: Option<LonLatBox>) -> Vec<(String, String)> {
    mbtiles_metadata_for(
        NAME,
        "Waymark coverage: H3 cells, sequences, frames and map features",
        &vector_layers(),
        bounds,
    )
}

/// MBTiles `metadata` rows of a tileset.
pub fn mbtiles_metadata_for(
    name: &str,
    description: &str,
    vector_layers: &Value,
    bounds: Option<LonLatBox>,
) -> Vec<(String, String)> {
    let bounds = bounds.unwrap_or(LonLatBox {
        west: -180.0,
        south: -85.051_128_78,
        east: 180.0,
        north: 85.051_128_78,
    });
    let center_lon = (bounds.west + bounds.east) / 2.0;
    let center_lat = (bounds.south + bounds.north) / 2.0;
    let min_zoom = vector_layers
        .as_array()
        .and_then(|layers| layers.iter().filter_map(|l| l["minzoom"].as_u64()).min())
        .unwrap_or(0);
    [
        ("name", name.to_owned()),
        ("format", "pbf".to_owned()),
        ("type", "overlay".to_owned()),
        ("version", "1".to_owned()),
        ("description", description.to_owned()),
        ("attribution", ATTRIBUTION.to_owned()),
        ("minzoom", min_zoom.to_string()),
        ("maxzoom", MAX_ZOOM.to_string()),
        (
            "bounds",
            format!(
                "{:.6},{:.6},{:.6},{:.6}",
                bounds.west, bounds.south, bounds.east, bounds.north
            ),
        ),
        ("center", format!("{center_lon:.6},{center_lat:.6},12")),
        (
            "json",
            json!({ "vector_layers": vector_layers }).to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// TileJSON 3.0.0 for the live tiles served under `base_url`.
pub fn tilejson(base_url: &str, bounds: Option<LonLatBox>) -> Value {
    let mut doc = json!({
        "tilejson": "3.0.0",
        "name": NAME,
        "attribution": ATTRIBUTION,
        "scheme": "xyz",
        "tiles": [format!("{base_url}/tiles/{{z}}/{{x}}/{{y}}.mvt")],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "vector_layers": vector_layers(),
    });
    if let Some(b) = bounds {
        doc["bounds"] = json!([b.west, b.south, b.east, b.north]);
        doc["center"] = json!([(b.west + b.east) / 2.0, (b.south + b.north) / 2.0, 12]);
    }
    doc
}

/// TileJSON 3.0.0 for the base map's roads.
pub fn basemap_tilejson(base_url: &str, bounds: Option<LonLatBox>) -> Value {
    let mut doc = json!({
        "tilejson": "3.0.0",
        "name": "waymark-basemap",
        "attribution": "© OpenStreetMap contributors (ODbL)",
        "scheme": "xyz",
        "tiles": [format!("{base_url}/basemap/{{z}}/{{x}}/{{y}}.mvt")],
        "minzoom": Layer::Roads.zooms().start(),
        "maxzoom": MAX_ZOOM,
        "vector_layers": vector_layers_of(&[Layer::Roads]),
    });
    if let Some(b) = bounds {
        doc["bounds"] = json!([b.west, b.south, b.east, b.north]);
    }
    doc
}

/// A MapLibre style over the live tiles (and the base map's roads when `with_roads`);
/// `today` is the day number the coverage colours are computed against.
pub fn style(base_url: &str, today: i64, bounds: Option<LonLatBox>, with_roads: bool) -> Value {
    let age_days = json!(["-", today, ["get", "last_seen"]]);
    let refill = FRESHNESS_REFILL_DAYS;
    let (center, zoom) = match bounds {
        Some(b) => (
            json!([(b.west + b.east) / 2.0, (b.south + b.north) / 2.0]),
            12,
        ),
        None => (json!([0, 20]), 1),
    };
    let mut style = json!({
        "version": 8,
        "name": "Waymark coverage",
        "center": center,
        "zoom": zoom,
        "sources": {
            "waymark": { "type": "vector", "url": format!("{base_url}/tiles.json") }
        },
        "layers": [
            { "id": "background", "type": "background", "paint": { "background-color": "#f4f1ea" } },
            {
                "id": "coverage", "type": "fill", "source": "waymark", "source-layer": "coverage",
                "paint": {
                    // Fresh (just mapped) is deep teal; a cell whose weight has refilled
                    // (worth mapping again) fades to amber.
                    "fill-color": ["interpolate", ["linear"], age_days,
                        0, "#00796b", refill, "#ffb300"],
                    "fill-opacity": 0.6
                }
            },
            {
                "id": "sequences", "type": "line", "source": "waymark", "source-layer": "sequences",
                "paint": {
                    "line-color": ["interpolate", ["linear"], ["get", "quality"], 0, "#b71c1c", 1, "#1565c0"],
                    "line-width": ["interpolate", ["linear"], ["zoom"], 6, 1, 14, 4]
                }
            },
            {
                "id": "frames", "type": "circle", "source": "waymark", "source-layer": "frames",
                "paint": { "circle-radius": 3, "circle-color": "#0d47a1", "circle-stroke-color": "#fff", "circle-stroke-width": 1 }
            },
            {
                "id": "features", "type": "circle", "source": "waymark", "source-layer": "features",
                "paint": {
                    "circle-radius": 6,
                    "circle-color": ["match", ["get", "status"], "new", "#f57c00", "gone", "#9e9e9e", "#d32f2f"],
                    "circle-stroke-color": "#fff", "circle-stroke-width": 1.5
                }
            }
        ]
    });
    if with_roads {
        style["sources"]["basemap"] =
            json!({ "type": "vector", "url": format!("{base_url}/basemap.json") });
        let roads = json!([
            {
                "id": "roads-minor", "type": "line", "source": "basemap", "source-layer": "roads",
                "filter": ["!", ["match", ["get", "class"], ["motorway", "trunk", "primary", "secondary", "tertiary"], true, false]],
                "paint": { "line-color": "#ffffff", "line-width": ["interpolate", ["exponential", 1.6], ["zoom"], 12, 0.5, 18, 8] }
            },
            {
                "id": "roads-major", "type": "line", "source": "basemap", "source-layer": "roads",
                "filter": ["match", ["get", "class"], ["motorway", "trunk", "primary", "secondary", "tertiary"], true, false],
                "paint": { "line-color": "#fbe3a1", "line-width": ["interpolate", ["exponential", 1.6], ["zoom"], 6, 0.4, 12, 1.5, 18, 14] }
            }
        ]);
        let layers = style["layers"].as_array_mut().expect("layers");
        // Roads go right above the background, beneath coverage.
        for (offset, layer) in roads.as_array().expect("array").iter().enumerate() {
            layers.insert(1 + offset, layer.clone());
        }
    }
    style
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_every_layer_with_its_zooms() {
        let metadata = mbtiles_metadata(None);
        let json = &metadata.iter().find(|(k, _)| k == "json").unwrap().1;
        let parsed: Value = serde_json::from_str(json).unwrap();
        let ids: Vec<&str> = parsed["vector_layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["coverage", "sequences", "frames", "features"]);
        assert_eq!(parsed["vector_layers"][0]["maxzoom"], 11);
    }
}
