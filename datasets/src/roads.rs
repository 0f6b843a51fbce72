//! Drivable roads of an OpenStreetMap PBF extract: the ways a car may use (motorway …
//! residential, service, unclassified, their links, living streets) with class, name,
//! direction and speed limit — the tile builder's base layer and the router's input.
//!
//! Ways cut by the extract's border keep their contiguous pieces (one [`RoadWay`] each,
//! same id). Never does: routing (see [`crate::graph`]) or any write.

use std::collections::HashMap;
use std::path::Path;

use osmpbf::{Element, ElementReader};

use crate::error::{Error, Result};

/// The OSM `highway=*` classes a car drives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoadClass {
    Motorway,
    MotorwayLink,
    Trunk,
    TrunkLink,
    Primary,
    PrimaryLink,
    Secondary,
    SecondaryLink,
    Tertiary,
    TertiaryLink,
    Unclassified,
    Residential,
    LivingStreet,
    Service,
}

impl RoadClass {
    /// The class of a `highway=*` value, `None` for roads a car does not use.
    pub fn from_tag(value: &str) -> Option<Self> {
        Some(match value {
            "motorway" => Self::Motorway,
            "motorway_link" => Self::MotorwayLink,
            "trunk" => Self::Trunk,
            "trunk_link" => Self::TrunkLink,
            "primary" => Self::Primary,
            "primary_link" => Self::PrimaryLink,
            "secondary" => Self::Secondary,
            "secondary_link" => Self::SecondaryLink,
            "tertiary" => Self::Tertiary,
            "tertiary_link" => Self::TertiaryLink,
            "unclassified" => Self::Unclassified,
            "residential" => Self::Residential,
            "living_street" => Self::LivingStreet,
            "service" => Self::Service,
            _ => return None,
        })
    }

    /// The `highway=*` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Motorway => "motorway",
            Self::MotorwayLink => "motorway_link",
            Self::Trunk => "trunk",
            Self::TrunkLink => "trunk_link",
            Self::Primary => "primary",
            Self::PrimaryLink => "primary_link",
            Self::Secondary => "secondary",
            Self::SecondaryLink => "secondary_link",
            Self::Tertiary => "tertiary",
            Self::TertiaryLink => "tertiary_link",
            Self::Unclassified => "unclassified",
            Self::Residential => "residential",
            Self::LivingStreet => "living_street",
            Self::Service => "service",
        }
    }

    /// The speed a car typically cruises at on this class without a posted limit, m/s
    /// (urban European values: 110 km/h motorway … 15 km/h on a service road).
    pub fn cruise_speed_ms(self) -> f64 {
        let km_h = match self {
            Self::Motorway => 110.0,
            Self::Trunk => 80.0,
            Self::MotorwayLink | Self::TrunkLink => 60.0,
            Self::Primary => 50.0,
            Self::Secondary => 45.0,
            Self::PrimaryLink | Self::SecondaryLink => 40.0,
            Self::Tertiary => 40.0,
            Self::TertiaryLink | Self::Unclassified => 35.0,
            Self::Residential => 30.0,
            Self::LivingStreet => 15.0,
            Self::Service => 15.0,
        };
        km_h / 3.6
    }

    /// Ways of this class are one-way unless tagged otherwise (OSM convention).
    fn implies_oneway(self) -> bool {
        matches!(self, Self::Motorway | Self::MotorwayLink)
    }
}

/// Which way traffic may go along a way's node order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oneway {
    Both,
    /// Only in the order of the way's nodes.
    Forward,
    /// Only against it (`oneway=-1`).
    Backward,
}

/// One drivable way (or the piece of it inside the extract).
#[derive(Debug, Clone, PartialEq)]
pub struct RoadWay {
    /// The OSM way id.
    pub id: i64,
    pub class: RoadClass,
    pub name: Option<String>,
    pub oneway: Oneway,
    /// The posted `maxspeed` in m/s, when tagged with a number.
    pub maxspeed_ms: Option<f64>,
    /// The OSM node ids, in way order.
    pub nodes: Vec<i64>,
    /// `(lon, lat)` in degrees, one per node.
    pub coords: Vec<(f64, f64)>,
}

impl RoadWay {
    /// The speed a car drives here: the posted limit, or the class's cruise speed if lower
    /// or untagged.
    pub fn speed_ms(&self) -> f64 {
        let cruise = self.class.cruise_speed_ms();
        self.maxspeed_ms.map_or(cruise, |limit| limit.min(cruise))
    }
}

/// The drivable ways of a PBF extract.
#[derive(Debug, Clone)]
pub struct RoadNetwork {
    pub ways: Vec<RoadWay>,
}

impl RoadWay {
    /// The way as the off-road check (`model::roads`) reads it: a one-way road's points run
    /// the way it may be driven.
    pub fn road_line(&self) -> model::roads::RoadLine {
        let mut points = self.coords.clone();
        match self.oneway {
            Oneway::Both => model::roads::RoadLine::two_way(points),
            Oneway::Forward => model::roads::RoadLine::one_way(points),
            Oneway::Backward => {
                points.reverse();
                model::roads::RoadLine::one_way(points)
            }
        }
    }
}

