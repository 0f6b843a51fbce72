//! The review queue's reads of a device's held captures, on both backends.

use model::{
    CaptureId, ContributorId, DeviceId, DeviceKeypair, Fix, FixType, FrameId, RejectReason,
    TimestampMs,
};
use store::{Db, Decision, FrameOutcome, NewContributor, NewDevice};

use rstest::rstest;

use crate::{Sql, fresh_db, stored_capture};

const MINUTE_MS: i64 = 60_000;
const T0: i64 = 1_780_000_000_000;

async fn contributor(db: &Db, seed: u8) -> ContributorId {
    let id = ContributorId::new();
    db.insert_contributor(&NewContributor {
        id,
        name: format!("contributor {seed}"),
        token_sha256: FrameId::of_bytes(&[seed]).to_hex(),
        payout_address: None,
        created_at: TimestampMs(0),
    })
    .await
    .unwrap();
    id
}

pub(crate) async fn device(db: &Db, seed: u8) -> DeviceId {
    let owner = contributor(db, seed).await;
    let id = DeviceId::new();
    db.insert_device(&NewDevice {
        id,
        public_key: DeviceKeypair::from_seed([seed; 32]).public(),
        contributor_id: owner,
        driver_id: None,
        driver_share_bps: 10_000,
        driver_accepted_at: None,
        label: String::new(),
        registered_at: TimestampMs(0),
    })
    .await
    .unwrap();
    id
}

/// A capture of `device` whose one frame, taken at `minute` after `T0`, is held `reason`:
/// it opens a case. Returns the capture.
async fn held_capture(
    db: &Db,
    device: DeviceId,
    sequence: u64,
    minute: i64,
    reason: RejectReason,
) -> CaptureId {
    let time = TimestampMs(T0 + minute * MINUTE_MS);
    let fix = Fix {
        time,
        lat: 43.73,
        lon: 7.42,
        alt: None,
        heading: Some(90.0),
        speed: Some(10.0),
        fix_type: FixType::Fix3d,
        satellites: 9,
        hdop: 0.9,
    };
    stored_capture(
        db,
        device,
        sequence,
        &[(fix, FrameOutcome::Rejected(reason))],
    )
    .await
}

/// Each ask gets its own device's cases of the reason in its own window, not cleared, oldest
/// first and at most the limit, however many asks share the read (more than one statement's
/// worth included).
#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn held_cases_are_read_for_a_page_of_asks_each_in_its_own_window(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = &test.db;
    let (mallory, trent) = (device(db, 1).await, device(db, 2).await);
    // Mallory: 25 captures held unlike-place a minute apart, one of another reason; Trent: 2.
    let mut mallorys = Vec::new();
    for minute in 0..25 {
        mallorys.push(
            held_capture(
                db,
                mallory,
                minute as u64,
                minute,
                RejectReason::UnlikePlace,
            )
            .await,
        );
    }
    held_capture(db, mallory, 99, 3, RejectReason::Replay).await;
    let trents = [
        held_capture(db, trent, 0, 4, RejectReason::UnlikePlace).await,
        held_capture(db, trent, 1, 40, RejectReason::UnlikePlace).await,
    ];
    // A reviewer clears Mallory's third.
    let cases = db
        .devices_cases_held(
            RejectReason::UnlikePlace,
            &[(
                "all".into(),
                mallory,
                (TimestampMs(T0), TimestampMs(T0 + 60 * MINUTE_MS)),
            )],
            100,
        )
        .await
        .unwrap();
    assert_eq!(cases.len(), 25);
    let reviewer = contributor(db, 9).await;
    db.decide_case(
        &cases[2].1.id,
        Decision::Clear,
        reviewer,
        "lorry",
        TimestampMs(T0),
        None,
    )
    .await
    .unwrap();

    let window = |from: i64, to: i64| {
        (
            TimestampMs(T0 + from * MINUTE_MS),
            TimestampMs(T0 + to * MINUTE_MS),
        )
    };
    let mut asks = vec![
        ("a-first-twenty".to_string(), mallory, window(0, 60)),
        ("b-minutes-5-to-8".to_string(), mallory, window(5, 8)),
        ("c-trent".to_string(), trent, window(0, 60)),
        ("d-nothing-then".to_string(), mallory, window(100, 200)),
    ];
    // More asks than one statement takes: each still gets its own.
    for n in 0..store::ASKS_PER_READ {
        asks.push((format!("e-{n:04}"), trent, window(30, 50)));
    }
    let found = db
        .devices_cases_held(RejectReason::UnlikePlace, &asks, 20)
        .await
        .unwrap();
    let captures_of = |key: &str| -> Vec<CaptureId> {
        found
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, case)| case.capture)
            .collect()
    };
    let first_twenty: Vec<CaptureId> = mallorys
        .iter()
        .enumerate()
        .filter(|(n, _)| *n != 2)
        .map(|(_, c)| *c)
        .take(20)
        .collect();
    assert_eq!(captures_of("a-first-twenty"), first_twenty);
    assert_eq!(captures_of("b-minutes-5-to-8"), mallorys[5..8].to_vec());
    assert_eq!(captures_of("c-trent"), trents.to_vec());
    assert!(captures_of("d-nothing-then").is_empty());
    for n in 0..store::ASKS_PER_READ {
        assert_eq!(
            captures_of(&format!("e-{n:04}")),
            vec![trents[1]],
            "ask {n}"
        );
    }
    assert!(
        found
            .iter()
            .all(|(_, case)| case.reason == RejectReason::UnlikePlace)
    );
}
