//! The durable job queue, in the metadata database.
//!
//! At-least-once delivery with leases: [`JobQueue::lease`] hands a job to one worker until its
//! lease expires; a worker that dies (even `kill -9`) simply lets the lease run out and the
//! job is leased again. The exactly-once *effect* comes from [`JobQueue::complete_in`]: the
//! worker marks the job done inside the same transaction that writes its outputs, and that
//! fails with [`Error::LeaseLost`] — rolling the outputs back — if another worker has taken
//! the job meanwhile.
//!
//! Statements with `RETURNING` are read to the end (`fetch_all`), so each statement has
//! finished — and released SQLite's write lock — before its connection is reused.

use std::time::Duration;

use model::TimestampMs;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::{Db, Error, Result};

/// A job's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub i64);

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    /// JSON payload the worker deserialises.
    pub payload: String,
    /// Enqueueing a second job with the same key does nothing (e.g. `capture:<id>`).
    pub dedup_key: Option<String>,
    pub max_attempts: u32,
}

impl NewJob {
    pub fn new(kind: &'static str, payload: &impl Serialize) -> Result<Self> {
        Ok(Self {
            kind,
            payload: serde_json::to_string(payload)?,
            dedup_key: None,
            max_attempts: 5,
        })
    }

    pub fn dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }
}

/// A job this worker holds until `lease_until`.
#[derive(Debug, Clone)]
pub struct LeasedJob {
    pub id: JobId,
    pub kind: String,
    pub payload: String,
    /// How many times the job has been leased, this lease included (a transient failure
    /// given back with [`JobQueue::retry_uncounted`] does not count).
    pub attempts: u32,
    pub max_attempts: u32,
    pub lease_until: TimestampMs,
    lease_token: String,
}

impl LeasedJob {
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_str(&self.payload)?)
    }

    /// Whether this is the job's last attempt: a failure now is final.
    pub fn is_last_attempt(&self) -> bool {
        self.attempts >= self.max_attempts
    }

    /// Whether every attempt is used up: its workers' leases ran out on each (they crashed
    /// or were killed). The job is handed out this once more only so that its worker gives
    /// it up in a transaction with whatever that means ([`JobQueue::bury_in`]), never to run
    /// it again.
    pub fn is_exhausted(&self) -> bool {
        self.attempts > self.max_attempts
    }
}

/// What [`JobQueue::fail`] did with a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Back in the queue, runnable after the back-off.
    Retried,
    /// Out of attempts: kept as `dead` for an operator to look at.
    Dead,
}

/// Jobs per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub queued: u64,
    pub leased: u64,
    pub done: u64,
    pub dead: u64,
}

#[derive(Debug, Clone)]
pub struct JobQueue {
    db: Db,
}

impl JobQueue {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Enqueues on its own connection. Returns `None` when the dedup key was already used.
    pub async fn enqueue(&self, job: &NewJob) -> Result<Option<JobId>> {
        let mut conn = self.db.pool().acquire().await?;
        Self::enqueue_in(&mut conn, job).await
    }

