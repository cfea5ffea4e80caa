//! `commerce loadgen add-items`: `POST /v1/carts/{id}/items` over HTTP against a running command
//! API, on many carts each owned by its own customer, then the PostgreSQL ceiling (`pg-ceiling`)
//! with as many clients, in the same run, so the result is quoted as a ratio.
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use commerce_client::{
    ClientError, CommandOptions, CommerceClient, Money, NewProduct, VendorApplication,
};
use commerce_platform::auth::{Claims, JwtKeys, Role};
use commerce_platform::config::AuthConfig;
use futures::{StreamExt, TryStreamExt};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::storefront::describe;

/// A cart line holds at most this many units (the domain's `Quantity` bound); each request adds one.
const LINE_MAX: u32 = 99;
/// Where the ceiling script lives, relative to the repository root.
pub(crate) const DEFAULT_CEILING: &str = "../shared/bench/pg-ceiling";
/// The ceiling waits for the relay and projectors to work off the load's events (the machine's CPU
/// at least this idle over a second), so that it runs on a quiet machine; but no longer than
/// [`SETTLE_AT_MOST`].
const QUIET_IDLE_SHARE: f64 = 0.85;
const SETTLE_AT_MOST: Duration = Duration::from_secs(60);
/// The targets, printed next to the result.
const TARGET_RATIO: f64 = 0.5;
const TARGET_P99_MS: f64 = 25.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct AddItemsLoad {
    /// Base URL of the command API, which must already be running.
    pub command_api: String,
    /// Carts to spread the requests over; each has its own customer.
    pub carts: usize,
    /// Products each cart cycles through, so no line reaches [`LINE_MAX`] during the run.
    pub products: usize,
    /// Requests in flight; also the ceiling's client count.
    pub concurrency: usize,
    pub duration: Duration,
    /// The ceiling script; `None` looks for [`DEFAULT_CEILING`] from the repository root.
    pub pg_ceiling: Option<PathBuf>,
    /// Load-then-ceiling rounds. The machine's speed drifts from minute to minute, so each round
    /// compares a load with a ceiling measured right after it, and the summary takes medians.
    pub rounds: usize,
}

/// One cart of the load and a client that acts as its owner.
struct LoadCart {
    id: Uuid,
    owner: CommerceClient,
}

/// What one worker saw.
#[derive(Default)]
struct Tally {
    /// Microseconds per accepted request.
    latencies_us: Vec<u32>,
    /// Refused or failed requests by HTTP status (or `transport`/`timeout`), with the first message.
    errors: BTreeMap<String, (u64, String)>,
    /// The worker ran out of cart lines with room before the deadline.
    exhausted: bool,
}

/// The load's outcome.
pub struct LoadReport {
    pub elapsed: Duration,
    /// Sorted microseconds of every accepted request.
    pub latencies_us: Vec<u32>,
    pub errors: BTreeMap<String, (u64, String)>,
    pub exhausted_workers: usize,
}

impl LoadReport {
    pub fn accepted(&self) -> usize {
        self.latencies_us.len()
    }

    pub fn failed(&self) -> u64 {
        self.errors.values().map(|(n, _)| n).sum()
    }

    /// Accepted commands per second of wall time.
    pub fn commands_per_sec(&self) -> f64 {
        self.accepted() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile (0..=1) in milliseconds, nearest rank.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        quantile(&self.latencies_us, q).map(|us| f64::from(us) / 1000.0)
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failed();
        writeln!(
            f,
            "requests     {} ({} accepted, {failed} failed)",
            self.accepted() as u64 + failed,
            self.accepted()
        )?;
        for (kind, (count, first)) in &self.errors {
            writeln!(f, "  errors {kind}: {count} (first: {first})")?;
        }
        writeln!(
            f,
            "commands/s   {:.0} ({} accepted in {:.2} s)",
            self.commands_per_sec(),
            self.accepted(),
            self.elapsed.as_secs_f64()
        )?;
        let ms = |q| {
            self.quantile_ms(q)
                .map_or("-".to_owned(), |v| format!("{v:.2}"))
        };
        write!(
            f,
            "latency ms   p50 {}  p90 {}  p99 {}  max {}",
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(1.0)
        )?;
        if self.exhausted_workers > 0 {
            write!(
                f,
                "\nnote: {} worker(s) filled every line of their carts before the end; use more --carts or --products",
                self.exhausted_workers
            )?;
        }
        Ok(())
    }
}

