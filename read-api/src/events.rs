//! `GET /v1/events`: the global event stream, paged, for analysts and ops. Events come in stream
//! order below the safe horizon (see `commerce_platform::event_stream`), so a page never skips an
//! event that commits late; `next_after` continues where the page stopped.
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use commerce_platform::auth::{Authenticated, Role};
use commerce_platform::event_stream::{self, StreamFilter};
use commerce_platform::openapi::CommonFailures;
use commerce_platform::openapi::ProblemSchema as Problem;
use commerce_platform::problem::ApiQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ReadError;
use crate::AppState;

const DEFAULT_PAGE: i64 = 100;
const MAX_PAGE: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// The `next_after` of the previous page (a global position); 0 or absent for the start.
    #[param(minimum = 0)]
    after: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Only events of this aggregate type (`Product`, `Inventory`, `Cart`, `Order`, `Payment`).
    #[param(max_length = 64)]
    aggregate_type: Option<String>,
    /// Only events of this type (`OrderPlaced`, ...).
    #[param(max_length = 64)]
    event_type: Option<String>,
}

/// One event as published: the same envelope as the SNS message bodies.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)] // the schema of the answer, which is written without building these
pub struct EventEnvelopeSchema {
    event_id: Uuid,
    global_position: i64,
    aggregate_type: String,
    aggregate_id: String,
    /// Per-aggregate sequence, from 1, without gaps.
    sequence: i64,
    event_type: String,
    event_version: String,
    occurred_at: chrono::DateTime<chrono::Utc>,
    correlation_id: Option<Uuid>,
    causation_id: Option<Uuid>,
    #[schema(value_type = Object)]
    payload: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct EventPage {
    /// In stream order: by writing transaction, then position (a late commit comes after what
    /// was already read, never before it).
    items: Vec<EventEnvelopeSchema>,
    /// Pass as `after` for the next page; the same `after` when the page is empty (nothing newer
    /// is safe to read yet: ask again later).
    next_after: i64,
}

/// A page of the global event stream.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    params(EventsParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of events in stream order", body = EventPage),
        (status = 400, description = "Malformed or unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only analysts and ops read the event stream", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`, naming it, the bound and the value)", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list_events(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<EventsParams>,
) -> Result<Response, ReadError> {
    if !matches!(claims.role, Role::Analyst | Role::Ops) {
        return Err(ReadError::Forbidden(
            "only analysts and ops read the event stream".into(),
        ));
    }
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ReadError::Invalid(format!(
            "limit must be 1 to {MAX_PAGE}, got {limit}"
        )));
    }
    let after = params.after.unwrap_or(0);
    if after < 0 {
        return Err(ReadError::Invalid(format!(
            "after must be at least 0, got {after}"
        )));
    }
    for (name, value) in [
        ("aggregate_type", &params.aggregate_type),
        ("event_type", &params.event_type),
    ] {
        let length = value.as_deref().map_or(0, |v| v.chars().count());
        if length > 64 {
            return Err(ReadError::Invalid(format!(
                "{name} must be at most 64 characters long, got {length}"
            )));
        }
    }
    let filter = StreamFilter {
        aggregate_types: params.aggregate_type.into_iter().collect(),
        event_types: params.event_type.into_iter().collect(),
        ..StreamFilter::default()
    };
    let cursor = event_stream::cursor_at(&state.postgres, after).await?;
    let events = event_stream::read_page(&state.postgres, cursor, &filter, limit).await?;
    let next_after = events.last().map_or(after, |e| e.cursor.global_position);
    // The payloads are spliced in as stored, never parsed and re-encoded.
    let mut body = String::with_capacity(64 + events.len() * 512);
    body.push_str("{\"items\":[");
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        let json = event
            .envelope_json()
            .map_err(|e| ReadError::Internal(format!("rendering an event: {e:#}")))?;
        body.push_str(&json);
    }
    body.push_str(&format!("],\"next_after\":{next_after}}}"));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
