//! `waymark admin grant|revoke`: an operator makes an account an admin, or takes it back.
//! `waymark admin cases|decide`: the review queue from the command line (the same store
//! calls as `GET /api/v1/reviews` and `POST /api/v1/reviews/{id}/decision`).

use model::{ContributorId, TimestampMs};
use store::{CaseQuery, CaseStatus, ContributorRole, Decision};

use crate::cli::AdminCommand;
use crate::settings::Settings;

fn account(text: &str, flag: &str) -> anyhow::Result<ContributorId> {
    text.parse()
        .map_err(|err| anyhow::anyhow!("--{flag} {text:?}: {err}; it is the account's UUID"))
}

pub fn run(settings: &Settings, command: &AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Grant { account: text } => set_role(settings, text, ContributorRole::Admin),
        AdminCommand::Revoke { account: text } => {
            set_role(settings, text, ContributorRole::Contributor)
        }
        AdminCommand::Cases { status, limit } => {
            let status = status
                .as_deref()
                .map(str::parse::<CaseStatus>)
                .transpose()
                .map_err(|err| anyhow::anyhow!("--status: {err}"))?;
            let limit = *limit;
            crate::with_store(settings, async |store| {
                let cases = store
                    .db
                    .fraud_cases(&CaseQuery {
                        status,
                        devices: None,
                        limit,
                    })
                    .await?;
                if cases.is_empty() {
                    println!("no fraud cases");
                }
                let caught = ingest::reviews::caught_by(store, &cases).await?;
                for case in cases {
                    println!(
                        "{} {:<9} {:<16} {:>5} frames  device {}  capture {}{}{}",
                        case.id,
                        case.status,
                        case.reason,
                        case.frame_count,
                        case.device,
                        case.capture,
                        case.appeal
                            .as_deref()
                            .map_or(String::new(), |a| format!("  appeal: {a}")),
                        case.decision_note
                            .as_deref()
                            .map_or(String::new(), |n| format!("  note: {n}")),
                    );
                    if let Some(caught_by) = caught.get(&case.id) {
                        let captures: Vec<String> = caught_by
                            .iter()
                            .map(|held| held.capture.to_string())
                            .collect();
                        println!(
                            "    caught by unlike-place captures: {}",
                            captures.join(", ")
                        );
                    }
                }
                Ok(())
            })
        }
        AdminCommand::Decide {
            case,
            decision,
            note,
            by,
        } => {
            let decision = match decision.as_str() {
                "confirm" => Decision::Confirm,
                "clear" => Decision::Clear,
                other => anyhow::bail!("--decision {other:?} is neither confirm nor clear"),
            };
            let note = note.trim();
            if note.is_empty() {
                anyhow::bail!("--note is empty: say why, for the record and the contributor");
            }
            let by = account(by, "by")?;
            crate::with_store(settings, async |store| {
                let admin = store
                    .db
                    .contributor(by)
                    .await?
                    .filter(|account| account.role == ContributorRole::Admin)
                    .ok_or_else(|| {
                        anyhow::anyhow!("--by {by} is not an admin account of this store (`waymark admin grant`)")
                    })?;
                let decided = ingest::reviews::decide_case(
                    store,
                    case,
                    decision,
                    admin.id,
                    note,
                    TimestampMs::now(),
                )
                .await?;
                println!(
                    "case {} is now {} ({} {} frames)",
                    decided.id, decided.status, decided.frame_count, decided.reason
                );
                Ok(())
            })
        }
    }
}

fn set_role(settings: &Settings, text: &str, role: ContributorRole) -> anyhow::Result<()> {
    let id = account(text, "account")?;
    crate::with_store(settings, async |store| {
        if !store.db.set_contributor_role(id, role).await? {
            anyhow::bail!("no account {id} in this store");
        }
        println!("account {id} is now {}", role.as_str());
        Ok(())
    })
}
