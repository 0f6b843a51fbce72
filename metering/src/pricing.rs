//! The flush: what the meter counted becomes usage rows priced in credits per cell-week,
//! written with the accounts' spend in one transaction.
//!
//! Imagery and search arrive priced (their handlers named the cell-weeks they served).
//! A tile is priced here: its cell-weeks are those of the accepted coverage (res-12 cells
//! whose centre lies inside it), found through the few dozen H3 cells that cover it
//! ([`lookup_resolution`]) with a covering index scan each, and reused for a minute
//! ([`TilePrices`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use geo::{Rect, coord};
use h3o::Resolution;
use h3o::geom::{ContainmentMode, TilerBuilder};
use model::{CellWeek, ContributorId, TimestampMs, UsageKind};
use store::UsageRow;
use tiles::TileCoord;

use crate::meter::{DayNo, KeyNo, Pending, day_text};
use crate::{Metering, MeteringError};

/// What one flush wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flushed {
    pub usage_rows: usize,
    pub credits: i64,
}

/// Cells about a tenth of a tile across: a few dozen cover a tile without reading many
/// frames outside it.
fn lookup_resolution(z: u8) -> Resolution {
    Resolution::try_from(z.saturating_sub(5).clamp(4, 9)).expect("4 to 9 are resolutions")
}

/// How long a tile's cell-weeks are reused before the store is asked again: a tile's price
/// follows the map within this time.
const TILE_PRICE_TTL: Duration = Duration::from_secs(60);
/// Tiles whose cell-weeks are remembered, at most (then the memory starts over).
const TILE_PRICES_KEPT: usize = 100_000;

/// A tile's cell-weeks, and when they were read.
type PricedTile = (Instant, Arc<Vec<CellWeek>>);

/// The cell-weeks of tiles recently priced.
#[derive(Debug, Default)]
pub(crate) struct TilePrices {
    tiles: Mutex<HashMap<TileCoord, PricedTile>>,
}

impl TilePrices {
    async fn cell_weeks(
        &self,
        store: &store::Store,
        tile: TileCoord,
    ) -> Result<Arc<Vec<CellWeek>>, MeteringError> {
        let known = {
            let tiles = self.tiles.lock().unwrap_or_else(|p| p.into_inner());
            tiles
                .get(&tile)
                .filter(|(at, _)| at.elapsed() < TILE_PRICE_TTL)
                .map(|(_, cell_weeks)| cell_weeks.clone())
        };
        if let Some(cell_weeks) = known {
            return Ok(cell_weeks);
        }
        let (cells, bbox) = tile_lookup(tile);
        let cell_weeks = Arc::new(store.db.cell_weeks_in_box(&cells, bbox).await?);
        let mut tiles = self.tiles.lock().unwrap_or_else(|p| p.into_inner());
        if tiles.len() >= TILE_PRICES_KEPT {
            tiles.clear();
        }
        tiles.insert(tile, (Instant::now(), cell_weeks.clone()));
        Ok(cell_weeks)
    }
}

/// The cells (at [`lookup_resolution`]) covering a tile, and the tile's box.
fn tile_lookup(tile: TileCoord) -> (Vec<h3o::CellIndex>, [f64; 4]) {
    let b = tile.bounds();
    let rect = Rect::new(
        coord! { x: b.west, y: b.south },
        coord! { x: b.east, y: b.north },
    );
    let mut tiler = TilerBuilder::new(lookup_resolution(tile.z))
        .containment_mode(ContainmentMode::Covers)
        .build();
    // A tile's box is always a valid polygon (finite, non-empty): nothing to refuse.
    let cells = match tiler.add(rect.to_polygon()) {
        Ok(()) => tiler.into_coverage().collect(),
        Err(err) => {
            tracing::warn!(%tile, error = %err, "a tile's box did not tile into H3 cells");
            Vec::new()
        }
    };
    (cells, [b.west, b.south, b.east, b.north])
}

