//! One serde `Settings` for the process: defaults → TOML file → `WAYMARK_*` environment →
//! command-line flags, later layers winning. Unknown keys are refused, so a typo never
//! silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::cli::{Cli, Command};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where blobs, the database and the search index live unless `[store]` says otherwise.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Log filter (`tracing_subscriber::EnvFilter` syntax).
    #[serde(default = "default_log")]
    pub log: String,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[serde(default = "default_shutdown_timeout_secs")]
    pub shutdown_timeout_secs: u64,
    /// What `waymark serve` runs; several processes with different roles share one store.
    #[serde(default = "Role::all")]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub store: StoreSettings,
    #[serde(default)]
    pub rewards: RewardsSettings,
    #[serde(default)]
    pub tiles: TilesSettings,
    #[serde(default)]
    pub ingest: IngestSettings,
    #[serde(default)]
    pub metering: MeteringSettings,
    #[serde(default)]
    pub http: HttpSettings,
    #[serde(default)]
    pub features: FeaturesSettings,
    /// The vision stage: model files, thresholds, and the operator's own plate and face
    /// detectors (`[[vision.detectors]]`, YOLOv8-style ONNX).
    #[serde(default)]
    pub vision: vision::VisionConfig,
}

/// Map features: how sign detections are positioned, merged and aged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesSettings {
    /// Horizontal field of view of a camera no entry of `cameras` names, degrees (a
    /// dashcam's wide lens; GoPros and phones have presets).
    #[serde(default = "default_hfov_deg")]
    pub default_hfov_deg: f64,
    /// Per device model: a capture whose camera name contains `contains` (any case) has
    /// `hfov_deg`. First match wins, before the presets.
    #[serde(default)]
    pub cameras: Vec<features::camera::CameraModel>,
    /// Positioning, merging and change knobs (see the `features` crate).
    #[serde(default)]
    pub rules: features::Config,
}

fn default_hfov_deg() -> f64 {
    features::Camera::DASHCAM.hfov_deg()
}

impl Default for FeaturesSettings {
    fn default() -> Self {
        Self {
            default_hfov_deg: default_hfov_deg(),
            cameras: Vec::new(),
            rules: features::Config::default(),
        }
    }
}

impl FeaturesSettings {
    /// What the pipeline worker runs with; a field of view out of 10..170° is refused.
    pub fn worker(&self) -> anyhow::Result<ingest::map_features::FeatureSettings> {
        let cameras = features::CameraModels::new(self.default_hfov_deg, &self.cameras)
            .context("settings [features]")?;
        Ok(ingest::map_features::FeatureSettings {
            config: self.rules,
            cameras,
        })
    }
}

/// What every route of the HTTP server shares: how long a body may take, whose forwarded
/// headers are believed, how fast anonymous clients may sign up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Seconds a request body may take to arrive, on every route; a slower one is answered
    /// `408` and nothing of it is kept.
    #[serde(default = "default_body_deadline_secs")]
    pub body_deadline_secs: u64,
    /// Reverse proxies (addresses or CIDR blocks) whose `Forwarded` and `X-Forwarded-*`
    /// headers are believed; from any other peer they are dropped before a route sees them.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Sign-ups (`POST /api/v1/contributors`) one client address may make in a burst, and
    /// per hour after it.
    #[serde(default = "default_signup_burst")]
    pub signup_burst: u32,
    #[serde(default = "default_signups_per_hour")]
    pub signups_per_hour: u32,
    /// Sign-ups the whole server takes in a burst, and per hour after it.
    #[serde(default = "default_server_signup_burst")]
    pub server_signup_burst: u32,
    #[serde(default = "default_server_signups_per_hour")]
    pub server_signups_per_hour: u32,
}

fn default_body_deadline_secs() -> u64 {
    ingest::UploadLimits::default().body_deadline.as_secs()
}

fn default_signup_burst() -> u32 {
    ingest::rate_limit::SignupLimits::default().per_client.burst as u32
}

fn default_signups_per_hour() -> u32 {
    (ingest::rate_limit::SignupLimits::default()
        .per_client
        .per_second
        * 3600.0)
        .round() as u32
}

fn default_server_signup_burst() -> u32 {
    ingest::rate_limit::SignupLimits::default().server.burst as u32
}

