//! The agent end to end on real data: GoPro and Udacity recordings decoded by GStreamer,
//! geotags checked with the real `exiftool`, uploads to a real ingest server (store on a
//! tempdir, actix on loopback), and the `waymark-agent` binary killed with SIGKILL mid-way.

#[cfg(feature = "capture")]
mod capture;
#[cfg(feature = "capture")]
mod crash;
mod full_disk;
mod library;
#[cfg(feature = "capture")]
mod live;
mod sources;
mod upload;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use actix_web::{App, HttpResponse, HttpServer};
use model::{DeviceKeypair, FrameEntry};
use store::{Store, StoreConfig};

/// A path under the workspace's `datasets/`.
pub fn dataset(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../datasets")
        .join(relative)
}

/// A real ingest server on `127.0.0.1:<random>` with its store under `dir`, in a background
/// thread. Requests numbered in `failing` (from 0) get a 500: a server briefly broken.
#[derive(Debug)]
pub struct Server {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
    /// The token of the last account signed up, who owns the devices the tests register.
    owner_token: std::sync::Mutex<Option<String>>,
}

impl Server {
    pub fn start(dir: &Path) -> Self {
        Self::start_failing(dir, 0..0)
    }

    pub fn start_failing(dir: &Path, failing: std::ops::Range<usize>) -> Self {
        let (sender, receiver) = mpsc::channel();
        let dir = dir.to_owned();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let store = Store::open(&StoreConfig::under(&dir)).await.unwrap();
                let limit = ingest::rate_limit::RateLimit {
                    per_second: 1_000.0,
                    burst: 1_000.0,
                };
                let server = HttpServer::new(move || {
                    let counter = counter.clone();
                    let failing = failing.clone();
                    App::new()
                        .configure(ingest::configure_with(store.clone(), limit))
                        .wrap_fn(move |request, service| {
                            use actix_web::dev::Service;
                            let seen = counter.fetch_add(1, Ordering::SeqCst);
                            let call = (!failing.contains(&seen)).then(|| service.call(request));
                            async move {
                                match call {
                                    Some(call) => call.await.map(|r| {
                                        r.map_into_left_body::<actix_web::body::BoxBody>()
                                    }),
                                    None => Err(actix_web::error::InternalError::from_response(
                                        "injected failure",
                                        HttpResponse::InternalServerError().finish(),
                                    )
                                    .into()),
                                }
                            }
                        })
                })
                .workers(1)
                .bind(("127.0.0.1", 0))
                .unwrap();
                sender.send(server.addrs()[0]).unwrap();
                server.run().await.unwrap();
            });
        });
        let addr = receiver.recv().unwrap();
        Self {
            url: format!("http://{addr}"),
            requests,
            owner_token: std::sync::Mutex::new(None),
        }
    }

    /// Signs a contributor up; returns their API token.
    pub fn sign_up(&self) -> String {
        let account: serde_json::Value = ureq::post(&format!("{}/api/v1/contributors", self.url))
            .send_json(serde_json::json!({ "name": "Driver" }))
            .unwrap()
            .into_json()
            .unwrap();
        let token = account["token"].as_str().unwrap().to_owned();
        *self.owner_token.lock().unwrap() = Some(token.clone());
        token
    }

    /// Signs a contributor up and registers `key` for them.
    pub fn register(&self, key: &DeviceKeypair) -> String {
        let token = self.sign_up();
        let response = ureq::post(&format!("{}/api/v1/devices", self.url))
            .set("Authorization", &format!("Bearer {token}"))
            .send_json(serde_json::json!({ "public_key": key.public().to_hex() }))
            .unwrap();
        assert_eq!(response.status(), 201);
        *self.owner_token.lock().unwrap() = Some(token.clone());
        token
    }

    /// The server's view of a capture, asked for by the last account signed up (the owner
    /// of the devices the tests register).
    pub fn capture(&self, id: &str) -> serde_json::Value {
        let token = self
            .owner_token
            .lock()
            .unwrap()
            .clone()
            .expect("a device was registered");
        ureq::get(&format!("{}/api/v1/captures/{id}", self.url))
            .set("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap()
            .into_json()
            .unwrap()
    }
}

/// The `waymark-agent` binary with `--home home`.
pub fn agent_bin(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_waymark-agent"));
    command.arg("--home").arg(home);
    command
}

/// Runs the binary to completion; panics with its output on failure.
pub fn run_ok(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `exiftool -n -json` over `paths`.
pub fn exiftool(paths: &[PathBuf]) -> Vec<serde_json::Value> {
    if paths.is_empty() {
        return Vec::new();
    }
    let output = Command::new("exiftool")
        .args(["-n", "-json", "-q"])
        .args(paths)
        .output()
        .expect("exiftool is installed (libimage-exiftool-perl)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The spooled frame entries and picture paths under a spool directory.
pub fn spooled(spool: &Path) -> Vec<(FrameEntry, PathBuf)> {
    let frames = spool.join("frames");
    let mut out: Vec<(FrameEntry, PathBuf)> = std::fs::read_dir(&frames)
        .map(|dir| {
            dir.filter_map(|entry| {
                let path = entry.ok()?.path();
                (path.extension()? == "json").then_some(path)
            })
            .map(|path| {
                let entry: FrameEntry =
                    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                (entry, path.with_extension("jpg"))
            })
            .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|(entry, _)| entry.fix.time);
    out
}
