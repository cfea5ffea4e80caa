//! The Postgres event store (postgres-es's layout, our own queries) and the command executor that
//! answers with the new version.
mod executor;
mod repository;

pub use executor::{CommandExecutor, Committed, Decided, ExecuteError, Loaded};
pub use repository::{
    audited, current_request_transaction, within_request_transaction, PgEventRepository,
    ReadVersion, RequestTransaction, StoredStream,
};

/// Applies the `es` schema migrations. Other crates' migrations share the bookkeeping table, so
/// versions unknown to this set are ignored rather than treated as corruption.
pub async fn migrate(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator
        .run(pool)
        .await
        .map_err(|e| anyhow::anyhow!("migrating schema es: {e}"))
}
