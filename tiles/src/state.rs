//! The map as the tile builder holds it in memory: accepted frames, per-cell coverage (H3
//! res 12), sequence lines and map features, loaded from the store once and then updated with what
//! dirty cells bring. Applying an update says which tiles it touched, so only those are
//! rebuilt. Pure: the store rows come in, nothing goes out but answers.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use h3o::{CellIndex, LatLng, Resolution};
use store::{FeatureRow, MapFrameRow, MapSequenceRow};

use crate::coord::{LonLatBox, TileCoord};
use crate::layers::{BUFFER, EXTENT, Layer, MAX_ZOOM, coverage_resolution};

/// What the map knows of one H3 cell (or of an aggregate of cells).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellSummary {
    pub frames: u64,
    pub contributors: BTreeSet<String>,
    pub last_seen_ms: i64,
}

impl CellSummary {
    fn add(&mut self, contributor: &str, captured_at_ms: i64) {
        self.frames += 1;
        if !self.contributors.contains(contributor) {
            self.contributors.insert(contributor.to_owned());
        }
        self.last_seen_ms = self.last_seen_ms.max(captured_at_ms);
    }

    fn merge(&mut self, other: &CellSummary) {
        self.frames += other.frames;
        self.contributors.extend(other.contributors.iter().cloned());
        self.last_seen_ms = self.last_seen_ms.max(other.last_seen_ms);
    }
}

/// A sequence ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceLine {
    pub id: String,
    pub started_at_ms: i64,
    pub contributor_id: String,
    pub quality: f64,
    /// lon, lat
    pub coords: Vec<(f64, f64)>,
    pub bounds: LonLatBox,
}

/// A row the store gave that cannot be drawn.
#[derive(Debug, thiserror::Error)]
#[error("sequence {id} has unusable geometry: {reason}")]
pub struct GeometryError {
    pub id: String,
    pub reason: String,
}

impl SequenceLine {
    pub fn from_row(row: MapSequenceRow) -> Result<Self, GeometryError> {
        let fail = |reason: String| GeometryError {
            id: row.id.clone(),
            reason,
        };
        let geometry: geojson::Geometry = row
            .geometry
            .parse()
            .map_err(|e: geojson::Error| fail(e.to_string()))?;
        let geojson::GeometryValue::LineString {
            coordinates: positions,
        } = geometry.value
        else {
            return Err(fail("not a LineString".into()));
        };
        let coords: Vec<(f64, f64)> = positions
            .iter()
            .filter(|p| p.len() >= 2 && p[0].is_finite() && p[1].is_finite())
            .map(|p| (p[0], p[1]))
            .collect();
        let bounds =
            LonLatBox::around(coords.iter().copied()).ok_or_else(|| fail("no positions".into()))?;
        Ok(Self {
            id: row.id,
            started_at_ms: row.started_at_ms,
            contributor_id: row.contributor_id,
            quality: row.quality,
            coords,
            bounds,
        })
    }
}

/// New rows for the map.
#[derive(Debug, Clone, Default)]
pub struct MapUpdate {
    pub frames: Vec<MapFrameRow>,
    pub sequences: Vec<SequenceLine>,
    pub features: Vec<FeatureRow>,
    /// The cells whose frames `frames` are all of (what a dirty-cell read asked for): a frame
    /// the map holds in one of them that is not in `frames` has left the map (a capture held
    /// for review). `None`: `frames` only adds.
    pub cells_read: Option<Vec<u64>>,
}

/// Everything the tile builder draws from.
#[derive(Debug, Clone, Default)]
pub struct MapState {
    frames: HashMap<(String, u32), MapFrameRow>,
    /// Res-12 cells with their centre (lon, lat), kept to filter by area without H3 math.
    cells: BTreeMap<u64, ((f64, f64), CellSummary)>,
    sequences: HashMap<String, SequenceLine>,
    features: HashMap<String, FeatureRow>,
    bounds: Option<LonLatBox>,
}

