use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use futures::TryStreamExt;
use serde_json::Value;
use sqlx::{PgPool, Postgres, Row};
use uuid::Uuid;

/// `PersistedEventRepository` on the `es` schema. Unlike postgres-es as shipped, it gives every
/// event an id and a global position, appends all of a command's events and their outbox rows in one
/// statement, and binds sequences as `bigint`.
#[derive(Clone, Debug)]
pub struct PgEventRepository {
    pool: PgPool,
}

const SELECT_EVENTS: &str = "SELECT aggregate_type, aggregate_id, sequence, event_type, \
     event_version, payload, metadata FROM es.events \
     WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence";

/// Appends the events and, in the same statement, their outbox rows.
const APPEND_EVENTS: &str = "WITH appended AS ( \
     INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, event_id) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
         $6::jsonb[], $7::jsonb[], $8::uuid[]) \
     RETURNING global_position) \
     INSERT INTO es.outbox (global_position) SELECT global_position FROM appended";

/// Writes snapshot `n` only over an older one, so a slow writer never moves a snapshot backwards.
const UPSERT_SNAPSHOT: &str = "INSERT INTO es.snapshots (aggregate_type, aggregate_id, \
     last_sequence, current_snapshot, payload) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET last_sequence = EXCLUDED.last_sequence, \
     current_snapshot = EXCLUDED.current_snapshot, payload = EXCLUDED.payload, taken_at = now() \
     WHERE es.snapshots.current_snapshot < EXCLUDED.current_snapshot";

impl PgEventRepository {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Appends decisions about several aggregates in one statement: all or none. A conflict on
    /// any of them is an optimistic-lock error, to be retried from fresh loads.
    pub async fn append_decided(
        &self,
        decisions: &[&[SerializedEvent]],
    ) -> Result<(), PersistenceError> {
        let events: Vec<SerializedEvent> =
            decisions.iter().flat_map(|d| d.iter().cloned()).collect();
        if events.is_empty() {
            return Ok(());
        }
        append(&self.pool, &events).await
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn select_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        after_sequence: i64,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let rows = sqlx::query(SELECT_EVENTS)
            .bind(A::TYPE)
            .bind(aggregate_id)
            .bind(after_sequence)
            .fetch_all(&self.pool)
            .await
            .map_err(persistence_error)?;
        rows.iter().map(serialized_event).collect()
    }
}

fn serialized_event(row: &sqlx::postgres::PgRow) -> Result<SerializedEvent, PersistenceError> {
    let sequence: i64 = row.try_get("sequence").map_err(persistence_error)?;
    Ok(SerializedEvent {
        aggregate_type: row.try_get("aggregate_type").map_err(persistence_error)?,
        aggregate_id: row.try_get("aggregate_id").map_err(persistence_error)?,
        sequence: usize::try_from(sequence)
            .map_err(|e| PersistenceError::UnknownError(e.into()))?,
        event_type: row.try_get("event_type").map_err(persistence_error)?,
        event_version: row.try_get("event_version").map_err(persistence_error)?,
        payload: row.try_get("payload").map_err(persistence_error)?,
        metadata: row.try_get("metadata").map_err(persistence_error)?,
    })
}

/// Maps database errors to cqrs-es's categories in one place: a unique violation on the event key is
/// an optimistic-concurrency conflict; losing the connection is a connection error.
fn persistence_error(error: sqlx::Error) -> PersistenceError {
    match &error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
            PersistenceError::OptimisticLockError
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => PersistenceError::ConnectionError(Box::new(error)),
        _ => PersistenceError::UnknownError(Box::new(error)),
    }
}

fn to_i64(value: usize) -> Result<i64, PersistenceError> {
    i64::try_from(value).map_err(|e| PersistenceError::UnknownError(e.into()))
}

