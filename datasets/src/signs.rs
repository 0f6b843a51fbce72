//! Road signs where OpenStreetMap puts them, as physical objects for the simulator:
//! `highway=stop` → "stop", `highway=give_way` → "yield", `highway=traffic_signals` →
//! "traffic light", `traffic_sign=*` nodes carrying a numeric `maxspeed` → "speed limit N",
//! and marked pedestrian crossings (`highway=crossing` with `crossing=zebra|uncontrolled|
//! marked`, which carry a crossing sign in both regions) → "pedestrian crossing". Monaco maps
//! 21 signals, one give-way and some fifty marked crossings this way.
//!
//! OSM maps a stop sign as a node on the road's centre line; the post stands at the
//! roadside. Each sign is placed [`ROADSIDE_M`] to the right of the traffic it faces (both
//! regions drive on the right), facing that traffic: the way's `direction=forward|backward`
//! when tagged, the way's one-way direction, else a direction chosen from the node id
//! (deterministic). A node off every road is its own position, facing the nearest road's
//! traffic the same way. The simulated truth is that physical position.
//!
//! Never does: anything random outside the node id, or read anything but the PBF.

use std::collections::HashMap;
use std::path::Path;

use osmpbf::{Element, ElementReader};

use crate::error::{Error, Result};
use crate::geo::{bearing_deg, distance_m, offset};
use crate::roads::{Oneway, RoadNetwork};

/// How far from the centre line a sign post stands, metres.
pub const ROADSIDE_M: f64 = 3.5;
/// A sign node further than this from every road is not a road sign the fleet can see, metres.
const MAX_ROAD_DISTANCE_M: f64 = 25.0;

/// One sign as a physical object.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadSign {
    pub osm_node: i64,
    pub class: String,
    /// `(lon, lat)` of the OSM node.
    pub node: (f64, f64),
    /// `(lon, lat)` where the simulator puts the post.
    pub position: (f64, f64),
    /// The way the sign face looks, degrees clockwise from north (towards the traffic it
    /// serves).
    pub facing_deg: f64,
}

/// A sign node as read: id, position, class, and its `direction` tag.
struct SignNode {
    id: i64,
    at: (f64, f64),
    class: String,
    direction: Option<String>,
}

/// The road signs of the PBF extract at `path`, on the roads of `network`.
pub fn road_signs(path: &Path, network: &RoadNetwork) -> Result<Vec<RoadSign>> {
    let pbf_error = |source| Error::Pbf {
        path: path.to_owned(),
        source,
    };
    let reader = ElementReader::from_path(path).map_err(pbf_error)?;
    let mut nodes: Vec<SignNode> = Vec::new();
    reader
        .for_each(|element| {
            let found = match element {
                Element::Node(node) => sign_node(node.id(), (node.lon(), node.lat()), node.tags()),
                Element::DenseNode(node) => {
                    sign_node(node.id(), (node.lon(), node.lat()), node.tags())
                }
                _ => None,
            };
            nodes.extend(found);
        })
        .map_err(pbf_error)?;
    let mut on_way: HashMap<i64, (usize, usize)> = HashMap::new();
    for (w, way) in network.ways.iter().enumerate() {
        for (i, node) in way.nodes.iter().enumerate() {
            on_way.entry(*node).or_insert((w, i));
        }
    }
    Ok(nodes
        .into_iter()
        .filter_map(|node| place(node, network, &on_way))
        .collect())
}

fn sign_node<'a>(
    id: i64,
    at: (f64, f64),
    tags: impl Iterator<Item = (&'a str, &'a str)>,
) -> Option<SignNode> {
    let tags: HashMap<&str, &str> = tags.collect();
    let class = match tags.get("highway").copied() {
        Some("stop") => "stop".to_owned(),
        Some("give_way") => "yield".to_owned(),
        Some("traffic_signals") => "traffic light".to_owned(),
        Some("crossing")
            if matches!(
                tags.get("crossing").copied(),
                Some("zebra" | "uncontrolled" | "marked")
            ) =>
        {
            "pedestrian crossing".to_owned()
        }
        _ => {
            tags.get("traffic_sign")?;
            let limit: u32 = tags.get("maxspeed")?.trim().parse().ok()?;
            const GTSRB_LIMITS: [u32; 8] = [20, 30, 50, 60, 70, 80, 100, 120];
            if !GTSRB_LIMITS.contains(&limit) {
                return None;
            }
            format!("speed limit {limit}")
        }
    };
    Some(SignNode {
        id,
        at,
        class,
        direction: tags
            .get("direction")
            .or_else(|| tags.get("traffic_sign:direction"))
            .or_else(|| tags.get("traffic_signals:direction"))
            .map(|d| (*d).to_owned()),
    })
}