fn default_server_signups_per_hour() -> u32 {
    (ingest::rate_limit::SignupLimits::default()
        .server
        .per_second
        * 3600.0)
        .round() as u32
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_deadline_secs: default_body_deadline_secs(),
            trusted_proxies: Vec::new(),
            signup_burst: default_signup_burst(),
            signups_per_hour: default_signups_per_hour(),
            server_signup_burst: default_server_signup_burst(),
            server_signups_per_hour: default_server_signups_per_hour(),
        }
    }
}

impl HttpSettings {
    /// The upload limits every ingest route applies.
    pub fn upload_limits(&self) -> anyhow::Result<ingest::UploadLimits> {
        if self.body_deadline_secs == 0 {
            anyhow::bail!(
                "settings key http.body_deadline_secs is 0; give the seconds a body may take (300 by default)"
            );
        }
        let rate = |burst: u32,
                    per_hour: u32,
                    name: &str|
         -> anyhow::Result<ingest::rate_limit::RateLimit> {
            if burst == 0 || per_hour == 0 {
                anyhow::bail!(
                    "settings keys http.{name}_burst and http.{name}s_per_hour must be at least 1"
                );
            }
            Ok(ingest::rate_limit::RateLimit {
                per_second: f64::from(per_hour) / 3600.0,
                burst: f64::from(burst),
            })
        };
        Ok(ingest::UploadLimits {
            body_deadline: std::time::Duration::from_secs(self.body_deadline_secs),
            signups: ingest::rate_limit::SignupLimits {
                per_client: rate(self.signup_burst, self.signups_per_hour, "signup")?,
                server: rate(
                    self.server_signup_burst,
                    self.server_signups_per_hour,
                    "server_signup",
                )?,
            },
            ..ingest::UploadLimits::default()
        })
    }

    /// The trusted proxies as address blocks.
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<crate::guard::AddressBlock>> {
        self.trusted_proxies
            .iter()
            .map(|text| {
                text.parse()
                    .map_err(|err| anyhow::anyhow!("settings key http.trusted_proxies: {err}"))
            })
            .collect()
    }
}

/// A part of `waymark serve`; a process runs one or more (all by default), so ingest nodes,
/// pipeline workers and tile servers scale separately over one store.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Accounts, devices and the signed upload protocol.
    Ingest,
    /// The pipeline: takes capture jobs from the queue (vision, dedup, coverage, search).
    Worker,
    /// Keeps the tiles fresh from the store and serves them.
    Tiles,
    /// Closes reward epochs on schedule.
    Rewards,
    /// The web page, public frames and search, rewards, map consumers' keys and usage.
    Web,
}

impl Role {
    pub fn all() -> Vec<Role> {
        vec![
            Role::Ingest,
            Role::Worker,
            Role::Tiles,
            Role::Rewards,
            Role::Web,
        ]
    }
}

/// Map consumers' metering: API keys, credits, and which use needs them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeteringSettings {
    /// Meter at all; off, tiles, frames and search are open to anyone as before.
    #[serde(default)]
    pub enabled: bool,
    /// Tiles up to this zoom stay free and open to requests without a key (9 to 22).
    #[serde(default = "default_free_max_zoom")]
    pub free_max_zoom: u8,
    /// Credits per H3 res-9 cell-week a tile above the free zoom holds.
    #[serde(default = "default_price_tiles")]
    pub price_tiles: i64,
    /// Credits per full-resolution frame (one cell-week).
    #[serde(default = "default_price_imagery")]
    pub price_imagery: i64,
    /// Credits per cell-week a search's results fall in.
    #[serde(default = "default_price_search")]
    pub price_search: i64,
    /// Seconds between writes of counted use to the store (what a crash can lose).
    #[serde(default = "default_flush_secs")]
    pub flush_secs: u64,
    /// Requests a key may make per second on average, and in one burst.
    #[serde(default = "default_key_rate_per_second")]
    pub key_rate_per_second: f64,
    #[serde(default = "default_key_burst")]
    pub key_burst: f64,
}

fn default_free_max_zoom() -> u8 {
    metering::MeteringConfig::default().free_max_zoom
}

fn default_price_tiles() -> i64 {
    metering::Prices::default().tiles
}

fn default_price_imagery() -> i64 {
    metering::Prices::default().imagery
}

fn default_price_search() -> i64 {
    metering::Prices::default().search
}

fn default_flush_secs() -> u64 {
    metering::MeteringConfig::default().flush_interval.as_secs()
}

fn default_key_rate_per_second() -> f64 {
    metering::MeteringConfig::default().key_rate_per_second
}

fn default_key_burst() -> f64 {
    metering::MeteringConfig::default().key_burst
}

