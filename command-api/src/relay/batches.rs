//! Publishing to SNS in batches that SNS accepts, and telling a refusal of the event (it will never
//! go through as it is) from a refusal of the moment (SNS away, throttling).
//!
//! SNS's documented limits for `PublishBatch`: at most ten entries, at most 256 KiB (262,144 bytes)
//! per message and for all the messages of the call together, where a message counts its body and
//! its attributes. The local emulator enforces none of the byte limits (it accepted a 330 KB batch),
//! so every batch is cut here to the documented limits, and [`check_batch`] asserts them on every
//! batch before it is sent.
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use commerce_platform::envelope::{message_attributes, message_size, SNS_MAX_MESSAGE_BYTES};

use super::PendingEvent;

/// SNS's limit of entries per `PublishBatch`.
pub const SNS_BATCH_LIMIT: usize = 10;

impl PendingEvent {
    /// The size SNS counts for this event's message: body and attributes.
    pub fn message_size(&self) -> usize {
        message_size(self.body.len(), &self.aggregate_type, &self.event_type)
    }
}

/// Why SNS did not take an event, when that is the event's fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub global_position: i64,
    pub reason: String,
    /// Retrying cannot help (it is larger than any message may be): park it at once.
    pub permanent: bool,
}

/// Why publishing a lane's events stopped before the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// SNS refused an event for what it is; nothing after it was published.
    Rejected(Rejection),
    /// SNS could not be reached or did not take the call (network, throttling, a server error);
    /// trying again later is the cure.
    Unavailable,
    /// This relay's leadership lease could not be proven: it may no longer publish.
    LeaseLost,
}

/// What a lane's events came to.
#[derive(Debug, Default)]
pub struct Published {
    /// The positions SNS acknowledged: a prefix of the events, in order.
    pub acknowledged: Vec<i64>,
    pub stopped: Option<Stop>,
}

/// Splits `events`, in order, into batches SNS accepts: at most [`SNS_BATCH_LIMIT`] entries and
/// [`SNS_MAX_MESSAGE_BYTES`] in all. An event larger than a message may be comes alone.
pub fn batches(events: &[PendingEvent]) -> Vec<&[PendingEvent]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, event) in events.iter().enumerate() {
        let size = event.message_size();
        let count = index - start;
        if count > 0 && (count == SNS_BATCH_LIMIT || bytes + size > SNS_MAX_MESSAGE_BYTES) {
            out.push(&events[start..index]);
            (start, bytes) = (index, 0);
        }
        bytes += size;
    }
    if start < events.len() {
        out.push(&events[start..]);
    }
    out
}

/// Whether SNS's documented limits allow `batch`; the error says which one it breaks.
pub fn check_batch(batch: &[PendingEvent]) -> Result<(), String> {
    if batch.is_empty() || batch.len() > SNS_BATCH_LIMIT {
        return Err(format!(
            "a batch holds 1 to {SNS_BATCH_LIMIT} entries, not {}",
            batch.len()
        ));
    }
    if let Some(event) = batch
        .iter()
        .find(|e| e.message_size() > SNS_MAX_MESSAGE_BYTES)
    {
        return Err(format!(
            "the message is {} bytes; SNS takes at most {SNS_MAX_MESSAGE_BYTES} bytes per message",
            event.message_size()
        ));
    }
    let total: usize = batch.iter().map(PendingEvent::message_size).sum();
    if total > SNS_MAX_MESSAGE_BYTES {
        return Err(format!(
            "the batch is {total} bytes; SNS takes at most {SNS_MAX_MESSAGE_BYTES} bytes per call"
        ));
    }
    Ok(())
}

/// Where and on what terms events are published.
#[derive(Clone)]
pub struct Publisher {
    pub sns: aws_sdk_sns::Client,
    pub topic_arn: String,
    /// Longest one `PublishBatch` call may take; a call still running is abandoned.
    pub timeout: std::time::Duration,
    /// Whether a call may start now (the relay's lease is proven long enough ahead).
    pub permit: std::sync::Arc<dyn Fn() -> bool + Send + Sync>,
}

