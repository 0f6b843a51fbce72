//! The hostile suite against the whole server: the real `waymark serve` (every role, metering
//! on) over real HTTP on loopback, with real accounts, devices, an accepted capture of real
//! frames and a map consumer's key. For every route: no auth, another account's auth,
//! oversized and malformed bodies, percent-encoded and double-encoded paths, path tricks,
//! absurd query values (huge numbers, deep nesting, long strings, bad UTF-8) and slow bodies.
//! Each row asserts the exact status and problem `type`, that the server still answers
//! `/health`, and that nothing stored changed (every table's rows, every blob, the search
//! index).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use model::{CaptureId, CaptureManifest, DeviceKeypair, FrameEntry, FrameId, TimestampMs};
use sqlx::Row as _;

use crate::live_tiles::{LANES, lane, munich, upload_capture};
use crate::{HttpResponse, Server, http_request, output, try_http_request, waymark};

/// Metering on, nothing flushed during the test, bodies cut off after 2 s.
const SETTINGS: &str =
    "[metering]\nenabled = true\nflush_secs = 3600\n\n[http]\nbody_deadline_secs = 2\n";

const PROBLEMS: &str = "https://waymark.dev/problems/";

/// Everything the server keeps, as text: every table's rows, every blob's path and size, and
/// the number of search documents.
#[derive(Debug, PartialEq)]
struct Stored {
    tables: BTreeMap<String, Vec<String>>,
    blobs: BTreeMap<String, u64>,
    search_documents: u64,
}

async fn tables(database: &Path) -> BTreeMap<String, Vec<String>> {
    let url = format!("sqlite://{}?mode=ro", database.display());
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut tables = BTreeMap::new();
    for name in names {
        let columns: Vec<String> = sqlx::query(&format!("PRAGMA table_info({name})"))
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String, _>("name"))
            .collect();
        let quoted: Vec<String> = columns.iter().map(|c| format!("quote({c})")).collect();
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT {} FROM {name} ORDER BY 1",
            quoted.join(" || '|' || ")
        ))
        .fetch_all(&pool)
        .await
        .unwrap();
        tables.insert(name, rows);
    }
    pool.close().await;
    tables
}

fn blobs(dir: &Path) -> BTreeMap<String, u64> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.insert(
                    path.display().to_string(),
                    entry.metadata().map(|m| m.len()).unwrap_or(0),
                );
            }
        }
    }
    found
}

fn stored(server: &Server, data: &Path) -> Stored {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let health = healthy(server);
    Stored {
        tables: runtime.block_on(tables(&data.join("waymark.db"))),
        blobs: blobs(&data.join("blobs")),
        search_documents: health["search_documents"].as_u64().unwrap(),
    }
}

/// `/health` answers `200 ok`; returns its body.
fn healthy(server: &Server) -> serde_json::Value {
    let health = server.get("/health");
    assert_eq!(health.status, 200, "{}", health.body);
    let body = health.json();
    assert_eq!(body["status"], "ok", "{body}");
    body
}

/// One hostile request and the answer it must get.
struct Attack {
    name: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    /// The problem's `type` slug, when the answer is a problem.
    problem: Option<&'static str>,
}

fn row(name: &'static str, method: &'static str, path: impl Into<String>) -> Attack {
    Attack {
        name,
        method,
        path: path.into(),
        headers: Vec::new(),
        body: Vec::new(),
        status: 0,
        problem: None,
    }
}

impl Attack {
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn expect(mut self, status: u16, problem: &'static str) -> Self {
        self.status = status;
        self.problem = Some(problem);
        self
    }

