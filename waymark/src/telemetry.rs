//! Logs (tracing, to stderr) and metrics (the `metrics` facade, rendered for Prometheus).

use std::sync::OnceLock;

use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Installs the log subscriber; `filter` is an `EnvFilter` directive such as `info` or
/// `waymark=debug,store=info`.
pub fn init_tracing(filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter).with_context(|| {
        format!("settings key log = {filter:?} is not a valid log filter; try \"info\"")
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|err| anyhow::anyhow!("cannot install the logger: {err}"))
}

/// The process-wide Prometheus recorder, installed on first use. Every crate records
/// through the `metrics` macros; `/metrics` renders this handle.
pub fn metrics_handle() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|err| anyhow::anyhow!("cannot install the metrics recorder: {err}"))?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}
