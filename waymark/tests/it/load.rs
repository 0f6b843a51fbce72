//! A bounded load test on loopback: `LOAD_AGENTS` simulated dashcams (default 20), each with
//! its own account and key, upload captures of real frames along the Munich drive for
//! `LOAD_SECS` seconds (default 15) to one `waymark serve` running the real pipeline. It
//! reports requests per second, errors, p50/p99 latency per request kind, and the server's
//! peak memory; it fails on any server error or lost acknowledgement. `scripts/load` runs
//! the full size (200 agents for three minutes, release build).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use model::{
    CaptureId, CaptureManifest, DeviceKeypair, Fix, FrameEntry, FrameId, MANIFEST_FORMAT_VERSION,
    TimestampMs,
};

use crate::live_tiles::{LANES, lane, munich, sign_up};
use crate::{Server, try_post_capture, try_put_frame};

const FRAMES_PER_CAPTURE: usize = 5;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// A real JPEG made unique by a comment segment right after its start marker: another
/// sha256, the same picture.
fn unique(jpeg: &[u8], tag: &str) -> Vec<u8> {
    let comment = tag.as_bytes();
    let length = u16::try_from(comment.len() + 2).unwrap();
    let mut out = Vec::with_capacity(jpeg.len() + comment.len() + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(comment);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Put,
    Post,
}

#[derive(Debug, Default)]
struct Tally {
    /// (kind, latency, status) of every answered request.
    answers: Vec<(Kind, Duration, u16)>,
    /// Requests the connection failed for (no answer at all).
    failed: usize,
    /// Acknowledged captures, with the index of the agent that sent them.
    acknowledged: Vec<(CaptureId, usize)>,
}

/// One agent: uploads captures back to back until `stop`, honouring `Retry-After`.
fn agent(
    addr: std::net::SocketAddr,
    index: usize,
    key: &DeviceKeypair,
    pictures: &[Vec<u8>],
    drive: &[Fix],
    stop: &AtomicBool,
    tally: &Mutex<Tally>,
) {
    // Each agent drives its own copy of the route, ≈ 110 m north of the previous agent's,
    // back and forth for as long as the test lasts, starting two hours ago.
    let start = TimestampMs::now().saturating_add_ms(-7_200_000);
    let mut step = 0;
    let mut capture_number = 0u64;
    while !stop.load(Ordering::Relaxed) {
        capture_number += 1;
        let mut frames = Vec::new();
        let mut jpegs = Vec::new();
        for _ in 0..FRAMES_PER_CAPTURE {
            let fix = drive[back_and_forth(step * 4, drive.len())];
            let jpeg = unique(
                &pictures[step % pictures.len()],
                &format!("load agent {index} frame {step}"),
            );
            frames.push(FrameEntry {
                sha256: FrameId::of_bytes(&jpeg),
                fix: Fix {
                    time: start.saturating_add_ms(step as i64 * 4_000),
                    lat: fix.lat + index as f64 * 0.001,
                    ..fix
                },
            });
            jpegs.push(jpeg);
            step += 1;
        }
        for jpeg in &jpegs {
            let status = request(tally, Kind::Put, || try_put_frame(addr, key, jpeg));
            if status.is_none() {
                return;
            }
        }
        let manifest = CaptureManifest {
            format_version: MANIFEST_FORMAT_VERSION,
            device_key: key.public(),
            capture_id: CaptureId::new(),
            sequence_number: capture_number,
            firmware: "load".into(),
            camera: "udacity".into(),
            frames,
        };
        let (body, signature) = manifest.sign(key);
        let status = request(tally, Kind::Post, || {
            try_post_capture(addr, &body, &signature)
        });
        match status {
            Some(202) => tally
                .lock()
                .unwrap()
                .acknowledged
                .push((manifest.capture_id, index)),
            Some(_) => {}
            None => return,
        }
    }
}

/// The device key of agent `index`.
fn agent_key(index: usize) -> DeviceKeypair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(index as u64 + 1_000).to_le_bytes());
    DeviceKeypair::from_seed(seed)
}

/// The index of the `n`-th fix when driving a route of `len` fixes back and forth.
fn back_and_forth(n: usize, len: usize) -> usize {
    let lap = n % (2 * len - 2).max(1);
    if lap < len { lap } else { 2 * len - 2 - lap }
}

