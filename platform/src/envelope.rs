//! The event envelope: the body of every SNS message and of `GET /v1/events` items.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One committed event with everything a consumer needs to order, deduplicate and trace it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Unique per event (UUID v7); the SNS deduplication id.
    pub event_id: Uuid,
    /// Position in the global stream; increases with commit order only below the safe horizon.
    pub global_position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// Per-aggregate sequence, starting at 1, without gaps: consumers use it for exactly-once effect.
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub occurred_at: DateTime<Utc>,
    /// The request that caused this event, carried across every hop for log correlation.
    pub correlation_id: Option<Uuid>,
    /// The message (command or event) that directly caused this one.
    pub causation_id: Option<Uuid>,
    pub payload: serde_json::Value,
}

/// Metadata keys under which the command side records tracing ids on each stored event.
pub mod metadata_keys {
    pub const CORRELATION_ID: &str = "correlation_id";
    pub const CAUSATION_ID: &str = "causation_id";
}

/// The `es.events` columns (alias `e`) an envelope is read from. Payloads come as Postgres's JSON
/// text, so a reader can splice them into a message body without parsing them.
pub const ENVELOPE_COLUMNS: &str = "e.event_id, e.global_position, e.aggregate_type, \
     e.aggregate_id, e.sequence, e.event_type, e.event_version, e.occurred_at, \
     e.payload::text AS payload_text, e.metadata->>'correlation_id' AS correlation_id, \
     e.metadata->>'causation_id' AS causation_id";

/// Every field of an envelope but the payload, borrowed from a row or an envelope; serialised in
/// [`EventEnvelope`]'s shape.
#[derive(Debug, Serialize)]
pub struct EnvelopeHead<'a> {
    pub event_id: Uuid,
    pub global_position: i64,
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: i64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    pub occurred_at: DateTime<Utc>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
}

impl<'r> EnvelopeHead<'r> {
    /// From a row selected with [`ENVELOPE_COLUMNS`].
    pub fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        let id = |column: &str| -> Result<Option<Uuid>, sqlx::Error> {
            Ok(row
                .try_get::<Option<&str>, _>(column)?
                .and_then(|s| Uuid::parse_str(s).ok()))
        };
        Ok(Self {
            event_id: row.try_get("event_id")?,
            global_position: row.try_get("global_position")?,
            aggregate_type: row.try_get("aggregate_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
            sequence: row.try_get("sequence")?,
            event_type: row.try_get("event_type")?,
            event_version: row.try_get("event_version")?,
            occurred_at: row.try_get("occurred_at")?,
            correlation_id: id("correlation_id")?,
            causation_id: id("causation_id")?,
        })
    }

    /// The envelope's fields but the payload, borrowed.
    pub fn of(envelope: &'r EventEnvelope) -> Self {
        Self {
            event_id: envelope.event_id,
            global_position: envelope.global_position,
            aggregate_type: &envelope.aggregate_type,
            aggregate_id: &envelope.aggregate_id,
            sequence: envelope.sequence,
            event_type: &envelope.event_type,
            event_version: &envelope.event_version,
            occurred_at: envelope.occurred_at,
            correlation_id: envelope.correlation_id,
            causation_id: envelope.causation_id,
        }
    }

    /// The envelope as JSON text with `payload_json` spliced in as is: the relay never parses or
    /// re-encodes payloads.
    pub fn render(&self, payload_json: &str) -> Result<String, serde_json::Error> {
        let mut body = serde_json::to_string(self)?;
        body.pop(); // the closing brace
        body.push_str(",\"payload\":");
        body.push_str(payload_json);
        body.push('}');
        Ok(body)
    }
}

impl EventEnvelope {
    /// From a row selected with [`ENVELOPE_COLUMNS`].
    pub fn from_row(row: &sqlx::postgres::PgRow) -> anyhow::Result<Self> {
        use sqlx::Row;
        let head = EnvelopeHead::from_row(row)?;
        let payload: &str = row.try_get("payload_text")?;
        Ok(Self {
            event_id: head.event_id,
            global_position: head.global_position,
            aggregate_type: head.aggregate_type.to_owned(),
            aggregate_id: head.aggregate_id.to_owned(),
            sequence: head.sequence,
            event_type: head.event_type.to_owned(),
            event_version: head.event_version.to_owned(),
            occurred_at: head.occurred_at,
            correlation_id: head.correlation_id,
            causation_id: head.causation_id,
            payload: serde_json::from_str(payload)?,
        })
    }
}

/// SNS's limit on one message, and on all the messages of one `PublishBatch` together: 256 KiB.
/// A message's size is its body plus, for each message attribute, its name, data type and value.
pub const SNS_MAX_MESSAGE_BYTES: usize = 262_144;

/// The message attributes every event is published with (the values subscription filters use).
pub fn message_attributes<'a>(
    aggregate_type: &'a str,
    event_type: &'a str,
) -> [(&'static str, &'a str); 2] {
    [
        ("aggregate_type", aggregate_type),
        ("event_type", event_type),
    ]
}

/// The size SNS counts for a message with `body_bytes` of body and [`message_attributes`].
pub fn message_size(body_bytes: usize, aggregate_type: &str, event_type: &str) -> usize {
    body_bytes
        + message_attributes(aggregate_type, event_type)
            .iter()
            .map(|(name, value)| name.len() + "String".len() + value.len())
            .sum::<usize>()
}

/// The most bytes SNS can count for an event with this payload once it is an envelope, whatever
/// its position, ids and time turn out to be: lets the command side refuse, before anything is
/// appended, an event that could never be published.
pub fn largest_message_size(
    aggregate_type: &str,
    aggregate_id: &str,
    event_type: &str,
    event_version: &str,
    payload_json_bytes: usize,
) -> usize {
    let widest = EnvelopeHead {
        event_id: Uuid::max(),
        global_position: i64::MIN,
        aggregate_type,
        aggregate_id,
        sequence: i64::MIN,
        event_type,
        event_version,
        // Nanoseconds and a five-digit year: the longest RFC 3339 rendering chrono writes.
        occurred_at: DateTime::<Utc>::MAX_UTC,
        correlation_id: Some(Uuid::max()),
        causation_id: Some(Uuid::max()),
    };
    let head = widest.render("").map_or(1024, |h| h.len());
    message_size(head + payload_json_bytes, aggregate_type, event_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_size_bounds_every_rendered_envelope_of_the_payload() {
        let payload = serde_json::json!({ "type": "ProductPublished", "data": { "n": "é\"\\" } });
        let payload_json = serde_json::to_string(&payload).expect("json");
        let envelope = EventEnvelope {
            event_id: Uuid::now_v7(),
            global_position: 9_007_199_254_740_993,
            aggregate_type: "Product".into(),
            aggregate_id: Uuid::now_v7().to_string(),
            sequence: 123_456,
            event_type: "ProductPublished".into(),
            event_version: "1.0".into(),
            occurred_at: Utc::now(),
            correlation_id: Some(Uuid::now_v7()),
            causation_id: Some(Uuid::now_v7()),
            payload,
        };
        let body = EnvelopeHead::of(&envelope)
            .render(&payload_json)
            .expect("render");
        let actual = message_size(body.len(), "Product", "ProductPublished");
        let bound = largest_message_size(
            "Product",
            &envelope.aggregate_id,
            "ProductPublished",
            "1.0",
            payload_json.len(),
        );
        assert!(actual <= bound, "{actual} > {bound}");
        assert!(
            bound - actual < 200,
            "the bound is tight: {bound} vs {actual}"
        );
    }
}