/// Waits until a one-second window finds the CPUs at least [`QUIET_IDLE_SHARE`] idle (read from
/// `/proc/stat`; where that is missing, waits 3 s) and says how long that took.
pub(crate) async fn wait_for_quiet_machine() -> Duration {
    let started = Instant::now();
    let Some(mut before) = cpu_times() else {
        tokio::time::sleep(Duration::from_secs(3)).await;
        return started.elapsed();
    };
    while started.elapsed() < SETTLE_AT_MOST {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(after) = cpu_times() else { break };
        let (idle, total) = (after.0 - before.0, after.1 - before.1);
        if total > 0 && idle as f64 / total as f64 >= QUIET_IDLE_SHARE {
            break;
        }
        before = after;
    }
    started.elapsed()
}

/// (idle, total) jiffies of all CPUs, from the first line of `/proc/stat`.
pub(crate) fn cpu_times() -> Option<(u64, u64)> {
    parse_cpu_times(&std::fs::read_to_string("/proc/stat").ok()?)
}

fn parse_cpu_times(stat: &str) -> Option<(u64, u64)> {
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait ...: idle and iowait are idle time.
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or_default();
    Some((idle, fields.iter().sum()))
}

/// One `pg-ceiling` measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ceiling {
    pub tx_per_sec: f64,
    pub mean_latency_ms: f64,
    pub clients: u32,
}

