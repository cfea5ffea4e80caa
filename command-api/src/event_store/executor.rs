use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventStore, SerializedEvent};
use cqrs_es::{Aggregate, AggregateError, DomainEvent, EventStore};
use rand::Rng;
use tokio::sync::Notify;

use super::PgEventRepository;

/// The outcome of an accepted command: the consistency token a client reads its write with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub aggregate_id: String,
    /// The aggregate's version after the command (unchanged if the command recorded nothing).
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
/// version, and which lets `handle` mutate the loaded aggregate before a snapshot is computed from it
/// (applying the new events twice). Here `handle` works on a copy.
pub struct CommandExecutor<A: Aggregate> {
    store: PersistedEventStore<PgEventRepository, A>,
    max_attempts: u32,
    /// Wakes the outbox relay in this process as soon as events are committed.
    relay_waker: Option<Arc<Notify>>,
}

impl<A> CommandExecutor<A>
where
    A: Aggregate + Clone,
    A::Command: Clone,
{
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

    pub fn new(repository: PgEventRepository, relay_waker: Option<Arc<Notify>>) -> Self {
        Self {
            store: PersistedEventStore::new_event_store(repository),
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            relay_waker,
        }
    }

    /// Reads events written in older shapes through `upcasters`.
    pub fn with_upcasters(
        mut self,
        upcasters: Vec<Box<dyn cqrs_es::persist::EventUpcaster>>,
    ) -> Self {
        self.store = self.store.with_upcasters(upcasters);
        self
    }

    /// Loads from a snapshot plus the events after it; a snapshot is taken every `every` events.
    pub fn with_snapshots(
        repository: PgEventRepository,
        every: usize,
        relay_waker: Option<Arc<Notify>>,
    ) -> Self {
        Self {
            store: PersistedEventStore::new_snapshot_store(repository, every),
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            relay_waker,
        }
    }

    /// The aggregate as it stands, and its version.
    pub async fn load(&self, aggregate_id: &str) -> Result<(A, i64), ExecuteError<A::Error>> {
        let context = self
            .store
            .load_aggregate(aggregate_id)
            .await
            .map_err(infrastructure)?;
        Ok((context.aggregate, context.current_sequence as i64))
    }

    /// Loads and decides without committing; see [`Decided`].
    pub async fn decide(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &HashMap<String, String>,
        services: &A::Services,
    ) -> Result<Decided<A>, ExecuteError<A::Error>> {
        let (mut aggregate, version) = self.load(aggregate_id).await?;
        let sink = EventSink::default();
        aggregate
            .handle(command, services, &sink)
            .await
            .map_err(ExecuteError::Rejected)?;
        let events = sink.collect().await;
        let metadata =
            serde_json::to_value(metadata).map_err(|e| ExecuteError::Failed(Box::new(e)))?;
        let serialized = events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                Ok(SerializedEvent {
                    aggregate_id: aggregate_id.to_owned(),
                    sequence: version as usize + i + 1,
                    aggregate_type: A::TYPE.to_owned(),
                    event_type: event.event_type(),
                    event_version: event.event_version(),
                    payload: serde_json::to_value(event)
                        .map_err(|e| ExecuteError::Failed(Box::new(e)))?,
                    metadata: metadata.clone(),
                })
            })
            .collect::<Result<Vec<_>, ExecuteError<A::Error>>>()?;
        Ok(Decided {
            aggregate_id: aggregate_id.to_owned(),
            version: version + events.len() as i64,
            events,
            serialized,
        })
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
            let context = self
                .store
                .load_aggregate(aggregate_id)
                .await
                .map_err(infrastructure)?;
            let mut decision = context.aggregate.clone();
            let sink = EventSink::default();
            decision
                .handle(command.clone(), services, &sink)
                .await
                .map_err(ExecuteError::Rejected)?;
            let events = sink.collect().await;
            if events.is_empty() {
                return Ok(Committed {
                    aggregate_id: aggregate_id.to_owned(),
                    version: context.current_sequence as i64,
                });
            }
            match self.store.commit(events, context, metadata.clone()).await {
                Ok(committed) => {
                    if let Some(waker) = &self.relay_waker {
                        waker.notify_one();
                    }
                    let version = committed.last().map(|e| e.sequence).unwrap_or_default();
                    return Ok(Committed {
                        aggregate_id: aggregate_id.to_owned(),
                        version: version as i64,
                    });
                }
                Err(AggregateError::AggregateConflict) => {
                    metrics::counter!("command_conflicts_total", "aggregate" => A::TYPE)
                        .increment(1);
                    tracing::debug!(attempt, "concurrent append, retrying from a fresh load");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(other) => return Err(infrastructure(other)),
            }
        }
        Err(ExecuteError::Contended {
            attempts: self.max_attempts,
        })
    }
}

impl<E: std::error::Error> ExecuteError<E> {
    /// A storage failure outside the executor's own commit (e.g. a multi-aggregate append).
    pub fn from_persistence(error: cqrs_es::persist::PersistenceError) -> Self {
        infrastructure(AggregateError::from(error))
    }
}

/// Jittered exponential backoff so contending writers do not retry in lock-step.
fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = 2u64.saturating_pow(attempt).min(50);
    Duration::from_millis(rand::rng().random_range(0..=ceiling_ms))
}

fn infrastructure<E: std::error::Error>(error: AggregateError<E>) -> ExecuteError<E> {
    match error {
        AggregateError::UserError(e) => ExecuteError::Rejected(e),
        AggregateError::AggregateConflict => ExecuteError::Contended { attempts: 1 },
        AggregateError::DatabaseConnectionError(e) => ExecuteError::Unavailable(e),
        AggregateError::DeserializationError(e) | AggregateError::UnexpectedError(e) => {
            ExecuteError::Failed(e)
        }
    }
}
