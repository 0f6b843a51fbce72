//! The subcommands of `waymark-agent`: settings and key files under the agent's home
//! directory, progress bars, and calls into the library.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use dashcam_agent::{Agent, Settings, Spool, UploadConfig};
use indicatif::{ProgressBar, ProgressStyle};
use model::DeviceKeypair;

#[derive(Debug, Parser)]
#[command(
    name = "waymark-agent",
    version,
    about = "Waymark dashcam agent: capture, geotag, spool and upload"
)]
pub struct Cli {
    /// Directory holding the device key, settings (agent.toml) and the spool.
    #[arg(long, env = "WAYMARK_AGENT_HOME", default_value = "waymark-agent")]
    home: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create this device's signing key (once).
    Keygen,
    /// Register the device key with a contributor's API token.
    Register {
        #[arg(long)]
        server: String,
        #[arg(long, env = "WAYMARK_TOKEN")]
        token: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Sample, geotag and spool a recording (a video, a GoPro MP4, or a folder of JPEGs).
    Import {
        path: PathBuf,
        /// GPX, NMEA or FIT track; default: the video's own GPS (GoPro GPMF).
        #[arg(long)]
        gps: Option<PathBuf>,
        /// Added to video times before matching them to the track.
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        offset_ms: i64,
        /// UTC of the first frame (RFC 3339) when the GPS is a sidecar; default: track start.
        #[arg(long)]
        start: Option<String>,
        /// Metres trimmed at each end of the trip (overrides the settings).
        #[arg(long)]
        trim_m: Option<f64>,
    },
    /// Capture live from a camera and a GPS receiver.
    #[cfg(feature = "capture")]
    Run {
        /// `/dev/videoN`, `rtsp://…`, a video file, or `videotestsrc` (test pattern,
        /// 640×480; `videotestsrc:1920x1080` for another size).
        #[arg(long)]
        camera: String,
        /// gpsd `host:port`, a serial device with NMEA, or a track file.
        #[arg(long)]
        gps: String,
        /// Stop after this many seconds (default: until the camera stops).
        #[arg(long)]
        duration_s: Option<u64>,
        /// Metres trimmed at each end of the trip (overrides the settings).
        #[arg(long)]
        trim_m: Option<f64>,
    },
    /// Upload every spooled frame; resumes where an earlier upload stopped.
    Upload {
        #[arg(long)]
        server: Option<String>,
        /// Average upload limit in kilobytes per second.
        #[arg(long)]
        bandwidth_kbps: Option<u64>,
        /// Seconds before a request counts as failed.
        #[arg(long, default_value_t = 30)]
        timeout_s: u64,
        /// Attempts per request before giving up (frames stay spooled).
        #[arg(long, default_value_t = 6)]
        attempts: u32,
    },
    /// Spool size, last upload and drop counts.
    Status,
}

struct Home {
    dir: PathBuf,
}

impl Home {
    fn key_path(&self) -> PathBuf {
        self.dir.join("device.key")
    }

    fn settings_path(&self) -> PathBuf {
        self.dir.join("agent.toml")
    }

    fn spool_dir(&self) -> PathBuf {
        self.dir.join("spool")
    }

    fn key(&self) -> anyhow::Result<DeviceKeypair> {
        let path = self.key_path();
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no device key at {}; run `waymark-agent keygen` first",
                path.display()
            )
        })?;
        DeviceKeypair::from_secret_hex(&text).with_context(|| format!("{}", path.display()))
    }

    fn settings(&self) -> anyhow::Result<Settings> {
        Ok(Settings::load(&self.settings_path())?)
    }

    fn save_settings(&self, settings: &Settings) -> anyhow::Result<()> {
        Ok(settings.save(&self.settings_path())?)
    }

    fn agent(&self, trim_m: Option<f64>) -> anyhow::Result<Agent> {
        let settings = self.settings()?;
        tracing::info!(settings = ?settings, "effective settings");
        let mut config = settings.agent;
        if let Some(trim_m) = trim_m {
            config.trim_m = trim_m;
        }
        Ok(Agent::new(config, self.spool_dir(), self.key()?)?)
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let home = Home { dir: cli.home };
    std::fs::create_dir_all(&home.dir)
        .with_context(|| format!("cannot create {}", home.dir.display()))?;
    match cli.command {
        Command::Keygen => keygen(&home),
        Command::Register {
            server,
            token,
            label,
        } => register(&home, &server, &token, &label),
        Command::Import {
            path,
            gps,
            offset_ms,
            start,
            trim_m,
        } => import(&home, &path, gps, offset_ms, start.as_deref(), trim_m),
        #[cfg(feature = "capture")]
        Command::Run {
            camera,
            gps,
            duration_s,
            trim_m,
        } => live::run(&home, &camera, &gps, duration_s, trim_m),
        Command::Upload {
            server,
            bandwidth_kbps,
            timeout_s,
            attempts,
        } => upload(&home, server, bandwidth_kbps, timeout_s, attempts),
        Command::Status => status(&home),
    }
}

