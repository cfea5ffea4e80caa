use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventUpcaster, PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, DomainEvent};
use rand::Rng;
use tokio::sync::Notify;

use commerce_platform::envelope::{largest_message_size, SNS_MAX_MESSAGE_BYTES};

use super::repository::{ReadVersion, SnapshotUpdate, StoredEvent, StoredStream};
use super::PgEventRepository;

/// The outcome of an accepted command: the consistency token a client reads its write with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The aggregate type (`Cart`, `Order`, `Product`, `Inventory`, …).
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    /// The aggregate's version after the command (unchanged if the command recorded nothing).
    pub version: i64,
}

/// An aggregate rebuilt from the store, and the version (last sequence) it was rebuilt at.
#[derive(Debug, Clone, Default)]
pub struct Loaded<A> {
    pub aggregate: A,
    pub version: i64,
}

/// A decision not yet committed: the events a command produced for one aggregate, numbered after
/// the version they were decided on. Several are committed together with
/// [`PgEventRepository::append_decided`], for commands that change two aggregates at once.
pub struct Decided<A: Aggregate> {
    pub aggregate_id: String,
    /// The version after these events.
    pub version: i64,
    pub events: Vec<A::Event>,
    serialized: Vec<SerializedEvent>,
}

impl<A: Aggregate> Decided<A> {
    /// The events as they will be stored.
    pub fn serialized(&self) -> &[SerializedEvent] {
        &self.serialized
    }
}

/// Why a command was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E: std::error::Error> {
    /// The aggregate refused the command.
    #[error(transparent)]
    Rejected(E),
    /// Other writers kept winning the race for the next sequence.
    #[error("the aggregate was changed concurrently {attempts} times in a row")]
    Contended { attempts: u32 },
    /// An event of the decision would be larger than a published message may be, so it could
    /// never reach the read side: refused before anything is appended.
    #[error(
        "the {event_type} event this command records would be {bytes} bytes as a published \
         message; the limit is {limit} bytes (SNS)"
    )]
    TooLarge {
        event_type: String,
        bytes: usize,
        limit: usize,
    },
    /// The database could not be reached.
    #[error("event store unavailable: {0}")]
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// Anything else: stored events that do not deserialize, unexpected database errors.
    #[error("event store failure: {0}")]
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

/// Runs commands against event-sourced aggregates: load, decide, append, and on an optimistic
/// concurrency conflict try again from a fresh load, a bounded number of times.
///
/// It stands in for `cqrs_es::CqrsFramework`, which answers `()` where the API must return the new
/// version, loads a snapshot and its events in two queries, writes a snapshot in a transaction of
/// its own, and lets `handle` mutate the loaded aggregate before a snapshot is computed from it
/// (applying the new events twice). Here a command costs one query to load (several aggregates at
/// once when a command reads another, as AddItem reads the product) and one statement to append.
pub struct CommandExecutor<A: Aggregate> {
    repository: PgEventRepository,
    /// Take a snapshot each time the version crosses a multiple of this.
    snapshot_every: Option<i64>,
    upcasters: Vec<Box<dyn EventUpcaster>>,
    max_attempts: u32,
    /// Wakes the outbox relay in this process as soon as events are committed.
    relay_waker: Option<Arc<Notify>>,
    aggregate: PhantomData<fn() -> A>,
}

