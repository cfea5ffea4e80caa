//! The command side: HTTP commands validated against event-sourced aggregates, appended with their
//! outbox rows to the Postgres event store, and relayed to SNS.
//!
//! # Layout
//! - `config`: `COMMERCE_*` settings of this service.
//! - `error`: `ApiError`, the one mapping of every failure to problem+json.
//! - `event_store`: the `es` schema (migrations), our `PersistedEventRepository`, and the command
//!   executor with bounded optimistic-concurrency retries.
//! - `idempotency`: `Idempotency-Key` handling (first answer replayed, other bodies refused).
//! - `relay`: the outbox relay (single active publisher, ordered per aggregate, batched to SNS).
//! - `outbox_retention`: removal of published outbox rows after their retention.
//! - `payouts`: the payout run (release what is past its hold, pay each vendor once through the
//!   payment provider), which `POST /v1/payouts/runs` starts.
//! - `routes`: one module per aggregate's endpoints, as listed in API.md, and vendors' webhooks.
#![forbid(unsafe_code)]

mod config;
mod error;
pub mod event_store;
mod idempotency;
pub mod outbox_retention;
pub mod payouts;
pub mod relay;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{post, put};
use axum::Router;
use commerce_domain::cart::{cart_upcasters, Cart};
use commerce_domain::commission::CommissionSchedule;
use commerce_domain::inventory::Inventory;
use commerce_domain::order::{order_upcasters, Order};
use commerce_domain::product::{product_upcasters, Product};
use commerce_domain::vendor::Vendor;
use commerce_platform::auth::JwtKeys;
use commerce_platform::http::{self, AwsProbe, Dependencies};
use commerce_platform::messaging::{self, AwsClients};
use commerce_platform::openapi::BearerSecurity;
use commerce_platform::payments::HttpPaymentProvider;
use commerce_platform::Shutdown;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use config::Config;
pub use error::ApiError;
use event_store::{CommandExecutor, PgEventRepository};
use relay::OutboxRelay;

/// Events between snapshots of carts and stock.
const SNAPSHOT_EVERY: usize = 20;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub keys: Arc<JwtKeys>,
    pub products: Arc<CommandExecutor<Product>>,
    pub inventory: Arc<CommandExecutor<Inventory>>,
    pub carts: Arc<CommandExecutor<Cart>>,
    pub orders: Arc<CommandExecutor<Order>>,
    pub vendors: Arc<CommandExecutor<Vendor>>,
    pub commissions: Arc<CommandExecutor<CommissionSchedule>>,
    /// For commands that append to two aggregates at once (checkout), and its pool for the
    /// webhook settings.
    pub repository: PgEventRepository,
    /// Which webhook URLs vendors may set.
    pub webhook_targets: commerce_platform::webhooks::Targets,
    /// Wakes the relay after a transaction a handler commits itself (an audited command).
    pub relay_waker: Arc<Notify>,
    /// Where a handler opens a transaction it holds across a command (an audited one): not the
    /// executors' pool, whose connections the command's own loads need, so holders can never
    /// starve the commands they wait for. Shared with the idempotency layer, for that reason.
    pub held_transactions: sqlx::PgPool,
    /// Releases and pays vendors' balances (`POST /v1/payouts/runs`).
    pub payout_run: payouts::PayoutRun,
}

impl FromRef<AppState> for Arc<JwtKeys> {
    fn from_ref(state: &AppState) -> Self {
        state.keys.clone()
    }
}

/// The OpenAPI document of this service, generated from the handlers and their types.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "commerce command API", version = "1"),
    paths(
        routes::products::create_product,
        routes::products::change_price,
        routes::products::publish,
        routes::products::unpublish,
        routes::inventory::receive_stock,
        routes::carts::create_cart,
        routes::carts::add_item,
        routes::carts::change_quantity,
        routes::carts::remove_item,
        routes::carts::checkout,
        routes::orders::cancel,
        routes::orders::ship,
        routes::returns::request_return,
        routes::returns::accept_return,
        routes::returns::reject_return,
        routes::vendors::apply,
        routes::vendors::approve,
        routes::vendors::suspend,
        routes::vendors::reinstate,
        routes::commissions::set_rules,
        routes::commissions::get_rules,
        routes::payouts::run_payouts,
        routes::webhooks::set_webhook,
        routes::webhooks::remove_webhook,
    ),
    components(schemas(
        commerce_platform::openapi::ProblemSchema,
        payouts::RunReport,
        payouts::PayoutMade,
        payouts::PayoutFailure
    )),
    modifiers(&BearerSecurity),
    tags(
        (name = "products", description = "A vendor's catalogue"),
        (name = "inventory", description = "A vendor's stock"),
        (name = "carts", description = "A customer's cart and checkout"),
        (name = "orders", description = "Cancelling and shipping orders, and returns of shipped goods"),
        (name = "vendors", description = "Sellers applying, and admins admitting, suspending and reinstating them"),
        (name = "commissions", description = "What the marketplace takes of each sale"),
        (name = "payouts", description = "Paying vendors their available balances"),
        (name = "webhooks", description = "Where a vendor's order notifications are posted")
    )
)]
pub struct ApiDoc;

