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
