//! Splitting a capture's frames into sequences: a new sequence starts after a gap of more
//! than 60 s or more than 100 m (mapillary_tools' defaults, DESIGN.md §4).

use model::{FrameEntry, TimestampMs};

use crate::geometry::distance_m;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequenceConfig {
    pub max_gap_ms: i64,
    pub max_gap_m: f64,
}

impl Default for SequenceConfig {
    fn default() -> Self {
        Self {
            max_gap_ms: 60_000,
            max_gap_m: 100.0,
        }
    }
}

/// A run of frames without a gap, as indices into the capture's frame list.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    pub frames: Vec<usize>,
    pub length_m: f64,
    pub started_at: TimestampMs,
    pub ended_at: TimestampMs,
}

impl Sequence {
    /// Path coordinates as GeoJSON `[lon, lat]` pairs.
    pub fn coordinates(&self, frames: &[FrameEntry]) -> Vec<[f64; 2]> {
        self.frames
            .iter()
            .map(|&i| [frames[i].fix.lon, frames[i].fix.lat])
            .collect()
    }

    /// The sequence as a GeoJSON LineString (a single frame repeats its point, so the
    /// geometry stays a valid line).
    pub fn line_string_geojson(&self, frames: &[FrameEntry]) -> String {
        let mut coordinates = self.coordinates(frames);
        if coordinates.len() == 1 {
            coordinates.push(coordinates[0]);
        }
        let points: Vec<String> = coordinates
            .iter()
            .map(|[lon, lat]| format!("[{lon},{lat}]"))
            .collect();
        format!(
            r#"{{"type":"LineString","coordinates":[{}]}}"#,
            points.join(",")
        )
    }

    pub fn duration_ms(&self) -> i64 {
        self.ended_at.millis_since(self.started_at)
    }
}

/// Splits the frames at `indices` (in capture order, times increasing) into sequences.
pub fn split(frames: &[FrameEntry], indices: &[usize], config: &SequenceConfig) -> Vec<Sequence> {
    let mut sequences: Vec<Sequence> = Vec::new();
    let mut previous: Option<usize> = None;
    for &index in indices {
        let fix = &frames[index].fix;
        let continues = previous.and_then(|prev| {
            let before = &frames[prev].fix;
            let gap_ms = fix.time.millis_since(before.time);
            let gap_m = distance_m(before, fix);
            (gap_ms <= config.max_gap_ms && gap_m <= config.max_gap_m).then_some(gap_m)
        });
        match (continues, sequences.last_mut()) {
            (Some(step_m), Some(current)) => {
                current.frames.push(index);
                current.length_m += step_m;
                current.ended_at = fix.time;
            }
            _ => sequences.push(Sequence {
                frames: vec![index],
                length_m: 0.0,
                started_at: fix.time,
                ended_at: fix.time,
            }),
        }
        previous = Some(index);
    }
    sequences
}
