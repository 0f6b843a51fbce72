//! The agent's library API: one [`Agent`] per spool and device key. Frames are offered one
//! by one with their fix; the agent applies the gates, distance sampling, privacy zones and
//! trip trimming, writes the fix into the JPEG's EXIF and spools it durably; uploading seals
//! the spooled frames into signed captures and sends them.
//!
//! ```no_run
//! # use dashcam_agent::{Agent, AgentConfig, UploadConfig};
//! # fn frames() -> Vec<(Vec<u8>, model::Fix)> { Vec::new() }
//! let key = model::DeviceKeypair::generate();
//! let mut agent = Agent::new(AgentConfig::default(), "spool", key)?;
//! for (jpeg, fix) in frames() {
//!     agent.offer(&jpeg, &fix)?;
//! }
//! let trip = agent.finish_trip()?;
//! let sent = agent.upload_pending(&UploadConfig::new("http://127.0.0.1:8080"), &mut || {})?;
//! # Ok::<(), dashcam_agent::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use model::{DeviceKeypair, Fix, FrameId, MAX_FRAMES_PER_CAPTURE};
use serde::{Deserialize, Serialize};

use crate::privacy::{PrivacyZone, TripTrimmer, in_privacy_zone};
use crate::sampling::{DropReason, Sampler, SamplingConfig};
use crate::spool::Spool;
use crate::upload::{UploadConfig, UploadSummary, upload_sealed};
use crate::{Result, geotag};

fn default_trim_m() -> f64 {
    100.0
}

fn default_label() -> String {
    format!("waymark-agent {}", env!("CARGO_PKG_VERSION"))
}

fn default_max_frames() -> usize {
    1_000
}

/// What the agent keeps and how it labels it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    #[serde(default)]
    pub sampling: SamplingConfig,
    #[serde(default)]
    pub privacy_zones: Vec<PrivacyZone>,
    /// Metres trimmed at the start and at the end of every trip (0 turns trimming off).
    #[serde(default = "default_trim_m")]
    pub trim_m: f64,
    #[serde(default = "default_label")]
    pub camera: String,
    #[serde(default = "default_label")]
    pub firmware: String,
    /// Frames per sealed capture (the server accepts up to 10 000).
    #[serde(default = "default_max_frames")]
    pub max_frames_per_capture: usize,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            sampling: SamplingConfig::default(),
            privacy_zones: Vec::new(),
            trim_m: default_trim_m(),
            camera: default_label(),
            firmware: default_label(),
            max_frames_per_capture: default_max_frames(),
        }
    }
}

/// What happened to one offered frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// Kept. `spooled` lists the frames that reached the spool with this call: this one at
    /// once without trimming, otherwise earlier ones now far enough behind.
    Kept {
        spooled: Vec<FrameId>,
    },
    Dropped(DropReason),
}

/// The counts of one trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TripSummary {
    pub offered: u64,
    pub spooled: u64,
    pub drops: BTreeMap<DropReason, u64>,
}

/// One device's agent over one spool directory.
#[derive(Debug)]
pub struct Agent {
    config: AgentConfig,
    spool: Spool,
    key: DeviceKeypair,
    sampler: Sampler,
    trimmer: TripTrimmer<(Vec<u8>, Fix)>,
    trip: TripSummary,
}

impl Agent {
    /// Opens (creating) the spool under `spool_dir`, finishing whatever a crash interrupted.
    pub fn new(
        config: AgentConfig,
        spool_dir: impl Into<PathBuf>,
        key: DeviceKeypair,
    ) -> Result<Self> {
        let spool = Spool::open(spool_dir)?;
        Ok(Self {
            sampler: Sampler::new(config.sampling),
            trimmer: TripTrimmer::new(config.trim_m),
            config,
            spool,
            key,
            trip: TripSummary::default(),
        })
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// Counts a frame dropped before it could be offered (e.g. no fix covers its time).
    pub fn record_drop(&mut self, reason: DropReason) {
        self.trip.offered += 1;
        *self.trip.drops.entry(reason).or_default() += 1;
    }

    /// Offers one frame (a JPEG) taken at `fix`, in time order.
    pub fn offer(&mut self, jpeg: &[u8], fix: &Fix) -> Result<Offer> {
        self.trip.offered += 1;
        let verdict = self.decide(jpeg, fix);
        match verdict {
            Err(reason) => {
                *self.trip.drops.entry(reason).or_default() += 1;
                Ok(Offer::Dropped(reason))
            }
            Ok(()) => {
                let ready = self.trimmer.hold((jpeg.to_vec(), *fix));
                let spooled = self.spool_all(ready)?;
                Ok(Offer::Kept { spooled })
            }
        }
    }

    fn decide(&mut self, jpeg: &[u8], fix: &Fix) -> Result<(), DropReason> {
        if fix.validate().is_err() {
            return Err(DropReason::InvalidFix);
        }
        self.trimmer.observe(fix);
        if in_privacy_zone(&self.config.privacy_zones, fix) {
            return Err(DropReason::PrivacyZone);
        }
        self.sampler.decide(fix, jpeg.len())?;
        if self.trimmer.in_trip_start() {
            return Err(DropReason::TripStart);
        }
        Ok(())
    }

    fn spool_all(&mut self, frames: Vec<(Vec<u8>, Fix)>) -> Result<Vec<FrameId>> {
        let mut spooled = Vec::with_capacity(frames.len());
        for (jpeg, fix) in frames {
            let tagged = geotag::tag_jpeg(&jpeg, &fix, &self.config.camera)?;
            spooled.push(self.spool.add(&tagged, fix)?);
            self.trip.spooled += 1;
        }
        Ok(spooled)
    }

    /// Ends the trip: frames still held are in its last `trim_m` metres and are dropped;
    /// the drop counts are saved; the spooled frames are sealed into signed captures.
    pub fn finish_trip(&mut self) -> Result<TripSummary> {
        let dropped = self.trimmer.finish().len() as u64;
        if dropped > 0 {
            *self.trip.drops.entry(DropReason::TripEnd).or_default() += dropped;
        }
        self.sampler = Sampler::new(self.config.sampling);
        let trip = std::mem::take(&mut self.trip);
        let drops = trip
            .drops
            .iter()
            .map(|(reason, count)| (reason.slug().to_owned(), *count))
            .collect();
        self.spool.record_drops(&drops)?;
        self.seal()?;
        Ok(trip)
    }

    fn seal(&self) -> Result<()> {
        self.spool.seal(
            &self.key,
            &self.config.firmware,
            &self.config.camera,
            self.config
                .max_frames_per_capture
                .min(MAX_FRAMES_PER_CAPTURE),
        )?;
        Ok(())
    }

    /// Seals whatever is unsealed (e.g. after a crash mid-trip) and uploads every sealed
    /// capture; `on_frame` is called per frame sent (progress bars).
    pub fn upload_pending(
        &mut self,
        config: &UploadConfig,
        on_frame: &mut dyn FnMut(),
    ) -> Result<UploadSummary> {
        let mut total = UploadSummary::default();
        // Each extra round follows a frame the server refused, which left the spool.
        loop {
            self.seal()?;
            let round = upload_sealed(&self.spool, &self.key, config, on_frame)?;
            total.captures_acknowledged += round.captures_acknowledged;
            total.frames_sent += round.frames_sent;
            total.bytes_sent += round.bytes_sent;
            total.frames_pending += round.frames_pending;
            total.frames_accepted += round.frames_accepted;
            total.frames_rejected += round.frames_rejected;
            total.frames_refused += round.frames_refused;
            if !round.needs_reseal {
                return Ok(total);
            }
        }
    }
}
