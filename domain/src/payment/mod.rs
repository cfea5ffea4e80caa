//! The Payment aggregate: money authorized for an order, then captured or voided, then perhaps
//! refunded in parts.
mod aggregate;
mod command;
mod event;
mod status;
#[cfg(test)]
mod tests;

pub use aggregate::Payment;
pub use command::PaymentCommand;
pub use event::PaymentEvent;
pub use status::PaymentStatus;
