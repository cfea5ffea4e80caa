//! `commerce bench suspension`: how long the catalog's vendor script (`VENDOR_WRITE` in
//! `commerce_projections::vendors`) holds Redis when a vendor with N products is suspended, and
//! when it is reinstated. The script walks the vendor's whole product set in one call and Redis
//! serves nobody else while it runs, so its duration is the stall every reader and writer sees.
//! Measured through the live projector (`Projector::apply`), in a key prefix of its own per N,
//! next to `redis-ceiling`'s pipelined SET rate after each round.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use commerce_domain::product::ProductEvent;
use commerce_domain::vendor::VendorEvent;
use commerce_domain::{
    Category, ContactEmail, Currency, Description, Money, ProductId, Reason, Sku, Title, UserId,
    VendorId, VendorName,
};
use commerce_platform::config::RedisConfig;
use commerce_platform::envelope::EventEnvelope;
use commerce_projections::catalog::{CatalogKeys, CatalogProjector};
use commerce_projections::consumer::{Outcome, Projector};
use futures::{StreamExt, TryStreamExt};
use redis::aio::ConnectionManager;
use uuid::Uuid;

use crate::output::Table;

/// What `commerce bench suspension` measures.
#[derive(Debug, Clone)]
pub struct SuspensionBench {
    /// Products of the vendor, one measurement (with a key prefix of its own) each.
    pub products: Vec<u32>,
    pub rounds: usize,
    pub redis: RedisConfig,
    /// `../shared/bench/redis-ceiling` unless given.
    pub redis_ceiling: Option<PathBuf>,
}

/// One round: the wall time of the suspension's `apply` and of the reinstatement's (each one
/// profile read and one EVALSHA), and the ceiling's pipelined SET/s after them.
#[derive(Debug, Clone, Copy)]
pub struct SuspensionRound {
    pub suspension: Duration,
    pub reinstatement: Duration,
    /// The longest another client waited for Redis to answer a PING during the suspension and
    /// the reinstatement: how long one script held Redis.
    pub suspension_held: Duration,
    pub reinstatement_held: Duration,
    pub pipelined_set: f64,
}

/// Every round for a vendor of `products` products.
#[derive(Debug, Clone)]
pub struct SuspensionResult {
    pub products: u32,
    /// How long seeding took (not measured, for the record).
    pub seeded_in: Duration,
    pub rounds: Vec<SuspensionRound>,
}

/// Products applied at once while seeding.
const SEED_CONCURRENCY: usize = 32;
/// The generation the bench projects into.
const GENERATION: u64 = 1;
/// The projector's connection waits this long for an answer: a script over tens of thousands of
/// products may take longer than the services' 2 s, and the bench is there to say how long.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn suspension(bench: &SuspensionBench) -> anyhow::Result<Vec<SuspensionResult>> {
    anyhow::ensure!(bench.rounds > 0, "--rounds must be positive");
    let redis = commerce_platform::redis_connection::client(&bench.redis)?
        .get_connection_manager_with_config(
            commerce_platform::redis_connection::manager_config()
                .set_response_timeout(RESPONSE_TIMEOUT),
        )
        .await
        .context("connecting to Redis")?;
    // Another connection of its own: its PINGs wait only for what Redis itself is busy with.
    let probe = commerce_platform::redis_connection::client(&bench.redis)?
        .get_connection_manager_with_config(
            commerce_platform::redis_connection::manager_config()
                .set_response_timeout(RESPONSE_TIMEOUT),
        )
        .await
        .context("connecting to Redis")?;
    let ceiling_script = bench
        .redis_ceiling
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::bench_stream::REDIS_CEILING));
    let run_id = Uuid::new_v4().simple().to_string();
    let mut results = Vec::new();
    for &products in &bench.products {
        anyhow::ensure!(products > 0, "--products must be positive");
        let prefix = format!("bench:suspension:{run_id}:{products}:");
        let outcome = measure(
            &redis,
            &probe,
            &prefix,
            products,
            bench.rounds,
            &ceiling_script,
        )
        .await;
        if let Err(e) = unlink_prefix(&mut redis.clone(), &prefix).await {
            eprintln!("warning: could not remove the keys {prefix}*: {e:#}");
        }
        results.push(outcome?);
    }
    Ok(results)
}