/// Runs the whole benchmark and prints as it goes.
pub async fn add_items(auth: &AuthConfig, load: &AddItemsLoad) -> anyhow::Result<()> {
    anyhow::ensure!(load.concurrency > 0, "--concurrency must be positive");
    anyhow::ensure!(load.products > 0, "--products must be positive");
    anyhow::ensure!(
        load.carts >= load.concurrency,
        "--carts must be at least --concurrency (each worker needs carts of its own)"
    );
    anyhow::ensure!(!load.duration.is_zero(), "--seconds must be positive");

    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    ensure_reachable(&http, &load.command_api).await?;
    // Only commands are sent, so the read API's URL is never used.
    let client = CommerceClient::with_http_client(http, &load.command_api, &load.command_api);
    let keys = JwtKeys::from_config(auth);
    let token_ttl = i64::try_from(load.duration.as_secs())
        .unwrap_or(i64::MAX / 2)
        .saturating_add(3600);

    println!(
        "add-items: {} carts x {} products, {} workers, {} s, command API {}",
        load.carts,
        load.products,
        load.concurrency,
        load.duration.as_secs_f64(),
        load.command_api
    );
    let ceiling_script = find_ceiling_script(load.pg_ceiling.as_deref());
    if ceiling_script.is_none() {
        println!(
            "pg-ceiling   not found ({}); no ratio",
            load.pg_ceiling
                .as_deref()
                .map_or(DEFAULT_CEILING.to_owned(), |p| p.display().to_string())
        );
    }
    let admin = client.with_token(mint(&keys, Role::Admin, token_ttl)?);
    let products = published_products(&admin, load.products, load.concurrency, None).await?;
    let mut rounds = Vec::with_capacity(load.rounds);
    for round in 1..=load.rounds.max(1) {
        if load.rounds > 1 {
            println!("round {round} of {}", load.rounds);
        }
        let setup_started = Instant::now();
        let carts = create_carts(&client, &keys, token_ttl, load).await?;
        println!(
            "setup        {} products, {} new carts created in {:.1} s",
            products.len(),
            carts.len(),
            setup_started.elapsed().as_secs_f64()
        );
        let report = drive(carts, products.clone(), load).await?;
        println!("{report}");
        let Some((label, script)) = ceiling_script.clone() else {
            continue;
        };
        let settled = wait_for_quiet_machine().await;
        println!(
            "settled      {:.1} s until the CPU was idle",
            settled.as_secs_f64()
        );
        let clients = u32::try_from(load.concurrency).context("--concurrency is too large")?;
        let seconds = load.duration.as_secs().max(1);
        let ceiling = tokio::task::spawn_blocking(move || run_ceiling(&script, clients, seconds))
            .await
            .context("the ceiling task panicked")??;
        println!(
            "pg-ceiling   {:.0} tx/s, {:.3} ms mean latency, {} clients, {seconds} s ({label})",
            ceiling.tx_per_sec, ceiling.mean_latency_ms, ceiling.clients
        );
        let outcome = RoundOutcome {
            commands_per_sec: report.commands_per_sec(),
            p50_ms: report.quantile_ms(0.5).unwrap_or(f64::INFINITY),
            p99_ms: report.quantile_ms(0.99).unwrap_or(f64::INFINITY),
            ceiling_tx_per_sec: ceiling.tx_per_sec,
        };
        println!(
            "ratio        {:.2} commands/s / ceiling tx/s",
            outcome.ratio()
        );
        rounds.push(outcome);
        if round < load.rounds {
            wait_for_quiet_machine().await;
        }
    }
    if let Some(summary) = RoundOutcome::medians(&rounds) {
        let met = summary.ratio >= TARGET_RATIO && summary.p99_ms < TARGET_P99_MS;
        println!(
            "median       of {} round(s): {:.0} commands/s, p50 {:.2} ms, p99 {:.2} ms, ceiling {:.0} tx/s, ratio {:.2}; \
             target >= {TARGET_RATIO} with p99 < {TARGET_P99_MS} ms: {}",
            rounds.len(),
            summary.commands_per_sec,
            summary.p50_ms,
            summary.p99_ms,
            summary.ceiling_tx_per_sec,
            summary.ratio,
            if met { "met" } else { "not met" }
        );
    }
    Ok(())
}

/// One round's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RoundOutcome {
    commands_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    ceiling_tx_per_sec: f64,
}

impl RoundOutcome {
    fn ratio(&self) -> f64 {
        self.commands_per_sec / self.ceiling_tx_per_sec.max(1e-9)
    }

    /// The median of each figure over the rounds, the ratio being the median of the rounds' ratios.
    fn medians(rounds: &[RoundOutcome]) -> Option<Medians> {
        let median = |f: fn(&RoundOutcome) -> f64| {
            let mut values: Vec<f64> = rounds.iter().map(f).collect();
            values.sort_by(f64::total_cmp);
            let n = values.len();
            (n > 0).then(|| {
                if n % 2 == 1 {
                    values[n / 2]
                } else {
                    (values[n / 2 - 1] + values[n / 2]) / 2.0
                }
            })
        };
        Some(Medians {
            commands_per_sec: median(|r| r.commands_per_sec)?,
            p50_ms: median(|r| r.p50_ms)?,
            p99_ms: median(|r| r.p99_ms)?,
            ceiling_tx_per_sec: median(|r| r.ceiling_tx_per_sec)?,
            ratio: median(RoundOutcome::ratio)?,
        })
    }
}

/// The summary of several rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Medians {
    commands_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    ceiling_tx_per_sec: f64,
    ratio: f64,
}

