//! Typed HTTP client for the commerce engine's public API (v1): commands go to the command API,
//! reads to the read API, and every refusal arrives as an RFC 7807 [`Problem`].
//!
//! # Layout
//! - `client`: [`CommerceClient`] (base URLs, bearer token, one pooled HTTP client) and
//!   [`CommandOptions`]; the single path every request takes out and every answer takes back.
//! - `error`: [`ClientError`] and [`Problem`]: how a refusal or an unreadable answer reaches you.
//! - `endpoint`: URL building (paths, percent-encoded query strings), pure so tests need no server.
//! - `wire`: shapes several aggregates share: [`Money`], [`ShippingAddress`] and the command
//!   answer [`Accepted`].
//! - `products`: product commands (create, price, publish) and catalog reads.
//! - `inventory`: stock receipts.
//! - `carts`: cart commands, checkout and cart reads.
//! - `orders`: order commands (cancel, ship a vendor's sub-order, request, accept and reject a
//!   return) and order and sub-order reads.
//! - `webhooks`: a vendor's webhook and its deliveries.
//! - `vendors`: a seller's application, the admins' decisions on it, and vendors' profiles.
//! - `accounts`: signing up, in and out (the auth service); roles and the audit log for admins.
//! - `ledger`: a vendor's balances, statement and payouts; the commission income (admins).
//! - `payouts`: the payout run that pays vendors their available balances (admins).
//! - `commissions`: the marketplace's commission rules, set and read back (admins; both on the
//!   command API).
//!
//! Read documents accept fields they do not know and default the ones they can live without, so a
//! server that adds fields never breaks a client built against an older one.
//!
//! # Reading your own write
//! Every accepted command answers a `version`; pass it as `min_version` to the matching read and
//! the read API waits (briefly) until its projection has caught up.
//!
//! ```no_run
//! use commerce_client::{ClientError, CommandOptions, CommerceClient, Money, NewProduct};
//!
//! async fn list_a_tee(token: &str) -> Result<(), ClientError> {
//!     let client = CommerceClient::new("http://localhost:8080", "http://localhost:8081")
//!         .with_token(token);
//!     let product = NewProduct {
//!         sku: "TEE-001".into(),
//!         title: "Organic cotton tee".into(),
//!         description: String::new(),
//!         category: "apparel".into(),
//!         price: Money::new(1999, "EUR"),
//!         vendor_id: None,
//!     };
//!     // The same key on a retry returns the first answer instead of creating a second product.
//!     let options = CommandOptions::idempotent("create-tee-001");
//!     let created = client.create_product(&product, &options).await?;
//!     let doc = client
//!         .get_product(created.product_id, Some(created.version))
//!         .await?;
//!     assert_eq!(doc.sku, "TEE-001");
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]

mod accounts;
mod carts;
mod client;
mod commissions;
mod endpoint;
mod error;
mod inventory;
mod ledger;
mod orders;
mod payouts;
mod products;
mod vendors;
mod webhooks;
mod wire;

pub use accounts::{Account, AuditEntry, AuditPage, AuditQuery, TokenPair};
pub use carts::{CartCreated, CartDocument, CartItem, CheckoutAccepted};
pub use client::{CommandOptions, CommerceClient};
pub use commissions::{CommissionRule, CommissionRules, CommissionRulesDocument};
pub use error::{ClientError, Problem};
pub use ledger::{
    CommissionIncome, CurrencyBalance, CurrencyIncome, Payout, PayoutPage, StatementEntry,
    StatementLine, StatementPage, VendorBalance,
};
pub use orders::{
    CancelReason, OrderDocument, OrderLine, OrderPage, OrderQuery, OrderReturn, OrderStatus,
    ReturnItem, ReturnLine, ReturnRequested, ReturnStatus, StatusChange, SubOrder, SubOrderView,
};
pub use payouts::{PayoutFailure, PayoutMade, PayoutRunReport};
pub use products::{NewProduct, ProductCreated, ProductDocument, ProductPage, ProductQuery};
pub use vendors::{
    VendorApplication, VendorCreated, VendorDecision, VendorPage, VendorProfile, VendorQuery,
};
pub use webhooks::{Webhook, WebhookDelivery};
pub use wire::{Accepted, Money, ShippingAddress};