/// Publishes `events` batch after batch, in order, while the permit allows; stops at the first
/// event that does not go through.
pub async fn publish_in_order(publisher: &Publisher, events: &[PendingEvent]) -> Published {
    let mut published = Published {
        acknowledged: Vec::with_capacity(events.len()),
        stopped: None,
    };
    for batch in batches(events) {
        let outcome = publish_checked(publisher, batch).await;
        let complete = outcome.acknowledged.len() == batch.len();
        published.acknowledged.extend(outcome.acknowledged);
        if !complete || outcome.stopped.is_some() {
            published.stopped = outcome.stopped.or(Some(Stop::Unavailable));
            return published;
        }
    }
    published
}

/// Publishes one batch that [`batches`] built; a batch SNS refuses as a whole for what it holds is
/// published again one event at a time, so the refusal falls on the event that causes it.
async fn publish_checked(publisher: &Publisher, batch: &[PendingEvent]) -> Published {
    if let Err(reason) = check_batch(batch) {
        if let [event] = batch {
            return rejected(event, reason, true);
        }
        // `batches` never builds such a batch; if it did, the single events tell which is wrong.
        tracing::error!(%reason, "a batch over SNS's limits was built; publishing one by one");
        return publish_singly(publisher, batch).await;
    }
    if !(publisher.permit)() {
        return Published {
            acknowledged: Vec::new(),
            stopped: Some(Stop::LeaseLost),
        };
    }
    match publish_batch(publisher, batch).await {
        Ok(outcome) => outcome,
        Err(BatchError::Refused(reason)) if batch.len() == 1 => rejected(&batch[0], reason, false),
        Err(BatchError::Refused(reason)) => {
            tracing::warn!(%reason, entries = batch.len(), "SNS refused a batch; publishing one by one");
            publish_singly(publisher, batch).await
        }
        Err(BatchError::Unavailable(reason)) => {
            tracing::warn!(%reason, "PublishBatch failed; will retry");
            Published {
                acknowledged: Vec::new(),
                stopped: Some(Stop::Unavailable),
            }
        }
    }
}

async fn publish_singly(publisher: &Publisher, batch: &[PendingEvent]) -> Published {
    let mut published = Published::default();
    for event in batch {
        let single = std::slice::from_ref(event);
        let outcome = Box::pin(publish_checked(publisher, single)).await;
        published.acknowledged.extend(outcome.acknowledged);
        if outcome.stopped.is_some() {
            published.stopped = outcome.stopped;
            return published;
        }
    }
    published
}

fn rejected(event: &PendingEvent, reason: String, permanent: bool) -> Published {
    Published {
        acknowledged: Vec::new(),
        stopped: Some(Stop::Rejected(Rejection {
            global_position: event.global_position,
            reason,
            permanent,
        })),
    }
}

/// Why a `PublishBatch` call failed as a whole.
enum BatchError {
    /// SNS answered that the request is wrong (a 4xx other than throttling).
    Refused(String),
    /// Anything else: network, timeout, throttling, a server error.
    Unavailable(String),
}

/// Publishes one batch. SNS acknowledges entries one by one; those before the first failure are
/// returned, and a failure that SNS blames on the sender is a rejection of that event.
async fn publish_batch(
    publisher: &Publisher,
    batch: &[PendingEvent],
) -> Result<Published, BatchError> {
    let entries = batch
        .iter()
        .enumerate()
        .map(|(index, pending)| batch_entry(index, pending))
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(|e| BatchError::Refused(format!("{e:#}")))?;
    // Entries per call (outbox_published_total / relay_publish_calls_total) says how well batches fill.
    metrics::counter!("relay_publish_calls_total").increment(1);
    let call = publisher
        .sns
        .publish_batch()
        .topic_arn(&publisher.topic_arn)
        .set_publish_batch_request_entries(Some(entries))
        .send();
    let output = tokio::time::timeout(publisher.timeout, call)
        .await
        .map_err(|_| {
            BatchError::Unavailable(format!(
                "PublishBatch took longer than {:?}; abandoned",
                publisher.timeout
            ))
        })?
        .map_err(|e| {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let throttled = e.code().is_some_and(|c| c.contains("Throttl"));
            let reason = DisplayErrorContext(&e).to_string();
            match status {
                Some(400..=499) if !throttled && status != Some(429) => BatchError::Refused(reason),
                _ => BatchError::Unavailable(reason),
            }
        })?;
    let first_failure = output
        .failed()
        .iter()
        .filter_map(|f| f.id().parse::<usize>().ok().map(|index| (index, f)))
        .min_by_key(|(index, _)| *index);
    let Some((index, failure)) = first_failure else {
        return Ok(Published {
            acknowledged: batch.iter().map(|p| p.global_position).collect(),
            stopped: None,
        });
    };
    tracing::warn!(code = failure.code(), message = ?failure.message(),
        sender_fault = failure.sender_fault(), "SNS refused an entry");
    let stopped = match batch.get(index) {
        Some(event) if failure.sender_fault() => Stop::Rejected(Rejection {
            global_position: event.global_position,
            reason: format!(
                "{}: {}",
                failure.code(),
                failure.message().unwrap_or("no message")
            ),
            permanent: false,
        }),
        _ => Stop::Unavailable,
    };
    Ok(Published {
        acknowledged: batch
            .iter()
            .take(index)
            .map(|p| p.global_position)
            .collect(),
        stopped: Some(stopped),
    })
}

