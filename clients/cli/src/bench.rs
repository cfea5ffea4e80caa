//! `commerce bench relay`: outbox relay throughput against the emulator's raw PublishBatch rate,
//! both measured here, in the same run, with the same SDK, topic topology and concurrency.
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use commerce_command_api::relay::{self, OutboxRelay, RelayConfig, SNS_BATCH_LIMIT};
use commerce_platform::config::{DatabaseConfig, MessagingConfig, Secret};
use commerce_platform::envelope::EventEnvelope;
use commerce_platform::messaging::{self, AwsClients};
use futures::future::join_all;
use sqlx::PgPool;
use uuid::Uuid;

/// What to measure.
#[derive(Debug, Clone)]
pub struct RelayBench {
    pub events: i64,
    pub rounds: usize,
    pub relay: RelayConfig,
}

/// One round's rates, events per second.
#[derive(Debug, Clone, Copy)]
pub struct RoundResult {
    pub raw_publish: f64,
    pub relay: f64,
}

/// Events per aggregate in the generated load, so per-aggregate ordering is exercised.
const EVENTS_PER_AGGREGATE: i64 = 4;

pub async fn relay(
    database: &DatabaseConfig,
    messaging_base: &MessagingConfig,
    bench: &RelayBench,
) -> anyhow::Result<Vec<RoundResult>> {
    let run_id = Uuid::new_v4().simple().to_string();
    let database_url = replace_database(database.url.expose(), &format!("bench_{run_id}"));
    commerce_platform::database::create_database_if_missing(&database_url).await?;
    let bench_db = DatabaseConfig {
        url: Secret::new(database_url.clone()),
        max_connections: 8,
    };
    let pool = commerce_platform::database::connect(&bench_db).await?;
    commerce_command_api::event_store::migrate(&pool).await?;

    let mut results = Vec::new();
    let outcome = async {
        // Round 0 warms the emulator up (Node's JIT) and is not counted.
        for round in 0..=bench.rounds {
            // Alternate which side goes first so drift within a round does not favour either.
            let raw_first = round % 2 == 0;
            let mut raw_rate = 0.0;
            let mut relay_rate = 0.0;
            for phase in 0..2 {
                let measure_raw = (phase == 0) == raw_first;
                // Each phase publishes into a fresh, empty topic and queue: the emulator's cost per
                // message grows with what it holds, so neither side inherits the other's backlog.
                let messaging = MessagingConfig {
                    topic: format!("bench-{run_id}-{round}-{phase}.fifo"),
                    queue_prefix: format!("bench-{run_id}-{round}-{phase}-"),
                    topic_arn: None,
                    ..messaging_base.clone()
                };
                let aws = AwsClients::connect(&messaging).await;
                let topology = messaging::provision(&aws, &messaging).await?;
                // Fresh events per phase: reusing event ids would let the emulator drop copies.
                sqlx::query("TRUNCATE es.outbox, es.events").execute(&pool).await?;
                let envelopes = generate_events(&pool, bench.events).await?;
                if measure_raw {
                    raw_rate =
                        raw_publish(&aws, &topology.topic_arn, &envelopes, bench.relay.lanes).await?;
                } else {
                    relay_rate = relay_all(&pool, &aws, &topology.topic_arn, bench).await?;
                }
                for queue in topology.queues.values() {
                    let _ = aws.sqs.delete_queue().queue_url(&queue.url).send().await;
                    let _ = aws.sqs.delete_queue().queue_url(&queue.dlq_url).send().await;
                }
                let _ = aws.sns.delete_topic().topic_arn(&topology.topic_arn).send().await;
            }
            sqlx::query("TRUNCATE es.outbox, es.events").execute(&pool).await?;
            if round == 0 {
                continue;
            }
            println!(
                "round {round}: raw PublishBatch {raw_rate:.0} msg/s, relay {relay_rate:.0} events/s, ratio {:.2}",
                relay_rate / raw_rate
            );
            results.push(RoundResult {
                raw_publish: raw_rate,
                relay: relay_rate,
            });
        }
        anyhow::Ok(())
    }
    .await;
    pool.close().await;
    drop_database(&database_url).await;
    outcome.map(|()| results)
}