impl Default for MeteringSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            free_max_zoom: default_free_max_zoom(),
            price_tiles: default_price_tiles(),
            price_imagery: default_price_imagery(),
            price_search: default_price_search(),
            flush_secs: default_flush_secs(),
            key_rate_per_second: default_key_rate_per_second(),
            key_burst: default_key_burst(),
        }
    }
}

impl MeteringSettings {
    pub fn config(&self) -> anyhow::Result<metering::MeteringConfig> {
        if !(9..=22).contains(&self.free_max_zoom) {
            anyhow::bail!(
                "settings key metering.free_max_zoom = {} is out of range; give 9 to 22 (metered tiles are priced by the H3 cells inside them, so they must be small)",
                self.free_max_zoom
            );
        }
        for (name, price) in [
            ("price_tiles", self.price_tiles),
            ("price_imagery", self.price_imagery),
            ("price_search", self.price_search),
        ] {
            if price < 0 {
                anyhow::bail!("settings key metering.{name} = {price} is negative");
            }
        }
        if !(self.key_rate_per_second > 0.0 && self.key_burst >= 1.0) {
            anyhow::bail!(
                "settings keys metering.key_rate_per_second and key_burst must be positive (a burst of at least 1)"
            );
        }
        Ok(metering::MeteringConfig {
            enabled: self.enabled,
            free_max_zoom: self.free_max_zoom,
            prices: metering::Prices {
                tiles: self.price_tiles,
                imagery: self.price_imagery,
                search: self.price_search,
            },
            flush_interval: std::time::Duration::from_secs(self.flush_secs.max(1)),
            key_rate_per_second: self.key_rate_per_second,
            key_burst: self.key_burst,
            ..metering::MeteringConfig::default()
        })
    }
}

/// The ingest pipeline's worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    /// Seconds a worker holds a capture's job; a worker that dies mid-job (a crash, a
    /// kill) leaves it to another after this long. Longer than the slowest capture takes.
    #[serde(default = "default_job_lease_secs")]
    pub job_lease_secs: u64,
    /// Seconds an uploaded frame waits for a manifest (or a frame rejected before processing
    /// stays) before its original is deleted.
    #[serde(default = "default_upload_grace_secs")]
    pub upload_grace_secs: u64,
    /// An OpenStreetMap extract (`.osm.pbf`) of the region served: the worker holds for
    /// review a capture whose moving fixes mostly lie off its drivable roads (`off-road`,
    /// `model::roads`). Unset: no roads are known and nothing is judged off-road.
    #[serde(default)]
    pub roads: Option<PathBuf>,
}

fn default_job_lease_secs() -> u64 {
    ingest::worker::LEASE.as_secs()
}

impl IngestSettings {
    /// The drivable roads of [`Self::roads`], indexed (empty when unset).
    pub fn road_index(&self) -> anyhow::Result<model::roads::RoadIndex> {
        let Some(path) = &self.roads else {
            return Ok(model::roads::RoadIndex::default());
        };
        let network = datasets::roads::RoadNetwork::from_pbf(path).with_context(|| {
            format!(
                "settings [ingest] roads: cannot read the road network {}",
                path.display()
            )
        })?;
        Ok(network.road_index())
    }
}

fn default_upload_grace_secs() -> u64 {
    86_400
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            job_lease_secs: default_job_lease_secs(),
            upload_grace_secs: default_upload_grace_secs(),
            roads: None,
        }
    }
}

/// The live coverage tiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TilesSettings {
    /// The live MBTiles file [default: <data_dir>/tiles.mbtiles].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mbtiles: Option<PathBuf>,
    /// The base map's roads (`waymark tiles basemap`) [default: <data_dir>/basemap.mbtiles].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basemap: Option<PathBuf>,
    /// How often `waymark serve` rebuilds the tiles dirty cells touch, in milliseconds.
    #[serde(default = "default_tiles_update_ms")]
    pub update_interval_ms: u64,
    /// URL of a frame's thumbnail in the `frames` layer; `{id}` is its sha256.
    #[serde(default = "default_thumb_url")]
    pub thumb_url: String,
}

fn default_tiles_update_ms() -> u64 {
    1000
}

fn default_thumb_url() -> String {
    tiles::RenderConfig::default().thumb_url
}

impl Default for TilesSettings {
    fn default() -> Self {
        Self {
            mbtiles: None,
            basemap: None,
            update_interval_ms: default_tiles_update_ms(),
            thumb_url: default_thumb_url(),
        }
    }
}

