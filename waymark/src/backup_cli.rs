//! `waymark backup --to DIR` and `waymark restore --from DIR`: the store copied while the
//! server runs, and restored into a fresh data directory.
//!
//! A backup is `DIR/waymark.db` (SQLite's `VACUUM INTO`: the database as of one moment),
//! `DIR/blobs/` (every blob) and `DIR/BACKUP.json`. Blobs are copied before and after the
//! database: content-addressed blobs never change, so the first pass takes the originals
//! of frames still pending at the snapshot, and the second what the database names that was
//! written meanwhile (public copies, reward files). The search index and the tiles are not
//! copied: both are rebuilt from the restored rows.

use std::path::{Path, PathBuf};

use anyhow::Context;
use model::TimestampMs;
use serde_json::json;
use store::BlobStore;

use crate::settings::Settings;

const DATABASE_FILE: &str = "waymark.db";
const BLOBS_DIR: &str = "blobs";
const INFO_FILE: &str = "BACKUP.json";

fn absolute(dir: &Path) -> anyhow::Result<PathBuf> {
    Ok(if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .context("cannot read the current directory")?
            .join(dir)
    })
}

fn local_blobs(dir: &Path) -> anyhow::Result<BlobStore> {
    let url = format!("file://{}", dir.join(BLOBS_DIR).display());
    BlobStore::from_url(&url)
        .with_context(|| format!("cannot open the blobs under {}", dir.display()))
}

pub fn backup(settings: &Settings, to: &Path) -> anyhow::Result<()> {
    let to = absolute(to)?;
    if to.exists() {
        anyhow::bail!(
            "{} already exists; name a new directory for the backup",
            to.display()
        );
    }
    std::fs::create_dir_all(&to)
        .with_context(|| format!("cannot create {}; name a writable directory", to.display()))?;
    crate::with_store(settings, async |store| {
        let target = local_blobs(&to)?;
        let before = store.blobs.copy_missing_to(&target).await?;
        store
            .db
            .backup_into(&to.join(DATABASE_FILE))
            .await
            .context("cannot copy the database")?;
        let after = store.blobs.copy_missing_to(&target).await?;
        let info = json!({
            "format": 1,
            "created_at_ms": TimestampMs::now().as_millis(),
            "version": env!("CARGO_PKG_VERSION"),
            "database": DATABASE_FILE,
            "blobs": before + after,
        });
        std::fs::write(to.join(INFO_FILE), serde_json::to_vec_pretty(&info)?)?;
        println!(
            "backed up the database and {} blobs to {}",
            before + after,
            to.display()
        );
        Ok(())
    })
}

pub fn restore(settings: &Settings, from: &Path) -> anyhow::Result<()> {
    let from = absolute(from)?;
    let database = from.join(DATABASE_FILE);
    if !database.is_file() || !from.join(INFO_FILE).is_file() {
        anyhow::bail!(
            "{} is not a backup: it has no {DATABASE_FILE} and {INFO_FILE}; give a directory `waymark backup` wrote",
            from.display()
        );
    }
    let data_dir = settings.absolute_data_dir()?;
    let config = settings.store_config(&data_dir);
    let Some(target) = config
        .database_url
        .strip_prefix("sqlite://")
        .map(|rest| PathBuf::from(rest.split('?').next().unwrap_or(rest)))
    else {
        anyhow::bail!(
            "the store's database is not SQLite; restore a PostgreSQL store with pg_restore, then copy {}/{BLOBS_DIR} into its blob store",
            from.display()
        );
    };
    if target.exists() {
        anyhow::bail!(
            "{} already exists; restore into a fresh data directory (--data DIR)",
            target.display()
        );
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::copy(&database, &target)
        .with_context(|| format!("cannot copy the database to {}", target.display()))?;
    crate::with_store(settings, async |store| {
        let copied = local_blobs(&from)?.copy_missing_to(&store.blobs).await?;
        // The restored data directory's search index is fresh: the first worker that opens
        // it queues every capture and feature for indexing.
        let captures = store.db.done_captures().await?;
        let features = store.db.feature_ids().await?;
        println!(
            "restored the database and {copied} blobs into {}; {} captures and {} map features will be re-indexed for search when `waymark serve` runs its worker",
            data_dir.display(),
            captures.len(),
            features.len()
        );
        Ok(())
    })
}
