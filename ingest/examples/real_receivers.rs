//! The synthetic-track rules (`ingest::track`) on real drives from receivers not in
//! `datasets/`, as an honest dashcam would send them, and on the fleet simulator's generated
//! tracks: how far each side sits from the rules.
//!
//! Each real track (a CSV of `time_ms,lat,lon`, one fix per row) is filmed at 30 frames a
//! second, every frame placed on the track as the agent places it
//! (`dashcam_agent::track::Track::at`, interpolated between fixes) and kept by the agent's
//! sampler (a frame every 8 m, 12 m above 24 m/s); the kept frames are sealed into
//! captures of at most 1 000 frames, a new one after every gap in the track. Each capture is
//! judged by `ingest::track::check`, as the upload handler does, and every window a short
//! capture could be judged on (`synthetic_window_steps` steps of a second or more, from
//! every fifth frame) is measured by each rule.
//!
//! No data ships with it: the tracks measured (modern u-blox receivers, phones, a dashcam)
//! are not ours to redistribute. BENCHMARKS.md says what was run and where it came from.
//!
//!     cargo run --release -p ingest --example real_receivers -- a.csv [b.csv …]
//!     cargo run --release -p ingest --example real_receivers -- --fleet 1 2 3

use std::collections::BTreeMap;

use dashcam_agent::sampling::{Sampler, SamplingConfig};
use dashcam_agent::track::{AlignConfig, Track};
use ingest::track::{
    TrackConfig, check, looks_generated, second_steps, speed_ceiling, speed_changes, speed_pile_up,
};
use model::{Fix, FixType, FrameEntry, FrameId, RejectReason, TimestampMs};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Frames a second the simulated dashcam films.
const FPS: i64 = 30;
/// Frames per capture, as the agent seals them by default.
const CAPTURE_FRAMES: usize = 1_000;

fn read_track(path: &str) -> Result<Vec<Fix>> {
    let text = std::fs::read_to_string(path)?;
    let mut fixes = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let [time, lat, lon] = fields[..] else {
            return Err(format!("{path}:{}: want time_ms,lat,lon", n + 1).into());
        };
        fixes.push(Fix {
            time: TimestampMs(time.trim().parse()?),
            lat: lat.trim().parse()?,
            lon: lon.trim().parse()?,
            alt: None,
            heading: None,
            speed: None,
            fix_type: FixType::Fix3d,
            satellites: 10,
            hdop: 1.0,
        });
    }
    Ok(fixes)
}

/// The captures an honest agent would send of `fixes`: frames kept by its sampler, a new
/// capture after every gap and every [`CAPTURE_FRAMES`] frames.
fn captures(fixes: Vec<Fix>) -> Vec<Vec<FrameEntry>> {
    let track = Track::new(fixes);
    let Some((first, last)) = track.span() else {
        return Vec::new();
    };
    let align = AlignConfig::default();
    let mut sampler = Sampler::new(SamplingConfig::default());
    let mut captures: Vec<Vec<FrameEntry>> = vec![Vec::new()];
    for frame in 0.. {
        let time = first.saturating_add_ms(frame * 1000 / FPS);
        if time > last {
            break;
        }
        let Some(fix) = track.at(time, &align) else {
            // A gap: the agent's trip (and so its capture) ends here.
            if captures.last().is_some_and(|c| !c.is_empty()) {
                captures.push(Vec::new());
                sampler = Sampler::new(SamplingConfig::default());
            }
            continue;
        };
        if sampler.decide(&fix, 200_000).is_err() {
            continue;
        }
        if captures.last().is_some_and(|c| c.len() == CAPTURE_FRAMES) {
            captures.push(Vec::new());
        }
        captures
            .last_mut()
            .expect("one open capture")
            .push(FrameEntry {
                sha256: FrameId::of_bytes(frame.to_string().as_bytes()),
                fix,
            });
    }
    captures.retain(|capture| capture.len() >= 2);
    captures
}

/// What each rule makes of a set of windows: the highest (for honest drives) or lowest
/// (for generated ones) tiny share, pile-up and count of steps at the ceiling, and how many
/// were judged generated.
#[derive(Debug, Default)]
struct Measured {
    windows: usize,
    generated: usize,
    share: Vec<f64>,
    pile_up: Vec<f64>,
    ceiling: Vec<f64>,
}

impl Measured {
    fn add(&mut self, window: &[&Fix], config: &TrackConfig) {
        self.windows += 1;
        self.generated += usize::from(looks_generated(window, config));
        let changes = speed_changes(window.iter().copied(), config);
        if changes.len() >= config.synthetic_min_steps {
            let tiny = changes
                .iter()
                .filter(|c| **c < config.synthetic_max_speed_change_mps)
                .count();
            self.share.push(tiny as f64 / changes.len() as f64);
        }
        self.pile_up
            .extend(speed_pile_up(window.iter().copied(), config));
        self.ceiling
            .extend(speed_ceiling(window.iter().copied(), config).map(|(at, _)| at as f64));
    }

    fn extreme(values: &[f64], highest: bool) -> String {
        let pick = if highest { f64::max } else { f64::min };
        values
            .iter()
            .copied()
            .reduce(pick)
            .map_or("—".into(), |v| format!("{v:.2}"))
    }

