//! Times the rewards close's second look at place consensus
//! (`place_check::hold_unlike_captures`) over a busy town's epoch, written through the pipeline
//! worker's own store calls (`store/tests/it/town.rs`: dashcams driving random walks over
//! 4 × 4 km, 100 accepted frames a capture). Every frame's print is random, so no capture
//! looks like its places: the worst case, in which the pass reads the views around every
//! place of every capture and holds every capture its rule can. Timed twice: the first pass
//! opens the cases, the second finds them open (what a close re-run after a crash does).
//! SQLite in a temporary directory, or the database `WAYMARK_BENCH_DATABASE_URL` names.
//!
//!     cargo run --release -p rewards --example place_check_bench -- [devices] [captures]

use std::collections::BTreeSet;
use std::time::Instant;

use model::TimestampMs;
use rewards::EpochId;
use rewards::place_check::hold_unlike_captures;
use town::{FRAMES_PER_CAPTURE, START, WEEK_MS, bench_store, fill};

#[path = "../../store/tests/it/received.rs"]
mod received;
#[path = "../../store/tests/it/town.rs"]
mod town;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let devices = args.next().transpose()?.unwrap_or(40);
    let captures = args.next().transpose()?.unwrap_or(10);
    let dir = tempfile::tempdir()?;
    let (store, backend) = bench_store(dir.path()).await?;
    let filled = fill(&store, devices, captures).await;
    println!(
        "{backend}: {} frames ({devices} devices × {captures} captures × {FRAMES_PER_CAPTURE}) over one week, written in {:.1} s",
        filled.frames,
        filled.took.as_secs_f64()
    );
    // The captures' week spans two ISO weeks: both epochs are checked, as two closes would.
    let epochs: BTreeSet<EpochId> = [START, START + WEEK_MS]
        .into_iter()
        .map(|time| EpochId::containing(TimestampMs(time)))
        .collect();
    let closed_at = TimestampMs(START + 3 * WEEK_MS);
    println!();
    println!("| pass | epochs | time | captures held by the pass |");
    println!("|---|---:|---:|---:|");
    for pass in ["first (opens the cases)", "second (the cases already open)"] {
        let started = Instant::now();
        let mut held = 0;
        for epoch in &epochs {
            held += hold_unlike_captures(&store, *epoch, closed_at).await?;
        }
        println!(
            "| {pass} | {} | {:.0} ms | {held} of {} |",
            epochs.len(),
            started.elapsed().as_secs_f64() * 1000.0,
            devices * captures
        );
    }
    Ok(())
}