pub(crate) async fn flush(metering: &Metering) -> Result<Flushed, MeteringError> {
    let meter = &metering.inner.meter;
    let pending = meter.take();
    if pending.is_empty() {
        refresh_balances(metering, &HashMap::new()).await?;
        return Ok(Flushed::default());
    }
    match price_and_store(metering, &pending).await {
        Ok((flushed, pre_priced)) => {
            refresh_balances(metering, &pre_priced).await?;
            Ok(flushed)
        }
        Err(err) => {
            meter.put_back(pending);
            Err(err)
        }
    }
}

/// Prices the pending use and stores it; returns what was written and the spend that was
/// already reserved in memory (imagery and search) per account.
async fn price_and_store(
    metering: &Metering,
    pending: &Pending,
) -> Result<(Flushed, HashMap<ContributorId, i64>), MeteringError> {
    let store = metering.store();
    let price = metering.config().prices.of(UsageKind::Tiles);
    let mut rows: BTreeMap<(KeyNo, DayNo, UsageKind, CellWeek), (u64, i64)> = BTreeMap::new();
    for ((key, day, tile), requests) in &pending.tiles {
        let cell_weeks = metering.inner.tile_prices.cell_weeks(store, *tile).await?;
        for cell_week in cell_weeks.iter() {
            let row = rows
                .entry((*key, *day, UsageKind::Tiles, cell_week.clone()))
                .or_default();
            row.0 += requests;
            row.1 += *requests as i64 * price;
        }
    }
    let mut pre_priced: HashMap<ContributorId, i64> = HashMap::new();
    for ((key, day, kind, cell_week), counted) in &pending.coverage {
        let row = rows
            .entry((*key, *day, *kind, cell_week.clone()))
            .or_default();
        row.0 += counted.requests;
        row.1 += counted.credits;
        if let Some(account) = pending.accounts.get(key) {
            *pre_priced.entry(*account).or_default() += counted.credits;
        }
    }
    let mut spend: HashMap<ContributorId, i64> = HashMap::new();
    let usage: Vec<UsageRow> = rows
        .into_iter()
        .map(|((key, day, kind, cell_week), (requests, credits))| {
            if let Some(account) = pending.accounts.get(&key) {
                *spend.entry(*account).or_default() += credits;
            }
            UsageRow {
                key_id: crate::keys::id_text(key),
                day: day_text(day),
                kind,
                cell_week,
                requests,
                credits,
            }
        })
        .collect();
    let mut spend: Vec<(ContributorId, i64)> = spend.into_iter().collect();
    spend.sort_by_key(|(account, _)| account.to_string());
    store
        .db
        .record_usage(&usage, &spend, TimestampMs::now())
        .await?;
    let flushed = Flushed {
        usage_rows: usage.len(),
        credits: spend.iter().map(|(_, c)| c).sum(),
    };
    Ok((flushed, pre_priced))
}

/// Reads the balance of every account this server has seen (grants made elsewhere show up
/// here) and releases the reservations the flush turned into ledger rows.
async fn refresh_balances(
    metering: &Metering,
    stored: &HashMap<ContributorId, i64>,
) -> Result<(), MeteringError> {
    let meter = &metering.inner.meter;
    let mut balances = Vec::new();
    for account in meter.known_accounts() {
        balances.push((account, metering.store().db.credit_balance(account).await?));
    }
    meter.flushed(stored, &balances);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tile_is_looked_up_through_a_few_dozen_cells() {
        for z in 10..=16 {
            let tile = TileCoord::containing(11.575, 48.137, z);
            let (cells, [west, south, east, north]) = tile_lookup(tile);
            assert!(
                (1..=120).contains(&cells.len()),
                "z{z}: {} cells",
                cells.len()
            );
            // Every corner and the centre of the tile lies in one of them.
            for (lon, lat) in [
                (west, south),
                (east, north),
                (west, north),
                (east, south),
                ((west + east) / 2.0, (south + north) / 2.0),
            ] {
                let point = h3o::LatLng::new(lat.clamp(-85.0, 85.0), lon).unwrap();
                assert!(
                    cells.iter().any(|c| point.to_cell(c.resolution()) == *c),
                    "z{z}: ({lon}, {lat}) not covered"
                );
            }
        }
    }
}
