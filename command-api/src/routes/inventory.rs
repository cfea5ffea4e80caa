//! `POST /v1/inventory/{product_id}/receipts`: a vendor receives stock for its product.
use axum::extract::{Path, State};
use axum::Json;
use commerce_domain::inventory::InventoryCommand;
use commerce_domain::{DomainError, ProductId, Quantity};
use commerce_platform::auth::Authenticated;
use commerce_platform::http::CorrelationId;
use commerce_platform::openapi::{BodyFailures, CommonFailures};
use commerce_platform::problem::ApiJson;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{catalog_actor, event_metadata, parse_id, Accepted, Problem};
use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    /// Units received.
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[serde(deserialize_with = "commerce_platform::whole_number::deserialize")]
    pub quantity: i128,
}

/// Adds received units to a product's stock.
#[utoipa::path(
    post,
    path = "/v1/inventory/{product_id}/receipts",
    tag = "inventory",
    params(("product_id" = Uuid, Path, description = "Product id")),
    request_body = ReceiptBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the product's vendor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Concurrent changes kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Quantity outside its documented bounds (`/problems/invalid-value`), or the stock on hand would exceed 1,000,000,000 units (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(product_id = %id))]
pub async fn receive_stock(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<ReceiptBody>,
) -> Result<Json<Accepted>, ApiError> {
    let product_id = ProductId(parse_id(&id, "product id")?);
    let actor = catalog_actor(&claims)?;
    let quantity = Quantity::new(super::carts::bounded_quantity(
        body.quantity,
        1,
        Quantity::MAX,
    )?)?;
    let id = product_id.to_string();
    let committed = state
        .inventory
        .execute_given(
            &id,
            (&state.products, &id),
            |product| {
                let vendor_id = product.vendor_id().ok_or(DomainError::NotFound {
                    aggregate: "Product",
                })?;
                Ok(InventoryCommand::ReceiveStock {
                    product_id,
                    vendor_id,
                    quantity,
                    actor: actor.clone(),
                })
            },
            event_metadata(&claims, correlation),
            &(),
        )
        .await
        .map_err(|e| ApiError::from(e).naming("Product", &id))?;
    Ok(Json(committed.into()))
}
