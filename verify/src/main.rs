//! `waymark-verify <url> [--epoch 2026-W48]`: recompute a Waymark network's reward epochs
//! from its public URL alone. Exit status 0 when every epoch matches, 1 when one does not
//! (the first difference is named), 2 when the network cannot be read.

use std::process::ExitCode;

use clap::Parser;
use waymark_verify::{Finding, Network};

/// Recompute a Waymark network's closed reward epochs from its public URL: hashes, device
/// signatures, every amount and the Merkle root.
#[derive(Debug, Parser)]
#[command(name = "waymark-verify", version)]
struct Args {
    /// The network's public URL, e.g. http://127.0.0.1:8080
    url: String,
    /// One epoch (ISO week, e.g. 2026-W48); every closed epoch when left out.
    #[arg(long)]
    epoch: Option<rewards::EpochId>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let network = Network::new(&args.url);
    let epochs = match args.epoch {
        Some(epoch) => vec![epoch],
        None => match network.closed_epochs() {
            Ok(epochs) => epochs,
            Err(err) => {
                eprintln!("waymark-verify: {err}");
                return ExitCode::from(2);
            }
        },
    };
    if epochs.is_empty() {
        println!("{}: no closed epoch yet", args.url);
        return ExitCode::SUCCESS;
    }
    let mut status = ExitCode::SUCCESS;
    for epoch in epochs {
        match network.verify(epoch) {
            Ok(verified) => println!(
                "{epoch}: root matches {} ({} contributors; {} frames in {} captures signed by {} devices, every signature checked)",
                verified.merkle_root,
                verified.contributors,
                verified.frames,
                verified.captures,
                verified.devices
            ),
            Err(err @ (Finding::Fetch { .. } | Finding::NotClosed { .. })) => {
                eprintln!("{epoch}: cannot verify: {err}");
                status = ExitCode::from(2);
            }
            Err(err) => {
                println!("{epoch}: DOES NOT MATCH: {err}");
                status = ExitCode::from(1);
            }
        }
    }
    status
}
