//! The commerce domain: aggregates, their commands and events, and the value types they are made of.
//!
//! # Layout
//! - `values`: validated value types (money and its checked arithmetic, currency, quantity, SKU,
//!   titles, tokens, ids) parsed once at the edge.
//! - `address`: the shipping address in validated parts, its ISO 3166-1 country code, and how
//!   addresses stored as one free-text string are read.
//! - `actor`: who issues a command (vendor, customer, admin, the system), so ownership rules live
//!   with the aggregate that owns the data.
//! - `error`: the typed rejection an aggregate answers with, and the category a transport maps it to.
//! - `product`: the Product aggregate (create, change price, publish, unpublish) and its upcasters.
//! - `inventory`: the Inventory aggregate, one per product (receive stock, reserve, release, commit).
//! - `cart`: the Cart aggregate (create, add, change quantity, remove, check out).
//! - `order`: the Order aggregate (place, confirm, cancel, ship) and the order lines carts share.
//! - `payment`: the Payment aggregate (authorize, capture, void, refund).
//! - `vendor`: the Vendor aggregate (apply, approve, suspend, reinstate, each with a reason).
//! - `personal_data`: which event fields hold personal data and whose (sealed by the store).
//!
//! This crate does no I/O: it is pure logic on `cqrs-es`, tested with its given/when/then framework
//! and, for the stock and cart invariants, with property tests.
#![forbid(unsafe_code)]

mod actor;
mod address;
pub mod cart;
pub mod commission;
mod error;
pub mod inventory;
pub mod ledger;
pub mod order;
pub mod payment;
pub mod personal_data;
pub mod product;
mod values;
pub mod vendor;

pub use actor::Actor;
pub use address::{AddressParts, CountryCode, ShippingAddress, Withheld, ERASED, SEALED};
pub use error::{DomainError, RejectionKind, ValidationError};
pub use values::{
    CartId, Category, ContactEmail, Currency, CustomerId, Description, Money, OrderId, PaymentId,
    PaymentToken, PayoutId, ProductId, Quantity, Reason, RefundId, ReturnId, Sku, Title,
    TrackingNumber, UserId, VendorId, VendorName,
};
