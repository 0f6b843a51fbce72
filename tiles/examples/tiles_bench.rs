//! Times a full tile build and an incremental update, and prints Markdown table rows.
//!
//!     cargo run --release -p tiles --example tiles_bench -- [drivers] [rounds]
//!         [--data DIR] [--new-frames N]
//!
//! The map: `drivers` (default 100) drives of the real Munich drive (bmwcarit/barefoot,
//! 1 194 fixes each, one frame per fix), each shifted by up to ±0.06° so a fleet covers a
//! region around the city, committed through the pipeline worker's own store calls into a
//! SQLite store on disk, with a traffic sign every 25 frames. Then: a full build (load
//! from the store, render every tile z0–14, write the MBTiles), and an incremental update
//! after one more capture (read dirty cells, render the touched tiles, write, clear).
//!
//! `--data DIR` times a map seeded beforehand by the `seed_map` example instead (`drivers`
//! is then ignored); `--new-frames N` (default 300) sizes each new capture. The last line of
//! stdout is the medians as JSON, for `scripts/bench`.

#[path = "../tests/it/support.rs"]
mod support;

use std::time::Instant;

use model::TimestampMs;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|at| args.get(at + 1).cloned().expect("a value after the option"))
    };
    let data = option("--data").map(std::path::PathBuf::from);
    let new_frames: usize = option("--new-frames").map_or(300, |a| a.parse().expect("frames"));
    let mut numbers = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || !args[i - 1].starts_with("--")))
        .map(|(_, a)| a.parse::<usize>().expect("drivers and rounds are numbers"));
    let drivers = numbers.next().unwrap_or(100);
    let rounds = numbers.next().unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let scratch = tempfile::tempdir().unwrap();
        let dir = data.as_deref().unwrap_or(scratch.path());
        let store = support::open_store(dir).await;
        let drive = support::recent(&support::munich());
        if data.is_none() {
            let seeding = Instant::now();
            for n in 0..drivers {
                support::commit_drive(&store, &format!("driver-{n}"), &support::shifted(&drive, n), 25).await;
            }
            eprintln!(
                "seeded {} frames in {:.1?}",
                drivers * drive.len(),
                seeding.elapsed()
            );
        }

        let path = dir.join("tiles.mbtiles");
        let mut full = Vec::new();
        let mut last = None;
        for _ in 0..rounds {
            let started = Instant::now();
            let mut builder = support::builder(&store, &path).await;
            let loaded = started.elapsed();
            let summary = builder
                .build_all(TimestampMs::now().as_millis())
                .await
                .unwrap();
            full.push((started.elapsed(), loaded, summary));
            last = Some(builder);
        }
        full.sort_by_key(|(total, _, _)| *total);
        let (total, loaded, summary) = full[full.len() / 2];
        let mut builder = last.unwrap();
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let (frames, cells) = (builder.state().frame_count(), builder.state().cell_count());
        println!(
            "| full build | {} frames, {} cells | {} tiles | {:.2} s (load {:.2} s) | {:.0} tiles/s | {:.1} MB MBTiles |",
            builder.state().frame_count(),
            builder.state().cell_count(),
            summary.tiles_rendered,
            total.as_secs_f64(),
            loaded.as_secs_f64(),
            summary.tiles_rendered as f64 / total.as_secs_f64(),
            bytes as f64 / 1e6
        );

        let mut updates = Vec::new();
        for round in 0..rounds {
            support::commit_drive(
                &store,
                &format!("newcomer-{}-{round}", TimestampMs::now().as_millis()),
                &support::shifted(&drive[..new_frames.min(drive.len())], 100_000 + round),
                25,
            )
            .await;
            let summary = builder
                .update(TimestampMs::now().as_millis())
                .await
                .unwrap();
            updates.push(summary);
        }
        updates.sort_by_key(|s| s.elapsed);
        let update = updates[updates.len() / 2];
        println!(
            "| incremental update | one new capture of {new_frames} frames | {} tiles | {:.3} s | {:.0} tiles/s | {} written, {} unchanged |",
            update.tiles_rendered,
            update.elapsed.as_secs_f64(),
            update.tiles_rendered as f64 / update.elapsed.as_secs_f64(),
            update.tiles.written,
            update.tiles.unchanged
        );
        println!(
            r#"{{"frames":{frames},"cells":{cells},"full_s":{},"full_tiles":{},"update_s":{},"update_tiles":{},"update_written":{},"new_frames":{new_frames}}}"#,
            total.as_secs_f64(),
            summary.tiles_rendered,
            update.elapsed.as_secs_f64(),
            update.tiles_rendered,
            update.tiles.written
        );
    });
}
