//! Products: listing, pricing and publishing (command API) and the storefront catalog (read API).
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::endpoint::{endpoint, QueryString};
use crate::{Accepted, ClientError, CommandOptions, CommerceClient, Money};

/// A product to list; it starts unpublished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewProduct {
    /// 1 to 64 of `A-Z a-z 0-9 . _ -`, unique per vendor.
    pub sku: String,
    /// 1 to 200 characters.
    pub title: String,
    /// Up to 5000 characters; may be empty.
    #[serde(default)]
    pub description: String,
    /// A slug of `a-z 0-9 -`, the storefront's browsing index.
    pub category: String,
    pub price: Money,
    /// Only admins name the vendor; a vendor's token names its own, so vendors leave it `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<Uuid>,
}

/// The answer to [`CommerceClient::create_product`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductCreated {
    pub product_id: Uuid,
    pub aggregate_id: String,
    /// Pass as `min_version` to [`CommerceClient::get_product`] to read the new product.
    pub version: i64,
}

/// A product as the storefront reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDocument {
    pub product_id: Uuid,
    pub vendor_id: Uuid,
    #[serde(default)]
    pub sku: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category: String,
    pub price: Money,
    /// Unpublished products are visible only to their vendor and admins.
    #[serde(default)]
    pub published: bool,
    /// Units in stock (0 until stock is received).
    #[serde(default)]
    pub available: i64,
    /// The consistency token of product commands: compare with their `version`.
    pub version: i64,
    /// The consistency token of stock receipts: compare with their `version`.
    #[serde(default)]
    pub stock_version: i64,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// One page of published products, in creation order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPage {
    #[serde(default)]
    pub items: Vec<ProductDocument>,
    /// Put into [`ProductQuery::cursor`] for the next page; `None` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Filters for [`CommerceClient::list_products`]; unset ones are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductQuery {
    /// Only this category.
    pub category: Option<String>,
    /// Only this vendor's products.
    pub vendor_id: Option<Uuid>,
    /// Case-insensitive text in the title or description.
    pub q: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (the server's default is 20).
    pub limit: Option<u32>,
}

#[derive(Serialize)]
struct ChangePriceBody<'a> {
    price: &'a Money,
}

impl CommerceClient {
    /// `POST /v1/products` (vendor, admin).
    pub async fn create_product(
        &self,
        product: &NewProduct,
        options: &CommandOptions,
    ) -> Result<ProductCreated, ClientError> {
        self.command(Method::POST, "/v1/products", product, options)
            .await
    }

    /// `PUT /v1/products/{id}/price` (owning vendor, admin).
    pub async fn change_price(
        &self,
        product_id: Uuid,
        price: &Money,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/products/{product_id}/price");
        self.command(Method::PUT, &path, &ChangePriceBody { price }, options)
            .await
    }

    /// `POST /v1/products/{id}/publish`: shows the product in the storefront. Publishing a
    /// published product is accepted and leaves the version unchanged.
    pub async fn publish_product(
        &self,
        product_id: Uuid,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/products/{product_id}/publish");
        self.command_without_body(Method::POST, &path, options)
            .await
    }

    /// `POST /v1/products/{id}/unpublish`: hides the product from the storefront.
    pub async fn unpublish_product(
        &self,
        product_id: Uuid,
        options: &CommandOptions,
    ) -> Result<Accepted, ClientError> {
        let path = format!("/v1/products/{product_id}/unpublish");
        self.command_without_body(Method::POST, &path, options)
            .await
    }

    /// `GET /v1/catalog/products/{id}`, waiting up to 2 s for `min_version` (then 409).
    pub async fn get_product(
        &self,
        product_id: Uuid,
        min_version: Option<i64>,
    ) -> Result<ProductDocument, ClientError> {
        self.get_product_waiting(product_id, min_version, None)
            .await
    }

    /// `GET /v1/catalog/products/{id}` waiting (up to 2 s in all) for the product's
    /// `min_version` (a product command's answer), its `min_stock_version` (a stock receipt's
    /// answer, whose `read_with` names it), or both.
    pub async fn get_product_waiting(
        &self,
        product_id: Uuid,
        min_version: Option<i64>,
        min_stock_version: Option<i64>,
    ) -> Result<ProductDocument, ClientError> {
        self.read(product_url(
            self.read_api_base(),
            product_id,
            min_version,
            min_stock_version,
        ))
        .await
    }

