//! The order-fulfilment saga: the process manager that drives Inventory, Payment and Order through
//! commands, from the `OrderPlaced` it receives on its own queue to a confirmed or cancelled order.
//!
//! # Layout
//! - `model`: the saga's states and the pure rules of what follows each step's outcome.
//! - `steps`: each state's step: commands through the command side's executor, provider calls.
//! - `store`: schema `saga` (migrations, the runner's and listener's queries, operators' commands).
//! - `listener`: the queue consumer that starts sagas and records cancellations.
//! - `returns`: refunds of accepted returns (`saga.return_refunds`), and their runner.
//! - `runner`: takes due sagas under a lease and drives them; fires deadlines; resumes after crashes.
//! - `payments`: the payment provider adapter (it lives in `commerce_platform::payments`: the
//!   payout run uses it too).
//! - `clock`: the time deadlines are read in (tests move it).
//! - `config`: `COMMERCE_*` settings.
#![forbid(unsafe_code)]

pub mod clock;
mod config;
pub mod listener;
pub mod model;
pub use commerce_platform::payments;
pub mod returns;
pub mod runner;
pub mod steps;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use commerce_command_api::event_store::{CommandExecutor, PgEventRepository};
use commerce_domain::order::order_upcasters;
use commerce_platform::http::{self, AwsProbe, Dependencies};
use commerce_platform::messaging::{self, AwsClients, ORDER_SAGA_QUEUE};
use commerce_platform::{retry_until_ready, Shutdown};
use commerce_projections::consumer::SqsConsumer;
use commerce_projections::history::EventHistory;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use uuid::Uuid;

pub use config::Config;
use listener::SagaListener;
use payments::HttpPaymentProvider;
use runner::SagaRunner;
use steps::SagaSteps;
use store::SagaStore;

/// Events between snapshots of stock, as the command side takes them.
const SNAPSHOT_EVERY: usize = 20;

/// How long handled message ids are kept: longer than SQS keeps a message (14 days).
const HANDLED_MESSAGE_RETENTION: Duration = Duration::from_secs(15 * 24 * 3600);

/// The saga service, bound and ready to run.
pub struct SagaService {
    config: Config,
    listener: TcpListener,
    address: SocketAddr,
    relay_waker: Option<Arc<Notify>>,
}

