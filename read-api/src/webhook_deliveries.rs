//! `GET /v1/vendors/{vendor_id}/webhook/deliveries`: what became of a vendor's webhook
//! deliveries (pending with its next attempt, delivered, or dead and why), newest first.
use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use commerce_platform::auth::Authenticated;
use commerce_platform::openapi::CommonFailures;
use commerce_platform::openapi::ProblemSchema as Problem;
use commerce_platform::problem::ApiQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::dashboard::Tenant;
use crate::error::ReadError;
use crate::AppState;

const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: i64 = 100;

/// A delivery's state.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryState {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// Only deliveries in this state.
    #[param(inline)]
    state: Option<DeliveryState>,
    /// How many, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// One notification's delivery to the vendor's webhook.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Delivery {
    /// Sent as `X-Commerce-Delivery`, the same on every attempt.
    delivery_id: Uuid,
    /// The event it tells of.
    event_id: Uuid,
    /// `order_confirmed`, `order_cancelled`, `order_shipped`, or about a return:
    /// `return_requested` (to the vendor), `return_accepted`, `return_rejected`,
    /// `return_refunded` or `return_refund_failed`.
    kind: String,
    order_id: Uuid,
    /// `pending`, `delivered` or `dead`.
    state: String,
    attempts: i32,
    /// A pending delivery's next attempt.
    next_attempt_at: Option<DateTime<Utc>>,
    /// The last attempt's HTTP status; absent when it got no answer.
    last_status: Option<i32>,
    /// Why the last attempt failed.
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    items: Vec<Delivery>,
}

/// A vendor's webhook deliveries, newest first: the vendor's own, or any for admins and analysts.
#[utoipa::path(
    get,
    path = "/v1/vendors/{vendor_id}/webhook/deliveries",
    tag = "webhooks",
    params(("vendor_id" = Uuid, Path, description = "The vendor"), DeliveryParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The vendor's deliveries, newest first (none without a webhook)", body = DeliveryList),
        (status = 400, description = "Malformed vendor id or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another vendor's deliveries, or a role that reads none", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(vendor_id = %vendor_id))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    Path(vendor_id): Path<String>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<DeliveryParams>,
) -> Result<Json<DeliveryList>, ReadError> {
    let vendor_id =
        commerce_platform::http::path_id(&vendor_id, "vendor id").map_err(ReadError::Malformed)?;
    let tenant = Tenant::of(&claims, vendor_id)?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ReadError::Invalid(format!(
            "limit must be 1 to {MAX_PAGE}, got {limit}"
        )));
    }
    let items: Vec<Delivery> = sqlx::query_as(
        "SELECT delivery_id, event_id, kind, order_id, state, attempts, \
                CASE WHEN state = 'pending' THEN next_attempt_at END AS next_attempt_at, \
                last_status, last_error, created_at, delivered_at \
         FROM notify.webhook_deliveries \
         WHERE vendor_id = $1 AND ($2::text IS NULL OR state = $2) \
         ORDER BY created_at DESC, delivery_id LIMIT $3",
    )
    .bind(tenant.vendor_id())
    .bind(params.state.map(DeliveryState::as_str))
    .bind(limit)
    .fetch_all(&state.postgres)
    .await?;
    Ok(Json(DeliveryList { items }))
}
