//! `waymark serve`: opens the store, mounts the routes, and serves until SIGINT/SIGTERM,
//! letting in-flight requests finish.

use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use actix_web::dev::{ServerHandle, Service, ServiceRequest};
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use model::Problem;
use serde_json::json;
use store::Store;

use crate::guard::problem_response;
use crate::settings::{Role, Settings};
use crate::telemetry;

/// What every handler can reach.
#[derive(Debug, Clone)]
struct AppState {
    store: Store,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// The pipeline worker's health, when this process runs one.
    worker: Option<Arc<WorkerHealth>>,
    /// A worker that shows no life for this long is reported stuck.
    worker_stale_after: Duration,
    /// The oracles whose signed epoch reports the rewards routes accept.
    oracles: rewards::report::Oracles,
}

/// What `/health` knows of the pipeline worker.
#[derive(Debug, Default)]
struct WorkerHealth {
    pulse: ingest::worker::Pulse,
    running: AtomicBool,
    restarts: AtomicU32,
}

/// Restarts of a panicking worker tolerated within [`RESTART_WINDOW`]; one more and the
/// process exits non-zero, for its supervisor (systemd, Kubernetes) to start it afresh.
const MAX_RESTARTS: usize = 5;
const RESTART_WINDOW: Duration = Duration::from_secs(600);
/// The exit status of a process whose worker kept panicking (EX_SOFTWARE).
const WORKER_FAILED_EXIT: i32 = 70;

/// Called once the server listens, with its address and a handle that stops it.
pub type OnReady = Box<dyn FnOnce(SocketAddr, ServerHandle) + Send>;

pub fn run(settings: Settings) -> anyhow::Result<()> {
    run_with(settings, Box::new(|_, _| {}))
}

/// Serves until SIGINT/SIGTERM or until the handle given to `on_ready` stops the server.
pub fn run_with(settings: Settings, on_ready: OnReady) -> anyhow::Result<()> {
    let data_dir = settings.absolute_data_dir()?;
    prepare_data_dir(&data_dir)?;
    tracing::info!(
        settings = %serde_json::to_string(&settings)?,
        data_dir = %data_dir.display(),
        "effective settings"
    );
    actix_web::rt::System::new().block_on(serve(settings, &data_dir, on_ready))
}

