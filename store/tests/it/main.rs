//! Integration tests of the store on real backends: SQLite files and a PostgreSQL server
//! (the same cases on both), the local filesystem, an S3-compatible server (moto) and
//! in-memory object stores, a tantivy index on disk. Frames are real JPEGs from `datasets/`.

mod blobs;
mod db;
mod moto;
mod postgres;
mod queue;
mod reviews;
mod search;

use std::path::PathBuf;

/// A real file from `datasets/`.
pub fn dataset(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../datasets")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The SQL engines the conformance suite runs every case on.
#[derive(Debug, Clone, Copy)]
pub enum Sql {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database and what it lives in (kept alive for the test).
#[derive(Debug)]
pub struct TestDb {
    pub db: store::Db,
    pub url: String,
    _dir: tempfile::TempDir,
    _server: Option<postgres::Postgres>,
}

pub async fn fresh_db(sql: Sql) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let (url, server) = match sql {
        Sql::Sqlite => (
            format!("sqlite://{}", dir.path().join("waymark.db").display()),
            None,
        ),
        Sql::Postgres => {
            let server = postgres::Postgres::start();
            (server.fresh_database().await, Some(server))
        }
    };
    let db = store::Db::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("a fresh database opens at {url}: {err}"));
    TestDb {
        db,
        url,
        _dir: dir,
        _server: server,
    }
}
