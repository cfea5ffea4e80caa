//! `POST /v1/products`, `PUT /v1/products/{id}/price`, `POST /v1/products/{id}/publish|unpublish`.
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use commerce_domain::product::{ProductCommand, ProductDetails};
use commerce_domain::{
    Actor, Category, Currency, Description, Money, ProductId, Sku, Title, ValidationError, VendorId,
};
use commerce_platform::audit::AuditEntry;
use commerce_platform::auth::Authenticated;
use commerce_platform::http::{ClientAddress, CorrelationId};
use commerce_platform::openapi::{BodyFailures, CommonFailures};
use commerce_platform::problem::ApiJson;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{audited, catalog_actor, event_metadata, parse_id, run, schemas, Accepted, Problem};
use crate::error::ApiError;
use crate::AppState;

/// A price: integer minor units and an ISO 4217 currency. Parsed into `Money` after
/// deserialisation, so values out of bounds answer 422 rather than 400.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Money)]
pub struct PriceBody {
    /// Integer minor units (cents), positive.
    #[schema(minimum = 1, maximum = 100_000_000_000_i64)]
    #[serde(deserialize_with = "commerce_platform::whole_number::deserialize")]
    pub amount_minor: i64,
    #[schema(schema_with = schemas::currency)]
    pub currency: String,
}

impl PriceBody {
    fn parse(&self) -> Result<Money, ValidationError> {
        Money::new(self.amount_minor, Currency::parse(&self.currency)?)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductBody {
    #[schema(schema_with = schemas::sku)]
    pub sku: String,
    #[schema(schema_with = schemas::title)]
    pub title: String,
    #[serde(default)]
    #[schema(schema_with = schemas::description)]
    pub description: String,
    #[schema(schema_with = schemas::category)]
    pub category: String,
    pub price: PriceBody,
    /// The vendor the product is listed for. A vendor's token names its own (another is 403), so
    /// a vendor may leave it out; an admin must name it (422 otherwise). `null` is the same as
    /// leaving it out.
    pub vendor_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePriceBody {
    pub price: PriceBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductCreated {
    pub product_id: Uuid,
    #[serde(flatten)]
    pub accepted: Accepted,
}

/// Lists a new, unpublished product for the caller's vendor (admins name `vendor_id`).
#[utoipa::path(
    post,
    path = "/v1/products",
    tag = "products",
    request_body = CreateProductBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; read it with ?min_version=version", body = ProductCreated),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not, not the owner, or the vendor is not approved (pending, suspended or never applied)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflict: concurrent changes kept winning, or the product exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value outside its documented bounds (`/problems/invalid-value`), or an admin did not name the vendor (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn create_product(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<CreateProductBody>,
) -> Result<(StatusCode, HeaderMap, Json<ProductCreated>), ApiError> {
    let actor = catalog_actor(&claims)?;
    let vendor_id = match (body.vendor_id, &actor) {
        (Some(named), _) => VendorId(named),
        (None, Actor::Vendor { vendor_id }) => *vendor_id,
        (None, _) => {
            return Err(ApiError::RuleBroken(
                "vendor_id: is required when an admin creates a product".into(),
            ))
        }
    };
    let details = ProductDetails {
        sku: Sku::parse(&body.sku)?,
        title: Title::parse(&body.title)?,
        description: Description::parse(&body.description)?,
        category: Category::parse(&body.category)?,
        price: body.price.parse()?,
    };
    let vendor_status = super::vendors::vendor_status(&state, vendor_id).await?;
    let product_id = ProductId::generate();
    let committed = state
        .products
        .execute(
            &product_id.to_string(),
            ProductCommand::CreateProduct {
                product_id,
                vendor_id,
                details,
                vendor_status,
                actor,
            },
            event_metadata(&claims, correlation),
            &(),
        )
        .await?;
    tracing::info!(%product_id, %vendor_id, version = committed.version, "product created");
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/products/{product_id}")) {
        headers.insert(header::LOCATION, location);
    }
    Ok((
        StatusCode::CREATED,
        headers,
        Json(ProductCreated {
            product_id: product_id.0,
            accepted: committed.into(),
        }),
    ))
}

/// Sets a new price in the product's currency.
#[utoipa::path(
    put,
    path = "/v1/products/{id}/price",
    tag = "products",
    params(("id" = Uuid, Path, description = "Product id")),
    request_body = ChangePriceBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not, or not the owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflict: concurrent changes kept winning, or the product exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A price outside its documented bounds (`/problems/invalid-value`), or in another currency than the product's (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(product_id = %id))]
pub async fn change_price(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<ChangePriceBody>,
) -> Result<Json<Accepted>, ApiError> {
    let product_id = parse_id(&id, "product id")?;
    let actor = catalog_actor(&claims)?;
    let price = body.price.parse()?;
    let entry = AuditEntry::new("price_changed")
        .actor(claims.sub.clone())
        .target(format!("product {product_id}"))
        .from_address(address)
        .correlation(correlation.0)
        .detail(serde_json::json!({
            "amount_minor": body.price.amount_minor,
            "currency": body.price.currency,
        }));
    let change = run(
        &state.products,
        product_id,
        ProductCommand::ChangePrice { price, actor },
        &claims,
        correlation,
    );
    audited(&state, entry, change).await
}

/// Shows the product in the storefront.
#[utoipa::path(
    post,
    path = "/v1/products/{id}/publish",
    tag = "products",
    params(("id" = Uuid, Path, description = "Product id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted (unchanged version if it already was)", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not, not the owner, or the vendor is not approved", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflict: concurrent changes kept winning, or the product exists", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(product_id = %id))]
pub async fn publish(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
) -> Result<Json<Accepted>, ApiError> {
    let product_id = parse_id(&id, "product id")?;
    let actor = catalog_actor(&claims)?;
    // The vendor's standing is read before the command: a suspension that lands meanwhile is
    // still honoured, since the catalog hides a suspended vendor's products from the event.
    let (product, _) = state.products.load(&product_id.to_string()).await?;
    let vendor_status = match product.vendor_id() {
        Some(vendor_id) => super::vendors::vendor_status(&state, vendor_id).await?,
        None => None,
    };
    run(
        &state.products,
        product_id,
        ProductCommand::Publish {
            vendor_status,
            actor,
        },
        &claims,
        correlation,
    )
    .await
}

/// Hides the product from the storefront.
#[utoipa::path(
    post,
    path = "/v1/products/{id}/unpublish",
    tag = "products",
    params(("id" = Uuid, Path, description = "Product id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted (unchanged version if it already was)", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not, or not the owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflict: concurrent changes kept winning, or the product exists", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(product_id = %id))]
pub async fn unpublish(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
) -> Result<Json<Accepted>, ApiError> {
    let command = |actor| ProductCommand::Unpublish { actor };
    without_body(&state, &id, &claims, correlation, command).await
}

/// A command that needs nothing but the product and the actor.
async fn without_body(
    state: &AppState,
    id: &str,
    claims: &commerce_platform::auth::Claims,
    correlation: CorrelationId,
    command: impl FnOnce(Actor) -> ProductCommand,
) -> Result<Json<Accepted>, ApiError> {
    let product_id = parse_id(id, "product id")?;
    let actor = catalog_actor(claims)?;
    run(
        &state.products,
        product_id,
        command(actor),
        claims,
        correlation,
    )
    .await
}
