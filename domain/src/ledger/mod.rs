//! A vendor's ledger, double-entry and event-sourced: every money movement of a sale is an event
//! whose entries sum to zero in each currency, over the marketplace's accounts (the customer
//! payments clearing account, the commission income account) and the vendor's (pending,
//! available, paid out).
//!
//! - A captured payment credits the vendor its share of its lines (line totals minus the
//!   commission fixed at confirmation) as pending: clearing −gross, pending +share, commission
//!   +commission.
//! - Once its sub-order has shipped and the hold period has passed, the order's pending share
//!   becomes available.
//! - A payout is started (its amount fixed: what is available), paid through the provider under
//!   its id, then recorded: available −amount, paid out +amount. A run stopped in between finds
//!   the started payout and completes it, so a vendor is paid once.
//! - An accepted return reverses the vendor's share and the commission of the returned units:
//!   clearing +refund, pending (or available, once released, even below zero) −share,
//!   commission −commission. A negative available balance is netted by the next payout.
//!
//! So for every currency, at every moment: payments captured minus refunds (−clearing) equals the
//! vendors' balances plus their payouts plus the commission income.
mod account;
mod aggregate;
#[cfg(test)]
mod tests;

pub use account::{Account, Balances, Entry};
pub use aggregate::{CreditedLine, LedgerCommand, LedgerEvent, ReturnedLine, VendorLedger};
