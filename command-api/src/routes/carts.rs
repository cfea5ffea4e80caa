//! Cart commands: create, add, change, remove, and checkout (which places the order).
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use commerce_domain::cart::{Cart, CartCommand, CartEvent};
use commerce_domain::order::{OrderCommand, OrderLine};
use commerce_domain::product::Product;
use commerce_domain::{
    AddressParts, CartId, CustomerId, DomainError, OrderId, PaymentToken, ProductId, Quantity,
    ShippingAddress, ValidationError,
};
use commerce_platform::auth::{Authenticated, Claims, Role};
use commerce_platform::http::CorrelationId;
use commerce_platform::openapi::{BodyFailures, CommonFailures};
use commerce_platform::problem::{ApiJson, ApiJsonOrEmpty};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{event_metadata, parse_id, run, schemas, Accepted, Problem};
use crate::error::ApiError;
use crate::event_store::{ExecuteError, Loaded, ReadVersion};
use crate::AppState;

/// Checkout attempts when another writer changes the cart or a product meanwhile.
const CHECKOUT_ATTEMPTS: u32 = 5;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCartBody {}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartCreated {
    pub cart_id: Uuid,
    #[serde(flatten)]
    pub accepted: Accepted,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItemBody {
    pub product_id: Uuid,
    #[schema(minimum = 1, maximum = 99)]
    #[serde(deserialize_with = "commerce_platform::whole_number::deserialize")]
    pub quantity: i128,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeQuantityBody {
    /// The line's new quantity; 0 removes the line.
    #[schema(minimum = 0, maximum = 99)]
    #[serde(deserialize_with = "commerce_platform::whole_number::deserialize")]
    pub quantity: i128,
}

/// Where the order goes. Each part's bounds and pattern are the ones the handler checks (on the
/// text as sent; surrounding spaces are then dropped), so every value this schema allows is
/// accepted and every value it forbids is refused with 422 naming the part.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddressBody {
    /// Who receives the parcel.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^ \\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^ \\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub line1: String,
    /// Empty or only spaces counts as absent.
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub line2: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^ \\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub city: String,
    /// State, province or county, where the country uses one. Empty or only spaces counts as
    /// absent.
    #[schema(max_length = 100, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub region: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 20,
        pattern = "^[A-Za-z0-9 -]*[A-Za-z0-9][A-Za-z0-9 -]*$"
    )]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case.
    #[schema(schema_with = schemas::country_code)]
    pub country: String,
}