fn keygen(home: &Home) -> anyhow::Result<()> {
    let path = home.key_path();
    if path.exists() {
        bail!(
            "{} already exists; a device keeps its key (delete it only to become a new device)",
            path.display()
        );
    }
    let key = DeviceKeypair::generate();
    write_private(&path, &key.secret_hex())?;
    println!("{}", key.public());
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot create {}", path.display()))
}

fn register(home: &Home, server: &str, token: &str, label: &str) -> anyhow::Result<()> {
    let key = home.key()?;
    let server = server.trim_end_matches('/');
    let response = ureq::post(&format!("{server}/api/v1/devices"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(serde_json::json!({ "public_key": key.public().to_hex(), "label": label }));
    match response {
        Ok(response) => {
            let body: serde_json::Value = response.into_json().unwrap_or_default();
            println!("registered device {} ({})", key.public(), body["id"]);
        }
        Err(ureq::Error::Status(status, response)) => {
            let body: serde_json::Value = response.into_json().unwrap_or_default();
            bail!(
                "the server refused the registration ({status}): {}",
                body["detail"]
            );
        }
        Err(err) => bail!("cannot reach {server}: {err}"),
    }
    let mut settings = home.settings()?;
    settings.server = Some(server.to_owned());
    home.save_settings(&settings)
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos} frames [{elapsed}]")
            .expect("a valid template"),
    );
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn import(
    home: &Home,
    path: &Path,
    gps: Option<PathBuf>,
    offset_ms: i64,
    start: Option<&str>,
    trim_m: Option<f64>,
) -> anyhow::Result<()> {
    use dashcam_agent::import::{ImportOptions, import_photos};
    use dashcam_agent::{AlignConfig, Offer};
    use model::TimestampMs;
    let start = start
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| TimestampMs(t.timestamp_millis()))
                .with_context(|| format!("--start {text:?} is not an RFC 3339 time"))
        })
        .transpose()?;
    let options = ImportOptions {
        gps,
        start,
        align: AlignConfig {
            offset_ms,
            ..AlignConfig::default()
        },
    };
    let mut agent = home.agent(trim_m)?;
    let bar = spinner(&format!("importing {}", path.display()));
    let mut on_frame = |offer: &Offer| {
        bar.inc(1);
        if let Offer::Dropped(reason) = offer {
            tracing::debug!(reason = reason.slug(), "frame dropped");
        }
    };
    let report = if path.is_dir() {
        import_photos(&mut agent, path, &options, &mut on_frame)?
    } else {
        import_video_file(&mut agent, path, &options, &mut on_frame)?
    };
    bar.finish_and_clear();
    println!(
        "{}: {} frames decoded, {} spooled; track {} fixes, {:.0} m",
        path.display(),
        report.trip.offered,
        report.trip.spooled,
        report.track_fixes,
        report.track_length_m
    );
    for (reason, count) in &report.trip.drops {
        println!("  dropped {count:>5} {}", reason.slug());
    }
    Ok(())
}

#[cfg(feature = "capture")]
fn import_video_file(
    agent: &mut Agent,
    path: &Path,
    options: &dashcam_agent::import::ImportOptions,
    on_frame: &mut dyn FnMut(&dashcam_agent::Offer),
) -> anyhow::Result<dashcam_agent::import::ImportReport> {
    Ok(dashcam_agent::import::import_video(
        agent, path, options, on_frame,
    )?)
}

#[cfg(not(feature = "capture"))]
fn import_video_file(
    _agent: &mut Agent,
    _path: &Path,
    _options: &dashcam_agent::import::ImportOptions,
    _on_frame: &mut dyn FnMut(&dashcam_agent::Offer),
) -> anyhow::Result<dashcam_agent::import::ImportReport> {
    bail!("this build has no video support; rebuild with the `capture` feature")
}

fn upload(
    home: &Home,
    server: Option<String>,
    bandwidth_kbps: Option<u64>,
    timeout_s: u64,
    attempts: u32,
) -> anyhow::Result<()> {
    let settings = home.settings()?;
    let server = server.or(settings.server).context(
        "no server: pass --server or run `waymark-agent register --server URL --token T`",
    )?;
    let mut config = UploadConfig::new(server);
    config.timeout = Duration::from_secs(timeout_s);
    config.max_attempts = attempts.max(1);
    config.bandwidth_bytes_per_s = bandwidth_kbps.or(settings.bandwidth_kbps).map(|k| k * 1000);
    let mut agent = home.agent(None)?;
    let total = agent.spool().frames()?.len() as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} frames sent [{elapsed}]")
            .expect("a valid template"),
    );
    let summary = agent.upload_pending(&config, &mut || bar.inc(1))?;
    bar.finish_and_clear();
    println!(
        "uploaded {} captures: {} frames sent ({} bytes); server: {} pending, {} accepted, {} rejected",
        summary.captures_acknowledged,
        summary.frames_sent,
        summary.bytes_sent,
        summary.frames_pending,
        summary.frames_accepted,
        summary.frames_rejected
    );
    Ok(())
}

