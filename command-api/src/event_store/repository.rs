use std::borrow::Cow;
use std::sync::Arc;

use commerce_domain::personal_data::personal_fields;
use commerce_platform::personal_data::{self, PersonalDataError, SubjectKey};

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

/// The head of both append statements: inserts the events (`$1`..`$8`, column by column) and their
/// outbox rows, provided no stream the decision read (`$9`..`$11`: types, ids, versions read) has
/// an event after the version read. The CTE `appended` holds what was inserted: all or nothing.
///
/// The guard is a probe of the primary key per stream read, evaluated in the statement's snapshot.
/// It is a lateral subquery with `LIMIT 1` on purpose: the pool plans each statement once per
/// connection (`force_generic_plan`), and as a plain join, planned while `es.events` was small (a
/// fresh deployment), it became a hash join over a sequential scan of the whole table, kept for
/// the connection's life: on a fresh database the command path fell from 2,000 to 900 commands/s
/// within 15 s of load, one scan of `es.events` per command.
/// Under READ COMMITTED that is enough: a change to a stream read that committed before the
/// snapshot is seen, so nothing is appended and the caller retries from a fresh load; a change
/// that commits after the snapshot read nothing this statement writes, so it is serialisable after
/// this append (its decision and ours hold in that order) and is harmless.
macro_rules! guarded_append {
    () => {
        "WITH appended AS ( \
         INSERT INTO es.events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
             payload, metadata, event_id) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
             $6::jsonb[], $7::jsonb[], $8::uuid[]) \
         WHERE NOT EXISTS (SELECT 1 \
             FROM UNNEST($9::text[], $10::text[], $11::bigint[]) \
                 AS r(aggregate_type, aggregate_id, version) \
             CROSS JOIN LATERAL (SELECT 1 FROM es.events g \
                 WHERE g.aggregate_type = r.aggregate_type AND g.aggregate_id = r.aggregate_id \
                   AND g.sequence > r.version LIMIT 1) newer) \
         RETURNING global_position), \
         outboxed AS (INSERT INTO es.outbox (global_position) \
             SELECT global_position FROM appended) "
    };
}

/// Appends the events and their outbox rows under the read guard ([`guarded_append`]); answers
/// how many events it appended (0 when the guard refused them).
const APPEND_EVENTS: &str = concat!(guarded_append!(), "SELECT count(*) FROM appended");

/// [`APPEND_EVENTS`] plus a snapshot (`$12`..`$16`), still one statement: an append that fails or
/// is refused by its guard writes no snapshot. The snapshot only replaces an older one, so a slow
/// writer never moves a snapshot backwards.
const APPEND_EVENTS_AND_SNAPSHOT: &str = concat!(
    guarded_append!(),
    ", snapshot AS (INSERT INTO es.snapshots (aggregate_type, aggregate_id, last_sequence, \
         current_snapshot, payload) \
     SELECT $12::text, $13::text, $14::bigint, $15::bigint, $16::jsonb \
     WHERE EXISTS (SELECT 1 FROM appended) \
     ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET last_sequence = EXCLUDED.last_sequence, \
     current_snapshot = EXCLUDED.current_snapshot, payload = EXCLUDED.payload, taken_at = now() \
     WHERE es.snapshots.last_sequence < EXCLUDED.last_sequence) \
     SELECT count(*) FROM appended"
);

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

