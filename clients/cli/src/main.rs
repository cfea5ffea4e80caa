//! `commerce`: run the system, provision it, mint tokens, use the storefront API, measure it.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use commerce_cli::output::{Output, OutputFormat};
use commerce_cli::storefront::{
    ApiTarget, CartCommand, CheckoutArgs, OrdersCommand, ProductsCommand, StockCommand,
};
use commerce_cli::{commands, loadgen, storefront, system};
use commerce_platform::auth::Role;
use commerce_platform::config::{AuthConfig, DatabaseConfig, MessagingConfig};
use commerce_platform::{telemetry, Shutdown};
use uuid::Uuid;

/// mimalloc: the services allocate many small, short-lived buffers per request and per message;
/// measured against glibc malloc in `commerce bench relay` (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "commerce",
    version,
    about = "The commerce engine's command line"
)]
struct Cli {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where the storefront commands and the load generator send their requests, and how answers
/// are printed.
#[derive(clap::Args)]
#[command(next_help_heading = "Global options")]
struct ApiArgs {
    /// Base URL of the command API.
    #[arg(
        long,
        global = true,
        env = "COMMERCE_COMMAND_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    command_api: String,
    /// Base URL of the read API.
    #[arg(
        long,
        global = true,
        env = "COMMERCE_READ_API_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    read_api: String,
    /// Bearer token for the storefront commands (e.g. from `commerce token`).
    #[arg(long, global = true, env = "COMMERCE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Sent with a command as `Idempotency-Key`: running the command again with the same key
    /// answers the first result and changes nothing (1 to 255 visible ASCII characters).
    #[arg(long, global = true, value_parser = parse_idempotency_key)]
    idempotency_key: Option<String>,
    /// Print JSON (the same as `--output json`).
    #[arg(long, global = true)]
    json: bool,
    /// A summary for a person, or JSON for a script; `auto` prints the summary on a terminal and
    /// JSON when stdout is a pipe or a file.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "COMMERCE_OUTPUT",
        default_value_t = OutputFormat::Auto
    )]
    output: OutputFormat,
}

