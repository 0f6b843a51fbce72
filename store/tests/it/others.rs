//! Other devices' fixes in the cells and moments a capture asks for, on both backends.

use model::{Fix, FixType, RejectReason, TimestampMs};
use store::FrameOutcome;

use rstest::rstest;

use crate::reviews::device;
use crate::{Sql, fresh_db, stored_capture};

const T0: i64 = 1_780_000_000_000;

/// A fix `north_m` metres north of a base point, `millis` after `T0`.
fn fix(millis: i64, north_m: f64) -> Fix {
    Fix {
        time: TimestampMs(T0 + millis),
        lat: 43.73 + north_m / 111_195.0,
        lon: 7.42,
        alt: None,
        heading: Some(0.0),
        speed: Some(12.0),
        fix_type: FixType::Fix3d,
        satellites: 9,
        hdop: 0.9,
    }
}

fn cell(fix: &Fix) -> u64 {
    u64::from(fix.cell(model::COVERAGE_RESOLUTION).unwrap())
}

/// Only kept frames of other devices, in the asked cells and at the asked moments, in time
/// order; more windows than one statement holds are all read.
#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn fixes_are_read_in_the_asked_cells_at_the_asked_moments(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = &test.db;
    let (alice, bob, carol) = (
        device(db, 1).await,
        device(db, 2).await,
        device(db, 3).await,
    );
    let pending = FrameOutcome::Pending;
    let accepted = FrameOutcome::Accepted { quality: 0.9 };
    let rejected = FrameOutcome::Rejected(RejectReason::Blurred);
    // Bob: a frame a second for 1 000 s, 12 m apart; every tenth rejected.
    let bobs: Vec<(Fix, FrameOutcome)> = (0..1_000)
        .map(|s| {
            let outcome = match s % 10 {
                0 => rejected,
                5 => accepted,
                _ => pending,
            };
            (fix(s * 1_000, 12.0 * s as f64), outcome)
        })
        .collect();
    stored_capture(db, bob, 1, &bobs).await;
    // Alice (who asks) and Carol at Bob's places and moments.
    let same: Vec<(Fix, FrameOutcome)> = (0..1_000).map(|s| (bobs[s].0, pending)).collect();
    stored_capture(db, alice, 1, &same).await;
    stored_capture(db, carol, 1, &same[..100]).await;

    // Alice asks for every one of Bob's cells, each for the second around its frame, but
    // at the frame's moment only for the frames from 700 on (before that, a minute later).
    let windows: Vec<(u64, TimestampMs, TimestampMs)> = bobs
        .iter()
        .enumerate()
        .map(|(s, (fix, _))| {
            let at = if s >= 700 {
                fix.time
            } else {
                fix.time.saturating_add_ms(60_000)
            };
            (
                cell(fix),
                at.saturating_add_ms(-500),
                at.saturating_add_ms(500),
            )
        })
        .collect();
    let found = db
        .other_devices_fixes_in_cells(alice, &windows)
        .await
        .unwrap();
    let expected: Vec<Fix> = bobs[700..]
        .iter()
        .filter(|(_, outcome)| *outcome != rejected)
        .map(|(fix, _)| *fix)
        .collect();
    assert_eq!(found, expected);

    // Carol's frames are found when her moments are asked for; nobody's in an empty list.
    let carols: Vec<(u64, TimestampMs, TimestampMs)> = same[..100]
        .iter()
        .map(|(fix, _)| (cell(fix), fix.time, fix.time))
        .collect();
    let found = db.other_devices_fixes_in_cells(bob, &carols).await.unwrap();
    assert_eq!(found.len(), 200, "Alice's and Carol's first 100");
    assert!(
        db.other_devices_fixes_in_cells(bob, &[])
            .await
            .unwrap()
            .is_empty()
    );
}
