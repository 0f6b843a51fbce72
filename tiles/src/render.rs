//! One tile from the map state: each layer's features projected into tile units, clipped
//! to the tile plus its buffer and simplified with `geo`, encoded as a Mapbox Vector Tile
//! 2.1 with the `mvt` crate, gzip-compressed. Per-tile budgets as tippecanoe keeps them:
//! at most 200 000 features and 500 KB compressed, met by thinning points evenly across
//! the tile (every k-th in space-filling-curve order, never a region dropped) and then by
//! simplifying lines harder. Pure.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use geo::{BooleanOps, Coord, LineString, MultiLineString, Polygon, Rect, Simplify};
use mvt::{GeomEncoder, GeomType};

use crate::coord::TileCoord;
use crate::layers::{
    BUFFER, EXTENT, Layer, MAX_TILE_BYTES, MAX_TILE_FEATURES, coverage_resolution, day_number,
    freshness,
};
use crate::state::MapState;

/// What a tile's content depends on besides the map.
#[derive(Debug, Clone)]
pub struct RenderConfig {
    /// "Now" for the `freshness` attribute.
    pub now_ms: i64,
    /// URL of a frame's thumbnail, `{id}` replaced by its sha256.
    pub thumb_url: String,
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self {
            now_ms: 0,
            thumb_url: "/api/v1/frames/{id}/thumbnail.jpg".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot encode tile {tile}: {source}")]
    Encode { tile: TileCoord, source: mvt::Error },
    #[error("cannot compress tile {tile}: {source}")]
    Compress {
        tile: TileCoord,
        source: std::io::Error,
    },
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Text(String),
    Int(i64),
    Float(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    Point(Coord),
    Lines(MultiLineString),
    /// Exterior rings, each without its closing point.
    Polygons(Vec<Vec<Coord>>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Feature {
    pub(crate) shape: Shape,
    pub(crate) attributes: Vec<(&'static str, Value)>,
}

/// A rendered tile.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedTile {
    /// gzip-compressed MVT.
    pub gzipped: Vec<u8>,
    pub features: usize,
    /// Whether budgets made it drop points or simplify harder.
    pub thinned: bool,
}

/// Renders `tile`; `None` when no layer has anything in it.
pub fn render(
    state: &MapState,
    tile: TileCoord,
    config: &RenderConfig,
) -> Result<Option<RenderedTile>, RenderError> {
    let layers: Vec<(Layer, Vec<Feature>)> = Layer::ALL
        .into_iter()
        .filter(|layer| layer.at(tile.z))
        .map(|layer| (layer, features(state, layer, tile, config)))
        .filter(|(_, features)| !features.is_empty())
        .collect();
    fit_budget(tile, layers)
}

/// Encodes `layers` within the per-tile budgets; `None` when there is nothing to draw.
pub(crate) fn fit_budget(
    tile: TileCoord,
    mut layers: Vec<(Layer, Vec<Feature>)>,
) -> Result<Option<RenderedTile>, RenderError> {
    layers.retain(|(_, features)| !features.is_empty());
    if layers.is_empty() {
        return Ok(None);
    }
    let mut thinned = false;
    let total: usize = layers.iter().map(|(_, f)| f.len()).sum();
    if total > MAX_TILE_FEATURES {
        thin_points(&mut layers, MAX_TILE_FEATURES as f64 / total as f64);
        thinned = true;
    }
    for _ in 0..12 {
        let gzipped = encode(tile, &layers)?;
        if gzipped.len() <= MAX_TILE_BYTES {
            let features = layers.iter().map(|(_, f)| f.len()).sum();
            return Ok(Some(RenderedTile {
                gzipped,
                features,
                thinned,
            }));
        }
        thinned = true;
        if !thin_points(&mut layers, 0.5) {
            simplify_lines(&mut layers, 8.0);
        }
    }
    let features = layers.iter().map(|(_, f)| f.len()).sum();
    tracing::warn!(%tile, "tile stays over its byte budget after thinning");
    Ok(Some(RenderedTile {
        gzipped: encode(tile, &layers)?,
        features,
        thinned,
    }))
}

/// The tile's drawing area (its extent plus the buffer), in tile units.
fn clip_rect() -> Rect {
    let low = -f64::from(BUFFER);
    let high = f64::from(EXTENT + BUFFER);
    Rect::new(Coord { x: low, y: low }, Coord { x: high, y: high })
}

fn inside(c: Coord) -> bool {
    let low = -f64::from(BUFFER);
    let high = f64::from(EXTENT + BUFFER);
    (low..=high).contains(&c.x) && (low..=high).contains(&c.y)
}

fn features(
    state: &MapState,
    layer: Layer,
    tile: TileCoord,
    config: &RenderConfig,
) -> Vec<Feature> {
    let extent = f64::from(EXTENT);
    let project = |lon: f64, lat: f64| {
        let (x, y) = tile.project(lon, lat, extent);
        Coord { x, y }
    };
    let buffer_degrees = 360.0 / f64::from(1u32 << tile.z) * f64::from(BUFFER) / extent;
    let area = tile.bounds().grown_by_degrees(buffer_degrees);
    match layer {
        Layer::Coverage => state
            .coverage_in(area, coverage_resolution(tile.z))
            .into_iter()
            .filter_map(|(cell, summary)| {
                let ring: Vec<Coord> = cell
                    .boundary()
                    .iter()
                    .map(|v| project(v.lng(), v.lat()))
                    .collect();
                let polygons = clip_polygon(ring);
                (!polygons.is_empty()).then(|| Feature {
                    shape: Shape::Polygons(polygons),
                    attributes: vec![
                        ("frames", Value::Int(summary.frames as i64)),
                        (
                            "contributors",
                            Value::Int(summary.contributors.len() as i64),
                        ),
                        ("last_seen", Value::Int(day_number(summary.last_seen_ms))),
                        (
                            "freshness",
                            Value::Float(round3(freshness(summary.last_seen_ms, config.now_ms))),
                        ),
                    ],
                })
            })
            .collect(),
        Layer::Sequences => {
            let tolerance = if tile.z >= 14 { 0.5 } else { 1.0 };
            let mut lines: Vec<Feature> = state
                .sequences_in(area)
                .filter_map(|sequence| {
                    let line: LineString = sequence
                        .coords
                        .iter()
                        .map(|&(lon, lat)| project(lon, lat))
                        .collect();
                    // Clipped first: a tile simplifies only the part of a long drive it shows.
                    let clipped = clip_line(&line).simplify(tolerance);
                    (!clipped.0.is_empty()).then(|| Feature {
                        shape: Shape::Lines(clipped),
                        attributes: vec![
                            ("id", Value::Text(sequence.id.clone())),
                            ("captured_at", Value::Int(sequence.started_at_ms)),
                            ("contributor", Value::Text(sequence.contributor_id.clone())),
                            ("quality", Value::Float(round3(sequence.quality))),
                        ],
                    })
                })
                .collect();
            lines.sort_by(|a, b| text_of(a, "id").cmp(text_of(b, "id")));
            lines
        }
        Layer::Frames => {
            let mut points: Vec<Feature> = state
                .frames_in(area)
                .map(|frame| {
                    let id = frame.sha256.to_hex();
                    let mut attributes = vec![
                        ("captured_at", Value::Int(frame.captured_at_ms)),
                        ("thumb", Value::Text(config.thumb_url.replace("{id}", &id))),
                        ("id", Value::Text(id)),
                    ];
                    if let Some(heading) = frame.heading {
                        attributes.push(("heading", Value::Float(round3(heading))));
                    }
                    if let Some(sequence) = &frame.sequence_id {
                        attributes.push(("sequence", Value::Text(sequence.clone())));
                    }
                    Feature {
                        shape: Shape::Point(project(frame.lon, frame.lat)),
                        attributes,
                    }
                })
                .filter(|f| matches!(f.shape, Shape::Point(c) if inside(c)))
                .collect();
            sort_along_curve(&mut points);
            points
        }
        // The base map is a tileset of its own (`basemap`).
        Layer::Roads => Vec::new(),
        Layer::Features => {
            let mut points: Vec<Feature> = state
                .features_in(area)
                .map(|feature| Feature {
                    shape: Shape::Point(project(feature.lon, feature.lat)),
                    attributes: vec![
                        ("id", Value::Text(feature.id.clone())),
                        ("class", Value::Text(feature.class.clone())),
                        (
                            "status",
                            Value::Text(
                                features::change::status_of(
                                    feature.gone_at_ms,
                                    feature.first_seen_ms,
                                    config.now_ms,
                                )
                                .as_str()
                                .to_owned(),
                            ),
                        ),
                        ("uncertainty_m", Value::Float(round3(feature.uncertainty_m))),
                        (
                            "observations",
                            Value::Int(i64::from(feature.observation_count)),
                        ),
                        ("last_seen", Value::Int(feature.last_seen_ms)),
                    ],
                })
                .filter(|f| matches!(f.shape, Shape::Point(c) if inside(c)))
                .collect();
            sort_along_curve(&mut points);
            points
        }
    }
}

fn text_of<'a>(feature: &'a Feature, key: &str) -> &'a str {
    feature
        .attributes
        .iter()
        .find_map(|(k, v)| match v {
            Value::Text(text) if *k == key => Some(text.as_str()),
            _ => None,
        })
        .unwrap_or("")
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Clips a polyline to the drawing area, segment by segment (Liang–Barsky): linear in the
/// number of points, which matters for long sequences crossing many tiles.
pub(crate) fn clip_line(line: &LineString) -> MultiLineString {
    if line.0.iter().all(|c| inside(*c)) {
        return MultiLineString::new(vec![line.clone()]);
    }
    let mut pieces: Vec<LineString> = Vec::new();
    let mut current: Vec<Coord> = Vec::new();
    for segment in line.0.windows(2) {
        let Some((a, b)) = clip_segment(segment[0], segment[1]) else {
            flush(&mut current, &mut pieces);
            continue;
        };
        if current.last() != Some(&a) {
            flush(&mut current, &mut pieces);
            current.push(a);
        }
        current.push(b);
        if b != segment[1] {
            // The segment left the area: this piece ends here.
            flush(&mut current, &mut pieces);
        }
    }
    flush(&mut current, &mut pieces);
    MultiLineString::new(pieces)
}

fn flush(current: &mut Vec<Coord>, pieces: &mut Vec<LineString>) {
    if current.len() >= 2 {
        pieces.push(LineString::new(std::mem::take(current)));
    } else {
        current.clear();
    }
}

/// The part of segment `a`–`b` inside the drawing area, if any.
fn clip_segment(a: Coord, b: Coord) -> Option<(Coord, Coord)> {
    let low = -f64::from(BUFFER);
    let high = f64::from(EXTENT + BUFFER);
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.x - low),
        (dx, high - a.x),
        (-dy, a.y - low),
        (dy, high - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
            continue;
        }
        let t = q / p;
        if p < 0.0 {
            t0 = t0.max(t);
        } else {
            t1 = t1.min(t);
        }
        if t0 > t1 {
            return None;
        }
    }
    let at = |t: f64| Coord {
        x: a.x + t * dx,
        y: a.y + t * dy,
    };
    Some((
        if t0 > 0.0 { at(t0) } else { a },
        if t1 < 1.0 { at(t1) } else { b },
    ))
}

/// Clips a ring to the drawing area; returns exterior rings in MVT winding (positive
/// surveyor's area in tile units, y down), without closing points.
fn clip_polygon(ring: Vec<Coord>) -> Vec<Vec<Coord>> {
    let pieces: Vec<Vec<Coord>> = if ring.iter().all(|c| inside(*c)) {
        // Wholly inside (the usual case): no boolean operation needed.
        vec![ring]
    } else {
        let polygon = Polygon::new(LineString::new(ring), vec![]);
        polygon
            .intersection(&clip_rect().to_polygon())
            .0
            .into_iter()
            .map(|piece| piece.exterior().0.clone())
            .collect()
    };
    pieces
        .into_iter()
        .filter_map(|mut ring| {
            if ring.len() > 1 && ring.first() == ring.last() {
                ring.pop();
            }
            if ring.len() < 3 {
                return None;
            }
            let area = surveyor_area(&ring);
            if area.abs() < 1.0 {
                // A sliver along the buffer's edge: nothing to draw.
                return None;
            }
            if area < 0.0 {
                ring.reverse();
            }
            Some(ring)
        })
        .collect()
}

fn surveyor_area(ring: &[Coord]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a.x * b.y - b.x * a.y
        })
        .sum::<f64>()
        / 2.0
}

