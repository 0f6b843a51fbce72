//! A bounded in-memory cache of stored tiles (and of known-empty addresses) in front of the
//! MBTiles file, for the serving path. It owns no IO: [`crate::MbTiles`] fills it on reads
//! and empties what it writes.
//!
//! Freshness: a write through any clone of the same [`crate::MbTiles`] evicts the tiles it
//! wrote before it returns, and a read that raced with a write is never cached (a generation
//! counter). Another process writing the same file (`waymark tiles build` beside a running
//! server) is seen after at most [`TileCache::ttl`]: entries expire.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::coord::TileCoord;
use crate::mbtiles::StoredTile;

/// What one entry costs beyond its bytes (key, hash, bookkeeping), for the budget.
const ENTRY_OVERHEAD_BYTES: usize = 96;

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    /// Not in the cache (or expired): read the file.
    Miss,
    /// The file had no tile there.
    Empty,
    Tile(Arc<StoredTile>),
}

#[derive(Debug)]
struct Entry {
    tile: Option<Arc<StoredTile>>,
    stored_at: Instant,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<TileCoord, Entry>,
    bytes: usize,
}

fn cost(tile: &Option<Arc<StoredTile>>) -> usize {
    ENTRY_OVERHEAD_BYTES + tile.as_ref().map_or(0, |t| t.data.len() + t.hash.len())
}

/// The cache; see the module docs.
#[derive(Debug)]
pub struct TileCache {
    entries: Mutex<Entries>,
    generation: AtomicU64,
    budget_bytes: usize,
    ttl: Duration,
}

impl TileCache {
    /// At most `budget_bytes` of tiles, each kept at most `ttl`. A zero budget caches nothing.
    pub fn new(budget_bytes: usize, ttl: Duration) -> Self {
        Self {
            entries: Mutex::default(),
            generation: AtomicU64::new(0),
            budget_bytes,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Taken before reading the file; [`Self::put`] drops the read if a write came between.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, tile: TileCoord) -> Cached {
        let entries = self.lock();
        match entries.map.get(&tile) {
            Some(entry) if entry.stored_at.elapsed() < self.ttl => match &entry.tile {
                Some(stored) => Cached::Tile(stored.clone()),
                None => Cached::Empty,
            },
            _ => Cached::Miss,
        }
    }

    /// Keeps what a read found, unless a write happened since `generation` was taken.
    pub fn put(&self, tile: TileCoord, found: Option<Arc<StoredTile>>, generation: u64) {
        let size = cost(&found);
        if size > self.budget_bytes {
            return;
        }
        let mut entries = self.lock();
        if self.generation() != generation {
            return;
        }
        if let Some(old) = entries.map.remove(&tile) {
            entries.bytes -= cost(&old.tile);
        }
        // Over budget: drop entries in the map's (arbitrary) order until the new one fits.
        while entries.bytes + size > self.budget_bytes {
            let Some(victim) = entries.map.keys().next().copied() else {
                break;
            };
            let old = entries.map.remove(&victim).expect("a key just listed");
            entries.bytes -= cost(&old.tile);
        }
        entries.bytes += size;
        entries.map.insert(
            tile,
            Entry {
                tile: found,
                stored_at: Instant::now(),
            },
        );
    }

    /// Forgets `tiles` (they were just written or removed) and every read in flight.
    pub fn evict(&self, tiles: impl IntoIterator<Item = TileCoord>) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        for tile in tiles {
            if let Some(old) = entries.map.remove(&tile) {
                entries.bytes -= cost(&old.tile);
            }
        }
    }

    /// Forgets everything (the file was cleared).
    pub fn clear(&self) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.map.clear();
        entries.bytes = 0;
    }

    /// Bytes held (tiles plus bookkeeping), never above the budget.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coord(x: u32) -> TileCoord {
        TileCoord::new(14, x, 5000).unwrap()
    }

    fn tile(bytes: usize) -> Arc<StoredTile> {
        Arc::new(StoredTile {
            data: vec![7; bytes],
            hash: "0".repeat(32),
        })
    }

    #[test]
    fn hits_misses_and_known_empty_addresses() {
        let cache = TileCache::new(1 << 20, Duration::from_secs(60));
        assert_eq!(cache.get(coord(1)), Cached::Miss);
        let generation = cache.generation();
        cache.put(coord(1), Some(tile(100)), generation);
        cache.put(coord(2), None, generation);
        assert_eq!(cache.get(coord(1)), Cached::Tile(tile(100)));
        assert_eq!(cache.get(coord(2)), Cached::Empty);
    }

    #[test]
    fn a_read_that_raced_with_a_write_is_not_kept() {
        let cache = TileCache::new(1 << 20, Duration::from_secs(60));
        let before_read = cache.generation();
        cache.evict([coord(1)]); // a write lands while the read is in flight
        cache.put(coord(1), Some(tile(100)), before_read);
        assert_eq!(cache.get(coord(1)), Cached::Miss);
    }

    #[test]
    fn writes_and_clears_evict() {
        let cache = TileCache::new(1 << 20, Duration::from_secs(60));
        cache.put(coord(1), Some(tile(10)), cache.generation());
        cache.put(coord(2), Some(tile(10)), cache.generation());
        cache.evict([coord(1)]);
        assert_eq!(cache.get(coord(1)), Cached::Miss);
        assert_ne!(cache.get(coord(2)), Cached::Miss);
        cache.clear();
        assert_eq!(cache.get(coord(2)), Cached::Miss);
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn the_budget_holds_and_expired_entries_miss() {
        let cache = TileCache::new(
            10 * (1000 + ENTRY_OVERHEAD_BYTES + 32),
            Duration::from_secs(60),
        );
        for x in 0..100 {
            cache.put(coord(x), Some(tile(1000)), cache.generation());
            assert!(cache.bytes() <= 10 * (1000 + ENTRY_OVERHEAD_BYTES + 32));
        }
        assert_ne!(
            cache.get(coord(99)),
            Cached::Miss,
            "the newest entry is kept"
        );
        cache.put(coord(1000), Some(tile(1 << 20)), cache.generation());
        assert_eq!(
            cache.get(coord(1000)),
            Cached::Miss,
            "larger than the whole budget"
        );

        let expiring = TileCache::new(1 << 20, Duration::ZERO);
        expiring.put(coord(1), Some(tile(10)), expiring.generation());
        assert_eq!(expiring.get(coord(1)), Cached::Miss);
    }
}
