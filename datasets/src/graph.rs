//! The routable road graph: OSM nodes joined by directed edges (one-way streets have one),
//! weighted by the time a car needs at the road's speed; fastest paths by Dijkstra; the
//! largest strongly connected component, where every node reaches every other.
//!
//! Never does: turn restrictions or traffic (a simulator needs plausible routes, not a
//! navigation product).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use rand::Rng;

use crate::geo::distance_m;
use crate::roads::{Oneway, RoadClass, RoadNetwork};

/// A node of the [`RoadGraph`] (an index, not an OSM id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GraphNode(pub u32);

/// One directed road segment between two consecutive nodes of a way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub to: GraphNode,
    pub length_m: f64,
    /// The speed a car drives here, m/s (posted limit or class cruise speed).
    pub speed_ms: f64,
    pub class: RoadClass,
}

/// A directed graph over the drivable roads of a [`RoadNetwork`].
#[derive(Debug, Clone)]
pub struct RoadGraph {
    /// `(lon, lat)` of each node.
    positions: Vec<(f64, f64)>,
    /// Edges grouped by their start node: node `n`'s are `edges[offsets[n]..offsets[n + 1]]`.
    offsets: Vec<usize>,
    edges: Vec<Edge>,
    /// The nodes of the largest strongly connected component, ascending.
    component: Vec<GraphNode>,
}

/// A path through the graph: its nodes, and the edge taken from each node to the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub nodes: Vec<GraphNode>,
    /// `(lon, lat)` of each node.
    pub points: Vec<(f64, f64)>,
    /// `edges[i]` leads from `nodes[i]` to `nodes[i + 1]`.
    pub edges: Vec<Edge>,
    pub length_m: f64,
}

/// The fastest paths from one node to every node it reaches.
#[derive(Debug, Clone)]
pub struct PathTree {
    source: GraphNode,
    seconds: Vec<f64>,
    length_m: Vec<f64>,
    /// The edge index that reached each node.
    via: Vec<Option<(GraphNode, usize)>>,
}

impl RoadGraph {
    pub fn new(network: &RoadNetwork) -> Self {
        let mut index: HashMap<i64, GraphNode> = HashMap::new();
        let mut positions = Vec::new();
        let mut directed: Vec<(GraphNode, Edge)> = Vec::new();
        for way in &network.ways {
            let speed_ms = way.speed_ms();
            let ids: Vec<GraphNode> = way
                .nodes
                .iter()
                .zip(&way.coords)
                .map(|(&osm, &position)| {
                    *index.entry(osm).or_insert_with(|| {
                        positions.push(position);
                        GraphNode(u32::try_from(positions.len() - 1).unwrap_or(u32::MAX))
                    })
                })
                .collect();
            for (pair, coords) in ids.windows(2).zip(way.coords.windows(2)) {
                let length_m = distance_m(coords[0], coords[1]);
                if pair[0] == pair[1] {
                    continue;
                }
                let edge = |to| Edge {
                    to,
                    length_m,
                    speed_ms,
                    class: way.class,
                };
                if way.oneway != Oneway::Backward {
                    directed.push((pair[0], edge(pair[1])));
                }
                if way.oneway != Oneway::Forward {
                    directed.push((pair[1], edge(pair[0])));
                }
            }
        }
        directed.sort_by_key(|(from, edge)| (*from, edge.to));
        let mut offsets = vec![0; positions.len() + 1];
        for (from, _) in &directed {
            offsets[from.0 as usize + 1] += 1;
        }
        for n in 1..offsets.len() {
            offsets[n] += offsets[n - 1];
        }
        let edges: Vec<Edge> = directed.into_iter().map(|(_, edge)| edge).collect();
        let mut graph = Self {
            positions,
            offsets,
            edges,
            component: Vec::new(),
        };
        graph.component = graph.largest_component();
        graph
    }

    pub fn node_count(&self) -> usize {
        self.positions.len()
    }

    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    pub fn position(&self, node: GraphNode) -> (f64, f64) {
        self.positions[node.0 as usize]
    }

    pub fn edges_from(&self, node: GraphNode) -> &[Edge] {
        let n = node.0 as usize;
        &self.edges[self.offsets[n]..self.offsets[n + 1]]
    }

    /// The nodes of the largest strongly connected component: any two of them are joined
    /// both ways.
    pub fn component(&self) -> &[GraphNode] {
        &self.component
    }

    fn largest_component(&self) -> Vec<GraphNode> {
        let mut graph =
            petgraph::Graph::<(), ()>::with_capacity(self.positions.len(), self.edges.len());
        let nodes: Vec<_> = (0..self.positions.len())
            .map(|_| graph.add_node(()))
            .collect();
        for (from, node) in nodes.iter().enumerate() {
            for edge in &self.edges[self.offsets[from]..self.offsets[from + 1]] {
                graph.add_edge(*node, nodes[edge.to.0 as usize], ());
            }
        }
        let mut largest = petgraph::algo::kosaraju_scc(&graph)
            .into_iter()
            .max_by_key(|component| component.len())
            .unwrap_or_default()
            .into_iter()
            .map(|node| GraphNode(u32::try_from(node.index()).unwrap_or(u32::MAX)))
            .collect::<Vec<_>>();
        largest.sort_unstable();
        largest
    }