/// Every route of the service, with its layers; tests can drive it without a socket.
pub fn router(
    state: AppState,
    deps: Dependencies,
    idempotency: idempotency::IdempotencyLayer,
    max_body_bytes: usize,
    trust_forwarded_for: bool,
) -> Router {
    let api = Router::new()
        .route("/v1/products", post(routes::products::create_product))
        .route(
            "/v1/products/{id}/price",
            put(routes::products::change_price),
        )
        .route("/v1/products/{id}/publish", post(routes::products::publish))
        .route(
            "/v1/products/{id}/unpublish",
            post(routes::products::unpublish),
        )
        .route(
            "/v1/inventory/{product_id}/receipts",
            post(routes::inventory::receive_stock),
        )
        .route("/v1/carts", post(routes::carts::create_cart))
        .route("/v1/carts/{id}/items", post(routes::carts::add_item))
        .route(
            "/v1/carts/{id}/items/{product_id}",
            put(routes::carts::change_quantity).delete(routes::carts::remove_item),
        )
        .route("/v1/carts/{id}/checkout", post(routes::carts::checkout))
        .route("/v1/orders/{id}/cancel", post(routes::orders::cancel))
        .route("/v1/orders/{id}/ship", post(routes::orders::ship))
        .route(
            "/v1/orders/{id}/returns",
            post(routes::returns::request_return),
        )
        .route(
            "/v1/orders/{id}/returns/{return_id}/accept",
            post(routes::returns::accept_return),
        )
        .route(
            "/v1/orders/{id}/returns/{return_id}/reject",
            post(routes::returns::reject_return),
        )
        .route(
            "/v1/commission-rules",
            put(routes::commissions::set_rules).get(routes::commissions::get_rules),
        )
        .route("/v1/payouts/runs", post(routes::payouts::run_payouts))
        .route("/v1/vendors", post(routes::vendors::apply))
        .route(
            "/v1/vendors/{vendor_id}/approve",
            post(routes::vendors::approve),
        )
        .route(
            "/v1/vendors/{vendor_id}/suspend",
            post(routes::vendors::suspend),
        )
        .route(
            "/v1/vendors/{vendor_id}/reinstate",
            post(routes::vendors::reinstate),
        )
        .route(
            "/v1/vendors/{vendor_id}/webhook",
            put(routes::webhooks::set_webhook).delete(routes::webhooks::remove_webhook),
        )
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            idempotency,
            idempotency::idempotent,
        ))
        .layer(axum::middleware::from_fn_with_state(
            trust_forwarded_for,
            http::resolve_client_address,
        ))
        .merge(commerce_platform::openapi::docs_routes(
            <ApiDoc as utoipa::OpenApi>::openapi(),
        ));
    http::service_router(
        "command-api",
        api.layer(DefaultBodyLimit::max(max_body_bytes)),
        deps,
        max_body_bytes,
    )
}

/// The command API, bound and ready to serve.
pub struct CommandApi {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    relay: Option<RelayLauncher>,
    /// Where expired idempotency keys and published outbox rows are removed from.
    sweeper_pool: sqlx::PgPool,
    outbox_retention: outbox_retention::OutboxRetention,
    /// Wakes this process's relay; other services in the process (the saga) share it.
    relay_waker: Arc<Notify>,
}

/// What the relay needs to start. The topic is resolved once the service runs, with retries: the
/// command path must accept commands while SNS is unreachable (that is what the outbox is for).
struct RelayLauncher {
    pool: sqlx::PgPool,
    aws: AwsClients,
    messaging: commerce_platform::config::MessagingConfig,
    config: relay::RelayConfig,
    waker: Arc<Notify>,
}

impl RelayLauncher {
    async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let (aws, messaging) = (&self.aws, &self.messaging);
        let Some(topic_arn) =
            commerce_platform::retry_until_ready("the events topic", &shutdown, || {
                messaging::topic_arn(aws, messaging)
            })
            .await
        else {
            return Ok(());
        };
        OutboxRelay::new(self.pool, self.aws.sns, topic_arn, self.config, self.waker)
            .run(shutdown)
            .await
    }
}

