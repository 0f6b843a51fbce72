//! The job queue on a real SQLite file and a real PostgreSQL: leases, retries, exactly-once
//! effects, a worker process killed with SIGKILL while it holds a lease, and workers racing
//! for the same jobs.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use store::{Error, JobId, JobQueue, NewJob, RetryOutcome};

use rstest::rstest;

use crate::{Sql, fresh_db};

const KIND: &str = "process-capture";

fn job(n: u32) -> NewJob {
    NewJob::new(KIND, &serde_json::json!({ "capture": n })).unwrap()
}

/// Writes the job's "output" (a dirty cell row) and completes it in one transaction.
async fn commit_output(db: &store::Db, leased: &store::LeasedJob, cell: i64) -> store::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO dirty_cells (cell, marked_at_ms) VALUES ($1, 0)")
        .bind(cell)
        .execute(&mut *tx)
        .await?;
    JobQueue::complete_in(&mut tx, leased).await?;
    tx.commit().await?;
    Ok(())
}

async fn output_rows(db: &store::Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM dirty_cells")
        .fetch_one(db.pool())
        .await
        .unwrap()
}

#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn jobs_are_leased_oldest_first_once_each_and_dedup_keys_hold(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = test.db.clone();
    let queue = JobQueue::new(db.clone());
    let first = queue
        .enqueue(&job(1).dedup_key("capture:1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        queue.enqueue(&job(1).dedup_key("capture:1")).await.unwrap(),
        None
    );
    let second = queue.enqueue(&job(2)).await.unwrap().unwrap();

    let a = queue
        .lease(KIND, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let b = queue
        .lease(KIND, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.id, b.id), (first, second));
    assert_eq!(a.payload::<serde_json::Value>().unwrap()["capture"], 1);
    assert!(
        queue
            .lease(KIND, Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        queue
            .lease("other-kind", Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );

    queue.complete(&a).await.unwrap();
    queue.complete(&b).await.unwrap();
    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.done, counts.queued, counts.leased), (2, 0, 0));
}