    fn row(&self, highest: bool) -> String {
        format!(
            "{} of {} | {} | {} | {}",
            self.generated,
            self.windows,
            Self::extreme(&self.share, highest),
            Self::extreme(&self.pile_up, highest),
            Self::extreme(&self.ceiling, highest).trim_end_matches(".00"),
        )
    }
}

/// Every window of `fixes` that starts at every fifth fix and holds
/// `synthetic_window_steps` steps (the last ones may hold fewer).
fn windows<'a>(fixes: &'a [&'a Fix], config: &TrackConfig) -> Vec<&'a [&'a Fix]> {
    let mut windows = Vec::new();
    let mut end = 0;
    for start in (0..fixes.len()).step_by(5) {
        end = end.max(start);
        while end < fixes.len()
            && second_steps(fixes[start..end].iter().copied()) < config.synthetic_window_steps
        {
            end += 1;
        }
        windows.push(&fixes[start..end]);
        if end == fixes.len() {
            break;
        }
    }
    windows
}

fn main() -> Result<()> {
    let config = TrackConfig::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--fleet") {
        let seeds = args[1..]
            .iter()
            .map(|s| s.parse())
            .collect::<std::result::Result<_, _>>()?;
        return fleet(&config, seeds);
    }
    println!(
        "| track | captures (frames) | synthetic-track captures | rejected frames | windows judged generated | highest tiny share | highest pile-up | most steps at the ceiling |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for path in args {
        let fixes = read_track(&path)?;
        let name = std::path::Path::new(&path)
            .file_stem()
            .map_or(path.clone(), |s| s.to_string_lossy().into_owned());
        // As the agent films it, and as a sparse logger would record it (a fix every 2, 5
        // or 10 s, each fix a frame).
        let mut sent = vec![(name.clone(), captures(fixes.clone()))];
        for every in [2, 5, 10] {
            let thinned: Vec<FrameEntry> = fixes
                .iter()
                .step_by(every)
                .enumerate()
                .map(|(n, fix)| FrameEntry {
                    sha256: FrameId::of_bytes(n.to_string().as_bytes()),
                    fix: *fix,
                })
                .collect();
            let chunks = thinned.chunks(CAPTURE_FRAMES).map(<[_]>::to_vec).collect();
            sent.push((format!("{name}, a fix every {every} s"), chunks));
        }
        for (name, captures) in sent {
            judge_captures(&name, &captures, &config);
        }
    }
    Ok(())
}

/// Judges `captures` and prints their row.
fn judge_captures(name: &str, captures: &[Vec<FrameEntry>], config: &TrackConfig) {
    let now = captures
        .last()
        .and_then(|c| c.last())
        .map_or(TimestampMs(0), |e| e.fix.time.saturating_add_ms(3_600_000));
    let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut synthetic, mut frames) = (0, 0);
    let mut measured = Measured::default();
    for capture in captures {
        frames += capture.len();
        let verdicts = check(capture, now, config);
        synthetic += usize::from(verdicts.contains(&Some(RejectReason::SyntheticTrack)));
        for reason in verdicts.into_iter().flatten() {
            *reasons.entry(reason.slug()).or_default() += 1;
        }
        let fixes: Vec<&Fix> = capture.iter().map(|e| &e.fix).collect();
        for window in windows(&fixes, config) {
            measured.add(window, config);
        }
    }
    println!(
        "| {name} | {} ({frames}) | {synthetic} | {reasons:?} | {} |",
        captures.len(),
        measured.row(true)
    );
}

/// The fleet simulator's short-capture and sparse-fix spoofers, every window of their
/// generated trips as a short capture is judged (the sparse ones whole: their captures are
/// long enough), and its honest drivers' windows.
fn fleet(config: &TrackConfig, seeds: Vec<u64>) -> Result<()> {
    use datasets::fleet::{Behaviour, FleetConfig, simulate};
    let network = datasets::monaco()?;
    let graph = datasets::RoadGraph::new(&network);
    let mut by_behaviour: BTreeMap<&'static str, Measured> = BTreeMap::new();
    for &seed in &seeds {
        let fleet = simulate(
            &graph,
            &FleetConfig {
                seed,
                ..FleetConfig::default()
            },
        )?;
        for (device, trip) in fleet.trips() {
            let behaviour = device.behaviour;
            if !behaviour.is_generated() && behaviour != Behaviour::Honest {
                continue;
            }
            let fixes: Vec<&Fix> = trip.fixes.iter().collect();
            let measured = by_behaviour.entry(behaviour.tag()).or_default();
            if behaviour == Behaviour::SparseFixes {
                measured.add(&fixes, config);
            } else {
                for window in windows(&fixes, config) {
                    measured.add(window, config);
                }
            }
        }
    }
    println!("seeds {seeds:?}");
    println!("| device | windows judged generated | tiny share | pile-up | ceiling share |");
    println!("|---|---|---|---|---|");
    for (tag, measured) in by_behaviour {
        let honest = tag == "honest";
        println!(
            "| {tag} ({}) | {} |",
            if honest { "highest" } else { "lowest" },
            measured.row(honest)
        );
    }
    Ok(())
}
