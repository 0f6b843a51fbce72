//! The close's place check through a real store: a device caught with footage of elsewhere
//! on a well-mapped street loses the streets nobody else filmed too, and an honest driver
//! alone on a street keeps it.

use model::consensus::Fingerprint;
use model::{CaptureId, ContributorId, DeviceKeypair, Fix, FixType, FrameId, RejectReason};
use rewards::EpochId;
use rewards::shell::close;
use store::{
    CaseQuery, Coverage, FrameOutcome, NewSequence, ProcessedCapture, ProcessedFrame, Store,
};

use crate::scenario::{config, store_of_this_pass, w40};
use crate::{DAY, HOUR, at, received};

/// A street in Munich, running east; `street` 1 lies 500 m north of street 0.
const START: (f64, f64) = (48.137, 11.575);
const FRAMES: usize = 12;

/// `FRAMES` fixes 8 m apart along `street`, heading east, a second apart from `start_ms`.
fn street(street: u32, start: model::TimestampMs) -> Vec<Fix> {
    let (lat, lon) = START;
    let lat = lat + f64::from(street) * 500.0 / 111_320.0;
    (0..FRAMES)
        .map(|i| Fix {
            time: start.saturating_add_ms(i as i64 * 1000),
            lat,
            lon: lon + i as f64 * 8.0 / (111_320.0 * lat.to_radians().cos()),
            alt: None,
            heading: Some(90.0),
            speed: Some(8.0),
            fix_type: FixType::Fix3d,
            satellites: 9,
            hdop: 0.8,
        })
        .collect()
}

