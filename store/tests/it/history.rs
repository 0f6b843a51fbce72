//! A device's history as its next capture is judged with it, on both backends.

use model::{DeviceId, Fix, FixType, RejectReason, TimestampMs};
use store::{Db, FrameOutcome};

use rstest::rstest;

use crate::reviews::device;
use crate::{Sql, fresh_db, stored_capture};

const T0: i64 = 1_780_000_000_000;

fn fix_at(millis: i64) -> Fix {
    Fix {
        time: TimestampMs(T0 + millis),
        lat: 43.73 + millis as f64 * 1e-8,
        lon: 7.42,
        alt: None,
        heading: Some(0.0),
        speed: Some(12.0),
        fix_type: FixType::Fix3d,
        satellites: 9,
        hdop: 0.9,
    }
}

/// Each fix's time, in milliseconds after `T0`.
fn after_t0(fixes: &[Fix]) -> Vec<i64> {
    fixes.iter().map(|fix| fix.time.0 - T0).collect()
}

/// Pending frames at each of `millis` after `T0`.
fn pending_at(millis: &[i64]) -> Vec<(i64, FrameOutcome)> {
    millis.iter().map(|m| (*m, FrameOutcome::Pending)).collect()
}

/// Stores a capture of `device` with a frame at each of `millis` after `T0`, each with
/// its outcome.
async fn capture(db: &Db, device: DeviceId, sequence: u64, frames: &[(i64, FrameOutcome)]) {
    let frames: Vec<(Fix, FrameOutcome)> = frames
        .iter()
        .map(|(millis, outcome)| (fix_at(*millis), *outcome))
        .collect();
    stored_capture(db, device, sequence, &frames).await;
}