#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn failures_back_off_then_die_after_max_attempts(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = test.db.clone();
    let queue = JobQueue::new(db);
    let mut new = job(7);
    new.max_attempts = 2;
    queue.enqueue(&new).await.unwrap();

    let first = queue
        .lease(KIND, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let outcome = queue
        .fail(&first, "vision crashed", Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(outcome, RetryOutcome::Retried);
    assert!(
        queue
            .lease(KIND, Duration::from_secs(60))
            .await
            .unwrap()
            .is_none(),
        "backing off"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = queue
        .lease(KIND, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.attempts, 2);
    assert_eq!(
        queue.fail(&second, "again", Duration::ZERO).await.unwrap(),
        RetryOutcome::Dead
    );
    assert!(
        queue
            .lease(KIND, Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(queue.counts().await.unwrap().dead, 1);
}

#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn a_job_whose_leases_all_ran_out_comes_back_once_to_be_buried_with_its_effects(
    #[case] sql: Sql,
) {
    let test = fresh_db(sql).await;
    let db = test.db.clone();
    let queue = JobQueue::new(db.clone());
    let mut new = job(9);
    new.max_attempts = 2;
    queue.enqueue(&new).await.unwrap();
    // Two workers crash holding it: their leases run out.
    for attempt in 1..=2 {
        let leased = queue
            .lease(KIND, Duration::from_millis(100))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(leased.attempts, attempt);
        assert!(!leased.is_exhausted());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let last = queue
        .lease(KIND, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(last.is_exhausted(), "handed out once more, to be given up");
    assert_eq!(
        queue.counts().await.unwrap().dead,
        0,
        "not dead before its worker says so"
    );
    // Giving up and what it means (here: an output row) commit together.
    let mut tx = db.begin().await.unwrap();
    sqlx::query("INSERT INTO dirty_cells (cell, marked_at_ms) VALUES (1, 0)")
        .execute(&mut *tx)
        .await
        .unwrap();
    JobQueue::bury_in(&mut tx, &last, "crashed on every attempt")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.dead, counts.queued, counts.leased), (1, 0, 0));
    assert_eq!(output_rows(&db).await, 1);
    assert!(
        queue
            .lease(KIND, Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(queue.oldest_waiting().await.unwrap(), None);
}

#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn a_transient_failure_does_not_use_up_an_attempt(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let queue = JobQueue::new(test.db.clone());
    let mut new = job(4);
    new.max_attempts = 1;
    queue.enqueue(&new).await.unwrap();
    let before = model::TimestampMs::now();
    for _ in 0..5 {
        let leased = queue
            .lease(KIND, Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(leased.attempts, 1);
        assert!(leased.is_last_attempt());
        queue
            .retry_uncounted(&leased, "the database did not answer", Duration::ZERO)
            .await
            .unwrap();
    }
    let oldest = queue.oldest_waiting().await.unwrap().unwrap();
    assert!(oldest.as_millis() <= before.as_millis() + 1_000);
    let leased = queue
        .lease(KIND, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    queue.complete(&leased).await.unwrap();
    assert_eq!(queue.counts().await.unwrap().done, 1);
}

#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test]
async fn a_worker_that_lost_its_lease_commits_nothing(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = test.db.clone();
    let queue = JobQueue::new(db.clone());
    queue.enqueue(&job(3)).await.unwrap();

    let slow = queue
        .lease(KIND, Duration::from_millis(200))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fast = queue
        .lease(KIND, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fast.id, slow.id);
    assert_eq!(fast.attempts, 2);
    commit_output(&db, &fast, 1).await.unwrap();

    let late = commit_output(&db, &slow, 2).await.unwrap_err();
    assert!(matches!(late, Error::LeaseLost { .. }), "{late}");
    assert_eq!(
        output_rows(&db).await,
        1,
        "the late worker's output was rolled back"
    );
    assert!(matches!(
        queue.fail(&slow, "x", Duration::ZERO).await,
        Err(Error::LeaseLost { .. })
    ));
}

/// Environment variable that turns [`lease_holder_process`] into the worker the kill test
/// runs as a child process.
const CHILD_DB_ENV: &str = "WAYMARK_TEST_QUEUE_CHILD_DB";

/// The child side of `a_worker_killed_with_sigkill_loses_no_job`: leases one job, says so
/// on stdout, and hangs until it is killed. Run on its own (no environment variable), it
/// only checks that the variable is absent.
#[tokio::test]
async fn lease_holder_process() {
    let Ok(db_path) = std::env::var(CHILD_DB_ENV) else {
        return;
    };
    let db = store::Db::connect(&db_path).await.unwrap();
    let queue = JobQueue::new(db);
    let leased = queue
        .lease(KIND, Duration::from_millis(1_500))
        .await
        .unwrap()
        .unwrap();
    println!("LEASED {}", leased.id.0);
    tokio::time::sleep(Duration::from_secs(120)).await;
    unreachable!("the parent kills this process");
}

#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_with_sigkill_loses_no_job(#[case] sql: Sql) {
    let test = fresh_db(sql).await;
    let db = test.db.clone();
    let queue = JobQueue::new(db.clone());
    let mut enqueued = Vec::new();
    for n in 0..3 {
        enqueued.push(queue.enqueue(&job(n)).await.unwrap().unwrap());
    }

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "queue::lease_holder_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB_ENV, &test.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Read on a blocking thread: the runtime must stay free to run this process's own
    // database connections meanwhile.
    let held = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            // libtest prints "test <name> ... " without a newline before the test's output.
            if let Some((_, id)) = line.unwrap().split_once("LEASED ") {
                return JobId(id.trim().parse().unwrap());
            }
        }
        panic!("the child exited without reporting its lease");
    })
    .await
    .unwrap();
    child.kill().unwrap(); // SIGKILL: no destructor, no cleanup runs in the child.
    child.wait().unwrap();
    assert_eq!(held, enqueued[0]);

    // The two other jobs are still available; the killed worker's job is not, until its
    // lease runs out.
    let mut done = Vec::new();
    while let Some(leased) = queue.lease(KIND, Duration::from_secs(60)).await.unwrap() {
        commit_output(&db, &leased, leased.id.0).await.unwrap();
        done.push(leased.id);
    }
    assert_eq!(done, enqueued[1..]);
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    let recovered = queue
        .lease(KIND, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recovered.id, held);
    assert_eq!(recovered.attempts, 2);
    commit_output(&db, &recovered, recovered.id.0)
        .await
        .unwrap();

    let counts = queue.counts().await.unwrap();
    assert_eq!(
        (counts.done, counts.queued, counts.leased, counts.dead),
        (3, 0, 0, 0)
    );
    assert_eq!(output_rows(&db).await, 3, "every job's output exactly once");
}

#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_workers_do_every_job_exactly_once(#[case] sql: Sql) {
    // Four workers (each with its own pool, as separate processes would have) drain 400
    // jobs at once; every job's output is written exactly once.
    let test = fresh_db(sql).await;
    let queue = JobQueue::new(test.db.clone());
    for n in 0..400 {
        queue.enqueue(&job(n)).await.unwrap().unwrap();
    }
    let mut workers = Vec::new();
    for _ in 0..4 {
        let db = store::Db::connect(&test.url).await.unwrap();
        workers.push(tokio::spawn(async move {
            let queue = JobQueue::new(db.clone());
            let mut done = 0;
            while let Some(leased) = queue.lease(KIND, Duration::from_secs(60)).await.unwrap() {
                commit_output(&db, &leased, leased.id.0).await.unwrap();
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    assert_eq!(total, 400);
    assert_eq!(output_rows(&test.db).await, 400);
    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.done, counts.queued, counts.leased), (400, 0, 0));
}

const DRAIN_DB_ENV: &str = "WAYMARK_TEST_QUEUE_DRAIN_DB";

/// The child side of `a_worker_process_killed_mid_run_loses_and_repeats_nothing`: works
/// through the queue with short leases until it is killed. Run on its own (no environment
/// variable), it only checks that the variable is absent.
#[tokio::test]
async fn draining_worker_process() {
    let Ok(url) = std::env::var(DRAIN_DB_ENV) else {
        return;
    };
    let db = store::Db::connect(&url).await.unwrap();
    let queue = JobQueue::new(db.clone());
    loop {
        match queue.lease(KIND, Duration::from_secs(2)).await.unwrap() {
            Some(leased) => {
                // A lost lease (the parent took over) is that job's business, not an error.
                let _ = commit_output(&db, &leased, leased.id.0).await;
            }
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_killed_mid_run_loses_and_repeats_nothing(#[case] sql: Sql) {
    // 2 000 jobs; a worker process takes them alongside this process's two workers and is
    // SIGKILLed part-way. Every job's output is written exactly once.
    let test = fresh_db(sql).await;
    let queue = JobQueue::new(test.db.clone());
    for n in 0..2_000 {
        queue.enqueue(&job(n)).await.unwrap().unwrap();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "queue::draining_worker_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DRAIN_DB_ENV, &test.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while output_rows(&test.db).await < 200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut workers = Vec::new();
    for _ in 0..2 {
        let db = store::Db::connect(&test.url).await.unwrap();
        workers.push(tokio::spawn(async move {
            let queue = JobQueue::new(db.clone());
            // Until the queue is empty and the killed worker's lease has run out.
            let mut idle_since = std::time::Instant::now();
            while idle_since.elapsed() < Duration::from_secs(4) {
                match queue.lease(KIND, Duration::from_secs(60)).await.unwrap() {
                    Some(leased) => {
                        commit_output(&db, &leased, leased.id.0).await.unwrap();
                        idle_since = std::time::Instant::now();
                    }
                    None => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap(); // SIGKILL mid-run: whatever it held is left to lease expiry.
    child.wait().unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(
        output_rows(&test.db).await,
        2_000,
        "every job's output exactly once"
    );
    let counts = queue.counts().await.unwrap();
    assert_eq!(
        (counts.done, counts.queued, counts.leased, counts.dead),
        (2_000, 0, 0, 0)
    );
}

#[rstest]
#[case::sqlite(Sql::Sqlite)]
#[case::postgres(Sql::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_leased_alone_runs_one_job_at_a_time_across_workers(#[case] sql: Sql) {
    // Four workers, each with its own pool, race for 40 jobs of a kind that runs alone:
    // while one holds a live lease nobody else gets one, and every job still runs once.
    let test = fresh_db(sql).await;
    let queue = JobQueue::new(test.db.clone());
    for n in 0..40 {
        queue.enqueue(&job(n)).await.unwrap().unwrap();
    }
    // An ordinary lease of another kind does not block it.
    let other = NewJob::new("index-capture", &serde_json::json!({})).unwrap();
    queue.enqueue(&other).await.unwrap();
    let _held = queue
        .lease("index-capture", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();

    let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let db = store::Db::connect(&test.url).await.unwrap();
        let (running, most) = (running.clone(), most.clone());
        workers.push(tokio::spawn(async move {
            use std::sync::atomic::Ordering::SeqCst;
            let queue = JobQueue::new(db.clone());
            let mut done = 0;
            let mut idle_rounds = 0;
            while idle_rounds < 50 {
                let Some(leased) = queue
                    .lease_alone(KIND, Duration::from_secs(60))
                    .await
                    .unwrap()
                else {
                    idle_rounds += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                idle_rounds = 0;
                let now = running.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
                running.fetch_sub(1, SeqCst);
                commit_output(&db, &leased, leased.id.0).await.unwrap();
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    assert_eq!(total, 40);
    assert_eq!(output_rows(&test.db).await, 40);
    assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 1);

    // A holder that died lets the kind go once its lease runs out.
    queue.enqueue(&job(100)).await.unwrap().unwrap();
    queue.enqueue(&job(101)).await.unwrap().unwrap();
    let crashed = queue
        .lease_alone(KIND, Duration::from_millis(200))
        .await
        .unwrap()
        .unwrap();
    assert!(
        queue
            .lease_alone(KIND, Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let next = queue
        .lease_alone(KIND, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.id, crashed.id, "the expired job comes back first");
}