async fn serve(settings: Settings, data_dir: &Path, on_ready: OnReady) -> anyhow::Result<()> {
    let store_config = settings.store_config(data_dir);
    let store = Store::open(&store_config)
        .await
        .with_context(|| format!("cannot open the store under {}", data_dir.display()))?;
    let upload_limits = settings.http.upload_limits()?;
    let guard = crate::guard::Guard {
        trusted_proxies: settings.http.trusted_proxies()?,
        body_deadline: upload_limits.body_deadline,
    };
    let lease = Duration::from_secs(settings.ingest.job_lease_secs.max(1));
    let worker_health = settings
        .runs(Role::Worker)
        .then(|| Arc::new(WorkerHealth::default()));
    let state = AppState {
        store: store.clone(),
        metrics: telemetry::metrics_handle()?,
        worker: worker_health.clone(),
        worker_stale_after: (lease * 2).max(Duration::from_secs(60)),
        oracles: settings.rewards.oracles()?,
    };
    tracing::info!(roles = ?settings.roles, "starting");
    let worker = match &worker_health {
        Some(health) => {
            let roads = Arc::new(settings.ingest.road_index()?);
            let analyzer = crate::vision_stage::analyzer(&settings.vision)?;
            match &settings.ingest.roads {
                Some(path) => tracing::info!(
                    segments = roads.len(),
                    roads = %path.display(),
                    "the worker judges tracks against the road network"
                ),
                None => {
                    tracing::info!("no road network ([ingest] roads): nothing is judged off-road")
                }
            }
            let worker_settings = Arc::new(ingest::worker::WorkerSettings {
                features: settings.features.worker()?,
                roads,
            });
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let (store, health) = (store.clone(), Arc::clone(health));
            let task = actix_web::rt::spawn(supervise_worker(Arc::clone(&health), move || {
                let (store, analyzer, worker_settings) = (
                    store.clone(),
                    Arc::clone(&analyzer),
                    Arc::clone(&worker_settings),
                );
                let (stopped, pulse) = (stopped.clone(), health.pulse.clone());
                async move {
                    ingest::worker::run_until(
                        store,
                        analyzer,
                        Duration::from_millis(500),
                        lease,
                        stopped,
                        pulse,
                        &worker_settings,
                    )
                    .await;
                }
            }));
            Some((stop, task))
        }
        None => None,
    };
    if settings.runs(Role::Ingest) {
        let grace = Duration::from_secs(settings.ingest.upload_grace_secs);
        actix_web::rt::spawn(collect_uploads_on_schedule(store.clone(), grace));
    }
    let rewards_config = settings.rewards.config()?;
    if settings.runs(Role::Rewards) && settings.rewards.close_check_secs > 0 {
        let interval = Duration::from_secs(settings.rewards.close_check_secs);
        actix_web::rt::spawn(close_epochs_on_schedule(
            store.clone(),
            rewards_config,
            interval,
        ));
    }
    let mbtiles = if settings.runs(Role::Tiles) {
        Some(start_tile_builder(&settings, &store, data_dir).await?)
    } else {
        None
    };
    let served_tiles = mbtiles.as_ref().map(|(tiles, _)| tiles.clone());
    let basemap_path = settings.tiles.basemap_path(data_dir);
    let served_basemap = if settings.runs(Role::Tiles) && basemap_path.exists() {
        tracing::info!(path = %basemap_path.display(), "serving the base map");
        Some(tiles::MbTiles::open(&basemap_path).await?)
    } else {
        None
    };
    let metering = metering::Metering::new(store.clone(), settings.metering.config()?);
    if metering.config().enabled {
        actix_web::rt::spawn(metering.clone().run_flusher());
    }
    let served_metering = metering.clone();
    let web_map = web_map::WebMapConfig::default();
    if let Err(err) = web_map.check() {
        tracing::warn!(error = %err, "the web page at / cannot draw maps");
    }
    let listen = settings.listen;
    let ingest_routes = ingest::Routes {
        uploads: settings.runs(Role::Ingest),
        public: settings.runs(Role::Web),
        metered: metering::metered,
    };
    let serves_web = settings.runs(Role::Web);
    let ingest_limiters = ingest::Limiters::new(upload_limits);
    let server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(web::Data::new(state.clone()))
            .app_data(web::Data::new(guard.clone()))
            .configure(ingest::configure_shared(
                state.store.clone(),
                ingest_limiters.clone(),
                ingest_routes,
            ));
        if let Some(tiles) = &served_tiles {
            app = app.configure(tiles::routes::configure_metered(
                tiles.clone(),
                served_basemap.clone(),
                metering::metered,
            ));
        }
        if serves_web {
            app = app
                .service(rewards::routes::scope(
                    state.store.clone(),
                    state.oracles.clone(),
                ))
                .configure(web_map::configure(web_map.clone()))
                .configure(metering::routes::configure(served_metering.clone()));
        }
        app.app_data(web::Data::new(served_metering.clone()))
            .wrap_fn(|request, service| {
                let started = Instant::now();
                let (method, route) = request_labels(&request);
                let call = service.call(request);
                async move {
                    let response = call.await?;
                    record_request(method, route, response.status(), started);
                    Ok(response)
                }
            })
            // Outermost: forwarded headers and the body are settled before anything else.
            .wrap(actix_web::middleware::from_fn(crate::guard::guard))
            .route("/health", web::get().to(health))
            .route("/metrics", web::get().to(metrics))
            .route("/api/v1/openapi.json", web::get().to(openapi))
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(settings.shutdown_timeout_secs)
    .bind(listen)
    .map_err(|err| bind_error(listen, err))?;
    for addr in server.addrs() {
        tracing::info!(%addr, "listening");
        // One line on stdout that scripts and tests can read the address from.
        println!("waymark listening on http://{addr}");
    }
    std::io::stdout().flush().ok();
    let addr = server.addrs().first().copied().unwrap_or(listen);
    let server = server.run();
    on_ready(addr, server.handle());
    server
        .await
        .context("the HTTP server stopped with an error")?;
    if let Some((stop, task)) = worker {
        // Draining: the worker finishes the capture in hand and takes no other; a job cut
        // short by the timeout is taken over by another worker once its lease runs out.
        tracing::info!("draining: the pipeline worker finishes its current capture");
        stop.send_replace(true);
        let timeout = Duration::from_secs(settings.shutdown_timeout_secs);
        if actix_web::rt::time::timeout(timeout, task).await.is_err() {
            tracing::warn!(
                "the pipeline worker did not finish in time; its job's lease will expire"
            );
        }
    }
    if metering.config().enabled {
        match metering.flush().await {
            Ok(flushed) => tracing::info!(
                rows = flushed.usage_rows,
                credits = flushed.credits,
                "metered use written before stopping"
            ),
            Err(err) => tracing::error!(error = %err, "metered use since the last flush is lost"),
        }
    }
    tracing::info!("shutting down: closing the database");
    if let Some((mbtiles, builder)) = mbtiles {
        // The builder first: an update cut short rolls back and keeps its dirty marks, while
        // one left running would meet a closed pool.
        builder.abort();
        let _ = builder.await;
        mbtiles.close().await;
    }
    store.db.pool().close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Runs the pipeline worker `start` makes, and starts a fresh one when it panics: up to
/// [`MAX_RESTARTS`] within [`RESTART_WINDOW`], after which the process exits non-zero so
/// that its own supervisor restarts it. Returns when the worker returns (it was told to
/// stop).
async fn supervise_worker<F, W>(health: Arc<WorkerHealth>, start: F)
where
    F: Fn() -> W,
    W: std::future::Future<Output = ()> + 'static,
{
    let mut recent: VecDeque<Instant> = VecDeque::new();
    loop {
        health.running.store(true, Ordering::Relaxed);
        let outcome = actix_web::rt::spawn(start()).await;
        health.running.store(false, Ordering::Relaxed);
        let Err(panic) = outcome else {
            return;
        };
        let restarts = health.restarts.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        recent.retain(|at| now.duration_since(*at) < RESTART_WINDOW);
        recent.push_back(now);
        if recent.len() > MAX_RESTARTS {
            tracing::error!(
                error = %panic,
                restarts,
                "the pipeline worker panicked {} times in {} s; exiting so the process is restarted",
                recent.len(),
                RESTART_WINDOW.as_secs()
            );
            std::process::exit(WORKER_FAILED_EXIT);
        }
        let pause = Duration::from_millis(500 << recent.len().min(6));
        tracing::error!(error = %panic, restarts, ?pause, "the pipeline worker panicked; starting a new one");
        actix_web::rt::time::sleep(pause).await;
    }
}

/// Deletes originals nothing needs once their uploads are older than `grace`: now, then
/// every quarter of the grace period (at most hourly).
async fn collect_uploads_on_schedule(store: Store, grace: Duration) {
    let interval = (grace / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    loop {
        match ingest::uploads::collect_uploads(&store, grace, model::TimestampMs::now()).await {
            Ok(0) => {}
            Ok(collected) => tracing::info!(collected, "originals no capture needs were deleted"),
            Err(err) => {
                tracing::warn!(error = %err, "collecting old uploads failed; retrying next interval")
            }
        }
        actix_web::rt::time::sleep(interval).await;
    }
}

/// Opens the live tileset (a corrupt file stops the server with its name), builds it in
/// full when it is new, and keeps it fresh from dirty cells in the background.
async fn start_tile_builder(
    settings: &Settings,
    store: &Store,
    data_dir: &Path,
) -> anyhow::Result<(tiles::MbTiles, actix_web::rt::task::JoinHandle<()>)> {
    let path = settings.tiles.mbtiles_path(data_dir);
    let mbtiles = tiles::MbTiles::open(&path).await?;
    let mut builder = tiles::TileBuilder::new(store, mbtiles.clone(), settings.tiles.config());
    if mbtiles.tile_count().await? == 0 {
        let summary = builder
            .build_all(model::TimestampMs::now().as_millis())
            .await?;
        if summary.tiles_rendered > 0 {
            tracing::info!(tiles = summary.tiles_rendered, path = %path.display(), "tiles built");
        }
    }
    let interval = Duration::from_millis(settings.tiles.update_interval_ms.max(50));
    let task = actix_web::rt::spawn(builder.run(interval));
    Ok((mbtiles, task))
}

/// Closes every epoch whose data is complete, now and then every `interval`.
async fn close_epochs_on_schedule(
    store: Store,
    config: rewards::shell::RewardsConfig,
    interval: Duration,
) {
    loop {
        match rewards::shell::close_due(&store, &config, model::TimestampMs::now()).await {
            Ok(closed) => {
                for epoch in closed {
                    tracing::info!(%epoch, "reward epoch closed on schedule");
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "closing reward epochs failed; retrying next interval")
            }
        }
        actix_web::rt::time::sleep(interval).await;
    }
}

fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    let fix = "pass --data with a writable directory";
    std::fs::create_dir_all(dir)
        .with_context(|| format!("data directory {} cannot be created; {fix}", dir.display()))?;
    let probe = dir.join(".write-probe");
    std::fs::write(&probe, b"")
        .with_context(|| format!("data directory {} is not writable; {fix}", dir.display()))?;
    std::fs::remove_file(&probe).ok();
    Ok(())
}

fn bind_error(listen: std::net::SocketAddr, err: std::io::Error) -> anyhow::Error {
    if err.kind() == std::io::ErrorKind::AddrInUse {
        anyhow::anyhow!(
            "cannot listen on {listen}: the address is already in use; stop the other process or pass --listen with a free port"
        )
    } else {
        anyhow::anyhow!(
            "cannot listen on {listen}: {err}; pass --listen with an address of this machine"
        )
    }
}

/// The labels a request is counted under: method and route pattern (not the raw path, so
/// label values stay bounded).
fn request_labels(request: &ServiceRequest) -> (String, String) {
    let method = request.method().to_string();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    (method, route)
}

/// Counts one finished request and records its latency.
fn record_request(method: String, route: String, status: StatusCode, started: Instant) {
    metrics::counter!(
        "waymark_http_requests_total",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status.as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!(
        "waymark_http_request_duration_seconds",
        "method" => method,
        "route" => route
    )
    .record(started.elapsed().as_secs_f64());
}

/// One OpenAPI document for the whole server: each stage documents its own routes.
fn api_document() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let mut document = ingest::ApiDoc::openapi();
    document.merge(rewards::routes::ApiDoc::openapi());
    document.merge(tiles::routes::ApiDoc::openapi());
    document.merge(metering::ApiDoc::openapi());
    document.info.title = "Waymark API".into();
    document.info.description = Some(
        "Accounts, devices and the signed upload protocol of the dashcam agents; public frames, \
         search and the contributor dashboard; vector tiles; reward epochs with their Merkle \
         proofs; map consumers' API keys and metered usage. Errors are RFC 9457 application/problem+json with a stable `type` per reason."
            .into(),
    );
    document
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(api_document())
}

/// The truth about this process: the database answers, the pipeline worker (when this
/// process runs one) is running and showing life, and how far the job queue lags. `503`
/// when the database does not answer or the worker is down or stuck.
async fn health(state: web::Data<AppState>) -> HttpResponse {
    let store = &state.store;
    if let Err(err) = store.db.ping().await {
        tracing::warn!(error = %err, "health check: database unreachable");
        return problem_response(&Problem::new(
            StatusCode::SERVICE_UNAVAILABLE.as_u16(),
            "unavailable",
            "Service unavailable",
            format!("the database does not answer: {err}"),
        ));
    }
    let now = model::TimestampMs::now();
    let counts = store.queue.counts().await.unwrap_or_default();
    let oldest = store.queue.oldest_waiting().await.ok().flatten();
    let queue = json!({
        "queued": counts.queued,
        "leased": counts.leased,
        "dead": counts.dead,
        "oldest_waiting_secs": oldest.map(|t| now.millis_since(t).max(0) / 1000),
    });
    let mut problems = Vec::new();
    let worker = state.worker.as_ref().map(|worker| {
        let running = worker.running.load(Ordering::Relaxed);
        let silent_ms = worker.pulse.last().map(|t| now.millis_since(t).max(0));
        if !running {
            problems.push(
                "the pipeline worker is not running (it panicked and is being restarted)"
                    .to_owned(),
            );
        } else if silent_ms.is_some_and(|ms| ms > state.worker_stale_after.as_millis() as i64) {
            problems.push(format!(
                "the pipeline worker has shown no life for {} s",
                silent_ms.unwrap_or_default() / 1000
            ));
        }
        json!({
            "running": running,
            "restarts": worker.restarts.load(Ordering::Relaxed),
            "last_beat_secs_ago": silent_ms.map(|ms| ms / 1000),
        })
    });
    let body = json!({
        "status": if problems.is_empty() { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "database": "ok",
        "blobs": store.blobs.url(),
        "search_documents": store.search.len(),
        "worker": worker,
        "queue": queue,
        "problems": problems,
    });
    if problems.is_empty() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match state.store.queue.counts().await {
        Ok(counts) => {
            for (label, count) in [
                ("queued", counts.queued),
                ("leased", counts.leased),
                ("done", counts.done),
                ("dead", counts.dead),
            ] {
                metrics::gauge!("waymark_jobs", "state" => label).set(count as f64);
            }
        }
        Err(err) => tracing::warn!(error = %err, "metrics: cannot count jobs"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

async fn not_found(request: HttpRequest) -> HttpResponse {
    problem_response(&Problem::new(
        StatusCode::NOT_FOUND.as_u16(),
        "not-found",
        "Not found",
        format!("no route for {} {}", request.method(), request.path()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_panicking_worker_is_started_again_until_it_returns() {
        let health = Arc::new(WorkerHealth::default());
        let starts = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&starts);
        let watched = Arc::clone(&health);
        supervise_worker(Arc::clone(&health), move || {
            let start = counted.fetch_add(1, Ordering::Relaxed);
            let health = Arc::clone(&watched);
            async move {
                assert!(
                    health.running.load(Ordering::Relaxed),
                    "running while it runs"
                );
                if start < 2 {
                    panic!("a bug in the worker");
                }
            }
        })
        .await;
        assert_eq!(starts.load(Ordering::Relaxed), 3);
        assert_eq!(health.restarts.load(Ordering::Relaxed), 2);
        assert!(!health.running.load(Ordering::Relaxed), "stopped");
    }
}
