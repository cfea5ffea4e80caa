//! Postgres connection pools and database creation.
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::config::DatabaseConfig;

/// A connection idle this long is checked before it is used: the server (or a proxy on the
/// way) may have dropped it meanwhile.
const CHECK_IDLE_CONNECTIONS_AFTER: Duration = Duration::from_secs(10);

/// A pool for a service. Connecting is lazy-tolerant: the pool is created even if Postgres is
/// briefly down, and `/readyz` reports it.
pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    connect_with(config, &[]).await
}

/// A pool whose statements all find their rows by key (the event store, the outbox): each prepared
/// statement is planned once per connection. Left to itself, Postgres re-plans a statement with
/// array parameters on every execution, since its generic estimate for `UNNEST($1)` (ten rows) never
/// beats a custom plan; under load that planning was a visible share of the server's CPU.
pub async fn connect_with_generic_plans(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    connect_with(config, &[("plan_cache_mode", "force_generic_plan")]).await
}

/// A pool whose statements are planned on every execution, from the tables as they are then.
/// For the few statements that scan a changing subset (the relay's claim of unpublished and
/// parked outbox rows, the saga runner's claim of due sagas): a plan cached on a connection made
/// while the tables were empty scans them whole, with a hash join, for the connection's whole
/// life. Planning costs less than a tenth of a millisecond; those scans cost more every minute.
/// `settings` are further session settings every connection starts with (set at connect, they
/// cost no round trip per transaction).
pub async fn connect_with_custom_plans(
    config: &DatabaseConfig,
    settings: &[(&str, &str)],
) -> anyhow::Result<PgPool> {
    // Without statistics yet (a young table), estimates run high enough to set off JIT
    // compilation, which costs tens of milliseconds per execution of a millisecond query.
    let mut all = vec![("plan_cache_mode", "force_custom_plan"), ("jit", "off")];
    all.extend_from_slice(settings);
    connect_with(config, &all).await
}

/// The read-only role replay and rebuild read the event store as (created by the migrations).
pub const READER_ROLE: &str = "commerce_reader";

/// A pool for readers of the event store (replay, rebuild): every connection runs as
/// [`READER_ROLE`], which may read `es.events` and nothing else, in read-only transactions, so a
/// reader cannot change what it reads whatever its code does.
pub async fn connect_reader(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    connect_with(
        config,
        &[
            ("role", READER_ROLE),
            ("default_transaction_read_only", "on"),
            ("jit", "off"),
        ],
    )
    .await
    .with_context(|| {
        format!(
            "connecting as the read-only role {READER_ROLE} (the migrations create it and grant \
             it to the user that runs them; another user needs `GRANT {READER_ROLE} TO <user>`)"
        )
    })
}

/// `config`'s connection settings, with the TLS provider that `sslmode=verify-ca` and
/// `verify-full` ask rustls for installed first.
fn connect_options(config: &DatabaseConfig) -> anyhow::Result<PgConnectOptions> {
    let options = config
        .url
        .expose()
        .parse()
        .context("COMMERCE_DATABASE_URL is not a valid Postgres URL")?;
    crate::tls::install_crypto_provider();
    Ok(options)
}

/// A pool that connects when first used, for a check that must not wait for Postgres at start
/// (a worker process's `/readyz`: the workers wait out an outage themselves).
pub fn connect_lazy(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy_with(connect_options(config)?))
}

async fn connect_with(
    config: &DatabaseConfig,
    settings: &[(&str, &str)],
) -> anyhow::Result<PgPool> {
    let options = connect_options(config)?;
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // The pool checks a connection on every release already (a round trip it always makes);
        // checking it again on every acquire doubled that, one round trip per statement, for a
        // connection released a moment ago. Only one that sat idle is checked on acquire.
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_IDLE_CONNECTIONS_AFTER {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(
            options
                .options(settings.iter().copied())
                .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(1)),
        )
        .await
        .context("connecting to Postgres")
}

/// Creates the database named in `url` if it does not exist, connecting to `postgres` to do so.
pub async fn create_database_if_missing(url: &str) -> anyhow::Result<()> {
    let options: PgConnectOptions = url.parse().context("invalid Postgres URL")?;
    crate::tls::install_crypto_provider();
    let name = options
        .get_database()
        .context("the database URL names no database")?
        .to_owned();
    let mut admin = sqlx::PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .context("connecting to the postgres maintenance database")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        if let Err(e) = sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut admin)
            .await
        {
            // Another process may have created it in the meantime (42P04 duplicate_database).
            let duplicate = e
                .as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|c| c == "42P04");
            if !duplicate {
                return Err(e).context("creating the database");
            }
        }
    }
    Ok(())
}

/// SQLSTATE `invalid_password`: the server refused the password.
const INVALID_PASSWORD: &str = "28P01";

/// Checks every `every` that a new connection is still accepted with `config`'s credentials, and
/// fails when the server refuses the password. A secret store that rotates the password (RDS's
/// managed master secret does, weekly by default) leaves a running process with connections that
/// still work and new ones that never will; failing lets the orchestrator start it again with the
/// new password, instead of the process degrading as its pool's connections age out. Any other
/// failure (an outage) is the services' own to report and wait out.
pub async fn watch_credentials(
    config: &DatabaseConfig,
    every: Duration,
    shutdown: &crate::Shutdown,
) -> anyhow::Result<()> {
    let options = connect_options(config)?;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
        match sqlx::PgConnection::connect_with(&options).await {
            Ok(connection) => {
                let _ = connection.close().await;
            }
            Err(sqlx::Error::Database(refusal))
                if refusal.code().as_deref() == Some(INVALID_PASSWORD) =>
            {
                anyhow::bail!(
                    "Postgres refused this process's password (SQLSTATE {INVALID_PASSWORD}) for \
                     user {:?}: it has changed (a rotated secret?); stopping, so that the process \
                     is started again with the new one",
                    options.get_username()
                );
            }
            Err(e) => tracing::debug!(error = %e, "the credential check could not connect"),
        }
    }
}
