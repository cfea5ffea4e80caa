//! Order commands: a customer cancels its order, a vendor ships its sub-order of the orders
//! holding its products.
use axum::extract::{Path, State};
use axum::Json;
use commerce_domain::order::{CancelReason, OrderCommand};
use commerce_domain::{Actor, CustomerId, TrackingNumber, ValidationError, VendorId};
use commerce_platform::auth::{Authenticated, Claims, Role};
use commerce_platform::http::CorrelationId;
use commerce_platform::openapi::{BodyFailures, CommonFailures};
use commerce_platform::problem::ApiJson;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{parse_id, run, schemas, Accepted, Problem};
use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    #[schema(schema_with = schemas::cancel_reason)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipBody {
    #[schema(schema_with = schemas::tracking)]
    pub tracking: String,
    /// Whose sub-order ships. A vendor ships its own and may leave it out (another's is 403); an
    /// admin names it when the order holds several vendors' lines (422 otherwise).
    pub vendor_id: Option<Uuid>,
}

/// The actor an order command runs as.
pub(super) fn order_actor(claims: &Claims) -> Result<Actor, ApiError> {
    match (claims.role, claims.vendor_id) {
        (Role::Admin, _) => Ok(Actor::Admin),
        (Role::Vendor, Some(vendor_id)) => Ok(Actor::Vendor {
            vendor_id: VendorId(vendor_id),
        }),
        (Role::Customer, _) => claims
            .user_id()
            .map(|id| Actor::Customer {
                customer_id: CustomerId(id),
            })
            .ok_or_else(|| ApiError::Forbidden("a customer token's sub must be a UUID".into())),
        _ => Err(ApiError::Forbidden(
            "this role may not change orders".into(),
        )),
    }
}

/// Cancels an order before it ships.
#[utoipa::path(
    post, path = "/v1/orders/{id}/cancel", tag = "orders",
    params(("id" = Uuid, Path, description = "Order id")),
    request_body = CancelBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the order's customer, or a reason the caller may not give", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already shipped or cancelled, or concurrent changes kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A reason not in the documented list (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<CancelBody>,
) -> Result<Json<Accepted>, ApiError> {
    let order_id = parse_id(&id, "order id")?;
    let actor = order_actor(&claims)?;
    let reason = CancelReason::parse(&body.reason).ok_or_else(|| {
        ValidationError::new(
            "reason",
            format!(
                "must be one of out_of_stock, payment_declined, payment_timeout, \
                 customer_request, admin, got {:?}",
                body.reason
            ),
        )
    })?;
    run(
        &state.orders,
        order_id.to_string(),
        OrderCommand::Cancel { reason, actor },
        &claims,
        correlation,
    )
    .await
}

/// Hands one vendor's sub-order to a carrier: the order is `partially_shipped` until every
/// vendor's is shipped, then `shipped`.
#[utoipa::path(
    post, path = "/v1/orders/{id}/ship", tag = "orders",
    params(("id" = Uuid, Path, description = "Order id")),
    request_body = ShipBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No lines of the caller's in this order, or another vendor's sub-order", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or no lines of the vendor an admin named", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not confirmed yet, this sub-order already shipped (with other tracking) or cancelled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A tracking number outside its documented bounds (`/problems/invalid-value`), or an admin shipping an order of several vendors without naming one (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn ship(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<ShipBody>,
) -> Result<Json<Accepted>, ApiError> {
    let order_id = parse_id(&id, "order id")?;
    let actor = order_actor(&claims)?;
    let tracking = TrackingNumber::parse(&body.tracking)?;
    run(
        &state.orders,
        order_id.to_string(),
        OrderCommand::Ship {
            tracking,
            vendor_id: body.vendor_id.map(VendorId),
            actor,
        },
        &claims,
        correlation,
    )
    .await
}
