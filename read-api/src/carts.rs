//! `GET /v1/carts/{id}`: a customer reads its cart.
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use commerce_platform::auth::{Authenticated, Role};
use commerce_platform::openapi::CommonFailures;
use commerce_platform::openapi::ProblemSchema as Problem;
use commerce_platform::problem::ApiQuery;
use commerce_projections::cart::CartDocument;
use uuid::Uuid;

use crate::catalog::GetParams;
use crate::consistency::{requested_min_version, wait_for_version};
use crate::error::ReadError;
use crate::AppState;

/// One cart; only its customer (or an admin) may read it.
#[utoipa::path(
    get,
    path = "/v1/carts/{id}",
    tag = "carts",
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        GetParams,
        ("X-Min-Version" = Option<i64>, Header, description = "Same as min_version")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart document", body = CartDocument),
        (status = 400, description = "Malformed id or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the cart's customer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "min_version did not arrive within 2 s", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(cart_id = %id))]
pub async fn get_cart(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<GetParams>,
    headers: HeaderMap,
) -> Result<Json<CartDocument>, ReadError> {
    let id =
        Uuid::parse_str(&id).map_err(|_| ReadError::Malformed("cart id must be a UUID".into()))?;
    let min_version = requested_min_version(params.min_version, &headers)?;
    let cart = wait_for_version(
        min_version,
        |c: &CartDocument| c.version,
        || load_cart(&state, id),
    )
    .await?
    .ok_or_else(|| ReadError::NotFound(format!("cart {id} does not exist")))?;
    let owner = claims.role == Role::Customer && claims.sub == cart.customer_id.to_string();
    if !(owner || claims.role == Role::Admin) {
        return Err(ReadError::Forbidden(
            "only the cart's customer may read it".into(),
        ));
    }
    Ok(Json(cart))
}

async fn load_cart(state: &AppState, id: Uuid) -> Result<Option<CartDocument>, ReadError> {
    let mut redis = state.redis.clone();
    let generation = state.carts.live_generation(&mut redis).await?;
    let doc: Option<String> = redis::cmd("HGET")
        .arg(state.carts.cart(generation, &id.to_string()))
        .arg("doc")
        .query_async(&mut redis)
        .await?;
    doc.map(|d| serde_json::from_str(&d).map_err(|e| ReadError::Internal(e.to_string())))
        .transpose()
}
