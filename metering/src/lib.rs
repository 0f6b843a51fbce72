//! Map consumers pay for what they use: API keys, credits and metered use.
//!
//! Owns: API keys (`wmk_<id>_<secret>`; only the secret's sha256 is stored, compared in
//! constant time; scoped to tiles, imagery, search; rate-limited per key), the gate in
//! on the serving routes ([`metered`]: tiles above the free zoom, full-resolution frame
//! downloads and search need a key with credits; `401` for a missing, unknown or revoked
//! key, `402` when the account is out of credits), counting in memory and flushing to the
//! store in batches ([`Metering::flush`]: usage per key, UTC day, kind and H3 res-9
//! cell-week of coverage consumed, priced in credits per cell-week; a tile's cell-weeks are
//! looked up at most once a minute), and the routes
//! `POST/GET /api/v1/keys`, `DELETE /api/v1/keys/{id}` and `GET /api/v1/usage`.
//!
//! Never does: serve tiles, frames or search results (the stages behind the gate do), or
//! decide what contributors earn from this use (rewards reads the usage the store keeps).
//!
//! What a crash can lose: the requests counted since the last flush (at most one
//! [`MeteringConfig::flush_interval`]); a clean shutdown flushes first ([`Metering::flush`]).

mod account;
mod error;
pub mod gate;
pub mod keys;
mod meter;
mod pricing;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use model::UsageKind;
use store::Store;

pub use error::MeteringError;
pub use gate::metered;
pub use keys::{IssuedKey, KeyText};
pub use pricing::Flushed;
pub use routes::ApiDoc;

/// Credits one cell-week of coverage costs, per kind of use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prices {
    pub tiles: i64,
    pub imagery: i64,
    pub search: i64,
}

impl Prices {
    pub fn of(&self, kind: UsageKind) -> i64 {
        match kind {
            UsageKind::Tiles => self.tiles,
            UsageKind::Imagery => self.imagery,
            UsageKind::Search => self.search,
        }
    }
}

impl Default for Prices {
    /// A tile touches a few dozen cell-weeks, a frame one, a search a handful: a z14 tile
    /// and a full-resolution frame cost about the same.
    fn default() -> Self {
        Self {
            tiles: 1,
            imagery: 20,
            search: 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MeteringConfig {
    /// Whether the gate meters at all; off, every route is open as without metering.
    pub enabled: bool,
    /// Coverage tiles up to this zoom are free and open to anonymous requests.
    pub free_max_zoom: u8,
    pub prices: Prices,
    /// How often counted use is written to the store.
    pub flush_interval: Duration,
    /// Requests a key may make per second on average, and in one burst.
    pub key_rate_per_second: f64,
    pub key_burst: f64,
    /// How long a revocation or a grant made by another process can take to be seen.
    pub cache_ttl: Duration,
}

impl Default for MeteringConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            free_max_zoom: 12,
            prices: Prices::default(),
            flush_interval: Duration::from_secs(10),
            key_rate_per_second: 100.0,
            key_burst: 1_000.0,
            cache_ttl: Duration::from_secs(5),
        }
    }
}

/// The metering of one server: cheap to clone, shared by every worker thread.
#[derive(Clone)]
pub struct Metering {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: MeteringConfig,
    meter: meter::Meter,
    keys: keys::KeyCache,
    limiter: keys::KeyLimiter,
    tile_prices: pricing::TilePrices,
}

impl std::fmt::Debug for Metering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metering")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Metering {
    pub fn new(store: Store, config: MeteringConfig) -> Self {
        let limiter = keys::KeyLimiter::new(config.key_rate_per_second, config.key_burst);
        let keys = keys::KeyCache::new(config.cache_ttl);
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                meter: meter::Meter::default(),
                keys,
                limiter,
                tile_prices: pricing::TilePrices::default(),
            }),
        }
    }

    pub fn config(&self) -> &MeteringConfig {
        &self.inner.config
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Writes every request counted so far to the store (usage rows and the accounts'
    /// spend, one transaction) and refreshes the balances it knows. On failure nothing
    /// counted is dropped: it is kept for the next flush.
    pub async fn flush(&self) -> Result<Flushed, MeteringError> {
        pricing::flush(self).await
    }

    /// Flushes every `flush_interval` until the task is dropped.
    pub async fn run_flusher(self) {
        loop {
            actix_web::rt::time::sleep(self.inner.config.flush_interval).await;
            if let Err(err) = self.flush().await {
                tracing::error!(error = %err, "writing metered use failed; kept for the next flush");
            }
        }
    }
}
