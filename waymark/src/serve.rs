//! `waymark serve`: opens the store, mounts the routes, and serves until SIGINT/SIGTERM,
//! letting in-flight requests finish.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use actix_web::dev::{ServerHandle, Service, ServiceRequest};
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use model::Problem;
use serde_json::json;
use store::Store;

use crate::settings::{Role, Settings};
use crate::telemetry;

/// What every handler can reach.
#[derive(Debug, Clone)]
struct AppState {
    store: Store,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
}

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
    let state = AppState {
        store: store.clone(),
        metrics: telemetry::metrics_handle()?,
    };
    tracing::info!(roles = ?settings.roles, "starting");
    let worker = if settings.runs(Role::Worker) {
        let analyzer = crate::vision_stage::analyzer()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = actix_web::rt::spawn(ingest::worker::run_until(
            store.clone(),
            analyzer,
            Duration::from_millis(500),
            Duration::from_secs(settings.ingest.job_lease_secs.max(1)),
            stopped,
        ));
        Some((stop, task))
    } else {
        None
    };
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
    let served_tiles = mbtiles.clone();
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
    };
    let serves_web = settings.runs(Role::Web);
    let server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(web::Data::new(state.clone()))
            .configure(ingest::configure_parts(
                state.store.clone(),
                ingest::UploadLimits::default(),
                ingest_routes,
            ));
        if let Some(tiles) = &served_tiles {
            app = app.configure(tiles::routes::configure(
                tiles.clone(),
                served_basemap.clone(),
            ));
        }
        if serves_web {
            app = app
                .service(rewards::routes::scope(state.store.clone()))
                .configure(web_map::configure(web_map.clone()))
                .configure(metering::routes::configure(served_metering.clone()));
        }
        app.app_data(web::Data::new(served_metering.clone()))
            .wrap(actix_web::middleware::from_fn(metering::gate))
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
    if let Some(mbtiles) = mbtiles {
        mbtiles.close().await;
    }
    store.db.pool().close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Opens the live tileset (a corrupt file stops the server with its name), builds it in
/// full when it is new, and keeps it fresh from dirty cells in the background.
async fn start_tile_builder(
    settings: &Settings,
    store: &Store,
    data_dir: &Path,
) -> anyhow::Result<tiles::MbTiles> {
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
    actix_web::rt::spawn(builder.run(interval));
    Ok(mbtiles)
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
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "database": "ok",
        "blobs": store.blobs.url(),
        "search_documents": store.search.len(),
    }))
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

fn problem_response(problem: &Problem) -> HttpResponse {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .insert_header(ContentType(
            "application/problem+json"
                .parse()
                .expect("a valid mime type"),
        ))
        .json(problem)
}
