//! All of Waymark's persistence, behind one [`Store`] opened from URLs in settings.
//!
//! Owns: blobs through `object_store` ([`BlobStore`]: local files or any S3-compatible
//! store; content-addressed, never a partial object visible), metadata in SQL through
//! `sqlx`'s Any driver ([`Db`]: SQLite in WAL mode or PostgreSQL, the same statements where
//! they can be, migrations for both embedded), the durable job queue in that same database
//! ([`JobQueue`]: at-least-once with leases, `FOR UPDATE SKIP LOCKED` on PostgreSQL,
//! completion inside the caller's transaction for an exactly-once effect), and the tantivy
//! search index ([`SearchIndex`]: writers on one directory take turns, readers follow their
//! commits); map consumers' API keys, credits and metered use live in that database too.
//!
//! Never does: domain decisions. It stores what the stages decided and answers their
//! queries; whether a frame is accepted or what a cell earns is decided elsewhere.

mod backup;
mod blobs;
mod captures;
mod config;
mod consumers;
mod db;
mod epochs;
mod error;
mod features;
mod map;
mod pipeline;
mod public;
mod queue;
mod reviews;
mod search;
mod uploads;

pub use blobs::{BlobKey, BlobStore, PutOutcome};
pub use captures::{CaptureRow, FrameOutcome, FrameStatusRow, NewCapture, NewFrame};
pub use config::StoreConfig;
pub use consumers::{ApiKeyRow, NewApiKey, UsageRow, UsageTotal};
pub use db::{
    Contributor, ContributorRole, Db, Device, DeviceStatus, Dialect, NewContributor, NewDevice,
};
pub use epochs::{
    CaptureEvidenceRow, DevicePayeesRow, EpochFrameRow, EpochRow, EpochState, OracleSignatureRow,
    RewardRow,
};
pub use error::{Error, Result};
pub use features::{
    DiscoveryRow, FeatureFrameRow, FeatureInputs, FeatureQuery, FeatureRow, FeatureSignRow,
    MAP_FEATURES_JOB, MAX_FEATURE_PAGE, ObservationRow, StatusFilter, StoredFeature,
};
pub use map::{DirtyCell, MapFrameRow, MapSequenceRow};
pub use pipeline::{
    CaptureSearchRows, CaptureViews, Coverage, FootageEntry, NewDetection, NewSequence,
    PendingFrame, ProcessedCapture, ProcessedFrame, StoredView, UnindexedFrame,
};
pub use public::{ContributorCaptureRow, DetectionRow, FreshCoverageRow, PublicFrameRow};
pub use queue::{JobId, JobQueue, LeasedJob, NewJob, QueueCounts, RetryOutcome};
pub use reviews::{ASKS_PER_READ, CaseQuery, CaseStatus, Decision, FraudCase};
pub use search::{
    FeatureDocument, FeatureHit, SearchDocument, SearchHit, SearchIndex, SearchKind, SearchQuery,
};

/// Every part of the store, opened together.
#[derive(Debug, Clone)]
pub struct Store {
    pub blobs: BlobStore,
    pub db: Db,
    pub queue: JobQueue,
    pub search: SearchIndex,
}

impl Store {
    /// Opens (creating where needed) every backend the config names, and runs pending
    /// database migrations.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        let blobs = BlobStore::from_url(&config.blobs_url)?;
        let db = Db::connect(&config.database_url).await?;
        let queue = JobQueue::new(db.clone());
        let search = match &config.search_dir {
            Some(dir) => SearchIndex::open_in_dir(dir)?,
            None => SearchIndex::in_memory()?,
        };
        Ok(Self {
            blobs,
            db,
            queue,
            search,
        })
    }
}
