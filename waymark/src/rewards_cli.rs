//! `waymark rewards close|verify|proof`: the reward shell, run against the store the
//! settings name, with a one-line answer (or JSON for proofs) on stdout.

use model::{ContributorId, TimestampMs};
use rewards::EpochId;
use rewards::shell::{close, proof, verify};
use store::Store;

use crate::cli::RewardsCommand;
use crate::settings::Settings;

pub fn run(settings: &Settings, command: &RewardsCommand) -> anyhow::Result<()> {
    crate::with_store(settings, async |store| {
        execute(settings, store, command).await
    })
}

async fn execute(
    settings: &Settings,
    store: &Store,
    command: &RewardsCommand,
) -> anyhow::Result<()> {
    match command {
        RewardsCommand::Close { epoch } => {
            let config = settings.rewards.config()?;
            let now = TimestampMs::now();
            let closed = match epoch {
                Some(text) => close(store, text.parse::<EpochId>()?, &config, now).await?,
                None => {
                    // Every due epoch, oldest first (epochs close in order); report the latest.
                    rewards::shell::close_due(store, &config, now).await?;
                    close(store, latest_closable(now, config.grace_ms), &config, now).await?
                }
            };
            let epoch = closed.manifest.epoch;
            let manifest = &closed.manifest;
            let verb = if closed.already_closed {
                "was already closed"
            } else {
                "closed"
            };
            println!(
                "epoch {epoch} {verb}: {} contributors, {} paid of {} emitted, {} paid of a consumption pool of {} (from {} credits spent), {} unallocated, {} cells",
                manifest.totals.contributors,
                manifest.totals.emission_paid,
                manifest.emission,
                manifest.totals.consumption_paid,
                manifest.consumption_pool,
                manifest.credits_consumed,
                manifest.unallocated,
                manifest.totals.cells_awarded
            );
            println!("epoch {epoch} merkle root: {}", manifest.merkle_root);
        }
        RewardsCommand::Verify { epoch } => {
            let verified = verify(store, epoch.parse()?).await?;
            println!(
                "epoch {} verified: recomputed merkle root {} matches ({} contributors)",
                verified.epoch, verified.merkle_root, verified.contributors
            );
        }
        RewardsCommand::Proof { epoch, contributor } => {
            let contributor: ContributorId = contributor
                .parse()
                .map_err(|err| anyhow::anyhow!("--contributor: {err}"))?;
            let proof = proof(store, epoch.parse()?, contributor).await?;
            println!("{}", serde_json::to_string_pretty(&proof)?);
        }
    }
    Ok(())
}

/// The most recent epoch whose grace period has passed.
fn latest_closable(now: TimestampMs, grace_ms: i64) -> EpochId {
    let mut epoch = EpochId::containing(now);
    while !epoch.is_past_grace(now, grace_ms) {
        epoch = epoch.previous();
    }
    epoch
}