/// Appends `count` committed events (with outbox rows) and returns them as envelopes.
async fn generate_events(pool: &PgPool, count: i64) -> anyhow::Result<Vec<EventEnvelope>> {
    let aggregates = (count / EVENTS_PER_AGGREGATE).max(1);
    sqlx::query(
        "WITH e AS (INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata, event_id) \
         SELECT 'Product', 'bench-' || a, s, 'ProductPriceChanged', '1.0', \
         jsonb_build_object('type', 'ProductPriceChanged', 'data', jsonb_build_object( \
           'product_id', gen_random_uuid(), \
           'previous_price', jsonb_build_object('amount_minor', 1000 + s, 'currency', 'EUR'), \
           'price', jsonb_build_object('amount_minor', 1001 + s, 'currency', 'EUR'))), \
         jsonb_build_object('correlation_id', gen_random_uuid()), gen_random_uuid() \
         FROM generate_series(1, $1) a, generate_series(1, $2) s ORDER BY s, a \
         RETURNING global_position) \
         INSERT INTO es.outbox (global_position) SELECT global_position FROM e",
    )
    .bind(aggregates)
    .bind(EVENTS_PER_AGGREGATE)
    .execute(pool)
    .await
    .context("generating bench events")?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM es.events e ORDER BY e.global_position",
        commerce_platform::envelope::ENVELOPE_COLUMNS
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(EventEnvelope::from_row).collect()
}

/// The ceiling: PublishBatch of pre-built entries, `lanes` calls in flight, nothing else.
async fn raw_publish(
    aws: &AwsClients,
    topic_arn: &str,
    envelopes: &[EventEnvelope],
    lanes: usize,
) -> anyhow::Result<f64> {
    let mut batches = Vec::new();
    for chunk in envelopes.chunks(SNS_BATCH_LIMIT) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, e)| relay::batch_entry(i, &relay::PendingEvent::from_envelope(e)?))
            .collect::<anyhow::Result<Vec<_>>>()?;
        batches.push(entries);
    }
    let queue = Arc::new(std::sync::Mutex::new(batches));
    let started = Instant::now();
    let workers = (0..lanes.max(1)).map(|_| {
        let queue = queue.clone();
        let sns = aws.sns.clone();
        async move {
            loop {
                let next = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop();
                let Some(entries) = next else { break };
                let out = sns
                    .publish_batch()
                    .topic_arn(topic_arn)
                    .set_publish_batch_request_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("{}", aws_sdk_sns::error::DisplayErrorContext(e))
                    })?;
                anyhow::ensure!(out.failed().is_empty(), "raw publish had failures");
            }
            anyhow::Ok(())
        }
    });
    for result in join_all(workers).await {
        result?;
    }
    Ok(envelopes.len() as f64 / started.elapsed().as_secs_f64())
}

/// The relay's own pipeline, from committed outbox rows to SNS acknowledgement and marks, until
/// the outbox is empty.
async fn relay_all(
    pool: &PgPool,
    aws: &AwsClients,
    topic_arn: &str,
    bench: &RelayBench,
) -> anyhow::Result<f64> {
    let relay = OutboxRelay::new(
        pool.clone(),
        aws.sns.clone(),
        topic_arn.to_owned(),
        bench.relay.clone(),
        Arc::new(tokio::sync::Notify::new()),
    );
    let started = Instant::now();
    let published = relay.publish_backlog().await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(
        published as i64 == bench.events / EVENTS_PER_AGGREGATE * EVENTS_PER_AGGREGATE,
        "relay published {published} events, expected {}",
        bench.events
    );
    Ok(published as f64 / elapsed.max(Duration::from_micros(1)).as_secs_f64())
}

pub(crate) fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    // postgres://host:port/db -> postgres://host:port
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

pub(crate) async fn drop_database(url: &str) {
    use sqlx::postgres::PgConnectOptions;
    use sqlx::Connection;
    let Ok(options) = url.parse::<PgConnectOptions>() else {
        return;
    };
    let Some(name) = options.get_database().map(str::to_owned) else {
        return;
    };
    if let Ok(mut conn) = sqlx::PgConnection::connect_with(&options.database("postgres")).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}
