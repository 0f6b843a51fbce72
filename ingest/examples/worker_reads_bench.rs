//! Times the database reads the pipeline worker makes besides vision, against a store filled
//! through the worker's own write path (`Db::insert_capture` + `Db::commit_processed`):
//! per frame, the near-duplicate read of its cell (`fingerprints_in`), the place consensus's
//! views of the two rings around it (`views_in`, 19 cells) and the footage index read
//! (`footage_sharing`, the keys of the core and of as many random prints as the worker has
//! keyed probes and keyed wide probes, so every key distinct: a real frame's neighbouring probes share keys); per capture, the device's
//! week of fixes for the road check (`device_track_by_capture`); per worker start, the footage
//! index's upkeep on an index already up to date; per page of the review queue, the captures
//! that caught each device held `unvouched-place` (`reviews::caught_by`).
//!
//! The store: `devices` dashcams, each with `captures` captures of 100 accepted frames a week
//! apart at most, driving 1 Hz random walks over a 4 × 4 km town (so cells fill up as a busy
//! town's do), every frame with its 32 × 18 fingerprint and its 64 × 36 footage core and
//! keys (random prints: the index's keys spread as real ones do). SQLite in a temporary
//! directory, or the database `WAYMARK_BENCH_DATABASE_URL` names (e.g. the PostgreSQL of
//! `scripts/with-pg-s3`).
//!
//!     cargo run --release -p ingest --example worker_reads_bench -- [devices] [captures] [rounds]

use std::time::Instant;

use model::{Fix, RejectReason, TimestampMs};
use rand::SeedableRng;
use rand::rngs::StdRng;
use store::{CaseQuery, CaseStatus};
use town::{FRAMES_PER_CAPTURE, START, WEEK_MS, bench_store, fill, print};

