//! A vendor's webhook: where its order notifications are posted, and the secret that signs them.
//! Configuration, not history: kept in `notify.webhooks`, never in an event (the secret must
//! not be published). The notifications projector reads it when it queues deliveries.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use commerce_domain::ValidationError;
use commerce_platform::auth::{Authenticated, Claims, Role};
use commerce_platform::openapi::{BodyFailures, CommonFailures};
use commerce_platform::problem::ApiJson;
use commerce_platform::webhooks;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{parse_id, Problem};
use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// Where notifications are posted: an `https` URL of a public host.
    #[schema(
        min_length = 1,
        max_length = 2048,
        example = "https://hooks.example.com/commerce"
    )]
    pub url: String,
}

/// A vendor's webhook, with the secret that signs its deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    pub vendor_id: Uuid,
    pub url: String,
    /// Verify each delivery's `X-Commerce-Signature` with it: `v1=` and the hex HMAC-SHA256 of
    /// `"{X-Commerce-Timestamp}.{body}"`. A new one on every `PUT`; shown only here.
    pub secret: String,
    pub updated_at: DateTime<Utc>,
}

/// Whether `claims` may manage `vendor_id`'s webhook: the vendor itself, or an admin.
fn may_manage(claims: &Claims, vendor_id: Uuid) -> Result<(), ApiError> {
    match (claims.role, claims.vendor_id) {
        (Role::Admin, _) => Ok(()),
        (Role::Vendor, Some(own)) if own == vendor_id => Ok(()),
        (Role::Vendor, _) => Err(ApiError::Forbidden(format!(
            "a vendor manages only its own webhook, not vendor {vendor_id}'s"
        ))),
        (role, _) => Err(ApiError::Forbidden(format!(
            "role {} may not manage webhooks",
            role.as_str()
        ))),
    }
}

/// Sets a vendor's webhook (replacing any other) with a new secret.
#[utoipa::path(
    put, path = "/v1/vendors/{vendor_id}/webhook", tag = "webhooks",
    params(("vendor_id" = Uuid, Path, description = "Vendor id")),
    request_body = WebhookBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The webhook and its new signing secret", body = Webhook),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another vendor's webhook, or a role that manages none", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A URL longer than 2048 bytes (`/problems/invalid-value`); not an absolute `https` URL of a public host (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(vendor_id = %vendor_id))]
pub async fn set_webhook(
    State(state): State<AppState>,
    Path(vendor_id): Path<String>,
    Authenticated(claims): Authenticated,
    ApiJson(body): ApiJson<WebhookBody>,
) -> Result<Json<Webhook>, ApiError> {
    let vendor_id = parse_id(&vendor_id, "vendor id")?;
    may_manage(&claims, vendor_id)?;
    // Its length is a documented bound; the rest (an absolute https URL of a public host) is a
    // rule no schema states.
    if let Some(why) = webhooks::length_refusal(&body.url) {
        return Err(ValidationError::new("url", why).into());
    }
    let url = webhooks::target(&body.url, state.webhook_targets)
        .map_err(|why| ApiError::RuleBroken(format!("url: {why}")))?;
    let secret = webhooks::new_secret();
    let updated_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO notify.webhooks (vendor_id, url, secret) VALUES ($1, $2, $3) \
         ON CONFLICT (vendor_id) DO UPDATE \
           SET url = EXCLUDED.url, secret = EXCLUDED.secret, updated_at = now() \
         RETURNING updated_at",
    )
    .bind(vendor_id)
    .bind(url.as_str())
    .bind(&secret)
    .fetch_one(state.repository.pool())
    .await?;
    tracing::info!(user = %claims.sub, "webhook set");
    Ok(Json(Webhook {
        vendor_id,
        url: url.into(),
        secret,
        updated_at,
    }))
}

/// Removes a vendor's webhook; its deliveries not yet made are dropped.
#[utoipa::path(
    delete, path = "/v1/vendors/{vendor_id}/webhook", tag = "webhooks",
    params(("vendor_id" = Uuid, Path, description = "Vendor id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed (or there was none)"),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another vendor's webhook, or a role that manages none", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(vendor_id = %vendor_id))]
pub async fn remove_webhook(
    State(state): State<AppState>,
    Path(vendor_id): Path<String>,
    Authenticated(claims): Authenticated,
) -> Result<StatusCode, ApiError> {
    let vendor_id = parse_id(&vendor_id, "vendor id")?;
    may_manage(&claims, vendor_id)?;
    let mut transaction = state.repository.pool().begin().await?;
    sqlx::query("DELETE FROM notify.webhooks WHERE vendor_id = $1")
        .bind(vendor_id)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("DELETE FROM notify.webhook_deliveries WHERE vendor_id = $1 AND state = 'pending'")
        .bind(vendor_id)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    tracing::info!(user = %claims.sub, "webhook removed");
    Ok(StatusCode::NO_CONTENT)
}