impl SagaService {
    /// Binds the operational endpoints (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        commerce_platform::telemetry::metrics_handle();
        let (listener, address) = http::bind(config.listen).await?;
        Ok(Self {
            config,
            listener,
            address,
            relay_waker: None,
        })
    }

    /// Wakes an outbox relay in the same process as soon as the saga's commands commit.
    pub fn with_relay_waker(mut self, waker: Arc<Notify>) -> Self {
        self.relay_waker = Some(waker);
        self
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Consumes, drives sagas and serves `/metrics` until `shutdown`. Dependencies that are not
    /// up yet are waited for, not fatal.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let config = self.config;
        // A simulated crash (tests) stops this service only.
        let halt = shutdown.child_token();
        let Some(pool) = retry_until_ready("Postgres for the sagas", &halt, || async {
            // The steps' commands and the sagas' records are short: a few connections serve
            // every saga in flight.
            let pool = commerce_platform::database::connect_with_generic_plans(
                &config.database.at_most(10),
            )
            .await?;
            store::migrate(&pool).await?;
            Ok(pool)
        })
        .await
        else {
            return Ok(());
        };
        let aws = AwsClients::connect(&config.messaging).await;
        let deps = Dependencies {
            postgres: Some(pool.clone()),
            redis: None,
            aws: Some(AwsProbe::Queue {
                clients: aws.clone(),
                name: ORDER_SAGA_QUEUE.queue_name(&config.messaging),
            }),
        };
        let router = http::service_router("sagas", axum::Router::new(), deps, 1024);
        let served = tokio::spawn(http::serve(self.listener, router, halt.clone()));

        // The runner's claim of due sagas is planned from the table as it is each time; the
        // statements by key share the steps' pool.
        let store = SagaStore::with_scan_pool(
            pool.clone(),
            commerce_platform::database::connect_with_custom_plans(
                &config.database.at_most(2),
                &[],
            )
            .await?,
        );
        let provider =
            HttpPaymentProvider::new(&config.payment_url, config.payment_request_timeout)?;
        let repository = || PgEventRepository::new(pool.clone());
        let waker = self.relay_waker;
        let steps = SagaSteps {
            inventory: CommandExecutor::with_snapshots(repository(), SNAPSHOT_EVERY, waker.clone()),
            payments: CommandExecutor::new(repository(), waker.clone()),
            products: CommandExecutor::new(repository(), None)
                .with_upcasters(commerce_domain::product::product_upcasters()),
            commissions: CommandExecutor::new(repository(), None),
            sales: CommandExecutor::new(repository(), None),
            categories: Default::default(),
            orders: CommandExecutor::new(repository(), waker).with_upcasters(order_upcasters()),
            repository: repository(),
            held_transactions: commerce_platform::database::connect(&config.database.at_most(2))
                .await?,
            provider: Arc::new(provider),
        };
        let wake = Arc::new(Notify::new());
        let (hand_over, new_sagas) = tokio::sync::mpsc::unbounded_channel();
        let owner = Uuid::now_v7();
        let runner = Arc::new(SagaRunner {
            store: store.clone(),
            steps,
            clock: config.clock.clone(),
            timings: config.timings.clone(),
            config: config.runner.clone(),
            faults: config.faults.clone(),
            wake: wake.clone(),
            owner,
        });
        let running = tokio::spawn(runner.clone().run(new_sagas, halt.clone()));
        let returns_wake = Arc::new(Notify::new());
        let refunding = tokio::spawn(runner.run_returns(returns_wake.clone(), halt.clone()));
        let gauges = tokio::spawn(export_counts(store.clone(), halt.clone()));

        let consumed = async {
            let name = ORDER_SAGA_QUEUE.queue_name(&config.messaging);
            let Some(queue_url) = retry_until_ready(&format!("queue {name}"), &halt, || {
                messaging::queue_url(&aws, &name)
            })
            .await
            else {
                return Ok(());
            };
            let listener = SagaListener::new(
                store.clone(),
                config.clock.clone(),
                config.timings.clone(),
                wake,
                (owner, config.runner.lease),
                hand_over,
                returns_wake,
            );
            SqsConsumer::new(
                aws.sqs.clone(),
                queue_url,
                listener,
                EventHistory::new(pool.clone()),
                config.consumer.clone(),
            )
            .run(halt.clone())
            .await
        }
        .await;
        halt.cancel();
        running.await.context("saga runner panicked")?;
        refunding.await.context("return refund runner panicked")?;
        gauges.await.context("saga gauges panicked")?;
        served.await.context("saga http panicked")??;
        consumed
    }
}

/// Publishes how many sagas are in each state, and forgets old handled message ids.
async fn export_counts(store: SagaStore, halt: Shutdown) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    while !halt.is_cancelled() {
        tokio::select! {
            _ = tick.tick() => {},
            _ = halt.cancelled() => break,
        }
        match store.counts().await {
            Ok(counts) => {
                for state in model::SagaState::ALL {
                    let n = counts
                        .iter()
                        .find(|(s, _)| *s == state)
                        .map_or(0, |(_, n)| *n);
                    metrics::gauge!("sagas", "state" => state.as_str()).set(n as f64);
                }
            }
            Err(error) => tracing::debug!(%error, "could not count sagas"),
        }
        if let Err(error) = store.forget_handled_before(HANDLED_MESSAGE_RETENTION).await {
            tracing::debug!(%error, "could not forget old handled messages");
        }
    }
}

/// Builds and runs the saga service until `shutdown`.
pub async fn run(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    SagaService::build(config)
        .await?
        .run_until_stopped(shutdown)
        .await
}
