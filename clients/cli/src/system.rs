//! Every service in one process: what `commerce up` runs locally and what the tests start.
use std::net::SocketAddr;

use anyhow::Context;
use commerce_auth::AuthService;
use commerce_command_api::CommandApi;
use commerce_platform::config::ConfigError;
use commerce_platform::http::Dependencies;
use commerce_platform::Shutdown;
use commerce_read_api::ReadApi;
use commerce_sagas::payments::PaymentSimulator;
use commerce_sagas::SagaService;
use tokio::task::JoinHandle;

/// One service a process can run. A deployment runs one per container (`commerce serve
/// catalog-projector`), so each scales on what loads it and holds only the permissions it needs;
/// `commerce up` runs them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Component {
    /// Accounts, sign-in and the signing keys (`COMMERCE_AUTH_ADDR`).
    Auth,
    /// The command API, and the outbox relay when `COMMERCE_RUN_RELAY` is true.
    CommandApi,
    /// The read API (`COMMERCE_READ_API_ADDR`).
    ReadApi,
    /// The order saga (`COMMERCE_SAGAS_ADDR` serves its health and metrics).
    Sagas,
    /// The local payment provider simulator (`COMMERCE_PAYMENT_SIMULATOR_ADDR`); never deployed.
    PaymentSimulator,
    /// The catalog projector (Redis).
    CatalogProjector,
    /// The cart projector (Redis).
    CartProjector,
    /// The orders projector (Postgres).
    OrdersProjector,
    /// The analytics projector (Postgres).
    AnalyticsProjector,
    /// The notifications projector (Postgres); it queues webhook deliveries.
    NotificationsProjector,
    /// Sends the queued webhook deliveries to vendors.
    Webhooks,
    /// The ledger projector (Postgres): vendors' balances, statements and payouts.
    LedgerProjector,
}

impl Component {
    /// The projections crate's worker this component is, if it is one.
    fn worker(self) -> Option<commerce_projections::Worker> {
        use commerce_projections::Worker;
        match self {
            Component::CatalogProjector => Some(Worker::Catalog),
            Component::CartProjector => Some(Worker::Cart),
            Component::OrdersProjector => Some(Worker::Orders),
            Component::AnalyticsProjector => Some(Worker::Analytics),
            Component::NotificationsProjector => Some(Worker::Notifications),
            Component::Webhooks => Some(Worker::Webhooks),
            Component::LedgerProjector => Some(Worker::Ledger),
            _ => None,
        }
    }

    /// Whether the component answers `/healthz`, `/readyz` and `/metrics` on a port of its own.
    fn has_listener(self) -> bool {
        matches!(
            self,
            Component::Auth | Component::CommandApi | Component::ReadApi | Component::Sagas
        )
    }
}

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
    /// Where a process that runs only workers (projectors, webhooks) answers `/healthz`,
    /// `/readyz` and `/metrics` (`COMMERCE_OPS_ADDR`, default 127.0.0.1:9090).
    pub ops_listen: SocketAddr,
    /// How often the process checks that Postgres still accepts its password
    /// (`COMMERCE_DATABASE_CREDENTIAL_CHECK_SECS`, default 60); see
    /// [`commerce_platform::database::watch_credentials`].
    pub credential_check: std::time::Duration,
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
            ops_listen: commerce_platform::config::env_or("COMMERCE_OPS_ADDR", "127.0.0.1:9090")?,
            credential_check: std::time::Duration::from_secs(commerce_platform::config::env_or(
                "COMMERCE_DATABASE_CREDENTIAL_CHECK_SECS",
                "60",
            )?),
        })
    }

    /// What `commerce up` runs: every component, less the simulator and the saga when they
    /// are switched off.
    pub fn all_components(&self) -> Vec<Component> {
        use clap::ValueEnum;
        Component::value_variants()
            .iter()
            .copied()
            .filter(|component| match component {
                Component::PaymentSimulator => self.payment_simulator.is_some(),
                Component::Sagas => self.run_sagas,
                _ => true,
            })
            .collect()
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
    services: RunningServices,
}

impl RunningSystem {
    /// Stops every service and waits for each, reporting the first failure.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.services.stop().await
    }

    /// Waits until every service has exited (after a shutdown, or because one failed, which stops
    /// the others). Names the service that failed.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.services.wait().await
    }
}