    /// Enqueues inside the caller's transaction, so the job exists exactly when what it
    /// refers to was committed.
    pub async fn enqueue_in(conn: &mut AnyConnection, job: &NewJob) -> Result<Option<JobId>> {
        let now = TimestampMs::now().as_millis();
        let row = sqlx::query(
            "INSERT INTO jobs (kind, payload, dedup_key, state, max_attempts, run_after_ms, \
             created_at_ms, updated_at_ms) VALUES ($1, $2, $3, 'queued', $4, $5, $5, $5) \
             ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        )
        .bind(job.kind)
        .bind(&job.payload)
        .bind(&job.dedup_key)
        .bind(i64::from(job.max_attempts.max(1)))
        .bind(now)
        .fetch_all(&mut *conn)
        .await?
        .pop();
        Ok(row.map(|row| JobId(row.get(0))))
    }

    /// Leases the oldest runnable job of `kind` for `lease_for`: a queued job whose back-off
    /// has passed, or a leased job whose worker let its lease expire. A job whose leases ran
    /// out on every attempt comes back [exhausted](LeasedJob::is_exhausted), for its worker
    /// to give up with [`JobQueue::bury_in`] (so the job dies in the same transaction as
    /// what giving up means to the stage, and nothing waits on it forever).
    pub async fn lease(&self, kind: &str, lease_for: Duration) -> Result<Option<LeasedJob>> {
        self.lease_where(kind, lease_for, false).await
    }

    /// [`lease`](Self::lease), but only while no other job of `kind` is leased with a live
    /// lease: jobs of `kind` run one at a time across every worker process (for jobs that
    /// read, decide and write a shared neighbourhood, such as map features). A crashed
    /// holder blocks the kind until its lease runs out.
    pub async fn lease_alone(&self, kind: &str, lease_for: Duration) -> Result<Option<LeasedJob>> {
        self.lease_where(kind, lease_for, true).await
    }

    async fn lease_where(
        &self,
        kind: &str,
        lease_for: Duration,
        alone: bool,
    ) -> Result<Option<LeasedJob>> {
        let now = TimestampMs::now();
        let lease_until =
            now.saturating_add_ms(i64::try_from(lease_for.as_millis()).unwrap_or(i64::MAX));
        let token = Uuid::new_v4().to_string();
        // SQLite has one writer at a time; PostgreSQL workers skip rows another is leasing.
        let skip_locked = match self.db.dialect() {
            crate::Dialect::Sqlite => "",
            crate::Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        // One at a time: no live lease of the kind may exist. SQLite runs the statement
        // alone; on PostgreSQL leasers of the kind queue on an advisory lock held to their
        // commit, so each one's check sees the lease the one before it took.
        let no_live_lease = if alone {
            " AND NOT EXISTS (SELECT 1 FROM jobs held WHERE held.kind = $4 \
             AND held.state = 'leased' AND held.lease_until_ms >= $3)"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE jobs SET state = 'leased', lease_token = $1, lease_until_ms = $2, \
             attempts = attempts + 1, updated_at_ms = $3 \
             WHERE id = (SELECT id FROM jobs WHERE kind = $4 AND \
                 ((state = 'queued' AND run_after_ms <= $3) OR (state = 'leased' AND lease_until_ms < $3)) \
                 {no_live_lease} ORDER BY run_after_ms, id LIMIT 1{skip_locked}) \
             RETURNING id, kind, payload, attempts, max_attempts"
        );
        let query = sqlx::query(&sql)
            .bind(&token)
            .bind(lease_until.as_millis())
            .bind(now.as_millis())
            .bind(kind);
        let row = if alone && self.db.dialect() == crate::Dialect::Postgres {
            let mut tx = self.db.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1)) IS NULL")
                .bind(format!("waymark-jobs:{kind}"))
                .execute(&mut *tx)
                .await?;
            let rows = query.fetch_all(&mut *tx).await?;
            tx.commit().await?;
            rows
        } else {
            query.fetch_all(self.db.pool()).await?
        }
        .pop();
        row.map(|row| {
            let attempts: i64 = row.try_get("attempts")?;
            let max_attempts: i64 = row.try_get("max_attempts")?;
            Ok(LeasedJob {
                id: JobId(row.try_get("id")?),
                kind: row.try_get("kind")?,
                payload: row.try_get("payload")?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                max_attempts: u32::try_from(max_attempts).unwrap_or(u32::MAX),
                lease_until,
                lease_token: token.clone(),
            })
        })
        .transpose()
    }

