//! `waymark admin grant|revoke`: an operator makes an account an admin, or takes it back.

use model::ContributorId;
use store::ContributorRole;

use crate::cli::AdminCommand;
use crate::settings::Settings;

pub fn run(settings: &Settings, command: &AdminCommand) -> anyhow::Result<()> {
    let (text, role) = match command {
        AdminCommand::Grant { account } => (account, ContributorRole::Admin),
        AdminCommand::Revoke { account } => (account, ContributorRole::Contributor),
    };
    let id: ContributorId = text
        .parse()
        .map_err(|err| anyhow::anyhow!("--account {text:?}: {err}; it is the account's UUID"))?;
    crate::with_store(settings, async |store| {
        if !store.db.set_contributor_role(id, role).await? {
            anyhow::bail!("no account {id} in this store");
        }
        println!("account {id} is now {}", role.as_str());
        Ok(())
    })
}
