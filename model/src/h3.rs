//! The H3 resolutions every stage agrees on (DESIGN.md §4).

use h3o::Resolution;

/// The coverage unit: a res-12 cell is ≈ 307 m² (edge ≈ 10 m), about 50 cells per km of road.
/// Freshness, rewards and the coverage tile layer are all counted in these cells.
pub const COVERAGE_RESOLUTION: Resolution = Resolution::Twelve;

/// The unit map consumers pay for and whose contributors earn from that use: a res-9 cell
/// (≈ 0.1 km², edge ≈ 174 m), about 350 coverage cells.
pub const CONSUMPTION_RESOLUTION: Resolution = Resolution::Nine;

/// Resolutions written as terms into the search index, coarse to fine, so a place query
/// can match at the precision it was asked at.
pub const SEARCH_RESOLUTIONS: [Resolution; 3] =
    [Resolution::Seven, Resolution::Nine, Resolution::Twelve];

#[cfg(test)]
mod tests {
    use h3o::{LatLng, Resolution};

    use super::*;

    #[test]
    fn coverage_cells_round_trip_through_their_integer_form() {
        // Marienplatz, Munich.
        let cell = LatLng::new(48.137_154, 11.575_382)
            .unwrap()
            .to_cell(COVERAGE_RESOLUTION);
        let stored = u64::from(cell);
        // Stored as a signed SQL integer: H3 indexes never set the top bit.
        assert!(i64::try_from(stored).is_ok());
        let back = h3o::CellIndex::try_from(stored).unwrap();
        assert_eq!(back, cell);
        assert_eq!(back.resolution(), Resolution::Twelve);
        assert!(SEARCH_RESOLUTIONS.contains(&COVERAGE_RESOLUTION));
    }
}
