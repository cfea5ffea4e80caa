//! The global event stream: every committed event of `es.events`, in an order that never skips
//! one, for replay (`commerce events replay`, `GET /v1/events`) and projection rebuilds.
//!
//! Positions are allocated at insert and commit out of order, so "position > last seen" skips an
//! event whose transaction commits late. The stream is therefore ordered by the writing
//! transaction's id, then the position, and read only below the safe horizon
//! `transaction_id < pg_snapshot_xmin(pg_current_snapshot())`: every transaction below it has
//! finished, and every transaction that commits later has an id at or above it, so it sorts after
//! everything already read. A cursor is the pair (transaction id, position) of the last event read;
//! the public API names it by the position alone, and the pair is looked up from it.
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::envelope::{EnvelopeHead, EventEnvelope, ENVELOPE_COLUMNS};
use crate::personal_data::{self, KeyRing, PersonalDataError};

/// Where a reader of the stream stands: after the event written by `transaction_id` at
/// `global_position`. The start of the stream is `(0, 0)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamCursor {
    /// The writing transaction's id (`xid8`, 64 bits with the epoch).
    pub transaction_id: i64,
    pub global_position: i64,
}

impl StreamCursor {
    pub const START: StreamCursor = StreamCursor {
        transaction_id: 0,
        global_position: 0,
    };
}

/// Which events a reader wants; unset filters let everything through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamFilter {
    /// Any of these aggregate types.
    pub aggregate_types: Vec<String>,
    /// Any of these event types.
    pub event_types: Vec<String>,
    /// Events that occurred at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Events that occurred before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// One event as read from the stream: its envelope fields, its payload as Postgres's JSON text
/// (spliced into output unparsed) and its cursor.
#[derive(Debug)]
pub struct StreamedEvent {
    pub row: PgRow,
    pub cursor: StreamCursor,
    /// The payload with its personal data opened (or marked erased), when it held sealed fields.
    pub opened_payload: Option<String>,
}

impl StreamedEvent {
    pub fn head(&self) -> Result<EnvelopeHead<'_>, sqlx::Error> {
        EnvelopeHead::from_row(&self.row)
    }

    pub fn payload_json(&self) -> Result<&str, sqlx::Error> {
        match &self.opened_payload {
            Some(opened) => Ok(opened),
            None => self.row.try_get("payload_text"),
        }
    }

    /// The event as an envelope, personal data opened.
    pub fn envelope(&self) -> anyhow::Result<EventEnvelope> {
        let mut envelope = EventEnvelope::from_row(&self.row)?;
        if let Some(opened) = &self.opened_payload {
            envelope.payload = serde_json::from_str(opened)?;
        }
        Ok(envelope)
    }

    /// The envelope as one line of JSON (no trailing newline).
    pub fn envelope_json(&self) -> anyhow::Result<String> {
        Ok(self.head()?.render(self.payload_json()?)?)
    }
}

/// The cursor of the event at `global_position`, or of the last event before it when that
/// position holds none (a rolled-back insert); the start when nothing precedes it.
pub async fn cursor_at(pool: &PgPool, global_position: i64) -> Result<StreamCursor, sqlx::Error> {
    if global_position <= 0 {
        return Ok(StreamCursor::START);
    }
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM es.events \
         WHERE global_position <= $1 ORDER BY global_position DESC LIMIT 1",
    )
    .bind(global_position)
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map_or(StreamCursor::START, |(transaction_id, global_position)| {
            StreamCursor {
                transaction_id,
                global_position,
            }
        }),
    )
}

/// Up to `limit` events after `cursor` that pass `filter`, in stream order, below the safe
/// horizon. Fewer than `limit` means the reader has caught up with what is safe to read now.
pub async fn read_page(
    pool: &PgPool,
    cursor: StreamCursor,
    filter: &StreamFilter,
    limit: i64,
) -> Result<Vec<StreamedEvent>, sqlx::Error> {
    let sql = format!(
        "SELECT {ENVELOPE_COLUMNS}, e.transaction_id::text::bigint AS stream_transaction \
         FROM es.events e \
         WHERE (e.transaction_id, e.global_position) > ($1::text::xid8, $2) \
           AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
           AND (cardinality($3::text[]) = 0 OR e.aggregate_type = ANY($3)) \
           AND (cardinality($4::text[]) = 0 OR e.event_type = ANY($4)) \
           AND ($5::timestamptz IS NULL OR e.occurred_at >= $5) \
           AND ($6::timestamptz IS NULL OR e.occurred_at < $6) \
         ORDER BY e.transaction_id, e.global_position \
         LIMIT $7"
    );
    let rows = sqlx::query(&sql)
        .bind(cursor.transaction_id.to_string())
        .bind(cursor.global_position)
        .bind(&filter.aggregate_types)
        .bind(&filter.event_types)
        .bind(filter.from)
        .bind(filter.to)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    let mut events = rows
        .into_iter()
        .map(|row| {
            let cursor = StreamCursor {
                transaction_id: row.try_get("stream_transaction")?,
                global_position: row.try_get("global_position")?,
            };
            Ok(StreamedEvent {
                row,
                cursor,
                opened_payload: None,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    open_personal_data(pool, &mut events).await?;
    Ok(events)
}

/// Opens the sealed personal data of a page's events, with one fetch of their keys.
async fn open_personal_data(
    pool: &PgPool,
    events: &mut [StreamedEvent],
) -> Result<(), sqlx::Error> {
    let malformed = |e: PersonalDataError| match e {
        PersonalDataError::Database(e) => e,
        other => sqlx::Error::Decode(Box::new(other)),
    };
    let mut sealed = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let event_type: &str = event.row.try_get("event_type")?;
        let text: &str = event.row.try_get("payload_text")?;
        if personal_data::may_be_sealed(event_type, text) {
            let payload: serde_json::Value =
                serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            sealed.push((index, event_type.to_owned(), payload));
        }
    }
    if sealed.is_empty() {
        return Ok(());
    }
    let key_ids: Vec<uuid::Uuid> = sealed
        .iter()
        .flat_map(|(_, event_type, payload)| personal_data::sealed_key_ids(event_type, payload))
        .collect();
    let keys = KeyRing::fetch(pool, &key_ids).await.map_err(malformed)?;
    for (index, event_type, mut payload) in sealed {
        personal_data::open(&event_type, &mut payload, &keys).map_err(malformed)?;
        events[index].opened_payload = Some(payload.to_string());
    }
    Ok(())
}

/// How many events lie after `cursor` below the horizon, at most: the highest position minus the
/// cursor's (cheap: one index probe), for progress bars.
pub async fn remaining_estimate(pool: &PgPool, cursor: StreamCursor) -> Result<u64, sqlx::Error> {
    let last: Option<i64> = sqlx::query_scalar("SELECT max(global_position) FROM es.events")
        .fetch_one(pool)
        .await?;
    Ok(last
        .unwrap_or(0)
        .saturating_sub(cursor.global_position)
        .max(0) as u64)
}