/// Some started components: where each listens and the tasks serving them.
pub struct RunningServices {
    /// The address of each component (or of the workers' operational endpoints) that listens.
    pub listening: Vec<(&'static str, SocketAddr)>,
    pub shutdown: Shutdown,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

impl RunningServices {
    /// Where `name` listens, if it runs here.
    pub fn address(&self, name: &str) -> Option<SocketAddr> {
        self.listening
            .iter()
            .find(|(listening, _)| *listening == name)
            .map(|(_, address)| *address)
    }

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

/// Starts every service (the database must be migrated); returns once all are bound. Without
/// `COMMERCE_JWKS_URL`, the APIs trust the keys of the auth service started here.
pub async fn start(config: SystemConfig, shutdown: Shutdown) -> anyhow::Result<RunningSystem> {
    let components = config.all_components();
    start_with(config, &components, shutdown).await
}

/// [`start`], running only `components`, which must include the three APIs (tests run the
/// others in processes of their own, as a deployment does).
pub async fn start_with(
    config: SystemConfig,
    components: &[Component],
    shutdown: Shutdown,
) -> anyhow::Result<RunningSystem> {
    let services = start_components(config, components, shutdown.clone()).await?;
    let listening = |name: &str| {
        services
            .address(name)
            .with_context(|| format!("{name} did not start"))
    };
    Ok(RunningSystem {
        command_api: listening("command-api")?,
        read_api: listening("read-api")?,
        auth: listening("auth")?,
        sagas: services.address("sagas"),
        payment_simulator: services.address("payment-simulator"),
        shutdown,
        services,
    })
}

/// Starts `components` (the database must be migrated); returns once each is bound. When the
/// auth service runs here and `COMMERCE_JWKS_URL` is unset, the APIs trust its keys. A process
/// of workers alone answers `/healthz`, `/readyz` and `/metrics` on `COMMERCE_OPS_ADDR`.
pub async fn start_components(
    mut config: SystemConfig,
    components: &[Component],
    shutdown: Shutdown,
) -> anyhow::Result<RunningServices> {
    let runs = |component: Component| components.contains(&component);
    let credential_checks = databases(&config, components);
    let mut listening = Vec::new();
    let mut tasks = Vec::new();
    if runs(Component::Auth) {
        let auth = AuthService::build(config.auth)
            .await
            .context("starting auth")?;
        let auth_addr = auth.address();
        for verification in [&mut config.command_api.auth, &mut config.read_api.auth] {
            verification
                .jwks_url
                .get_or_insert_with(|| commerce_auth::jwks_url(auth_addr));
        }
        listening.push(("auth", auth_addr));
        tasks.push((
            "auth",
            tokio::spawn(auth.run_until_stopped(shutdown.clone())),
        ));
    }
    let mut relay_waker = None;
    if runs(Component::CommandApi) {
        let command_api = CommandApi::build(config.command_api)
            .await
            .context("starting command-api")?;
        relay_waker = Some(command_api.relay_waker());
        listening.push(("command-api", command_api.address()));
        tasks.push((
            "command-api",
            tokio::spawn(command_api.run_until_stopped(shutdown.clone())),
        ));
    }
    if runs(Component::ReadApi) {
        let read_api = ReadApi::build(config.read_api)
            .await
            .context("starting read-api")?;
        listening.push(("read-api", read_api.address()));
        tasks.push((
            "read-api",
            tokio::spawn(read_api.run_until_stopped(shutdown.clone())),
        ));
    }
    let workers: Vec<_> = components
        .iter()
        .filter_map(|component| component.worker())
        .collect();
    if !workers.is_empty() {
        let projections = config.projections.clone();
        let stopped = shutdown.clone();
        tasks.push((
            "projections",
            tokio::spawn(async move {
                commerce_projections::run_workers(projections, &workers, stopped).await
            }),
        ));
    }
    if let (true, Some(listen)) = (runs(Component::PaymentSimulator), config.payment_simulator) {
        let simulator = PaymentSimulator::bind(listen)
            .await
            .context("starting the payment simulator")?;
        listening.push(("payment-simulator", simulator.address()));
        tasks.push((
            "payment-simulator",
            tokio::spawn(simulator.run_until_stopped(shutdown.clone())),
        ));
    }
    if runs(Component::Sagas) {
        let mut sagas = SagaService::build(config.sagas)
            .await
            .context("starting the sagas")?;
        if let Some(waker) = relay_waker {
            sagas = sagas.with_relay_waker(waker);
        }
        listening.push(("sagas", sagas.address()));
        tasks.push((
            "sagas",
            tokio::spawn(sagas.run_until_stopped(shutdown.clone())),
        ));
    }
    if !components.iter().any(|component| component.has_listener()) {
        let (listener, address) = commerce_platform::http::bind(config.ops_listen)
            .await
            .context("binding the operational endpoints (COMMERCE_OPS_ADDR)")?;
        let router = commerce_platform::http::service_router(
            "workers",
            Default::default(),
            operational_dependencies(&config.projections.database)?,
            1024,
        );
        listening.push(("ops", address));
        tasks.push((
            "ops",
            tokio::spawn(commerce_platform::http::serve(
                listener,
                router,
                shutdown.clone(),
            )),
        ));
    }
    if tasks.is_empty() {
        anyhow::bail!("no component to run");
    }
    for database in credential_checks {
        let shutdown = shutdown.clone();
        let every = config.credential_check;
        tasks.push((
            "database-credentials",
            tokio::spawn(async move {
                commerce_platform::database::watch_credentials(&database, every, &shutdown).await
            }),
        ));
    }
    Ok(RunningServices {
        listening,
        shutdown,
        tasks,
    })
}

/// The databases `components` connect to, each once (a deployment gives them all the same).
fn databases(
    config: &SystemConfig,
    components: &[Component],
) -> Vec<commerce_platform::config::DatabaseConfig> {
    let mut databases: Vec<commerce_platform::config::DatabaseConfig> = Vec::new();
    for component in components {
        let database = match component {
            Component::Auth => &config.auth.database,
            Component::CommandApi => &config.command_api.database,
            Component::ReadApi => &config.read_api.database,
            Component::Sagas => &config.sagas.database,
            Component::PaymentSimulator => continue,
            _ => &config.projections.database,
        };
        if !databases
            .iter()
            .any(|known| known.url.expose() == database.url.expose())
        {
            databases.push(database.clone());
        }
    }
    databases
}

/// What a process of workers reports ready on: Postgres, which every worker needs, through one
/// connection made when `/readyz` is first asked (the workers wait out an outage themselves).
fn operational_dependencies(
    database: &commerce_platform::config::DatabaseConfig,
) -> anyhow::Result<Dependencies> {
    Ok(Dependencies {
        postgres: Some(commerce_platform::database::connect_lazy(
            &database.at_most(1),
        )?),
        ..Dependencies::default()
    })
}
