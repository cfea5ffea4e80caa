//! The Inventory aggregate: a product's stock on hand and the units reserved for open orders.
mod aggregate;
mod command;
mod event;
#[cfg(test)]
mod tests;

pub use aggregate::Inventory;
pub use command::InventoryCommand;
pub use event::InventoryEvent;
