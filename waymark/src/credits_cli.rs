//! `waymark credits grant|balance`: an operator tops up a map consumer's account.

use anyhow::Context;
use model::{ContributorId, TimestampMs};
use store::Store;

use crate::cli::CreditsCommand;
use crate::settings::Settings;

pub fn run(settings: &Settings, command: &CreditsCommand) -> anyhow::Result<()> {
    crate::with_store(settings, async |store| execute(store, command).await)
}

async fn account(store: &Store, text: &str) -> anyhow::Result<ContributorId> {
    let id: ContributorId = text
        .parse()
        .map_err(|err| anyhow::anyhow!("--account {text:?}: {err}; it is the account's UUID"))?;
    store
        .db
        .contributor(id)
        .await?
        .with_context(|| format!("no account {id} in this store"))?;
    Ok(id)
}

async fn execute(store: &Store, command: &CreditsCommand) -> anyhow::Result<()> {
    match command {
        CreditsCommand::Grant {
            account: text,
            amount,
        } => {
            if *amount < 1 {
                anyhow::bail!("grant {amount} credits? give a whole number of at least 1");
            }
            let id = account(store, text).await?;
            let balance = store
                .db
                .grant_credits(id, *amount, TimestampMs::now())
                .await?;
            println!("granted {amount} credits to {id}; balance {balance}");
        }
        CreditsCommand::Balance { account: text } => {
            let id = account(store, text).await?;
            println!("{}", store.db.credit_balance(id).await?);
        }
    }
    Ok(())
}