/// Orders points along a Z-order curve so that keeping every k-th thins them evenly in space.
fn sort_along_curve(points: &mut [Feature]) {
    let key = |f: &Feature| match f.shape {
        Shape::Point(c) => morton(c),
        _ => 0,
    };
    points.sort_by_cached_key(|f| (key(f), text_of(f, "id").to_owned()));
}

fn morton(c: Coord) -> u64 {
    let quantise = |v: f64| ((v + f64::from(BUFFER)).clamp(0.0, 65_535.0)) as u64;
    let spread = |mut v: u64| {
        v &= 0xFFFF;
        v = (v | (v << 8)) & 0x00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333;
        (v | (v << 1)) & 0x5555_5555
    };
    spread(quantise(c.x)) | (spread(quantise(c.y)) << 1)
}

/// Keeps `share` of every point layer, evenly along the curve; false when no point layer
/// has anything left to thin.
fn thin_points(layers: &mut [(Layer, Vec<Feature>)], share: f64) -> bool {
    let mut thinned_any = false;
    for (layer, features) in layers.iter_mut() {
        if !matches!(layer, Layer::Frames | Layer::Features) || features.len() <= 1 {
            continue;
        }
        let keep = ((features.len() as f64 * share).floor() as usize).max(1);
        let step = features.len() as f64 / keep as f64;
        let kept: Vec<Feature> = (0..keep)
            .map(|i| features[(i as f64 * step) as usize].clone())
            .collect();
        thinned_any |= kept.len() < features.len();
        *features = kept;
    }
    thinned_any
}

