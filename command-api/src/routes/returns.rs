//! Returns of shipped goods: a customer asks to return units of a vendor's shipped sub-order;
//! the vendor accepts (into stock or not) or rejects; the saga refunds an accepted return and
//! reverses the vendor's share and the commission of its lines in the ledger.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use commerce_domain::order::OrderCommand;
use commerce_domain::{ProductId, Quantity, Reason, ReturnId, VendorId};
use commerce_platform::auth::Authenticated;
use commerce_platform::http::CorrelationId;
use commerce_platform::openapi::{BodyFailures, CommonFailures};
use commerce_platform::problem::ApiJson;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::carts::bounded_quantity;
use super::orders::order_actor;
use super::{event_metadata, parse_id, run, schemas, Accepted, Problem};
use crate::error::ApiError;
use crate::AppState;

/// Most lines one return may name.
const MAX_RETURN_LINES: usize = 50;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineBody {
    pub product_id: Uuid,
    /// Units of the line to return (at most what it holds less other returns: 422 otherwise).
    #[schema(minimum = 1, maximum = 99)]
    #[serde(deserialize_with = "commerce_platform::whole_number::deserialize")]
    pub quantity: i128,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestReturnBody {
    /// Lines of one vendor's shipped sub-order, each product once.
    #[schema(min_items = 1, max_items = 50)]
    pub lines: Vec<ReturnLineBody>,
    /// Whose sub-order; left out, the vendor of the lines' products.
    pub vendor_id: Option<Uuid>,
    #[schema(schema_with = schemas::optional_reason)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnRequested {
    pub return_id: Uuid,
    #[serde(flatten)]
    pub accepted: Accepted,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptReturnBody {
    /// Whether the returned units go back into the vendor's stock.
    pub restock: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectReturnBody {
    #[schema(schema_with = schemas::reason)]
    pub reason: String,
}

/// Asks to return some units of a vendor's shipped sub-order (the order's customer, an admin).
/// The vendor is told and decides; the refund follows acceptance.
#[utoipa::path(
    post, path = "/v1/orders/{id}/returns", tag = "orders",
    params(("id" = Uuid, Path, description = "Order id")),
    request_body = RequestReturnBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Requested: the return's id and the order's version", body = ReturnRequested),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the order's customer (nor an admin)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or no lines of the named vendor", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The sub-order has not shipped", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value outside its documented bounds (`/problems/invalid-value`); a product not in the sub-order, named twice, or more units than are left to return (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn request_return(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<RequestReturnBody>,
) -> Result<(StatusCode, Json<ReturnRequested>), ApiError> {
    let order_id = parse_id(&id, "order id")?;
    let actor = order_actor(&claims)?;
    if body.lines.is_empty() || body.lines.len() > MAX_RETURN_LINES {
        return Err(commerce_domain::ValidationError::new(
            "lines",
            format!(
                "must hold 1 to {MAX_RETURN_LINES} lines, got {}",
                body.lines.len()
            ),
        )
        .into());
    }
    let units = body
        .lines
        .iter()
        .map(|line| {
            let quantity = Quantity::new(bounded_quantity(line.quantity, 1, 99)?)?;
            Ok((ProductId(line.product_id), quantity))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let reason = body.reason.as_deref().map(Reason::parse).transpose()?;
    let return_id = ReturnId(Uuid::now_v7());
    let committed = state
        .orders
        .execute(
            &order_id.to_string(),
            OrderCommand::RequestReturn {
                return_id,
                vendor_id: body.vendor_id.map(VendorId),
                units,
                reason,
                actor,
            },
            event_metadata(&claims, correlation),
            &(),
        )
        .await
        .map_err(|e| ApiError::from(e).naming("Order", &order_id))?;
    Ok((
        StatusCode::CREATED,
        Json(ReturnRequested {
            return_id: return_id.0,
            accepted: committed.into(),
        }),
    ))
}

/// Accepts a return (the vendor whose goods they are, an admin): the saga refunds the customer,
/// reverses the vendor's share and the commission of the lines, and puts the units back in
/// stock when `restock`.
#[utoipa::path(
    post, path = "/v1/orders/{id}/returns/{return_id}/accept", tag = "orders",
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("return_id" = Uuid, Path, description = "Return id")
    ),
    request_body = AcceptReturnBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted (unchanged version if it already was)", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the return's vendor (nor an admin)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order or return", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The return was rejected or has failed", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(order_id = %id, return_id = %return_id))]
pub async fn accept_return(
    State(state): State<AppState>,
    Path((id, return_id)): Path<(String, String)>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<AcceptReturnBody>,
) -> Result<Json<Accepted>, ApiError> {
    let order_id = parse_id(&id, "order id")?;
    let return_id = ReturnId(parse_id(&return_id, "return id")?);
    let actor = order_actor(&claims)?;
    let command = OrderCommand::AcceptReturn {
        return_id,
        restock: body.restock,
        actor,
    };
    run(&state.orders, order_id, command, &claims, correlation).await
}

/// Rejects a return (the vendor whose goods they are, an admin), saying why.
#[utoipa::path(
    post, path = "/v1/orders/{id}/returns/{return_id}/reject", tag = "orders",
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("return_id" = Uuid, Path, description = "Return id")
    ),
    request_body = RejectReturnBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Rejected (unchanged version if it already was)", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the return's vendor (nor an admin)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order or return", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The return was already accepted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A reason outside its documented bounds (`/problems/invalid-value`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(order_id = %id, return_id = %return_id))]
pub async fn reject_return(
    State(state): State<AppState>,
    Path((id, return_id)): Path<(String, String)>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<RejectReturnBody>,
) -> Result<Json<Accepted>, ApiError> {
    let order_id = parse_id(&id, "order id")?;
    let return_id = ReturnId(parse_id(&return_id, "return id")?);
    let actor = order_actor(&claims)?;
    let reason = Reason::parse(&body.reason)?;
    let command = OrderCommand::RejectReturn {
        return_id,
        reason,
        actor,
    };
    run(&state.orders, order_id, command, &claims, correlation).await
}
