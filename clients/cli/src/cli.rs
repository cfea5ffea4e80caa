//! The `commerce` command line's arguments: every command, option and its help text. Kept in
//! the library so tests can walk the whole tree (every argument says what it is).
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use commerce_platform::auth::Role;
use uuid::Uuid;

use crate::output::OutputFormat;
use crate::storefront::{
    self, CartCommand, CheckoutArgs, OrdersCommand, ProductsCommand, StockCommand,
};

#[derive(Parser)]
#[command(
    name = "commerce",
    version,
    about = "The commerce engine's command line"
)]
pub struct Cli {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the storefront commands and the load generator send their requests, and how answers
/// are printed.
#[derive(clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct ApiArgs {
    /// Base URL of the command API.
    #[arg(
        long,
        global = true,
        env = "COMMERCE_COMMAND_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub command_api: String,
    /// Base URL of the read API.
    #[arg(
        long,
        global = true,
        env = "COMMERCE_READ_API_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub read_api: String,
    /// Base URL of the auth service (sign-up, sign-in).
    #[arg(
        long,
        global = true,
        env = "COMMERCE_AUTH_API_URL",
        default_value = "http://127.0.0.1:8084"
    )]
    pub auth_api: String,
    /// Bearer token for the storefront commands (e.g. from `commerce token`); without one, the
    /// sign-in kept by `commerce login` is used.
    #[arg(long, global = true, env = "COMMERCE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Sent with a command as `Idempotency-Key`: running the command again with the same key
    /// answers the first result and changes nothing (1 to 255 visible ASCII characters).
    #[arg(long, global = true, value_parser = parse_idempotency_key)]
    pub idempotency_key: Option<String>,
    /// Print JSON (the same as `--output json`).
    #[arg(long, global = true)]
    pub json: bool,
    /// A summary for a person, or JSON for a script; `auto` prints the summary on a terminal and
    /// JSON when stdout is a pipe or a file.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "COMMERCE_OUTPUT",
        default_value_t = OutputFormat::Auto
    )]
    pub output: OutputFormat,
}

