//! The Cart aggregate: a customer's chosen products, priced as last seen, until checkout hands
//! them to an order.
mod aggregate;
mod command;
mod event;
#[cfg(test)]
mod tests;

pub use aggregate::Cart;
pub use command::CartCommand;
pub use event::CartEvent;
