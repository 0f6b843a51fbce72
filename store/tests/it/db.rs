//! Migrations and the account rows on a real SQLite file.

use model::{ContributorId, DeviceId, DeviceKeypair, PayoutAddress, TimestampMs};
use store::{Db, DeviceStatus, Error, NewContributor, NewDevice};

use rstest::rstest;

use crate::{Sql, fresh_db};

fn contributor(name: &str, token_sha256: &str) -> NewContributor {
    NewContributor {
        id: ContributorId::new(),
        name: name.into(),
        token_sha256: token_sha256.into(),
        payout_address: Some(
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
                .parse::<PayoutAddress>()
                .unwrap(),
        ),
        created_at: TimestampMs(1_700_000_000_000),
    }
}

fn device(owner: ContributorId, seed: u8) -> NewDevice {
    NewDevice {
        id: DeviceId::new(),
        public_key: DeviceKeypair::from_seed([seed; 32]).public(),
        contributor_id: owner,
        driver_id: None,
        driver_share_bps: 10_000,
        driver_accepted_at: None,
        label: format!("dashcam {seed}"),
        registered_at: TimestampMs(1_700_000_000_500),
    }
}

#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn migrations_create_every_table_and_reopen_idempotently(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = test.db.clone();
    let tables = db.table_names().await.unwrap();
    for table in [
        "captures",
        "cells",
        "contributors",
        "detections",
        "devices",
        "dirty_cells",
        "epochs",
        "frames",
        "jobs",
        "rewards",
        "sequences",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "missing {table}: {tables:?}"
        );
    }
    db.pool().close().await;
    test.db.pool().close().await;
    let again = Db::connect(&test.url).await.unwrap();
    assert_eq!(again.table_names().await.unwrap(), tables);
}

#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn contributors_and_devices_round_trip(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = &test.db;
    let owner = contributor("fleet owner", &"a".repeat(64));
    db.insert_contributor(&owner).await.unwrap();
    let driver = contributor("driver", &"b".repeat(64));
    db.insert_contributor(&driver).await.unwrap();

    let found = db
        .contributor_by_token_sha256(&"a".repeat(64))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, owner.id);
    assert_eq!(found.payout_address, owner.payout_address);
    assert!(
        db.contributor_by_token_sha256(&"c".repeat(64))
            .await
            .unwrap()
            .is_none()
    );

    let mut fleet_device = device(owner.id, 1);
    fleet_device.driver_id = Some(driver.id);
    fleet_device.driver_share_bps = 7_000;
    db.insert_device(&fleet_device).await.unwrap();
    let stored = db
        .device_by_public_key(&fleet_device.public_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.driver_id, Some(driver.id));
    assert_eq!(stored.driver_share_bps, 7_000);
    assert_eq!(stored.status, DeviceStatus::Active);
    assert_eq!(db.devices_of(driver.id).await.unwrap().len(), 1);

    assert!(
        db.set_device_status(stored.id, DeviceStatus::Revoked)
            .await
            .unwrap()
    );
    let revoked = db
        .device_by_public_key(&fleet_device.public_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.status, DeviceStatus::Revoked);
    assert!(
        !db.set_device_status(DeviceId::new(), DeviceStatus::Revoked)
            .await
            .unwrap()
    );
}

#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn duplicates_and_dangling_references_are_refused(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = &test.db;
    let owner = contributor("owner", &"d".repeat(64));
    db.insert_contributor(&owner).await.unwrap();
    let same_token = contributor("other", &"d".repeat(64));
    assert!(matches!(
        db.insert_contributor(&same_token).await,
        Err(Error::Conflict { what: "token" })
    ));

    let first = device(owner.id, 9);
    db.insert_device(&first).await.unwrap();
    let cloned_key = NewDevice {
        id: DeviceId::new(),
        ..first.clone()
    };
    assert!(matches!(
        db.insert_device(&cloned_key).await,
        Err(Error::Conflict { .. })
    ));

    let orphan = device(ContributorId::new(), 10);
    assert!(
        matches!(db.insert_device(&orphan).await, Err(Error::Database(_))),
        "foreign keys are on"
    );
}

#[tokio::test]
async fn unsupported_and_unusable_urls_are_typed_errors() {
    for url in ["mysql://localhost/waymark", "waymark.db"] {
        let err = Db::connect(url).await.unwrap_err();
        assert!(matches!(err, Error::DatabaseUrl { .. }), "{url}: {err}");
        assert!(err.to_string().contains("sqlite://"), "{err}");
        assert!(err.to_string().contains("postgres://"), "{err}");
    }

    let file = tempfile::NamedTempFile::new().unwrap();
    let under_a_file = format!("sqlite://{}/sub/waymark.db", file.path().display());
    assert!(matches!(
        Db::connect(&under_a_file).await,
        Err(Error::Directory { .. })
    ));
}

#[test]
fn postgres_migrations_are_the_sqlite_ones_but_for_types() {
    // One schema, two dialects: a change to one migration set without the other fails here.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let names = |dialect: &str| {
        let mut names: Vec<String> = std::fs::read_dir(root.join(dialect))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("sqlite"), names("postgres"));
    for name in names("sqlite") {
        let sqlite = std::fs::read_to_string(root.join("sqlite").join(&name)).unwrap();
        let postgres = std::fs::read_to_string(root.join("postgres").join(&name)).unwrap();
        let expected = sqlite
            .replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
            .replace("INTEGER", "BIGINT")
            .replace(" BLOB ", " BYTEA ");
        assert_eq!(postgres, expected, "{name}");
    }
}
