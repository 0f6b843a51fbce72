//! Integration tests of the store on real backends: SQLite files and a PostgreSQL server
//! (the same cases on both), the local filesystem, an S3-compatible server (moto) and
//! in-memory object stores, a tantivy index on disk. Frames are real JPEGs from `datasets/`.

mod blobs;
mod db;
mod history;
mod moto;
mod others;
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

/// Stores a capture of `device` (as the upload route records it, with no job) whose frames
/// have these fixes and outcomes; a frame's bytes are named after the capture and its index.
pub async fn stored_capture(
    db: &store::Db,
    device: model::DeviceId,
    sequence: u64,
    frames: &[(model::Fix, store::FrameOutcome)],
) -> model::CaptureId {
    let id = model::CaptureId::new();
    let frames: Vec<store::NewFrame> = frames
        .iter()
        .enumerate()
        .map(|(i, (fix, outcome))| store::NewFrame {
            index: i as u32,
            sha256: model::FrameId::of_bytes(format!("{id} {i}").as_bytes()),
            fix: *fix,
            outcome: *outcome,
        })
        .collect();
    db.insert_capture(
        &store::NewCapture {
            id,
            device_id: device,
            sequence_number: sequence,
            manifest_sha256: "0".repeat(64),
            manifest_key: format!("captures/{id}.json"),
            signature: "0".repeat(128),
            frame_count: frames.len() as u32,
            received_at: frames.first().map_or(model::TimestampMs(0), |f| f.fix.time),
            camera: "test".into(),
        },
        &frames,
        None,
    )
    .await
    .unwrap();
    id
}