impl CommandApi {
    /// Connects, migrates, binds (port 0 picks a free port) and prepares the relay.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // Install the recorder before anything records, or early samples go nowhere.
        commerce_platform::telemetry::metrics_handle();
        let pool =
            commerce_platform::database::connect_with_generic_plans(&config.database).await?;
        event_store::migrate(&pool).await?;
        // Audited commands (price changes) write the audit log.
        commerce_platform::audit::migrate(&pool).await?;
        let aws = AwsClients::connect(&config.messaging).await;
        let waker = Arc::new(Notify::new());
        // A pool of its own, planning each claim from the outbox as it is (see
        // `connect_with_custom_plans`), with the claims' session settings (see `relay::claims`).
        let relay_pool = match config.run_relay {
            true => Some(
                // The claims in flight and their stamps; the lock has a connection of its own.
                commerce_platform::database::connect_with_custom_plans(
                    &config.database.at_most(4),
                    &relay::claims::session_settings(&config.relay.lease)
                        .iter()
                        .map(|(name, value)| (*name, value.as_str()))
                        .collect::<Vec<_>>(),
                )
                .await?,
            ),
            false => None,
        };
        let relay = relay_pool.map(|pool| RelayLauncher {
            pool,
            aws: aws.clone(),
            messaging: config.messaging.clone(),
            config: config.relay.clone(),
            waker: waker.clone(),
        });
        let keys = Arc::new(JwtKeys::from_config(&config.auth));
        // A pool of its own: requests waiting on a key hold a connection, and must never starve
        // the commands they wait for.
        let idempotency = idempotency::IdempotencyLayer {
            pool: commerce_platform::database::connect(&config.database.at_most(8)).await?,
            keys: keys.clone(),
            max_body_bytes: config.max_body_bytes,
            relay_waker: waker.clone(),
        };
        let sweeper_pool = idempotency.pool.clone();
        let state = AppState {
            keys,
            products: Arc::new(
                CommandExecutor::new(PgEventRepository::new(pool.clone()), Some(waker.clone()))
                    .with_upcasters(product_upcasters()),
            ),
            // Carts and stock grow with every change: load them from a snapshot plus what follows.
            inventory: Arc::new(CommandExecutor::with_snapshots(
                PgEventRepository::new(pool.clone()),
                SNAPSHOT_EVERY,
                Some(waker.clone()),
            )),
            carts: Arc::new(
                CommandExecutor::with_snapshots(
                    PgEventRepository::new(pool.clone()),
                    SNAPSHOT_EVERY,
                    Some(waker.clone()),
                )
                .with_upcasters(cart_upcasters()),
            ),
            orders: Arc::new(
                CommandExecutor::new(PgEventRepository::new(pool.clone()), Some(waker.clone()))
                    .with_upcasters(order_upcasters()),
            ),
            vendors: Arc::new(CommandExecutor::new(
                PgEventRepository::new(pool.clone()),
                Some(waker.clone()),
            )),
            commissions: Arc::new(CommandExecutor::new(
                PgEventRepository::new(pool.clone()),
                Some(waker.clone()),
            )),
            payout_run: payouts::PayoutRun {
                sales: Arc::new(CommandExecutor::new(
                    PgEventRepository::new(pool.clone()),
                    Some(waker.clone()),
                )),
                payouts: Arc::new(CommandExecutor::new(
                    PgEventRepository::new(pool.clone()),
                    Some(waker.clone()),
                )),
                read_models: pool.clone(),
                provider: Arc::new(HttpPaymentProvider::new(
                    &config.payment_url,
                    config.payment_request_timeout,
                )?),
                hold: chrono::Duration::from_std(config.payout_hold)
                    .unwrap_or(chrono::Duration::MAX),
            },
            repository: PgEventRepository::new(pool.clone()),
            webhook_targets: config.webhook_targets,
            relay_waker: waker.clone(),
            held_transactions: idempotency.pool.clone(),
        };
        let deps = Dependencies {
            postgres: Some(pool),
            redis: None,
            aws: Some(AwsProbe::Topic {
                clients: aws,
                config: config.messaging.clone(),
            }),
        };
        let (listener, address) = http::bind(config.listen).await?;
        Ok(Self {
            listener,
            address,
            router: router(
                state,
                deps,
                idempotency,
                config.max_body_bytes,
                config.trust_forwarded_for,
            ),
            relay,
            sweeper_pool,
            outbox_retention: config.outbox_retention,
            relay_waker: waker,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Wakes the relay of this process at once, for commands appended outside its handlers.
    pub fn relay_waker(&self) -> Arc<Notify> {
        self.relay_waker.clone()
    }

    /// Serves (and relays) until `shutdown`; in-flight requests finish first.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        tracing::info!(address = %self.address, "command-api listening");
        let relay = self
            .relay
            .map(|relay| tokio::spawn(relay.run(shutdown.clone())));
        let sweeper = tokio::spawn(idempotency::sweep_expired_keys(
            self.sweeper_pool.clone(),
            shutdown.clone(),
        ));
        let outbox_sweeper = tokio::spawn(outbox_retention::sweep_published_rows(
            self.sweeper_pool,
            self.outbox_retention,
            shutdown.clone(),
        ));
        let served =
            http::serve_with_client_addresses(self.listener, self.router, shutdown.clone()).await;
        shutdown.cancel();
        if let Some(relay) = relay {
            relay.await.context("outbox relay task panicked")??;
        }
        sweeper.await.context("idempotency sweeper panicked")?;
        outbox_sweeper
            .await
            .context("outbox retention sweeper panicked")?;
        served
    }
}

/// Builds and runs the service until `shutdown`.
pub async fn run(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    CommandApi::build(config)
        .await?
        .run_until_stopped(shutdown)
        .await
}