impl TilesSettings {
    pub fn mbtiles_path(&self, data_dir: &Path) -> PathBuf {
        self.mbtiles
            .clone()
            .unwrap_or_else(|| data_dir.join("tiles.mbtiles"))
    }

    pub fn basemap_path(&self, data_dir: &Path) -> PathBuf {
        self.basemap
            .clone()
            .unwrap_or_else(|| data_dir.join("basemap.mbtiles"))
    }

    pub fn config(&self) -> tiles::TilesConfig {
        tiles::TilesConfig {
            render: tiles::RenderConfig {
                now_ms: 0,
                thumb_url: self.thumb_url.clone(),
            },
        }
    }
}

/// How reward epochs are closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardsSettings {
    /// Integer amount paid per epoch, in the smallest unit (a string: amounts exceed 2^53).
    #[serde(default = "default_emission")]
    pub emission_per_epoch: String,
    /// How the emission changes per epoch from `emission_start`: flat, geometric or halving.
    #[serde(default)]
    pub emission_curve: CurveName,
    /// The ISO week (`2026-W01`) the curve starts from; needed unless the curve is flat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emission_start: Option<String>,
    /// Geometric curve: millionths less every epoch than the one before.
    #[serde(default = "default_decline_ppm")]
    pub emission_decline_ppm: u64,
    /// Halving curve: epochs between halvings.
    #[serde(default = "default_halving_epochs")]
    pub emission_halving_epochs: u32,
    /// The emission never declines below this integer amount.
    #[serde(default = "default_floor")]
    pub emission_floor: String,
    /// Millionths of the credits map consumers spend in an epoch that are paid to the
    /// contributors of the coverage they used.
    #[serde(default = "default_consumption_share_ppm")]
    pub consumption_share_ppm: u64,
    /// Integer amount, in the smallest unit, one credit is worth.
    #[serde(default = "default_units_per_credit")]
    pub units_per_credit: String,
    /// Millionths of the emission paid, equally per feature, to the first observers of map
    /// features new in the epoch (0, the default: no discovery rewards).
    #[serde(default)]
    pub discovery_share_ppm: u64,
    /// Hours after an epoch's end to wait for late uploads before it may close.
    #[serde(default = "default_grace_hours")]
    pub grace_hours: u32,
    /// Days a cell's reward weight takes to refill from 0 to 1 after it was mapped.
    #[serde(default = "default_refill_days")]
    pub refill_days: u32,
    /// GeoJSON FeatureCollection of region polygons with a `weight` property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions_file: Option<PathBuf>,
    /// GeoJSON FeatureCollection of bounty areas (`id`, `budget`, `starts_at`, `expires_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounties_file: Option<PathBuf>,
    /// How often `waymark serve` checks for epochs to close, in seconds (0: never).
    #[serde(default = "default_close_check_secs")]
    pub close_check_secs: u64,
    /// Seconds a close in progress holds its epoch; a closer that dies mid-close (a crash,
    /// a kill) leaves the epoch to the next check after this long.
    #[serde(default = "default_close_claim_secs")]
    pub close_claim_secs: u64,
    /// The oracles whose signed reports this network accepts (Ethereum addresses, from
    /// `waymark-oracle keygen`); none by default.
    #[serde(default)]
    pub oracles: Vec<String>,
    /// How many of them must sign a report for it to be final (k of n); 0 means a
    /// majority.
    #[serde(default)]
    pub oracle_quorum: usize,
}

/// The emission curves `[rewards] emission_curve` names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurveName {
    #[default]
    Flat,
    Geometric,
    Halving,
}

impl CurveName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flat => "flat",
            Self::Geometric => "geometric",
            Self::Halving => "halving",
        }
    }
}

fn default_decline_ppm() -> u64 {
    10_000
}

fn default_halving_epochs() -> u32 {
    104
}

fn default_floor() -> String {
    "0".into()
}

fn default_consumption_share_ppm() -> u64 {
    500_000
}

fn default_units_per_credit() -> String {
    "1000000".into()
}

fn default_close_claim_secs() -> u64 {
    600
}

fn default_emission() -> String {
    rewards::shell::RewardsConfig::default().emission
}

fn default_grace_hours() -> u32 {
    24
}

fn default_refill_days() -> u32 {
    7
}

fn default_close_check_secs() -> u64 {
    300
}

