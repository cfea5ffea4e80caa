//! Projectors: SQS FIFO consumers that turn events into read models, each event applied exactly once
//! in effect.
//!
//! # Layout
//! - `consumer`: the SQS FIFO consumer loop shared by every projector (receive, apply, ack; hold
//!   through outages, repair gaps, skip what cannot be projected, back off) and the `Projector`
//!   trait it drives.
//! - `error`: `ProjectionError`, failures sorted by what the consumer does about them.
//! - `sequence`: the per-aggregate sequence guard every projector applies.
//! - `upcast`: events stored in older shapes lifted to the current ones before they are read.
//! - `history`: read-only access to `es.events` for gap repair, and the record of skipped events.
//! - `catalog`: the catalog projector (Redis product documents and indexes) and its key layout,
//!   which the read API uses to read.
//! - `cart`: the cart projector (Redis cart documents) and its key layout.
//! - `documents`: Redis document hashes with per-stream version guards, written atomically.
//! - `rebuild`: rebuilding a Redis model into a new generation from `es.events` while the live
//!   one serves, then swapping.
//! - `orders`: the orders projector (Postgres schema `read`) and its migrations.
//! - `notifications`: what customers and vendors are told about their orders (schema `read`).
//! - `analytics`: the analytics projector (sales lines, funnel steps, product categories in
//!   schema `read`), which the read API sums.
//! - `ledger`: the ledger projector (vendors' postings, sales, shipments and payouts in schema
//!   `read`), which the read API sums into balances and statements and the payout run reads.
//! - `webhooks`: sending the webhook deliveries the notifications projector queues (signed,
//!   retried with backoff, dead-lettered when the attempts run out).
//! - `config`: `COMMERCE_*` settings of the projector workers.
#![forbid(unsafe_code)]

pub mod analytics;
pub mod cart;
pub mod catalog;
mod config;
pub mod consumer;
pub mod documents;
pub mod error;
pub mod history;
pub mod ledger;
pub mod notifications;
pub mod orders;
pub mod rebuild;
pub mod sequence;
pub mod upcast;
pub mod vendors;
pub mod webhooks;

pub use config::Config;

use commerce_platform::messaging::{
    self, AwsClients, QueueSpec, ANALYTICS_QUEUE, CART_QUEUE, CATALOG_QUEUE, LEDGER_QUEUE,
    NOTIFICATIONS_QUEUE, ORDERS_QUEUE,
};
use commerce_platform::{retry_until_ready, Shutdown};

use analytics::AnalyticsProjector;
use cart::{CartKeys, CartProjector};
use catalog::{CatalogKeys, CatalogProjector};
use consumer::SqsConsumer;
use history::EventHistory;
use ledger::LedgerProjector;
use notifications::NotificationsProjector;
use orders::OrdersProjector;
use webhooks::WebhookSender;

/// One worker of this crate. A deployment runs each on its own (`commerce serve
/// catalog-projector`), so each scales on its own queue and its role reads only that queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Worker {
    Catalog,
    Cart,
    Orders,
    Analytics,
    Notifications,
    /// Sends the webhook deliveries the notifications projector queues.
    Webhooks,
    /// The vendors' ledger: balances, statements, payouts.
    Ledger,
}

impl Worker {
    pub const ALL: [Worker; 7] = [
        Worker::Catalog,
        Worker::Cart,
        Worker::Orders,
        Worker::Analytics,
        Worker::Notifications,
        Worker::Webhooks,
        Worker::Ledger,
    ];

    /// Whether the worker writes Redis (the others need only Postgres).
    pub fn uses_redis(self) -> bool {
        matches!(self, Worker::Catalog | Worker::Cart)
    }
}

/// Runs every worker of this crate until `shutdown`.
pub async fn run(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    run_workers(config, &Worker::ALL, shutdown).await
}

