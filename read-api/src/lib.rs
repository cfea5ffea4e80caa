//! The query side: read models served over HTTP, with read-your-writes through `min_version`.
//!
//! # Layout
//! - `config`: `COMMERCE_*` settings of this service.
//! - `error`: `ReadError` and its one mapping to problem+json.
//! - `consistency`: `min_version` (query or `X-Min-Version` header) and the bounded wait for it.
//! - `carts`: `GET /v1/carts/{id}` for the cart's customer.
//! - `orders`: `GET /v1/orders/{id}` and `GET /v1/orders` for customers, vendors and admins.
//! - `catalog`: `GET /v1/catalog/products` (filters, cursor pages) and `GET /v1/catalog/products/{id}`.
//! - `events`: `GET /v1/events`, the global event stream for analysts and ops.
//! - `analytics`: `GET /v1/analytics/sales` and `/v1/analytics/funnel` for analysts and admins.
//! - `dashboard`: `GET /v1/vendors/{vendor_id}/dashboard`, a vendor's own figures.
//! - `notifications`: `GET /v1/notifications`, a customer's or vendor's, newest first.
//! - `webhook_deliveries`: `GET /v1/vendors/{vendor_id}/webhook/deliveries`, their states.
//! - `paging`: cursor pages of the Postgres lists.
//! - `ledger`: a vendor's balance, statement and payouts, and the commission income (admins).
//! - `vendor_page`: `/vendor/dashboard`, the same as a page with charts, signed in by cookie.
#![forbid(unsafe_code)]

mod analytics;
mod carts;
mod catalog;
mod config;
mod consistency;
mod dashboard;
mod error;
mod events;
mod ledger;
mod notifications;
mod orders;
mod paging;
mod vendor_page;
mod vendors;
mod webhook_deliveries;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;
use commerce_platform::auth::JwtKeys;
use commerce_platform::http::{self, Dependencies};
use commerce_platform::openapi::BearerSecurity;
use commerce_platform::Shutdown;
use commerce_projections::cart::CartKeys;
use commerce_projections::catalog::CatalogKeys;
use redis::aio::ConnectionManager;
use tokio::net::TcpListener;

pub use config::Config;
pub use consistency::MAX_WAIT as MAX_MIN_VERSION_WAIT;
pub use error::ReadError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub keys: Arc<JwtKeys>,
    pub redis: ConnectionManager,
    pub catalog: CatalogKeys,
    pub carts: CartKeys,
    pub postgres: sqlx::PgPool,
    /// Longest a read waits for `min_version` (`Config::min_version_wait`).
    pub min_version_wait: std::time::Duration,
    /// Orders written by the projector, so reads waiting for one wake when it changes.
    pub order_changes: consistency::ChangeFeed,
}

impl FromRef<AppState> for Arc<JwtKeys> {
    fn from_ref(state: &AppState) -> Self {
        state.keys.clone()
    }
}

/// The OpenAPI document of this service, generated from the handlers and their types.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "commerce read API", version = "1"),
    paths(
        catalog::list_products,
        catalog::get_product,
        carts::get_cart,
        orders::get_order,
        orders::list_orders,
        orders::order_events,
        orders::get_sub_order,
        notifications::list_notifications,
        events::list_events,
        analytics::sales,
        analytics::funnel,
        vendors::get_vendor,
        vendors::list_vendors,
        dashboard::vendor_dashboard,
        webhook_deliveries::list_deliveries,
        ledger::balance,
        ledger::statement,
        ledger::payouts,
        ledger::commission_income
    ),
    components(schemas(commerce_platform::openapi::ProblemSchema)),
    modifiers(&BearerSecurity),
    tags(
        (name = "catalog", description = "Published products"),
        (name = "vendors", description = "Vendors' profiles, and the admins' list of them"),
        (name = "carts", description = "A customer's cart"),
        (name = "orders", description = "Orders, for their customer and their vendors"),
        (name = "events", description = "The global event stream, for analysts and ops"),
        (name = "analytics", description = "Sales, the funnel and vendors' dashboards"),
        (name = "notifications", description = "What customers and vendors were told about their orders"),
        (name = "webhooks", description = "What became of a vendor's webhook deliveries"),
        (name = "ledger", description = "Vendors' balances, statements and payouts; the marketplace's commission income")
    )
)]
pub struct ApiDoc;