    /// The fastest paths from `source` (Dijkstra over travel time).
    pub fn paths_from(&self, source: GraphNode) -> PathTree {
        let count = self.positions.len();
        let mut seconds = vec![f64::INFINITY; count];
        let mut length_m = vec![f64::INFINITY; count];
        let mut via = vec![None; count];
        let mut queue = BinaryHeap::new();
        seconds[source.0 as usize] = 0.0;
        length_m[source.0 as usize] = 0.0;
        queue.push(Queued(0.0, source));
        while let Some(Queued(time, node)) = queue.pop() {
            if time > seconds[node.0 as usize] {
                continue;
            }
            let start = self.offsets[node.0 as usize];
            for (offset, edge) in self.edges_from(node).iter().enumerate() {
                let to = edge.to.0 as usize;
                let arrival = time + edge.length_m / edge.speed_ms;
                if arrival < seconds[to] {
                    seconds[to] = arrival;
                    length_m[to] = length_m[node.0 as usize] + edge.length_m;
                    via[to] = Some((node, start + offset));
                    queue.push(Queued(arrival, edge.to));
                }
            }
        }
        PathTree {
            source,
            seconds,
            length_m,
            via,
        }
    }

    /// The fastest route from `from` to `to`, `None` if `to` cannot be reached.
    pub fn shortest_path(&self, from: GraphNode, to: GraphNode) -> Option<Route> {
        self.paths_from(from).route_to(self, to)
    }

    /// Two distinct random nodes of the largest component (so each reaches the other).
    pub fn random_pair(&self, rng: &mut impl Rng) -> Option<(GraphNode, GraphNode)> {
        if self.component.len() < 2 {
            return None;
        }
        let from = self.component[rng.gen_range(0..self.component.len())];
        loop {
            let to = self.component[rng.gen_range(0..self.component.len())];
            if to != from {
                return Some((from, to));
            }
        }
    }

    /// A route between random nodes of the largest component whose length is near
    /// `target_m` (within ±30 % when the network allows it, else the longest from its start).
    pub fn random_route(&self, rng: &mut impl Rng, target_m: f64) -> Option<Route> {
        let (from, _) = self.random_pair(rng)?;
        self.random_route_from(rng, from, target_m)
    }

    /// A route from `from` to a random node of the largest component whose length is near
    /// `target_m` (within ±30 % when the network allows it, else the longest from `from`).
    pub fn random_route_from(
        &self,
        rng: &mut impl Rng,
        from: GraphNode,
        target_m: f64,
    ) -> Option<Route> {
        let tree = self.paths_from(from);
        let near: Vec<GraphNode> = self
            .component
            .iter()
            .copied()
            .filter(|node| (tree.length_m(*node) - target_m).abs() <= 0.3 * target_m)
            .collect();
        let to = if near.is_empty() {
            self.component
                .iter()
                .copied()
                .filter(|node| tree.length_m(*node).is_finite())
                .max_by(|a, b| tree.length_m(*a).total_cmp(&tree.length_m(*b)))?
        } else {
            near[rng.gen_range(0..near.len())]
        };
        tree.route_to(self, to)
    }

    /// Of `candidates` random nodes of the largest component, the one farthest (as the crow
    /// flies) from `point`.
    pub fn far_node(
        &self,
        rng: &mut impl Rng,
        point: (f64, f64),
        candidates: usize,
    ) -> Option<GraphNode> {
        if self.component.is_empty() {
            return None;
        }
        (0..candidates.max(1))
            .map(|_| self.component[rng.gen_range(0..self.component.len())])
            .max_by(|a, b| {
                distance_m(point, self.position(*a))
                    .total_cmp(&distance_m(point, self.position(*b)))
            })
    }
}

impl PathTree {
    pub fn source(&self) -> GraphNode {
        self.source
    }

    /// Metres along the fastest path to `node` (infinite if unreachable).
    pub fn length_m(&self, node: GraphNode) -> f64 {
        self.length_m[node.0 as usize]
    }

    /// Seconds along the fastest path to `node` at road speed (infinite if unreachable).
    pub fn seconds(&self, node: GraphNode) -> f64 {
        self.seconds[node.0 as usize]
    }

    /// The fastest route from the source to `to`, `None` if unreachable or `to` is the source.
    pub fn route_to(&self, graph: &RoadGraph, to: GraphNode) -> Option<Route> {
        if to == self.source || !self.seconds[to.0 as usize].is_finite() {
            return None;
        }
        let mut nodes = vec![to];
        let mut edges = Vec::new();
        let mut at = to;
        while let Some((previous, edge)) = self.via[at.0 as usize] {
            edges.push(graph.edges[edge]);
            nodes.push(previous);
            at = previous;
        }
        nodes.reverse();
        edges.reverse();
        Some(Route {
            points: nodes.iter().map(|node| graph.position(*node)).collect(),
            length_m: edges.iter().map(|edge| edge.length_m).sum(),
            nodes,
            edges,
        })
    }
}

/// A queue entry ordered so the `BinaryHeap` pops the earliest arrival first.
#[derive(Debug, PartialEq)]
struct Queued(f64, GraphNode);

impl Eq for Queued {}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