/// Twenty frames a second count as one fix a second, the nearest to the moment of each;
/// rejected frames, frames on the other side of the moment and other devices' frames are
/// not read.
#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn history_is_the_nearest_fix_of_each_of_the_nearest_seconds(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = &test.db;
    let (mallory, trent) = (device(db, 1).await, device(db, 2).await);
    // 30 s at twenty frames a second, over two captures; one frame of each second rejected
    // (the newest of seconds 0–9).
    let dense = |from_s: i64, to_s: i64| -> Vec<(i64, FrameOutcome)> {
        (from_s * 20..to_s * 20)
            .map(|i| {
                let outcome = if i % 20 == 19 && i < 200 {
                    FrameOutcome::Rejected(RejectReason::CaptureDuplicate)
                } else if i % 2 == 0 {
                    FrameOutcome::Pending
                } else {
                    FrameOutcome::Accepted { quality: 0.9 }
                };
                (i * 50, outcome)
            })
            .collect()
    };
    capture(db, mallory, 1, &dense(0, 15)).await;
    capture(db, mallory, 2, &dense(15, 30)).await;
    // Another device's frames in the same seconds, later in each.
    capture(
        db,
        trent,
        1,
        &(0..30)
            .map(|s| (s * 1000 + 990, FrameOutcome::Pending))
            .collect::<Vec<_>>(),
    )
    .await;

    let before = TimestampMs(T0 + 25_000);
    let history = db
        .device_history_before(mallory, before, 600)
        .await
        .unwrap();
    let times = after_t0(&history);
    let expected: Vec<i64> = (0..25)
        .map(|s| s * 1000 + if s < 10 { 900 } else { 950 })
        .collect();
    assert_eq!(times, expected);
    assert_eq!(history[24], fix_at(24_950));
    // The newest seconds only, still in time order.
    let newest = db.device_history_before(mallory, before, 3).await.unwrap();
    let times = after_t0(&newest);
    assert_eq!(times, [22_950, 23_950, 24_950]);
    // After a moment: the first fix of each of the first seconds, in time order.
    let after = TimestampMs(T0 + 4_500);
    let later = db.device_later_after(mallory, after, 600).await.unwrap();
    let times = after_t0(&later);
    let expected: Vec<i64> = std::iter::once(4_550)
        .chain((5..30).map(|s| s * 1000))
        .collect();
    assert_eq!(times, expected);
    let first = db.device_later_after(mallory, after, 3).await.unwrap();
    let times = after_t0(&first);
    assert_eq!(times, [4_550, 5_000, 6_000]);
    assert!(
        db.device_later_after(mallory, TimestampMs(T0 + 29_950), 600)
            .await
            .unwrap()
            .is_empty()
    );
    // Nothing before the first frame.
    assert!(
        db.device_history_before(mallory, TimestampMs(T0), 600)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Two captures of a device may hold frames of the same millisecond (a capture sent again
/// under a new id): the history still holds one fix of that second.
#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn frames_of_one_millisecond_in_two_captures_are_one_fix(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = &test.db;
    let mallory = device(db, 1).await;
    capture(db, mallory, 1, &pending_at(&[1_000, 2_500, 3_000])).await;
    capture(db, mallory, 2, &pending_at(&[2_500, 3_000, 4_200])).await;
    let history = db
        .device_history_before(mallory, TimestampMs(T0 + 10_000), 600)
        .await
        .unwrap();
    let times = after_t0(&history);
    assert_eq!(times, [1_000, 2_500, 3_000, 4_200]);
    let later = db
        .device_later_after(mallory, TimestampMs(T0), 600)
        .await
        .unwrap();
    let times = after_t0(&later);
    assert_eq!(times, [1_000, 2_500, 3_000, 4_200]);
    assert!(
        db.device_later_after(mallory, TimestampMs(T0), 0)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A database whose frames were stored before migration 0018 gave each frame its device:
/// reopening it copies every frame's device from its capture, and its history reads the same.
#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn frames_stored_before_the_device_column_are_given_their_device(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = &test.db;
    let (mallory, trent) = (device(db, 1).await, device(db, 2).await);
    capture(
        db,
        mallory,
        1,
        &pending_at(&[0, 1_000, 2_000, 3_000, 4_000]),
    )
    .await;
    capture(
        db,
        trent,
        1,
        &pending_at(&[5_000, 6_000, 7_000, 8_000, 9_000]),
    )
    .await;
    let before = TimestampMs(T0 + 60_000);
    let read = |db: Db, device: DeviceId| async move {
        after_t0(&db.device_history_before(device, before, 600).await.unwrap())
    };
    let (mallorys, trents) = (
        read(db.clone(), mallory).await,
        read(db.clone(), trent).await,
    );
    assert_eq!(mallorys.len(), 5);
    assert_eq!(trents.len(), 5);
    // Undo migration 0018 as if it had never run.
    for statement in [
        "DROP INDEX frames_kept_by_device",
        "ALTER TABLE frames DROP COLUMN device_id",
        "DELETE FROM _sqlx_migrations WHERE version = 18",
    ] {
        sqlx::query(statement).execute(db.pool()).await.unwrap();
    }
    db.pool().close().await;
    let reopened = Db::connect(&test.url).await.unwrap();
    assert_eq!(read(reopened.clone(), mallory).await, mallorys);
    assert_eq!(read(reopened.clone(), trent).await, trents);
    let unset: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM frames WHERE device_id IS NULL")
        .fetch_one(reopened.pool())
        .await
        .unwrap();
    assert_eq!(unset, 0);
}

/// The device's own frames nearest each moment, within the distance asked: the latest before
/// and the first at or after, every frame of that millisecond, each frame once, in time
/// order; rejected frames and other devices' are not read; more moments than a statement
/// holds are all read.
#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn the_frames_nearest_each_moment_are_read_and_nothing_between(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = &test.db;
    let (mallory, trent) = (device(db, 1).await, device(db, 2).await);
    let pending = FrameOutcome::Pending;
    let rejected = FrameOutcome::Rejected(RejectReason::Blurred);
    capture(
        db,
        mallory,
        1,
        &[
            (0, pending),
            (10_000, pending),
            (20_000, pending),
            (25_000, rejected),
        ],
    )
    .await;
    capture(
        db,
        mallory,
        2,
        &[(20_000, pending), (30_000, pending), (500_000, pending)],
    )
    .await;
    capture(db, trent, 1, &[(15_000, pending), (29_000, pending)]).await;
    let read = |moments: Vec<i64>| async move {
        let moments: Vec<TimestampMs> = moments.iter().map(|ms| TimestampMs(T0 + ms)).collect();
        after_t0(
            &db.device_fixes_nearest(mallory, &moments, 120_000)
                .await
                .unwrap(),
        )
    };
    assert_eq!(read(vec![15_000]).await, [10_000, 20_000, 20_000]);
    assert_eq!(read(vec![26_000, 27_000]).await, [20_000, 20_000, 30_000]);
    assert_eq!(read(vec![300_000]).await, Vec::<i64>::new());
    assert_eq!(read(vec![-1_000, 400_000]).await, [0, 500_000]);
    // 1 200 moments, a second apart from 60 s on: the frame before the first, and nothing
    // after until the last frame.
    let many: Vec<i64> = (0..1_200).map(|s| 60_000 + s * 1_000).collect();
    assert_eq!(read(many).await, [30_000, 500_000]);
    assert!(read(Vec::new()).await.is_empty());
}