    /// Extends a lease the worker still holds (for long jobs).
    pub async fn extend(&self, job: &mut LeasedJob, lease_for: Duration) -> Result<()> {
        let until = TimestampMs::now()
            .saturating_add_ms(i64::try_from(lease_for.as_millis()).unwrap_or(i64::MAX));
        let done = sqlx::query(
            "UPDATE jobs SET lease_until_ms = $1 WHERE id = $2 AND lease_token = $3 AND state = 'leased'",
        )
        .bind(until.as_millis())
        .bind(job.id.0)
        .bind(&job.lease_token)
        .execute(self.db.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::LeaseLost { job: job.id.0 });
        }
        job.lease_until = until;
        Ok(())
    }

    /// Marks the job done inside the caller's transaction. Fails with
    /// [`Error::LeaseLost`] if this worker no longer holds the lease: the caller must then
    /// roll back, so the job's outputs are committed exactly once.
    pub async fn complete_in(conn: &mut AnyConnection, job: &LeasedJob) -> Result<()> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'done', lease_token = NULL, lease_until_ms = NULL, \
             updated_at_ms = $1 WHERE id = $2 AND lease_token = $3 AND state = 'leased'",
        )
        .bind(TimestampMs::now().as_millis())
        .bind(job.id.0)
        .bind(&job.lease_token)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::LeaseLost { job: job.id.0 });
        }
        Ok(())
    }

    /// Marks a job done that produced nothing to commit.
    pub async fn complete(&self, job: &LeasedJob) -> Result<()> {
        let mut conn = self.db.pool().acquire().await?;
        Self::complete_in(&mut conn, job).await
    }

    /// Records a failure: the job is retried after `retry_after`, or marked dead once it has
    /// used its attempts.
    pub async fn fail(
        &self,
        job: &LeasedJob,
        error: &str,
        retry_after: Duration,
    ) -> Result<RetryOutcome> {
        let now = TimestampMs::now();
        let run_after =
            now.saturating_add_ms(i64::try_from(retry_after.as_millis()).unwrap_or(i64::MAX));
        let row = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
             lease_token = NULL, lease_until_ms = NULL, run_after_ms = $1, last_error = $2, \
             updated_at_ms = $3 WHERE id = $4 AND lease_token = $5 AND state = 'leased' RETURNING state",
        )
        .bind(run_after.as_millis())
        .bind(error)
        .bind(now.as_millis())
        .bind(job.id.0)
        .bind(&job.lease_token)
        .fetch_all(self.db.pool())
        .await?
        .pop();
        match row.map(|row| row.get::<String, _>(0)).as_deref() {
            Some("dead") => Ok(RetryOutcome::Dead),
            Some(_) => Ok(RetryOutcome::Retried),
            None => Err(Error::LeaseLost { job: job.id.0 }),
        }
    }

    /// Gives the job back after a transient failure (the database or the blob store did not
    /// answer): it runs again after `retry_after` and the attempt does not count, so a
    /// passing outage never uses up a job's attempts.
    pub async fn retry_uncounted(
        &self,
        job: &LeasedJob,
        error: &str,
        retry_after: Duration,
    ) -> Result<()> {
        let now = TimestampMs::now();
        let run_after =
            now.saturating_add_ms(i64::try_from(retry_after.as_millis()).unwrap_or(i64::MAX));
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
             lease_token = NULL, lease_until_ms = NULL, run_after_ms = $1, last_error = $2, \
             updated_at_ms = $3 WHERE id = $4 AND lease_token = $5 AND state = 'leased'",
        )
        .bind(run_after.as_millis())
        .bind(error)
        .bind(now.as_millis())
        .bind(job.id.0)
        .bind(&job.lease_token)
        .execute(self.db.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::LeaseLost { job: job.id.0 });
        }
        Ok(())
    }

    /// Marks the job dead inside the caller's transaction (which records what giving up on
    /// it means); fails with [`Error::LeaseLost`] if this worker no longer holds it.
    pub async fn bury_in(conn: &mut AnyConnection, job: &LeasedJob, error: &str) -> Result<()> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'dead', lease_token = NULL, lease_until_ms = NULL, last_error = $1, \
             updated_at_ms = $2 WHERE id = $3 AND lease_token = $4 AND state = 'leased'",
        )
        .bind(error)
        .bind(TimestampMs::now().as_millis())
        .bind(job.id.0)
        .bind(&job.lease_token)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::LeaseLost { job: job.id.0 });
        }
        Ok(())
    }

    /// When the oldest job still waiting to run (queued, or leased and not yet done) was
    /// enqueued: how far the queue lags behind.
    pub async fn oldest_waiting(&self) -> Result<Option<TimestampMs>> {
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(created_at_ms) FROM jobs WHERE state IN ('queued', 'leased')",
        )
        .fetch_one(self.db.pool())
        .await?;
        Ok(oldest.map(TimestampMs))
    }

    pub async fn counts(&self) -> Result<QueueCounts> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM jobs GROUP BY state")
            .fetch_all(self.db.pool())
            .await?;
        let mut counts = QueueCounts::default();
        for row in rows {
            let state: String = row.get(0);
            let count = u64::try_from(row.get::<i64, _>(1)).unwrap_or(0);
            match state.as_str() {
                "queued" => counts.queued = count,
                "leased" => counts.leased = count,
                "done" => counts.done = count,
                "dead" => counts.dead = count,
                other => return Err(Error::Corrupt(format!("job state {other:?}"))),
            }
        }
        Ok(counts)
    }
}
