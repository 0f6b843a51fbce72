//! A real S3-compatible server for the tests: moto (PyPI `moto[server]`, installed by
//! `scripts/setup` into `.tools/peers`), on a free loopback port, started here and stopped
//! by PID when dropped.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    pub fn start() -> Self {
        let binary =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/peers/bin/moto_server");
        assert!(
            binary.exists(),
            "{} is missing: scripts/setup installs moto[server] from PyPI",
            binary.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server never listened on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Creates `bucket` and returns a blob URL for a prefix inside it.
    pub fn bucket(&self, bucket: &str) -> String {
        create_bucket(&format!("127.0.0.1:{}", self.port), bucket)
    }
}

/// Creates `bucket` on the S3 server at `endpoint` (`host:port`); a blob URL for a prefix
/// inside it, with moto's test credentials.
pub fn create_bucket(endpoint: &str, bucket: &str) -> String {
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

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
