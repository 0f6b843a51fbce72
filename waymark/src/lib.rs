//! The composition root: the `waymark` command line, settings, and the wiring of the
//! stage crates into one process.
//!
//! Owns: argument parsing, settings layering (TOML file → `WAYMARK_*` environment → flags),
//! tracing and Prometheus set-up, and the HTTP server that mounts every stage's routes.
//!
//! Never does: logic of its own beyond wiring. A rule about frames, tiles or rewards
//! belongs in the stage crate that owns it.

mod admin_cli;
mod backup_cli;
mod cli;
mod credits_cli;
mod demo;
mod features_cli;
mod guard;
mod rewards_cli;
mod serve;
mod settings;
mod telemetry;
mod tiles_cli;
mod vision_stage;

pub use cli::{
    AdminCommand, Cli, Command, CreditsCommand, FeaturesCommand, RewardsCommand, TilesCommand,
    VisionCommand,
};
pub use settings::{Settings, StoreSettings};

/// Runs `work` against the store the settings name, on a one-thread runtime, and closes
/// the database after it: what the store-reading commands (`rewards`, `credits`) share.
pub(crate) fn with_store<T>(
    settings: &Settings,
    work: impl AsyncFnOnce(&store::Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    use anyhow::Context;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let data_dir = settings.absolute_data_dir()?;
        let store = store::Store::open(&settings.store_config(&data_dir))
            .await
            .with_context(|| format!("cannot open the store under {}", data_dir.display()))?;
        let outcome = work(&store).await;
        store.db.pool().close().await;
        outcome
    })
}

/// Runs one `waymark` command to completion.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&cli)?;
    match &cli.command {
        Command::Serve(_) => {
            telemetry::init_tracing(&settings.log)?;
            serve::run(settings)
        }
        Command::Rewards(command) => rewards_cli::run(&settings, command),
        Command::Tiles(command) => tiles_cli::run(&settings, command),
        Command::Credits(command) => credits_cli::run(&settings, command),
        Command::Admin(command) => admin_cli::run(&settings, command),
        Command::Features(command) => features_cli::run(&settings, command),
        Command::Backup { to } => backup_cli::backup(&settings, to),
        Command::Restore { from } => backup_cli::restore(&settings, from),
        Command::Demo(args) => {
            telemetry::init_tracing(&settings.log)?;
            demo::run(settings, args.clone(), cli.data.clone())
        }
        Command::Vision(VisionCommand::Eval { dir }) => {
            vision_stage::eval(&settings.vision, dir.as_deref())
        }
        Command::Vision(VisionCommand::Analyze { out, files }) => {
            vision_stage::analyze_files(&settings.vision, files, out)
        }
        Command::Config => {
            print!("{}", settings.to_toml()?);
            Ok(())
        }
    }
}
