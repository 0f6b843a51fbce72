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
    #[error("blob {key} was written but could not be made durable (fsync): {source}")]
    BlobSync { key: String, source: std::io::Error },
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
    #[error("fraud case {id} {why}")]
    CaseState { id: String, why: &'static str },
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    /// Whether the database gave up on the transaction because of another one — a
    /// PostgreSQL deadlock or serialization failure, a busy SQLite snapshot — so running it
    /// again is the fix.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Database(sqlx::Error::Database(db))
                if matches!(db.code().as_deref(), Some("40001" | "40P01" | "5" | "517"))
        )
    }

    /// Whether the store failed for a reason outside the data it was given: the database or
    /// the blob store did not answer (a dropped connection, a pool timeout, a protocol or
    /// TLS failure), the search index was locked or failed on IO, the database rolled the
    /// transaction back ([`Error::is_transient`]) or the disk is full. Running the same work
    /// again later is the fix, and the work's own input is not at fault.
    pub fn is_outage(&self) -> bool {
        match self {
            Self::Database(
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Protocol(_)
                | sqlx::Error::Tls(_),
            )
            | Self::Blob { .. }
            | Self::BlobSync { .. }
            | Self::Search(_)
            | Self::SearchDirectory { .. } => true,
            other => other.is_transient() || other.is_storage_full(),
        }
    }

    /// Whether the storage under the store is full (no space left on the device, or SQLite's
    /// "database or disk is full"): the caller should refuse new data and retry later, not
    /// report a fault.
    pub fn is_storage_full(&self) -> bool {
        // SQLite's SQLITE_FULL, PostgreSQL's disk_full.
        if let Self::Database(sqlx::Error::Database(db)) = self
            && matches!(db.code().as_deref(), Some("13" | "53100"))
        {
            return true;
        }
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(err) = cause {
            if let Some(io) = err.downcast_ref::<std::io::Error>()
                && (io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28))
            {
                return true;
            }
            if err.to_string().contains("No space left on device") {
                return true;
            }
            cause = err.source();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_device_is_recognised_through_the_layers() {
        let full = std::io::Error::from_raw_os_error(28);
        let err = Error::Directory {
            path: "/data".into(),
            source: full,
        };
        assert!(err.is_storage_full());
        let other = Error::Directory {
            path: "/data".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert!(!other.is_storage_full());
        assert!(!Error::Corrupt("x".into()).is_storage_full());
    }
}
