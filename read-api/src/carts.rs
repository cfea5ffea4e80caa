//! `GET /v1/carts/{id}`: a customer reads its cart.
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use commerce_platform::auth::{Authenticated, Claims, Role};
use commerce_platform::openapi::CommonFailures;
use commerce_platform::openapi::ProblemSchema as Problem;
use commerce_platform::problem::ApiQuery;
use commerce_projections::cart::CartDocument;
use uuid::Uuid;

use crate::catalog::GetParams;
use crate::consistency::{requested_min_version, wait_for_readable, Access};
use crate::error::ReadError;
use crate::AppState;

/// One cart; only its customer (or an admin) may read it.
///
/// Another customer gets 404, the answer for a cart that does not exist, at once and without
/// waiting for `min_version`: whether someone else's cart exists is not theirs to learn. Only
/// customers and admins read carts; other roles get 403 whatever the id.
#[utoipa::path(
    get,
    path = "/v1/carts/{id}",
    tag = "carts",
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        GetParams,
        ("X-Min-Version" = Option<i64>, Header, minimum = 1, nullable = false, description = "Same as min_version (the query parameter wins; both are checked)")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart document", body = CartDocument),
        (status = 400, description = "Malformed id or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`, naming it, the bound and the value)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither a customer nor an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart, or not the caller's (the same answer for both; with min_version, after waiting for a cart that may not be projected yet)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The caller's cart did not reach min_version within 2 s", body = Problem, content_type = "application/problem+json"),
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
    let id = commerce_platform::http::path_id(&id, "cart id").map_err(ReadError::Malformed)?;
    let reader = CartReader::of(&claims)?;
    let min_version = requested_min_version(params.min_version, &headers)?;
    let cart = wait_for_readable(
        state.min_version_wait,
        min_version,
        |c: &CartDocument| c.version,
        |c| reader.access(c),
        || load_cart(&state, id),
    )
    .await?
    .ok_or_else(|| ReadError::NotFound(format!("no cart {id} that you may read")))?;
    Ok(Json(cart))
}

/// Who is asking for a cart.
enum CartReader {
    Customer(Uuid),
    Admin,
}

impl CartReader {
    fn of(claims: &Claims) -> Result<Self, ReadError> {
        match claims.role {
            Role::Admin => Ok(Self::Admin),
            Role::Customer => claims.user_id().map(Self::Customer).ok_or_else(|| {
                ReadError::Forbidden("a customer token's sub must be a UUID".into())
            }),
            _ => Err(ReadError::Forbidden(
                "only customers and admins read carts".into(),
            )),
        }
    }

    /// A cart never changes customer: someone else's is refused at every version.
    fn access(&self, cart: &CartDocument) -> Access {
        match self {
            Self::Admin => Access::Allowed,
            Self::Customer(customer) if cart.customer_id == *customer => Access::Allowed,
            Self::Customer(_) => Access::Refused,
        }
    }
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
