//! Track checks, sequences and dedup decisions on real recordings.

use ingest::dedup::{DedupConfig, capture_duplicates, exact_repeats};
use ingest::geometry::distance_m;
use ingest::sequence::{SequenceConfig, split};
use ingest::track::{TrackConfig, check, median_speed_change};
use model::{Fix, FrameEntry, RejectReason, TimestampMs};

use crate::{entries, gpx_track, munich};

/// The server clock a day after the recording ended.
fn day_after(frames: &[FrameEntry]) -> TimestampMs {
    frames
        .last()
        .unwrap()
        .fix
        .time
        .saturating_add_ms(86_400_000)
}

fn count(verdicts: &[Option<RejectReason>], reason: RejectReason) -> usize {
    verdicts.iter().filter(|v| **v == Some(reason)).count()
}

#[test]
fn the_real_gps_jump_in_the_munich_drive_is_a_teleport_and_nothing_else_is() {
    let frames = entries(munich());
    let verdicts = check(&frames, day_after(&frames), &TrackConfig::default());
    let teleports: Vec<usize> = (0..frames.len())
        .filter(|&i| verdicts[i] == Some(RejectReason::Teleport))
        .collect();
    // The receiver jumps ≈ 470 m in one second at fix 619 (07:04:27) and carries on from
    // there: the jump and the fixes until the track is trusted again are flagged, no more.
    let recovery = TrackConfig::default().teleport_recovery;
    assert_eq!(teleports, (619..619 + recovery).collect::<Vec<_>>());
    let (a, b) = (&frames[618].fix, &frames[619].fix);
    let speed = distance_m(a, b) / (b.time.millis_since(a.time) as f64 / 1000.0);
    assert!(speed > 400.0, "{speed} m/s");
    // The rest of the 1 194 fixes is an ordinary city drive.
    let rejected = verdicts.iter().filter(|v| v.is_some()).count();
    assert_eq!(rejected, teleports.len(), "{verdicts:?}");
}

#[test]
fn weak_fixes_in_the_delft_drive_are_rejected_exactly_where_the_receiver_said_so() {
    let fixes = gpx_track("gps/gpsbabel_sbn-v13.gpx");
    assert_eq!(fixes.len(), 3453);
    let expected_weak = fixes
        .iter()
        .filter(|f| !f.fix_type.is_3d() || f.satellites < 4 || f.hdop > 4.0)
        .count();
    assert!(
        expected_weak > 100,
        "the recording has weak stretches: {expected_weak}"
    );
    let frames = entries(fixes);
    let verdicts = check(&frames, day_after(&frames), &TrackConfig::default());
    assert_eq!(count(&verdicts, RejectReason::PoorGnss), expected_weak);
    // Driving through Delft and The Hague at car speeds: no teleport, no zig-zag.
    assert_eq!(count(&verdicts, RejectReason::Teleport), 0);
    assert_eq!(count(&verdicts, RejectReason::SequenceTooFast), 0);
}