pub(crate) async fn ensure_reachable(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let url = format!("{}/healthz", base.trim_end_matches('/'));
    let hint = "start the stack first, e.g. `infra/local/up --detach`";
    match http.get(&url).timeout(Duration::from_secs(3)).send().await {
        Ok(answer) if answer.status().is_success() => Ok(()),
        Ok(answer) => anyhow::bail!(
            "the command API at {base} answered {} to /healthz; {hint}",
            answer.status()
        ),
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "the command API at {base} is not reachable; {hint}"
        ))),
    }
}

pub(crate) fn mint(keys: &JwtKeys, role: Role, ttl: i64) -> anyhow::Result<String> {
    let claims = Claims::new(Uuid::new_v4().to_string(), role, None, ttl);
    keys.mint(&claims).context("minting a token")
}

/// `count` published products of one new vendor, created by `admin` (`concurrency` at a time),
/// each with `stock` units received when given. Every load generator starts from these.
pub(crate) async fn published_products(
    admin: &CommerceClient,
    count: usize,
    concurrency: usize,
    stock: Option<u32>,
) -> anyhow::Result<Arc<[Uuid]>> {
    let vendor_id = Uuid::new_v4();
    let run = Uuid::new_v4().simple().to_string();
    let run = run.get(..8).unwrap_or(&run).to_owned();
    let options = CommandOptions::default();
    // Only an approved vendor sells: the run's vendor is admitted first.
    admin
        .apply_vendor(
            &VendorApplication {
                name: format!("Load generator {run}"),
                contact_email: "loadgen@example.com".to_owned(),
                status: Some("approved".to_owned()),
                reason: Some("load generator run".to_owned()),
                vendor_id: Some(vendor_id),
            },
            CommandOptions::default(),
        )
        .await
        .map_err(describe)
        .context("admitting the run's vendor as admin (is COMMERCE_JWT_SECRET the server's?)")?;
    let ids: Vec<Uuid> = futures::stream::iter(0..count)
        .map(|k| {
            let (options, run) = (&options, &run);
            async move {
                let product = NewProduct {
                    sku: format!("LOADGEN-{run}-{k}"),
                    title: format!("Load generator product {k}"),
                    description: String::new(),
                    category: "loadgen".to_owned(),
                    price: Money::new(1000, "EUR"),
                    vendor_id: Some(vendor_id),
                };
                let created = admin
                    .create_product(&product, options)
                    .await
                    .map_err(describe)
                    .context(
                        "creating a product as admin (is COMMERCE_JWT_SECRET the server's?)",
                    )?;
                admin
                    .publish_product(created.product_id, options)
                    .await
                    .map_err(describe)
                    .context("publishing a product")?;
                if let Some(units) = stock {
                    admin
                        .receive_stock(created.product_id, units, options)
                        .await
                        .map_err(describe)
                        .context("receiving stock")?;
                }
                anyhow::Ok(created.product_id)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(ids.into())
}

/// N empty carts, each opened by its own customer.
async fn create_carts(
    client: &CommerceClient,
    keys: &JwtKeys,
    ttl: i64,
    load: &AddItemsLoad,
) -> anyhow::Result<Vec<LoadCart>> {
    let options = CommandOptions::default();
    futures::stream::iter(0..load.carts)
        .map(|_| {
            let options = &options;
            async move {
                let owner = client.with_token(mint(keys, Role::Customer, ttl)?);
                let created = owner
                    .create_cart(options)
                    .await
                    .map_err(describe)
                    .context("creating a cart")?;
                anyhow::Ok(LoadCart {
                    id: created.cart_id,
                    owner,
                })
            }
        })
        .buffer_unordered(load.concurrency)
        .try_collect()
        .await
}

/// Splits the carts among `concurrency` workers and runs them until the deadline.
async fn drive(
    carts: Vec<LoadCart>,
    products: Arc<[Uuid]>,
    load: &AddItemsLoad,
) -> anyhow::Result<LoadReport> {
    let mut subsets: Vec<Vec<LoadCart>> = (0..load.concurrency).map(|_| Vec::new()).collect();
    for (i, cart) in carts.into_iter().enumerate() {
        subsets[i % load.concurrency].push(cart);
    }
    let started = Instant::now();
    let deadline = started + load.duration;
    let workers: Vec<_> = subsets
        .into_iter()
        .enumerate()
        .map(|(seed, carts)| tokio::spawn(worker(carts, products.clone(), deadline, seed as u64)))
        .collect();
    let mut report = LoadReport {
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
        errors: BTreeMap::new(),
        exhausted_workers: 0,
    };
    for handle in workers {
        let tally = handle.await.context("a load worker panicked")?;
        report.latencies_us.extend(tally.latencies_us);
        for (kind, (count, first)) in tally.errors {
            report.errors.entry(kind).or_insert((0, first)).0 += count;
        }
        report.exhausted_workers += usize::from(tally.exhausted);
    }
    report.elapsed = started.elapsed();
    report.latencies_us.sort_unstable();
    Ok(report)
}

/// One request at a time on a random cart of its own; each cart cycles through the products so
/// that a line grows by one unit every `products.len()` requests on that cart.
async fn worker(
    carts: Vec<LoadCart>,
    products: Arc<[Uuid]>,
    deadline: Instant,
    seed: u64,
) -> Tally {
    let mut rng = SmallRng::seed_from_u64(seed);
    let options = CommandOptions::default();
    let capacity = u32::try_from(products.len())
        .unwrap_or(u32::MAX)
        .saturating_mul(LINE_MAX);
    let mut adds = vec![0u32; carts.len()];
    // Carts with room left on at least their next line.
    let mut open: Vec<usize> = (0..carts.len()).collect();
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        if open.is_empty() {
            tally.exhausted = true;
            break;
        }
        let slot = rng.random_range(0..open.len());
        let i = open[slot];
        let product = products[adds[i] as usize % products.len()];
        adds[i] += 1;
        if adds[i] >= capacity {
            open.swap_remove(slot);
        }
        let cart = &carts[i];
        let sent = Instant::now();
        match cart
            .owner
            .add_cart_item(cart.id, product, 1, &options)
            .await
        {
            Ok(_) => tally
                .latencies_us
                .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX)),
            Err(e) => {
                let kind = error_kind(&e);
                tally
                    .errors
                    .entry(kind)
                    .or_insert_with(|| (0, format!("{:#}", describe(e))))
                    .0 += 1;
            }
        }
    }
    tally
}