    /// `GET /v1/catalog/products`: published products only.
    pub async fn list_products(&self, query: &ProductQuery) -> Result<ProductPage, ClientError> {
        self.read(list_products_url(self.read_api_base(), query))
            .await
    }
}

fn product_url(
    base: &str,
    product_id: Uuid,
    min_version: Option<i64>,
    min_stock_version: Option<i64>,
) -> String {
    QueryString::default()
        .param("min_version", min_version)
        .param("min_stock_version", min_stock_version)
        .append_to(endpoint(
            base,
            &format!("/v1/catalog/products/{product_id}"),
        ))
}

fn list_products_url(base: &str, query: &ProductQuery) -> String {
    QueryString::default()
        .param("category", query.category.as_deref())
        .param("vendor_id", query.vendor_id)
        .param("q", query.q.as_deref())
        .param("cursor", query.cursor.as_deref())
        .param("limit", query.limit)
        .append_to(endpoint(base, "/v1/catalog/products"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_products_url_encodes_every_set_filter_in_order() {
        let vendor = Uuid::from_u128(1);
        let query = ProductQuery {
            category: Some("apparel".into()),
            vendor_id: Some(vendor),
            q: Some("tee & shirt=1".into()),
            cursor: Some("0190-abc".into()),
            limit: Some(10),
        };
        assert_eq!(
            list_products_url("http://reads.test/", &query),
            format!(
                "http://reads.test/v1/catalog/products?category=apparel&vendor_id={vendor}\
                 &q=tee%20%26%20shirt%3D1&cursor=0190-abc&limit=10"
            )
        );
    }

    #[test]
    fn list_products_url_without_filters_has_no_query() {
        assert_eq!(
            list_products_url("http://reads.test", &ProductQuery::default()),
            "http://reads.test/v1/catalog/products"
        );
        let only_q = ProductQuery {
            q: Some("café".into()),
            ..ProductQuery::default()
        };
        assert_eq!(
            list_products_url("http://reads.test", &only_q),
            "http://reads.test/v1/catalog/products?q=caf%C3%A9"
        );
    }

    #[test]
    fn product_url_carries_min_version() {
        let id = Uuid::from_u128(2);
        assert_eq!(
            product_url("http://reads.test", id, Some(3), None),
            format!("http://reads.test/v1/catalog/products/{id}?min_version=3")
        );
        assert_eq!(
            product_url("http://reads.test", id, None, Some(4)),
            format!("http://reads.test/v1/catalog/products/{id}?min_stock_version=4")
        );
        assert_eq!(
            product_url("http://reads.test", id, None, None),
            format!("http://reads.test/v1/catalog/products/{id}")
        );
    }

    #[test]
    fn new_product_leaves_out_an_unset_vendor() {
        let product = NewProduct {
            sku: "TEE-001".into(),
            title: "Tee".into(),
            description: String::new(),
            category: "apparel".into(),
            price: Money::new(1999, "EUR"),
            vendor_id: None,
        };
        let json = serde_json::to_value(&product).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"sku": "TEE-001", "title": "Tee", "description": "",
                "category": "apparel", "price": {"amount_minor": 1999, "currency": "EUR"}})
        );
    }

    #[test]
    fn change_price_body_wraps_the_money() {
        let price = Money::new(2500, "EUR");
        let json = serde_json::to_value(ChangePriceBody { price: &price }).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"price": {"amount_minor": 2500, "currency": "EUR"}})
        );
    }

    #[test]
    fn product_document_tolerates_new_and_missing_fields() {
        let id = Uuid::from_u128(3);
        let json = serde_json::json!({
            "product_id": id, "vendor_id": Uuid::from_u128(4),
            "price": {"amount_minor": 100, "currency": "EUR"},
            "version": 5, "rating": 4.5
        });
        let doc: ProductDocument = serde_json::from_value(json).expect("decodes");
        assert_eq!(doc.product_id, id);
        assert_eq!(doc.version, 5);
        assert_eq!(doc.available, 0);
        assert!(!doc.published);
        assert_eq!(doc.updated_at, None);
    }

    #[test]
    fn product_page_decodes_the_last_page() {
        let page: ProductPage =
            serde_json::from_str(r#"{"items": [], "next_cursor": null}"#).expect("decodes");
        assert!(page.items.is_empty());
        assert_eq!(page.next_cursor, None);
    }
}