    fn expect_ok(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}

/// A request signed by a device, as the agent signs uploads.
fn signed(key: &DeviceKeypair, method: &str, path: &str) -> Vec<(&'static str, String)> {
    let now = TimestampMs::now();
    let signature = key.sign(&model::request_signing_payload(method, path, now));
    vec![
        ("X-Waymark-Device", key.public().to_hex()),
        ("X-Waymark-Timestamp", now.as_millis().to_string()),
        ("X-Waymark-Signature", signature.to_hex()),
    ]
}

fn sign_up(server: &Server, name: &str) -> (String, String) {
    let account = http_request(
        server.addr,
        "POST",
        "/api/v1/contributors",
        &[("Content-Type", "application/json".into())],
        format!(r#"{{"name":"{name}"}}"#).as_bytes(),
    );
    assert_eq!(account.status, 201, "{}", account.body);
    let account = account.json();
    (
        account["id"].as_str().unwrap().to_owned(),
        format!("Bearer {}", account["token"].as_str().unwrap()),
    )
}

fn register(server: &Server, bearer: &str, key: &DeviceKeypair) -> String {
    let device = http_request(
        server.addr,
        "POST",
        "/api/v1/devices",
        &[("Authorization", bearer.to_owned())],
        format!(r#"{{"public_key":"{}"}}"#, key.public().to_hex()).as_bytes(),
    );
    assert_eq!(device.status, 201, "{}", device.body);
    device.json()["id"].as_str().unwrap().to_owned()
}

/// Sends a request whose body trickles in (`chunk` bytes every `every`); returns the answer
/// and how long it took.
fn slow_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    length: usize,
) -> (HttpResponse, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {length}\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut sent = 0;
    // 20 bytes every 100 ms: the whole body would take length / 200 s.
    stream.set_nonblocking(true).unwrap();
    let mut raw = Vec::new();
    loop {
        if sent < length {
            let piece = vec![b' '; 20.min(length - sent)];
            if stream.write_all(&piece).is_err() {
                break;
            }
            sent += piece.len();
        }
        let mut buffer = [0u8; 4096];
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
        if raw.windows(4).any(|w| w == b"\r\n\r\n") && started.elapsed() > Duration::from_secs(1) {
            // The head came; read the rest of the answer.
            stream.set_nonblocking(false).unwrap();
            stream.read_to_end(&mut raw).ok();
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no answer to a slow body"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let response = HttpResponse {
        status,
        headers: Vec::new(),
        body: body.to_owned(),
        bytes: body.as_bytes().to_vec(),
    };
    (response, started.elapsed())
}

#[test]
fn every_route_meets_hostile_requests_with_its_typed_problem_and_keeps_everything() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("waymark.toml");
    std::fs::write(&config, SETTINGS).unwrap();
    let server = Server::start(data.path(), &["--config", config.to_str().unwrap()]);

    // Alice: an account, a dashcam and an accepted capture of real frames.
    let (alice_id, alice) = sign_up(&server, "alice");
    let alice_key = DeviceKeypair::from_seed([31; 32]);
    let alice_device = register(&server, &alice, &alice_key);
    let drive = munich();
    let fixes: Vec<model::Fix> = (0..3).map(|i| drive[300 + i * 4]).collect();
    let jpegs: Vec<Vec<u8>> = LANES[..3].iter().map(|n| lane(n)).collect();
    let accepted = upload_capture(server.addr, &alice_key, 1, &jpegs, &fixes);
    let frame = accepted.keys().next().unwrap().clone();
    let alice_capture = {
        let mine = http_request(
            server.addr,
            "GET",
            "/api/v1/contributors/me/captures",
            &[("Authorization", alice.clone())],
            b"",
        )
        .json();
        mine["captures"][0]["id"].as_str().unwrap().to_owned()
    };
    // Mallory: her own account and dashcam.
    let (_, mallory) = sign_up(&server, "mallory");
    let mallory_key = DeviceKeypair::from_seed([32; 32]);
    register(&server, &mallory, &mallory_key);
    // A map consumer with a key and credits.
    let (consumer_id, consumer) = sign_up(&server, "consumer");
    let created = http_request(
        server.addr,
        "POST",
        "/api/v1/keys",
        &[("Authorization", consumer.clone())],
        b"",
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let api_key = created.json()["key"].as_str().unwrap().to_owned();
    let key_id = created.json()["id"].as_str().unwrap().to_owned();
    let granted = output(waymark(&[
        "--data",
        data.path().to_str().unwrap(),
        "credits",
        "grant",
        "--account",
        &consumer_id,
        "100000",
    ]));
    assert!(granted.status.success());
    let fix = accepted[&frame];
    let tile = tiles::TileCoord::containing(fix.lon, fix.lat, 14);
    let (tx, ty) = (tile.x, tile.y);
    // Wait for the tile builder, the search index and the pipeline to settle.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = healthy(&server);
        let settled = health["queue"]["queued"] == 0 && health["queue"]["leased"] == 0;
        let tile = server.get(&format!("/tiles/12/{}/{}.mvt", tx >> 2, ty >> 2));
        if settled && tile.status == 200 && health["search_documents"].as_u64() > Some(0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server never settled: {health}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(1_500));
    let with_key = |path: &str| {
        let separator = if path.contains('?') { '&' } else { '?' };
        format!("{path}{separator}key={api_key}")
    };
    let sha = frame.as_str();
    let unknown_sha = "ab".repeat(32);
    let deep = format!("{}stop{}", "(".repeat(750), ")".repeat(750));
    // Long, but inside what the HTTP layer takes for a request head (a 100 KB one is refused
    // before any route: a row below).
    let long = "x".repeat(6_000);
    let huge_json = format!(r#"{{"name":"{}"}}"#, "x".repeat(5 * 1024 * 1024));

    let rows =
        vec![
        // --- search (metered): encodings, nesting, absurd values -------------------------
        row("search without a key", "GET", "/api/v1/search?q=stop").expect(401, "api-key-required"),
        row(
            "search, percent-encoded path",
            "GET",
            "/api/v1/searc%68?q=stop",
        )
        .expect(401, "api-key-required"),
        row(
            "search, encoded first segment",
            "GET",
            "/%61pi/v1/search?q=stop",
        )
        .expect(401, "api-key-required"),
        row(
            "search, double-encoded path",
            "GET",
            "/api/v1/searc%2568?q=stop",
        )
        .expect(404, "not-found"),
        row(
            "search, encoded slashes",
            "GET",
            "/api%2Fv1%2Fsearch?q=stop",
        )
        .expect(404, "not-found"),
        row(
            "search, 750 nested parentheses",
            "GET",
            with_key(&format!("/api/v1/search?q={deep}")),
        )
        .expect(400, "invalid-request"),
        row(
            "search, 17 words",
            "GET",
            with_key(&format!(
                "/api/v1/search?q={}",
                (0..17).map(|i| format!("w{i}")).collect::<Vec<_>>().join("+")
            )),
        )
        .expect(400, "invalid-request"),
        row(
            "search, 6 000 characters",
            "GET",
            with_key(&format!("/api/v1/search?q={long}")),
        )
        .expect(400, "invalid-request"),
        // --- map features (the list is metered like search) ------------------------------
        row("features without a key", "GET", "/api/v1/features").expect(401, "api-key-required"),
        row("features, percent-encoded path", "GET", "/api/v1/featur%65s")
            .expect(401, "api-key-required"),
        row(
            "features, an inverted bbox",
            "GET",
            with_key("/api/v1/features?bbox=8,44,7,43"),
        )
        .expect(400, "invalid-request"),
        row(
            "features, a bbox of NaN",
            "GET",
            with_key("/api/v1/features?bbox=NaN,NaN,NaN,NaN"),
        )
        .expect(400, "invalid-request"),
        row(
            "features, changed_since past 9999",
            "GET",
            with_key("/api/v1/features?changed_since=99999999999999999-01-01"),
        )
        .expect(400, "invalid-request"),
        row(
            "features, a limit past u32",
            "GET",
            with_key("/api/v1/features?limit=99999999999"),
        )
        .expect(400, "invalid-request"),
        row(
            "features, an SQL cursor",
            "GET",
            with_key("/api/v1/features?cursor=%27%20OR%201%3D1%20--"),
        )
        .expect(400, "invalid-request"),
        row(
            "features, a class of 6 000 characters",
            "GET",
            with_key(&format!("/api/v1/features?class={long}")),
        )
        .expect(400, "invalid-request"),
        row("feature, not an id", "GET", "/api/v1/features/..%2F..%2Fetc%2Fpasswd")
            .expect(400, "invalid-request"),
        row(
            "feature, unknown",
            "GET",
            "/api/v1/features/ft-000000000000000000000000",
        )
        .expect(404, "not-found"),
        row(
            "search, a year past 9999",
            "GET",
            with_key("/api/v1/search?after=99999999999999999-01-01"),
        )
        .expect(400, "invalid-request"),
        row(
            "search, milliseconds past i64",
            "GET",
            with_key("/api/v1/search?before=99999999999999999999999"),
        )
        .expect(400, "invalid-request"),
        row(
            "search, a limit past u64",
            "GET",
            with_key("/api/v1/search?q=stop&limit=999999999999999999999999"),
        )
        .expect(400, "invalid-request"),
        row(
            "search, a negative limit",
            "GET",
            with_key("/api/v1/search?q=stop&limit=-1"),
        )
        .expect(400, "invalid-request"),
        row(
            "search, near off the globe",
            "GET",
            with_key("/api/v1/search?near=91,0"),
        )
        .expect(400, "invalid-request"),
        row(
            "search, near not a number",
            "GET",
            with_key("/api/v1/search?near=NaN,NaN"),
        )
        .expect(400, "invalid-request"),
        row(
            "search, a cell of resolution 0",
            "GET",
            with_key("/api/v1/search?cell=8001fffffffffff"),
        )
        .expect(400, "invalid-request"),
        row(
            "search, bad UTF-8",
            "GET",
            with_key("/api/v1/search?q=%FF%FE"),
        )
        .expect(400, "invalid-request"),
        row(
            "search, an unknown parameter",
            "GET",
            with_key("/api/v1/search?q=stop&sql=1"),
        )
        .expect(400, "invalid-request"),
        row(
            "search, nothing to search",
            "GET",
            with_key("/api/v1/search"),
        )
        .expect(400, "invalid-request"),
        row(
            "search, a forged key",
            "GET",
            format!(
                "/api/v1/search?q=stop&key=wmk_{}_{}",
                "0".repeat(12),
                "0".repeat(64)
            ),
        )
        .expect(401, "api-key-required"),
        // --- full-resolution frames (metered) and public frames ------------------------
        row(
            "image without a key",
            "GET",
            format!("/api/v1/frames/{sha}/image.jpg"),
        )
        .expect(401, "api-key-required"),
        row(
            "image, encoded dot",
            "GET",
            format!("/api/v1/frames/{sha}/image%2Ejpg"),
        )
        .expect(401, "api-key-required"),
        row(
            "image, encoded name",
            "GET",
            format!("/api/v1/frames/{sha}/%69mage.jpg"),
        )
        .expect(401, "api-key-required"),
        row(
            "image, double-encoded dot",
            "GET",
            format!("/api/v1/frames/{sha}/image%252Ejpg"),
        )
        .expect(404, "not-found"),
        row(
            "image of an unknown frame",
            "GET",
            with_key(&format!("/api/v1/frames/{unknown_sha}/image.jpg")),
        )
        .expect(404, "not-found"),
        row("frame id `..`", "GET", "/api/v1/frames/..").expect(400, "invalid-request"),
        row(
            "frame id with encoded traversal",
            "GET",
            "/api/v1/frames/..%2F..%2Fwaymark.db",
        )
        .expect(400, "invalid-request"),
        row(
            "frame id in uppercase",
            "GET",
            format!("/api/v1/frames/{}", sha.to_uppercase()),
        )
        .expect(400, "invalid-request"),
        row("frame id of bad UTF-8", "GET", "/api/v1/frames/%FF%FE").expect(400, "invalid-request"),
        row(
            "frame id of 6 000 characters",
            "GET",
            format!("/api/v1/frames/{long}"),
        )
        .expect(400, "invalid-request"),
        row(
            "thumbnail of an unknown frame",
            "GET",
            format!("/api/v1/frames/{unknown_sha}/thumbnail.jpg"),
        )
        .expect(404, "not-found"),
        row(
            "the original under the blob key",
            "GET",
            format!(
                "/blobs/frames/original/{}/{}/{sha}.jpg",
                &sha[..2],
                &sha[2..4]
            ),
        )
        .expect(404, "not-found"),
        row(
            "dot segments out of the frames",
            "GET",
            format!("/api/v1/frames/{sha}/../../../waymark.db"),
        )
        .expect(404, "not-found"),
        // --- tiles (metered above z12) and the base map --------------------------------
        row(
            "z14 tile without a key",
            "GET",
            format!("/tiles/14/{tx}/{ty}.mvt"),
        )
        .expect(401, "api-key-required"),
        row(
            "z14 tile, encoded dot",
            "GET",
            format!("/tiles/14/{tx}/{ty}%2Emvt"),
        )
        .expect(401, "api-key-required"),
        row(
            "z14 tile, encoded zoom",
            "GET",
            format!("/tiles/%31%34/{tx}/{ty}.mvt"),
        )
        .expect(401, "api-key-required"),
        row(
            "z14 tile, a leading zero",
            "GET",
            format!("/tiles/014/{tx}/{ty}.mvt"),
        )
        .expect(401, "api-key-required"),
        row(
            "z14 tile, double-encoded dot",
            "GET",
            format!("/tiles/14/{tx}/{ty}%252Emvt"),
        )
        .expect(400, "bad-tile-address"),
        row(
            "z14 tile, encoded slashes",
            "GET",
            format!("/tiles/14%2F{tx}%2F{ty}.mvt"),
        )
        .expect(404, "not-found"),
        row("tile at zoom 99", "GET", "/tiles/99/0/0.mvt").expect(400, "bad-tile-address"),
        row("tile out of range", "GET", "/tiles/1/5/5.mvt").expect(400, "bad-tile-address"),
        row("tile with a negative zoom", "GET", "/tiles/-1/0/0.mvt")
            .expect(400, "bad-tile-address"),
        row(
            "tile with a huge column",
            "GET",
            "/tiles/12/99999999999999999999/0.mvt",
        )
        .expect(400, "bad-tile-address"),
        row("tile as PNG", "GET", "/tiles/3/1/1.png").expect(400, "bad-tile-address"),
        row(
            "base map tile of nothing built",
            "GET",
            "/basemap/3/1/1.mvt",
        )
        .expect(404, "no-basemap"),
        // --- accounts ------------------------------------------------------------------
        row(
            "my account without a token",
            "GET",
            "/api/v1/contributors/me",
        )
        .expect(401, "unauthorized"),
        row(
            "my account with a forged token",
            "GET",
            "/api/v1/contributors/me",
        )
        .header("Authorization", format!("Bearer wm_{}", "0".repeat(64)))
        .expect(401, "unauthorized"),
        row(
            "my account with a 100 KB token",
            "GET",
            "/api/v1/contributors/me",
        )
        .header("Authorization", format!("Bearer {}", "a".repeat(60_000)))
        .expect(401, "unauthorized"),
        row("sign-up, not JSON", "POST", "/api/v1/contributors")
            .body("name=mallory")
            .expect(400, "malformed-json"),
        row("sign-up, an unknown field", "POST", "/api/v1/contributors")
            .body(r#"{"name":"m","role":"admin"}"#)
            .expect(400, "malformed-json"),
        row(
            "sign-up, a name of 10 000 characters",
            "POST",
            "/api/v1/contributors",
        )
        .body(format!(r#"{{"name":"{}"}}"#, "m".repeat(10_000)))
        .expect(400, "invalid-request"),
        row("sign-up, an empty name", "POST", "/api/v1/contributors")
            .body(r#"{"name":"   "}"#)
            .expect(400, "invalid-request"),
        row(
            "sign-up, a bad payout address",
            "POST",
            "/api/v1/contributors",
        )
        .body(r#"{"name":"m","payout_address":"0x00"}"#)
        .expect(400, "invalid-request"),
        row("sign-up, a 5 MB body", "POST", "/api/v1/contributors")
            .body(huge_json.clone())
            .expect(413, "body-too-large"),
        row("sign-up, bad UTF-8", "POST", "/api/v1/contributors")
            .body(b"{\"name\":\"\xff\xfe\"}".to_vec())
            .expect(400, "malformed-json"),
        row(
            "my captures without a token",
            "GET",
            "/api/v1/contributors/me/captures",
        )
        .expect(401, "unauthorized"),
        row(
            "my coverage without a token",
            "GET",
            "/api/v1/contributors/me/coverage",
        )
        .expect(401, "unauthorized"),
        // --- devices and drivers --------------------------------------------------------
        row(
            "register a device without a token",
            "POST",
            "/api/v1/devices",
        )
        .body(format!(
            r#"{{"public_key":"{}"}}"#,
            DeviceKeypair::from_seed([40; 32]).public().to_hex()
        ))
        .expect(401, "unauthorized"),
        row("register Alice's key again", "POST", "/api/v1/devices")
            .header("Authorization", mallory.clone())
            .body(format!(
                r#"{{"public_key":"{}"}}"#,
                alice_key.public().to_hex()
            ))
            .expect(409, "device-key-taken"),
        row("register a key of bad hex", "POST", "/api/v1/devices")
            .header("Authorization", mallory.clone())
            .body(r#"{"public_key":"zz"}"#)
            .expect(400, "invalid-request"),
        row("register, a share over 100 %", "POST", "/api/v1/devices")
            .header("Authorization", mallory.clone())
            .body(format!(
                r#"{{"public_key":"{}","driver_id":"{alice_id}","driver_share_bps":10001}}"#,
                DeviceKeypair::from_seed([41; 32]).public().to_hex()
            ))
            .expect(400, "invalid-request"),
        row("register, a share past u16", "POST", "/api/v1/devices")
            .header("Authorization", mallory.clone())
            .body(format!(
                r#"{{"public_key":"{}","driver_id":"{alice_id}","driver_share_bps":99999999999}}"#,
                DeviceKeypair::from_seed([42; 32]).public().to_hex()
            ))
            .expect(400, "malformed-json"),
        row(
            "revoke Alice's device as Mallory",
            "DELETE",
            format!("/api/v1/devices/{alice_device}"),
        )
        .header("Authorization", mallory.clone())
        .expect(404, "not-found"),
        row(
            "revoke Alice's device anonymously",
            "DELETE",
            format!("/api/v1/devices/{alice_device}"),
        )
        .expect(401, "unauthorized"),
        row(
            "drive Alice's device as Mallory",
            "POST",
            format!("/api/v1/devices/{alice_device}/driver"),
        )
        .header("Authorization", mallory.clone())
        .expect(404, "not-found"),
        row(
            "leave Alice's device as Mallory",
            "DELETE",
            format!("/api/v1/devices/{alice_device}/driver"),
        )
        .header("Authorization", mallory.clone())
        .expect(404, "not-found"),
        row(
            "a device id of traversal",
            "DELETE",
            "/api/v1/devices/..%2F..",
        )
        .header("Authorization", mallory.clone())
        .expect(400, "invalid-request"),
        // --- uploads ---------------------------------------------------------------------
        row(
            "a frame without a signature",
            "PUT",
            format!("/api/v1/frames/{unknown_sha}"),
        )
        .body(jpegs[0].clone())
        .expect(401, "device-unauthorized"),
        row(
            "a frame over 4 MB",
            "PUT",
            format!("/api/v1/frames/{unknown_sha}"),
        )
        .body(vec![0xFF; 5 * 1024 * 1024])
        .expect(413, "body-too-large"),
        row("a manifest without a signature", "POST", "/api/v1/captures")
            .body(r#"{"format_version":1}"#)
            .expect(401, "device-unauthorized"),
        row("a manifest over 4 MB", "POST", "/api/v1/captures")
            .body(vec![b' '; 5 * 1024 * 1024])
            .expect(413, "body-too-large"),
        // --- capture status: the device's, its owner's or an admin's ----------------------
        row(
            "Alice's capture anonymously",
            "GET",
            format!("/api/v1/captures/{alice_capture}"),
        )
        .expect(401, "unauthorized"),
        row(
            "Alice's capture with Mallory's token",
            "GET",
            format!("/api/v1/captures/{alice_capture}"),
        )
        .header("Authorization", mallory.clone())
        .expect(404, "not-found"),
        row(
            "a capture id of 6 000 characters",
            "GET",
            format!("/api/v1/captures/{long}"),
        )
        .expect(400, "invalid-request"),
        // --- the review queue: operators only; appeals by the device's owner ---------------
        row("the review queue anonymously", "GET", "/api/v1/reviews").expect(401, "unauthorized"),
        row("the review queue with Mallory's token", "GET", "/api/v1/reviews")
            .header("Authorization", mallory.clone())
            .expect(403, "forbidden"),
        row(
            "a decision with Mallory's token",
            "POST",
            "/api/v1/reviews/00000000-0000-0000-0000-000000000000/decision",
        )
        .header("Authorization", mallory.clone())
        .body(r#"{"decision":"clear","note":"mine"}"#)
        .expect(403, "forbidden"),
        row(
            "a decision anonymously",
            "POST",
            "/api/v1/reviews/00000000-0000-0000-0000-000000000000/decision",
        )
        .body(r#"{"decision":"clear","note":"mine"}"#)
        .expect(401, "unauthorized"),
        row(
            "an appeal of a case that does not exist",
            "POST",
            format!("/api/v1/reviews/{long}/appeal"),
        )
        .header("Authorization", alice.clone())
        .body(r#"{"text":"not me"}"#)
        .expect(404, "not-found"),
        row(
            "an appeal with an SQL id",
            "POST",
            "/api/v1/reviews/%27%20OR%201%3D1%20--/appeal",
        )
        .header("Authorization", mallory.clone())
        .body(r#"{"text":"not me"}"#)
        .expect(404, "not-found"),
        row(
            "an appeal anonymously",
            "POST",
            "/api/v1/reviews/00000000-0000-0000-0000-000000000000/appeal",
        )
        .body(r#"{"text":"not me"}"#)
        .expect(401, "unauthorized"),
        row(
            "my reputation without a token",
            "GET",
            "/api/v1/contributors/me/reputation",
        )
        .expect(401, "unauthorized"),
        // --- rewards -----------------------------------------------------------------------
        row(
            "an epoch that cannot exist",
            "GET",
            "/api/v1/rewards/epochs/2026-W99",
        )
        .expect(400, "bad-epoch-id"),
        row(
            "an epoch of traversal",
            "GET",
            "/api/v1/rewards/epochs/..%2F..%2Fwaymark.db",
        )
        .expect(400, "bad-epoch-id"),
        row(
            "an epoch of 6 000 characters",
            "GET",
            format!("/api/v1/rewards/epochs/{long}"),
        )
        .expect(400, "bad-epoch-id"),
        row(
            "a proof for a non-UUID",
            "GET",
            "/api/v1/rewards/epochs/2026-W01/contributors/x",
        )
        .expect(400, "bad-contributor-id"),
        row(
            "a leaderboard of 10^12 days",
            "GET",
            "/api/v1/rewards/leaderboard?days=1000000000000",
        )
        .expect(400, "bad-leaderboard-query"),
        row(
            "a leaderboard of -1 days",
            "GET",
            "/api/v1/rewards/leaderboard?days=-1",
        )
        .expect(400, "bad-leaderboard-query"),
        row(
            "a leaderboard of days past i64",
            "GET",
            "/api/v1/rewards/leaderboard?days=99999999999999999999",
        )
        .expect(400, "bad-leaderboard-query"),
        row(
            "an oracle report for an epoch that is not closed",
            "POST",
            "/api/v1/rewards/epochs/2026-W01/signatures",
        )
        .header("Content-Type", "application/json")
        .body(r#"{"report":{},"signature":"0x00"}"#)
        .expect(404, "epoch-not-closed"),
        row(
            "an oracle report for an epoch of traversal",
            "POST",
            "/api/v1/rewards/epochs/..%2F..%2Fwaymark.db/signatures",
        )
        .body("{}")
        .expect(400, "bad-epoch-id"),
        row(
            "the inputs of an epoch that is not closed",
            "GET",
            "/api/v1/rewards/epochs/2026-W01/inputs",
        )
        .expect(404, "epoch-not-closed"),
        row(
            "a capture manifest of an epoch that is not closed",
            "GET",
            "/api/v1/rewards/epochs/2026-W01/captures/x",
        )
        .expect(404, "epoch-not-closed"),
        row(
            "the oracle report of an epoch that is not closed",
            "GET",
            "/api/v1/rewards/epochs/2026-W01/report",
        )
        .expect(404, "epoch-not-closed"),
        row(
            "a path under rewards that is nothing",
            "GET",
            "/api/v1/rewards/nothing",
        )
        .expect(404, "not-found"),
        // --- map consumers' keys and usage ------------------------------------------------
        row("a key without a token", "POST", "/api/v1/keys").expect(401, "api-key-required"),
        row("a key with an API key as the token", "POST", "/api/v1/keys")
            .header("Authorization", format!("Bearer {api_key}"))
            .expect(401, "api-key-required"),
        row("a key scoped to admin", "POST", "/api/v1/keys")
            .header("Authorization", consumer.clone())
            .body(r#"{"scopes":["admin"]}"#)
            .expect(400, "invalid-request"),
        row("a key request over 4 MB", "POST", "/api/v1/keys")
            .header("Authorization", consumer.clone())
            .body(huge_json.clone())
            .expect(413, "body-too-large"),
        row(
            "revoke the consumer's key as Mallory",
            "DELETE",
            format!("/api/v1/keys/{key_id}"),
        )
        .header("Authorization", mallory.clone())
        .expect(404, "not-found"),
        row(
            "usage of 10^12 days",
            "GET",
            "/api/v1/usage?days=1000000000000",
        )
        .header("Authorization", consumer.clone())
        .expect(400, "invalid-request"),
        row("usage without a token", "GET", "/api/v1/usage").expect(401, "api-key-required"),
        // --- the page, its assets and the rest ----------------------------------------------
        row(
            "an asset by traversal",
            "GET",
            "/assets/maplibre/..%2F..%2FCargo.toml",
        )
        .expect(404, "not-found"),
        row(
            "an asset by encoded dots",
            "GET",
            "/assets/%2E%2E/%2E%2E/Cargo.toml",
        )
        .expect(404, "not-found"),
        row("a route that is nothing", "GET", format!("/{long}")).expect(404, "not-found"),
        row(
            "a method no route takes",
            "PATCH",
            "/api/v1/contributors/me",
        )
        .expect(404, "not-found"),
        row(
            "HEAD of a metered tile",
            "HEAD",
            format!("/tiles/14/{tx}/{ty}.mvt"),
        )
        .expect_ok(404),
        // A request head over what the HTTP layer takes is refused before any route runs
        // (actix's own 400, without a body).
        row("a 100 KB request line", "GET", format!("/api/v1/search?q={}", "x".repeat(100_000)))
            .expect_ok(400),
        row("forwarded host from a stranger", "GET", "/tiles.json")
            .header("X-Forwarded-Host", "evil.example")
            .header("Forwarded", "host=evil.example;proto=https")
            .expect_ok(200),
    ];

    // Settle once more: the rows must find everything as the set-up left it.
    let before = stored(&server, data.path());
    let mut wrong = Vec::new();
    for row in &rows {
        let response = try_http_request(
            server.addr,
            row.method,
            &row.path,
            &row.headers
                .iter()
                .map(|(n, v)| (*n, v.clone()))
                .collect::<Vec<_>>(),
            &row.body,
        )
        .unwrap_or_else(|err| panic!("{}: no answer: {err}", row.name));
        let body: String = response.body.chars().take(300).collect();
        if response.status != row.status {
            wrong.push(format!("{}: {} {body}", row.name, response.status));
        } else if let Some(slug) = row.problem {
            let typed = response.header("content-type") == Some("application/problem+json")
                && serde_json::from_slice::<serde_json::Value>(&response.bytes).is_ok_and(
                    |problem| {
                        problem["type"] == format!("{PROBLEMS}{slug}")
                            && problem["status"] == row.status
                    },
                );
            if !typed {
                wrong.push(format!("{}: not a {slug} problem: {body}", row.name));
            }
        }
        if row.name.starts_with("forwarded host") && response.body.contains("evil.example") {
            wrong.push(format!("{}: the forwarded host is reflected", row.name));
        }
        healthy(&server);
        let after = stored(&server, data.path());
        assert!(after == before, "{}: something stored changed", row.name);
    }
    assert!(
        wrong.is_empty(),
        "{} of {} rows answered wrongly:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );

    // Slow bodies, on a route that reads one and on one that does not: cut off at the 2 s
    // deadline, answered 408, nothing kept.
    for (method, path, headers) in [
        ("POST", "/api/v1/contributors", vec![]),
        (
            "POST",
            "/api/v1/keys",
            vec![("Authorization", consumer.clone())],
        ),
        ("GET", "/health", vec![]),
        (
            "PUT",
            format!("/api/v1/frames/{unknown_sha}").leak() as &str,
            signed(
                &mallory_key,
                "PUT",
                &format!("/api/v1/frames/{unknown_sha}"),
            ),
        ),
    ] {
        let (response, took) = slow_body(server.addr, method, path, &headers, 4_000);
        assert_eq!(response.status, 408, "{method} {path}: {}", response.body);
        assert!(
            response.body.contains("upload-too-slow"),
            "{}",
            response.body
        );
        assert!(took < Duration::from_secs(10), "{took:?}");
        assert!(
            stored(&server, data.path()) == before,
            "{method} {path}: stored"
        );
    }

    // Another account's auth on what a device or its owner may read: Mallory's own device,
    // correctly signed, is refused Alice's capture; Alice's device and Alice read it.
    let path = format!("/api/v1/captures/{alice_capture}");
    let mallory_signed = http_request(
        server.addr,
        "GET",
        &path,
        &signed(&mallory_key, "GET", &path),
        b"",
    );
    assert_eq!(mallory_signed.status, 404, "{}", mallory_signed.body);
    let alice_signed = http_request(
        server.addr,
        "GET",
        &path,
        &signed(&alice_key, "GET", &path),
        b"",
    );
    assert_eq!(alice_signed.status, 200, "{}", alice_signed.body);
    let owner = http_request(
        server.addr,
        "GET",
        &path,
        &[("Authorization", alice.clone())],
        b"",
    );
    assert_eq!(owner.status, 200, "{}", owner.body);

    // Mallory names Alice's accepted frames in her own manifest: she never sent their
    // bytes, so they are missing to her — nothing of hers is stored.
    let mallory_manifest = CaptureManifest {
        format_version: model::MANIFEST_FORMAT_VERSION,
        device_key: mallory_key.public(),
        capture_id: CaptureId::new(),
        sequence_number: 1,
        firmware: "x".into(),
        camera: "x".into(),
        frames: accepted
            .iter()
            .map(|(sha, fix)| FrameEntry {
                sha256: sha.parse::<FrameId>().unwrap(),
                fix: model::Fix {
                    time: fix.time.saturating_add_ms(60_000),
                    ..*fix
                },
            })
            .collect(),
    };
    let (body, signature) = mallory_manifest.sign(&mallory_key);
    let claimed = crate::try_post_capture(server.addr, &body, &signature).unwrap();
    assert_eq!(claimed.status, 409, "{}", claimed.body);
    assert_eq!(
        claimed.json()["missing"].as_array().unwrap().len(),
        accepted.len()
    );
    assert!(
        stored(&server, data.path()) == before,
        "a refused manifest stores nothing"
    );

    // An admin reads any capture's status.
    let (mallory_id, _) = {
        let me = http_request(
            server.addr,
            "GET",
            "/api/v1/contributors/me",
            &[("Authorization", mallory.clone())],
            b"",
        )
        .json();
        (me["id"].as_str().unwrap().to_owned(), ())
    };
    let made_admin = output(waymark(&[
        "--data",
        data.path().to_str().unwrap(),
        "admin",
        "grant",
        "--account",
        &mallory_id,
    ]));
    assert!(
        made_admin.status.success(),
        "{}",
        String::from_utf8_lossy(&made_admin.stderr)
    );
    let as_admin = http_request(
        server.addr,
        "GET",
        &path,
        &[("Authorization", mallory.clone())],
        b"",
    );
    assert_eq!(as_admin.status, 200, "{}", as_admin.body);

    healthy(&server);
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn sign_ups_past_the_limit_are_refused_with_retry_after() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("waymark.toml");
    std::fs::write(&config, "[http]\nsignup_burst = 3\nsignups_per_hour = 1\n").unwrap();
    let server = Server::start(data.path(), &["--config", config.to_str().unwrap()]);
    for n in 0..3 {
        sign_up(&server, &format!("user{n}"));
    }
    let refused = http_request(
        server.addr,
        "POST",
        "/api/v1/contributors",
        &[],
        br#"{"name":"one too many"}"#,
    );
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.json()["type"], format!("{PROBLEMS}rate-limited"));
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 60, "{retry}");
    // A forwarded address from a client that is no trusted proxy changes nothing.
    let spoofed = http_request(
        server.addr,
        "POST",
        "/api/v1/contributors",
        &[
            ("X-Forwarded-For", "203.0.113.9".into()),
            ("Forwarded", "for=203.0.113.9".into()),
        ],
        br#"{"name":"spoofed"}"#,
    );
    assert_eq!(spoofed.status, 429, "{}", spoofed.body);
    healthy(&server);
}