impl Default for RewardsSettings {
    fn default() -> Self {
        Self {
            emission_per_epoch: default_emission(),
            emission_curve: CurveName::default(),
            emission_start: None,
            emission_decline_ppm: default_decline_ppm(),
            emission_halving_epochs: default_halving_epochs(),
            emission_floor: default_floor(),
            consumption_share_ppm: default_consumption_share_ppm(),
            units_per_credit: default_units_per_credit(),
            discovery_share_ppm: 0,
            grace_hours: default_grace_hours(),
            refill_days: default_refill_days(),
            regions_file: None,
            bounties_file: None,
            close_check_secs: default_close_check_secs(),
            close_claim_secs: default_close_claim_secs(),
            oracles: Vec::new(),
            oracle_quorum: 0,
        }
    }
}

impl RewardsSettings {
    /// The emission curve and its start, with every amount and share checked (no files
    /// read: [`Settings::load`] calls it to refuse bad settings before anything starts).
    pub fn emission_schedule(&self) -> anyhow::Result<(rewards::EmissionCurve, rewards::EpochId)> {
        self.emission_per_epoch.parse::<u128>().map_err(|_| {
            anyhow::anyhow!(
                "settings key rewards.emission_per_epoch = {:?} is not an integer amount",
                self.emission_per_epoch
            )
        })?;
        let amount = |key: &str, text: &str| {
            text.parse::<u128>().map_err(|_| {
                anyhow::anyhow!("settings key rewards.{key} = {text:?} is not an integer amount")
            })
        };
        let floor = amount("emission_floor", &self.emission_floor)?;
        amount("units_per_credit", &self.units_per_credit)?;
        anyhow::ensure!(
            self.consumption_share_ppm <= 1_000_000,
            "settings key rewards.consumption_share_ppm = {} is more than 1000000 (all of the credits spent)",
            self.consumption_share_ppm
        );
        anyhow::ensure!(
            self.discovery_share_ppm <= 1_000_000,
            "settings key rewards.discovery_share_ppm = {} is more than 1000000 (all of the emission)",
            self.discovery_share_ppm
        );
        let emission_curve = match self.emission_curve {
            CurveName::Flat => rewards::EmissionCurve::Flat,
            CurveName::Geometric => rewards::EmissionCurve::Geometric {
                decline_ppm: self.emission_decline_ppm.min(1_000_000),
                floor,
            },
            CurveName::Halving => rewards::EmissionCurve::Halving {
                epochs: self.emission_halving_epochs.max(1),
                floor,
            },
        };
        let start = match (&self.emission_start, self.emission_curve) {
            (Some(text), _) => text.parse().map_err(|_| {
                anyhow::anyhow!(
                    "settings key rewards.emission_start = {text:?} is not an ISO week such as 2026-W01"
                )
            })?,
            (None, CurveName::Flat) => rewards::shell::RewardsConfig::default().emission_start,
            (None, _) => anyhow::bail!(
                "settings key rewards.emission_curve = {:?} needs rewards.emission_start, the ISO week (such as 2026-W01) the decline starts from",
                self.emission_curve.as_str()
            ),
        };
        Ok((emission_curve, start))
    }