#[path = "../../store/tests/it/received.rs"]
mod received;
#[path = "../../store/tests/it/town.rs"]
mod town;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The median time of `rounds` runs (after one warm-up), and the mean of what they returned
/// (rows read).
async fn timed<F, Fut>(rounds: usize, mut run: F) -> (f64, f64)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    run(rounds).await;
    let (mut times, mut rows) = (Vec::with_capacity(rounds), 0);
    for round in 0..rounds {
        let started = Instant::now();
        rows += run(round).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    (median(times), rows as f64 / rounds.max(1) as f64)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let devices = args.next().transpose()?.unwrap_or(20);
    let captures = args.next().transpose()?.unwrap_or(10);
    let rounds = args.next().transpose()?.unwrap_or(101);
    let dir = tempfile::tempdir()?;
    let (store, backend) = bench_store(dir.path()).await?;
    let filled = fill(&store, devices, captures).await;
    println!(
        "{backend}: {} frames ({devices} devices × {captures} captures × {FRAMES_PER_CAPTURE}), written in {:.1} s through commit_processed ({:.2} ms a capture)",
        filled.frames,
        filled.took.as_secs_f64(),
        filled.took.as_secs_f64() * 1000.0 / (devices * captures) as f64
    );
    let samples = &filled.samples;
    let pick = |round: usize| &samples[(round * 7919) % samples.len()];
    let since = TimestampMs(START - WEEK_MS);
    let cell_of = |fix: &Fix| u64::from(fix.cell(model::COVERAGE_RESOLUTION).expect("a cell"));
    let (near_ms, near) = timed(rounds, |round| {
        let cell = cell_of(&pick(round).0);
        let store = &store;
        async move {
            store
                .db
                .fingerprints_in(cell, since)
                .await
                .expect("a read")
                .len()
        }
    })
    .await;
    let (views_ms, viewed) = timed(rounds, |round| {
        let cells: Vec<u64> = h3o::CellIndex::try_from(cell_of(&pick(round).0))
            .expect("a cell")
            .grid_disk::<Vec<_>>(model::consensus::VIEW_RINGS)
            .into_iter()
            .map(u64::from)
            .collect();
        let store = &store;
        async move {
            store
                .db
                .views_in(&cells, since)
                .await
                .expect("a read")
                .len()
        }
    })
    .await;
    // A copy's probes: the stored core itself and a fresh print per other probe, and as
    // many fresh inner prints as the worker has keyed wide probes. Made before the clock
    // starts (hashing them is the worker's prints, not its read: `footage_bench`), one set
    // per round and one for the warm-up.
    let key_sets: Vec<Vec<i64>> = (0..=rounds)
        .map(|round| {
            let mut rng = StdRng::seed_from_u64(round as u64);
            let mut keys: Vec<i64> = model::footage::keys(&pick(round).1);
            for _ in 0..2 * model::footage::KEYED_CUTS {
                keys.extend(model::footage::keys(&print(&mut rng, 64 * 36)));
            }
            for _ in 0..2 * model::footage::WIDE_KEYED_CUTS {
                keys.extend(model::footage::inner_keys(&print(&mut rng, 56 * 30)));
            }
            keys.sort_unstable();
            keys.dedup();
            keys
        })
        .collect();
    let (footage_ms, found) = timed(rounds, |round| {
        let (store, keys) = (&store, &key_sets[round]);
        async move { store.db.footage_sharing(keys).await.expect("a read").len() }
    })
    .await;
    let (week_ms, tracked) = timed(rounds, |round| {
        let device = filled.devices[round % filled.devices.len()];
        let store = &store;
        async move {
            let week = store
                .db
                .device_track_by_capture(device, since)
                .await
                .expect("a read");
            week.iter().map(|(_, fixes)| fixes.len()).sum::<usize>()
        }
    })
    .await;
    println!();
    println!("| read | when | median | rows returned (mean) |");
    println!("|---|---|---:|---:|");
    println!(
        "| `fingerprints_in` (near duplicates of the frame's cell) | each accepted frame | {near_ms:.2} ms | {:.1} |",
        near
    );
    println!(
        "| `views_in` (19 cells, place consensus) | each accepted frame | {views_ms:.2} ms | {:.1} |",
        viewed
    );
    println!(
        "| `footage_sharing` ({} keys: core + probes + wide probes) | each accepted frame | {footage_ms:.2} ms | {:.1} |",
        (1 + 2 * (model::footage::KEYED_CUTS + model::footage::WIDE_KEYED_CUTS))
            * model::footage::BANDS as usize,
        found
    );
    println!(
        "| `device_track_by_capture` (the device's week) | each capture, with roads | {week_ms:.2} ms | {:.0} fixes |",
        tracked
    );
    // The index upkeep's two full scans (what a worker runs when no pass of the current
    // scheme has finished), on an index already up to date: they find nothing to do.
    let (full_ms, _) = timed(rounds.min(11), |_| {
        let store = &store;
        async move {
            let rekeyed = ingest::footage_upkeep::rekey_footage(store)
                .await
                .expect("the re-keying");
            let backfilled = ingest::footage_upkeep::backfill_footage(store)
                .await
                .expect("the backfill");
            rekeyed.rekeyed + backfilled.backfilled
        }
    })
    .await;
    println!(
        "| the upkeep's full scans (`rekey_footage` + `backfill_footage`, nothing to do) | a worker start after a scheme change | {full_ms:.2} ms | — |"
    );
    // The upkeep a worker runs as it starts, after a finished pass (the warm-up's): only the
    // captures processed since, here none.
    let (upkeep_ms, _) = timed(rounds.min(11), |_| {
        let store = &store;
        async move {
            let done = ingest::footage_upkeep::bring_up_to_date(store)
                .await
                .expect("the upkeep");
            done.rekeyed + done.backfilled + done.unusable
        }
    })
    .await;
    println!(
        "| `footage_upkeep::bring_up_to_date` after a finished pass (nothing processed since) | each worker start | {upkeep_ms:.2} ms | — |"
    );
    // The review queue: every device caught twice (`unlike-place`, its first two captures)
    // and its other captures held with them (`unvouched-place`). A page of the queue shows,
    // for each unvouched case, the captures that caught its device (`reviews::caught_by`).
    let held_at = TimestampMs(START + 2 * WEEK_MS);
    for captures in &filled.captures {
        for (i, capture) in captures.iter().enumerate() {
            let reason = if i < 2 {
                RejectReason::UnlikePlace
            } else {
                RejectReason::UnvouchedPlace
            };
            store.db.hold_capture(*capture, reason, held_at).await?;
        }
    }
    let queue = store
        .db
        .fraud_cases(&CaseQuery {
            status: Some(CaseStatus::Open),
            devices: None,
            limit: 500,
        })
        .await?;
    for page in [100, 500] {
        let page = &queue[..page.min(queue.len())];
        let (caught_ms, named) = timed(rounds.min(21), |_| {
            let store = &store;
            async move {
                ingest::reviews::caught_by(store, page)
                    .await
                    .expect("a read")
                    .values()
                    .map(Vec::len)
                    .sum()
            }
        })
        .await;
        println!(
            "| `reviews::caught_by` (a page of {} cases, {} open in all) | each page of the review queue | {caught_ms:.2} ms | {named:.0} captures named |",
            page.len(),
            queue.len()
        );
    }
    Ok(())
}
