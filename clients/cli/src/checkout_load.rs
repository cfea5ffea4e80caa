//! `commerce loadgen checkout`: orders completing end to end. Carts are filled beforehand (not
//! timed); then `--concurrency` workers each check a cart out and wait, through the read API's
//! `min_version` long poll, until the order leaves `pending` (the saga confirmed or cancelled it).
//! Orders per second, checkout-to-confirmed latency, events and CPU per order are measured, then
//! the PostgreSQL ceiling in the same round, so the figure is quoted as a ratio.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use commerce_client::{CommandOptions, CommerceClient, ShippingAddress};
use commerce_platform::auth::{JwtKeys, Role};
use commerce_platform::config::{AuthConfig, DatabaseConfig};
use futures::{StreamExt, TryStreamExt};
use uuid::Uuid;

use crate::loadgen::{
    cpu_times, ensure_reachable, find_ceiling_script, mint, published_products, quantile,
    run_ceiling, wait_for_quiet_machine, DEFAULT_CEILING,
};
use crate::storefront::describe;

/// The targets: orders/s at least this share of the ceiling's tx/s, with p99 under 1 s.
const TARGET_RATIO: f64 = 0.04;
const TARGET_P99_MS: f64 = 1000.0;
/// Units each product starts with: far more than any run sells.
const STOCK_PER_PRODUCT: u32 = 1_000_000;
/// Lifetime of the load's tokens: longer than any run.
const TOKEN_TTL_SECS: i64 = 4 * 3600;
/// An order not out of `pending` by then counts as failed.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

/// What to run.
#[derive(Debug, Clone)]
pub struct CheckoutLoad {
    pub command_api: String,
    pub read_api: String,
    /// Orders per round.
    pub orders: usize,
    /// Checkouts in flight (each waits for its order before the next).
    pub concurrency: usize,
    /// Products the carts are filled from; fewer means more contention on their stock.
    pub products: usize,
    pub pg_ceiling: Option<PathBuf>,
    pub rounds: usize,
}

/// One round's figures.
#[derive(Debug, Clone, Copy)]
struct Round {
    orders_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    ceiling: f64,
}