/// What the street looks like (`true`), or footage of another town (`false`): two prints
/// 2 standard deviations apart, far beyond the consensus's rule.
fn look(of_the_street: bool) -> Vec<u8> {
    let sign = if of_the_street { 1.0 } else { -1.0 };
    Fingerprint(
        (0..32 * 18)
            .map(|i| sign * if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect(),
    )
    .to_bytes()
}

/// Commits one capture of `device` through the worker's store calls: every frame accepted,
/// with `fixes` and the print of `of_the_street`.
async fn film(
    store: &Store,
    (contributor, device): (ContributorId, model::DeviceId),
    tag: &str,
    fixes: &[Fix],
    of_the_street: bool,
) -> CaptureId {
    let capture = CaptureId::new();
    let ids: Vec<FrameId> = (0..fixes.len())
        .map(|i| FrameId::of_bytes(format!("{tag}-{i}").as_bytes()))
        .collect();
    let drive: Vec<(FrameId, Fix)> = ids.iter().copied().zip(fixes.iter().copied()).collect();
    let leased = received::receive_and_lease(
        store,
        &received::Received {
            capture,
            device,
            sequence_number: fixes[0].time.as_millis().unsigned_abs(),
            camera: "",
        },
        &drive,
    )
    .await;
    let sequence = format!("{capture}-0");
    let processed = ProcessedCapture {
        capture,
        contributor,
        frames: drive
            .iter()
            .enumerate()
            .map(|(i, (id, fix))| ProcessedFrame {
                index: i as u32,
                outcome: FrameOutcome::Accepted { quality: 1.0 },
                sequence: Some(sequence.clone()),
                size: Some((1920, 1080)),
                coverage: Some(Coverage {
                    cell: u64::from(fix.cell(model::COVERAGE_RESOLUTION).unwrap()),
                    time: fix.time,
                    fingerprint: look(of_the_street),
                    heading: fix.heading,
                    footage: None,
                }),
                sha256: *id,
            })
            .collect(),
        sequences: vec![NewSequence {
            id: sequence,
            started_at: fixes[0].time,
            ended_at: fixes[fixes.len() - 1].time,
            frame_count: fixes.len() as u32,
            length_m: 88.0,
            geometry_geojson: r#"{"type":"LineString","coordinates":[]}"#.into(),
        }],
        detections: Vec::new(),
        follow_ups: Vec::new(),
        processed_at: fixes[fixes.len() - 1].time,
    };
    store
        .db
        .commit_processed(&processed, &leased)
        .await
        .unwrap();
    capture
}

async fn someone(store: &Store, name: &str, seed: u8) -> (ContributorId, model::DeviceId) {
    received::signed_up(
        store,
        name,
        DeviceKeypair::from_seed([seed; 32]).public(),
        Some(
            format!("0x{:040x}", u128::from(seed))
                .parse()
                .expect("an address"),
        ),
    )
    .await
}

/// The captures held for review, by capture.
async fn held(store: &Store) -> Vec<(CaptureId, RejectReason)> {
    let mut cases: Vec<_> = store
        .db
        .fraud_cases(&CaseQuery {
            limit: 100,
            ..CaseQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|case| (case.capture, case.reason))
        .collect();
    cases.sort();
    cases
}

#[rstest::rstest]
#[case::caught_at_the_close(2, false)]
#[case::caught_by_the_worker(2, true)]
#[case::once_may_be_the_places_doing(1, false)]
#[tokio::test]
async fn a_device_caught_unlike_mapped_streets_earns_nothing_where_nobody_else_filmed(
    #[case] claims_of_the_mapped_street: i64,
    #[case] held_by_the_worker: bool,
) {
    let (store, _dir, _servers) = store_of_this_pass().await;
    let epoch = w40();
    let [ann, ben, cat, dan, mallory] = [
        someone(&store, "ann", 1).await,
        someone(&store, "ben", 2).await,
        someone(&store, "cat", 3).await,
        someone(&store, "dan", 4).await,
        someone(&store, "mallory", 5).await,
    ];
    // Street 0 is well mapped: three dashcams film it on Monday.
    for (n, who) in [ann, ben, cat].into_iter().enumerate() {
        let fixes = street(0, at(epoch, 8 * HOUR + n as i64 * HOUR));
        film(&store, who, &format!("mapped-{n}"), &fixes, true).await;
    }
    // Mallory claims street 0 with footage of another town on Tuesday (and Thursday), and
    // street 1, which nobody else films, on Wednesday; Dan, honest, is alone on street 2.
    let mut unlike = Vec::new();
    for n in 0..claims_of_the_mapped_street {
        let start = at(epoch, (1 + 2 * n) * DAY + 8 * HOUR);
        let capture = film(
            &store,
            mallory,
            &format!("mallory-mapped-{n}"),
            &street(0, start),
            false,
        )
        .await;
        if held_by_the_worker {
            // As the worker does when the views existed as the capture was processed.
            store
                .db
                .hold_capture(capture, RejectReason::UnlikePlace, start)
                .await
                .unwrap();
        }
        unlike.push(capture);
    }
    let alone = film(
        &store,
        mallory,
        "mallory-alone",
        &street(1, at(epoch, 2 * DAY + 8 * HOUR)),
        false,
    )
    .await;
    let dan_alone = film(
        &store,
        dan,
        "dan-alone",
        &street(2, at(epoch, 2 * DAY + 9 * HOUR)),
        true,
    )
    .await;

    let config = config();
    let closed = close(
        &store,
        epoch,
        &config,
        epoch.ends_at().saturating_add_ms(2 * DAY),
    )
    .await
    .unwrap();
    let caught = claims_of_the_mapped_street >= 2;
    let mut expected: Vec<_> = unlike
        .iter()
        .map(|capture| (*capture, RejectReason::UnlikePlace))
        .chain(caught.then_some((alone, RejectReason::UnvouchedPlace)))
        .collect();
    expected.sort();
    assert_eq!(held(&store).await, expected);
    let earned = |who: ContributorId| {
        closed
            .manifest
            .contributors
            .iter()
            .find(|entry| entry.contributor == who)
            .map_or(0, |entry| entry.amount.parse::<u128>().unwrap())
    };
    assert_eq!(earned(mallory.0) == 0, caught);
    assert!(earned(dan.0) > 0, "Dan, alone on his street, is paid");
    assert!(earned(ann.0) > 0);
    assert!(!held(&store).await.iter().any(|(c, _)| *c == dan_alone));
}

#[tokio::test]
async fn a_device_caught_in_another_week_keeps_this_weeks_unchecked_streets() {
    let (store, _dir, _servers) = store_of_this_pass().await;
    let epoch = w40();
    let last_week: EpochId = "2026-W39".parse().unwrap();
    let mallory = someone(&store, "mallory", 5).await;
    let mut before = Vec::new();
    for n in 0..2 {
        let start = at(last_week, n * DAY + 8 * HOUR);
        let capture = film(
            &store,
            mallory,
            &format!("mallory-w39-{n}"),
            &street(0, start),
            false,
        )
        .await;
        store
            .db
            .hold_capture(capture, RejectReason::UnlikePlace, start)
            .await
            .unwrap();
        before.push((capture, RejectReason::UnlikePlace));
    }
    before.sort();
    let alone = film(
        &store,
        mallory,
        "mallory-w40",
        &street(1, at(epoch, DAY + 8 * HOUR)),
        true,
    )
    .await;
    let config = config();
    for week in [last_week, epoch] {
        close(
            &store,
            week,
            &config,
            epoch.ends_at().saturating_add_ms(2 * DAY),
        )
        .await
        .unwrap();
    }
    // Judged over the epoch: last week's finding weighs through reputation, not here.
    assert_eq!(held(&store).await, before);
    assert!(!held(&store).await.iter().any(|(c, _)| *c == alone));
}
