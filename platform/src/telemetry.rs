//! Logging and metrics, installed once per process (services may share one process in `commerce up`).
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{fmt, EnvFilter};

/// Installs JSON logs filtered by `RUST_LOG` (default `info`). Later calls are no-ops, so tests and
/// the all-in-one process can call it freely. Tests stay quiet unless `TEST_LOG` is set.
pub fn init_logging() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
        let _ = fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    });
}

/// Logging for tests: only when `TEST_LOG` is set, so `cargo test` output stays readable.
pub fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        init_logging();
    }
}

/// The process-wide Prometheus recorder. The first call installs it.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("seconds".into()),
                &[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            )
            .expect("bucket list is non-empty");
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is already installed (e.g. by an embedding program): keep a local one
            // so `/metrics` still answers instead of failing the service.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}
