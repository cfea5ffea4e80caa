//! `commerce-sagas`: the order-fulfilment saga alone, configured from `COMMERCE_*` variables
//! (`commerce up` runs it with every other service).
use std::process::ExitCode;

use commerce_platform::{http, telemetry, Shutdown};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init_logging();
    let config = match commerce_sagas::Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        http::termination_signal().await;
        stop.cancel();
    });
    match commerce_sagas::run(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "the saga service failed");
            ExitCode::FAILURE
        }
    }
}
