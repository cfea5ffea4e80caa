//! Projectors: SQS FIFO consumers that turn events into read models, each event applied exactly once
//! in effect.
//!
//! # Layout
//! - `consumer`: the SQS FIFO consumer loop shared by every projector (receive, apply, ack, back off,
//!   leave failures for the DLQ) and the `Projector` trait it drives.
//! - `catalog`: the catalog projector (Redis product documents and indexes) and its key layout,
//!   which the read API uses to read.
//! - `cart`: the cart projector (Redis cart documents) and its key layout.
//! - `documents`: Redis document hashes with per-stream version guards, written atomically.
//! - `orders`: the orders projector (Postgres schema `read`) and its migrations.
//! - `config`: `COMMERCE_*` settings of the projector workers.
#![forbid(unsafe_code)]

pub mod cart;
pub mod catalog;
mod config;
pub mod consumer;
pub mod documents;
pub mod orders;

pub use config::Config;

use commerce_platform::messaging::{
    self, AwsClients, QueueSpec, CART_QUEUE, CATALOG_QUEUE, ORDERS_QUEUE,
};
use commerce_platform::{retry_until_ready, Shutdown};

use cart::{CartKeys, CartProjector};
use catalog::{CatalogKeys, CatalogProjector};
use consumer::SqsConsumer;
use orders::OrdersProjector;

/// Runs every projector of this crate until `shutdown`.
/// Dependencies that are not there yet are waited for (and logged), not treated as fatal.
pub async fn run(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    let client = redis::Client::open(config.redis.url.expose())?;
    let aws = AwsClients::connect(&config.messaging).await;
    let Some(redis) = retry_until_ready("Redis for the projectors", &shutdown, || async {
        Ok(client.get_connection_manager().await?)
    })
    .await
    else {
        return Ok(());
    };
    let prefix = &config.redis.key_prefix;
    let catalog = async {
        let Some(queue_url) = queue(&aws, &config, CATALOG_QUEUE, &shutdown).await else {
            return Ok(());
        };
        let projector = CatalogProjector::start(redis.clone(), CatalogKeys::new(prefix)).await?;
        SqsConsumer::new(
            aws.sqs.clone(),
            queue_url,
            projector,
            config.consumer.clone(),
        )
        .run(shutdown.clone())
        .await
    };
    let cart = async {
        let Some(queue_url) = queue(&aws, &config, CART_QUEUE, &shutdown).await else {
            return Ok(());
        };
        let projector = CartProjector::start(redis.clone(), CartKeys::new(prefix)).await?;
        SqsConsumer::new(
            aws.sqs.clone(),
            queue_url,
            projector,
            config.consumer.clone(),
        )
        .run(shutdown.clone())
        .await
    };
    let orders = async {
        let Some(pool) = retry_until_ready("Postgres for the orders model", &shutdown, || async {
            let pool = commerce_platform::database::connect(&config.database).await?;
            orders::migrate(&pool).await?;
            Ok(pool)
        })
        .await
        else {
            return Ok(());
        };
        let Some(queue_url) = queue(&aws, &config, ORDERS_QUEUE, &shutdown).await else {
            return Ok(());
        };
        SqsConsumer::new(
            aws.sqs.clone(),
            queue_url,
            OrdersProjector::new(pool),
            config.consumer.clone(),
        )
        .run(shutdown.clone())
        .await
    };
    let (catalog, cart, orders): (anyhow::Result<()>, anyhow::Result<()>, anyhow::Result<()>) =
        tokio::join!(catalog, cart, orders);
    catalog.and(cart).and(orders)
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
