//! The vendors' ledger, double-entry and event-sourced: every money movement of a sale is an
//! event whose entries sum to zero in each currency, over the marketplace's accounts (the
//! customer payments clearing account, the commission income account) and the vendor's
//! (pending, available, paid out).
//!
//! Its streams are kept small and uncontended: one per vendor's part of an order
//! ([`VendorSale`]: credited when the payment is captured, released after shipment and the hold
//! period, reversed by returns, marked paid by payouts), and one per vendor for its payouts
//! ([`VendorPayouts`]). A popular vendor's sales never wait on each other, and no stream grows
//! with a vendor's history. Balances are the sums of the entries, a read model's job.
//!
//! - A captured payment credits the vendor its share of its lines (line totals minus the
//!   commission fixed at confirmation) as pending: clearing −gross, pending +share, commission
//!   +commission.
//! - Once its sub-order has shipped and the hold period has passed, the share becomes
//!   available: pending −share, available +share.
//! - A payout is started with its items (each sale's payable amount, fixed then) and its total;
//!   each item is marked paid on its sale (available −item, paid out +item, once per payout),
//!   the provider transfers the total under the payout's id, and the payout is completed. A run
//!   stopped anywhere finds the open payout and finishes it, so a vendor is paid once.
//! - An accepted return reverses the vendor's share and the commission of the returned units:
//!   clearing +refund, pending (or available once released, even below zero after a payout)
//!   −share, commission −commission. The next payout nets a negative sale.
//!
//! So for every currency, at every moment: payments captured minus refunds (−clearing) equals the
//! vendors' balances plus their payouts plus the commission income.
mod account;
mod payouts;
mod sale;
#[cfg(test)]
mod tests;

pub use account::{Account, Balances, Entry};
pub use payouts::{OpenPayout, PayoutItem, PayoutsCommand, PayoutsEvent, VendorPayouts};
pub use sale::{CreditedLine, ReturnedLine, SaleCommand, SaleEvent, VendorSale};
