//! `POST /v1/products`, `PUT /v1/products/{id}/price`, `POST /v1/products/{id}/publish|unpublish`.
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use commerce_domain::product::{ProductCommand, ProductDetails};
use commerce_domain::{
    Actor, Category, Currency, Description, Money, ProductId, Sku, Title, ValidationError, VendorId,
};
use commerce_platform::auth::Authenticated;
use commerce_platform::http::CorrelationId;
use commerce_platform::problem::ApiJson;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{catalog_actor, event_metadata, parse_id, Accepted};
use crate::error::ApiError;
use crate::AppState;

/// A price as clients send it; parsed into [`Money`] so bad values answer 422, not 400.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceBody {
    pub amount_minor: i64,
    pub currency: String,
}

impl PriceBody {
    fn parse(&self) -> Result<Money, ValidationError> {
        Money::new(self.amount_minor, Currency::parse(&self.currency)?)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProductBody {
    pub sku: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub category: String,
    pub price: PriceBody,
    /// Only admins name the vendor; a vendor's token names its own.
    pub vendor_id: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePriceBody {
    pub price: PriceBody,
}

#[derive(Debug, Serialize)]
pub struct ProductCreated {
    pub product_id: Uuid,
    #[serde(flatten)]
    pub accepted: Accepted,
}

#[tracing::instrument(skip_all)]
pub async fn create_product(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<CreateProductBody>,
) -> Result<(StatusCode, HeaderMap, Json<ProductCreated>), ApiError> {
    let actor = catalog_actor(&claims)?;
    let vendor_id = match (&actor, body.vendor_id, claims.vendor_id) {
        (_, Some(named), _) => VendorId(named),
        (Actor::Vendor { vendor_id }, None, _) => *vendor_id,
        (Actor::Admin, None, _) => {
            return Err(ValidationError::new(
                "vendor_id",
                "is required when an admin creates a product",
            )
            .into())
        }
    };
    let details = ProductDetails {
        sku: Sku::parse(&body.sku)?,
        title: Title::parse(&body.title)?,
        description: Description::parse(&body.description)?,
        category: Category::parse(&body.category)?,
        price: body.price.parse()?,
    };
    let product_id = ProductId::generate();
    let committed = state
        .products
        .execute(
            &product_id.to_string(),
            ProductCommand::CreateProduct {
                product_id,
                vendor_id,
                details,
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
            accepted: Accepted {
                aggregate_id: committed.aggregate_id,
                version: committed.version,
            },
        }),
    ))
}

#[tracing::instrument(skip_all, fields(product_id = %id))]
pub async fn change_price(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<ChangePriceBody>,
) -> Result<Json<Accepted>, ApiError> {
    let product_id = parse_id(&id, "product id")?;
    let actor = catalog_actor(&claims)?;
    let price = body.price.parse()?;
    execute(
        &state,
        product_id,
        ProductCommand::ChangePrice { price, actor },
        &claims,
        correlation,
    )
    .await
}

#[tracing::instrument(skip_all, fields(product_id = %id))]
pub async fn publish(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
) -> Result<Json<Accepted>, ApiError> {
    let command = |actor| ProductCommand::Publish { actor };
    without_body(&state, &id, &claims, correlation, command).await
}

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
    execute(state, product_id, command(actor), claims, correlation).await
}

async fn execute(
    state: &AppState,
    product_id: Uuid,
    command: ProductCommand,
    claims: &commerce_platform::auth::Claims,
    correlation: CorrelationId,
) -> Result<Json<Accepted>, ApiError> {
    let committed = state
        .products
        .execute(
            &product_id.to_string(),
            command,
            event_metadata(claims, correlation),
            &(),
        )
        .await?;
    Ok(Json(Accepted {
        aggregate_id: committed.aggregate_id,
        version: committed.version,
    }))
}