impl ShippingAddressBody {
    /// The validated address; a refusal names the part.
    fn parse(&self) -> Result<ShippingAddress, ValidationError> {
        ShippingAddress::new(AddressParts {
            name: &self.name,
            line1: &self.line1,
            line2: self.line2.as_deref(),
            city: &self.city,
            region: self.region.as_deref(),
            postal_code: &self.postal_code,
            country: &self.country,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    pub shipping_address: ShippingAddressBody,
    #[schema(schema_with = schemas::payment_token)]
    pub payment_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutAccepted {
    pub order_id: Uuid,
    /// The order's id and version: read the order with `?min_version=version`.
    #[serde(flatten)]
    pub accepted: Accepted,
}

/// A line's quantity as the documents bound it (`min` to [`Cart::MAX_LINE_QUANTITY`]), checked
/// at the edge: a value outside them is invalid whatever the cart holds. (The cart also refuses a
/// line that would grow past the maximum: that depends on the line, and is a rule.)
pub(super) fn line_quantity(quantity: i128, min: u32) -> Result<u32, ValidationError> {
    bounded_quantity(quantity, min, Cart::MAX_LINE_QUANTITY)
}

/// A quantity as sent (any whole number: `-1` is a value outside the bounds, not a malformed
/// body) checked against `min..=max`; the refusal names the bounds and the value received.
pub(super) fn bounded_quantity(quantity: i128, min: u32, max: u32) -> Result<u32, ValidationError> {
    u32::try_from(quantity)
        .ok()
        .filter(|q| (min..=max).contains(q))
        .ok_or_else(|| {
            ValidationError::new(
                "quantity",
                format!("must be {min} to {max}, got {quantity}"),
            )
        })
}

/// The calling customer; only customers have carts.
fn customer(claims: &Claims) -> Result<CustomerId, ApiError> {
    if claims.role != Role::Customer {
        return Err(ApiError::Forbidden("only customers have carts".into()));
    }
    claims
        .user_id()
        .map(CustomerId)
        .ok_or_else(|| ApiError::Forbidden("a customer token's sub must be a UUID".into()))
}

/// Opens an empty cart for the calling customer.
#[utoipa::path(
    post, path = "/v1/carts", tag = "carts",
    request_body(content = Option<NewCartBody>, description = "Optional: no body, or `{}`"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = CartCreated),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a customer", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all)]
pub async fn create_cart(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJsonOrEmpty(_body): ApiJsonOrEmpty<NewCartBody>,
) -> Result<(StatusCode, Json<CartCreated>), ApiError> {
    let customer_id = customer(&claims)?;
    let cart_id = CartId::generate();
    let committed = state
        .carts
        .execute(
            &cart_id.to_string(),
            CartCommand::CreateCart {
                cart_id,
                customer_id,
            },
            event_metadata(&claims, correlation),
            &(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CartCreated {
            cart_id: cart_id.0,
            accepted: committed.into(),
        }),
    ))
}

/// Puts units of a published product in the cart (or more on its line).
#[utoipa::path(
    post, path = "/v1/carts/{id}/items", tag = "carts",
    params(("id" = Uuid, Path, description = "Cart id")),
    request_body = AddItemBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the cart's customer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart or product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Cart checked out, or concurrent changes kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Quantity outside its documented bounds (`/problems/invalid-value`); the product not published, the line over 99 units, or the cart at 100 lines (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(cart_id = %id))]
pub async fn add_item(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<AddItemBody>,
) -> Result<Json<Accepted>, ApiError> {
    let cart_id = parse_id(&id, "cart id")?;
    let customer_id = customer(&claims)?;
    let quantity = line_quantity(body.quantity, 1)?;
    let quantity = Quantity::new(quantity)?;
    let product_id = ProductId(body.product_id);
    let committed = state
        .carts
        .execute_given(
            &cart_id.to_string(),
            (&state.products, &product_id.to_string()),
            |product| {
                let (Some(vendor_id), Some(price)) = (product.vendor_id(), product.price()) else {
                    return Err(DomainError::NotFound {
                        aggregate: "Product",
                    });
                };
                Ok(CartCommand::AddItem {
                    customer_id,
                    product_id,
                    vendor_id,
                    unit_price: price.clone(),
                    published: product.is_published(),
                    quantity,
                })
            },
            event_metadata(&claims, correlation),
            &(),
        )
        .await
        .map_err(|e| {
            ApiError::from(e)
                .naming("Cart", &cart_id)
                .naming("Product", &product_id.0)
        })?;
    Ok(Json(committed.into()))
}

/// Sets a line's quantity; 0 removes the line.
#[utoipa::path(
    put, path = "/v1/carts/{id}/items/{product_id}", tag = "carts",
    params(("id" = Uuid, Path, description = "Cart id"), ("product_id" = Uuid, Path, description = "Product id")),
    request_body = ChangeQuantityBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted", body = Accepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the cart's customer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart, or the product is not in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Cart checked out, or concurrent changes kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Quantity outside its documented bounds (`/problems/invalid-value`), or the cart's total too large (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(cart_id = %id, product_id = %product))]
pub async fn change_quantity(
    State(state): State<AppState>,
    Path((id, product)): Path<(String, String)>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<ChangeQuantityBody>,
) -> Result<Json<Accepted>, ApiError> {
    let cart_id = parse_id(&id, "cart id")?;
    let command = CartCommand::ChangeQuantity {
        customer_id: customer(&claims)?,
        product_id: ProductId(parse_id(&product, "product id")?),
        quantity: line_quantity(body.quantity, 0)?,
    };
    run(&state.carts, cart_id, command, &claims, correlation).await
}

/// Takes a product's line out of the cart.
#[utoipa::path(
    delete, path = "/v1/carts/{id}/items/{product_id}", tag = "carts",
    params(("id" = Uuid, Path, description = "Cart id"), ("product_id" = Uuid, Path, description = "Product id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted (unchanged version if the line was not there)", body = Accepted),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the cart's customer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Cart checked out, or concurrent changes kept winning", body = Problem, content_type = "application/problem+json"),
        CommonFailures
    )
)]
#[tracing::instrument(skip_all, fields(cart_id = %id, product_id = %product))]
pub async fn remove_item(
    State(state): State<AppState>,
    Path((id, product)): Path<(String, String)>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
) -> Result<Json<Accepted>, ApiError> {
    let cart_id = parse_id(&id, "cart id")?;
    let command = CartCommand::RemoveItem {
        customer_id: customer(&claims)?,
        product_id: ProductId(parse_id(&product, "product id")?),
    };
    run(&state.carts, cart_id, command, &claims, correlation).await
}

/// Checks the cart out at current prices and places the order, atomically: the cart's
/// `CartCheckedOut` and the order's `OrderPlaced` are appended in one statement.
#[utoipa::path(
    post, path = "/v1/carts/{id}/checkout", tag = "carts",
    params(("id" = Uuid, Path, description = "Cart id")),
    request_body = CheckoutBody,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Order placed; fulfilment continues asynchronously", body = CheckoutAccepted),
        (status = 400, description = "Malformed request or id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the cart's customer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Cart already checked out, or concurrent changes kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An address part or the payment token outside its documented bounds (`/problems/invalid-value`, naming the part, e.g. `shipping_address.postal_code`); an empty cart or a product no longer available (`/problems/rule-violation`)", body = Problem, content_type = "application/problem+json"),
        CommonFailures, BodyFailures
    )
)]
#[tracing::instrument(skip_all, fields(cart_id = %id))]
pub async fn checkout(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authenticated(claims): Authenticated,
    correlation: CorrelationId,
    ApiJson(body): ApiJson<CheckoutBody>,
) -> Result<(StatusCode, Json<CheckoutAccepted>), ApiError> {
    let cart_id = parse_id(&id, "cart id")?.to_string();
    let customer_id = customer(&claims)?;
    let shipping_address = body.shipping_address.parse()?;
    let payment_token = PaymentToken::parse(&body.payment_token)?;
    let order_id = OrderId::generate();
    let metadata = event_metadata(&claims, correlation);
    for attempt in 1..=CHECKOUT_ATTEMPTS {
        let (cart, cart_version) = state.carts.load(&cart_id).await?;
        let product_ids: Vec<String> = cart
            .lines()
            .iter()
            .map(|l| l.product_id.to_string())
            .collect();
        let product_ids: Vec<&str> = product_ids.iter().map(String::as_str).collect();
        let products = state.products.load_many(&product_ids).await?;
        // The order is priced from these versions; the append goes through only while they are
        // the products' latest, so a price change or an unpublish in between forces a fresh look.
        let read: Vec<ReadVersion> = product_ids
            .iter()
            .zip(&products)
            .map(|(id, product)| ReadVersion {
                aggregate_type: Product::TYPE,
                aggregate_id: id,
                version: product.version,
            })
            .collect();
        let current_prices = cart
            .lines()
            .iter()
            .zip(&products)
            .map(|(line, product)| {
                let product = &product.aggregate;
                let price = product
                    .is_published()
                    .then(|| product.price().cloned())
                    .flatten();
                (line.product_id, price)
            })
            .collect();
        let checkout = CartCommand::Checkout {
            customer_id,
            order_id,
            shipping_address: shipping_address.clone(),
            payment_token: payment_token.clone(),
            current_prices,
        };
        let loaded_cart = Loaded {
            aggregate: cart,
            version: cart_version,
        };
        let cart_decided = state
            .carts
            .decide(&cart_id, loaded_cart, checkout, &metadata, &())
            .await
            .map_err(|e| ApiError::from(e).naming("Cart", &cart_id))?;
        let Some(CartEvent::CartCheckedOut { lines, .. }) = cart_decided.events.last() else {
            return Err(ApiError::Internal(
                "checkout recorded no CartCheckedOut".into(),
            ));
        };
        let place = OrderCommand::PlaceOrder {
            order_id,
            customer_id,
            lines: lines
                .iter()
                .map(|l| OrderLine {
                    product_id: l.product_id,
                    vendor_id: l.vendor_id,
                    quantity: l.quantity,
                    unit_price: l.unit_price.clone(),
                })
                .collect(),
            shipping_address: shipping_address.clone(),
            payment_token: payment_token.clone(),
        };
        let order_id_text = order_id.to_string();
        // The order id is new, so its stream is empty: nothing to load.
        let order_decided = state
            .orders
            .decide(&order_id_text, Loaded::default(), place, &metadata, &())
            .await?;
        match state
            .repository
            .append_decided(
                &[cart_decided.serialized(), order_decided.serialized()],
                &read,
            )
            .await
        {
            Ok(()) => {
                state.orders.committed();
                tracing::info!(%order_id, "cart checked out, order placed");
                return Ok((
                    StatusCode::ACCEPTED,
                    Json(CheckoutAccepted {
                        order_id: order_id.0,
                        accepted: Accepted {
                            aggregate_type: commerce_domain::order::Order::TYPE,
                            aggregate_id: order_id_text,
                            version: order_decided.version,
                            read_with: "min_version",
                        },
                    }),
                ));
            }
            Err(cqrs_es::persist::PersistenceError::OptimisticLockError) => {
                tracing::debug!(
                    attempt,
                    "cart or a product changed during checkout; retrying"
                );
            }
            Err(e) => {
                return Err(ApiError::from(
                    ExecuteError::<DomainError>::from_persistence(e),
                ))
            }
        }
    }
    Err(ApiError::Contended(format!(
        "the cart changed concurrently {CHECKOUT_ATTEMPTS} times during checkout"
    )))
}

