//! `commerce loadgen analytics`: the analytics model's freshness at a steady command rate, and
//! its projector's throughput.
//!
//! - **Freshness.** Carts are created (`POST /v1/carts`) at a steady rate against the running
//!   stack; each creation is a funnel fact once the analytics projector has it. A poller reads
//!   which of the carts created so far are counted (`read.funnel_steps`, the table the read API
//!   sums, every 5 ms) and records when each first is: accepted (the command's answer) to counted,
//!   through the outbox relay, SNS, SQS and the projector.
//! - **Throughput.** In a database of its own, stored events (carts created and checked out,
//!   orders confirmed and cancelled, products created) are applied through the analytics
//!   projector as its consumer would, aggregates in parallel and each in order, as fast as it
//!   goes; then `pg-ceiling` runs with as many clients, in the same round.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use commerce_client::{CommandOptions, CommerceClient};
use commerce_platform::auth::{JwtKeys, Role};
use commerce_platform::config::{AuthConfig, DatabaseConfig, Secret};
use commerce_platform::envelope::{EventEnvelope, ENVELOPE_COLUMNS};
use commerce_projections::analytics::AnalyticsProjector;
use commerce_projections::consumer::{Outcome, Projector};
use futures::StreamExt;
use uuid::Uuid;

use crate::loadgen::{ensure_reachable, find_ceiling_script, mint, quantile, run_ceiling};

/// The target: 99 % of commands counted within this.
const TARGET_P99_MS: f64 = 250.0;
/// Commands in flight at most; more means the command API is not keeping up with the rate.
const MAX_IN_FLIGHT: usize = 256;
/// Workers applying stored events in the throughput part (and pg-ceiling's clients).
const WORKERS: usize = 8;

#[derive(Debug, Clone)]
pub struct AnalyticsLoad {
    pub command_api: String,
    pub read_api: String,
    /// Commands per second.
    pub rate: u32,
    pub seconds: u64,
    /// Events applied in the throughput part.
    pub events: i64,
    pub pg_ceiling: Option<PathBuf>,
    pub rounds: usize,
}

#[derive(Debug, Clone, Copy)]
struct Round {
    commands_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    applied_per_sec: f64,
    ceiling: f64,
}

pub async fn run(
    auth: &AuthConfig,
    database: &DatabaseConfig,
    load: &AnalyticsLoad,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        load.rate > 0 && load.seconds > 0 && load.events > 0 && load.rounds > 0,
        "--rate, --seconds, --events and --rounds must be positive"
    );
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .build()
        .context("building the HTTP client")?;
    ensure_reachable(&http, &load.command_api).await?;
    let client = CommerceClient::with_http_client(http, &load.command_api, &load.read_api);
    let keys = JwtKeys::from_config(auth);
    let pool = commerce_platform::database::connect(database)
        .await
        .context("connecting to read the analytics model (COMMERCE_DATABASE_URL)")?;
    let ceiling_script = find_ceiling_script(load.pg_ceiling.as_deref());
    println!(
        "analytics: {} carts/s for {} s, then {} stored events applied, x {} rounds",
        load.rate, load.seconds, load.events, load.rounds
    );
    let mut rounds = Vec::new();
    for round in 1..=load.rounds {
        let customer = client.with_token(mint(&keys, Role::Customer, 3600)?);
        let (commands_per_sec, mut freshness) = steady(&customer, &pool, load).await?;
        freshness.sort_unstable();
        let p50_ms = quantile(&freshness, 0.50).map_or(f64::NAN, |us| f64::from(us) / 1000.0);
        let p99_ms = quantile(&freshness, 0.99).map_or(f64::NAN, |us| f64::from(us) / 1000.0);
        let applied_per_sec = throughput(database, load.events).await?;
        let ceiling = match &ceiling_script {
            Some((_, script)) => run_ceiling(script, WORKERS as u32, 10)?.tx_per_sec,
            None => f64::NAN,
        };
        println!(
            "round {round}: {commands_per_sec:.0} commands/s, counted p50 {p50_ms:.1} ms, p99 {p99_ms:.1} ms; \
             projector {applied_per_sec:.0} events/s, pg-ceiling {ceiling:.0} tx/s"
        );
        rounds.push(Round {
            commands_per_sec,
            p50_ms,
            p99_ms,
            applied_per_sec,
            ceiling,
        });
    }
    pool.close().await;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let p99 = median(rounds.iter().map(|r| r.p99_ms).collect());
    println!(
        "median of {}: {:.0} commands/s, counted p50 {:.1} ms, p99 {p99:.1} ms (target < {TARGET_P99_MS} ms: {}); \
         projector {:.0} events/s, pg-ceiling {:.0} tx/s, ratio {:.2}; ceiling: {}",
        rounds.len(),
        median(rounds.iter().map(|r| r.commands_per_sec).collect()),
        median(rounds.iter().map(|r| r.p50_ms).collect()),
        if p99 < TARGET_P99_MS { "met" } else { "missed" },
        median(rounds.iter().map(|r| r.applied_per_sec).collect()),
        median(rounds.iter().map(|r| r.ceiling).collect()),
        median(rounds.iter().map(|r| r.applied_per_sec / r.ceiling).collect()),
        ceiling_script
            .as_ref()
            .map_or("not found", |(name, _)| name.as_str()),
    );
    Ok(())
}