fn simplify_lines(layers: &mut [(Layer, Vec<Feature>)], tolerance: f64) {
    for (_, features) in layers.iter_mut() {
        for feature in features.iter_mut() {
            if let Shape::Lines(lines) = &feature.shape {
                feature.shape = Shape::Lines(lines.simplify(tolerance));
            }
        }
    }
}

fn encode(tile: TileCoord, layers: &[(Layer, Vec<Feature>)]) -> Result<Vec<u8>, RenderError> {
    let encode_error = |source| RenderError::Encode { tile, source };
    let mut mvt_tile = mvt::Tile::new(EXTENT);
    for (layer, features) in layers {
        let mut mvt_layer = mvt_tile.create_layer(layer.name());
        for feature in features {
            let geometry = geometry(&feature.shape).map_err(encode_error)?;
            let mut mvt_feature = mvt_layer.into_feature(geometry);
            for (key, value) in &feature.attributes {
                match value {
                    Value::Text(text) => mvt_feature.add_tag_string(key, text),
                    Value::Int(int) => mvt_feature.add_tag_sint(key, *int),
                    Value::Float(float) => mvt_feature.add_tag_double(key, *float),
                }
            }
            mvt_layer = mvt_feature.into_layer();
        }
        mvt_tile.add_layer(mvt_layer).map_err(encode_error)?;
    }
    let bytes = mvt_tile.to_bytes().map_err(encode_error)?;
    let compress_error = |source| RenderError::Compress { tile, source };
    let mut gzip = GzEncoder::new(Vec::with_capacity(bytes.len() / 2), Compression::default());
    gzip.write_all(&bytes).map_err(compress_error)?;
    gzip.finish().map_err(compress_error)
}