fn place(
    node: SignNode,
    network: &RoadNetwork,
    on_way: &HashMap<i64, (usize, usize)>,
) -> Option<RoadSign> {
    let (way, road_bearing, on_centre_line) = match on_way.get(&node.id) {
        Some(&(w, i)) => {
            let coords = &network.ways[w].coords;
            let (a, b) = if i + 1 < coords.len() {
                (coords[i], coords[i + 1])
            } else {
                (coords[i.checked_sub(1)?], coords[i])
            };
            (w, bearing_deg(a, b), true)
        }
        None => {
            let (w, a, b) = nearest_segment(network, node.at)?;
            (w, bearing_deg(a, b), false)
        }
    };
    let forward = match node.direction.as_deref() {
        Some("forward") => true,
        Some("backward") => false,
        _ => match network.ways[way].oneway {
            Oneway::Forward => true,
            Oneway::Backward => false,
            Oneway::Both => node.id.rem_euclid(2) == 0,
        },
    };
    let travel = if forward {
        road_bearing
    } else {
        (road_bearing + 180.0) % 360.0
    };
    let facing_deg = (travel + 180.0) % 360.0;
    let position = if on_centre_line {
        let right = (travel + 90.0).to_radians();
        offset(node.at, ROADSIDE_M * right.sin(), ROADSIDE_M * right.cos())
    } else {
        node.at
    };
    Some(RoadSign {
        osm_node: node.id,
        class: node.class,
        node: node.at,
        position,
        facing_deg,
    })
}

/// A way's index and the two ends of one of its segments.
type Segment = (usize, (f64, f64), (f64, f64));

/// The road segment nearest `at` within [`MAX_ROAD_DISTANCE_M`]: way index and ends.
fn nearest_segment(network: &RoadNetwork, at: (f64, f64)) -> Option<Segment> {
    let mut best: Option<(f64, Segment)> = None;
    for (w, way) in network.ways.iter().enumerate() {
        for pair in way.coords.windows(2) {
            let d = distance_to_segment(at, pair[0], pair[1]);
            if d <= MAX_ROAD_DISTANCE_M && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, (w, pair[0], pair[1])));
            }
        }
    }
    best.map(|(_, segment)| segment)
}

fn distance_to_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let scale = p.1.to_radians().cos();
    let (ax, ay) = ((a.0 - p.0) * scale, a.1 - p.1);
    let (bx, by) = ((b.0 - p.0) * scale, b.1 - p.1);
    let (dx, dy) = (bx - ax, by - ay);
    let length2 = dx * dx + dy * dy;
    let t = if length2 > 0.0 {
        (-(ax * dx + ay * dy) / length2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let closest = (p.0 + (ax + t * dx) / scale, p.1 + ay + t * dy);
    distance_m(p, closest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monaco_has_stop_give_way_and_signal_nodes_placed_at_the_roadside() {
        let network = crate::monaco().unwrap();
        let signs = road_signs(&crate::path("roads/osrm_monaco.osm.pbf"), &network).unwrap();
        let count = |class: &str| signs.iter().filter(|s| s.class == class).count();
        assert!(count("traffic light") >= 15, "{}", count("traffic light"));
        assert!(
            count("pedestrian crossing") >= 30,
            "{}",
            count("pedestrian crossing")
        );
        assert!(count("yield") >= 1);
        for sign in &signs {
            let off = distance_m(sign.node, sign.position);
            assert!(off < ROADSIDE_M + 0.01, "{sign:?}");
            assert!((0.0..360.0).contains(&sign.facing_deg));
        }
    }
}