    /// The oracles and their quorum, every address checked.
    pub fn oracles(&self) -> anyhow::Result<rewards::report::Oracles> {
        let addresses = self
            .oracles
            .iter()
            .map(|text| {
                text.parse::<model::PayoutAddress>().map_err(|err| {
                    anyhow::anyhow!(
                        "settings key rewards.oracles: {text:?} is not an address: {err}"
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let n = addresses.len();
        let quorum = match self.oracle_quorum {
            0 => n / 2 + usize::from(n > 0),
            k => k,
        };
        anyhow::ensure!(
            quorum <= n,
            "settings key rewards.oracle_quorum = {quorum} is more than the {n} oracles listed in rewards.oracles"
        );
        Ok(rewards::report::Oracles { addresses, quorum })
    }

    /// The rewards configuration, reading the region and bounty files.
    pub fn config(&self) -> anyhow::Result<rewards::shell::RewardsConfig> {
        let (emission_curve, emission_start) = self.emission_schedule()?;
        let read = |path: &Path, what: &str| {
            std::fs::read_to_string(path).with_context(|| {
                format!(
                    "cannot read the {what} file {}; fix rewards.{what}_file",
                    path.display()
                )
            })
        };
        let regions_geojson = match &self.regions_file {
            Some(path) => {
                let text = read(path, "regions")?;
                rewards::Regions::from_geojson(&text)
                    .with_context(|| format!("in {}", path.display()))?;
                text
            }
            None => String::new(),
        };
        let bounties = match &self.bounties_file {
            Some(path) => rewards::bounties_from_geojson(&read(path, "bounties")?)
                .with_context(|| format!("in {}", path.display()))?,
            None => Vec::new(),
        };
        Ok(rewards::shell::RewardsConfig {
            emission: self.emission_per_epoch.clone(),
            emission_curve,
            emission_start,
            consumption_share_ppm: self.consumption_share_ppm,
            units_per_credit: self.units_per_credit.clone(),
            discovery_share_ppm: self.discovery_share_ppm,
            grace_ms: i64::from(self.grace_hours) * 3_600_000,
            refill_ms: i64::from(self.refill_days.max(1)) * 86_400_000,
            regions_geojson,
            bounties,
            close_claim_ms: i64::try_from(self.close_claim_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
        })
    }
}

/// Backend URLs; each left out defaults to a location under `data_dir`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_dir: Option<PathBuf>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

fn default_log() -> String {
    "info".to_owned()
}

fn default_shutdown_timeout_secs() -> u64 {
    30
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            data_dir: default_data_dir(),
            log: default_log(),
            shutdown_timeout_secs: default_shutdown_timeout_secs(),
            roles: Role::all(),
            store: StoreSettings::default(),
            rewards: RewardsSettings::default(),
            tiles: TilesSettings::default(),
            ingest: IngestSettings::default(),
            metering: MeteringSettings::default(),
            http: HttpSettings::default(),
            features: FeaturesSettings::default(),
            vision: vision::VisionConfig::default(),
        }
    }
}

/// Folds a multi-line parser message (TOML errors quote the offending line with a caret)
/// into one line, keeping the position and the explanation.
fn one_line(message: &str) -> String {
    let is_snippet = |line: &str| {
        let rest = line
            .trim_start()
            .trim_start_matches(|c: char| c.is_ascii_digit());
        rest.trim_start().starts_with('|')
    };
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !is_snippet(line))
        .collect::<Vec<_>>()
        .join(": ")
}

impl Settings {
    /// Layers the sources for `cli` and checks the result.
    pub fn load(cli: &Cli) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = &cli.config {
            if !path.is_file() {
                anyhow::bail!(
                    "settings file {} does not exist or is not a file; pass --config with a TOML file such as waymark.example.toml",
                    path.display()
                );
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // WAYMARK_STORE__DATABASE_URL sets store.database_url; WAYMARK_CONFIG names the file.
        figment = figment.merge(Env::prefixed("WAYMARK_").split("__").ignore(&["config"]));
        if let Command::Serve(args) = &cli.command {
            if let Some(listen) = args.listen {
                figment = figment.merge(Serialized::default("listen", listen));
            }
            if !args.role.is_empty() {
                figment = figment.merge(Serialized::default("roles", &args.role));
            }
        }
        if let Some(data) = &cli.data {
            figment = figment.merge(Serialized::default("data_dir", data));
        }
        let settings: Settings = figment.extract().map_err(|err| {
            // figment may report several problems; one line each, joined.
            let problems: Vec<String> = err.into_iter().map(|e| one_line(&e.to_string())).collect();
            anyhow::anyhow!("invalid settings: {}", problems.join("; "))
        })?;
        settings.rewards.emission_schedule()?;
        settings.rewards.oracles()?;
        settings.features.worker()?;
        anyhow::ensure!(
            !settings.roles.is_empty(),
            "settings key roles is empty: name at least one of ingest, worker, tiles, rewards, web"
        );
        Ok(settings)
    }

    /// The data directory as an absolute path (relative ones are taken from the current
    /// directory), so `file://` URLs built from it are valid.
    pub fn absolute_data_dir(&self) -> anyhow::Result<PathBuf> {
        std::path::absolute(&self.data_dir).with_context(|| {
            format!(
                "data directory {} cannot be resolved",
                self.data_dir.display()
            )
        })
    }

    /// The store's backends: explicit URLs where given, the data directory layout elsewhere.
    pub fn store_config(&self, data_dir: &Path) -> store::StoreConfig {
        let defaults = store::StoreConfig::under(data_dir);
        store::StoreConfig {
            blobs_url: self.store.blobs_url.clone().unwrap_or(defaults.blobs_url),
            database_url: self
                .store
                .database_url
                .clone()
                .unwrap_or(defaults.database_url),
            search_dir: self.store.search_dir.clone().or(defaults.search_dir),
        }
    }

    pub fn runs(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn to_toml(&self) -> anyhow::Result<String> {
        toml::to_string_pretty(self).context("cannot print the settings as TOML")
    }
}