/// Seeds a vendor of `products` published products under `prefix`, then suspends and reinstates
/// it `rounds` times.
async fn measure(
    redis: &ConnectionManager,
    probe: &ConnectionManager,
    prefix: &str,
    products: u32,
    rounds: usize,
    ceiling_script: &Path,
) -> anyhow::Result<SuspensionResult> {
    let keys = CatalogKeys::new(prefix);
    let published = keys.published(GENERATION);
    let projector = CatalogProjector::into_generation(redis.clone(), keys, GENERATION);
    let vendor_id = VendorId::generate();

    let started = Instant::now();
    seed(&projector, vendor_id, products).await?;
    let seeded_in = started.elapsed();
    let listed = cardinality(redis, &published).await?;
    anyhow::ensure!(
        listed == u64::from(products),
        "after seeding {listed} products are published, expected {products}"
    );
    eprintln!(
        "{products} products: seeded in {:.1} s",
        seeded_in.as_secs_f64()
    );

    let reason = |text: &str| Reason::parse(text).expect("a valid reason");
    let mut sequence = 2;
    let mut measured = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        sequence += 1;
        let suspended = vendor_envelope(
            vendor_id,
            sequence,
            &VendorEvent::VendorSuspended {
                vendor_id,
                reason: reason("bench: suspension"),
            },
        )?;
        let started = Instant::now();
        let (applied, suspension_held) = longest_stall(probe, apply(&projector, &suspended)).await;
        applied?;
        let suspension = started.elapsed();
        let listed = cardinality(redis, &published).await?;
        anyhow::ensure!(
            listed == 0,
            "after the suspension {listed} products are still published, expected 0"
        );

        sequence += 1;
        let reinstated = vendor_envelope(
            vendor_id,
            sequence,
            &VendorEvent::VendorReinstated {
                vendor_id,
                reason: reason("bench: reinstatement"),
            },
        )?;
        let started = Instant::now();
        let (applied, reinstatement_held) =
            longest_stall(probe, apply(&projector, &reinstated)).await;
        applied?;
        let reinstatement = started.elapsed();
        let listed = cardinality(redis, &published).await?;
        anyhow::ensure!(
            listed == u64::from(products),
            "after the reinstatement {listed} products are published, expected {products}"
        );

        let pipelined_set = crate::bench_stream::redis_ceiling(ceiling_script)?;
        eprintln!(
            "{products} products, round {round}: suspension {:.1} ms (Redis held {:.1} ms), \
             reinstatement {:.1} ms (held {:.1} ms), pipelined SET {pipelined_set:.0}/s",
            millis(suspension),
            millis(suspension_held),
            millis(reinstatement),
            millis(reinstatement_held),
        );
        measured.push(SuspensionRound {
            suspension,
            reinstatement,
            suspension_held,
            reinstatement_held,
            pipelined_set,
        });
    }
    Ok(SuspensionResult {
        products,
        seeded_in,
        rounds: measured,
    })
}

/// Runs `work` while `probe` PINGs Redis back to back; the longest a PING took.
async fn longest_stall<F: std::future::Future>(
    probe: &ConnectionManager,
    work: F,
) -> (F::Output, Duration) {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pinging = {
        let (done, mut probe) = (done.clone(), probe.clone());
        tokio::spawn(async move {
            let mut longest = Duration::ZERO;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                let _: Result<String, _> = redis::cmd("PING").query_async(&mut probe).await;
                longest = longest.max(started.elapsed());
            }
            longest
        })
    };
    let output = work.await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let longest = pinging.await.unwrap_or_default();
    (output, longest)
}