/// Sends until the answer is not a 429 (waiting as told); records every answer.
fn request(
    tally: &Mutex<Tally>,
    kind: Kind,
    send: impl Fn() -> std::io::Result<crate::HttpResponse>,
) -> Option<u16> {
    loop {
        let started = Instant::now();
        match send() {
            Ok(response) => {
                tally
                    .lock()
                    .unwrap()
                    .answers
                    .push((kind, started.elapsed(), response.status));
                if response.status != 429 {
                    return Some(response.status);
                }
                let wait: u64 = response
                    .header("retry-after")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                std::thread::sleep(Duration::from_secs(wait.min(5)));
            }
            Err(_) => {
                tally.lock().unwrap().failed += 1;
                return None;
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

/// Peak resident memory of a process, from /proc (kB).
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn many_agents_upload_at_once_and_nothing_fails() {
    let agents = env_or("LOAD_AGENTS", 20) as usize;
    let seconds = env_or("LOAD_SECS", 15);
    let data = tempfile::tempdir().unwrap();
    // Every simulated dashcam signs up from this one loopback address: let them all.
    let config = data.path().join("waymark.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\nsignup_burst = {}\nserver_signup_burst = {}\n",
            agents + 10,
            agents + 10
        ),
    )
    .unwrap();
    let server = Server::start(data.path(), &["--config", config.to_str().unwrap()]);
    let addr = server.addr;
    let pictures: Arc<Vec<Vec<u8>>> = Arc::new(LANES.iter().map(|name| lane(name)).collect());
    let drive = Arc::new(munich()[..619].to_vec());
    let keys: Vec<DeviceKeypair> = (0..agents).map(agent_key).collect();
    for key in &keys {
        sign_up(addr, key);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let threads: Vec<_> = keys
        .into_iter()
        .enumerate()
        .map(|(index, key)| {
            let (pictures, drive, stop, tally) =
                (pictures.clone(), drive.clone(), stop.clone(), tally.clone());
            std::thread::spawn(move || agent(addr, index, &key, &pictures, &drive, &stop, &tally))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    let elapsed = started.elapsed();
    let peak_kb = peak_rss_kb(server.child.id());

    let tally = tally.lock().unwrap();
    let count = |kind: Kind| tally.answers.iter().filter(|a| a.0 == kind).count();
    let latencies = |kind: Kind| {
        let mut all: Vec<Duration> = tally
            .answers
            .iter()
            .filter(|a| a.0 == kind && a.2 != 429)
            .map(|a| a.1)
            .collect();
        all.sort();
        all
    };
    let throttled = tally.answers.iter().filter(|a| a.2 == 429).count();
    let server_errors: Vec<u16> = tally
        .answers
        .iter()
        .filter(|a| a.2 >= 500)
        .map(|a| a.2)
        .collect();
    let refused: Vec<u16> = tally
        .answers
        .iter()
        .filter(|a| (400..500).contains(&a.2) && a.2 != 429)
        .map(|a| a.2)
        .collect();
    let (puts, posts) = (latencies(Kind::Put), latencies(Kind::Post));
    println!(
        "load: {agents} agents for {:.1} s: {} frame PUTs ({:.1}/s, p50 {:?}, p99 {:?}), {} capture POSTs ({:.1}/s, p50 {:?}, p99 {:?}), {} acknowledged captures, {throttled} answered 429 (retried), {} other 4xx, {} 5xx, {} connection failures, server peak RSS {} MB",
        elapsed.as_secs_f64(),
        count(Kind::Put),
        puts.len() as f64 / elapsed.as_secs_f64(),
        percentile(&puts, 0.5),
        percentile(&puts, 0.99),
        count(Kind::Post),
        posts.len() as f64 / elapsed.as_secs_f64(),
        percentile(&posts, 0.5),
        percentile(&posts, 0.99),
        tally.acknowledged.len(),
        refused.len(),
        server_errors.len(),
        tally.failed,
        peak_kb.map_or("?".into(), |kb| (kb / 1024).to_string()),
    );
    assert!(server_errors.is_empty(), "{server_errors:?}");
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(tally.failed, 0);
    assert!(!tally.acknowledged.is_empty());
    // Every acknowledged capture is known to the server (queued or done), none lost.
    for (id, agent) in &tally.acknowledged {
        let status = crate::capture_status(server.addr, &agent_key(*agent), *id);
        assert_eq!(status.status, 200, "{id}: {}", status.body);
    }
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
}
