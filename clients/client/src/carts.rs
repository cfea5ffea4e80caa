//! Carts: creating and filling a cart, checking it out (command API), and reading it (read API).
use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::endpoint::single_read_url;
use crate::{Accepted, ClientError, CommandOptions, CommerceClient, Money, ShippingAddress};

/// The answer to [`CommerceClient::create_cart`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartCreated {
    pub cart_id: Uuid,
    pub aggregate_id: String,
    /// Pass as `min_version` to [`CommerceClient::get_cart`].
    pub version: i64,
}

/// The answer to [`CommerceClient::checkout`]: the order exists (pending) but payment and stock
/// are settled asynchronously, so follow it with [`CommerceClient::get_order`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutAccepted {
    pub order_id: Uuid,
    /// The cart's aggregate id: `version` is the cart's, not the order's.
    pub aggregate_id: String,
    pub version: i64,
}

/// A cart as its owner reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartDocument {
    pub cart_id: Uuid,
    /// The owner; optional because the contract's cart answer does not promise it.
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    #[serde(default)]
    pub items: Vec<CartItem>,
    /// Absent while the cart is empty.
    #[serde(default)]
    pub total: Option<Money>,
    /// Whether the cart is still open; kept as text because the contract does not list values.
    #[serde(default)]
    pub status: Option<String>,
    pub version: i64,
}

/// One line of a cart. `unit_price` is the price when added; checkout takes the current one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartItem {
    pub product_id: Uuid,
    pub quantity: u32,
    pub unit_price: Money,
}

/// `POST /v1/carts` takes an empty object, not an empty body.
#[derive(Serialize)]
struct NewCartBody {}

#[derive(Serialize)]
struct AddItemBody {
    product_id: Uuid,
    quantity: u32,
}

#[derive(Serialize)]
struct QuantityBody {
    quantity: u32,
}

#[derive(Serialize)]
struct CheckoutBody<'a> {
    shipping_address: &'a ShippingAddress,
    payment_token: &'a str,
}

impl CommerceClient {
    /// `POST /v1/carts` (customer): an empty cart owned by the token's holder.
    pub async fn create_cart(&self, options: &CommandOptions) -> Result<CartCreated, ClientError> {
        self.command(Method::POST, "/v1/carts", &NewCartBody {}, options)
            .await
    }

    /// `POST /v1/carts/{id}/items`: adds units of a published product (or more units to its line).
    pub async fn add_cart_item(
        &self,
        cart_id: Uuid,
        product_id: Uuid,
        quantity: u32,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/carts/{cart_id}/items");
        let body = AddItemBody {
            product_id,
            quantity,
        };
        self.command(Method::POST, &path, &body, options).await
    }

    /// `PUT /v1/carts/{id}/items/{product_id}`: sets the line's quantity; 0 removes the line.
    pub async fn change_cart_item(
        &self,
        cart_id: Uuid,
        product_id: Uuid,
        quantity: u32,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/carts/{cart_id}/items/{product_id}");
        self.command(Method::PUT, &path, &QuantityBody { quantity }, options)
            .await
    }

    /// `DELETE /v1/carts/{id}/items/{product_id}`: removing an absent line is not an error.
    pub async fn remove_cart_item(
        &self,
        cart_id: Uuid,
        product_id: Uuid,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/carts/{cart_id}/items/{product_id}");
        self.command_without_body(Method::DELETE, &path, options)
            .await
    }

    /// `POST /v1/carts/{id}/checkout` (202): closes the cart and starts an order. With the local
    /// payment simulator, `payment_token` is `tok_ok`, `tok_decline` or `tok_timeout`.
    pub async fn checkout(
        &self,
        cart_id: Uuid,
        shipping_address: &ShippingAddress,
        payment_token: &str,
        options: &CommandOptions,
    ) -> Result<CheckoutAccepted, ClientError> {
        let path = format!("/v1/carts/{cart_id}/checkout");
        let body = CheckoutBody {
            shipping_address,
            payment_token,
        };
        self.command(Method::POST, &path, &body, options).await
    }

    /// `GET /v1/carts/{id}` (cart owner), waiting up to 2 s for `min_version` (then 409).
    pub async fn get_cart(
        &self,
        cart_id: Uuid,
        min_version: Option<i64>,
    ) -> Result<CartDocument, ClientError> {
        self.read(cart_url(self.read_api_base(), cart_id, min_version))
            .await
    }
}

fn cart_url(base: &str, cart_id: Uuid, min_version: Option<i64>) -> String {
    single_read_url(base, &format!("/v1/carts/{cart_id}"), min_version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_bodies_match_the_contract() {
        let product_id = Uuid::from_u128(1);
        assert_eq!(serde_json::to_value(NewCartBody {}).ok(), Some(json!({})));
        assert_eq!(
            serde_json::to_value(AddItemBody {
                product_id,
                quantity: 2
            })
            .ok(),
            Some(json!({"product_id": product_id, "quantity": 2}))
        );
        assert_eq!(
            serde_json::to_value(QuantityBody { quantity: 0 }).ok(),
            Some(json!({"quantity": 0}))
        );
        let address = ShippingAddress {
            name: "Ada Lovelace".into(),
            line1: "1 Main St".into(),
            line2: None,
            city: "Springfield".into(),
            region: Some("IL".into()),
            postal_code: "62701".into(),
            country: "US".into(),
        };
        assert_eq!(
            serde_json::to_value(CheckoutBody {
                shipping_address: &address,
                payment_token: "tok_ok"
            })
            .ok(),
            Some(json!({
                "shipping_address": {"name": "Ada Lovelace", "line1": "1 Main St",
                    "city": "Springfield", "region": "IL", "postal_code": "62701",
                    "country": "US"},
                "payment_token": "tok_ok"
            }))
        );
    }

    #[test]
    fn cart_url_carries_min_version() {
        let id = Uuid::from_u128(2);
        assert_eq!(
            cart_url("http://reads.test", id, Some(4)),
            format!("http://reads.test/v1/carts/{id}?min_version=4")
        );
    }

    #[test]
    fn an_empty_cart_decodes_without_total_or_status() {
        let id = Uuid::from_u128(3);
        let doc: CartDocument =
            serde_json::from_value(json!({"cart_id": id, "items": [], "version": 1}))
                .expect("decodes");
        assert_eq!(doc.cart_id, id);
        assert_eq!(doc.total, None);
        assert_eq!(doc.customer_id, None);
    }
}