impl MapState {
    /// The box around every frame on the map.
    pub fn bounds(&self) -> Option<LonLatBox> {
        self.bounds
    }

    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    pub fn cell_count(&self) -> usize {
        self.cells.len()
    }

    /// Adds what is new in `update` (rows already known are not counted twice: accepted
    /// frames do not change), takes off what left the cells it read
    /// ([`MapUpdate::cells_read`]), and returns every tile the rows given or taken touch,
    /// known or new — a cell marked dirty again is drawn again.
    pub fn apply(&mut self, update: MapUpdate) -> BTreeSet<TileCoord> {
        let mut touched = BTreeSet::new();
        if let Some(cells) = &update.cells_read {
            self.take_off_missing(cells, &update.frames, &mut touched);
        }
        touch_frames(&update.frames, &mut touched);
        for frame in update.frames {
            let key = (frame.capture_id.clone(), frame.index);
            if self.frames.contains_key(&key) {
                continue;
            }
            if !self.count(&frame) {
                tracing::warn!(
                    cell = frame.cell,
                    "frame with an invalid H3 cell left off the map"
                );
                continue;
            }
            let point = LonLatBox::around([(frame.lon, frame.lat)]).expect("one point");
            self.bounds = Some(self.bounds.map_or(point, |b| b.union(point)));
            self.frames.insert(key, frame);
        }
        for sequence in update.sequences {
            if let Some(old) = self.sequences.get(&sequence.id) {
                touch_area(old.bounds, Layer::Sequences, &mut touched);
            }
            touch_area(sequence.bounds, Layer::Sequences, &mut touched);
            self.sequences.insert(sequence.id.clone(), sequence);
        }
        for feature in update.features {
            // A feature moves as views add up: the tile it left changes too.
            let old = self.features.get(&feature.id).map(|f| (f.lon, f.lat));
            for (lon, lat) in old.into_iter().chain([(feature.lon, feature.lat)]) {
                let point = LonLatBox::around([(lon, lat)]).expect("one point");
                touch_area(point, Layer::Features, &mut touched);
            }
            self.features.insert(feature.id.clone(), feature);
        }
        touched
    }

    /// Counts `frame` in its cell's summary; false when its cell is not an H3 index.
    fn count(&mut self, frame: &MapFrameRow) -> bool {
        let Ok(cell) = CellIndex::try_from(frame.cell) else {
            return false;
        };
        let center = LatLng::from(cell);
        self.cells
            .entry(frame.cell)
            .or_insert_with(|| ((center.lng(), center.lat()), CellSummary::default()))
            .1
            .add(&frame.contributor_id, frame.captured_at_ms);
        true
    }

    /// Takes off the frames held in `cells` that `present` (everything the store has there
    /// now) lacks, recounts those cells and drops the sequences left with no frame, touching
    /// every tile they were drawn on. (The bounds stay: a box around every frame ever drawn.)
    fn take_off_missing(
        &mut self,
        cells: &[u64],
        present: &[MapFrameRow],
        touched: &mut BTreeSet<TileCoord>,
    ) {
        let cells: BTreeSet<u64> = cells.iter().copied().collect();
        let present: std::collections::HashSet<(&str, u32)> = present
            .iter()
            .map(|frame| (frame.capture_id.as_str(), frame.index))
            .collect();
        let gone: Vec<(String, u32)> = self
            .frames
            .iter()
            .filter(|((capture, index), frame)| {
                cells.contains(&frame.cell) && !present.contains(&(capture.as_str(), *index))
            })
            .map(|(key, _)| key.clone())
            .collect();
        if gone.is_empty() {
            return;
        }
        let removed: Vec<MapFrameRow> = gone
            .iter()
            .filter_map(|key| self.frames.remove(key))
            .collect();
        touch_frames(&removed, touched);
        let emptied: BTreeSet<u64> = removed.iter().map(|frame| frame.cell).collect();
        for cell in &emptied {
            self.cells.remove(cell);
        }
        let remaining: Vec<MapFrameRow> = self
            .frames
            .values()
            .filter(|frame| emptied.contains(&frame.cell))
            .cloned()
            .collect();
        for frame in &remaining {
            self.count(frame);
        }
        let orphaned: BTreeSet<&String> = removed
            .iter()
            .filter_map(|frame| frame.sequence_id.as_ref())
            .collect();
        let still_drawn: BTreeSet<&String> = self
            .frames
            .values()
            .filter_map(|frame| frame.sequence_id.as_ref())
            .filter(|id| orphaned.contains(id))
            .collect();
        let dropped: Vec<String> = orphaned
            .into_iter()
            .filter(|id| !still_drawn.contains(id))
            .cloned()
            .collect();
        for id in dropped {
            if let Some(old) = self.sequences.remove(&id) {
                touch_area(old.bounds, Layer::Sequences, touched);
            }
        }
    }

