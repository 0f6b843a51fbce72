//! Region weights: a GeoJSON FeatureCollection of Polygons / MultiPolygons, each with a
//! `name` and a `weight` property. A frame inside a region earns × its weight; outside every
//! region, × 1. Regions must be valid and must not overlap, so every place has one weight.

use geo::{Area, BooleanOps, BoundingRect, Contains, MultiPolygon, Point, Rect, Validation};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Parts per million: weights and qualities are fixed-point integers in the math, so the
/// result never depends on floating-point rounding.
pub const PPM: u64 = 1_000_000;
const MAX_WEIGHT: f64 = 100.0;

#[derive(Debug, Clone)]
struct Region {
    name: String,
    weight_ppm: u64,
    shape: MultiPolygon<f64>,
    bounds: Rect<f64>,
}

/// The region weights of an epoch, with the hash of the file they came from.
#[derive(Debug, Clone, Default)]
pub struct Regions {
    regions: Vec<Region>,
    source_sha256: String,
}

impl Regions {
    /// No regions: every place weighs 1.
    pub fn none() -> Self {
        Self {
            regions: Vec::new(),
            source_sha256: hex::encode(Sha256::digest(b"")),
        }
    }

    /// Parses a GeoJSON FeatureCollection.
    pub fn from_geojson(text: &str) -> Result<Self> {
        let invalid = |reason: String| Error::Regions(reason);
        let parsed: geojson::GeoJson = text
            .parse()
            .map_err(|err| invalid(format!("not GeoJSON: {err}")))?;
        let geojson::GeoJson::FeatureCollection(collection) = parsed else {
            return Err(invalid(
                "expected a FeatureCollection of region polygons".into(),
            ));
        };
        let mut regions = Vec::new();
        for (index, feature) in collection.features.iter().enumerate() {
            let name = feature
                .property("name")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("feature {index}"));
            let weight = feature
                .property("weight")
                .and_then(|v| v.as_f64())
                .ok_or_else(|| {
                    invalid(format!(
                        "region {name:?} has no numeric \"weight\" property"
                    ))
                })?;
            if !(0.0..=MAX_WEIGHT).contains(&weight) {
                return Err(invalid(format!(
                    "region {name:?} has weight {weight}; weights go from 0 to {MAX_WEIGHT}"
                )));
            }
            let geometry = feature
                .geometry
                .as_ref()
                .ok_or_else(|| invalid(format!("region {name:?} has no geometry")))?;
            let shape = match &geometry.value {
                geojson::GeometryValue::Polygon { .. } => MultiPolygon::new(vec![
                    geo::Polygon::try_from(&geometry.value)
                        .map_err(|err| invalid(format!("region {name:?}: {err}")))?,
                ]),
                geojson::GeometryValue::MultiPolygon { .. } => {
                    MultiPolygon::try_from(&geometry.value)
                        .map_err(|err| invalid(format!("region {name:?}: {err}")))?
                }
                _ => {
                    return Err(invalid(format!(
                        "region {name:?} is not a Polygon or MultiPolygon"
                    )));
                }
            };
            if !shape.is_valid() {
                return Err(invalid(format!(
                    "region {name:?} is not a valid polygon (self-intersecting, unclosed or degenerate ring)"
                )));
            }
            let bounds = shape
                .bounding_rect()
                .ok_or_else(|| invalid(format!("region {name:?} is empty")))?;
            regions.push(Region {
                name,
                weight_ppm: (weight * PPM as f64).round() as u64,
                shape,
                bounds,
            });
        }
        for (i, first) in regions.iter().enumerate() {
            for second in &regions[i + 1..] {
                if rects_touch(&first.bounds, &second.bounds)
                    && first.shape.intersection(&second.shape).unsigned_area() > 0.0
                {
                    return Err(Error::RegionsOverlap {
                        first: first.name.clone(),
                        second: second.name.clone(),
                    });
                }
            }
        }
        Ok(Self {
            regions,
            source_sha256: hex::encode(Sha256::digest(text.as_bytes())),
        })
    }

    /// The weight (ppm) of the place at `lat`, `lon`.
    pub fn weight_ppm_at(&self, lat: f64, lon: f64) -> u64 {
        let point = Point::new(lon, lat);
        self.regions
            .iter()
            .find(|region| region.bounds.contains(&point) && region.shape.contains(&point))
            .map_or(PPM, |region| region.weight_ppm)
    }

    /// sha256 of the GeoJSON text, recorded in the manifest.
    pub fn source_sha256(&self) -> &str {
        &self.source_sha256
    }

    pub fn len(&self) -> usize {
        self.regions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }
}

fn rects_touch(a: &Rect<f64>, b: &Rect<f64>) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(name: &str, weight: f64, x0: f64, y0: f64, size: f64) -> String {
        format!(
            r#"{{"type":"Feature","properties":{{"name":"{name}","weight":{weight}}},"geometry":{{"type":"Polygon","coordinates":[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]}}}}"#,
            x1 = x0 + size,
            y1 = y0 + size
        )
    }

    fn collection(features: &[String]) -> String {
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        )
    }

    #[test]
    fn points_take_their_region_weight_or_one() {
        let regions = Regions::from_geojson(&collection(&[
            square("munich", 2.0, 11.0, 48.0, 1.0),
            square("rural", 0.5, 12.5, 48.0, 1.0),
        ]))
        .unwrap();
        assert_eq!(regions.weight_ppm_at(48.13, 11.57), 2 * PPM);
        assert_eq!(regions.weight_ppm_at(48.5, 13.0), PPM / 2);
        assert_eq!(regions.weight_ppm_at(52.5, 13.4), PPM);
        assert_eq!(regions.len(), 2);
    }

    #[test]
    fn overlapping_regions_are_named() {
        let err = Regions::from_geojson(&collection(&[
            square("a", 1.0, 0.0, 0.0, 2.0),
            square("b", 1.0, 1.0, 1.0, 2.0),
        ]))
        .unwrap_err();
        assert!(matches!(err, Error::RegionsOverlap { .. }), "{err}");
        assert!(err.to_string().contains("\"a\" and \"b\""), "{err}");
        // Sharing an edge is not overlapping.
        Regions::from_geojson(&collection(&[
            square("a", 1.0, 0.0, 0.0, 1.0),
            square("b", 1.0, 1.0, 0.0, 1.0),
        ]))
        .unwrap();
    }

    #[test]
    fn invalid_files_are_typed_errors() {
        let bowtie = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"bowtie","weight":1},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}]}"#;
        let no_weight = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"x"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}"#;
        let line = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"weight":1},"geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]}}]}"#;
        for (text, expected) in [
            (bowtie, "not a valid polygon"),
            (no_weight, "no numeric \"weight\""),
            (line, "not a Polygon"),
            ("{", "not GeoJSON"),
            (
                r#"{"type":"Point","coordinates":[0,0]}"#,
                "FeatureCollection",
            ),
            (
                &collection(&[square("heavy", 1000.0, 0.0, 0.0, 1.0)]),
                "weights go from 0",
            ),
        ] {
            let err = Regions::from_geojson(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }
}
