//! Road networks from the real OSM extracts and fastest paths over them.

use datasets::{GraphNode, Oneway, RoadClass, RoadGraph};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::monaco;

#[test]
fn monaco_has_its_drivable_roads_with_classes_names_and_directions() {
    let (network, graph) = monaco();
    assert!(network.ways.len() > 1_500, "{} ways", network.ways.len());
    let has = |class| network.ways.iter().any(|way| way.class == class);
    assert!(has(RoadClass::Primary) && has(RoadClass::Residential) && has(RoadClass::Service));
    assert!(
        network
            .ways
            .iter()
            .any(|way| way.name.as_deref() == Some("Boulevard Albert 1er"))
    );
    assert!(network.ways.iter().any(|way| way.oneway == Oneway::Forward));
    assert!(network.ways.iter().any(|way| way.maxspeed_ms.is_some()));
    assert!(
        network
            .ways
            .iter()
            .all(|way| way.coords.len() == way.nodes.len() && way.coords.len() >= 2)
    );
    let (min_lon, min_lat, max_lon, max_lat) = network.bounds();
    assert!(min_lon > 7.0 && max_lon < 8.0 && min_lat > 43.5 && max_lat < 44.0);
    // Most of the network is one strongly connected component.
    assert!(graph.component().len() * 2 > graph.node_count());
}

#[test]
fn helsinki_loads_and_routes() {
    let network = datasets::helsinki().unwrap();
    let graph = RoadGraph::new(&network);
    assert!(network.ways.len() > 800, "{} ways", network.ways.len());
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let route = graph.random_route(&mut rng, 2_000.0).unwrap();
    assert!(route.length_m > 500.0, "{}", route.length_m);
}

#[test]
fn one_way_streets_are_driven_one_way() {
    let (network, graph) = monaco();
    let oneway = network
        .ways
        .iter()
        .filter(|way| way.oneway == Oneway::Forward && way.class == RoadClass::Residential)
        .find(|way| way.nodes.len() >= 2)
        .expect("Monaco has one-way residential streets");
    let node_at = |position: (f64, f64)| {
        (0..graph.node_count() as u32)
            .map(GraphNode)
            .find(|node| graph.position(*node) == position)
            .unwrap()
    };
    let (a, b) = (node_at(oneway.coords[0]), node_at(oneway.coords[1]));
    assert!(graph.edges_from(a).iter().any(|edge| edge.to == b));
    assert!(!graph.edges_from(b).iter().any(|edge| edge.to == a));
    if let Some(back) = graph.shortest_path(b, a) {
        assert!(
            back.nodes.len() > 2,
            "the way back is not the one-way street itself"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any two nodes of the largest component are joined both ways by a path made of the
    /// graph's own edges, whose length is the sum of its edges.
    #[test]
    fn the_largest_component_is_strongly_connected(seed in any::<u64>()) {
        let (_, graph) = monaco();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (from, to) = graph.random_pair(&mut rng).unwrap();
        for (start, end) in [(from, to), (to, from)] {
            let route = graph.shortest_path(start, end).unwrap();
            prop_assert_eq!(route.nodes.first(), Some(&start));
            prop_assert_eq!(route.nodes.last(), Some(&end));
            for (pair, edge) in route.nodes.windows(2).zip(&route.edges) {
                prop_assert_eq!(edge.to, pair[1]);
                prop_assert!(graph.edges_from(pair[0]).contains(edge));
            }
            let sum: f64 = route.edges.iter().map(|edge| edge.length_m).sum();
            prop_assert!((sum - route.length_m).abs() < 1e-6);
        }
    }
}
