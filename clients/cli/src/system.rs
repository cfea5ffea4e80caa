//! Every service in one process: what `commerce up` runs locally and what the tests start.
use std::net::SocketAddr;

use anyhow::Context;
use commerce_auth::AuthService;
use commerce_command_api::CommandApi;
use commerce_platform::config::ConfigError;
use commerce_platform::Shutdown;
use commerce_read_api::ReadApi;
use commerce_sagas::payments::PaymentSimulator;
use commerce_sagas::SagaService;
use tokio::task::JoinHandle;

/// The configuration of each service, read from the same environment.
#[derive(Debug, Clone)]
pub struct SystemConfig {
    pub command_api: commerce_command_api::Config,
    pub projections: commerce_projections::Config,
    pub read_api: commerce_read_api::Config,
    pub sagas: commerce_sagas::Config,
    pub auth: commerce_auth::Config,
    /// Where the local payment simulator listens (`COMMERCE_PAYMENT_SIMULATOR_ADDR`, default
    /// 127.0.0.1:8083; `off` runs none, for a real provider at `COMMERCE_PAYMENT_URL`).
    pub payment_simulator: Option<SocketAddr>,
    /// Whether the saga runs in this process (`COMMERCE_RUN_SAGAS`, default true).
    pub run_sagas: bool,
}

impl SystemConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            command_api: commerce_command_api::Config::from_env()?,
            projections: commerce_projections::Config::from_env()?,
            read_api: commerce_read_api::Config::from_env()?,
            sagas: commerce_sagas::Config::from_env()?,
            auth: commerce_auth::Config::from_env()?,
            payment_simulator: match commerce_platform::config::env_opt(
                "COMMERCE_PAYMENT_SIMULATOR_ADDR",
            ) {
                Some(off) if off == "off" => None,
                _ => Some(commerce_platform::config::env_or(
                    "COMMERCE_PAYMENT_SIMULATOR_ADDR",
                    "127.0.0.1:8083",
                )?),
            },
            run_sagas: commerce_platform::config::env_or("COMMERCE_RUN_SAGAS", "true")?,
        })
    }
}

/// A started system: its addresses and the tasks serving them.
pub struct RunningSystem {
    pub command_api: SocketAddr,
    pub read_api: SocketAddr,
    pub auth: SocketAddr,
    /// The saga service's operational endpoints, when it runs here.
    pub sagas: Option<SocketAddr>,
    /// The payment simulator, when it runs here.
    pub payment_simulator: Option<SocketAddr>,
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

/// Migrates the event store, then starts every service; returns once all are bound. Without
/// `COMMERCE_JWKS_URL`, the APIs trust the keys of the auth service started here.
pub async fn start(mut config: SystemConfig, shutdown: Shutdown) -> anyhow::Result<RunningSystem> {
    let auth = AuthService::build(config.auth)
        .await
        .context("starting auth")?;
    let auth_addr = auth.address();
    for verification in [&mut config.command_api.auth, &mut config.read_api.auth] {
        verification
            .jwks_url
            .get_or_insert_with(|| commerce_auth::jwks_url(auth_addr));
    }
    let command_api = CommandApi::build(config.command_api)
        .await
        .context("starting command-api")?;
    let read_api = ReadApi::build(config.read_api)
        .await
        .context("starting read-api")?;
    let command_addr = command_api.address();
    let read_addr = read_api.address();
    let simulator = match config.payment_simulator {
        Some(listen) => Some(
            PaymentSimulator::bind(listen)
                .await
                .context("starting the payment simulator")?,
        ),
        None => None,
    };
    let simulator_addr = simulator.as_ref().map(PaymentSimulator::address);
    let sagas = if config.run_sagas {
        Some(
            SagaService::build(config.sagas)
                .await
                .context("starting the sagas")?
                .with_relay_waker(command_api.relay_waker()),
        )
    } else {
        None
    };
    let sagas_addr = sagas.as_ref().map(SagaService::address);
    let mut tasks = vec![
        (
            "auth",
            tokio::spawn(auth.run_until_stopped(shutdown.clone())),
        ),
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
    if let Some(simulator) = simulator {
        tasks.push((
            "payment-simulator",
            tokio::spawn(simulator.run_until_stopped(shutdown.clone())),
        ));
    }
    if let Some(sagas) = sagas {
        tasks.push((
            "sagas",
            tokio::spawn(sagas.run_until_stopped(shutdown.clone())),
        ));
    }
    Ok(RunningSystem {
        command_api: command_addr,
        read_api: read_addr,
        auth: auth_addr,
        sagas: sagas_addr,
        payment_simulator: simulator_addr,
        shutdown,
        tasks,
    })
}