fn error_kind(error: &ClientError) -> String {
    match error {
        ClientError::Transport(e) if e.is_timeout() => "timeout".to_owned(),
        ClientError::Transport(_) => "transport".to_owned(),
        other => other
            .status()
            .map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
    }
}

/// The nearest-rank quantile of sorted values.
pub(crate) fn quantile(sorted: &[u32], q: f64) -> Option<u32> {
    let last = sorted.len().checked_sub(1)?;
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1).min(last)).copied()
}

/// The script to run and how to name it in the output (never an absolute path of this machine
/// unless the caller gave one).
pub(crate) fn find_ceiling_script(given: Option<&Path>) -> Option<(String, PathBuf)> {
    if let Some(path) = given {
        return path
            .is_file()
            .then(|| (path.display().to_string(), path.to_owned()));
    }
    let cwd = std::env::current_dir().ok()?;
    let root = cwd
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())?;
    let script = root.join(DEFAULT_CEILING);
    script.is_file().then(|| {
        (
            format!("{DEFAULT_CEILING} from the repository root"),
            script,
        )
    })
}

/// Runs the script with `clients` clients for `seconds` and parses its last line. PostgreSQL is
/// found through the usual `PG*` variables, defaulting to `COMMERCE_DATABASE_URL`'s host, port and
/// user.
pub(crate) fn run_ceiling(script: &Path, clients: u32, seconds: u64) -> anyhow::Result<Ceiling> {
    let mut command = std::process::Command::new(script);
    command.arg(clients.to_string()).arg(seconds.to_string());
    if let Some(url) = commerce_platform::config::env_opt("COMMERCE_DATABASE_URL") {
        if let Ok(options) = url.parse::<sqlx::postgres::PgConnectOptions>() {
            let defaults = [
                ("PGHOST", options.get_host().to_owned()),
                ("PGPORT", options.get_port().to_string()),
                ("PGUSER", options.get_username().to_owned()),
            ];
            for (name, value) in defaults {
                if std::env::var_os(name).is_none() {
                    command.env(name, value);
                }
            }
        }
    }
    let output = command
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::bail!(
            "pg-ceiling failed ({}): {}",
            output.status,
            stderr.trim().lines().last().unwrap_or("no output")
        );
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("pg-ceiling:"))
        .context("pg-ceiling printed no `pg-ceiling:` line")?;
    parse_ceiling(line).with_context(|| format!("cannot read pg-ceiling's line {line:?}"))
}

