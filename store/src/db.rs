//! Metadata in SQL: the connection pool, migrations, and the account rows (contributors and
//! their devices). Capture, frame and reward rows get their queries with the stages that
//! write them.

use std::str::FromStr;
use std::time::Duration;

use model::{ContributorId, DeviceId, DevicePublicKey, PayoutAddress, TimestampMs};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{Executor, Row};

use crate::{Error, Result};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which SQL engine the metadata lives in: the queries are the same where they can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// One file, one machine (WAL: many readers, one writer at a time).
    Sqlite,
    /// A server for several machines (`FOR UPDATE SKIP LOCKED` for the job queue).
    Postgres,
}

/// The metadata database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
}

/// Statements that run longer than this are cancelled by PostgreSQL (a stuck query must not
/// hold a pool connection forever).
const STATEMENT_TIMEOUT_MS: u64 = 60_000;

impl Db {
    /// Opens `sqlite://path` (creating the file and its directory; WAL mode, full fsync on
    /// commit) or `postgres://user:password@host:port/database`, and runs pending
    /// migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let unsupported = |reason: String| Error::DatabaseUrl {
            url: url.to_owned(),
            reason,
        };
        sqlx::any::install_default_drivers();
        let (pool, dialect) = if let Some(path) = url.strip_prefix("sqlite://") {
            let file = std::path::Path::new(path.split('?').next().unwrap_or(path));
            if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| Error::Directory {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            let url = if path.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            };
            let pool = AnyPoolOptions::new()
                .max_connections(8)
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        connection
                            .execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                            )
                            .await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await
                .map_err(|err| match err {
                    sqlx::Error::Configuration(reason) => unsupported(reason.to_string()),
                    other => Error::Database(other),
                })?;
            (pool, Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        connection
                            .execute(
                                format!("SET statement_timeout = {STATEMENT_TIMEOUT_MS}").as_str(),
                            )
                            .await?;
                        Ok(())
                    })
                })
                .connect(url)
                .await?;
            (pool, Dialect::Postgres)
        } else {
            let scheme = url.split("://").next().unwrap_or(url);
            return Err(unsupported(format!(
                "scheme {scheme:?} is not supported; use sqlite:///absolute/path/waymark.db or postgres://user:password@host/database"
            )));
        };
        match dialect {
            Dialect::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Dialect::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Self { pool, dialect })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Placeholders for a query whose only parameters are `count` values bound in order (an
    /// `IN (…)` list and nothing else): `?, ?, …` for SQLite, `$1, $2, …` for PostgreSQL.
    /// Binding numbered parameters costs time quadratic in their count on SQLite (sqlx asks
    /// each one's name, which SQLite finds by a walk of its list of names): 2 984 of them
    /// took 11 ms a query against 1 ms for plain `?` (measured through sqlx on a 60 000-frame
    /// footage index).
    pub(crate) fn list_placeholders(&self, count: usize) -> String {
        match self.dialect {
            Dialect::Sqlite => vec!["?"; count].join(", "),
            Dialect::Postgres => placeholders(1..=count),
        }
    }

    /// A transaction: stages write their outputs and complete their job inside one.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(self.pool.begin().await?)
    }

    /// A cheap round trip, for `/health`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Names of the tables the migrations created (for checks and `/health`).
    pub async fn table_names(&self) -> Result<Vec<String>> {
        let sql = match self.dialect {
            Dialect::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%' ORDER BY name"
            }
            Dialect::Postgres => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx_%' \
                 ORDER BY table_name"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|row| row.get::<String, _>(0)).collect())
    }

    pub async fn insert_contributor(&self, new: &NewContributor) -> Result<()> {
        sqlx::query(
            "INSERT INTO contributors (id, name, token_sha256, payout_address, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(new.id.to_string())
        .bind(&new.name)
        .bind(&new.token_sha256)
        .bind(new.payout_address.map(|a| a.to_checksummed()))
        .bind(new.created_at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(|err| conflict_or(err, "token"))?;
        Ok(())
    }

    pub async fn contributor(&self, id: ContributorId) -> Result<Option<Contributor>> {
        let row = sqlx::query(
            "SELECT id, name, payout_address, created_at_ms, role FROM contributors WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| contributor_from_row(&row)).transpose()
    }

    /// The contributor whose API token hashes to `token_sha256` (lowercase hex).
    pub async fn contributor_by_token_sha256(
        &self,
        token_sha256: &str,
    ) -> Result<Option<Contributor>> {
        let row = sqlx::query(
            "SELECT id, name, payout_address, created_at_ms, role FROM contributors WHERE token_sha256 = $1",
        )
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| contributor_from_row(&row)).transpose()
    }

    pub async fn insert_device(&self, new: &NewDevice) -> Result<()> {
        sqlx::query(
            "INSERT INTO devices (id, public_key, contributor_id, driver_id, driver_share_bps, \
             label, status, registered_at_ms, driver_accepted_at_ms) VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8)",
        )
        .bind(new.id.to_string())
        .bind(new.public_key.to_hex())
        .bind(new.contributor_id.to_string())
        .bind(new.driver_id.map(|id| id.to_string()))
        .bind(i64::from(new.driver_share_bps))
        .bind(&new.label)
        .bind(new.registered_at.as_millis())
        .bind(new.driver_accepted_at.map(|t| t.as_millis()))
        .execute(&self.pool)
        .await
        .map_err(|err| conflict_or(err, "public key"))?;
        Ok(())
    }

    pub async fn device_by_public_key(&self, key: &DevicePublicKey) -> Result<Option<Device>> {
        let row = sqlx::query(&format!("{DEVICE_COLUMNS} WHERE public_key = $1"))
            .bind(key.to_hex())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| device_from_row(&row)).transpose()
    }

    pub async fn devices_of(&self, contributor: ContributorId) -> Result<Vec<Device>> {
        let rows = sqlx::query(&format!(
            "{DEVICE_COLUMNS} WHERE contributor_id = $1 OR driver_id = $1 ORDER BY registered_at_ms, id"
        ))
        .bind(contributor.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(device_from_row).collect()
    }

    /// The device with id `id`.
    pub async fn device(&self, id: DeviceId) -> Result<Option<Device>> {
        let row = sqlx::query(&format!("{DEVICE_COLUMNS} WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| device_from_row(&row)).transpose()
    }

    /// Records that `driver` accepted driving device `id` (the share then counts); returns
    /// whether `driver` is the device's named driver.
    pub async fn accept_driver(
        &self,
        id: DeviceId,
        driver: ContributorId,
        at: TimestampMs,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE devices SET driver_accepted_at_ms = COALESCE(driver_accepted_at_ms, $1) \
             WHERE id = $2 AND driver_id = $3",
        )
        .bind(at.as_millis())
        .bind(id.to_string())
        .bind(driver.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// `driver` declines (or leaves) device `id`: it has no driver any more and its owner
    /// takes the whole share. Returns whether `driver` was the device's named driver.
    pub async fn decline_driver(&self, id: DeviceId, driver: ContributorId) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE devices SET driver_id = NULL, driver_share_bps = 10000, driver_accepted_at_ms = NULL \
             WHERE id = $1 AND driver_id = $2",
        )
        .bind(id.to_string())
        .bind(driver.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets an account's role; returns whether the account exists.
    pub async fn set_contributor_role(
        &self,
        id: ContributorId,
        role: ContributorRole,
    ) -> Result<bool> {
        let done = sqlx::query("UPDATE contributors SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets a device's status; returns whether the device exists.
    pub async fn set_device_status(&self, id: DeviceId, status: DeviceStatus) -> Result<bool> {
        let done = sqlx::query("UPDATE devices SET status = $1 WHERE id = $2")
            .bind(status.as_str())
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// A contributor as stored (the token hash never leaves the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contributor {
    pub id: ContributorId,
    pub name: String,
    pub payout_address: Option<PayoutAddress>,
    pub created_at: TimestampMs,
    pub role: ContributorRole,
}

/// What an account may do beyond its own data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContributorRole {
    Contributor,
    /// An operator: reads any capture's status. Granted by `waymark admin grant`.
    Admin,
}

impl ContributorRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Contributor => "contributor",
            Self::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContributor {
    pub id: ContributorId,
    pub name: String,
    /// sha256 of the API token, lowercase hex.
    pub token_sha256: String,
    pub payout_address: Option<PayoutAddress>,
    pub created_at: TimestampMs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Active,
    Revoked,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
}

/// A registered device. Rewards go to `contributor_id`, or are split with `driver_id`
/// (`driver_share_bps` basis points to the driver) for fleet devices once the driver
/// accepted (`driver_accepted_at`); until then the owner takes it all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: DeviceId,
    pub public_key: DevicePublicKey,
    pub contributor_id: ContributorId,
    pub driver_id: Option<ContributorId>,
    pub driver_share_bps: u16,
    /// When the named driver accepted being this device's driver.
    pub driver_accepted_at: Option<TimestampMs>,
    pub label: String,
    pub status: DeviceStatus,
    pub registered_at: TimestampMs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    pub id: DeviceId,
    pub public_key: DevicePublicKey,
    pub contributor_id: ContributorId,
    pub driver_id: Option<ContributorId>,
    pub driver_share_bps: u16,
    /// `None` until the driver accepts ([`Db::accept_driver`]); the owner's own account
    /// named as driver needs no acceptance.
    pub driver_accepted_at: Option<TimestampMs>,
    pub label: String,
    pub registered_at: TimestampMs,
}

const DEVICE_COLUMNS: &str = "SELECT id, public_key, contributor_id, driver_id, driver_share_bps, \
     driver_accepted_at_ms, label, status, registered_at_ms FROM devices";

fn contributor_from_row(row: &sqlx::any::AnyRow) -> Result<Contributor> {
    let payout: Option<String> = row.try_get("payout_address")?;
    Ok(Contributor {
        id: parse_column(row, "id")?,
        name: row.try_get("name")?,
        payout_address: payout
            .map(|text| {
                text.parse()
                    .map_err(|err| Error::Corrupt(format!("payout address: {err}")))
            })
            .transpose()?,
        created_at: TimestampMs(row.try_get("created_at_ms")?),
        role: match row.try_get::<String, _>("role")?.as_str() {
            "contributor" => ContributorRole::Contributor,
            "admin" => ContributorRole::Admin,
            other => return Err(Error::Corrupt(format!("contributor role {other:?}"))),
        },
    })
}

fn device_from_row(row: &sqlx::any::AnyRow) -> Result<Device> {
    let driver: Option<String> = row.try_get("driver_id")?;
    let status: String = row.try_get("status")?;
    let share: i64 = row.try_get("driver_share_bps")?;
    Ok(Device {
        id: parse_column(row, "id")?,
        public_key: parse_column(row, "public_key")?,
        contributor_id: parse_column(row, "contributor_id")?,
        driver_id: driver
            .map(|text| {
                text.parse()
                    .map_err(|err| Error::Corrupt(format!("driver id: {err}")))
            })
            .transpose()?,
        driver_share_bps: u16::try_from(share)
            .map_err(|_| Error::Corrupt(format!("driver share {share} bps")))?,
        driver_accepted_at: row
            .try_get::<Option<i64>, _>("driver_accepted_at_ms")?
            .map(TimestampMs),
        label: row.try_get("label")?,
        status: match status.as_str() {
            "active" => DeviceStatus::Active,
            "revoked" => DeviceStatus::Revoked,
            other => return Err(Error::Corrupt(format!("device status {other:?}"))),
        },
        registered_at: TimestampMs(row.try_get("registered_at_ms")?),
    })
}

/// `$a, $b, …` for the parameters numbered `numbers`: an `IN (…)` list.
pub(crate) fn placeholders(numbers: std::ops::RangeInclusive<usize>) -> String {
    numbers
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn parse_column<T>(row: &sqlx::any::AnyRow, column: &str) -> Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let text: String = row.try_get(column)?;
    text.parse()
        .map_err(|err| Error::Corrupt(format!("column {column}: {err}")))
}

/// An optional float to bind. sqlx 0.8's Any driver hands PostgreSQL a NULL `f64` as a
/// float4 NULL (and a NULL `f32` as float8): a statement first prepared with a NULL there
/// then refuses every value ("incorrect binary data format"). This binds both as float8.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NullableFloat(pub Option<f64>);

impl sqlx::Type<sqlx::Any> for NullableFloat {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <f64 as sqlx::Type<sqlx::Any>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Any> for NullableFloat {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        match self.0 {
            Some(value) => <f64 as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&value, buf),
            // Typed as f32 on purpose: the driver turns it into a float8 NULL.
            None => <Option<f32> as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&None, buf),
        }
    }
}

pub(crate) fn conflict_or(err: sqlx::Error, what: &'static str) -> Error {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict { what },
        _ => Error::Database(err),
    }
}
