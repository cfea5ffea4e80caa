//! The Order aggregate: what a customer bought, from which vendors, and where it is in its life
//! (pending, confirmed, partially shipped, shipped or cancelled), split into one sub-order per
//! vendor that each vendor ships; the returns of shipped goods; and the upcasters that read its
//! older event shapes.
mod aggregate;
mod command;
mod event;
mod line;
mod returns;
mod status;
mod sub_order;
#[cfg(test)]
mod tests;
mod upcaster;

pub use aggregate::Order;
pub use command::OrderCommand;
pub use event::OrderEvent;
pub(crate) use line::{price_lines, total_of};
pub use line::{OrderLine, PricedLine};
pub use returns::{OrderReturn, ReturnLine, ReturnStatus};
pub use status::{CancelReason, OrderStatus};
pub use sub_order::{split_by_vendor, SubOrder};
pub use upcaster::order_upcasters;