#[cfg(test)]
mod tests {
    use commerce_domain::CountryCode;
    use serde_json::json;

    use super::*;
    use crate::routes::document_agreement::{document, documented_allows, text_samples};

    fn body() -> ShippingAddressBody {
        ShippingAddressBody {
            name: "Ada Lovelace".into(),
            line1: "12 St James's Square".into(),
            line2: None,
            city: "London".into(),
            region: None,
            postal_code: "SW1Y 4JH".into(),
            country: "GB".into(),
        }
    }

    /// The body with `part` set to `value`.
    fn with_part(part: &str, value: &str) -> ShippingAddressBody {
        let mut body = body();
        let value = value.to_owned();
        match part {
            "name" => body.name = value,
            "line1" => body.line1 = value,
            "line2" => body.line2 = Some(value),
            "city" => body.city = value,
            "region" => body.region = Some(value),
            "postal_code" => body.postal_code = value,
            "country" => body.country = value,
            other => panic!("no part {other}"),
        }
        body
    }

    fn samples(max: usize) -> Vec<String> {
        let mut samples = text_samples(max);
        samples.extend(CountryCode::ALL.iter().map(|c| (*c).to_owned()));
        samples
    }

    #[test]
    fn the_documented_address_schema_and_the_handler_agree_on_every_sample() {
        let document = document();
        let schema = &document["components"]["schemas"]["ShippingAddressBody"];
        assert_eq!(schema["additionalProperties"], false, "{schema}");
        assert_eq!(
            schema["required"],
            json!(["name", "line1", "city", "postal_code", "country"])
        );
        let parts = [
            ("name", ShippingAddress::NAME_MAX),
            ("line1", ShippingAddress::LINE_MAX),
            ("line2", ShippingAddress::LINE_MAX),
            ("city", ShippingAddress::CITY_MAX),
            ("region", ShippingAddress::REGION_MAX),
            ("postal_code", ShippingAddress::POSTAL_CODE_MAX),
            ("country", 2),
        ];
        for (part, max) in parts {
            let documented = &schema["properties"][part];
            for value in samples(max) {
                let accepted = with_part(part, &value).parse();
                assert_eq!(
                    documented_allows(documented, &json!(value)),
                    accepted.is_ok(),
                    "{part} = {value:?}: document {documented}, handler {accepted:?}"
                );
                if let Err(refused) = accepted {
                    assert_eq!(refused.field, format!("shipping_address.{part}"));
                }
            }
        }
        let text = &schema["properties"]["name"]["pattern"];
        assert_eq!(text, ShippingAddress::TEXT_PATTERN);
        assert_eq!(
            schema["properties"]["line2"]["pattern"],
            ShippingAddress::OPTIONAL_TEXT_PATTERN
        );
        assert_eq!(
            schema["properties"]["postal_code"]["pattern"],
            ShippingAddress::POSTAL_CODE_PATTERN
        );
    }
}
