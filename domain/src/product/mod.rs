//! The Product aggregate: a vendor's listing, its price and whether the storefront shows it.
mod aggregate;
mod command;
mod event;
#[cfg(test)]
mod tests;

pub use aggregate::Product;
pub use command::{ProductCommand, ProductDetails};
pub use event::ProductEvent;
