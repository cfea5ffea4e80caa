use std::sync::Arc;

use cqrs_es::persist::{PersistenceError, SerializedEvent};
use serde_json::value::RawValue;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Row};
use tokio::sync::Mutex;
use uuid::Uuid;

/// The event store on the `es` schema, in postgres-es's layout. Unlike postgres-es as shipped, it
/// gives every event an id and a global position, appends a command's events, their outbox rows and
/// any snapshot in one statement, and loads several aggregates (snapshot plus later events) in one
/// query: a command costs two round trips.
#[derive(Clone, Debug)]
pub struct PgEventRepository {
    pool: PgPool,
}

const SELECT_EVENTS: &str = "SELECT sequence, event_type, event_version, payload FROM es.events \
     WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence";

/// Appends the events and, in the same statement, their outbox rows.
const APPEND_EVENTS: &str = "WITH appended AS ( \
     INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, event_id) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
         $6::jsonb[], $7::jsonb[], $8::uuid[]) \
     RETURNING global_position) \
     INSERT INTO es.outbox (global_position) SELECT global_position FROM appended";

/// [`APPEND_EVENTS`] plus a snapshot, still one statement: a failed append writes no snapshot. The
/// snapshot only replaces an older one, so a slow writer never moves a snapshot backwards.
const APPEND_EVENTS_AND_SNAPSHOT: &str = "WITH appended AS ( \
     INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, event_id) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
         $6::jsonb[], $7::jsonb[], $8::uuid[]) \
     RETURNING global_position), \
     outboxed AS (INSERT INTO es.outbox (global_position) SELECT global_position FROM appended) \
     INSERT INTO es.snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload) \
     VALUES ($9, $10, $11, $12, $13) \
     ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET last_sequence = EXCLUDED.last_sequence, \
     current_snapshot = EXCLUDED.current_snapshot, payload = EXCLUDED.payload, taken_at = now() \
     WHERE es.snapshots.last_sequence < EXCLUDED.last_sequence";

/// Each requested stream's snapshot (if any) and the events after it, in one round trip: a
/// command that needs a cart and a product reads both at once.
const LOAD_STREAMS: &str = "SELECT w.ord, x.is_snapshot, x.sequence, x.event_type, \
     x.event_version, x.payload \
     FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS w(aggregate_type, aggregate_id, ord) \
     CROSS JOIN LATERAL ( \
       (SELECT true AS is_snapshot, s.last_sequence AS sequence, NULL::text AS event_type, \
               NULL::text AS event_version, s.payload \
        FROM es.snapshots s \
        WHERE s.aggregate_type = w.aggregate_type AND s.aggregate_id = w.aggregate_id) \
       UNION ALL \
       (SELECT false, e.sequence, e.event_type, e.event_version, e.payload \
        FROM es.events e \
        WHERE e.aggregate_type = w.aggregate_type AND e.aggregate_id = w.aggregate_id \
          AND e.sequence > COALESCE((SELECT s.last_sequence FROM es.snapshots s \
              WHERE s.aggregate_type = w.aggregate_type AND s.aggregate_id = w.aggregate_id), 0)) \
     ) x \
     ORDER BY w.ord, x.is_snapshot DESC, x.sequence";

/// A request's open transaction, shared between the middleware that owns it and the handler.
pub type RequestTransaction = Arc<Mutex<Option<sqlx::Transaction<'static, Postgres>>>>;

tokio::task_local! {
    static REQUEST_TRANSACTION: RequestTransaction;
}

/// Runs `work` (a request's handler) so that every event it appends goes into `transaction`, which
/// the caller commits or rolls back afterwards. The `Idempotency-Key` middleware uses it so that a
/// command's events and its stored answer commit together: a crash between the two cannot leave
/// events whose key a retry would not find.
pub async fn within_request_transaction<F: std::future::Future>(
    transaction: RequestTransaction,
    work: F,
) -> F::Output {
    REQUEST_TRANSACTION.scope(transaction, work).await
}

/// One aggregate's history as a load needs it: its latest snapshot, if any, and the events after it.
#[derive(Debug, Default)]
pub struct StoredStream {
    pub snapshot: Option<StoredSnapshot>,
    pub events: Vec<StoredEvent>,
}

/// An aggregate's serialized state as of `version`. Payloads stay JSON text until the executor
/// reads them straight into the aggregate's types, without a `serde_json::Value` in between.
#[derive(Debug)]
pub struct StoredSnapshot {
    pub version: i64,
    pub payload: Box<RawValue>,
}

/// An event as a load reads it (metadata is for readers of the stream, not for decisions).
#[derive(Debug)]
pub struct StoredEvent {
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Box<RawValue>,
}