fn status(home: &Home) -> anyhow::Result<()> {
    let spool = Spool::open(home.spool_dir())?;
    let status = spool.status()?;
    let state = spool.state()?;
    println!("spool: {}", spool.root().display());
    println!(
        "  {} frames waiting ({} bytes), {} sealed captures",
        status.pending_frames, status.bytes, status.sealed_captures
    );
    match state.last_upload {
        Some(at) => println!(
            "last upload: {} ({} frames in {} captures so far)",
            chrono::DateTime::from_timestamp_millis(at.as_millis())
                .map_or_else(|| at.to_string(), |t| t.to_rfc3339()),
            state.frames_uploaded,
            state.captures_uploaded
        ),
        None => println!("last upload: never"),
    }
    if state.drops.is_empty() {
        println!("dropped on the device: none");
    }
    for (reason, count) in &state.drops {
        println!("  dropped {count:>6} {reason}");
    }
    Ok(())
}

#[cfg(feature = "capture")]
mod live {
    //! `run`: live capture with a GPS receiver in a background thread.

    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use anyhow::Context;
    use dashcam_agent::capture::{Capture, Source};
    use dashcam_agent::gps::gpsd::GpsdClient;
    use dashcam_agent::gps::nmea::NmeaAssembler;
    use dashcam_agent::{AlignConfig, DropReason, Track};
    use model::{Fix, TimestampMs};

    use super::Home;

    /// Fixes of the last minute, shared with the capture loop.
    type Recent = Arc<Mutex<VecDeque<Fix>>>;

    fn remember(recent: &Recent, fix: Fix) {
        let mut fixes = recent.lock().unwrap_or_else(|p| p.into_inner());
        fixes.push_back(fix);
        while fixes.len() > 120 {
            fixes.pop_front();
        }
    }

    fn spawn_gps(source: &str, recent: Recent) -> anyhow::Result<()> {
        let path = std::path::Path::new(source);
        if !path.exists() && source.contains(':') {
            let mut client = GpsdClient::connect(source, Duration::from_secs(10))?;
            let address = source.to_owned();
            std::thread::spawn(move || {
                loop {
                    while let Ok(Some(fix)) = client.next_fix() {
                        remember(&recent, fix);
                    }
                    tracing::warn!("gpsd stopped sending; reconnecting");
                    client = loop {
                        std::thread::sleep(Duration::from_secs(2));
                        if let Ok(again) = GpsdClient::connect(&address, Duration::from_secs(10)) {
                            break again;
                        }
                    };
                }
            });
            return Ok(());
        }
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {source}"))?;
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut assembler = NmeaAssembler::new();
            let mut reader = std::io::BufReader::new(file);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        for fix in assembler.push(&line) {
                            remember(&recent, fix);
                        }
                    }
                }
            }
            tracing::warn!("the GPS receiver stopped sending");
        });
        Ok(())
    }

    pub(super) fn run(
        home: &Home,
        camera: &str,
        gps: &str,
        duration_s: Option<u64>,
        trim_m: Option<f64>,
    ) -> anyhow::Result<()> {
        let source = Source::parse(camera);
        if let Source::File(path) = &source {
            // A recording with a track file: the same as `import`.
            return super::import(home, path, Some(gps.into()), 0, None, trim_m);
        }
        let mut agent = home.agent(trim_m)?;
        let recent: Recent = Arc::default();
        spawn_gps(gps, recent.clone())?;
        let mut capture = Some(Capture::start(&source)?);
        let started = Instant::now();
        let align = AlignConfig {
            edge_tolerance_ms: 1_500,
            ..AlignConfig::default()
        };
        let bar = super::spinner("capturing");
        let running = || duration_s.is_none_or(|d| started.elapsed() < Duration::from_secs(d));
        let (mut offered, mut spooled) = (0, 0);
        while running() {
            let Some(active) = capture.as_mut() else {
                std::thread::sleep(Duration::from_secs(2));
                capture = Capture::start(&source).ok();
                continue;
            };
            let frame = match active.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(err) => {
                    // The camera went away: end the trip (its tail stays unspooled) and
                    // keep trying to get it back.
                    tracing::warn!(%err, "camera lost; retrying every 2 s");
                    let trip = agent.finish_trip()?;
                    (offered, spooled) = (offered + trip.offered, spooled + trip.spooled);
                    capture = None;
                    continue;
                }
            };
            bar.inc(1);
            let fixes: Vec<Fix> = recent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .copied()
                .collect();
            match Track::new(fixes).at(TimestampMs(frame.time_ms), &align) {
                Some(fix) => {
                    // A full or failing disk loses this frame, not the run.
                    if let Err(err) = agent.offer(&frame.jpeg, &fix) {
                        tracing::error!(%err, "cannot spool a frame");
                    }
                }
                None => agent.record_drop(DropReason::OutsideTrack),
            }
        }
        bar.finish_and_clear();
        let trip = agent.finish_trip()?;
        println!(
            "captured {} frames, spooled {}; `waymark-agent upload` sends them",
            offered + trip.offered,
            spooled + trip.spooled
        );
        Ok(())
    }
}
