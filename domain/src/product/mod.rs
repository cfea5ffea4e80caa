//! The Product aggregate: a vendor's listing, its price and whether the storefront shows it, and
//! the upcasters that read its older event shapes.
mod aggregate;
mod command;
mod event;
#[cfg(test)]
mod tests;
mod upcaster;

pub use aggregate::Product;
pub use command::{ProductCommand, ProductDetails};
pub use event::ProductEvent;
pub use upcaster::{product_upcasters, UNCATEGORIZED};