async fn append<'e, E>(executor: E, events: &[SerializedEvent]) -> Result<(), PersistenceError>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    let mut types = Vec::with_capacity(events.len());
    let mut ids = Vec::with_capacity(events.len());
    let mut sequences = Vec::with_capacity(events.len());
    let mut event_types = Vec::with_capacity(events.len());
    let mut versions = Vec::with_capacity(events.len());
    let mut payloads = Vec::with_capacity(events.len());
    let mut metadata = Vec::with_capacity(events.len());
    let mut event_ids = Vec::with_capacity(events.len());
    for event in events {
        types.push(event.aggregate_type.as_str());
        ids.push(event.aggregate_id.as_str());
        sequences.push(to_i64(event.sequence)?);
        event_types.push(event.event_type.as_str());
        versions.push(event.event_version.as_str());
        payloads.push(&event.payload);
        metadata.push(&event.metadata);
        event_ids.push(Uuid::now_v7());
    }
    sqlx::query(APPEND_EVENTS)
        .bind(&types)
        .bind(&ids)
        .bind(&sequences)
        .bind(&event_types)
        .bind(&versions)
        .bind(&payloads)
        .bind(&metadata)
        .bind(&event_ids)
        .execute(executor)
        .await
        .map_err(persistence_error)?;
    Ok(())
}

impl PersistedEventRepository for PgEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select_events::<A>(aggregate_id, 0).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select_events::<A>(aggregate_id, to_i64(last_sequence)?)
            .await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        let row = sqlx::query(
            "SELECT last_sequence, current_snapshot, payload FROM es.snapshots \
             WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(persistence_error)?;
        let Some(row) = row else { return Ok(None) };
        let last_sequence: i64 = row.try_get("last_sequence").map_err(persistence_error)?;
        let current_snapshot: i64 = row.try_get("current_snapshot").map_err(persistence_error)?;
        Ok(Some(SerializedSnapshot {
            aggregate_id: aggregate_id.to_owned(),
            aggregate: row.try_get("payload").map_err(persistence_error)?,
            current_sequence: usize::try_from(last_sequence)
                .map_err(|e| PersistenceError::UnknownError(e.into()))?,
            current_snapshot: usize::try_from(current_snapshot)
                .map_err(|e| PersistenceError::UnknownError(e.into()))?,
        }))
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if events.is_empty() {
            return Ok(());
        }
        match snapshot_update {
            // One statement is one transaction: a single round trip for the common case.
            None => append(&self.pool, events).await,
            Some((aggregate_id, payload, current_snapshot)) => {
                let last_sequence = events.last().map(|e| e.sequence).unwrap_or_default();
                let mut tx = self.pool.begin().await.map_err(persistence_error)?;
                append(&mut *tx, events).await?;
                sqlx::query(UPSERT_SNAPSHOT)
                    .bind(A::TYPE)
                    .bind(&aggregate_id)
                    .bind(to_i64(last_sequence)?)
                    .bind(to_i64(current_snapshot)?)
                    .bind(&payload)
                    .execute(&mut *tx)
                    .await
                    .map_err(persistence_error)?;
                tx.commit().await.map_err(persistence_error)
            }
        }
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.get_events::<A>(aggregate_id).await?;
        let (mut feed, stream) = ReplayStream::new(events.len().max(1));
        for event in events {
            feed.push(Ok(event)).await?;
        }
        Ok(stream)
    }

    /// Every event of `A`, in global order, below the safe horizon so a transaction that commits
    /// late with a lower position is never skipped by a reader that resumes after it.
    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let pool = self.pool.clone();
        let (mut feed, stream) = ReplayStream::new(1000);
        tokio::spawn(async move {
            let query = sqlx::query(
                "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, \
                 metadata FROM es.events WHERE aggregate_type = $1 \
                 AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
                 ORDER BY global_position",
            )
            .bind(A::TYPE);
            let mut rows = query.fetch(&pool);
            loop {
                let next = match rows.try_next().await {
                    Ok(Some(row)) => serialized_event(&row),
                    Ok(None) => break,
                    Err(e) => Err(persistence_error(e)),
                };
                let failed = next.is_err();
                if feed.push(next).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(stream)
    }
}