/// The rule the command API applies to `Idempotency-Key`, checked before anything is sent.
pub fn parse_idempotency_key(text: &str) -> Result<String, String> {
    let visible = text.chars().all(|c| c.is_ascii_graphic());
    if (1..=255).contains(&text.len()) && visible {
        Ok(text.to_owned())
    } else {
        Err("an idempotency key is 1 to 255 visible ASCII characters (no spaces)".into())
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Run every service in this process until Ctrl-C or SIGTERM (migrates and provisions first).
    Up,
    /// Run the named components until SIGTERM, as a deployment does (one per container). Unlike
    /// `up`, neither migrates nor provisions: run `commerce migrate` first, and the topic and
    /// queues must exist.
    Serve {
        /// The components to run in this process.
        #[arg(required = true, value_enum)]
        components: Vec<crate::system::Component>,
    },
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
    /// Read, cancel and ship orders; ask for returns and accept or reject them.
    Orders {
        #[command(subcommand)]
        command: OrdersCommand,
    },
    /// Receive stock (vendors).
    Stock {
        #[command(subcommand)]
        command: StockCommand,
    },
    /// Create an account and sign in (the token pair is kept for the other commands).
    Signup(crate::accounts::SignUpArgs),
    /// Sign in; the token pair is kept for the other commands (COMMERCE_CREDENTIALS, or
    /// ~/.config/commerce/credentials.json).
    Login(crate::accounts::SignInArgs),
    /// Sign out: the kept sign-in is revoked and forgotten.
    Logout,
    /// Accounts: the first admin, roles (admins).
    Users {
        #[command(subcommand)]
        command: crate::accounts::UsersCommand,
    },
    /// The auth service's signing keys.
    Auth {
        #[command(subcommand)]
        command: crate::accounts::AuthCommand,
    },
    /// Print a service's OpenAPI document (the one it serves at /openapi.json), for client
    /// generators.
    Openapi {
        /// Which service.
        #[arg(value_enum)]
        service: crate::commands::Service,
    },
    /// The audit log of sensitive operations, newest first (admins).
    Audit(crate::accounts::AuditArgs),
    /// A vendor's webhook: where its order notifications are posted, and their deliveries.
    Webhooks {
        #[command(subcommand)]
        command: crate::webhooks::WebhooksCommand,
    },
    /// Vendors: a seller applies to sell; admins approve, suspend and reinstate them, with a
    /// reason each time.
    Vendors {
        #[command(subcommand)]
        command: crate::vendors::VendorsCommand,
    },
    /// Payouts: pay vendors their available balances (admins).
    Payouts {
        #[command(subcommand)]
        command: crate::payouts::PayoutsCommand,
    },
    /// Commission rules: what the marketplace takes of each order line, by default, per vendor
    /// and per category (admins).
    Commissions {
        #[command(subcommand)]
        command: crate::commissions::CommissionsCommand,
    },
    /// The vendors' ledger: a vendor's balance, statement and payouts; the commission income;
    /// proving that the books balance.
    Ledger {
        #[command(subcommand)]
        command: crate::ledger::LedgerCommand,
    },
    /// The outbox: events SNS keeps refusing are parked there (with the later events of their
    /// aggregate); list them and put them back.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// The global event stream, for analysts: replay it as JSON lines.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// The pipeline at a glance: outbox backlog and parked rows, the relay's leader, each
    /// queue's depth, dead letters and lag, sagas by state, the read models' generations. Reads
    /// COMMERCE_DATABASE_URL, the SNS/SQS and Redis settings as the services do.
    Status {
        /// Where a projector's Prometheus metrics are served, for the lag column (`commerce up`
        /// serves them on the command API's port).
        #[arg(
            long,
            env = "COMMERCE_METRICS_URL",
            default_value = "http://127.0.0.1:8080/metrics"
        )]
        metrics_url: String,
    },
    /// Read models: their generations, and rebuilding one from the event store while it serves.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Personal data: erase a customer's at their request (GDPR article 17).
    Gdpr {
        #[command(subcommand)]
        command: GdprCommand,
    },
    /// Dead-letter queues: messages a consumer kept failing on; see them and send them back.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
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
pub enum BenchCommand {
    /// Outbox relay events/s (committed rows to SNS acknowledgement) vs raw PublishBatch msg/s.
    Relay {
        /// Events per round.
        #[arg(long, default_value_t = 20_000)]
        events: i64,
        /// Rounds of relay-then-ceiling; the summary gives medians.
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
    /// `commerce events replay` into a file vs PostgreSQL's `COPY … TO STDOUT` of the same rows,
    /// over a new database (from COMMERCE_DATABASE_URL's server) seeded with order events.
    Replay {
        /// Events to seed.
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(i64).range(1..))]
        events: i64,
        /// Rounds of replay-then-ceiling; the summary gives medians.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
        rounds: u64,
    },
    /// A rebuild over a new database (on COMMERCE_DATABASE_URL's server) seeded with events:
    /// `catalog` into Redis (a key prefix of its own, COMMERCE_REDIS_URL) vs redis-ceiling's
    /// pipelined SET rate, or `orders` into Postgres vs Postgres writing the same documents in
    /// one INSERT … SELECT.
    Rebuild {
        /// The model: catalog (Redis) or orders (Postgres).
        #[arg(long, default_value = "catalog", value_parser = ["catalog", "orders"])]
        model: String,
        /// Events to seed (four per product, three per order).
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(i64).range(4..))]
        events: i64,
        /// Rounds of rebuild-then-ceiling; the summary gives medians.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
        rounds: u64,
        /// The ceiling script [default: ../shared/bench/redis-ceiling from the repository root].
        #[arg(long)]
        redis_ceiling: Option<PathBuf>,
    },
    /// A vendor's suspension and reinstatement in the catalog (each one Lua script walking all
    /// the vendor's products, blocking Redis meanwhile), for vendors of N published products,
    /// each N in a key prefix of its own (COMMERCE_REDIS_URL), vs redis-ceiling's pipelined SET
    /// rate after each round.
    Suspension {
        /// Products of the vendor: a comma list, or the flag repeated; one table each.
        #[arg(long, value_delimiter = ',', default_values_t = [1_000u32, 10_000, 50_000], value_parser = clap::value_parser!(u32).range(1..))]
        products: Vec<u32>,
        /// Rounds of suspend-reinstate-ceiling per N; the tables give medians.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        rounds: u32,
        /// The ceiling script [default: ../shared/bench/redis-ceiling from the repository root].
        #[arg(long)]
        redis_ceiling: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum LoadgenCommand {
    /// `POST /v1/carts/{id}/items` on many carts (each with its own customer), then the
    /// PostgreSQL ceiling with as many clients; needs the command API running and
    /// COMMERCE_JWT_SECRET as the server's.
    AddItems {
        /// How long each round sends commands.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Requests in flight, and the ceiling's clients.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Carts the commands are spread over, each with its own customer.
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
        /// Load-then-ceiling rounds (new orders each round); the summary gives medians.
        #[arg(long, default_value_t = 1)]
        rounds: usize,
    },
    /// Carts created at a steady rate against the running stack, each timed from accepted to
    /// counted by the analytics model; then the analytics projector's throughput over stored
    /// events (in a database of its own) and the PostgreSQL ceiling. Needs COMMERCE_DATABASE_URL
    /// and COMMERCE_JWT_SECRET as the services'.
    Analytics {
        /// Commands per second.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        rate: u32,
        /// How long each round sends them.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
        seconds: u64,
        /// Stored events the throughput part applies.
        #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(i64).range(1..=10_000_000))]
        events: i64,
        /// The ceiling script [default: ../shared/bench/pg-ceiling from the repository root].
        #[arg(long)]
        pg_ceiling: Option<PathBuf>,
        /// Rounds; the summary gives medians.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
        rounds: u64,
    },
    /// The web client's catalog and product pages at a steady rate (p50, p99) and flat out, next
    /// to the read API's own product read, in the same run.
    Pages {
        /// Base URL of the web client.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        web: String,
        /// A published product whose page to ask for.
        #[arg(long)]
        product: Uuid,
        /// Requests per second of the steady part.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        rate: u32,
        /// How long each steady part runs (the flat-out part half as long).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
        seconds: u64,
    },
    /// Sign-ins per second and their latency against the running auth service, next to one
    /// Argon2id hash (COMMERCE_ARGON2_* as the service's); then the command API's requests per
    /// second with a token to verify, without one, and on /healthz.
    Auth {
        /// Concurrent sign-ins and requests.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
        concurrency: u64,
        /// How long each part runs.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
        seconds: u64,
    },
}

#[derive(Subcommand)]
pub enum OutboxCommand {
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
pub enum EventsCommand {
    /// Every event in stream order as JSON lines (the envelopes SNS carries) on stdout, with a
    /// progress bar on stderr; reads the database (COMMERCE_DATABASE_URL) as the read-only role.
    /// A transaction that commits late is never skipped: its events come after those already
    /// written.
    Replay {
        /// Start after this global position (the last `global_position` written by an earlier
        /// replay); 0 starts at the beginning.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..))]
        after: i64,
        /// Only events of this aggregate type: Product, Inventory, Cart, Order or Payment.
        #[arg(long)]
        aggregate_type: Option<String>,
        /// Only events of this type, such as OrderPlaced (repeatable: any of them).
        #[arg(long)]
        event_type: Vec<String>,
        /// Only events that occurred at or after this date (2026-11-01) or RFC 3339 time.
        #[arg(long, value_parser = |text: &str| crate::replay::parse_instant(text, false))]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Only events that occurred up to the end of this date, or before this RFC 3339 time.
        #[arg(long, value_parser = |text: &str| crate::replay::parse_instant(text, true))]
        to: Option<chrono::DateTime<chrono::Utc>>,
        /// Keep streaming new events once caught up, until Ctrl-C.
        #[arg(long)]
        follow: bool,
    },
}

#[derive(Subcommand)]
pub enum ProjectionsCommand {
    /// Each read model's live generation and the rebuild under way, if any.
    List,
    /// Build a new generation of a model from es.events while the live one serves, catch up with
    /// live events, swap it in, drop the old one. Killed, it resumes where it stopped when run
    /// again. Needs COMMERCE_DATABASE_URL (read as commerce_reader), COMMERCE_REDIS_URL and
    /// COMMERCE_REDIS_PREFIX as the services'.
    Rebuild {
        /// The model: catalog or cart (Redis); orders, analytics, notifications or ledger (Postgres).
        #[arg(value_parser = ["catalog", "cart", "orders", "analytics", "notifications", "ledger"])]
        model: String,
        /// Events per page of the scan (one Redis MULTI or one Postgres transaction each), 1 to
        /// 100,000.
        #[arg(long, default_value_t = crate::projections::DEFAULT_PAGE, value_parser = clap::value_parser!(i64).range(1..=100_000))]
        page: i64,
    },
}

#[derive(Subcommand)]
pub enum GdprCommand {
    /// Erase a customer's personal data (the names and addresses they shipped to): their key is
    /// deleted, so every copy of their events (the store, the outbox, queued and dead-lettered
    /// messages, backups of es) shows it as erased in replays and rebuilds, and the read models'
    /// copies are erased now. Every other field of their events, and every other customer, is
    /// untouched. Repeating it is harmless. Needs COMMERCE_DATABASE_URL.
    Forget {
        /// The customer's id (their token's subject).
        customer_id: uuid::Uuid,
    },
    /// Seal the personal data that versions before sealing-on-write stored in clear, so that
    /// forgetting a customer erases it too (once, after upgrading; running it again seals
    /// nothing more). Needs COMMERCE_DATABASE_URL.
    SealStored {
        /// Events per batch (each its own transaction), 1 to 100,000.
        #[arg(long, default_value_t = commerce_platform::personal_data::SEAL_BATCH, value_parser = clap::value_parser!(i64).range(1..=100_000))]
        batch: i64,
    },
}

#[derive(Subcommand)]
pub enum DlqCommand {
    /// Every consumer queue with the messages waiting in it and in its DLQ.
    List,
    /// Messages in one queue's DLQ (left there): message id, aggregate, receives, the envelope.
    Show {
        /// The queue: catalog, cart, orders or order-saga.
        queue: String,
        /// At most this many, 1 to 100 (a FIFO DLQ shows the oldest of each aggregate).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
    },
    /// Send a DLQ's messages back to their queue (fix the cause first); the consumer applies
    /// each event once, whatever copies arrive.
    Redrive {
        /// The queue: catalog, cart, orders or order-saga.
        queue: String,
        /// Only this many (all by default).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
}

#[derive(Subcommand)]
pub enum SagasCommand {
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
pub enum InfraCommand {
    /// Create the SNS topic, SQS queues, DLQs and subscriptions (idempotent).
    Provision,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every argument of every command, with the path of commands that leads to it.
    fn arguments(command: &clap::Command, path: &str, found: &mut Vec<(String, clap::Arg)>) {
        for argument in command.get_arguments() {
            found.push((path.to_owned(), argument.clone()));
        }
        for sub in command.get_subcommands() {
            arguments(sub, &format!("{path} {}", sub.get_name()), found);
        }
    }

    #[test]
    fn every_command_and_argument_says_what_it_is() {
        let root = Cli::command();
        root.clone().debug_assert();
        let mut found = Vec::new();
        arguments(&root, "commerce", &mut found);
        let silent: Vec<String> = found
            .iter()
            .filter(|(_, argument)| !matches!(argument.get_id().as_str(), "help" | "version"))
            .filter(|(_, argument)| argument.get_help().is_none())
            .map(|(path, argument)| format!("{path} {}", argument.get_id()))
            .collect();
        assert!(silent.is_empty(), "arguments without help: {silent:?}");
        fn commands(command: &clap::Command, missing: &mut Vec<String>) {
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(sub.get_name().to_owned());
                }
                commands(sub, missing);
            }
        }
        let mut missing = Vec::new();
        commands(&root, &mut missing);
        assert!(missing.is_empty(), "commands without help: {missing:?}");
    }
}