/// Runs `work` (commands appended through executors) and records `entry` in the audit log, in
/// one transaction: the change and its entry commit together or not at all. Inside a request
/// transaction (a command with an `Idempotency-Key`) both join it and its owner commits.
/// The outer error is the transaction's; the inner result is `work`'s (a refusal rolls back).
/// `pool` must not be the one `work`'s executors load with: the transaction holds its connection
/// while they load, and a pool of both could run out with every connection held by a waiter.
pub async fn audited<T, E>(
    pool: &PgPool,
    entry: &commerce_platform::audit::AuditEntry,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<Result<T, E>, sqlx::Error> {
    if let Some(shared) = current_request_transaction() {
        let answer = match work.await {
            Ok(answer) => answer,
            Err(refused) => return Ok(Err(refused)),
        };
        let mut guard = shared.lock().await;
        let transaction = guard.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        entry.record(&mut **transaction).await?;
        return Ok(Ok(answer));
    }
    let transaction = pool.begin().await?;
    let shared: RequestTransaction = Arc::new(Mutex::new(Some(transaction)));
    let answer = match within_request_transaction(shared.clone(), work).await {
        Ok(answer) => answer,
        // Dropped, the transaction rolls back: nothing appended, nothing audited.
        Err(refused) => return Ok(Err(refused)),
    };
    let mut transaction = shared.lock().await.take().ok_or(sqlx::Error::PoolClosed)?;
    entry.record(&mut *transaction).await?;
    transaction.commit().await?;
    Ok(Ok(answer))
}

/// The transaction of the request being served, when it runs in one.
pub fn current_request_transaction() -> Option<RequestTransaction> {
    REQUEST_TRANSACTION.try_with(Arc::clone).ok()
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

/// A stream a decision was made from, at the version it was read (AddItem reads the product, checkout
/// every product in the cart). An append guarded by it goes through only while the stream has no
/// later event, so no decision stands on a price or a state that changed before it was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadVersion<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    /// The stream's last sequence when it was read (0: it had no events).
    pub version: i64,
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
    /// any of them, or a change to any stream in `read` since it was read, is an optimistic-lock
    /// error, to be retried from fresh loads.
    pub async fn append_decided(
        &self,
        decisions: &[&[SerializedEvent]],
        read: &[ReadVersion<'_>],
    ) -> Result<(), PersistenceError> {
        let events: Vec<SerializedEvent> =
            decisions.iter().flat_map(|d| d.iter().cloned()).collect();
        self.append(&events, read).await
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
    /// after them: one statement, so one round trip and all or nothing. `read` guards the append
    /// as in [`Self::append_decided`].
    pub async fn append_with_snapshot(
        &self,
        events: &[SerializedEvent],
        snapshot: Option<SnapshotUpdate>,
        read: &[ReadVersion<'_>],
    ) -> Result<(), PersistenceError> {
        let (Some(first), Some(snapshot)) = (events.first(), snapshot) else {
            return self.append(events, read).await;
        };
        let events = self.sealed(events).await?;
        let events = events.as_ref();
        let query = bind_read_versions(
            bind_events(sqlx::query(APPEND_EVENTS_AND_SNAPSHOT), events)?,
            read,
        )
        .bind(&first.aggregate_type)
        .bind(&first.aggregate_id)
        .bind(snapshot.version)
        .bind(snapshot.ordinal)
        .bind(Json(&snapshot.payload));
        self.execute_append(query, events.len()).await
    }

    async fn append(
        &self,
        events: &[SerializedEvent],
        read: &[ReadVersion<'_>],
    ) -> Result<(), PersistenceError> {
        if events.is_empty() {
            return Ok(());
        }
        let events = self.sealed(events).await?;
        let events = events.as_ref();
        let query = bind_read_versions(bind_events(sqlx::query(APPEND_EVENTS), events)?, read);
        self.execute_append(query, events.len()).await
    }

    /// The events as they are stored: personal data sealed under its subject's key (see
    /// `commerce_platform::personal_data`), created on the subject's first such event. Events
    /// without personal data are not copied.
    async fn sealed<'e>(
        &self,
        events: &'e [SerializedEvent],
    ) -> Result<Cow<'e, [SerializedEvent]>, PersistenceError> {
        if !events
            .iter()
            .any(|e| personal_fields(&e.event_type).is_some())
        {
            return Ok(Cow::Borrowed(events));
        }
        let mut sealed = events.to_vec();
        let mut keys: Vec<(Uuid, SubjectKey)> = Vec::new();
        for event in &mut sealed {
            let subject = personal_data::subject_of(&event.event_type, &event.payload)
                .map_err(personal_data_error)?;
            let Some(subject) = subject else {
                continue;
            };
            let key = match keys.iter().find(|(s, _)| *s == subject) {
                Some((_, key)) => key.clone(),
                None => {
                    let key = personal_data::key_for(&self.pool, subject)
                        .await
                        .map_err(personal_data_error)?;
                    keys.push((subject, key.clone()));
                    key
                }
            };
            personal_data::seal(&event.event_type, &mut event.payload, &key)
                .map_err(personal_data_error)?;
        }
        Ok(Cow::Owned(sealed))
    }

    /// Runs an append on its own, or, inside [`within_request_transaction`], in that transaction
    /// behind a savepoint: a conflict then undoes only this attempt, and the caller may retry.
    /// An append that stored fewer than its `expected` events was refused by its read guard.
    async fn execute_append(
        &self,
        query: PgQuery<'_>,
        expected: usize,
    ) -> Result<(), PersistenceError> {
        let Ok(shared) = REQUEST_TRANSACTION.try_with(Arc::clone) else {
            let appended = query
                .fetch_one(&self.pool)
                .await
                .map_err(persistence_error)?;
            return all_appended(&appended, expected);
        };
        let mut guard = shared.lock().await;
        let tx = guard.as_mut().ok_or_else(|| {
            PersistenceError::UnknownError("the request's transaction has already ended".into())
        })?;
        sqlx::query("SAVEPOINT append")
            .execute(&mut **tx)
            .await
            .map_err(persistence_error)?;
        let outcome = match query.fetch_one(&mut **tx).await {
            Ok(appended) => all_appended(&appended, expected),
            Err(error) => Err(persistence_error(error)),
        };
        let end = if outcome.is_ok() {
            "RELEASE SAVEPOINT append"
        } else {
            "ROLLBACK TO SAVEPOINT append"
        };
        sqlx::query(end)
            .execute(&mut **tx)
            .await
            .map_err(persistence_error)?;
        outcome
    }
}

/// Whether an append stored all `expected` events: its guard lets all through or none, and none
/// means a stream the decision read changed since, which is an optimistic-concurrency conflict
/// like a lost race for the next sequence.
fn all_appended(row: &sqlx::postgres::PgRow, expected: usize) -> Result<(), PersistenceError> {
    let appended: i64 = row.try_get(0).map_err(persistence_error)?;
    if appended == to_i64(expected)? {
        Ok(())
    } else {
        Err(PersistenceError::OptimisticLockError)
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

/// Binds the streams a decision read, column by column, as parameters `$9` to `$11` of an append
/// statement (empty arrays when it read none: the guard then holds trivially).
fn bind_read_versions<'q>(query: PgQuery<'q>, read: &[ReadVersion<'q>]) -> PgQuery<'q> {
    let types: Vec<&str> = read.iter().map(|r| r.aggregate_type).collect();
    let ids: Vec<&str> = read.iter().map(|r| r.aggregate_id).collect();
    let versions: Vec<i64> = read.iter().map(|r| r.version).collect();
    query.bind(types).bind(ids).bind(versions)
}

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

fn personal_data_error(error: PersonalDataError) -> PersistenceError {
    match error {
        PersonalDataError::Database(e) => persistence_error(e),
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}