/// Every route of the service with its layers.
pub fn router(state: AppState, deps: Dependencies, max_body_bytes: usize) -> Router {
    let api = Router::new()
        .route("/v1/catalog/products", get(catalog::list_products))
        .route("/v1/catalog/products/{id}", get(catalog::get_product))
        .route("/v1/carts/{id}", get(carts::get_cart))
        .route("/v1/orders", get(orders::list_orders))
        .route("/v1/orders/{id}", get(orders::get_order))
        .route("/v1/orders/{id}/events", get(orders::order_events))
        .route(
            "/v1/orders/{id}/sub-orders/{vendor_id}",
            get(orders::get_sub_order),
        )
        .route("/v1/notifications", get(notifications::list_notifications))
        .route("/v1/events", get(events::list_events))
        .route("/v1/analytics/sales", get(analytics::sales))
        .route("/v1/analytics/funnel", get(analytics::funnel))
        .route("/v1/vendors", get(vendors::list_vendors))
        .route("/v1/vendors/{vendor_id}", get(vendors::get_vendor))
        .route(
            "/v1/vendors/{vendor_id}/dashboard",
            get(dashboard::vendor_dashboard),
        )
        .route(
            "/v1/vendors/{vendor_id}/webhook/deliveries",
            get(webhook_deliveries::list_deliveries),
        )
        .route("/v1/vendors/{vendor_id}/balance", get(ledger::balance))
        .route("/v1/vendors/{vendor_id}/statement", get(ledger::statement))
        .route("/v1/vendors/{vendor_id}/payouts", get(ledger::payouts))
        .route("/v1/commission-income", get(ledger::commission_income))
        .route("/vendor/dashboard", get(vendor_page::page))
        .route("/vendor/session", post(vendor_page::sign_in))
        .route("/vendor/logout", post(vendor_page::sign_out))
        .with_state(state)
        .merge(commerce_platform::openapi::docs_routes(
            <ApiDoc as utoipa::OpenApi>::openapi(),
        ));
    http::service_router("read-api", api, deps, max_body_bytes)
}

/// The read API, bound and ready to serve.
pub struct ReadApi {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    /// Stops listening for document changes when the service stops.
    listening: Shutdown,
}

impl ReadApi {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // Install the recorder before anything records, or early samples go nowhere.
        commerce_platform::telemetry::metrics_handle();
        let redis = commerce_platform::redis_connection::connect(&config.redis).await?;
        let postgres = commerce_platform::database::connect(&config.database).await?;
        // The projectors own schema `read`; migrating here too lets the API start first.
        commerce_projections::orders::migrate(&postgres).await?;
        let listening = Shutdown::new();
        let order_changes = consistency::ChangeFeed::start(
            postgres.clone(),
            commerce_projections::orders::ORDER_CHANGES_CHANNEL,
            listening.clone(),
        );
        let state = AppState {
            keys: Arc::new(JwtKeys::from_config(&config.auth)),
            redis: redis.clone(),
            catalog: CatalogKeys::new(&config.redis.key_prefix),
            carts: CartKeys::new(&config.redis.key_prefix),
            postgres: postgres.clone(),
            min_version_wait: config.min_version_wait,
            order_changes,
        };
        let deps = Dependencies {
            postgres: Some(postgres),
            redis: Some(redis),
            aws: None,
        };
        let (listener, address) = http::bind(config.listen).await?;
        Ok(Self {
            listener,
            address,
            router: router(state, deps, config.max_body_bytes),
            listening,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        tracing::info!(address = %self.address, "read-api listening");
        let served = http::serve(self.listener, self.router, shutdown).await;
        self.listening.cancel();
        served
    }
}

/// Builds and runs the service until `shutdown`.
pub async fn run(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    ReadApi::build(config)
        .await?
        .run_until_stopped(shutdown)
        .await
}