/// The rule the command API applies to `Idempotency-Key`, checked before anything is sent.
fn parse_idempotency_key(text: &str) -> Result<String, String> {
    let visible = text.chars().all(|c| c.is_ascii_graphic());
    if (1..=255).contains(&text.len()) && visible {
        Ok(text.to_owned())
    } else {
        Err("an idempotency key is 1 to 255 visible ASCII characters (no spaces)".into())
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in this process until Ctrl-C or SIGTERM (migrates and provisions first).
    Up,
    /// Create the database if missing and apply every migration.
    Migrate,
    /// Infrastructure tasks.
    Infra {
        #[command(subcommand)]
        command: InfraCommand,
    },
    /// Measure a component against its ceiling, in the same run.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Generate load against the running services over HTTP, with the ceiling in the same run.
    Loadgen {
        #[command(subcommand)]
        command: LoadgenCommand,
    },
    /// Browse the catalog; list, price, publish and unpublish products (vendors).
    Products {
        #[command(subcommand)]
        command: ProductsCommand,
    },
    /// Create and fill a cart.
    Cart {
        #[command(subcommand)]
        command: CartCommand,
    },
    /// Check a cart out, placing an order.
    Checkout(CheckoutArgs),
    /// Read, cancel and ship orders.
    Orders {
        #[command(subcommand)]
        command: OrdersCommand,
    },
    /// Receive stock (vendors).
    Stock {
        #[command(subcommand)]
        command: StockCommand,
    },
    /// The outbox: events SNS keeps refusing are parked there (with the later events of their
    /// aggregate); list them and put them back.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Order-fulfilment sagas: list them by state, see why one waits, retry or abandon it.
    Sagas {
        #[command(subcommand)]
        command: SagasCommand,
    },
    /// Print a bearer token signed with COMMERCE_JWT_SECRET (the development secret in local
    /// mode), carrying COMMERCE_JWT_AUDIENCE and COMMERCE_JWT_ISSUER when they are set.
    Token {
        /// Who the token speaks for: customer (shops; `--sub` is the customer id), vendor
        /// (sells; needs --vendor-id), admin, analyst or ops.
        #[arg(long)]
        role: Role,
        /// The user id (`sub`); a new one if omitted.
        #[arg(long)]
        sub: Option<String>,
        /// Required for --role vendor.
        #[arg(long)]
        vendor_id: Option<Uuid>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Outbox relay events/s (committed rows to SNS acknowledgement) vs raw PublishBatch msg/s.
    Relay {
        /// Events per round.
        #[arg(long, default_value_t = 20_000)]
        events: i64,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// PublishBatch calls in flight, for the relay and the raw ceiling alike.
        #[arg(long, default_value_t = 16)]
        lanes: usize,
        /// Outbox rows the relay claims per round trip.
        #[arg(long, default_value_t = 500)]
        claim: i64,
        /// Claims in flight at once.
        #[arg(long, default_value_t = 2)]
        depth: usize,
    },
}

#[derive(Subcommand)]
enum LoadgenCommand {
    /// `POST /v1/carts/{id}/items` on many carts (each with its own customer), then the
    /// PostgreSQL ceiling with as many clients; needs the command API running and
    /// COMMERCE_JWT_SECRET as the server's.
    AddItems {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Requests in flight, and the ceiling's clients.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 200)]
        carts: usize,
        /// Products each cart cycles through, so that no line passes 99 units.
        #[arg(long, default_value_t = 20)]
        products: usize,
        /// The ceiling script [default: ../shared/bench/pg-ceiling from the repository root].
        #[arg(long)]
        pg_ceiling: Option<PathBuf>,
        /// Load-then-ceiling rounds (new carts each round); the summary gives medians.
        #[arg(long, default_value_t = 1)]
        rounds: usize,
    },
    /// Orders from checkout to confirmed (the saga's work included), then the PostgreSQL
    /// ceiling; needs every service running (`commerce up`), COMMERCE_JWT_SECRET as the
    /// server's and COMMERCE_DATABASE_URL (events per order are counted there).
    Checkout {
        /// Orders per round; each has its own customer and a cart filled before the clock starts.
        #[arg(long, default_value_t = 2000)]
        orders: usize,
        /// Checkouts in flight, and the ceiling's clients.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Products the carts draw from (fewer: more contention on their stock).
        #[arg(long, default_value_t = 200)]
        products: usize,
        /// The ceiling script [default: ../shared/bench/pg-ceiling from the repository root].
        #[arg(long)]
        pg_ceiling: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        rounds: usize,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// List parked outbox rows: position, aggregate, event, refusals and the last error.
    Parked,
    /// Put parked rows back for the relay (their refusal count starts again).
    Retry {
        /// Every parked row.
        #[arg(
            long,
            conflicts_with = "position",
            required_unless_present = "position"
        )]
        all: bool,
        /// Only this row's global position (repeatable).
        #[arg(long)]
        position: Vec<i64>,
    },
}

#[derive(Subcommand)]
enum SagasCommand {
    /// Sagas, most recent first, with their state, attempts and last error.
    List {
        /// Only sagas in this state: reserving, authorizing, confirming, capturing, committing,
        /// completed, compensating, cancelled, refunding, refunded or abandoned.
        #[arg(long)]
        state: Option<String>,
        /// Only sagas waiting past their deadline (not finished).
        #[arg(long)]
        overdue: bool,
        /// At most this many, 1 or more.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..))]
        limit: i64,
    },
    /// One order's saga in full: steps done, deadline, attempts and why it waits.
    Show {
        /// The order id.
        #[arg(value_parser = storefront::parse_id)]
        order_id: Uuid,
    },
    /// Run a waiting saga's step now (attempts and deadline start again); an abandoned saga
    /// resumes where it stopped.
    Retry {
        /// The order id.
        #[arg(value_parser = storefront::parse_id)]
        order_id: Uuid,
    },
    /// Stop driving a saga: nothing more happens to the order automatically.
    Abandon {
        /// The order id.
        #[arg(value_parser = storefront::parse_id)]
        order_id: Uuid,
        /// Why, for the record.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum InfraCommand {
    /// Create the SNS topic, SQS queues, DLQs and subscriptions (idempotent).
    Provision,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<storefront::UsageError>().is_some() => {
            eprintln!("error: {e}\n\nFor more information, try '--help'.");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("commerce: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let output = Output::choose(cli.api.output, cli.api.json);
    let target = ApiTarget {
        command_api: cli.api.command_api,
        read_api: cli.api.read_api,
        token: cli.api.token,
        idempotency_key: cli.api.idempotency_key,
    };
    match cli.command {
        Command::Up => up().await,
        Command::Migrate => {
            telemetry::init_logging();
            commands::migrate(&DatabaseConfig::from_env()?).await
        }
        Command::Infra {
            command: InfraCommand::Provision,
        } => {
            telemetry::init_logging();
            commands::provision(&MessagingConfig::from_env()?).await
        }
        Command::Bench {
            command:
                BenchCommand::Relay {
                    events,
                    rounds,
                    lanes,
                    claim,
                    depth,
                },
        } => {
            anyhow::ensure!(
                rounds > 0 && events > 0,
                "--rounds and --events must be positive"
            );
            let bench = commerce_cli::bench::RelayBench {
                events,
                rounds,
                relay: commerce_command_api::relay::RelayConfig {
                    lanes,
                    claim_limit: claim,
                    pipeline_depth: depth,
                    ..Default::default()
                },
            };
            let results = commerce_cli::bench::relay(
                &DatabaseConfig::from_env()?,
                &MessagingConfig::from_env()?,
                &bench,
            )
            .await?;
            let median = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let raw = median(results.iter().map(|r| r.raw_publish).collect());
            let relay = median(results.iter().map(|r| r.relay).collect());
            let ratio = median(results.iter().map(|r| r.relay / r.raw_publish).collect());
            println!(
                "median of {rounds}: raw PublishBatch {raw:.0} msg/s, relay {relay:.0} events/s, ratio {ratio:.2} (lanes {lanes}, claim {claim}, depth {depth}, {events} events)"
            );
            Ok(())
        }
        Command::Loadgen {
            command:
                LoadgenCommand::AddItems {
                    seconds,
                    concurrency,
                    carts,
                    products,
                    pg_ceiling,
                    rounds,
                },
        } => {
            let load = loadgen::AddItemsLoad {
                command_api: target.command_api,
                carts,
                products,
                concurrency,
                duration: Duration::from_secs(seconds),
                pg_ceiling,
                rounds,
            };
            loadgen::add_items(&AuthConfig::from_env()?, &load).await
        }
        Command::Loadgen {
            command:
                LoadgenCommand::Checkout {
                    orders,
                    concurrency,
                    products,
                    pg_ceiling,
                    rounds,
                },
        } => {
            let load = commerce_cli::checkout_load::CheckoutLoad {
                command_api: target.command_api,
                read_api: target.read_api,
                orders,
                concurrency,
                products,
                pg_ceiling,
                rounds,
            };
            commerce_cli::checkout_load::checkout(
                &AuthConfig::from_env()?,
                &DatabaseConfig::from_env()?,
                &load,
            )
            .await
        }
        Command::Products { command } => {
            storefront::products(&target.session(output)?, command).await
        }
        Command::Cart { command } => storefront::cart(&target.session(output)?, command).await,
        Command::Checkout(args) => storefront::checkout(&target.session(output)?, args).await,
        Command::Orders { command } => storefront::orders(&target.session(output)?, command).await,
        Command::Stock { command } => storefront::stock(&target.session(output)?, command).await,
        Command::Outbox { command } => {
            let database = DatabaseConfig::from_env()?;
            match command {
                OutboxCommand::Parked => commands::outbox_parked(&database, output).await,
                OutboxCommand::Retry { all, position } => {
                    let only = (!all).then_some(position.as_slice());
                    commands::outbox_retry(&database, only).await
                }
            }
        }
        Command::Sagas { command } => {
            let database = DatabaseConfig::from_env()?;
            match command {
                SagasCommand::List {
                    state,
                    overdue,
                    limit,
                } => {
                    commands::sagas_list(&database, state.as_deref(), overdue, limit, output).await
                }
                SagasCommand::Show { order_id } => {
                    commands::sagas_show(&database, order_id, output).await
                }
                SagasCommand::Retry { order_id } => {
                    commands::sagas_retry(&database, order_id).await
                }
                SagasCommand::Abandon { order_id, reason } => {
                    commands::sagas_abandon(&database, order_id, &reason).await
                }
            }
        }
        Command::Token {
            role,
            sub,
            vendor_id,
            ttl,
        } => {
            let token = commands::token(&AuthConfig::from_env()?, role, sub, vendor_id, ttl)?;
            println!("{token}");
            Ok(())
        }
    }
}

async fn up() -> anyhow::Result<()> {
    telemetry::init_logging();
    let config = system::SystemConfig::from_env()?;
    commands::migrate(&config.command_api.database)
        .await
        .context("migrating")?;
    commands::provision(&config.command_api.messaging)
        .await
        .context("provisioning")?;
    let shutdown = Shutdown::new();
    let running = system::start(config, shutdown.clone()).await?;
    println!("command-api  http://{}", running.command_api);
    println!("read-api     http://{}", running.read_api);
    if let Some(sagas) = running.sagas {
        println!("sagas        http://{sagas}/metrics");
    }
    if let Some(simulator) = running.payment_simulator {
        println!("payments     http://{simulator} (simulator: tok_ok, tok_decline, tok_timeout)");
    }
    println!("ready");
    let signal = shutdown.clone();
    tokio::spawn(async move {
        commerce_platform::http::termination_signal().await;
        tracing::info!("termination requested; shutting down");
        signal.cancel();
    });
    running.wait().await
}
