//! Every service in one process: what `commerce up` runs locally and what the tests start.
use std::net::SocketAddr;

use anyhow::Context;
use commerce_command_api::CommandApi;
use commerce_platform::config::ConfigError;
use commerce_platform::Shutdown;
use commerce_read_api::ReadApi;
use tokio::task::JoinHandle;

/// The configuration of each service, read from the same environment.
#[derive(Debug, Clone)]
pub struct SystemConfig {
    pub command_api: commerce_command_api::Config,
    pub projections: commerce_projections::Config,
    pub read_api: commerce_read_api::Config,
}

impl SystemConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            command_api: commerce_command_api::Config::from_env()?,
            projections: commerce_projections::Config::from_env()?,
            read_api: commerce_read_api::Config::from_env()?,
        })
    }
}

/// A started system: its addresses and the tasks serving them.
pub struct RunningSystem {
    pub command_api: SocketAddr,
    pub read_api: SocketAddr,
    pub shutdown: Shutdown,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

impl RunningSystem {
    /// Stops every service and waits for each, reporting the first failure.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until every service has exited (after a shutdown, or because one failed, which stops
    /// the others). Names the service that failed.
    pub async fn wait(self) -> anyhow::Result<()> {
        let shutdown = self.shutdown.clone();
        let mut first_error = None;
        let mut pending: futures::stream::FuturesUnordered<_> = self
            .tasks
            .into_iter()
            .map(|(name, task)| async move { (name, task.await) })
            .collect();
        use futures::StreamExt;
        while let Some((name, result)) = pending.next().await {
            let outcome = match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.context(format!("{name} failed"))),
                Err(e) => Err(anyhow::anyhow!("{name} panicked: {e}")),
            };
            match outcome {
                Ok(()) => tracing::info!(service = name, "service exited"),
                Err(e) => {
                    tracing::error!(service = name, error = %format!("{e:#}"), "service failed; stopping the others");
                    shutdown.cancel();
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Migrates the event store, then starts every service; returns once all are bound.
pub async fn start(config: SystemConfig, shutdown: Shutdown) -> anyhow::Result<RunningSystem> {
    let command_api = CommandApi::build(config.command_api)
        .await
        .context("starting command-api")?;
    let read_api = ReadApi::build(config.read_api)
        .await
        .context("starting read-api")?;
    let command_addr = command_api.address();
    let read_addr = read_api.address();
    let tasks = vec![
        (
            "command-api",
            tokio::spawn(command_api.run_until_stopped(shutdown.clone())),
        ),
        (
            "projections",
            tokio::spawn(commerce_projections::run(
                config.projections,
                shutdown.clone(),
            )),
        ),
        (
            "read-api",
            tokio::spawn(read_api.run_until_stopped(shutdown.clone())),
        ),
    ];
    Ok(RunningSystem {
        command_api: command_addr,
        read_api: read_addr,
        shutdown,
        tasks,
    })
}