#[test]
fn sequences_split_on_real_gaps_and_never_span_one() {
    let frames = entries(gpx_track("gps/gpsbabel_sbn-v13.gpx"));
    let all: Vec<usize> = (0..frames.len()).collect();
    let config = SequenceConfig::default();
    let sequences = split(&frames, &all, &config);
    assert!(
        sequences.len() >= 2,
        "the drive has real gaps: {}",
        sequences.len()
    );
    assert_eq!(
        sequences.iter().map(|s| s.frames.len()).sum::<usize>(),
        frames.len()
    );
    for sequence in &sequences {
        for pair in sequence.frames.windows(2) {
            let (a, b) = (&frames[pair[0]].fix, &frames[pair[1]].fix);
            assert!(b.time.millis_since(a.time) <= config.max_gap_ms);
            assert!(distance_m(a, b) <= config.max_gap_m);
        }
    }
    // Consecutive sequences are separated by a real gap.
    for pair in sequences.windows(2) {
        let (a, b) = (
            &frames[*pair[0].frames.last().unwrap()].fix,
            &frames[pair[1].frames[0]].fix,
        );
        assert!(
            b.time.millis_since(a.time) > config.max_gap_ms || distance_m(a, b) > config.max_gap_m
        );
    }
    let total_km: f64 = sequences.iter().map(|s| s.length_m).sum::<f64>() / 1000.0;
    assert!(
        (30.0..45.0).contains(&total_km),
        "the drive is ≈ 37.5 km: {total_km}"
    );
    let line = sequences[0].line_string_geojson(&frames);
    assert!(
        line.starts_with(r#"{"type":"LineString","coordinates":[[4.3705501,51.9954543]"#),
        "{line}"
    );
}

#[test]
fn an_injected_spike_is_a_zig_zag_and_null_island_and_clock_errors_are_named() {
    let mut fixes = munich()[200..260].to_vec();
    // 60 m north and back within two seconds: slower than a teleport, still impossible.
    fixes[30].lat += 60.0 / 111_320.0;
    fixes[40].lat = 0.0;
    fixes[40].lon = 0.0;
    let now = fixes.last().unwrap().time.saturating_add_ms(60_000);
    fixes[50].time = now.saturating_add_ms(3_600_000);
    fixes[55].time = fixes[53].time;
    let frames = entries(fixes);
    let verdicts = check(&frames, now, &TrackConfig::default());
    assert_eq!(verdicts[30], Some(RejectReason::ZigZag));
    assert_eq!(verdicts[40], Some(RejectReason::NullIsland));
    assert_eq!(verdicts[50], Some(RejectReason::TimeInFuture));
    assert_eq!(verdicts[55], Some(RejectReason::TimeNotMonotonic));
    let too_old = check(
        &frames,
        now.saturating_add_ms(365 * 86_400_000),
        &TrackConfig::default(),
    );
    assert!(
        too_old
            .iter()
            .all(|v| *v == Some(RejectReason::TimeTooOld) || *v == Some(RejectReason::NullIsland))
    );
}

#[test]
fn a_parked_device_is_stationary_and_a_replayed_fast_track_is_too_fast() {
    // A device left running at a real parking spot of the Munich drive: the same fix every
    // 5 s for a minute.
    let drive = munich();
    let spot = drive
        .windows(2)
        .find(|w| distance_m(&w[0], &w[1]) < 0.01)
        .unwrap()[1];
    let parked: Vec<_> = (0..12)
        .map(|i| model::Fix {
            time: spot.time.saturating_add_ms(i * 5_000),
            ..spot
        })
        .collect();
    let frames = entries(parked.clone());
    let verdicts = check(&frames, day_after(&frames), &TrackConfig::default());
    assert!(
        verdicts
            .iter()
            .all(|v| *v == Some(RejectReason::Stationary)),
        "{verdicts:?}"
    );
    // Two keyframes 8 m apart a second apart are a moving car, not a parked one.
    let mut moving = parked[..2].to_vec();
    moving[1].lat += 8.0 / 111_320.0;
    moving[1].time = moving[0].time.saturating_add_ms(1_000);
    let frames = entries(moving);
    assert_eq!(
        check(&frames, day_after(&frames), &TrackConfig::default()),
        vec![None, None]
    );

    // The same drive with time compressed 20×: every fix-to-fix speed under the teleport
    // limit only where the car was slow, and the average far over 400 km/h.
    let mut fast = munich()[300..400].to_vec();
    let t0 = fast[0].time;
    for fix in &mut fast {
        fix.time = TimestampMs(t0.as_millis() + fix.time.millis_since(t0) / 20);
    }
    let frames = entries(fast);
    let verdicts = check(
        &frames,
        day_after(&frames),
        &TrackConfig {
            max_speed_mps: 1_000.0,
            ..TrackConfig::default()
        },
    );
    assert!(
        verdicts
            .iter()
            .all(|v| *v == Some(RejectReason::SequenceTooFast)),
        "{verdicts:?}"
    );
}

#[test]
fn standing_at_a_light_gives_capture_duplicates_and_repeated_images_exact_ones() {
    let mut frames = entries(munich()[..120].to_vec());
    frames[100].sha256 = frames[10].sha256;
    let mut verdicts = vec![None; frames.len()];
    exact_repeats(&frames, &mut verdicts);
    assert_eq!(verdicts[100], Some(RejectReason::ExactDuplicate));
    assert_eq!(verdicts.iter().filter(|v| v.is_some()).count(), 1);

    let all: Vec<usize> = (0..frames.len()).collect();
    let sequence = &split(&frames, &all, &SequenceConfig::default())[0];
    capture_duplicates(&frames, sequence, &DedupConfig::default(), &mut verdicts);
    let standing = frames
        .windows(2)
        .filter(|w| distance_m(&w[0].fix, &w[1].fix) <= 1.0)
        .count();
    let duplicates = verdicts
        .iter()
        .filter(|v| **v == Some(RejectReason::CaptureDuplicate))
        .count();
    assert!(
        standing > 10,
        "the car stands still in the first two minutes: {standing}"
    );
    // Standing still makes duplicates; creeping forward resets the reference now and then.
    assert!(
        duplicates * 10 >= standing * 9 && duplicates <= standing,
        "{duplicates} vs {standing}"
    );
    // No kept frame is within 1 m of the kept frame before it.
    let kept: Vec<usize> = (0..frames.len())
        .filter(|&i| verdicts[i].is_none())
        .collect();
    for pair in kept.windows(2) {
        assert!(distance_m(&frames[pair[0]].fix, &frames[pair[1]].fix) > 1.0);
    }
}

#[test]
fn a_cold_start_glitch_costs_only_the_first_fix() {
    let mut fixes = munich()[100..140].to_vec();
    // The receiver's very first fix lands 2 km away; the real track follows.
    fixes[0].lat += 2_000.0 / 111_320.0;
    let frames = entries(fixes);
    let verdicts = check(&frames, day_after(&frames), &TrackConfig::default());
    assert_eq!(verdicts[0], Some(RejectReason::Teleport));
    assert!(
        verdicts[1..]
            .iter()
            .all(|v| v.is_none() || *v == Some(RejectReason::CaptureDuplicate)),
        "{verdicts:?}"
    );
}

/// The Munich drive's route, driven again by a generator: positions along the real fixes'
/// polyline at a set speed, one per second, to `decimals` decimal places.
fn forged_along_munich(speed_mps: f64, decimals: i32) -> Vec<Fix> {
    let route = munich();
    let scale = 10f64.powi(decimals);
    let round = |value: f64| (value * scale).round() / scale;
    let mut forged = Vec::new();
    let mut travelled = 0.0;
    let mut next_at = 0.0;
    // Up to the receiver's real jump at fix 619, which is not a road.
    for pair in route[..619].windows(2) {
        let leg = distance_m(&pair[0], &pair[1]);
        while next_at <= travelled + leg && leg > 0.0 {
            let t = (next_at - travelled) / leg;
            let second = forged.len() as i64;
            forged.push(Fix {
                time: route[0].time.saturating_add_ms(second * 1000),
                lat: round(pair[0].lat + t * (pair[1].lat - pair[0].lat)),
                lon: round(pair[0].lon + t * (pair[1].lon - pair[0].lon)),
                ..route[0]
            });
            next_at += speed_mps;
        }
        travelled += leg;
    }
    forged
}

#[test]
fn real_receivers_are_noisy_and_a_generated_track_is_not() {
    let config = TrackConfig::default();
    let median = |fixes: Vec<Fix>| median_speed_change(&fixes, &config);
    // Every real car recording in datasets/: the speed moves by far more than the threshold
    // from one step to the next, and no frame is called synthetic — the Višnjan GPX too, a
    // Garmin's "smart recording" with a point every few seconds to a minute.
    for (name, fixes) in [
        ("munich", munich()),
        ("delft", gpx_track("gps/gpsbabel_sbn-v13.gpx")),
        ("mtk", gpx_track("gps/gpsbabel_mtk_logger_m241.gpx")),
        (
            "visnjan",
            gpx_track("gps/gpxpy_around-visnjan-with-car.gpx"),
        ),
    ] {
        let real = median(fixes.clone());
        let changes = ingest::track::speed_changes(&fixes, &config);
        eprintln!(
            "{name}: {} judged steps, median speed change {real:?} m/s",
            changes.len()
        );
        assert!(
            real.is_some_and(|real| real > 4.0 * config.synthetic_max_speed_change_mps),
            "{name}: {real:?}"
        );
        // No stretch of the drive is too smooth either: a device is judged by its newest
        // steps, wherever they end.
        let tiny = |w: &[f64]| {
            w.iter()
                .filter(|&&c| c < config.synthetic_max_speed_change_mps)
                .count()
        };
        let worst = changes
            .windows(config.synthetic_min_steps)
            .map(tiny)
            .max()
            .unwrap_or(0);
        eprintln!(
            "{name}: at most {worst} tiny changes in any {}",
            config.synthetic_min_steps
        );
        assert!(
            !changes
                .windows(config.synthetic_min_steps)
                .any(|w| ingest::track::too_smooth(w, &config)),
            "{name}"
        );
        // Nor does any stretch run into a speed ceiling when thinned to a fix every 2, 5 or
        // 10 s, as a sparse logger would record it: the fastest steps of a real car are
        // the tail of its driving and its noise.
        for every in [1, 2, 5, 10] {
            let thinned: Vec<Fix> = fixes.iter().step_by(every).copied().collect();
            let worst = thinned
                .windows(40.min(thinned.len()))
                .filter_map(|window| ingest::track::speed_ceiling(window, &config))
                .map(|(at, _)| at)
                .max();
            eprintln!("{name}, a fix every {every}: at most {worst:?} steps at the ceiling");
            assert!(
                worst.is_none_or(|at| at <= 3),
                "{name} every {every}: {worst:?}"
            );
            let frames = entries(thinned);
            let verdicts = check(&frames, day_after(&frames), &config);
            assert_eq!(count(&verdicts, RejectReason::SyntheticTrack), 0, "{name}");
        }
    }
    // The same road, generated at a set speed: no noise, every frame rejected.
    for decimals in [15, 7] {
        let forged = forged_along_munich(12.0, decimals);
        let smooth = median_speed_change(&forged, &config).unwrap();
        let forged = entries(forged);
        eprintln!("forged to {decimals} decimals: median speed change {smooth:.4} m/s");
        let verdicts = check(&forged, day_after(&forged), &config);
        let others: Vec<_> = verdicts
            .iter()
            .filter(|v| **v != Some(RejectReason::SyntheticTrack))
            .collect();
        assert!(
            others.is_empty(),
            "{decimals} decimals: {smooth}: {others:?}"
        );
    }
}

#[test]
fn the_simulated_fleets_receivers_are_noisy_enough_to_pass() {
    let network = datasets::monaco().unwrap();
    let graph = datasets::RoadGraph::new(&network);
    let fleet = datasets::fleet::simulate(
        &graph,
        &datasets::fleet::FleetConfig {
            drivers: 3,
            days: 2,
            ..datasets::fleet::FleetConfig::default()
        },
    )
    .unwrap();
    let config = TrackConfig::default();
    let mut judged = 0;
    for (_, trip) in fleet.trips().filter(|(d, _)| !d.behaviour.is_dishonest()) {
        let frames = entries(trip.fixes.clone());
        let verdicts = check(&frames, day_after(&frames), &config);
        assert_eq!(count(&verdicts, RejectReason::SyntheticTrack), 0);
        let changes = ingest::track::speed_changes(&trip.fixes, &config);
        assert!(
            !changes
                .windows(config.synthetic_min_steps)
                .any(|w| ingest::track::too_smooth(w, &config))
        );
        judged += usize::from(changes.len() >= config.synthetic_min_steps);
    }
    assert!(judged > 0, "some trips are long enough to be judged");
}