impl<A> CommandExecutor<A>
where
    A: Aggregate + Clone,
    A::Command: Clone,
{
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

    pub fn new(repository: PgEventRepository, relay_waker: Option<Arc<Notify>>) -> Self {
        Self {
            repository,
            snapshot_every: None,
            upcasters: Vec::new(),
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            relay_waker,
            aggregate: PhantomData,
        }
    }

    /// Reads events written in older shapes through `upcasters`.
    pub fn with_upcasters(mut self, upcasters: Vec<Box<dyn EventUpcaster>>) -> Self {
        self.upcasters = upcasters;
        self
    }

    /// Loads from a snapshot plus the events after it; a snapshot is taken every `every` events.
    pub fn with_snapshots(
        repository: PgEventRepository,
        every: usize,
        relay_waker: Option<Arc<Notify>>,
    ) -> Self {
        Self {
            snapshot_every: i64::try_from(every).ok().filter(|every| *every > 0),
            ..Self::new(repository, relay_waker)
        }
    }

    /// The aggregate as it stands, and its version.
    pub async fn load(&self, aggregate_id: &str) -> Result<(A, i64), ExecuteError<A::Error>> {
        let loaded = self.load_many(&[aggregate_id]).await?;
        loaded
            .into_iter()
            .next()
            .map(|l| (l.aggregate, l.version))
            .ok_or_else(|| failed("a load returned no stream"))
    }

    /// Several aggregates of this type, in one query, in the order asked.
    pub async fn load_many<E: std::error::Error>(
        &self,
        aggregate_ids: &[&str],
    ) -> Result<Vec<Loaded<A>>, ExecuteError<E>> {
        let streams: Vec<(&str, &str)> = aggregate_ids.iter().map(|id| (A::TYPE, *id)).collect();
        let stored = self
            .repository
            .load_streams(&streams)
            .await
            .map_err(persistence)?;
        let mut loaded = Vec::with_capacity(stored.len());
        for (id, stream) in aggregate_ids.iter().zip(stored) {
            loaded.push(self.rebuild(id, stream).await?);
        }
        Ok(loaded)
    }

    /// Folds a stored stream into the aggregate. A snapshot that no longer deserializes (the
    /// aggregate's shape changed) is skipped for a full replay, not an outage. Public for callers
    /// that load streams of several types in one query ([`PgEventRepository::load_streams`]).
    pub async fn rebuild<E: std::error::Error>(
        &self,
        aggregate_id: &str,
        stream: StoredStream,
    ) -> Result<Loaded<A>, ExecuteError<E>> {
        let (mut aggregate, mut version, events) = match stream.snapshot {
            None => (A::default(), 0, stream.events),
            Some(snapshot) => match serde_json::from_str::<A>(snapshot.payload.get()) {
                Ok(aggregate) => (aggregate, snapshot.version, stream.events),
                Err(error) => {
                    tracing::warn!(
                        aggregate = A::TYPE,
                        aggregate_id,
                        %error,
                        "snapshot unreadable; replaying every event"
                    );
                    let events = self
                        .repository
                        .events_after(A::TYPE, aggregate_id, 0)
                        .await
                        .map_err(persistence)?;
                    (A::default(), 0, events)
                }
            },
        };
        for stored in events {
            version = stored.sequence;
            aggregate.apply(self.read_event(aggregate_id, stored)?);
        }
        Ok(Loaded { aggregate, version })
    }

    /// An event in the aggregate's current shape: through the upcaster that claims it, if any.
    fn read_event<E: std::error::Error>(
        &self,
        aggregate_id: &str,
        stored: StoredEvent,
    ) -> Result<A::Event, ExecuteError<E>> {
        let Some(upcaster) = self
            .upcasters
            .iter()
            .find(|u| u.can_upcast(&stored.event_type, &stored.event_version))
        else {
            return serde_json::from_str(stored.payload.get()).map_err(failed);
        };
        let older = SerializedEvent {
            aggregate_id: aggregate_id.to_owned(),
            sequence: usize::try_from(stored.sequence).map_err(failed)?,
            aggregate_type: A::TYPE.to_owned(),
            event_type: stored.event_type,
            event_version: stored.event_version,
            payload: serde_json::from_str(stored.payload.get()).map_err(failed)?,
            metadata: serde_json::Value::Null,
        };
        serde_json::from_value(upcaster.upcast(older).payload).map_err(failed)
    }

    /// Decides `command` on an aggregate already loaded, without committing; see [`Decided`].
    pub async fn decide(
        &self,
        aggregate_id: &str,
        loaded: Loaded<A>,
        command: A::Command,
        metadata: &HashMap<String, String>,
        services: &A::Services,
    ) -> Result<Decided<A>, ExecuteError<A::Error>> {
        let (decided, _) = decide_on(aggregate_id, loaded, command, metadata, services).await?;
        Ok(decided)
    }

    /// Wakes the relay after a commit made outside [`Self::execute`].
    pub fn committed(&self) {
        if let Some(waker) = &self.relay_waker {
            waker.notify_one();
        }
    }

    #[tracing::instrument(skip(self, command, metadata, services), fields(aggregate = A::TYPE))]
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: HashMap<String, String>,
        services: &A::Services,
    ) -> Result<Committed, ExecuteError<A::Error>> {
        for attempt in 1..=self.max_attempts {
            let (aggregate, version) = self.load(aggregate_id).await?;
            let loaded = Loaded { aggregate, version };
            let attempted = self
                .attempt(
                    aggregate_id,
                    loaded,
                    command.clone(),
                    &metadata,
                    services,
                    &[],
                )
                .await?;
            if let Some(committed) = attempted {
                return Ok(committed);
            }
            self.conflicted(attempt).await;
        }
        Err(ExecuteError::Contended {
            attempts: self.max_attempts,
        })
    }

    /// Runs a command that is made from another aggregate as it stands (AddItem needs the
    /// product's price and state): both are loaded in one query, the append goes through only
    /// if the other aggregate is still at the version read, and a retry reloads both. (Receiving
    /// stock reads only the product's vendor, which never changes, so for it the guard costs at
    /// most a retry when the product changes at the same moment.)
    #[tracing::instrument(
        skip(self, given, command, metadata, services),
        fields(aggregate = A::TYPE, given = B::TYPE)
    )]
    pub async fn execute_given<B>(
        &self,
        aggregate_id: &str,
        given: (&CommandExecutor<B>, &str),
        command: impl Fn(&B) -> Result<A::Command, A::Error>,
        metadata: HashMap<String, String>,
        services: &A::Services,
    ) -> Result<Committed, ExecuteError<A::Error>>
    where
        B: Aggregate + Clone,
        B::Command: Clone,
    {
        let (other, other_id) = given;
        for attempt in 1..=self.max_attempts {
            let stored = self
                .repository
                .load_streams(&[(B::TYPE, other_id), (A::TYPE, aggregate_id)])
                .await
                .map_err(persistence)?;
            let mut stored = stored.into_iter();
            let (Some(given_stream), Some(own_stream)) = (stored.next(), stored.next()) else {
                return Err(failed("a load returned fewer streams than asked"));
            };
            let given = other.rebuild(other_id, given_stream).await?;
            let loaded = self.rebuild(aggregate_id, own_stream).await?;
            let command = command(&given.aggregate).map_err(ExecuteError::Rejected)?;
            let read = ReadVersion {
                aggregate_type: B::TYPE,
                aggregate_id: other_id,
                version: given.version,
            };
            let attempted = self
                .attempt(aggregate_id, loaded, command, &metadata, services, &[read])
                .await?;
            if let Some(committed) = attempted {
                return Ok(committed);
            }
            self.conflicted(attempt).await;
        }
        Err(ExecuteError::Contended {
            attempts: self.max_attempts,
        })
    }

    /// Decides and appends once; `None` when another writer took the next sequence first, or a
    /// stream in `read` (what the command was made from) changed since it was read.
    async fn attempt(
        &self,
        aggregate_id: &str,
        loaded: Loaded<A>,
        command: A::Command,
        metadata: &HashMap<String, String>,
        services: &A::Services,
        read: &[ReadVersion<'_>],
    ) -> Result<Option<Committed>, ExecuteError<A::Error>> {
        let before = loaded.version;
        let (decided, after) = decide_on(aggregate_id, loaded, command, metadata, services).await?;
        let committed = Committed {
            aggregate_type: A::TYPE,
            aggregate_id: aggregate_id.to_owned(),
            version: decided.version,
        };
        if decided.events.is_empty() {
            return Ok(Some(committed));
        }
        let snapshot = self.snapshot_after(before, decided.version, &after)?;
        match self
            .repository
            .append_with_snapshot(&decided.serialized, snapshot, read)
            .await
        {
            Ok(()) => {
                self.committed();
                Ok(Some(committed))
            }
            Err(PersistenceError::OptimisticLockError) => Ok(None),
            Err(other) => Err(persistence(other)),
        }
    }

    /// Counts a lost race and backs off before the next attempt.
    async fn conflicted(&self, attempt: u32) {
        metrics::counter!("command_conflicts_total", "aggregate" => A::TYPE).increment(1);
        tracing::debug!(attempt, "concurrent append, retrying from a fresh load");
        tokio::time::sleep(backoff(attempt)).await;
    }

    /// A snapshot of `aggregate` at `after` when the step from `before` crossed a multiple of
    /// the snapshot interval.
    fn snapshot_after(
        &self,
        before: i64,
        after: i64,
        aggregate: &A,
    ) -> Result<Option<SnapshotUpdate>, ExecuteError<A::Error>> {
        let Some(every) = self.snapshot_every else {
            return Ok(None);
        };
        if after / every == before / every {
            return Ok(None);
        }
        Ok(Some(SnapshotUpdate {
            version: after,
            ordinal: after / every,
            payload: serde_json::value::to_raw_value(aggregate).map_err(failed)?,
        }))
    }
}