    /// Coverage aggregated to `resolution`: every cell of that resolution whose hexagon may
    /// reach into `area`, with the summary of all its mapped res-12 descendants.
    pub fn coverage_in(
        &self,
        area: LonLatBox,
        resolution: Resolution,
    ) -> Vec<(CellIndex, CellSummary)> {
        let reach = area.grown_by_degrees(cell_reach_degrees(resolution));
        let mut parents = BTreeSet::new();
        for (&cell, &((lon, lat), _)) in &self.cells {
            if !reach.contains(lon, lat) {
                continue;
            }
            let parent = CellIndex::try_from(cell)
                .ok()
                .and_then(|cell| cell.parent(resolution));
            if let Some(parent) = parent {
                parents.insert(parent);
            }
        }
        parents
            .into_iter()
            .map(|parent| (parent, self.summary_under(parent)))
            .collect()
    }

    /// The summary of every mapped res-12 cell under `parent` (descendants of an H3 cell
    /// form one contiguous range of indexes).
    fn summary_under(&self, parent: CellIndex) -> CellSummary {
        let fine = model::COVERAGE_RESOLUTION;
        let count = parent.children_count(fine);
        let (Some(first), Some(last)) = (
            parent.child_at(0, fine),
            parent.child_at(count.saturating_sub(1), fine),
        ) else {
            return CellSummary::default();
        };
        let mut summary = CellSummary::default();
        for (_, (_, cell)) in self.cells.range(u64::from(first)..=u64::from(last)) {
            summary.merge(cell);
        }
        summary
    }

    pub fn sequences_in(&self, area: LonLatBox) -> impl Iterator<Item = &SequenceLine> {
        self.sequences
            .values()
            .filter(move |s| s.bounds.intersects(area))
    }

    pub fn frames_in(&self, area: LonLatBox) -> impl Iterator<Item = &MapFrameRow> {
        self.frames
            .values()
            .filter(move |f| area.contains(f.lon, f.lat))
    }

    pub fn features_in(&self, area: LonLatBox) -> impl Iterator<Item = &FeatureRow> {
        self.features
            .values()
            .filter(move |f| area.contains(f.lon, f.lat))
    }

    /// Every tile any layer has something for: what a full build renders.
    pub fn all_tiles(&self) -> BTreeSet<TileCoord> {
        let mut tiles = BTreeSet::new();
        touch_frames(self.frames.values(), &mut tiles);
        for sequence in self.sequences.values() {
            touch_area(sequence.bounds, Layer::Sequences, &mut tiles);
        }
        for feature in self.features.values() {
            let point = LonLatBox::around([(feature.lon, feature.lat)]).expect("one point");
            touch_area(point, Layer::Features, &mut tiles);
        }
        tiles
    }
}

