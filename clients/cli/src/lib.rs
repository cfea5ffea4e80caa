//! The `commerce` command line and the all-in-one process it runs for local use.
//!
//! # Layout
//! - `system`: starts every service (command API with its relay, projectors, read API, the order
//!   saga and the payment simulator) in one
//!   process, as `commerce up` does and as the end-to-end tests do.
//! - `bench_stream`: `commerce bench replay`, event replay into a file against PostgreSQL's COPY.
//! - `bench_vendors`: `commerce bench suspension`, how long a vendor's suspension (one Lua script
//!   over all its products) blocks Redis, against the pipelined SET ceiling.
//! - `cli`: the arguments of every command, with their help.
//! - `commands`: one function per CLI subcommand (migrate, provision, token).
//! - `bench`: `commerce bench relay`, the outbox relay's throughput against its ceiling.
//! - `storefront`: `commerce products|cart|checkout|orders|stock`, the public API through
//!   `commerce-client`.
//! - `accounts`: `commerce signup|login|logout|users|auth|audit`; `credentials`: the kept
//!   token pair.
//! - `webhooks`: `commerce webhooks set|remove|deliveries`, a vendor's webhook.
//! - `vendors`: `commerce vendors apply|approve|suspend|reinstate|show|list`, a seller's
//!   admission and the admins' decisions on it.
//! - `payouts`: `commerce payouts run`, paying vendors their available balances (admins).
//! - `commissions`: `commerce commissions show|set`, the marketplace's commission rules (admins).
//! - `ledger`: `commerce ledger balance|statement|payouts|income` through `commerce-client`, and
//!   `commerce ledger check`, proving the books from the database.
//! - `output`: a summary for a person or JSON for a script (`--json`, `--output`), aligned tables.
//! - `projections`: `commerce projections list|rebuild`.
//! - `status`: `commerce status`, the pipeline at a glance.
//! - `gdpr`: `commerce gdpr forget`, erasing a customer's personal data.
//! - `render`: the summaries of the storefront answers.
//! - `replay`: `commerce events replay`, the global event stream as JSON lines.
//! - `loadgen`: `commerce loadgen add-items`, AddItem over HTTP against the PostgreSQL ceiling.
//! - `checkout_load`: `commerce loadgen checkout`, orders from checkout to confirmed by the saga.
//! - `pages_load`: `commerce loadgen pages`, the web client's pages against the read API.
//! - `auth_load`: `commerce loadgen auth`, sign-ins per second and the cost of verifying tokens.
//! - `analytics_load`: `commerce loadgen analytics`, the analytics model's freshness at a steady
//!   rate and its projector's throughput.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod analytics_load;
pub mod auth_load;
pub mod bench;
pub mod bench_stream;
pub mod bench_vendors;
pub mod checkout_load;
pub mod cli;
pub mod commands;
pub mod commissions;
pub mod credentials;
pub mod gdpr;
pub mod ledger;
pub mod loadgen;
pub mod output;
pub mod pages_load;
pub mod payouts;
pub mod projections;
pub mod render;
pub mod replay;
pub mod status;
pub mod storefront;
pub mod system;
pub mod vendors;
pub mod webhooks;
