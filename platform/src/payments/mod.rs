//! The payment provider behind an adapter trait, its HTTP client and the local simulator.
//!
//! # Layout
//! - `mod.rs`: `PaymentProvider`, what the saga asks of a card provider, and `ProviderError`, the
//!   three ways it can say no (final, retryable, a bug).
//! - `http`: `HttpPaymentProvider`, the provider over HTTP, with its status-to-error mapping.
//! - `simulator`: `PaymentSimulator`, a local provider service with test card tokens and fault
//!   injection, for tests and for running the system without a real provider.
use commerce_domain::Money;
use uuid::Uuid;

pub mod http;
pub mod simulator;

pub use http::HttpPaymentProvider;
pub use simulator::{
    PaymentRecord, PaymentSimulator, SimulatedPaymentStatus, SimulatorHandle, TransferRecord,
};

/// Why the provider did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The payment method was refused; final: asking again gets the same answer.
    #[error("declined: {reason}")]
    Declined { reason: String },
    /// No answer in time, a connection failure, or a failure the provider calls transient (5xx,
    /// 429): the same call may be retried, and is harmless to repeat (every call is idempotent).
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request itself (4xx other than a decline): a bug or a state
    /// mismatch; retrying will not help.
    #[error("provider refused the request: {0}")]
    Rejected(String),
}

/// A payment provider: card payments for the saga, transfers to vendors for payouts. Every call
/// is keyed by a deterministic id (the saga's `payment_id` and `refund_id`, a payout's id), so a
/// retried call after a crash or a timeout never charges, refunds or pays twice.
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// Holds `amount` on the payment method `token`.
    async fn authorize(
        &self,
        payment_id: Uuid,
        token: &str,
        amount: &Money,
    ) -> Result<(), ProviderError>;

    /// Takes the authorized money; `amount` must be what was authorized.
    async fn capture(&self, payment_id: Uuid, amount: &Money) -> Result<(), ProviderError>;

    /// Lets an authorization go. Voiding a payment the provider never authorized (e.g. an
    /// authorize that timed out before reaching it) succeeds and does nothing.
    async fn void(&self, payment_id: Uuid) -> Result<(), ProviderError>;

    /// Gives `amount` of a captured payment back.
    async fn refund(
        &self,
        payment_id: Uuid,
        refund_id: Uuid,
        amount: &Money,
    ) -> Result<(), ProviderError>;

    /// Pays `amount` to vendor `vendor_id` as transfer `transfer_id` (a payout's id): a repeat
    /// of the same transfer pays nothing more.
    async fn transfer(
        &self,
        transfer_id: Uuid,
        vendor_id: Uuid,
        amount: &Money,
    ) -> Result<(), ProviderError>;
}