/// Runs the benchmark and prints as it goes.
pub async fn checkout(
    auth: &AuthConfig,
    database: &DatabaseConfig,
    load: &CheckoutLoad,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        load.concurrency > 0 && load.orders > 0 && load.products > 0,
        "--concurrency, --orders and --products must be positive"
    );
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    ensure_reachable(&http, &load.command_api).await?;
    let client = CommerceClient::with_http_client(http, &load.command_api, &load.read_api);
    let keys = JwtKeys::from_config(auth);
    let pool = commerce_platform::database::connect(database)
        .await
        .context("connecting to count events (COMMERCE_DATABASE_URL)")?;
    println!(
        "checkout: {} orders x {} rounds, {} in flight, {} products, command API {}",
        load.orders, load.rounds, load.concurrency, load.products, load.command_api
    );
    let ceiling_script = find_ceiling_script(load.pg_ceiling.as_deref());
    if ceiling_script.is_none() {
        println!("pg-ceiling   not found ({DEFAULT_CEILING}); no ratio");
    }
    let admin = client.with_token(mint(&keys, Role::Admin, TOKEN_TTL_SECS)?);
    let products = published_products(
        &admin,
        load.products,
        load.concurrency.min(16),
        Some(STOCK_PER_PRODUCT),
    )
    .await?;
    let mut rounds = Vec::new();
    for round in 1..=load.rounds.max(1) {
        println!("round {round} of {}", load.rounds.max(1));
        let prepared = Instant::now();
        let carts = filled_carts(&client, &keys, &products, load).await?;
        println!(
            "setup        {} carts filled in {:.1} s",
            carts.len(),
            prepared.elapsed().as_secs_f64()
        );
        // What autovacuum does between rounds on a server that runs it (the development
        // machine's does not): without it, each round pays for the dead rows of the last.
        vacuum(&pool).await?;
        wait_for_quiet_machine().await;
        let events_before = last_position(&pool).await?;
        let cpu_before = cpu_times();
        let started = Instant::now();
        let outcomes: Vec<Outcome> = futures::stream::iter(carts)
            .map(|(owner, cart)| async move { place_and_wait(&owner, cart).await })
            .buffer_unordered(load.concurrency)
            .collect()
            .await;
        let elapsed = started.elapsed();
        let cpu_after = cpu_times();
        // The saga's last events (the commits) follow the confirmation the workers saw.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let events = last_position(&pool).await? - events_before;

        let mut latencies_us: Vec<u32> = Vec::new();
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        for outcome in &outcomes {
            *by_status.entry(outcome.status.clone()).or_default() += 1;
            if outcome.status == "confirmed" {
                latencies_us.push(u32::try_from(outcome.latency.as_micros()).unwrap_or(u32::MAX));
            }
        }
        latencies_us.sort_unstable();
        let confirmed = latencies_us.len();
        let orders_per_sec = confirmed as f64 / elapsed.as_secs_f64().max(1e-9);
        let ms = |q| quantile(&latencies_us, q).map_or(f64::INFINITY, |us| f64::from(us) / 1e3);
        let statuses: Vec<String> = by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
        println!("orders       {} ({})", outcomes.len(), statuses.join(", "));
        println!(
            "orders/s     {orders_per_sec:.0} confirmed end to end ({confirmed} in {:.2} s)",
            elapsed.as_secs_f64()
        );
        println!(
            "latency ms   checkout -> confirmed p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(1.0)
        );
        let per_order = |n: f64| n / outcomes.len().max(1) as f64;
        println!(
            "per order    {:.1} events (checkout's and the saga's), {}",
            per_order(events as f64),
            match (cpu_before, cpu_after) {
                (Some((idle0, total0)), Some((idle1, total1))) => {
                    // Jiffies are 10 ms; busy = total - idle, over every CPU and process.
                    let busy_ms = ((total1 - total0) - (idle1 - idle0)) as f64 * 10.0;
                    format!("{:.1} ms CPU (whole machine)", per_order(busy_ms))
                }
                _ => "CPU not measured".to_owned(),
            }
        );
        let Some((label, script)) = ceiling_script.clone() else {
            continue;
        };
        wait_for_quiet_machine().await;
        let clients = u32::try_from(load.concurrency).context("--concurrency is too large")?;
        let seconds = elapsed.as_secs().clamp(5, 30);
        let ceiling = tokio::task::spawn_blocking(move || run_ceiling(&script, clients, seconds))
            .await
            .context("the ceiling task panicked")??;
        println!(
            "pg-ceiling   {:.0} tx/s, {:.3} ms mean latency, {} clients, {seconds} s ({label})",
            ceiling.tx_per_sec, ceiling.mean_latency_ms, ceiling.clients
        );
        println!(
            "ratio        {:.3} orders/s / ceiling tx/s",
            orders_per_sec / ceiling.tx_per_sec.max(1e-9)
        );
        rounds.push(Round {
            orders_per_sec,
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            ceiling: ceiling.tx_per_sec,
        });
    }
    pool.close().await;
    if !rounds.is_empty() {
        let median = |f: fn(&Round) -> f64| {
            let mut values: Vec<f64> = rounds.iter().map(f).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        let ratio = median(|r| r.orders_per_sec / r.ceiling.max(1e-9));
        let p99 = median(|r| r.p99_ms);
        println!(
            "median       of {} round(s): {:.0} orders/s, p50 {:.1} ms, p99 {:.1} ms, ceiling {:.0} tx/s, ratio {ratio:.3}; \
             target >= {TARGET_RATIO} with p99 < {TARGET_P99_MS} ms: {}",
            rounds.len(),
            median(|r| r.orders_per_sec),
            median(|r| r.p50_ms),
            p99,
            median(|r| r.ceiling),
            if ratio >= TARGET_RATIO && p99 < TARGET_P99_MS { "met" } else { "not met" }
        );
    }
    Ok(())
}