/// The SNS entry for one event: group = aggregate, dedup id = event id, filterable attributes.
pub fn batch_entry(index: usize, event: &PendingEvent) -> anyhow::Result<PublishBatchRequestEntry> {
    let mut entry = PublishBatchRequestEntry::builder()
        .id(index.to_string())
        .message(event.body.clone())
        .message_group_id(&event.aggregate_id)
        .message_deduplication_id(event.event_id.to_string());
    for (name, value) in message_attributes(&event.aggregate_type, &event.event_type) {
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()?;
        entry = entry.message_attributes(name, attribute);
    }
    Ok(entry.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(position: i64, body_bytes: usize) -> PendingEvent {
        PendingEvent {
            global_position: position,
            event_id: uuid::Uuid::now_v7(),
            aggregate_type: "Cart".into(),
            aggregate_id: format!("a{position}"),
            event_type: "CartCheckedOut".into(),
            body: "x".repeat(body_bytes),
        }
    }

    fn positions(batches: &[&[PendingEvent]]) -> Vec<Vec<i64>> {
        batches
            .iter()
            .map(|b| b.iter().map(|e| e.global_position).collect())
            .collect()
    }

    #[test]
    fn batches_hold_at_most_ten_entries() {
        let events: Vec<_> = (0..25).map(|i| event(i, 100)).collect();
        let built = batches(&events);
        assert_eq!(
            built.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [10, 10, 5]
        );
        assert!(built.iter().all(|b| check_batch(b).is_ok()));
    }

    #[test]
    fn a_batch_near_the_size_limit_is_split_and_every_batch_is_within_the_limits() {
        // Two checkouts of a large cart: two events of 140 KB, adjacent, as the issue measured.
        let events = vec![event(1, 140_000), event(2, 140_000), event(3, 100)];
        let built = batches(&events);
        assert_eq!(positions(&built), vec![vec![1], vec![2, 3]]);
        for batch in &built {
            check_batch(batch).expect("within SNS's limits");
        }
        // Exactly at the limit stays together.
        let overhead = event(0, 0).message_size();
        let half = SNS_MAX_MESSAGE_BYTES / 2 - overhead;
        let events = vec![event(1, half), event(2, half)];
        assert_eq!(positions(&batches(&events)), vec![vec![1, 2]]);
        let events = vec![event(1, half), event(2, half + 1)];
        assert_eq!(positions(&batches(&events)), vec![vec![1], vec![2]]);
    }

    #[test]
    fn an_event_larger_than_a_message_may_be_stands_alone_and_breaks_the_limit() {
        let events = vec![event(1, 10), event(2, 300_000), event(3, 10)];
        let built = batches(&events);
        assert_eq!(positions(&built), vec![vec![1], vec![2], vec![3]]);
        assert!(check_batch(built[1]).is_err());
        assert!(check_batch(&[]).is_err());
        let eleven: Vec<_> = (0..11).map(|i| event(i, 10)).collect();
        assert!(check_batch(&eleven).is_err());
    }
}
