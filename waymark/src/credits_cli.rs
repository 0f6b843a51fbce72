//! `waymark credits grant|balance`: an operator tops up a map consumer's account.

use anyhow::Context;
use model::{ContributorId, TimestampMs};
use store::Store;

use crate::cli::CreditsCommand;
use crate::settings::Settings;

pub fn run(settings: &Settings, command: &CreditsCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let data_dir = settings.absolute_data_dir()?;
        let store = Store::open(&settings.store_config(&data_dir))
            .await
            .with_context(|| format!("cannot open the store under {}", data_dir.display()))?;
        let outcome = execute(&store, command).await;
        store.db.pool().close().await;
        outcome
    })
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