impl<E: std::error::Error> ExecuteError<E> {
    /// A storage failure outside the executor's own commit (e.g. a multi-aggregate append).
    pub fn from_persistence(error: PersistenceError) -> Self {
        persistence(error)
    }
}

/// Lets the aggregate decide on what was loaded: the events to store, and the aggregate with them
/// applied (the sink applies each event as the aggregate records it), for a snapshot.
async fn decide_on<A: Aggregate>(
    aggregate_id: &str,
    loaded: Loaded<A>,
    command: A::Command,
    metadata: &HashMap<String, String>,
    services: &A::Services,
) -> Result<(Decided<A>, A), ExecuteError<A::Error>> {
    let mut decision = loaded.aggregate;
    let sink = EventSink::default();
    decision
        .handle(command, services, &sink)
        .await
        .map_err(ExecuteError::Rejected)?;
    let events = sink.collect().await;
    let serialized = serialize::<A>(aggregate_id, loaded.version, &events, metadata)?;
    let decided = Decided {
        aggregate_id: aggregate_id.to_owned(),
        version: loaded.version + events.len() as i64,
        events,
        serialized,
    };
    Ok((decided, decision))
}

/// The events as stored: numbered after `version`, each with the command's metadata.
fn serialize<A: Aggregate>(
    aggregate_id: &str,
    version: i64,
    events: &[A::Event],
    metadata: &HashMap<String, String>,
) -> Result<Vec<SerializedEvent>, ExecuteError<A::Error>> {
    let metadata = serde_json::to_value(metadata).map_err(failed)?;
    let first = usize::try_from(version).map_err(failed)? + 1;
    events
        .iter()
        .zip(first..)
        .map(|(event, sequence)| {
            let serialized = SerializedEvent {
                aggregate_id: aggregate_id.to_owned(),
                sequence,
                aggregate_type: A::TYPE.to_owned(),
                event_type: event.event_type(),
                event_version: event.event_version(),
                payload: serde_json::to_value(event).map_err(failed)?,
                metadata: metadata.clone(),
            };
            check_publishable(&serialized)?;
            Ok(serialized)
        })
        .collect()
}