impl RoadNetwork {
    /// Reads the drivable ways of the OSM PBF file at `path`.
    pub fn from_pbf(path: &Path) -> Result<Self> {
        let pbf_error = |source| Error::Pbf {
            path: path.to_owned(),
            source,
        };
        let reader = ElementReader::from_path(path).map_err(pbf_error)?;
        let mut positions: HashMap<i64, (f64, f64)> = HashMap::new();
        let mut tagged: Vec<RoadWay> = Vec::new();
        reader
            .for_each(|element| match element {
                Element::Node(node) => {
                    positions.insert(node.id(), (node.lon(), node.lat()));
                }
                Element::DenseNode(node) => {
                    positions.insert(node.id(), (node.lon(), node.lat()));
                }
                Element::Way(way) => {
                    if let Some(road) = drivable(way.id(), way.tags(), way.refs()) {
                        tagged.push(road);
                    }
                }
                Element::Relation(_) => {}
            })
            .map_err(pbf_error)?;
        let ways: Vec<RoadWay> = tagged
            .into_iter()
            .flat_map(|way| pieces_inside(way, &positions))
            .collect();
        if ways.is_empty() {
            return Err(Error::NoRoads {
                path: path.to_owned(),
            });
        }
        Ok(Self { ways })
    }

    /// The ways indexed for the worker's off-road check (`model::roads`).
    pub fn road_index(&self) -> model::roads::RoadIndex {
        model::roads::RoadIndex::new(self.ways.iter().map(RoadWay::road_line))
    }

    /// `(min_lon, min_lat, max_lon, max_lat)` of every road point.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        let points = self.ways.iter().flat_map(|way| way.coords.iter());
        points.fold(
            (f64::MAX, f64::MAX, f64::MIN, f64::MIN),
            |(x0, y0, x1, y1), &(lon, lat)| (x0.min(lon), y0.min(lat), x1.max(lon), y1.max(lat)),
        )
    }
}

/// A way with its tags judged: `Some` if a car may drive it. Coordinates are filled later.
fn drivable<'a>(
    id: i64,
    tags: impl Iterator<Item = (&'a str, &'a str)>,
    refs: impl Iterator<Item = i64>,
) -> Option<RoadWay> {
    let tags: HashMap<&str, &str> = tags.collect();
    let class = RoadClass::from_tag(tags.get("highway")?)?;
    let closed = |key: &str| matches!(tags.get(key), Some(&("no" | "private")));
    if closed("access")
        || closed("motor_vehicle")
        || closed("motorcar")
        || tags.get("area") == Some(&"yes")
    {
        return None;
    }
    let roundabout = tags.get("junction") == Some(&"roundabout");
    let oneway = match tags.get("oneway").copied() {
        Some("yes" | "true" | "1") => Oneway::Forward,
        Some("-1" | "reverse") => Oneway::Backward,
        Some("no" | "false" | "0") => Oneway::Both,
        _ if class.implies_oneway() || roundabout => Oneway::Forward,
        _ => Oneway::Both,
    };
    Some(RoadWay {
        id,
        class,
        name: tags.get("name").map(|name| (*name).to_owned()),
        oneway,
        maxspeed_ms: tags.get("maxspeed").and_then(|text| parse_maxspeed(text)),
        nodes: refs.collect(),
        coords: Vec::new(),
    })
}

/// A numeric `maxspeed` (km/h, or `… mph`) in m/s; `None` for `none`, `signals`, zone codes.
pub fn parse_maxspeed(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, per_hour_m) = match text.strip_suffix("mph") {
        Some(miles) => (miles.trim(), 1609.344),
        None => (text.strip_suffix("km/h").unwrap_or(text).trim(), 1000.0),
    };
    let value: f64 = number.parse().ok()?;
    (value > 0.0 && value.is_finite()).then(|| value * per_hour_m / 3600.0)
}

/// The contiguous runs of `way` whose nodes the extract contains (at least two nodes each).
fn pieces_inside(way: RoadWay, positions: &HashMap<i64, (f64, f64)>) -> Vec<RoadWay> {
    let mut pieces = Vec::new();
    let mut nodes = Vec::new();
    let mut coords = Vec::new();
    let mut flush = |nodes: &mut Vec<i64>, coords: &mut Vec<(f64, f64)>| {
        if nodes.len() >= 2 {
            pieces.push(RoadWay {
                nodes: std::mem::take(nodes),
                coords: std::mem::take(coords),
                ..way.clone()
            });
        }
        nodes.clear();
        coords.clear();
    };
    for &node in &way.nodes {
        match positions.get(&node) {
            Some(&position) => {
                nodes.push(node);
                coords.push(position);
            }
            None => flush(&mut nodes, &mut coords),
        }
    }
    flush(&mut nodes, &mut coords);
    pieces
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("50", Some(50.0))]
    #[case("30 mph", Some(48.28032))]
    #[case("90 km/h", Some(90.0))]
    #[case("none", None)]
    #[case("FR:urban", None)]
    #[case("0", None)]
    fn maxspeed_is_read_in_km_h(#[case] text: &str, #[case] km_h: Option<f64>) {
        let got = parse_maxspeed(text).map(|ms| (ms * 3.6 * 1000.0).round() / 1000.0);
        assert_eq!(got, km_h.map(|v| (v * 1000.0_f64).round() / 1000.0));
    }
}
