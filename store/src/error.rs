//! The store's one error type. Messages say what failed and, where it helps, what to do.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("blob store URL {url:?} is not supported: {reason}")]
    BlobUrl { url: String, reason: String },
    #[error("database URL {url:?} is not supported: {reason}")]
    DatabaseUrl { url: String, reason: String },
    #[error(
        "cannot create or open the directory {path}: {source}; pass a writable --data directory"
    )]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("blob key {key:?} is invalid: {reason}")]
    BlobKey { key: String, reason: &'static str },
    #[error("blob {key} does not exist")]
    BlobNotFound { key: String },
    #[error("blob store failed on {key}: {source}")]
    Blob {
        key: String,
        source: object_store::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}; the database may be from a newer Waymark")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored row is inconsistent: {0}")]
    Corrupt(String),
    #[error(
        "job {job} is no longer leased by this worker (its lease expired and another worker took it); its effects were not committed"
    )]
    LeaseLost { job: i64 },
    #[error("job payload is not valid JSON for the expected type: {0}")]
    JobPayload(#[from] serde_json::Error),
    #[error("search index error: {0}")]
    Search(#[from] tantivy::TantivyError),
    #[error("search query is invalid: {0}")]
    SearchQuery(String),
    #[error("search index directory {path} cannot be opened: {reason}")]
    SearchDirectory { path: PathBuf, reason: String },
    #[error("a contributor or device with this {what} already exists")]
    Conflict { what: &'static str },
}
