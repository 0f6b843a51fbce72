//! The command line, with clap's derive API. Flags override settings from the file and
//! the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Waymark: an open dashcam-mapping network. Drivers' dashcams upload GPS-tagged frames;
/// Waymark verifies them, blurs faces and plates, keeps a fresh coverage map and pays
/// contributors for fresh coverage.
#[derive(Debug, Parser)]
#[command(name = "waymark", version, propagate_version = true)]
pub struct Cli {
    /// Settings file (TOML; see waymark.example.toml). Values from WAYMARK_* environment
    /// variables and from flags override it.
    #[arg(long, global = true, env = "WAYMARK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory for blobs, the database and the search index [default: ./data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server: /health, /metrics and every stage's routes, on one machine
    /// (local files, SQLite, tantivy under the data directory).
    Serve(ServeArgs),
    /// Reward epochs: close them, verify them, prove a contributor's payout.
    #[command(subcommand)]
    Rewards(RewardsCommand),
    /// The coverage tiles: build them from the store, export them for CDNs and offline use.
    #[command(subcommand)]
    Tiles(TilesCommand),
    /// The vision stage (OpenCV): quality, privacy blurring, traffic signs.
    #[command(subcommand)]
    Vision(VisionCommand),
    /// Map consumers' credits: grant them, read a balance.
    #[command(subcommand)]
    Credits(CreditsCommand),
    /// Map features (one object per real-world sign): export them.
    #[command(subcommand)]
    Features(FeaturesCommand),
    /// Operators: make an account an admin (reads any capture's status), or take it back.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Copy the store (SQLite database, online and consistent, and every blob) to a new
    /// directory while the server runs.
    Backup {
        /// The directory to write (must not exist)
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Restore a backup into this data directory's (empty) store; the search index is
    /// rebuilt from the restored rows by the pipeline worker, the tiles by the tile builder.
    Restore {
        /// A directory written by `waymark backup`
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
    },
    /// The whole system on real data: start the server, drive a simulated fleet of dashcams
    /// on real roads through the real agent and upload, close the reward epochs, print a
    /// summary, and leave the web map open (or exit with --exit).
    Demo(crate::demo::DemoArgs),
    /// Print the effective settings (file, environment and flags merged) as TOML and exit.
    Config,
}

#[derive(Debug, Subcommand)]
pub enum VisionCommand {
    /// Print precision and recall of every vision check over a labelled set
    /// [default: the committed set in vision/eval].
    Eval {
        /// Directory with labels.json and the images it names
        dir: Option<PathBuf>,
    },
    /// Run every check the pipeline runs (quality, faces, plates, signs, privacy blur) on
    /// JPEG files: the public (blurred) copy and the report go to --out, one line per file
    /// to stdout.
    Analyze {
        /// Where `<name>.jpg` (the blurred public copy) and `<name>.json` (the report) go
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The JPEG files
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TilesCommand {
    /// Render every tile from the store into the live MBTiles file, replacing its tiles.
    Build,
    /// Build the base map's roads from an OpenStreetMap PBF extract into
    /// <data>/basemap.mbtiles (served at /basemap/{z}/{x}/{y}.mvt by `waymark serve`).
    Basemap {
        /// The .osm.pbf file, e.g. datasets/roads/osrm_monaco.osm.pbf
        #[arg(long, value_name = "FILE")]
        pbf: PathBuf,
    },
    /// Write the live tiles to a new PMTiles v3 archive or a standalone MBTiles file.
    #[command(group(clap::ArgGroup::new("format").required(true).args(["pmtiles", "mbtiles"])))]
    Export {
        /// The PMTiles archive to write (must not exist)
        #[arg(long, value_name = "FILE")]
        pmtiles: Option<PathBuf>,
        /// The MBTiles file to write (must not exist)
        #[arg(long, value_name = "FILE")]
        mbtiles: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CreditsCommand {
    /// Add credits to an account (a map consumer's top-up); prints the new balance.
    Grant {
        /// The account's id (UUID), as `GET /api/v1/contributors/me` shows it
        #[arg(long)]
        account: String,
        /// Credits to add (a whole number, at least 1)
        amount: i64,
    },
    /// Print an account's balance.
    Balance {
        #[arg(long)]
        account: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// Write every map feature (or those a filter keeps) as GeoJSON or CSV.
    Export {
        /// geojson (a FeatureCollection) or csv (one line per feature, RFC 4180)
        #[arg(long, default_value = "geojson", value_parser = ["geojson", "csv"])]
        format: String,
        /// The file to write [default: standard output]
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// min_lon,min_lat,max_lon,max_lat
        #[arg(long)]
        bbox: Option<String>,
        /// A class, exactly (stop, yield, speed limit 50, …)
        #[arg(long)]
        class: Option<String>,
        /// new, confirmed or gone
        #[arg(long)]
        status: Option<String>,
        /// Changed at or after: milliseconds since 1970 or a YYYY-MM-DD day (UTC)
        #[arg(long)]
        changed_since: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make an account an admin.
    Grant {
        /// The account's id (UUID)
        #[arg(long)]
        account: String,
    },
    /// Make an admin an ordinary account again.
    Revoke {
        #[arg(long)]
        account: String,
    },
    /// List fraud cases, oldest first (the review queue).
    Cases {
        /// open, appealed, confirmed or cleared (all when left out)
        #[arg(long)]
        status: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Confirm or clear a fraud case awaiting review (clearing takes the fraud off its
    /// frames).
    Decide {
        /// The case id
        #[arg(long = "case")]
        case: String,
        /// confirm or clear
        #[arg(long)]
        decision: String,
        /// Why, for the record and the contributor
        #[arg(long)]
        note: String,
        /// The deciding admin account's id (UUID)
        #[arg(long)]
        by: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RewardsCommand {
    /// Close an epoch once its data is complete: compute payouts, publish the manifest and
    /// Merkle tree under rewards/<epoch>/ in the blob store, record the amounts.
    Close {
        /// ISO week, e.g. 2026-W48 [default: the latest epoch past its grace period]
        #[arg(long)]
        epoch: Option<String>,
    },
    /// Recompute a closed epoch from the stored inputs and compare roots; fails naming any
    /// input that changed.
    Verify {
        #[arg(long)]
        epoch: String,
    },
    /// Print a contributor's amount, per-cell breakdown and Merkle proof for an epoch (JSON).
    Proof {
        #[arg(long)]
        epoch: String,
        /// Contributor id (UUID)
        #[arg(long)]
        contributor: String,
    },
}

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port) [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// What this process runs, comma-separated: ingest (accounts, devices, uploads), worker
    /// (the pipeline: vision, dedup, coverage), tiles (the tile builder and the tile routes),
    /// rewards (closing epochs), web (the page, public frames, search, rewards and consumer
    /// routes) [default: all of them]
    #[arg(long, value_name = "ROLES", value_delimiter = ',')]
    pub role: Vec<crate::settings::Role>,
}
