//! Whole-process tests of the `waymark` binary: it is started as a user would start it, and
//! spoken to over real HTTP on loopback.

mod admin;
mod backup;
mod crash;
mod demo;
mod hostile;
mod live_tiles;
mod load;
mod metering;
#[path = "../../../store/tests/it/received.rs"]
mod received;
mod rewards;
mod roles;
mod serve;
mod settings;
mod vision;
mod web_map;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// `waymark <args>` with a clean environment (no stray `WAYMARK_*` from the caller).
pub fn waymark(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_waymark"));
    command.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("WAYMARK_") {
            command.env_remove(key);
        }
    }
    command
}

/// Runs a command to completion.
pub fn output(mut command: Command) -> Output {
    command.stdin(Stdio::null()).output().expect("waymark runs")
}

/// A running `waymark serve` on a free loopback port; killed when dropped.
#[derive(Debug)]
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    pub fn start(data: &Path, extra: &[&str]) -> Self {
        let data = data.to_str().unwrap();
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data", data];
        args.extend_from_slice(extra);
        let mut child = waymark(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("waymark serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let mut stderr = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut stderr)
                    .ok();
                panic!("waymark serve exited before listening: {stderr}");
            };
            if let Some(url) = line.strip_prefix("waymark listening on http://") {
                break url.parse().expect("a socket address");
            }
        };
        Self { child, addr }
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        http_get(self.addr, path)
    }

    /// Sends SIGTERM and waits for the process; returns its exit status and stderr.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (exit, stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy for binary bodies; see `bytes`).
    pub body: String,
    pub bytes: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|err| panic!("{} is not JSON ({err}): {}", self.status, self.body))
    }
}

/// Uploads one frame as a dashcam agent does: a PUT signed over method, path and time.
pub fn try_put_frame(
    addr: SocketAddr,
    key: &model::DeviceKeypair,
    jpeg: &[u8],
) -> std::io::Result<HttpResponse> {
    let path = format!("/api/v1/frames/{}", model::FrameId::of_bytes(jpeg).to_hex());
    let now = model::TimestampMs::now();
    let signature = key.sign(&model::request_signing_payload("PUT", &path, now));
    try_http_request(
        addr,
        "PUT",
        &path,
        &[
            ("X-Waymark-Device", key.public().to_hex()),
            ("X-Waymark-Timestamp", now.as_millis().to_string()),
            ("X-Waymark-Signature", signature.to_hex()),
            ("Content-Type", "image/jpeg".into()),
        ],
        jpeg,
    )
}

/// A capture's status as its device asks for it: a `GET` signed like an upload.
pub fn capture_status(
    addr: SocketAddr,
    key: &model::DeviceKeypair,
    capture: model::CaptureId,
) -> HttpResponse {
    let path = format!("/api/v1/captures/{capture}");
    let now = model::TimestampMs::now();
    let signature = key.sign(&model::request_signing_payload("GET", &path, now));
    http_request(
        addr,
        "GET",
        &path,
        &[
            ("X-Waymark-Device", key.public().to_hex()),
            ("X-Waymark-Timestamp", now.as_millis().to_string()),
            ("X-Waymark-Signature", signature.to_hex()),
        ],
        b"",
    )
}

/// Posts a signed capture manifest, as the agent does after its frames.
pub fn try_post_capture(
    addr: SocketAddr,
    body: &[u8],
    signature: &model::DeviceSignature,
) -> std::io::Result<HttpResponse> {
    try_http_request(
        addr,
        "POST",
        "/api/v1/captures",
        &[
            ("Content-Type", "application/json".into()),
            ("X-Waymark-Signature", signature.to_hex()),
        ],
        body,
    )
}

/// A plain HTTP/1.1 GET over a fresh connection.
pub fn http_get(addr: SocketAddr, path: &str) -> HttpResponse {
    http_request(addr, "GET", path, &[], &[])
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`, no chunking).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> HttpResponse {
    try_http_request(addr, method, path, headers, body)
        .unwrap_or_else(|err| panic!("{method} {path}: {err}"))
}

/// [`http_request`], with a server that may be gone: the connection's error instead of a
/// panic.
pub fn try_http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("the connection closed before a response"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let bytes = raw[split + 4..].to_vec();
    let mut head_lines = head.lines();
    let status = head_lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {head}")))?;
    let headers = head_lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    })
}