fn geometry(shape: &Shape) -> Result<mvt::GeomData, mvt::Error> {
    match shape {
        Shape::Point(c) => GeomEncoder::new(GeomType::Point).point(c.x, c.y)?.encode(),
        Shape::Lines(lines) => {
            let mut encoder = GeomEncoder::new(GeomType::Linestring);
            for line in &lines.0 {
                for c in &line.0 {
                    encoder.add_point(c.x, c.y)?;
                }
                encoder.complete_geom()?;
            }
            encoder.encode()
        }
        Shape::Polygons(rings) => {
            let mut encoder = GeomEncoder::new(GeomType::Polygon);
            for ring in rings {
                for c in ring {
                    encoder.add_point(c.x, c.y)?;
                }
                encoder.complete_geom()?;
            }
            encoder.encode()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_come_out_with_positive_area_whatever_their_input_winding() {
        let square = vec![
            Coord { x: 10.0, y: 10.0 },
            Coord { x: 20.0, y: 10.0 },
            Coord { x: 20.0, y: 20.0 },
            Coord { x: 10.0, y: 20.0 },
        ];
        let mut reversed = square.clone();
        reversed.reverse();
        for ring in [square, reversed] {
            let clipped = clip_polygon(ring);
            assert_eq!(clipped.len(), 1);
            assert!(surveyor_area(&clipped[0]) > 0.0);
        }
    }

    #[test]
    fn lines_are_cut_where_they_leave_and_reenter_the_tile() {
        let line = LineString::from(vec![
            (100.0, 100.0),
            (100.0, 9000.0),
            (200.0, 9000.0),
            (200.0, 100.0),
        ]);
        let clipped = clip_line(&line);
        assert_eq!(clipped.0.len(), 2);
        let high = f64::from(EXTENT + BUFFER);
        assert_eq!(
            clipped.0[0].0,
            vec![Coord { x: 100.0, y: 100.0 }, Coord { x: 100.0, y: high }]
        );
        assert_eq!(
            clipped.0[1].0,
            vec![Coord { x: 200.0, y: high }, Coord { x: 200.0, y: 100.0 }]
        );
        // Wholly outside: nothing; crossing a corner region without entering: nothing.
        let outside = LineString::from(vec![(-500.0, -500.0), (-500.0, 9000.0)]);
        assert!(clip_line(&outside).0.is_empty());
    }

    #[test]
    fn a_ring_far_outside_the_tile_is_clipped_away() {
        let far = vec![
            Coord {
                x: 9000.0,
                y: 9000.0,
            },
            Coord {
                x: 9100.0,
                y: 9000.0,
            },
            Coord {
                x: 9100.0,
                y: 9100.0,
            },
        ];
        assert!(clip_polygon(far).is_empty());
    }

    #[test]
    fn thinning_keeps_points_spread_over_the_whole_tile() {
        let mut points: Vec<Feature> = (0..64)
            .flat_map(|i| (0..64).map(move |j| (i, j)))
            .map(|(i, j)| Feature {
                shape: Shape::Point(Coord {
                    x: f64::from(i) * 64.0,
                    y: f64::from(j) * 64.0,
                }),
                attributes: vec![],
            })
            .collect();
        sort_along_curve(&mut points);
        let mut layers = vec![(Layer::Frames, points)];
        assert!(thin_points(&mut layers, 0.25));
        let kept = &layers[0].1;
        assert_eq!(kept.len(), 1024);
        // Every quadrant keeps its share.
        for (qx, qy) in [(0.0, 0.0), (2048.0, 0.0), (0.0, 2048.0), (2048.0, 2048.0)] {
            let in_quadrant = kept
                .iter()
                .filter(|f| match f.shape {
                    Shape::Point(c) => {
                        (qx..qx + 2048.0).contains(&c.x) && (qy..qy + 2048.0).contains(&c.y)
                    }
                    _ => false,
                })
                .count();
            assert!((230..=282).contains(&in_quadrant), "{in_quadrant} of 256");
        }
    }
}
