//! Catalog queries over the Redis read model the catalog projector maintains.
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use commerce_platform::auth::{Authenticated, Claims, Role};
use commerce_platform::openapi::CommonFailures;
use commerce_platform::openapi::ProblemSchema as Problem;
use commerce_platform::problem::ApiQuery;
use commerce_projections::catalog::{ProductDocument, AVAILABLE, STOCK_VERSION, VENDOR_SUSPENDED};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::consistency::{requested_min_version, wait_for_readable, Access};
use crate::error::ReadError;
use crate::AppState;

const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 100;
/// Most index entries one list request examines, so a rare filter cannot make a request unbounded.
const SCAN_BUDGET: usize = 2_000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this category.
    category: Option<String>,
    /// Only this vendor's products.
    vendor_id: Option<Uuid>,
    /// Case-insensitive text in the title or description.
    q: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<Uuid>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductPage {
    items: Vec<ProductDocument>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GetParams {
    /// Wait (at most 2 s) until the document has this version (the answer to a product
    /// command); 409 if it does not arrive.
    #[param(minimum = 1)]
    pub min_version: Option<i64>,
    /// Wait (at most 2 s) until the document's `stock_version` is this (the answer to a stock
    /// receipt, whose `read_with` names this parameter); 409 if it does not arrive. With
    /// `min_version` too, both are waited for within the same 2 s.
    #[param(minimum = 1)]
    pub min_stock_version: Option<i64>,
}

/// `GET /v1/catalog/products`: published products, filtered, in id (creation) order.
#[utoipa::path(
    get,
    path = "/v1/catalog/products",
    tag = "catalog",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of published products", body = ProductPage),
        (status = 400, description = "Malformed or unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`, naming it, the bound and the value)", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list_products(
    State(state): State<AppState>,
    Authenticated(_claims): Authenticated,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ProductPage>, ReadError> {
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ReadError::Invalid(format!(
            "limit must be 1 to {MAX_PAGE}, got {limit}"
        )));
    }
    let needle = params
        .q
        .as_deref()
        .map(str::to_lowercase)
        .filter(|q| !q.is_empty());
    let mut redis = state.redis.clone();
    let generation = state.catalog.live_generation(&mut redis).await?;
    // Scan the most selective index available, filter the rest on the documents.
    let index = match (&params.category, params.vendor_id) {
        (Some(category), _) => state.catalog.category(generation, category),
        (None, Some(vendor)) => state.catalog.vendor(generation, &vendor.to_string()),
        (None, None) => state.catalog.published(generation),
    };
    let mut start = params
        .cursor
        .map(|c| format!("({c}"))
        .unwrap_or_else(|| "-".to_owned());
    let mut items = Vec::with_capacity(limit);
    let mut scanned = 0;
    let chunk = (limit * 2).max(20);
    let next_cursor = loop {
        let ids: Vec<String> = redis::cmd("ZRANGEBYLEX")
            .arg(&index)
            .arg(&start)
            .arg("+")
            .arg("LIMIT")
            .arg(0)
            .arg(chunk)
            .query_async(&mut redis)
            .await?;
        if ids.is_empty() {
            break None;
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HMGET")
                .arg(state.catalog.product(generation, id))
                .arg("doc")
                .arg(AVAILABLE)
                .arg(STOCK_VERSION)
                .arg(VENDOR_SUSPENDED);
        }
        let docs: Vec<StoredProduct> = pipe.query_async(&mut redis).await?;
        let exhausted = ids.len() < chunk;
        for (id, doc) in ids.iter().zip(docs) {
            scanned += 1;
            start = format!("({id}");
            let Some(doc) = product_document(doc)? else {
                continue;
            };
            if matches(&doc, &params, needle.as_deref()) {
                items.push(doc);
                if items.len() == limit {
                    break;
                }
            }
        }
        if items.len() == limit {
            break items.last().map(|d| d.product_id.to_string());
        }
        if exhausted {
            break None;
        }
        if scanned >= SCAN_BUDGET {
            // Hand back where we stopped; the client continues from there.
            break Some(start.trim_start_matches('(').to_owned());
        }
    };
    Ok(Json(ProductPage { items, next_cursor }))
}

fn matches(doc: &ProductDocument, params: &ListParams, needle: Option<&str>) -> bool {
    doc.published
        && !doc.vendor_suspended
        && params.category.as_ref().is_none_or(|c| &doc.category == c)
        && params.vendor_id.is_none_or(|v| doc.vendor_id == v)
        && needle.is_none_or(|q| {
            doc.title.to_lowercase().contains(q) || doc.description.to_lowercase().contains(q)
        })
}

/// `GET /v1/catalog/products/{id}`: one product; unpublished ones, and those of a suspended
/// vendor, only for its vendor and admins.
#[utoipa::path(
    get,
    path = "/v1/catalog/products/{id}",
    tag = "catalog",
    params(
        ("id" = Uuid, Path, description = "Product id"),
        GetParams,
        ("X-Min-Version" = Option<i64>, Header, minimum = 1, nullable = false, description = "Same as min_version (the query parameter wins; both are checked)")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The product document", body = ProductDocument),
        (status = 400, description = "Malformed id or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter outside its documented bounds (`/problems/invalid-value`, naming it, the bound and the value)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product (or not published, or its vendor suspended, for callers other than its vendor and admins); with min_version, after waiting for one that may not be projected yet", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A product the caller may read did not reach min_version within 2 s", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(product_id = %id))]
pub async fn get_product(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    ApiQuery(params): ApiQuery<GetParams>,
    headers: HeaderMap,
) -> Result<Json<ProductDocument>, ReadError> {
    let id = commerce_platform::http::path_id(&id, "product id").map_err(ReadError::Malformed)?;
    let min_version = requested_min_version(params.min_version, &headers)?;
    // Either token, or both: the stock's version is waited for first, then the product's, in
    // one bound.
    let started = tokio::time::Instant::now();
    if let Some(stock) = params.min_stock_version {
        if stock < 1 {
            return Err(ReadError::Invalid(format!(
                "min_stock_version must be at least 1, got {stock}"
            )));
        }
        let product = wait_for_readable(
            state.min_version_wait,
            Some(stock),
            |d: &ProductDocument| d.stock_version,
            |d| readable(&claims, d),
            || load_product(&state, id),
        )
        .await?;
        if min_version.is_none() {
            return product
                .map(Json)
                .ok_or_else(|| ReadError::NotFound(format!("product {id} does not exist")));
        }
    }
    let waited = started.elapsed();
    // An unpublished product is, to whoever may not see it, a product that does not exist: never
    // a 409 that would tell its version. It is waited for only below min_version, where the
    // version asked for may be the one that publishes it.
    wait_for_readable(
        state.min_version_wait.saturating_sub(waited),
        min_version,
        |d: &ProductDocument| d.version,
        |d| readable(&claims, d),
        || load_product(&state, id),
    )
    .await?
    .map(Json)
    .ok_or_else(|| ReadError::NotFound(format!("product {id} does not exist")))
}

/// Whether the caller may read the product now: an unpublished one, or one of a suspended vendor,
/// only its vendor and admins.
fn readable(claims: &Claims, doc: &ProductDocument) -> Access {
    if (doc.published && !doc.vendor_suspended) || may_see_unpublished(claims, doc) {
        Access::Allowed
    } else {
        Access::NotYet
    }
}

fn may_see_unpublished(claims: &Claims, doc: &ProductDocument) -> bool {
    match claims.role {
        Role::Admin => true,
        Role::Vendor => claims.vendor_id == Some(doc.vendor_id),
        _ => false,
    }
}

async fn load_product(state: &AppState, id: Uuid) -> Result<Option<ProductDocument>, ReadError> {
    let mut redis = state.redis.clone();
    let generation = state.catalog.live_generation(&mut redis).await?;
    let stored: StoredProduct = redis::cmd("HMGET")
        .arg(state.catalog.product(generation, &id.to_string()))
        .arg("doc")
        .arg(AVAILABLE)
        .arg(STOCK_VERSION)
        .arg(VENDOR_SUSPENDED)
        .query_async(&mut redis)
        .await?;
    product_document(stored)
}

/// A product's hash as read: the document, the stock count and stock version kept beside it
/// (from Inventory events, a stream of their own), and whether its vendor is suspended (from
/// Vendor events).
type StoredProduct = (Option<String>, Option<i64>, Option<i64>, Option<String>);

/// The stored document with the stock count and its version merged in.
fn product_document(
    (doc, available, stock_version, vendor_suspended): StoredProduct,
) -> Result<Option<ProductDocument>, ReadError> {
    let Some(doc) = doc else { return Ok(None) };
    let mut doc: ProductDocument = serde_json::from_str(&doc).map_err(internal)?;
    doc.available = available.unwrap_or(0);
    doc.stock_version = stock_version.unwrap_or(0);
    doc.vendor_suspended = vendor_suspended.as_deref() == Some("1");
    Ok(Some(doc))
}

fn internal(e: impl std::fmt::Display) -> ReadError {
    ReadError::Internal(e.to_string())
}
