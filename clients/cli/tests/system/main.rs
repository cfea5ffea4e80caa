//! End-to-end tests of the spine: HTTP command -> event store + outbox -> relay -> SNS -> SQS ->
//! catalog projector -> Redis -> read API, against real services.
mod bad_input;
mod catalog_flow;
mod cli_arguments;
mod cli_output;
mod concurrency;
mod dead_letters;
mod delivery;
mod document_bounds;
mod error_rule;
mod event_stream;
mod idempotency;
mod operations;
mod order_saga;
mod outages;
mod outbox_retention;
mod product_changes;
mod projection_rebuild;
mod proxy;
mod publishing_limits;
mod read_access;
mod readme_walkthrough;
mod relay_fencing;
mod store_layout;
mod storefront;
mod support;
mod typed_client;