/// The vendor applied and approved, then `products` products of it created and published, each
/// through the projector as the consumer would apply them.
async fn seed(
    projector: &CatalogProjector,
    vendor_id: VendorId,
    products: u32,
) -> anyhow::Result<()> {
    let applied = VendorEvent::VendorApplied {
        vendor_id,
        name: VendorName::parse("Bench Vendor")?,
        contact_email: ContactEmail::parse("bench@example.com")?,
        applicant_id: UserId::generate(),
    };
    apply(projector, &vendor_envelope(vendor_id, 1, &applied)?).await?;
    let approved = VendorEvent::VendorApproved {
        vendor_id,
        reason: Reason::parse("bench: approved")?,
    };
    apply(projector, &vendor_envelope(vendor_id, 2, &approved)?).await?;

    let price = Money::new(1999, Currency::parse("EUR")?)?;
    let category = Category::parse("bench")?;
    let description = Description::parse("A product of the suspension bench.")?;
    futures::stream::iter(0..products)
        .map(|i| {
            let (price, category, description) =
                (price.clone(), category.clone(), description.clone());
            async move {
                let product_id = ProductId::generate();
                let created = ProductEvent::ProductCreated {
                    product_id,
                    vendor_id,
                    sku: Sku::parse(&format!("BENCH-{i}"))?,
                    title: Title::parse(&format!("Bench product {i}"))?,
                    description,
                    category,
                    price,
                };
                apply(projector, &product_envelope(product_id, 1, &created)?).await?;
                let published = ProductEvent::ProductPublished { product_id };
                apply(projector, &product_envelope(product_id, 2, &published)?).await
            }
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .try_for_each(|()| futures::future::ready(Ok(())))
        .await
}

/// Applies `envelope`, which must be the next event of its aggregate.
async fn apply(projector: &CatalogProjector, envelope: &EventEnvelope) -> anyhow::Result<()> {
    let outcome = projector.apply(envelope).await.with_context(|| {
        format!(
            "applying {} {} of {} {}",
            envelope.event_type, envelope.sequence, envelope.aggregate_type, envelope.aggregate_id
        )
    })?;
    anyhow::ensure!(
        outcome == Outcome::Applied,
        "{} {} of {} {} was not applied: {outcome:?}",
        envelope.event_type,
        envelope.sequence,
        envelope.aggregate_type,
        envelope.aggregate_id
    );
    Ok(())
}

fn vendor_envelope(
    vendor_id: VendorId,
    sequence: i64,
    event: &VendorEvent,
) -> anyhow::Result<EventEnvelope> {
    envelope(
        "Vendor",
        vendor_id.to_string(),
        sequence,
        event.name(),
        serde_json::to_value(event)?,
    )
}

fn product_envelope(
    product_id: ProductId,
    sequence: i64,
    event: &ProductEvent,
) -> anyhow::Result<EventEnvelope> {
    envelope(
        "Product",
        product_id.to_string(),
        sequence,
        event.name(),
        serde_json::to_value(event)?,
    )
}

/// An envelope as the relay would deliver it (the catalog reads neither the position nor the
/// tracing ids, but they are filled in as a real one's).
fn envelope(
    aggregate_type: &str,
    aggregate_id: String,
    sequence: i64,
    event_type: &str,
    payload: serde_json::Value,
) -> anyhow::Result<EventEnvelope> {
    static POSITION: AtomicI64 = AtomicI64::new(1);
    Ok(EventEnvelope {
        event_id: Uuid::now_v7(),
        global_position: POSITION.fetch_add(1, Ordering::Relaxed),
        aggregate_type: aggregate_type.to_owned(),
        aggregate_id,
        sequence,
        event_type: event_type.to_owned(),
        event_version: "1.0".to_owned(),
        occurred_at: Utc::now(),
        correlation_id: Some(Uuid::now_v7()),
        causation_id: None,
        payload,
    })
}

/// Members of the sorted set `key`.
async fn cardinality(redis: &ConnectionManager, key: &str) -> anyhow::Result<u64> {
    let mut redis = redis.clone();
    redis::cmd("ZCARD")
        .arg(key)
        .query_async(&mut redis)
        .await
        .with_context(|| format!("ZCARD {key}"))
}

/// Removes every key under `prefix`: SCAN with its pattern, UNLINK of each batch.
async fn unlink_prefix(redis: &mut ConnectionManager, prefix: &str) -> anyhow::Result<()> {
    let pattern = format!("{prefix}*");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(redis)
            .await?;
        if !keys.is_empty() {
            let () = redis::cmd("UNLINK").arg(&keys).query_async(redis).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Products per second for `products` in `duration`.
fn per_second(products: u32, duration: Duration) -> f64 {
    f64::from(products) / duration.max(Duration::from_micros(1)).as_secs_f64()
}

/// The middle value (the upper one of an even count), as the other benches take it.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

impl SuspensionResult {
    /// The median suspension and reinstatement, in milliseconds.
    pub fn median_millis(&self) -> (f64, f64) {
        (
            median(self.rounds.iter().map(|r| millis(r.suspension)).collect()),
            median(
                self.rounds
                    .iter()
                    .map(|r| millis(r.reinstatement))
                    .collect(),
            ),
        )
    }

    /// The rounds and their medians as an aligned table.
    pub fn table(&self) -> String {
        let n = self.products;
        let mut table = Table::new(&[
            ("ROUND", false),
            ("SUSPEND MS", true),
            ("HELD MS", true),
            ("HIDDEN/S", true),
            ("REINSTATE MS", true),
            ("HELD MS", true),
            ("SHOWN/S", true),
            ("PIPELINED SET/S", true),
            ("HIDDEN/SET", true),
        ]);
        let row = |label: String, cells: [f64; 8]| {
            let [suspend, held, hidden, reinstate, held_again, shown, set, ratio] = cells;
            vec![
                label,
                format!("{suspend:.1}"),
                format!("{held:.1}"),
                format!("{hidden:.0}"),
                format!("{reinstate:.1}"),
                format!("{held_again:.1}"),
                format!("{shown:.0}"),
                format!("{set:.0}"),
                format!("{ratio:.3}"),
            ]
        };
        let cells = |r: &SuspensionRound| {
            let hidden = per_second(n, r.suspension);
            [
                millis(r.suspension),
                millis(r.suspension_held),
                hidden,
                millis(r.reinstatement),
                millis(r.reinstatement_held),
                per_second(n, r.reinstatement),
                r.pipelined_set,
                hidden / r.pipelined_set,
            ]
        };
        let all: Vec<[f64; 8]> = self.rounds.iter().map(cells).collect();
        for (i, round) in all.iter().enumerate() {
            table.row(row((i + 1).to_string(), *round));
        }
        let medians = std::array::from_fn(|c| median(all.iter().map(|r| r[c]).collect()));
        table.row(row("median".to_owned(), medians));
        table.render()
    }
}
