//! Projectors: SQS FIFO consumers that turn events into read models, each event applied exactly once
//! in effect.
//!
//! # Layout
//! - `consumer`: the SQS FIFO consumer loop shared by every projector (receive, apply, ack, back off,
//!   leave failures for the DLQ) and the `Projector` trait it drives.
//! - `catalog`: the catalog projector (Redis product documents and indexes) and its key layout,
//!   which the read API uses to read.
//! - `config`: `COMMERCE_*` settings of the projector workers.
#![forbid(unsafe_code)]

pub mod catalog;
mod config;
pub mod consumer;

pub use config::Config;

use commerce_platform::messaging::{self, AwsClients, CATALOG_QUEUE};
use commerce_platform::Shutdown;

use catalog::{CatalogKeys, CatalogProjector};
use consumer::SqsConsumer;

/// Runs every projector of this crate until `shutdown`.
pub async fn run(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    let redis = redis::Client::open(config.redis.url.expose())?
        .get_connection_manager()
        .await?;
    let aws = AwsClients::connect(&config.messaging).await;
    let queue_url =
        messaging::queue_url(&aws, &CATALOG_QUEUE.queue_name(&config.messaging)).await?;
    let keys = CatalogKeys::new(&config.redis.key_prefix);
    let projector = CatalogProjector::start(redis, keys).await?;
    let consumer = SqsConsumer::new(aws.sqs, queue_url, projector, config.consumer.clone());
    consumer.run(shutdown).await
}
