//! `GET /v1/notifications`: what the caller has been told about its orders, newest first.
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use commerce_platform::auth::{Authenticated, Role};
use commerce_platform::openapi::CommonFailures;
use commerce_platform::openapi::ProblemSchema as Problem;
use commerce_platform::problem::ApiQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ReadError;
use crate::paging::{page_size, split_page};
use crate::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    /// `next_cursor` of the previous page.
    cursor: Option<Uuid>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// Something the caller was told.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Notification {
    /// The event it tells of.
    event_id: Uuid,
    /// `order_confirmed`, `order_cancelled`, `order_shipped`, or about a return:
    /// `return_requested` (to the vendor), `return_accepted`, `return_rejected`,
    /// `return_refunded` or `return_refund_failed`.
    kind: String,
    order_id: Uuid,
    at: DateTime<Utc>,
    /// `reason` of a cancellation, `tracking` of a shipment.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    items: Vec<Notification>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    next_cursor: Option<Uuid>,
}

/// The caller's notifications: a customer's about its orders, a vendor's about orders with its
/// lines; newest first.
#[utoipa::path(
    get,
    path = "/v1/notifications",
    tag = "notifications",
    params(NotificationParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of notifications, newest first", body = NotificationPage),
        (status = 400, description = "Malformed or unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only customers and vendors have notifications", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list_notifications(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<NotificationParams>,
) -> Result<Json<NotificationPage>, ReadError> {
    let limit = page_size(params.limit)?;
    let recipient = match (claims.role, claims.vendor_id) {
        (Role::Vendor, Some(vendor)) => vendor,
        (Role::Customer, _) => claims
            .user_id()
            .ok_or_else(|| ReadError::Forbidden("a customer token's sub must be a UUID".into()))?,
        _ => {
            return Err(ReadError::Forbidden(
                "only customers and vendors have notifications".into(),
            ))
        }
    };
    let rows: Vec<Notification> = sqlx::query_as(
        "SELECT event_id, kind, order_id, at, detail FROM read.notifications \
         WHERE recipient_id = $1 AND ($2::uuid IS NULL OR event_id < $2) \
         ORDER BY event_id DESC LIMIT $3",
    )
    .bind(recipient)
    .bind(params.cursor)
    .bind(limit + 1)
    .fetch_all(&state.postgres)
    .await?;
    let (items, next_cursor) = split_page(rows, limit, |n| n.event_id);
    Ok(Json(NotificationPage { items, next_cursor }))
}
