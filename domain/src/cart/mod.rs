//! The Cart aggregate: a customer's chosen products, priced as last seen, until checkout hands
//! them to an order; and the upcasters that read its older event shapes.
mod aggregate;
mod command;
mod event;
#[cfg(test)]
mod tests;
mod upcaster;

pub use aggregate::Cart;
pub use command::CartCommand;
pub use event::CartEvent;
pub use upcaster::cart_upcasters;