/// Carts created at `load.rate` for `load.seconds`; the achieved rate and each cart's time from
/// accepted to counted, in microseconds.
async fn steady(
    customer: &CommerceClient,
    pool: &sqlx::PgPool,
    load: &AnalyticsLoad,
) -> anyhow::Result<(f64, Vec<u32>)> {
    let accepted: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
    let counted: Arc<Mutex<Vec<u32>>> = Arc::default();
    let sending = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let poller = {
        let (accepted, counted, sending, pool) = (
            accepted.clone(),
            counted.clone(),
            sending.clone(),
            pool.clone(),
        );
        tokio::spawn(async move {
            let give_up = Duration::from_secs(30);
            let mut quiet_since: Option<Instant> = None;
            loop {
                let waiting: Vec<Uuid> = accepted
                    .lock()
                    .map(|a| a.keys().copied().collect())
                    .unwrap_or_default();
                if waiting.is_empty() && !sending.load(std::sync::atomic::Ordering::Acquire) {
                    return Ok::<usize, anyhow::Error>(0);
                }
                if !waiting.is_empty() {
                    let seen: Vec<Uuid> = sqlx::query_scalar(
                        "SELECT subject_id FROM read.funnel_steps \
                         WHERE step = 'cart_created' AND subject_id = ANY($1)",
                    )
                    .bind(&waiting)
                    .fetch_all(&pool)
                    .await?;
                    let now = Instant::now();
                    if let (Ok(mut accepted), Ok(mut counted)) = (accepted.lock(), counted.lock()) {
                        for id in seen {
                            if let Some(at) = accepted.remove(&id) {
                                let us = now.duration_since(at).as_micros();
                                counted.push(u32::try_from(us).unwrap_or(u32::MAX));
                            }
                        }
                    }
                }
                if !sending.load(std::sync::atomic::Ordering::Acquire) {
                    let since = *quiet_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > give_up {
                        return Ok(waiting.len());
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let started = Instant::now();
    let total = u64::from(load.rate) * load.seconds;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(load.rate)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut sends = futures::stream::FuturesUnordered::new();
    let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for _ in 0..total {
        ticks.tick().await;
        let permit = in_flight.clone().acquire_owned().await?;
        let (customer, accepted, failures) = (customer.clone(), accepted.clone(), failures.clone());
        sends.push(tokio::spawn(async move {
            let _permit = permit;
            match customer.create_cart(&CommandOptions::default()).await {
                Ok(created) => {
                    if let Ok(mut accepted) = accepted.lock() {
                        accepted.insert(created.cart_id, Instant::now());
                    }
                }
                Err(error) => {
                    if failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
                        eprintln!("a command failed: {error}");
                    }
                }
            }
        }));
        // Reap finished sends so the set stays small.
        while let Some(Some(_)) = futures::FutureExt::now_or_never(sends.next()) {}
    }
    while sends.next().await.is_some() {}
    let elapsed = started.elapsed();
    sending.store(false, std::sync::atomic::Ordering::Release);
    let never_counted = poller.await.context("the poller")??;
    let failed = failures.load(std::sync::atomic::Ordering::Relaxed);
    anyhow::ensure!(
        never_counted == 0 && failed == 0,
        "{never_counted} carts were not counted within 30 s; {failed} commands failed"
    );
    let counted = counted.lock().map(|c| c.clone()).unwrap_or_default();
    Ok((total as f64 / elapsed.as_secs_f64(), counted))
}

/// Stored analytics events applied through the projector as fast as it goes, in a database of
/// its own: events per second.
async fn throughput(database: &DatabaseConfig, events: i64) -> anyhow::Result<f64> {
    let run_id = Uuid::new_v4().simple().to_string();
    let url =
        crate::bench::replace_database(database.url.expose(), &format!("bench_analytics_{run_id}"));
    commerce_platform::database::create_database_if_missing(&url).await?;
    let bench_db = DatabaseConfig {
        url: Secret::new(url.clone()),
        max_connections: WORKERS as u32 + 2,
    };
    let outcome = async {
        let pool = commerce_platform::database::connect(&bench_db).await?;
        commerce_command_api::event_store::migrate(&pool).await?;
        commerce_projections::migrate(&pool).await?;
        seed(&pool, events).await?;
        let rows = sqlx::query(&format!(
            "SELECT {ENVELOPE_COLUMNS} FROM es.events e \
             ORDER BY e.aggregate_type, e.aggregate_id, e.sequence"
        ))
        .fetch_all(&pool)
        .await?;
        // Each aggregate to one worker, in order, as the queue's message groups are.
        let mut lanes: Vec<Vec<EventEnvelope>> = vec![Vec::new(); WORKERS];
        for row in &rows {
            let envelope = EventEnvelope::from_row(row)?;
            let lane = lane_of(&envelope.aggregate_id);
            lanes[lane].push(envelope);
        }
        let projector = Arc::new(AnalyticsProjector::new(pool.clone()));
        let started = Instant::now();
        let workers = lanes.into_iter().map(|lane| {
            let projector = projector.clone();
            tokio::spawn(async move {
                for envelope in &lane {
                    let outcome = projector
                        .apply(envelope)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    anyhow::ensure!(outcome == Outcome::Applied, "{outcome:?} for {envelope:?}");
                }
                anyhow::Ok(())
            })
        });
        for worker in futures::future::join_all(workers).await {
            worker.context("a worker")??;
        }
        let rate = rows.len() as f64 / started.elapsed().as_secs_f64();
        pool.close().await;
        anyhow::Ok(rate)
    }
    .await;
    crate::bench::drop_database(&url).await;
    outcome
}

fn lane_of(aggregate_id: &str) -> usize {
    let hash = aggregate_id
        .bytes()
        .fold(0_u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    (hash % WORKERS as u64) as usize
}

/// `events` events: per order, a cart created and checked out, the order confirmed (two lines)
/// and, for one order in ten, cancelled after it: four or five events an order.
async fn seed(pool: &sqlx::PgPool, events: i64) -> anyhow::Result<()> {
    let orders = (events / 4).max(1);
    sqlx::query(
        "WITH o AS ( \
           SELECT i, md5('cart-' || i)::uuid AS cart, md5('order-' || i)::uuid AS order_id, \
             md5('customer-' || (i % 1000))::uuid AS customer, \
             jsonb_build_array( \
               jsonb_build_object('product_id', md5('product-' || (i % 97))::uuid, \
                 'vendor_id', md5('vendor-' || (i % 13))::uuid, 'quantity', 1 + i % 3, \
                 'unit_price', jsonb_build_object('amount_minor', 1250, 'currency', 'EUR'), \
                 'line_total', jsonb_build_object('amount_minor', 1250 * (1 + i % 3), 'currency', 'EUR')), \
               jsonb_build_object('product_id', md5('product-' || ((i + 1) % 97))::uuid, \
                 'vendor_id', md5('vendor-' || ((i + 1) % 13))::uuid, 'quantity', 1, \
                 'unit_price', jsonb_build_object('amount_minor', 990, 'currency', 'EUR'), \
                 'line_total', jsonb_build_object('amount_minor', 990, 'currency', 'EUR'))) AS lines \
           FROM generate_series(1, $1::bigint) AS i) \
         INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
           payload, metadata, event_id) \
         SELECT 'Cart', cart::text, 1, 'CartCreated', '1.0', jsonb_build_object('type', 'CartCreated', \
             'data', jsonb_build_object('cart_id', cart, 'customer_id', customer)), '{}'::jsonb, \
             gen_random_uuid() FROM o \
         UNION ALL \
         SELECT 'Order', order_id::text, 2, 'OrderConfirmed', '1.0', \
             jsonb_build_object('type', 'OrderConfirmed', 'data', jsonb_build_object( \
               'order_id', order_id, 'customer_id', customer, 'lines', lines, \
               'total', jsonb_build_object('amount_minor', 1250 * (1 + i % 3) + 990, 'currency', 'EUR'))), \
             '{}'::jsonb, gen_random_uuid() FROM o \
         UNION ALL \
         SELECT 'Order', order_id::text, 3, 'OrderCancelled', '1.0', \
             jsonb_build_object('type', 'OrderCancelled', 'data', jsonb_build_object( \
               'order_id', order_id, 'customer_id', customer, 'lines', lines, \
               'reason', 'customer_request', 'previous_status', 'confirmed', \
               'total', jsonb_build_object('amount_minor', 1250 * (1 + i % 3) + 990, 'currency', 'EUR'))), \
             '{}'::jsonb, gen_random_uuid() FROM o WHERE i % 10 = 0",
    )
    .bind(orders)
    .execute(pool)
    .await
    .context("seeding analytics events")?;
    // The orders' first events (placed: not counted, only checkpointed) so every stream starts at 1.
    sqlx::query(
        "INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
           payload, metadata, event_id) \
         SELECT 'Order', aggregate_id, 1, 'OrderPlaced', '2.0', '{\"type\": \"OrderPlaced\"}'::jsonb, \
           '{}'::jsonb, gen_random_uuid() \
         FROM es.events WHERE event_type = 'OrderConfirmed'",
    )
    .execute(pool)
    .await
    .context("seeding analytics events")?;
    Ok(())
}
