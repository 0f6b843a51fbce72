//! `waymark-oracle`: one independent oracle of a Waymark network. It reads only the
//! network's published data, checks it like `waymark-verify` (hashes, device signatures),
//! recomputes each closed epoch and signs the report of what it recomputed with its own
//! secp256k1 key; the network keeps the signature and a report is final with k of n.
//!
//!   waymark-oracle keygen --key oracle.key      # a new key; prints the address to list
//!                                               # in the network's [rewards] oracles
//!   waymark-oracle sign http://127.0.0.1:8080 --key oracle.key [--epoch 2026-W48]
//!
//! Exit status 0 when every epoch was signed and agrees, 1 when one does not check out or
//! the oracle's recomputation differs from the published root, 2 on a usage or network
//! error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rewards::report::OracleKey;
use waymark_verify::{Finding, Network};

/// One independent oracle of a Waymark network: recompute closed epochs from the published
/// data and co-sign their reports.
#[derive(Debug, Parser)]
#[command(name = "waymark-oracle", version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a new oracle key (secp256k1) in a file only its owner can read; prints its
    /// address.
    Keygen {
        /// Where to write the secret key (refuses to overwrite one).
        #[arg(long, env = "WAYMARK_ORACLE_KEY")]
        key: PathBuf,
    },
    /// Recompute and sign closed epochs, and send the signatures to the network.
    Sign {
        /// The network's public URL, e.g. http://127.0.0.1:8080
        url: String,
        /// The oracle's key file.
        #[arg(long, env = "WAYMARK_ORACLE_KEY")]
        key: PathBuf,
        /// One epoch (e.g. 2026-W48); every closed epoch when left out.
        #[arg(long)]
        epoch: Option<rewards::EpochId>,
    },
}

fn main() -> ExitCode {
    match Args::parse().command {
        Command::Keygen { key } => keygen(&key),
        Command::Sign { url, key, epoch } => sign(&url, &key, epoch),
    }
}

fn keygen(path: &Path) -> ExitCode {
    if path.exists() {
        eprintln!(
            "waymark-oracle: {} already exists; an oracle keeps its key",
            path.display()
        );
        return ExitCode::from(2);
    }
    let key = OracleKey::generate();
    let written = write_secret(path, &format!("{}\n", key.to_hex()));
    if let Err(err) = written {
        eprintln!("waymark-oracle: cannot write {}: {err}", path.display());
        return ExitCode::from(2);
    }
    println!("{}", key.address());
    ExitCode::SUCCESS
}

fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

fn sign(url: &str, key_path: &Path, epoch: Option<rewards::EpochId>) -> ExitCode {
    let key = match std::fs::read_to_string(key_path)
        .map_err(|err| err.to_string())
        .and_then(|text| OracleKey::from_hex(&text).map_err(|err| err.to_string()))
    {
        Ok(key) => key,
        Err(err) => {
            eprintln!(
                "waymark-oracle: the key {} is unusable: {err}; make one with `waymark-oracle keygen`",
                key_path.display()
            );
            return ExitCode::from(2);
        }
    };
    let network = Network::new(url);
    let epochs = match epoch {
        Some(epoch) => vec![epoch],
        None => match network.closed_epochs() {
            Ok(epochs) => epochs,
            Err(err) => {
                eprintln!("waymark-oracle: {err}");
                return ExitCode::from(2);
            }
        },
    };
    let mut status = ExitCode::SUCCESS;
    for epoch in epochs {
        let attested = network.attest(epoch, &key).and_then(|attestation| {
            let answer = network.post(&attestation)?;
            Ok((attestation, answer))
        });
        match attested {
            Ok((attestation, answer)) => {
                let signatures = answer["signatures"].as_array().map_or(0, Vec::len);
                println!(
                    "{epoch}: {} root {} as {}; {signatures} of {} oracles agree (quorum {}{})",
                    if attestation.matches {
                        "signed"
                    } else {
                        "signed a DIFFERENT"
                    },
                    attestation.report.merkle_root,
                    key.address(),
                    answer["oracles"].as_array().map_or(0, Vec::len),
                    answer["quorum"],
                    if answer["final"] == true {
                        ", final"
                    } else {
                        ""
                    },
                );
                if !attestation.matches {
                    status = ExitCode::from(1);
                }
            }
            Err(err @ (Finding::Fetch { .. } | Finding::NotClosed { .. })) => {
                eprintln!("{epoch}: cannot sign: {err}");
                status = ExitCode::from(2);
            }
            Err(err) => {
                println!("{epoch}: NOT SIGNED: {err}");
                status = ExitCode::from(1);
            }
        }
    }
    status
}
