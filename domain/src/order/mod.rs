//! The Order aggregate: what a customer bought, from which vendors, and where it is in its life
//! (pending, confirmed, shipped or cancelled); and the upcasters that read its older event shapes.
mod aggregate;
mod command;
mod event;
mod line;
mod status;
#[cfg(test)]
mod tests;
mod upcaster;

pub use aggregate::Order;
pub use command::OrderCommand;
pub use event::OrderEvent;
pub(crate) use line::{price_lines, total_of};
pub use line::{OrderLine, PricedLine};
pub use status::{CancelReason, OrderStatus};
pub use upcaster::order_upcasters;