/// A snapshot to write together with the events that bring the aggregate to `version`.
#[derive(Debug)]
pub struct SnapshotUpdate {
    pub version: i64,
    /// Which snapshot this is (`version / every`), kept for the postgres-es column.
    pub ordinal: i64,
    pub payload: Box<RawValue>,
}

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
        self.append(&events).await
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Loads the streams `(aggregate_type, aggregate_id)` in one query, in the order asked.
    pub async fn load_streams(
        &self,
        streams: &[(&str, &str)],
    ) -> Result<Vec<StoredStream>, PersistenceError> {
        let types: Vec<&str> = streams.iter().map(|(t, _)| *t).collect();
        let ids: Vec<&str> = streams.iter().map(|(_, id)| *id).collect();
        let rows = sqlx::query(LOAD_STREAMS)
            .bind(&types)
            .bind(&ids)
            .fetch_all(&self.pool)
            .await
            .map_err(persistence_error)?;
        let mut loaded: Vec<StoredStream> =
            streams.iter().map(|_| StoredStream::default()).collect();
        for row in &rows {
            let ord: i64 = row.try_get("ord").map_err(persistence_error)?;
            // WITH ORDINALITY numbers the requested streams from 1.
            let index = usize::try_from(ord - 1)
                .ok()
                .filter(|i| *i < streams.len())
                .ok_or_else(|| {
                    PersistenceError::UnknownError(format!("stream {ord} was not asked for").into())
                })?;
            let stream = &mut loaded[index];
            if row
                .try_get::<bool, _>("is_snapshot")
                .map_err(persistence_error)?
            {
                let Json(payload) = row.try_get("payload").map_err(persistence_error)?;
                stream.snapshot = Some(StoredSnapshot {
                    version: row.try_get("sequence").map_err(persistence_error)?,
                    payload,
                });
            } else {
                stream.events.push(stored_event(row)?);
            }
        }
        Ok(loaded)
    }

    /// Every event of one stream after `after_sequence`: the slow path when a snapshot is unusable.
    pub async fn events_after(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after_sequence: i64,
    ) -> Result<Vec<StoredEvent>, PersistenceError> {
        let rows = sqlx::query(SELECT_EVENTS)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .bind(after_sequence)
            .fetch_all(&self.pool)
            .await
            .map_err(persistence_error)?;
        rows.iter().map(stored_event).collect()
    }

    /// Appends one command's events with their outbox rows and, if given, the aggregate's snapshot
    /// after them: one statement, so one round trip and all or nothing.
    pub async fn append_with_snapshot(
        &self,
        events: &[SerializedEvent],
        snapshot: Option<SnapshotUpdate>,
    ) -> Result<(), PersistenceError> {
        let (Some(first), Some(snapshot)) = (events.first(), snapshot) else {
            return self.append(events).await;
        };
        let query = bind_events(sqlx::query(APPEND_EVENTS_AND_SNAPSHOT), events)?
            .bind(&first.aggregate_type)
            .bind(&first.aggregate_id)
            .bind(snapshot.version)
            .bind(snapshot.ordinal)
            .bind(Json(&snapshot.payload));
        self.execute_append(query).await
    }

    async fn append(&self, events: &[SerializedEvent]) -> Result<(), PersistenceError> {
        if events.is_empty() {
            return Ok(());
        }
        self.execute_append(bind_events(sqlx::query(APPEND_EVENTS), events)?)
            .await
    }

    /// Runs an append on its own, or, inside [`within_request_transaction`], in that transaction
    /// behind a savepoint: a conflict then undoes only this attempt, and the caller may retry.
    async fn execute_append(&self, query: PgQuery<'_>) -> Result<(), PersistenceError> {
        let Ok(shared) = REQUEST_TRANSACTION.try_with(Arc::clone) else {
            query.execute(&self.pool).await.map_err(persistence_error)?;
            return Ok(());
        };
        let mut guard = shared.lock().await;
        let tx = guard.as_mut().ok_or_else(|| {
            PersistenceError::UnknownError("the request's transaction has already ended".into())
        })?;
        sqlx::query("SAVEPOINT append")
            .execute(&mut **tx)
            .await
            .map_err(persistence_error)?;
        match query.execute(&mut **tx).await {
            Ok(_) => {
                sqlx::query("RELEASE SAVEPOINT append")
                    .execute(&mut **tx)
                    .await
                    .map_err(persistence_error)?;
                Ok(())
            }
            Err(error) => {
                sqlx::query("ROLLBACK TO SAVEPOINT append")
                    .execute(&mut **tx)
                    .await
                    .map_err(persistence_error)?;
                Err(persistence_error(error))
            }
        }
    }
}

fn stored_event(row: &sqlx::postgres::PgRow) -> Result<StoredEvent, PersistenceError> {
    let Json(payload) = row.try_get("payload").map_err(persistence_error)?;
    Ok(StoredEvent {
        sequence: row.try_get("sequence").map_err(persistence_error)?,
        event_type: row.try_get("event_type").map_err(persistence_error)?,
        event_version: row.try_get("event_version").map_err(persistence_error)?,
        payload,
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

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

/// Binds `events` column by column as parameters `$1` to `$8` of an append statement.
fn bind_events<'q>(
    query: PgQuery<'q>,
    events: &'q [SerializedEvent],
) -> Result<PgQuery<'q>, PersistenceError> {
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
    Ok(query
        .bind(types)
        .bind(ids)
        .bind(sequences)
        .bind(event_types)
        .bind(versions)
        .bind(payloads)
        .bind(metadata)
        .bind(event_ids))
}