/// Runs `workers` until `shutdown`.
/// Dependencies that are not there yet are waited for (and logged), not treated as fatal.
pub async fn run_workers(
    config: Config,
    workers: &[Worker],
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let runs = |worker: Worker| workers.contains(&worker);
    let aws = AwsClients::connect(&config.messaging).await;
    // Commands that hang are as bad as refusals: they fail fast, so an outage is noticed and held.
    let redis = if workers.iter().any(|worker| worker.uses_redis()) {
        let Some(redis) = retry_until_ready("Redis for the projectors", &shutdown, || async {
            Ok(commerce_platform::redis_connection::connect(&config.redis).await?)
        })
        .await
        else {
            return Ok(());
        };
        Some(redis)
    } else {
        None
    };
    // Postgres holds the orders model and the event history every projector repairs gaps from.
    let Some(pool) = retry_until_ready("Postgres for the projectors", &shutdown, || async {
        let pool = commerce_platform::database::connect(&config.database).await?;
        migrate(&pool).await?;
        Ok(pool)
    })
    .await
    else {
        return Ok(());
    };
    let history = EventHistory::new(pool.clone());
    let prefix = &config.redis.key_prefix;
    let catalog = async {
        if !runs(Worker::Catalog) {
            return Ok(());
        }
        let Some(queue_url) = queue(&aws, &config, CATALOG_QUEUE, &shutdown).await else {
            return Ok(());
        };
        let redis = redis
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the catalog projector runs without Redis"))?;
        let projector = CatalogProjector::start(redis, CatalogKeys::new(prefix)).await?;
        SqsConsumer::new(
            aws.sqs.clone(),
            queue_url,
            projector,
            history.clone(),
            config.consumer.clone(),
        )
        .run(shutdown.clone())
        .await
    };
    let cart = async {
        if !runs(Worker::Cart) {
            return Ok(());
        }
        let Some(queue_url) = queue(&aws, &config, CART_QUEUE, &shutdown).await else {
            return Ok(());
        };
        let redis = redis
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the cart projector runs without Redis"))?;
        let projector = CartProjector::start(redis, CartKeys::new(prefix)).await?;
        SqsConsumer::new(
            aws.sqs.clone(),
            queue_url,
            projector,
            history.clone(),
            config.consumer.clone(),
        )
        .run(shutdown.clone())
        .await
    };
    let orders = async {
        if !runs(Worker::Orders) {
            return Ok(());
        }
        let Some(queue_url) = queue(&aws, &config, ORDERS_QUEUE, &shutdown).await else {
            return Ok(());
        };
        SqsConsumer::new(
            aws.sqs.clone(),
            queue_url,
            OrdersProjector::new(pool.clone()),
            history.clone(),
            config.consumer.clone(),
        )
        .run(shutdown.clone())
        .await
    };
    let analytics = async {
        if !runs(Worker::Analytics) {
            return Ok(());
        }
        let Some(queue_url) = queue(&aws, &config, ANALYTICS_QUEUE, &shutdown).await else {
            return Ok(());
        };
        SqsConsumer::new(
            aws.sqs.clone(),
            queue_url,
            AnalyticsProjector::new(pool.clone()),
            history.clone(),
            config.consumer.clone(),
        )
        .run(shutdown.clone())
        .await
    };
    let notifications = async {
        if !runs(Worker::Notifications) {
            return Ok(());
        }
        let Some(queue_url) = queue(&aws, &config, NOTIFICATIONS_QUEUE, &shutdown).await else {
            return Ok(());
        };
        SqsConsumer::new(
            aws.sqs.clone(),
            queue_url,
            NotificationsProjector::new(pool.clone()),
            history.clone(),
            config.consumer.clone(),
        )
        .run(shutdown.clone())
        .await
    };
    let ledger = async {
        if !runs(Worker::Ledger) {
            return Ok(());
        }
        let Some(queue_url) = queue(&aws, &config, LEDGER_QUEUE, &shutdown).await else {
            return Ok(());
        };
        SqsConsumer::new(
            aws.sqs.clone(),
            queue_url,
            LedgerProjector::new(pool.clone()),
            history.clone(),
            config.consumer.clone(),
        )
        .run(shutdown.clone())
        .await
    };
    let webhooks = async {
        if !runs(Worker::Webhooks) {
            return Ok(());
        }
        let dlq = NOTIFICATIONS_QUEUE.dlq_name(&config.messaging);
        let Some(dlq_url) = retry_until_ready(&format!("queue {dlq}"), &shutdown, || {
            messaging::queue_url(&aws, &dlq)
        })
        .await
        else {
            return Ok(());
        };
        WebhookSender::new(
            pool.clone(),
            aws.sqs.clone(),
            dlq_url,
            config.webhooks.clone(),
        )?
        .run(shutdown.clone())
        .await
    };
    /// How one consumer ended.
    type Ended = anyhow::Result<()>;
    let (catalog, cart, orders, analytics, notifications, ledger, webhooks): (
        Ended,
        Ended,
        Ended,
        Ended,
        Ended,
        Ended,
        Ended,
    ) = tokio::join!(
        catalog,
        cart,
        orders,
        analytics,
        notifications,
        ledger,
        webhooks
    );
    catalog
        .and(cart)
        .and(orders)
        .and(analytics)
        .and(notifications)
        .and(ledger)
        .and(webhooks)
}

/// Applies the `read` schema migrations (shared bookkeeping with other crates' migrations).
pub async fn migrate(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    orders::migrate(pool).await
}

/// The URL of `spec`'s queue, waiting for it to be provisioned.
async fn queue(
    aws: &AwsClients,
    config: &Config,
    spec: QueueSpec,
    shutdown: &Shutdown,
) -> Option<String> {
    let name = spec.queue_name(&config.messaging);
    retry_until_ready(&format!("queue {name}"), shutdown, || {
        messaging::queue_url(aws, &name)
    })
    .await
}
