//! `waymark`: parses the command line and hands it to [`waymark::run`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = waymark::Cli::parse();
    match waymark::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