/// The tiles frames change: coverage at every coverage zoom (once per aggregate cell),
/// and each frame itself at z14.
fn touch_frames<'a>(
    frames: impl IntoIterator<Item = &'a MapFrameRow>,
    touched: &mut BTreeSet<TileCoord>,
) {
    let mut cells = BTreeSet::new();
    for frame in frames {
        cells.insert(frame.cell);
        let point = LonLatBox::around([(frame.lon, frame.lat)]).expect("one point");
        touch_area(point, Layer::Frames, touched);
    }
    let cells: Vec<CellIndex> = cells
        .into_iter()
        .filter_map(|cell| CellIndex::try_from(cell).ok())
        .collect();
    for zoom in Layer::Coverage.zooms() {
        let parents: BTreeSet<CellIndex> = cells
            .iter()
            .filter_map(|cell| cell.parent(coverage_resolution(zoom)))
            .collect();
        for parent in parents {
            touch_at(hexagon_bounds(parent), zoom, touched);
        }
    }
}

fn touch_area(area: LonLatBox, layer: Layer, touched: &mut BTreeSet<TileCoord>) {
    for zoom in layer.zooms() {
        touch_at(area, zoom, touched);
    }
}

/// Tiles at `zoom` whose buffered area meets `area`.
fn touch_at(area: LonLatBox, zoom: u8, touched: &mut BTreeSet<TileCoord>) {
    debug_assert!(zoom <= MAX_ZOOM);
    let buffer_degrees = 360.0 / f64::from(1u32 << zoom) * f64::from(BUFFER) / f64::from(EXTENT);
    touched.extend(TileCoord::covering(
        area.grown_by_degrees(buffer_degrees),
        zoom,
    ));
}

/// The lon/lat box of a cell's hexagon.
pub fn hexagon_bounds(cell: CellIndex) -> LonLatBox {
    LonLatBox::around(cell.boundary().iter().map(|v| (v.lng(), v.lat())))
        .expect("a cell has vertices")
}

/// A generous bound on how far (in degrees) a cell's hexagon reaches from its descendants.
fn cell_reach_degrees(resolution: Resolution) -> f64 {
    // Twice the edge length, converted at the equator, with room for longitude stretch.
    resolution.edge_length_km() * 2.0 / 111.0 * 3.0
}

#[cfg(test)]
mod tests {
    use model::FrameId;

    use super::*;

    fn frame(capture: &str, index: u32, lon: f64, lat: f64, contributor: &str) -> MapFrameRow {
        let cell = LatLng::new(lat, lon)
            .unwrap()
            .to_cell(model::COVERAGE_RESOLUTION);
        MapFrameRow {
            capture_id: capture.into(),
            index,
            sha256: FrameId::of_bytes(format!("{capture}{index}").as_bytes()),
            captured_at_ms: 1_700_000_000_000 + i64::from(index) * 1000,
            lat,
            lon,
            heading: Some(90.0),
            cell: u64::from(cell),
            sequence_id: None,
            contributor_id: contributor.into(),
        }
    }

    #[test]
    fn coverage_aggregates_every_descendant_of_a_parent() {
        let mut state = MapState::default();
        let update = MapUpdate {
            frames: vec![
                frame("a", 0, 7.4246, 43.7347, "ann"),
                frame("a", 1, 7.4250, 43.7349, "ann"),
                frame("b", 0, 7.4250, 43.7349, "bob"),
            ],
            ..MapUpdate::default()
        };
        let touched = state.apply(update.clone());
        assert!(touched.contains(&TileCoord::containing(7.4246, 43.7347, 14)));
        assert!(touched.contains(&TileCoord { z: 0, x: 0, y: 0 }));
        // Applying the same rows again counts nothing twice but draws the tiles again.
        assert_eq!(state.apply(update), touched);

        let world = TileCoord { z: 0, x: 0, y: 0 }.bounds();
        let coverage = state.coverage_in(world, coverage_resolution(0));
        assert_eq!(coverage.len(), 1);
        assert_eq!(coverage[0].1.frames, 3);
        assert_eq!(coverage[0].1.contributors.len(), 2);
        let fine = state.coverage_in(world, Resolution::Twelve);
        assert_eq!(fine.iter().map(|(_, s)| s.frames).sum::<u64>(), 3);
    }
}
