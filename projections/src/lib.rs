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
use commerce_platform::{retry_until_ready, Shutdown};

use catalog::{CatalogKeys, CatalogProjector};
use consumer::SqsConsumer;

/// Runs every projector of this crate until `shutdown`.
/// Dependencies that are not there yet are waited for (and logged), not treated as fatal.
pub async fn run(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    let client = redis::Client::open(config.redis.url.expose())?;
    let aws = AwsClients::connect(&config.messaging).await;
    let queue_name = CATALOG_QUEUE.queue_name(&config.messaging);
    let Some(queue_url) = retry_until_ready("the catalog queue", &shutdown, || {
        messaging::queue_url(&aws, &queue_name)
    })
    .await
    else {
        return Ok(());
    };
    let keys = CatalogKeys::new(&config.redis.key_prefix);
    let Some(projector) = retry_until_ready("Redis for the catalog", &shutdown, || async {
        let redis = client.get_connection_manager().await?;
        CatalogProjector::start(redis, keys.clone()).await
    })
    .await
    else {
        return Ok(());
    };
    let consumer = SqsConsumer::new(aws.sqs, queue_url, projector, config.consumer.clone());
    consumer.run(shutdown).await
}
