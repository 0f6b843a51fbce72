//! Backups: a consistent copy of the metadata database taken while the store is in use, and
//! copying blobs between stores.

use std::path::Path;

use model::CaptureId;

use crate::{BlobKey, BlobStore, Db, Dialect, Error, Result};

impl Db {
    /// Writes a consistent copy of the whole database to the new file `path` while other
    /// connections go on reading and writing (SQLite's `VACUUM INTO`: one read transaction,
    /// so the copy is the database as of one moment). PostgreSQL is backed up with its own
    /// tools (`pg_dump`).
    pub async fn backup_into(&self, path: &Path) -> Result<()> {
        if self.dialect() == Dialect::Postgres {
            return Err(Error::Unsupported(
                "a PostgreSQL store is backed up with pg_dump (and restored with pg_restore); copy the blobs with `waymark backup` from a SQLite copy or with your object store's tools".into(),
            ));
        }
        let target = path.to_str().ok_or_else(|| {
            Error::Unsupported(format!("the backup path {} is not UTF-8", path.display()))
        })?;
        sqlx::query(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every capture whose processing is done, oldest first: what a restored store re-indexes.
    pub async fn done_captures(&self) -> Result<Vec<CaptureId>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM captures WHERE state = 'done' ORDER BY received_at_ms, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|id| {
                id.parse()
                    .map_err(|err| Error::Corrupt(format!("capture id {id:?}: {err}")))
            })
            .collect()
    }
}

impl BlobStore {
    /// Copies every blob of this store that `to` does not have yet (blobs are never
    /// rewritten in place, so a key `to` has holds the same bytes); returns how many.
    pub async fn copy_missing_to(&self, to: &BlobStore) -> Result<u64> {
        let have: std::collections::HashSet<BlobKey> = to.list("").await?.into_iter().collect();
        let mut copied = 0;
        for key in self.list("").await? {
            if have.contains(&key) {
                continue;
            }
            match self.get(&key).await {
                Ok(bytes) => to.put(&key, bytes).await?,
                // Deleted since it was listed (an original after processing): nothing to copy.
                Err(Error::BlobNotFound { .. }) => continue,
                Err(other) => return Err(other),
            }
            copied += 1;
        }
        Ok(copied)
    }
}
