//! The store the integration tests of every stage open: SQLite and files under the test's
//! directory, or — when `scripts/test` runs the suites a second time with
//! `WMK_TEST_BACKEND=postgres-s3` — a fresh database on its PostgreSQL
//! (`WMK_TEST_POSTGRES_URL`) and a fresh bucket on its S3 server
//! (`WMK_TEST_S3_ENDPOINT`), so the same tests check both backends.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use sqlx::Connection;
use store::StoreConfig;

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
    let name = format!("t{}", model::CaptureId::new().to_string().replace('-', ""));
    let mut admin = sqlx::PgConnection::connect(&format!("{postgres}/postgres"))
        .await
        .expect("the test PostgreSQL answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.ok();
    StoreConfig {
        database_url: format!("{postgres}/{name}"),
        blobs_url: create_bucket(&endpoint, &name),
        search_dir: Some(dir.join("search")),
    }
}

/// Creates `bucket` on the S3 server at `endpoint` (`127.0.0.1:port`); its blob URL.
fn create_bucket(endpoint: &str, bucket: &str) -> String {
    let mut stream = TcpStream::connect(endpoint).unwrap();
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {endpoint}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "bucket {bucket}: {answer}"
    );
    format!(
        "s3://{bucket}/waymark?endpoint=http://{endpoint}&allow_http=true&region=us-east-1\
         &access_key_id=test&secret_access_key=test"
    )
}
