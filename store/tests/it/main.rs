//! Integration tests of the store on real backends: SQLite files, the local filesystem, an
//! S3-compatible server (moto) and in-memory object stores, a tantivy index on disk. Frames are real JPEGs from `datasets/`.

mod blobs;
mod db;
mod moto;
mod queue;
mod search;

use std::path::PathBuf;

/// A real file from `datasets/`.
pub fn dataset(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../datasets")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A fresh SQLite database in a temporary directory.
pub async fn fresh_db(dir: &tempfile::TempDir) -> store::Db {
    let url = format!("sqlite://{}", dir.path().join("waymark.db").display());
    store::Db::connect(&url)
        .await
        .expect("a fresh SQLite database opens")
}
