//! The end of the demo: wait until the pipeline and the tile builder have caught up, then
//! print what happened — drivers, kilometres, frames kept and rejected by reason, cells
//! covered, each closed epoch's Merkle root and what every contributor earned.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use datasets::fleet::Fleet;
use indicatif::{ProgressBar, ProgressStyle};
use rewards::EpochId;
use store::Store;

use super::drive::Driven;

/// Waits until no frame is pending, no job is queued or running, and no cell is dirty.
pub async fn wait_for_pipeline(store: &Store, limit: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{msg:>12} {spinner} {wide_msg} {elapsed}")
            .expect("a valid template"),
    );
    bar.set_message("processing");
    loop {
        let counts = store.db.frame_counts().await?;
        let count = |status: &str| {
            counts
                .iter()
                .find(|(s, _)| s == status)
                .map_or(0, |(_, n)| *n)
        };
        let queue = store.queue.counts().await?;
        let dirty = store.db.dirty_cell_marks().await?.len();
        bar.set_message(format!(
            "vision and tiles: {} accepted, {} rejected, {} pending, {} dirty cells",
            count("accepted"),
            count("rejected"),
            count("pending"),
            dirty
        ));
        bar.tick();
        if count("pending") == 0 && queue.queued == 0 && queue.leased == 0 && dirty == 0 {
            bar.finish_and_clear();
            return Ok(());
        }
        if started.elapsed() > limit {
            anyhow::bail!("the pipeline did not finish within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub async fn print_summary(
    store: &Store,
    fleet: &Fleet,
    driven: &Driven,
    closed: &[EpochId],
) -> anyhow::Result<()> {
    let mut behaviours: BTreeMap<&str, usize> = BTreeMap::new();
    for device in &fleet.devices {
        *behaviours.entry(device.behaviour.tag()).or_default() += 1;
    }
    println!();
    println!("== Waymark demo summary (seed {}) ==", fleet.config.seed);
    println!(
        "drivers: {} dashcams ({}), {} accounts",
        fleet.devices.len(),
        behaviours
            .iter()
            .map(|(tag, n)| format!("{n} {tag}"))
            .collect::<Vec<_>>()
            .join(", "),
        driven.contributors.len()
    );
    println!(
        "driven: {:.1} km in {} trips over {} days",
        fleet.length_m() / 1000.0,
        fleet.trips().count(),
        fleet.config.days
    );
    println!(
        "on the dashcams: {} frames offered, {} kept, dropped: {}",
        driven.offered,
        driven.spooled,
        listing(&driven.drops)
    );
    println!(
        "frames are real dashcam footage: {}",
        listing(
            &driven
                .footage
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect()
        )
    );
    let outcomes = store.db.frame_outcome_counts().await?;
    let accepted: u64 = outcomes
        .iter()
        .filter(|(status, _, _)| status == "accepted")
        .map(|(_, _, n)| n)
        .sum();
    let rejected: BTreeMap<String, u64> = outcomes
        .iter()
        .filter(|(status, _, _)| status == "rejected")
        .map(|(_, reason, n)| (reason.clone().unwrap_or_default(), *n))
        .collect();
    println!(
        "on the server: {} captures, {} frames uploaded, {accepted} accepted, {} rejected ({})",
        driven.captures,
        driven.frames_sent,
        rejected.values().sum::<u64>(),
        listing(&rejected)
    );
    println!("coverage: {} H3 res-12 cells", store.db.cell_count().await?);

    let mut earned: BTreeMap<String, u128> = BTreeMap::new();
    let mut inputs = Vec::new();
    for epoch in closed {
        let manifest = rewards::shell::read_manifest(store, *epoch).await?;
        println!(
            "epoch {epoch} merkle root: {} (emission {}, from map use {} for {} credits)",
            manifest.merkle_root,
            manifest.emission,
            manifest.consumption_pool,
            manifest.credits_consumed
        );
        for entry in &manifest.contributors {
            let amount: u128 = entry.amount.parse().unwrap_or(0);
            *earned.entry(entry.contributor.to_string()).or_default() += amount;
        }
        let key = store::BlobKey::parse(&manifest.files.inputs)?;
        let snapshot: rewards::EpochInputs = serde_json::from_slice(&store.blobs.get(&key).await?)?;
        inputs.push(snapshot);
    }
    println!("rewards (smallest unit, all closed epochs):");
    for (owner, id) in &driven.contributors {
        let amount = earned.get(id).copied().unwrap_or(0);
        let tag = fleet
            .devices
            .iter()
            .find(|d| &d.owner == owner && d.behaviour.is_dishonest())
            .map_or(String::new(), |d| {
                format!("  (attack: {})", d.behaviour.tag())
            });
        println!("  {owner:<16} {amount:>20}{tag}");
    }
    super::attacks::print(store, fleet, driven, &earned, &inputs).await
}

/// What the demo drove through: the fleet, the region's roads and signs (OpenStreetMap's
/// own sign nodes) and the rules map features are made with.
pub struct World<'a> {
    pub fleet: &'a Fleet,
    pub graph: &'a datasets::RoadGraph,
    pub signs: &'a [datasets::RoadSign],
    pub feature_rules: features::Config,
}

/// The survey the map-feature figures come from: the demo's own fleet drives too little to
/// pass many signs, so six honest cars drive 1.5 km a day for the same week (same seed).
fn survey(world: &World<'_>) -> anyhow::Result<Fleet> {
    let config = datasets::fleet::FleetConfig {
        drivers: 6,
        trips_per_day: 1,
        trip_length_m: 1_500.0,
        dishonest: datasets::fleet::Dishonest::none(),
        ..world.fleet.config.clone()
    };
    Ok(datasets::fleet::simulate(world.graph, &config)?)
}

/// Map features, twice: from simulated sign detections of a survey past the region's real
/// OSM signs (scored against them), and what the pipeline made of the real footage's own
/// detections.
pub async fn print_features(store: &Store, world: &World<'_>) -> anyhow::Result<()> {
    let survey = survey(world)?;
    let trips: Vec<_> = survey.trips().collect();
    let simulated = datasets::fleet::simulate_sightings(
        &survey,
        &trips,
        world.signs,
        features::Camera::DASHCAM,
        survey.config.seed,
    );
    let found = simulated.map_features(&world.feature_rules);
    let live: Vec<&features::Feature> = found.iter().filter(|f| f.gone_at_ms.is_none()).collect();
    let score = features::eval::score(&live, &simulated.truths, 10.0);
    let in_view = features::eval::score(&live, &simulated.in_view, 10.0);
    let metres = |m: Option<f64>| m.map_or("n/a".to_owned(), |m| format!("{m:.1} m"));
    println!(
        "map features (a simulated survey: {} cars, {:.1} km past {} OSM signs; {} frames, {} detections of which {} false):",
        survey.devices.len(),
        survey.length_m() / 1000.0,
        world.signs.len(),
        simulated.frames,
        simulated.detections,
        simulated.false_detections
    );
    println!(
        "  {} features; precision {:.2}, recall {:.2} of the {} signs detected twice in a pass ({:.2} of the {} in view); error median {}, p90 {}",
        score.features,
        score.precision,
        score.recall,
        score.truths,
        in_view.recall,
        in_view.truths,
        metres(score.median_error_m),
        metres(score.p90_error_m)
    );
    let mut pipeline = 0usize;
    let mut query = store::FeatureQuery {
        limit: store::MAX_FEATURE_PAGE,
        ..store::FeatureQuery::default()
    };
    loop {
        let page = store.db.features_page(&query).await?;
        pipeline += page.len();
        match page.last() {
            Some(last) if page.len() == query.limit as usize => {
                query.after_id = Some(last.id.clone())
            }
            _ => break,
        }
    }
    println!(
        "  the pipeline made {pipeline} features from the footage's own sign detections (the footage is not of these streets: their positions mean nothing)"
    );
    Ok(())
}

fn listing(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}
