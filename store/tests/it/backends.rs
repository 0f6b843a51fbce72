//! The store the integration tests of every stage open: SQLite and files under the test's
//! directory, or — when `scripts/test` runs the suites a second time with
//! `WMK_TEST_BACKEND=postgres-s3` — a fresh database on its PostgreSQL
//! (`WMK_TEST_POSTGRES_URL`) and a fresh bucket on its S3 server
//! (`WMK_TEST_S3_ENDPOINT`), so the same tests check both backends.

#![allow(dead_code)]

use std::path::Path;

use store::StoreConfig;

#[path = "moto.rs"]
mod moto;
#[path = "postgres.rs"]
mod postgres;

pub fn on_postgres_and_s3() -> bool {
    std::env::var("WMK_TEST_BACKEND").as_deref() == Ok("postgres-s3")
}

/// Where a test's store lives.
pub async fn store_config(dir: &Path) -> StoreConfig {
    if !on_postgres_and_s3() {
        return StoreConfig::under(dir);
    }
    let need = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("WMK_TEST_BACKEND=postgres-s3 needs {name}: run scripts/test")
        })
    };
    let postgres = need("WMK_TEST_POSTGRES_URL");
    let endpoint = need("WMK_TEST_S3_ENDPOINT");
    let database_url = postgres::create_database(&postgres).await;
    let bucket = database_url
        .rsplit('/')
        .next()
        .unwrap_or("waymark")
        .to_owned();
    StoreConfig {
        database_url,
        blobs_url: moto::create_bucket(&endpoint, &bucket),
        search_dir: Some(dir.join("search")),
    }
}