/// Refuses an event whose envelope could exceed SNS's message limit: stored, it would stop at the
/// outbox for ever (parked), and the read side would never see its aggregate again.
fn check_publishable<E: std::error::Error>(event: &SerializedEvent) -> Result<(), ExecuteError<E>> {
    let bytes = largest_message_size(
        &event.aggregate_type,
        &event.aggregate_id,
        &event.event_type,
        &event.event_version,
        jsonb_text_len(&event.payload),
    );
    if bytes > SNS_MAX_MESSAGE_BYTES {
        return Err(ExecuteError::TooLarge {
            event_type: event.event_type.clone(),
            bytes,
            limit: SNS_MAX_MESSAGE_BYTES,
        });
    }
    Ok(())
}

/// The length of `value` as Postgres prints a `jsonb` (the relay publishes that text): like
/// compact JSON, but with a space after every `:` and `,`.
fn jsonb_text_len(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    let separators = |n: usize| 2 * n.saturating_sub(1);
    match value {
        Value::Object(map) => {
            2 + separators(map.len())
                + map
                    .iter()
                    .map(|(key, value)| {
                        serde_json::to_string(key).map_or(0, |k| k.len())
                            + 2
                            + jsonb_text_len(value)
                    })
                    .sum::<usize>()
        }
        Value::Array(items) => {
            2 + separators(items.len()) + items.iter().map(jsonb_text_len).sum::<usize>()
        }
        scalar => serde_json::to_string(scalar).map_or(0, |s| s.len()),
    }
}

/// Jittered exponential backoff so contending writers do not retry in lock-step.
fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = 2u64.saturating_pow(attempt).min(50);
    Duration::from_millis(rand::rng().random_range(0..=ceiling_ms))
}

fn failed<E: std::error::Error>(
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> ExecuteError<E> {
    ExecuteError::Failed(error.into())
}

fn persistence<E: std::error::Error>(error: PersistenceError) -> ExecuteError<E> {
    match error {
        PersistenceError::OptimisticLockError => ExecuteError::Contended { attempts: 1 },
        PersistenceError::ConnectionError(e) => ExecuteError::Unavailable(e),
        PersistenceError::DeserializationError(e) | PersistenceError::UnknownError(e) => {
            ExecuteError::Failed(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jsonb_length_is_what_postgres_prints() {
        // `SELECT '{"a":[1,2],"b":{"c":"x"}}'::jsonb::text` prints `{"a": [1, 2], "b": {"c": "x"}}`.
        let value = serde_json::json!({"a": [1, 2], "b": {"c": "x"}});
        assert_eq!(
            jsonb_text_len(&value),
            r#"{"a": [1, 2], "b": {"c": "x"}}"#.len()
        );
    }

    #[test]
    fn an_event_too_large_to_publish_is_refused_before_it_is_appended() {
        let event = |text_bytes: usize| SerializedEvent {
            aggregate_id: uuid::Uuid::now_v7().to_string(),
            sequence: 1,
            aggregate_type: "Product".into(),
            event_type: "ProductCreated".into(),
            event_version: "1.0".into(),
            payload: serde_json::json!({ "type": "ProductCreated", "data": "x".repeat(text_bytes) }),
            metadata: serde_json::Value::Null,
        };
        assert!(check_publishable::<std::fmt::Error>(&event(200_000)).is_ok());
        let refused = check_publishable::<std::fmt::Error>(&event(SNS_MAX_MESSAGE_BYTES));
        assert!(
            matches!(
                refused,
                Err(ExecuteError::TooLarge {
                    limit: SNS_MAX_MESSAGE_BYTES,
                    ..
                })
            ),
            "{refused:?}"
        );
    }
}
