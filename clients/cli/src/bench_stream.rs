//! `commerce bench replay`: `commerce events replay` into a file against the rate PostgreSQL
//! itself streams the same rows out with `COPY … TO STDOUT`, in the same run, over an event store
//! seeded with order-like events.
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use commerce_platform::config::{DatabaseConfig, Secret};
use commerce_platform::envelope::ENVELOPE_COLUMNS;
use futures::StreamExt;
use sqlx::postgres::PgPoolCopyExt;
use sqlx::PgPool;
use uuid::Uuid;

use crate::replay::{self, Replay};

/// What to measure.
#[derive(Debug, Clone)]
pub struct ReplayBench {
    pub events: i64,
    pub rounds: usize,
}

/// One round's rates, events per second.
#[derive(Debug, Clone, Copy)]
pub struct ReplayRound {
    pub copy_ceiling: f64,
    pub replay: f64,
}

/// Rows per seeding statement: each its own transaction, as many writers' would be.
const SEED_CHUNK: i64 = 50_000;

pub async fn replay(
    database: &DatabaseConfig,
    bench: &ReplayBench,
) -> anyhow::Result<Vec<ReplayRound>> {
    let run_id = Uuid::new_v4().simple().to_string();
    let url =
        crate::bench::replace_database(database.url.expose(), &format!("bench_replay_{run_id}"));
    commerce_platform::database::create_database_if_missing(&url).await?;
    let bench_db = DatabaseConfig {
        url: Secret::new(url.clone()),
        max_connections: 4,
    };
    let outcome = async {
        let pool = commerce_platform::database::connect(&bench_db).await?;
        commerce_command_api::event_store::migrate(&pool).await?;
        seed(&pool, bench.events).await?;
        let file = std::env::temp_dir().join(format!("replay-{run_id}.jsonl"));
        let mut rounds = Vec::new();
        // Round 0 warms the caches and is not counted.
        for round in 0..=bench.rounds {
            let copy_first = round % 2 == 0;
            let mut result = ReplayRound {
                copy_ceiling: 0.0,
                replay: 0.0,
            };
            for phase in 0..2 {
                if (phase == 0) == copy_first {
                    result.copy_ceiling = copy_rate(&pool, &file, bench.events).await?;
                } else {
                    result.replay = replay_rate(&bench_db, &file, bench.events).await?;
                }
            }
            if round > 0 {
                eprintln!(
                    "round {round}: COPY {:.0} events/s, replay {:.0} events/s",
                    result.copy_ceiling, result.replay
                );
                rounds.push(result);
            }
        }
        let _ = std::fs::remove_file(&file);
        pool.close().await;
        anyhow::Ok(rounds)
    }
    .await;
    crate::bench::drop_database(&url).await;
    outcome
}

/// `events` order-like events: four per order (placed, confirmed, shipped and one more), with
/// payloads of the size the order events have.
async fn seed(pool: &PgPool, events: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut from = 0;
    while from < events {
        let to = (from + SEED_CHUNK).min(events);
        sqlx::query(
            "INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, event_id) \
             SELECT 'Order', md5((i / 4)::text)::uuid::text, i % 4 + 1, \
                    (ARRAY['OrderPlaced','OrderConfirmed','OrderShipped','OrderCancelled'])[i % 4 + 1], \
                    '1.0', \
                    jsonb_build_object('type', 'OrderPlaced', 'data', jsonb_build_object( \
                        'order_id', md5((i / 4)::text)::uuid, \
                        'customer_id', md5((i / 40)::text)::uuid, \
                        'lines', jsonb_build_array(jsonb_build_object( \
                            'product_id', md5((i % 997)::text)::uuid, \
                            'vendor_id', md5((i % 31)::text)::uuid, 'quantity', 1 + i % 3, \
                            'unit_price', jsonb_build_object('amount_minor', 1999, 'currency', 'EUR'))), \
                        'total', jsonb_build_object('amount_minor', 1999 * (1 + i % 3), 'currency', 'EUR'), \
                        'shipping_address', jsonb_build_object('name', 'Ada Lovelace', \
                            'line1', 'Unter den Linden 1', 'city', 'Berlin', 'postal_code', '10117', \
                            'country', 'DE'))), \
                    jsonb_build_object('correlation_id', gen_random_uuid(), 'causation_id', gen_random_uuid()), \
                    gen_random_uuid() \
             FROM generate_series($1::bigint, $2::bigint - 1) AS i",
        )
        .bind(from)
        .bind(to)
        .execute(pool)
        .await
        .context("seeding events")?;
        from = to;
    }
    sqlx::query("VACUUM ANALYZE es.events")
        .execute(pool)
        .await
        .context("vacuuming the seeded events")?;
    eprintln!(
        "seeded {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The ceiling: PostgreSQL streams the envelope columns of every event, in stream order, as
/// `COPY` text into the file, with no per-row work on our side.
async fn copy_rate(pool: &PgPool, file: &std::path::Path, events: i64) -> anyhow::Result<f64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(file)?);
    let started = Instant::now();
    let statement = format!(
        "COPY (SELECT {ENVELOPE_COLUMNS} FROM es.events e \
         ORDER BY e.transaction_id, e.global_position) TO STDOUT"
    );
    let mut stream = pool.copy_out_raw(&statement).await?;
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk?)?;
    }
    out.flush()?;
    Ok(events as f64
        / started
            .elapsed()
            .max(Duration::from_micros(1))
            .as_secs_f64())
}

/// `commerce events replay` as an analyst runs it, into the file.
async fn replay_rate(
    database: &DatabaseConfig,
    file: &std::path::Path,
    events: i64,
) -> anyhow::Result<f64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(file)?);
    let started = Instant::now();
    let written = replay::replay(database, &Replay::default(), &mut out).await?;
    out.flush()?;
    let elapsed = started.elapsed();
    anyhow::ensure!(
        written as i64 == events,
        "replay wrote {written} events, expected {events}"
    );
    Ok(events as f64 / elapsed.max(Duration::from_micros(1)).as_secs_f64())
}
