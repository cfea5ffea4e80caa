//! `commerce bench replay`: `commerce events replay` into a file against the rate PostgreSQL
//! itself streams the same rows out with `COPY … TO STDOUT`, in the same run, over an event store
//! seeded with order-like events. `commerce bench rebuild`: a catalog rebuild into Redis against
//! `redis-ceiling`'s pipelined SET rate, or an orders rebuild into Postgres against Postgres
//! writing the same documents in one `INSERT … SELECT`, in the same run.
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
        seal_seeded(&pool).await?;
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
    seed_in_chunks(
        pool,
        events,
        SEED_CHUNK,
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
    .await?;
    eprintln!(
        "seeded {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs the seeding `statement` (with `$1..$2` the range of row numbers it inserts) over
/// `0..rows` in chunks, each its own transaction, then vacuums: shared by both benchmarks.
async fn seed_in_chunks(
    pool: &PgPool,
    rows: i64,
    chunk: i64,
    statement: &str,
) -> anyhow::Result<()> {
    let mut from = 0;
    while from < rows {
        let to = (from + chunk).min(rows);
        sqlx::query(statement)
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

/// What `commerce bench rebuild` measures.
#[derive(Debug, Clone)]
pub struct RebuildBench {
    pub events: i64,
    pub rounds: usize,
    pub redis: commerce_platform::config::RedisConfig,
    /// `../shared/bench/redis-ceiling` unless given.
    pub redis_ceiling: Option<std::path::PathBuf>,
}

/// One round: rebuild events/s, and the ceiling's rate (pipelined SET/s for Redis; events/s
/// whose documents Postgres writes in one `INSERT … SELECT` for Postgres).
#[derive(Debug, Clone, Copy)]
pub struct RebuildRound {
    pub rebuild: f64,
    pub ceiling: f64,
}

pub async fn rebuild(
    database: &DatabaseConfig,
    bench: &RebuildBench,
) -> anyhow::Result<Vec<RebuildRound>> {
    use commerce_projections::rebuild::{Model, Rebuild};
    let run_id = Uuid::new_v4().simple().to_string();
    let url =
        crate::bench::replace_database(database.url.expose(), &format!("bench_rebuild_{run_id}"));
    commerce_platform::database::create_database_if_missing(&url).await?;
    let bench_db = DatabaseConfig {
        url: Secret::new(url.clone()),
        max_connections: 4,
    };
    let prefix = format!("bench:{run_id}:");
    let redis = commerce_platform::redis_connection::connect(&bench.redis).await?;
    let outcome = async {
        let pool = commerce_platform::database::connect(&bench_db).await?;
        commerce_command_api::event_store::migrate(&pool).await?;
        seed_catalog(&pool, bench.events).await?;
        let reader = commerce_platform::database::connect_reader(&bench_db).await?;
        let ceiling_script = bench
            .redis_ceiling
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from(REDIS_CEILING));
        let mut rounds = Vec::new();
        for round in 0..=bench.rounds {
            let rebuild = Rebuild {
                model: Model::Catalog,
                redis: redis.clone(),
                events: reader.clone(),
                read_models: pool.clone(),
                key_prefix: prefix.clone(),
                page: crate::projections::DEFAULT_PAGE,
                grace: Duration::ZERO,
            };
            let started = Instant::now();
            rebuild.run(|_| {}).await?;
            let rate = bench.events as f64 / started.elapsed().as_secs_f64();
            let pipelined_set = redis_ceiling(&ceiling_script)?;
            if round > 0 {
                eprintln!(
                    "round {round}: rebuild {rate:.0} events/s, pipelined SET {pipelined_set:.0}/s"
                );
                rounds.push(RebuildRound {
                    rebuild: rate,
                    ceiling: pipelined_set,
                });
            }
        }
        reader.close().await;
        pool.close().await;
        anyhow::Ok(rounds)
    }
    .await;
    let mut cleanup = redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut cleanup)
        .await
        .unwrap_or_default();
    for chunk in keys.chunks(1000) {
        let _: Result<(), _> = redis::cmd("UNLINK")
            .arg(chunk)
            .query_async(&mut cleanup)
            .await;
    }
    crate::bench::drop_database(&url).await;
    outcome
}

/// `bench.events` order events (placed with a sealed address, confirmed, shipped: three per
/// order) rebuilt into the Postgres orders model, against Postgres writing the rebuilt documents again into a table with
/// the same keys and indexes in one `INSERT … SELECT` (no per-event work at all).
pub async fn orders_rebuild(
    database: &DatabaseConfig,
    bench: &RebuildBench,
) -> anyhow::Result<Vec<RebuildRound>> {
    use commerce_projections::rebuild::{Model, Rebuild};
    let run_id = Uuid::new_v4().simple().to_string();
    let url = crate::bench::replace_database(
        database.url.expose(),
        &format!("bench_orders_rebuild_{run_id}"),
    );
    commerce_platform::database::create_database_if_missing(&url).await?;
    let bench_db = DatabaseConfig {
        url: Secret::new(url.clone()),
        max_connections: 4,
    };
    let outcome = async {
        let pool = commerce_platform::database::connect(&bench_db).await?;
        commerce_command_api::event_store::migrate(&pool).await?;
        commerce_projections::orders::migrate(&pool).await?;
        seed_orders(&pool, bench.events).await?;
        seal_seeded(&pool).await?;
        let reader = commerce_platform::database::connect_reader(&bench_db).await?;
        let redis = commerce_platform::redis_connection::connect(&bench.redis).await?;
        let mut rounds = Vec::new();
        for round in 0..=bench.rounds {
            let rebuild = Rebuild {
                model: Model::Orders,
                redis: redis.clone(),
                events: reader.clone(),
                read_models: pool.clone(),
                key_prefix: String::new(),
                page: crate::projections::DEFAULT_PAGE,
                grace: Duration::ZERO,
            };
            let started = Instant::now();
            let generation = rebuild.run(|_| {}).await?;
            let rate = bench.events as f64 / started.elapsed().as_secs_f64();
            let ceiling = insert_select_rate(&pool, generation, bench.events).await?;
            if round > 0 {
                eprintln!(
                    "round {round}: rebuild {rate:.0} events/s, INSERT … SELECT {ceiling:.0} events/s"
                );
                rounds.push(RebuildRound {
                    rebuild: rate,
                    ceiling,
                });
            }
        }
        reader.close().await;
        pool.close().await;
        anyhow::Ok(rounds)
    }
    .await;
    crate::bench::drop_database(&url).await;
    outcome
}

/// Postgres copying generation `generation`'s documents into a new table like it (keys and
/// indexes included) in one statement: the events those documents stand for, per second.
async fn insert_select_rate(pool: &PgPool, generation: u64, events: i64) -> anyhow::Result<f64> {
    sqlx::raw_sql(&format!(
        "DROP TABLE IF EXISTS read.orders_ceiling; \
         CREATE TABLE read.orders_ceiling (LIKE read.orders_g{generation} INCLUDING ALL)"
    ))
    .execute(pool)
    .await?;
    let started = Instant::now();
    sqlx::query(&format!(
        "INSERT INTO read.orders_ceiling SELECT * FROM read.orders_g{generation}"
    ))
    .execute(pool)
    .await
    .context("the INSERT … SELECT ceiling")?;
    let elapsed = started.elapsed();
    sqlx::query("DROP TABLE read.orders_ceiling")
        .execute(pool)
        .await?;
    Ok(events as f64 / elapsed.max(Duration::from_micros(1)).as_secs_f64())
}

/// `events` order events: each order placed (with an address in parts), confirmed and shipped.
async fn seed_orders(pool: &PgPool, events: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    seed_in_chunks(
        pool,
        events,
        SEED_CHUNK,
        "INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata, event_id) \
         SELECT 'Order', o.id::text, i % 3 + 1, \
                (ARRAY['OrderPlaced','OrderConfirmed','OrderShipped'])[i % 3 + 1], \
                (ARRAY['2.0','1.0','1.0'])[i % 3 + 1], \
                jsonb_build_object('type', (ARRAY['OrderPlaced','OrderConfirmed','OrderShipped'])[i % 3 + 1], \
                  'data', CASE i % 3 \
                    WHEN 0 THEN o.data || jsonb_build_object('payment_token', 'tok_ok', \
                      'shipping_address', jsonb_build_object('name', 'Ada Lovelace', \
                        'line1', 'Unter den Linden 1', 'city', 'Berlin', 'postal_code', '10117', \
                        'country', 'DE')) \
                    WHEN 1 THEN o.data \
                    ELSE jsonb_build_object('order_id', o.id, 'customer_id', o.data->'customer_id', \
                      'tracking', 'TRK-' || (i / 3)) END), \
                jsonb_build_object('correlation_id', gen_random_uuid()), gen_random_uuid() \
         FROM generate_series($1::bigint, $2::bigint - 1) AS i \
         CROSS JOIN LATERAL (SELECT md5('order-' || (i / 3))::uuid AS id) AS ids \
         CROSS JOIN LATERAL (SELECT ids.id, jsonb_build_object('order_id', ids.id, \
             'customer_id', md5('customer-' || (i / 30))::uuid, \
             'lines', jsonb_build_array(jsonb_build_object( \
               'product_id', md5('product-' || (i / 3 % 997))::uuid, \
               'vendor_id', md5('vendor-' || (i / 3 % 31))::uuid, 'quantity', 2, \
               'unit_price', jsonb_build_object('amount_minor', 1999, 'currency', 'EUR'), \
               'line_total', jsonb_build_object('amount_minor', 3998, 'currency', 'EUR'))), \
             'total', jsonb_build_object('amount_minor', 3998, 'currency', 'EUR')) AS data) AS o",
    )
    .await?;
    eprintln!(
        "seeded {events} order events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Seals the seeded events' addresses, as the command side stores them: replay and rebuild open
/// each.
async fn seal_seeded(pool: &PgPool) -> anyhow::Result<()> {
    let started = Instant::now();
    let sealed = commerce_platform::personal_data::seal_stored(
        pool,
        commerce_platform::personal_data::SEAL_BATCH,
        |_, _| {},
    )
    .await?;
    eprintln!(
        "sealed {sealed} placements in {:.1} s ({:.0} events/s)",
        started.elapsed().as_secs_f64(),
        sealed as f64 / started.elapsed().as_secs_f64()
    );
    sqlx::query("VACUUM ANALYZE es.events")
        .execute(pool)
        .await
        .context("vacuuming the sealed events")?;
    Ok(())
}

/// The ceiling script, from the repository root.
pub(crate) const REDIS_CEILING: &str = "../shared/bench/redis-ceiling";

/// `redis-ceiling`'s pipelined SET rate.
pub(crate) fn redis_ceiling(script: &std::path::Path) -> anyhow::Result<f64> {
    let output = std::process::Command::new(script)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("redis-ceiling:"))
        .context("redis-ceiling printed no `redis-ceiling:` line")?;
    let rate = line
        .split("pipelined(16) SET ")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|n| n.parse::<f64>().ok())
        .with_context(|| format!("cannot read {line:?}"))?;
    Ok(rate)
}

/// `events` catalog events: per product created, published and repriced twice, plus (one product
/// in four) a stock receipt on the Inventory stream; payloads as the domain writes them.
async fn seed_catalog(pool: &PgPool, events: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    let products = events / 4;
    seed_in_chunks(
        pool,
        products,
        SEED_CHUNK / 4,
            "INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, \
               event_version, payload, metadata, event_id) \
             SELECT 'Product', id::text, s, \
               (ARRAY['ProductCreated','ProductPublished','ProductPriceChanged','ProductPriceChanged'])[s], \
               '1.0', \
               CASE s \
                 WHEN 1 THEN jsonb_build_object('type', 'ProductCreated', 'data', jsonb_build_object( \
                   'product_id', id, 'vendor_id', md5((i % 97)::text)::uuid, 'sku', 'SKU-' || i, \
                   'title', 'Organic cotton tee ' || i, 'description', 'Soft and fair.', \
                   'category', 'category-' || (i % 20), \
                   'price', jsonb_build_object('amount_minor', 1999, 'currency', 'EUR'))) \
                 WHEN 2 THEN jsonb_build_object('type', 'ProductPublished', 'data', \
                   jsonb_build_object('product_id', id)) \
                 ELSE jsonb_build_object('type', 'ProductPriceChanged', 'data', jsonb_build_object( \
                   'product_id', id, \
                   'previous_price', jsonb_build_object('amount_minor', 1999, 'currency', 'EUR'), \
                   'price', jsonb_build_object('amount_minor', 2000 + s, 'currency', 'EUR'))) \
               END, \
               '{}', gen_random_uuid() \
             FROM generate_series($1::bigint, $2::bigint - 1) AS i, \
               LATERAL (SELECT md5('product-' || i)::uuid AS id) AS ids, \
               generate_series(1, 4) AS s",
    )
    .await?;
    eprintln!(
        "seeded {} catalog events in {:.1} s",
        products * 4,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