/// `pg-ceiling: <tx/s> tx/s, <ms> ms mean latency, <clients> clients`.
fn parse_ceiling(line: &str) -> Option<Ceiling> {
    let rest = line.trim().strip_prefix("pg-ceiling:")?;
    let mut parts = rest.split(',').map(str::trim);
    let tx_per_sec = parts.next()?.strip_suffix("tx/s")?.trim().parse().ok()?;
    let mean_latency_ms = parts
        .next()?
        .strip_suffix("ms mean latency")?
        .trim()
        .parse()
        .ok()?;
    let clients = parts.next()?.strip_suffix("clients")?.trim().parse().ok()?;
    Some(Ceiling {
        tx_per_sec,
        mean_latency_ms,
        clients,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_time_is_idle_plus_iowait_of_all_cpus() {
        let stat = "cpu  100 5 50 800 45 0 0 0 0 0\ncpu0 50 2 25 400 20 0 0 0 0 0\n";
        assert_eq!(parse_cpu_times(stat), Some((845, 1000)));
        assert_eq!(parse_cpu_times("intr 1 2 3\n"), None);
    }

    #[test]
    fn rounds_summarise_as_medians_of_each_figure() {
        let round = |commands_per_sec, ceiling_tx_per_sec| RoundOutcome {
            commands_per_sec,
            p50_ms: 1.0,
            p99_ms: commands_per_sec / 100.0,
            ceiling_tx_per_sec,
        };
        let medians = RoundOutcome::medians(&[
            round(100.0, 400.0),
            round(300.0, 400.0),
            round(200.0, 1000.0),
        ])
        .expect("three rounds");
        assert_eq!(medians.commands_per_sec, 200.0);
        assert_eq!(medians.p99_ms, 2.0);
        assert_eq!(medians.ceiling_tx_per_sec, 400.0);
        assert_eq!(medians.ratio, 0.25, "the median of 0.25, 0.75 and 0.2");
        assert_eq!(RoundOutcome::medians(&[]), None);
    }

    #[test]
    fn the_ceiling_line_parses() {
        assert_eq!(
            parse_ceiling("pg-ceiling: 2345 tx/s, 6.821 ms mean latency, 16 clients"),
            Some(Ceiling {
                tx_per_sec: 2345.0,
                mean_latency_ms: 6.821,
                clients: 16
            })
        );
    }

    #[test]
    fn a_ceiling_line_without_figures_is_refused() {
        assert_eq!(
            parse_ceiling("pg-ceiling:  tx/s,  ms mean latency, 16 clients"),
            None
        );
        assert_eq!(parse_ceiling("tps = 12"), None);
    }

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&sorted, 0.5), Some(50));
        assert_eq!(quantile(&sorted, 0.99), Some(99));
        assert_eq!(quantile(&sorted, 1.0), Some(100));
        assert_eq!(quantile(&sorted, 0.0), Some(1));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
