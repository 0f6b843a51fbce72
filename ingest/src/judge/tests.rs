//! Table tests of the judge: one capture and one context per row, the verdicts expected.

use model::{FixType, RejectReason as R};

use crate::overlap::SHARED_TRACK_MAX_DISTANCE_M;

use super::*;

const NOW: TimestampMs = TimestampMs(1_790_000_000_000);
const HOUR: i64 = 3_600_000;
/// Metres per degree of latitude (the tracks run north).
const M_PER_DEG: f64 = 111_195.0;

/// A deterministic noise in -1..1 (a receiver's wander stand-in), from a counter.
fn wobble(n: i64) -> f64 {
    // SplitMix64's finaliser: neighbouring counters give unrelated values.
    let mut z = (n as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((z >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

/// `seconds` fixes a second apart, from `start` (ms) at `north_m` metres north of a base
/// point, driving north at 12 m/s; `noise_m` of position noise per fix (0: generated).
fn drive(start: i64, seconds: i64, north_m: f64, noise_m: f64) -> Vec<Fix> {
    (0..seconds)
        .map(|s| {
            let along = north_m + 12.0 * s as f64 + noise_m * wobble(start / 1000 + s);
            let across = noise_m * wobble(start / 1000 + s + 7_777);
            Fix {
                time: TimestampMs(start + s * 1000),
                lat: 43.70 + along / M_PER_DEG,
                lon: 7.40 + across / (M_PER_DEG * 0.72),
                alt: None,
                heading: None,
                speed: None,
                fix_type: FixType::Fix3d,
                satellites: 9,
                hdop: 0.9,
            }
        })
        .collect()
}

fn entries(fixes: &[Fix], salt: u8) -> Vec<FrameEntry> {
    fixes
        .iter()
        .enumerate()
        .map(|(i, fix)| FrameEntry {
            sha256: FrameId::of_bytes(&[salt, (i >> 8) as u8, i as u8]),
            fix: *fix,
        })
        .collect()
}

fn device(n: u128) -> DeviceId {
    format!("00000000-0000-0000-0000-{n:012}").parse().unwrap()
}

fn empty_context() -> Context {
    Context {
        now: NOW,
        device: device(1),
        closed_until: None,
        own_around: Vec::new(),
        history: Vec::new(),
        later: Vec::new(),
        others_near: Vec::new(),
        stored: Vec::new(),
        first_uploaders: Vec::new(),
    }
}

fn count(verdicts: &Verdicts, reason: R) -> usize {
    verdicts.iter().filter(|v| **v == Some(reason)).count()
}

/// A capture an hour before the server clock: 30 noisy seconds.
fn honest_capture() -> Vec<FrameEntry> {
    entries(&drive(NOW.0 - HOUR, 30, 0.0, 1.5), 1)
}

#[test]
fn each_row_of_the_table_gets_its_reason() {
    let capture = honest_capture();
    let start = capture[0].fix.time;
    let far = drive(start.0, 30, 90_000.0, 1.5); // the same seconds, 90 km north
    // (what the context holds, the reason every frame should get; None: all pass)
    let rows: Vec<(&str, Context, Option<R>)> = vec![
        ("nothing known", empty_context(), None),
        (
            "inside a closed epoch",
            Context {
                closed_until: Some(start.saturating_add_ms(HOUR)),
                ..empty_context()
            },
            Some(R::TimeTooOld),
        ),
        (
            "a closed epoch before",
            Context {
                closed_until: Some(start.saturating_add_ms(-1)),
                ..empty_context()
            },
            None,
        ),
        (
            "the same key 90 km away at the same seconds",
            Context {
                own_around: far.clone(),
                ..empty_context()
            },
            Some(R::ClonedKey),
        ),
        (
            "the last capture ended 20 min ago 200 km away",
            Context {
                history: drive(start.0 - 20 * 60_000, 30, 200_000.0, 1.5),
                ..empty_context()
            },
            Some(R::Teleport),
        ),
        (
            "the last capture ended 20 min ago 5 km away",
            Context {
                history: drive(start.0 - 20 * 60_000, 30, 5_000.0, 1.5),
                ..empty_context()
            },
            None,
        ),
        (
            "the last capture, far away, was two hours ago",
            Context {
                history: drive(start.0 - 2 * HOUR, 30, 900_000.0, 1.5),
                ..empty_context()
            },
            None,
        ),
        (
            "the next capture starts 20 min after it 200 km away (sent first)",
            Context {
                later: drive(start.0 + 20 * 60_000, 30, 200_000.0, 1.5),
                ..empty_context()
            },
            Some(R::Teleport),
        ),
        (
            "the next capture starts 20 min after it 5 km away",
            Context {
                later: drive(start.0 + 20 * 60_000, 30, 5_000.0, 1.5),
                ..empty_context()
            },
            None,
        ),
        (
            "the next capture, far away, is two hours after it",
            Context {
                later: drive(start.0 + 2 * HOUR, 30, 900_000.0, 1.5),
                ..empty_context()
            },
            None,
        ),
        (
            "another device on the same track",
            Context {
                others_near: drive(start.0, 30, 0.0, 1.5),
                ..empty_context()
            },
            Some(R::SharedTrack),
        ),
        (
            "another device's bytes",
            Context {
                first_uploaders: capture.iter().map(|e| (e.sha256, device(2))).collect(),
                ..empty_context()
            },
            Some(R::Replay),
        ),
        (
            "stored before by this device, for another moment",
            Context {
                stored: capture
                    .iter()
                    .map(|e| StoredFrame {
                        frame: e.sha256,
                        device: device(1),
                        time: e.fix.time.saturating_add_ms(-86_400_000),
                    })
                    .collect(),
                ..empty_context()
            },
            Some(R::Replay),
        ),
        (
            "stored before by this device, for the same moment",
            Context {
                stored: capture
                    .iter()
                    .map(|e| StoredFrame {
                        frame: e.sha256,
                        device: device(1),
                        time: e.fix.time,
                    })
                    .collect(),
                ..empty_context()
            },
            Some(R::ExactDuplicate),
        ),
    ];
    for (name, context, expected) in rows {
        let verdicts = judge(&capture, &context, &TrackConfig::default());
        let wanted: Verdicts = vec![expected; capture.len()];
        assert_eq!(verdicts, wanted, "{name}");
    }
}

#[test]
fn a_generated_track_cut_into_short_captures_is_judged_with_its_predecessors() {
    let config = TrackConfig::default();
    // 8 generated seconds: too short to be judged alone.
    let short = entries(&drive(NOW.0 - HOUR, 8, 0.0, 0.0), 2);
    let alone = judge(&short, &empty_context(), &config);
    assert!(alone.iter().all(Option::is_none), "{alone:?}");
    // After 60 generated seconds the device sent just before: forged.
    let before = drive(NOW.0 - HOUR - 61_000, 60, -732.0, 0.0);
    let with_history = Context {
        history: before,
        ..empty_context()
    };
    let verdicts = judge(&short, &with_history, &config);
    assert_eq!(count(&verdicts, R::SyntheticTrack), short.len());
    // After 60 seconds a real receiver drove (noisy): the short capture is judged with them
    // and passes. Noise in a short capture does not clean a device whose newest fixes
    // before it were generated: they are judged together.
    let noisy_before = Context {
        history: drive(NOW.0 - HOUR - 61_000, 60, -732.0, 1.5),
        ..empty_context()
    };
    let noisy = entries(&drive(NOW.0 - HOUR, 8, 0.0, 1.5), 3);
    assert!(
        judge(&noisy, &noisy_before, &config)
            .iter()
            .all(Option::is_none)
    );
    let mixed = judge(&noisy, &with_history, &config);
    assert_eq!(count(&mixed, R::SyntheticTrack), noisy.len(), "{mixed:?}");
    // Two-frame captures, one after another: still judged, with the history.
    let pair = entries(&drive(NOW.0 - HOUR, 2, 0.0, 0.0), 4);
    let verdicts = judge(&pair, &with_history, &config);
    assert_eq!(count(&verdicts, R::SyntheticTrack), 2, "{verdicts:?}");
    // Sent newest first: the short capture is judged with the generated seconds after it,
    // and with both when the history alone is too short.
    let with_later = Context {
        later: drive(NOW.0 - HOUR + 9_000, 60, 108.0, 0.0),
        ..empty_context()
    };
    let verdicts = judge(&short, &with_later, &config);
    assert_eq!(
        count(&verdicts, R::SyntheticTrack),
        short.len(),
        "{verdicts:?}"
    );
    let both_sides = Context {
        history: drive(NOW.0 - HOUR - 31_000, 30, -372.0, 0.0),
        later: drive(NOW.0 - HOUR + 9_000, 30, 108.0, 0.0),
        ..empty_context()
    };
    let verdicts = judge(&short, &both_sides, &config);
    assert_eq!(
        count(&verdicts, R::SyntheticTrack),
        short.len(),
        "{verdicts:?}"
    );
    // A real receiver's seconds after it: passes.
    let noisy_after = Context {
        later: drive(NOW.0 - HOUR + 9_000, 60, 108.0, 1.5),
        ..empty_context()
    };
    assert!(
        judge(&noisy, &noisy_after, &config)
            .iter()
            .all(Option::is_none)
    );
}

/// A generated track (no noise) at 25 m/s with a fix every `every_ms` for `seconds` from
/// `start` (ms), from `north_m` metres north of the base point.
fn dense(start: i64, seconds: i64, every_ms: i64, north_m: f64) -> Vec<Fix> {
    let base = drive(start, 1, 0.0, 0.0)[0];
    (0..seconds * 1000 / every_ms)
        .map(|i| {
            let along = north_m + 25.0 * (i * every_ms) as f64 / 1000.0;
            Fix {
                time: TimestampMs(start + i * every_ms),
                lat: 43.70 + along / M_PER_DEG,
                ..base
            }
        })
        .collect()
}

#[test]
fn history_is_read_a_fix_a_second() {
    // Twenty frames a second for 700 s, then two seconds with one frame each.
    let mut fixes = dense(NOW.0 - HOUR, 700, 50, 0.0);
    fixes.push(drive(NOW.0 - HOUR + 700_300, 1, 0.0, 0.0)[0]);
    fixes.push(drive(NOW.0 - HOUR + 701_000, 1, 0.0, 0.0)[0]);
    let history = history_of(&fixes);
    assert_eq!(history.len(), HISTORY_SECONDS as usize);
    // The newest fix of each second, the newest seconds, in time order.
    assert_eq!(
        history.last().unwrap().time,
        TimestampMs(NOW.0 - HOUR + 701_000)
    );
    assert_eq!(
        history[history.len() - 2].time,
        TimestampMs(NOW.0 - HOUR + 700_300)
    );
    assert_eq!(
        history[history.len() - 3].time,
        TimestampMs(NOW.0 - HOUR + 699_950)
    );
    assert_eq!(history[0].time, TimestampMs(NOW.0 - HOUR + 102_950));
    assert!(history.windows(2).all(|pair| pair[0].time < pair[1].time));
    // Any order in, the same out; nothing in, nothing out.
    let mut shuffled = fixes.clone();
    shuffled.reverse();
    assert_eq!(history_of(&shuffled), history);
    assert!(history_of(&[]).is_empty());
    // After a capture: the first fix of each second, the first seconds.
    let later = later_of(&shuffled);
    assert_eq!(later.len(), HISTORY_SECONDS as usize);
    assert_eq!(later[0].time, TimestampMs(NOW.0 - HOUR));
    assert_eq!(later[1].time, TimestampMs(NOW.0 - HOUR + 1_000));
    assert_eq!(later[599].time, TimestampMs(NOW.0 - HOUR + 599_000));
    assert!(later.windows(2).all(|pair| pair[0].time < pair[1].time));
    assert!(later_of(&[]).is_empty());
}

#[test]
fn many_frames_a_second_do_not_shrink_a_short_captures_history() {
    let config = TrackConfig::default();
    // A generated track sent at twenty frames a second (1.25 m apart at 25 m/s, so no two
    // are duplicates): 90 s before, then a capture of 20 s.
    let before = dense(NOW.0 - HOUR - 90_000, 90, 50, -2_250.0);
    let short = entries(&dense(NOW.0 - HOUR, 20, 50, 0.0), 5);
    // The newest 600 frames before it are its last 30 s: with the capture's 20, too few
    // steps to judge.
    let newest_frames = Context {
        history: before[before.len() - 600..].to_vec(),
        ..empty_context()
    };
    let verdicts = judge(&short, &newest_frames, &config);
    assert!(verdicts.iter().all(Option::is_none), "{verdicts:?}");
    // Read a fix a second, the history holds all 90 s: the capture is judged and forged.
    let by_the_second = Context {
        history: history_of(&before),
        ..empty_context()
    };
    let verdicts = judge(&short, &by_the_second, &config);
    assert_eq!(
        count(&verdicts, R::SyntheticTrack),
        short.len(),
        "{verdicts:?}"
    );
}

#[test]
fn sparse_generated_fixes_are_judged_and_sparse_real_ones_pass() {
    let config = TrackConfig::default();
    // A fix every 5 s at a set speed: 70 judged steps, none with noise.
    let sparse: Vec<Fix> = drive(NOW.0 - 2 * HOUR, 360, 0.0, 0.0)
        .into_iter()
        .step_by(5)
        .collect();
    let verdicts = judge(&entries(&sparse, 5), &empty_context(), &config);
    assert_eq!(count(&verdicts, R::SyntheticTrack), sparse.len());
    // The same with a receiver's noise: passes.
    let noisy: Vec<Fix> = drive(NOW.0 - 2 * HOUR, 360, 0.0, 1.5)
        .into_iter()
        .step_by(5)
        .collect();
    let verdicts = judge(&entries(&noisy, 6), &empty_context(), &config);
    assert!(verdicts.iter().all(Option::is_none), "{verdicts:?}");
}

#[test]
fn bytes_listed_twice_and_a_frame_that_did_not_move_are_duplicates() {
    let mut capture = honest_capture();
    capture[5].sha256 = capture[4].sha256;
    let mut stopped = capture[10].fix;
    stopped.time = stopped.time.saturating_add_ms(500);
    capture.insert(
        11,
        FrameEntry {
            sha256: FrameId::of_bytes(b"stopped"),
            fix: stopped,
        },
    );
    let verdicts = judge(&capture, &empty_context(), &TrackConfig::default());
    assert_eq!(verdicts[5], Some(R::ExactDuplicate));
    assert_eq!(verdicts[11], Some(R::CaptureDuplicate));
    assert_eq!(verdicts.iter().filter(|v| v.is_some()).count(), 2);
}

#[test]
fn needs_cover_the_capture_and_skip_the_others_when_nothing_passes() {
    let capture = honest_capture();
    let config = TrackConfig::default();
    let needs = Needs::of(&capture, NOW, &config);
    let (first, last) = (capture[0].fix.time, capture[29].fix.time);
    let moments: Vec<TimestampMs> = capture.iter().map(|entry| entry.fix.time).collect();
    assert_eq!(needs.own_moments, moments);
    assert_eq!(needs.history_before, first);
    assert_eq!(needs.later_after, last);
    assert_eq!(needs.frames.len(), capture.len());
    // Each frame's own cell and its ring, from a second before it to a second after.
    for entry in &capture {
        let cell = u64::from(entry.fix.cell(model::COVERAGE_RESOLUTION).unwrap());
        let window = needs
            .others
            .iter()
            .find(|(c, start, end)| {
                *c == cell && *start <= entry.fix.time && entry.fix.time <= *end
            })
            .unwrap();
        assert!(window.1 <= entry.fix.time.saturating_add_ms(-1_000));
        assert!(window.2 >= entry.fix.time.saturating_add_ms(1_000));
    }
    // Every fix at null island: no track to look for other devices on.
    let mut nowhere = capture.clone();
    for entry in &mut nowhere {
        entry.fix.lat = 0.0;
        entry.fix.lon = 0.0;
    }
    let needs = Needs::of(&nowhere, NOW, &config);
    assert!(needs.others.is_empty() && needs.own_moments.is_empty());
}

#[test]
fn a_frame_whose_own_exif_says_elsewhere_another_time_or_another_camera_disagrees() {
    use model::photo::PhotoTags;
    let claimed = drive(NOW.0 - HOUR, 1, 0.0, 0.0)[0];
    let at = |north_m: f64, seconds: i64| {
        let mut fix = drive(NOW.0 - HOUR + seconds * 1000, 1, north_m, 0.0)[0];
        fix.time = claimed.time.saturating_add_ms(seconds * 1000);
        fix
    };
    let rows: Vec<(&str, PhotoTags, Option<R>)> = vec![
        ("no EXIF at all", PhotoTags::default(), None),
        (
            "its own fix, metres off and a second later",
            PhotoTags {
                fix: Some(at(8.0, 1)),
                gps_time: Some(claimed.time.saturating_add_ms(1000)),
                taken: None,
                camera: None,
            },
            None,
        ),
        (
            "a fix 300 m away",
            PhotoTags {
                fix: Some(at(300.0, 0)),
                gps_time: Some(claimed.time),
                taken: None,
                camera: None,
            },
            Some(R::PhotoMismatch),
        ),
        (
            "the right place, the day before (UTC)",
            PhotoTags {
                fix: Some(at(0.0, 0)),
                gps_time: Some(claimed.time.saturating_add_ms(-86_400_000)),
                taken: None,
                camera: None,
            },
            Some(R::PhotoMismatch),
        ),
        (
            "a local DateTimeOriginal hours off, no GPS time: not compared",
            PhotoTags {
                fix: None,
                gps_time: None,
                taken: Some(claimed.time.saturating_add_ms(2 * HOUR)),
                camera: None,
            },
            None,
        ),
    ];
    for (name, tags, expected) in rows {
        assert_eq!(
            photo_disagrees(&tags, &claimed, "waymark-agent 0.4.1"),
            expected,
            "{name}"
        );
    }
    // The right place and time; the camera is what differs.
    let cameras = [
        (
            "the camera the manifest declares, the agent a version on",
            "waymark-agent 0.4.1",
            "waymark-agent 0.5.0",
            None,
        ),
        (
            "the declared model under its maker's name",
            "HDR-AS300",
            "SONY HDR-AS300",
            None,
        ),
        ("no camera declared", "", "GoPro HERO9 Black", None),
        (
            "another camera's footage",
            "waymark-agent 0.4.1",
            "GoPro HERO9 Black",
            Some(R::PhotoMismatch),
        ),
    ];
    for (name, declared, named, expected) in cameras {
        let tags = PhotoTags {
            fix: Some(at(0.0, 0)),
            gps_time: Some(claimed.time),
            taken: None,
            camera: Some(named.to_owned()),
        };
        assert_eq!(
            photo_disagrees(&tags, &claimed, declared),
            expected,
            "{name}"
        );
    }
}

/// A generated track along a winding road: legs of about `legs` metres, turning left and
/// right alternately by up to `turn_deg` (each corner its own, as real roads do), at
/// 12 m/s with a fix every `every_s` seconds, `noise_m` of receiver noise.
fn winding(start: i64, legs: &[f64], turn_deg: f64, every_s: i64, noise_m: f64) -> Vec<Fix> {
    // The road's corners, metres east and north of the base point.
    let mut corners = vec![(0.0_f64, 0.0_f64)];
    let mut heading = 0.0_f64;
    for (n, leg) in legs.iter().cycle().take(60).enumerate() {
        let (east, north) = *corners.last().unwrap();
        let leg = leg * (1.0 + 0.3 * wobble(n as i64 + 500));
        corners.push((
            east + leg * heading.to_radians().sin(),
            north + leg * heading.to_radians().cos(),
        ));
        let turn = turn_deg * (0.6 + 0.4 * wobble(n as i64 + 900).abs());
        heading += if n % 2 == 0 { turn } else { -turn };
    }
    let mut fixes = Vec::new();
    let (mut travelled, mut next_at) = (0.0, 0.0);
    for pair in corners.windows(2) {
        let leg = ((pair[1].0 - pair[0].0).powi(2) + (pair[1].1 - pair[0].1).powi(2)).sqrt();
        while next_at <= travelled + leg {
            let t = (next_at - travelled) / leg;
            let n = fixes.len() as i64;
            let seconds = start / 1000 + n * every_s;
            let east = pair[0].0 + t * (pair[1].0 - pair[0].0) + noise_m * wobble(seconds);
            let north = pair[0].1 + t * (pair[1].1 - pair[0].1) + noise_m * wobble(seconds + 7);
            fixes.push(Fix {
                time: TimestampMs(start + n * every_s * 1000),
                lat: ((43.70 + north / M_PER_DEG) * 1e7).round() / 1e7,
                lon: ((7.40 + east / (M_PER_DEG * 0.72)) * 1e7).round() / 1e7,
                ..drive(start, 1, 0.0, 0.0)[0]
            });
            next_at += 12.0 * every_s as f64;
        }
        travelled += leg;
    }
    fixes
}

#[test]
fn a_sparse_generated_track_on_a_winding_road_runs_into_its_speed_ceiling() {
    let config = TrackConfig::default();
    let road = [100.0, 30.0, 30.0, 30.0];
    // A fix every 5 s: most steps cut a corner, so too few are straight for the changes of
    // speed to be too smooth or for one speed to hold a third of the steps…
    let forged = winding(NOW.0 - 2 * HOUR, &road, 25.0, 5, 0.0);
    let changes = crate::track::speed_changes(&forged, &config);
    assert!(!crate::track::too_smooth(&changes, &config), "{changes:?}");
    let pile = crate::track::speed_pile_up(&forged, &config);
    assert!(
        pile.is_none_or(|pile| pile < config.synthetic_min_pile_up),
        "{pile:?}"
    );
    // …but no step is faster than the set speed, and every straight one is at it.
    let (at, share) = crate::track::speed_ceiling(&forged, &config).unwrap();
    assert!(at >= config.synthetic_min_at_ceiling, "{at}");
    assert!(share >= config.synthetic_min_ceiling_share, "{share}");
    let verdicts = judge(&entries(&forged, 7), &empty_context(), &config);
    assert_eq!(count(&verdicts, R::SyntheticTrack), forged.len());
    // The same road with a receiver's noise passes.
    let real = winding(NOW.0 - 2 * HOUR, &road, 25.0, 5, 1.5);
    let verdicts = judge(&entries(&real, 8), &empty_context(), &config);
    assert!(verdicts.iter().all(Option::is_none), "{verdicts:?}");
}

/// `seconds` fixes a second apart, from `start` (ms), driving north on cruise control as a
/// receiver that blends its fixes with motion sensors reports it (a u-blox NEO-M8U on a
/// highway, `ingest` example `real_receivers`): the speed holds near 30 m/s, each second
/// moved by a few cm/s and drawn back to the set speed, and the position barely jitters.
fn cruise(start: i64, seconds: i64) -> Vec<Fix> {
    let mut speed = 30.0;
    let mut along = 0.0;
    (0..seconds)
        .map(|s| {
            if s > 0 {
                along += speed;
                speed = 30.0 + 0.95 * (speed - 30.0) + 0.09 * wobble(start / 1000 + s);
            }
            Fix {
                time: TimestampMs(start + s * 1000),
                lat: ((43.70 + along / M_PER_DEG) * 1e7).round() / 1e7,
                lon: 7.40,
                ..drive(start, 1, 0.0, 0.0)[0]
            }
        })
        .collect()
}

/// Such a receiver on cruise control makes long runs of tiny changes of speed (which once
/// rejected 4 of its 48 real captures), but over a minute its speeds spread as no set-speed
/// generator's do: five minutes of it pass, alone and as short captures judged with the
/// device's fixes before them, while the same road generated at a set speed is rejected.
#[test]
fn a_sensor_blended_receiver_on_cruise_control_is_not_a_generated_track() {
    let config = TrackConfig::default();
    let start = NOW.0 - 2 * HOUR;
    let real = cruise(start, 300);
    let changes = crate::track::speed_changes(&real, &config);
    let longest_run = changes
        .iter()
        .scan(0, |run, change| {
            *run = if *change < config.synthetic_max_speed_change_mps {
                *run + 1
            } else {
                0
            };
            Some(*run)
        })
        .max()
        .unwrap();
    assert!(
        longest_run >= 10,
        "the case a run rule gets wrong: {longest_run}"
    );
    let verdicts = judge(&entries(&real, 9), &empty_context(), &config);
    assert!(verdicts.iter().all(Option::is_none), "{verdicts:?}");
    // The last 20 s as a short capture, judged with the device's 280 s before it.
    let context = Context {
        history: real[..280].to_vec(),
        ..empty_context()
    };
    let verdicts = judge(&entries(&real[280..], 10), &context, &config);
    assert!(verdicts.iter().all(Option::is_none), "{verdicts:?}");
    // Generated at 30 m/s on the same road: every frame rejected, alone or as a short
    // capture after generated history.
    let forged: Vec<Fix> = (0..300)
        .map(|s| Fix {
            time: TimestampMs(start + s * 1000),
            lat: ((43.70 + 30.0 * s as f64 / M_PER_DEG) * 1e7).round() / 1e7,
            lon: 7.40,
            ..drive(start, 1, 0.0, 0.0)[0]
        })
        .collect();
    let verdicts = judge(&entries(&forged, 11), &empty_context(), &config);
    assert_eq!(count(&verdicts, R::SyntheticTrack), forged.len());
    let context = Context {
        history: forged[..280].to_vec(),
        ..empty_context()
    };
    let verdicts = judge(&entries(&forged[280..], 12), &context, &config);
    assert_eq!(count(&verdicts, R::SyntheticTrack), 20);
}

/// Whatever another device's fix `shared_track` would count (within 2.5 m and a second of a
/// frame) lies in a window `Needs::of` asks for: sampled around frames at latitudes from the
/// equator to the far north, in every direction, at the edge of the radius.
#[test]
fn every_fix_the_shared_track_check_counts_lies_in_a_window_asked_for() {
    for (n, lat) in [0.0, 23.4, 43.7, 52.5, 64.1, 78.2].into_iter().enumerate() {
        let mut frames = drive(NOW.0 - HOUR, 40, 0.0, 1.5);
        for fix in &mut frames {
            fix.lat += lat - 43.70;
            fix.lon += 0.37 * n as f64;
        }
        let windows = cell_windows(frames.iter());
        for (k, frame) in frames.iter().enumerate() {
            for step in 0..24 {
                let bearing = (step as f64 * 15.0 + wobble(k as i64) * 7.5).to_radians();
                let metres = SHARED_TRACK_MAX_DISTANCE_M * (0.95 + 0.05 * wobble(step));
                let north = metres * bearing.cos() / M_PER_DEG;
                let east = metres * bearing.sin() / (M_PER_DEG * frame.lat.to_radians().cos());
                let dt = [-SHARED_TRACK_MAX_GAP_MS, 0, SHARED_TRACK_MAX_GAP_MS][step as usize % 3];
                let other = Fix {
                    time: frame.time.saturating_add_ms(dt),
                    lat: frame.lat + north,
                    lon: frame.lon + east,
                    ..*frame
                };
                assert!(distance_m(frame, &other) <= SHARED_TRACK_MAX_DISTANCE_M);
                let cell = u64::from(other.cell(model::COVERAGE_RESOLUTION).unwrap());
                assert!(
                    windows.iter().any(|(c, start, end)| *c == cell
                        && *start <= other.time
                        && other.time <= *end),
                    "lat {lat}: a fix {metres:.2} m from frame {k} is in no window"
                );
            }
        }
    }
}

/// What a capture asks of other devices' frames grows with its frames, not with its time
/// span or extent: 1 000 frames an hour apart spread over 40 km ask for a few cells of two
/// seconds around each frame; a drive's frames sharing a cell within seconds share windows.
#[test]
fn the_cells_asked_for_grow_with_the_frames_not_the_span() {
    let spread: Vec<Fix> = (0..1_000)
        .map(|i| Fix {
            time: TimestampMs(NOW.0 - 1_000 * HOUR + i * HOUR),
            lat: 43.70 + (i % 40) as f64 * 0.009,
            lon: 7.40 + (i / 40) as f64 * 0.013,
            ..drive(0, 1, 0.0, 0.0)[0]
        })
        .collect();
    let windows = cell_windows(spread.iter());
    assert!(windows.len() <= 7 * spread.len(), "{}", windows.len());
    let longest = windows
        .iter()
        .map(|(_, start, end)| end.millis_since(*start))
        .max()
        .unwrap();
    assert_eq!(longest, 2 * SHARED_TRACK_MAX_GAP_MS);
    // Frames 0.4 s apart within a cell: one window for the cell, not one a frame.
    let still: Vec<Fix> = (0..10)
        .map(|i| Fix {
            time: TimestampMs(NOW.0 - HOUR + i * 400),
            ..drive(0, 1, 0.0, 0.0)[0]
        })
        .collect();
    let windows = cell_windows(still.iter());
    assert_eq!(windows.len(), 7);
    assert!(
        windows
            .iter()
            .all(|(_, start, end)| end.millis_since(*start) == 3_600 + 2_000)
    );
}

/// The device's own frames a capture is compared with: the nearest on each side of each
/// frame's moment within two minutes (every frame of that millisecond), nothing between.
#[test]
fn the_own_frames_read_are_the_nearest_on_each_side_of_each_moment() {
    let at = |ms: i64| TimestampMs(NOW.0 - HOUR + ms);
    let stored: Vec<Fix> = [0, 10_000, 20_000, 20_000, 30_000, 200_000, 500_000]
        .iter()
        .enumerate()
        .map(|(i, ms)| Fix {
            time: at(*ms),
            lat: 43.70 + i as f64 * 1e-4,
            ..drive(0, 1, 0.0, 0.0)[0]
        })
        .collect();
    let times = |moments: &[i64]| -> Vec<i64> {
        let moments: Vec<TimestampMs> = moments.iter().map(|ms| at(*ms)).collect();
        nearest_around(&stored, &moments)
            .iter()
            .map(|fix| fix.time.0 - at(0).0)
            .collect()
    };
    assert_eq!(times(&[15_000]), [10_000, 20_000, 20_000]);
    assert_eq!(times(&[20_000]), [10_000, 20_000, 20_000]);
    assert_eq!(times(&[25_000, 26_000]), [20_000, 20_000, 30_000]);
    // Two minutes on either side at most; a moment with nothing near reads nothing.
    assert_eq!(times(&[150_000]), [30_000, 200_000]);
    assert_eq!(times(&[350_000]), Vec::<i64>::new());
    assert_eq!(times(&[-1_000, 600_000]), [0, 500_000]);
    assert!(nearest_around(&[], &[at(0)]).is_empty());
}
