//! The commerce domain: aggregates, their commands and events, and the value types they are made of.
//!
//! # Layout
//! - `values`: validated value types (money, currency, SKU, titles, ids) parsed once at the edge.
//! - `actor`: who issues a command, so ownership rules live with the aggregate that owns the data.
//! - `error`: the typed rejection an aggregate answers with, and the category a transport maps it to.
//! - `product`: the Product aggregate (create, change price, publish, unpublish).
//!
//! This crate does no I/O: it is pure logic on `cqrs-es`, tested with its given/when/then framework.
#![forbid(unsafe_code)]

mod actor;
mod error;
pub mod product;
mod values;

pub use actor::Actor;
pub use error::{DomainError, RejectionKind, ValidationError};
pub use values::{Category, Currency, Description, Money, ProductId, Sku, Title, VendorId};
