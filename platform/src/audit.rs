//! The audit log of sensitive operations (`audit.entries`): sign-ins and their failures,
//! refresh-token reuse, role grants, price changes, and whatever later operations call for.
//! Each service records its own operations, in the operation's transaction where it has one.
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Creates the `audit` schema (shared bookkeeping with the other crates' migrations).
pub async fn migrate(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    Ok(())
}

/// One audited operation, as recorded.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    /// Who acted: a user id, or what identified an unknown one (the email of a failed sign-in).
    pub actor: Option<String>,
    pub action: &'static str,
    /// What it was done to.
    pub target: Option<String>,
    /// Where the request came from.
    pub client_address: Option<String>,
    pub correlation_id: Option<Uuid>,
    pub detail: serde_json::Value,
}

impl AuditEntry {
    pub fn new(action: &'static str) -> Self {
        Self {
            action,
            detail: serde_json::json!({}),
            ..Self::default()
        }
    }

    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn from_address(mut self, address: Option<String>) -> Self {
        self.client_address = address;
        self
    }

    pub fn correlation(mut self, correlation_id: Uuid) -> Self {
        self.correlation_id = Some(correlation_id);
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }

    /// Appends the entry.
    pub async fn record<'e, E>(&self, executor: E) -> sqlx::Result<()>
    where
        E: sqlx::PgExecutor<'e>,
    {
        sqlx::query(
            "INSERT INTO audit.entries \
               (entry_id, actor, action, target, client_address, correlation_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::now_v7())
        .bind(&self.actor)
        .bind(self.action)
        .bind(&self.target)
        .bind(&self.client_address)
        .bind(self.correlation_id)
        .bind(&self.detail)
        .execute(executor)
        .await?;
        Ok(())
    }
}

/// An entry as the audit list shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RecordedEntry {
    pub entry_id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    /// Where the request came from.
    #[serde(rename = "ip")]
    pub client_address: Option<String>,
    pub correlation_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// Which entries to list: all of them when every field is `None`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Entries older than this one (a page's cursor).
    pub before: Option<Uuid>,
    pub limit: i64,
}

/// The entries `filter` selects, newest first.
pub async fn list(pool: &sqlx::PgPool, filter: &AuditFilter) -> sqlx::Result<Vec<RecordedEntry>> {
    sqlx::query_as(
        "SELECT entry_id, at, actor, action, target, client_address, correlation_id, detail \
         FROM audit.entries \
         WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2) \
           AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4) \
           AND ($5::uuid IS NULL OR entry_id < $5) \
         ORDER BY entry_id DESC LIMIT $6",
    )
    .bind(&filter.actor)
    .bind(&filter.action)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.before)
    .bind(filter.limit)
    .fetch_all(pool)
    .await
}