/// What became of one order.
struct Outcome {
    /// `confirmed`, `cancelled`, or what went wrong.
    status: String,
    latency: Duration,
}

/// Checks `cart` out and waits until its order is no longer pending.
async fn place_and_wait(owner: &CommerceClient, cart: Uuid) -> Outcome {
    let started = Instant::now();
    let failed = |what: String| Outcome {
        status: what,
        latency: started.elapsed(),
    };
    let placed = match owner
        .checkout(cart, &address(), "tok_ok", &CommandOptions::default())
        .await
    {
        Ok(placed) => placed,
        Err(error) => return failed(format!("checkout failed: {}", describe(error))),
    };
    loop {
        // Placed is version 1; the saga's confirmation or cancellation is version 2.
        match owner.get_order(placed.order_id, Some(2)).await {
            Ok(order) if order.version >= 2 => {
                return Outcome {
                    status: format!("{:?}", order.status).to_lowercase(),
                    latency: started.elapsed(),
                }
            }
            Ok(_) | Err(_) if started.elapsed() < GIVE_UP_AFTER => {}
            Ok(_) | Err(_) => return failed("still pending".to_owned()),
        }
    }
}

fn address() -> ShippingAddress {
    ShippingAddress {
        name: "Load Generator".to_owned(),
        line1: "1 Bench Street".to_owned(),
        line2: None,
        city: "Berlin".to_owned(),
        region: None,
        postal_code: "10117".to_owned(),
        country: "DE".to_owned(),
    }
}

/// One cart per order, each of its own customer, holding one unit of a product.
async fn filled_carts(
    client: &CommerceClient,
    keys: &JwtKeys,
    products: &Arc<[Uuid]>,
    load: &CheckoutLoad,
) -> anyhow::Result<Vec<(CommerceClient, Uuid)>> {
    futures::stream::iter(0..load.orders)
        .map(|n| async move {
            let options = CommandOptions::default();
            let owner = client.with_token(mint(keys, Role::Customer, TOKEN_TTL_SECS)?);
            let cart = owner
                .create_cart(&options)
                .await
                .map_err(describe)
                .context("creating a cart")?
                .cart_id;
            let product = products[n % products.len()];
            owner
                .add_cart_item(cart, product, 1, &options)
                .await
                .map_err(describe)
                .context("adding to a cart")?;
            anyhow::Ok((owner, cart))
        })
        .buffer_unordered(load.concurrency.min(32))
        .try_collect()
        .await
}

/// Vacuums and analyses the tables the load rewrites.
async fn vacuum(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    // `read.orders` is a view of the live generation's table.
    let orders: String = sqlx::query_scalar(
        "SELECT 'read.orders_g' || generation FROM read.generations WHERE model = 'orders'",
    )
    .fetch_one(pool)
    .await
    .context("finding the live orders table")?;
    for table in [
        "es.outbox",
        "es.snapshots",
        "saga.order_sagas",
        orders.as_str(),
    ] {
        // The simple protocol: VACUUM cannot run in the extended protocol's implicit transaction.
        sqlx::raw_sql(&format!("VACUUM (ANALYZE) {table}"))
            .execute(pool)
            .await
            .with_context(|| format!("vacuuming {table}"))?;
    }
    Ok(())
}

/// The highest global position in the event store.
async fn last_position(pool: &sqlx::PgPool) -> anyhow::Result<i64> {
    let position: Option<i64> = sqlx::query_scalar("SELECT max(global_position) FROM es.events")
        .fetch_one(pool)
        .await
        .context("reading the event store's last position")?;
    Ok(position.unwrap_or(0))
}
