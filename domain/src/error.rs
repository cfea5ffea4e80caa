/// How a transport should treat a rejection. The domain decides the category; the HTTP layer maps
/// each category to one status in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// The addressed aggregate does not exist.
    NotFound,
    /// The actor may not act on this aggregate.
    Forbidden,
    /// The command conflicts with the aggregate's current state (e.g. it already exists).
    Conflict,
    /// A business rule or a value constraint says no.
    Unprocessable,
}

/// A value failed its constraints while being parsed at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    /// The offending field, named as the public API names it (`price.amount_minor`,
    /// `vendors.<id>.cap`).
    pub field: std::borrow::Cow<'static, str>,
    /// What is wrong with it, in words a client developer can act on.
    pub reason: String,
}

impl ValidationError {
    pub fn new(
        field: impl Into<std::borrow::Cow<'static, str>>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A refused text value as an error message shows it: quoted and escaped, cut after 40
/// characters so a megabyte of input does not come back in the answer.
pub(crate) fn quoted(value: &str) -> String {
    const SHOWN: usize = 40;
    if value.chars().count() <= SHOWN {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(SHOWN).collect();
        format!("{head:?}…")
    }
}

/// Why an aggregate refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{aggregate} does not exist")]
    NotFound { aggregate: &'static str },
    #[error("{aggregate} {id} already exists")]
    AlreadyExists { aggregate: &'static str, id: String },
    #[error("the caller does not own {aggregate} {id}")]
    NotOwner { aggregate: &'static str, id: String },
    #[error("the caller may not {action}")]
    NotPermitted { action: &'static str },
    #[error(
        "vendor {vendor_id} is {status}: only an approved vendor may list or publish products"
    )]
    VendorMayNotSell {
        vendor_id: String,
        status: &'static str,
    },
    #[error("order {order_id} has no lines of vendor {vendor_id}")]
    NoSubOrder { order_id: String, vendor_id: String },
    #[error(
        "order {order_id} holds the lines of {vendors} vendors, each shipped on its own: name \
         the vendor whose sub-order ships"
    )]
    VendorNotNamed { order_id: String, vendors: usize },
    #[error("{field}: {reason}")]
    InconsistentCommissionRule { field: String, reason: String },
    #[error("the ledger holds no sale of order {order_id}")]
    NoSale { order_id: String },
    #[error("order {order_id} is held until {until}")]
    HoldNotOver { order_id: String, until: String },
    #[error("payout {payout_id} is open: complete it first")]
    PayoutOpen { payout_id: String },
    #[error("nothing to pay in {currency}: {available_minor} minor units available")]
    NothingToPay {
        currency: String,
        available_minor: i64,
    },
    #[error("the sale of order {order_id} is not released yet")]
    NotReleased { order_id: String },
    #[error("no payout {payout_id}")]
    NoPayout { payout_id: String },
    #[error("product {product_id} is not in the order")]
    NotInOrder { product_id: String },
    #[error("order {order_id} has no return {return_id}")]
    NoReturn { order_id: String, return_id: String },
    #[error("return {return_id} was already requested with other lines")]
    ReturnIdTaken { return_id: String },
    #[error("vendor {vendor_id}'s part of order {order_id} has not shipped: only shipped goods are returned")]
    NotShipped { order_id: String, vendor_id: String },
    #[error(
        "only {left} units of product {product_id} are left to return, {requested} were asked"
    )]
    ReturnExceedsSale {
        product_id: String,
        left: u32,
        requested: u32,
    },
    #[error("currency {given} differs from the expected currency {expected}")]
    CurrencyMismatch { expected: String, given: String },
    #[error("the amount would exceed {max_minor} minor units")]
    AmountTooLarge { max_minor: i64 },
    #[error("{aggregate} cannot go from {from} to {to}")]
    IllegalTransition {
        aggregate: &'static str,
        from: &'static str,
        to: &'static str,
    },
    #[error("only {available} units are available, {requested} were requested")]
    OutOfStock { requested: u32, available: u64 },
    #[error("order {order_id} already holds {reserved} units, not {requested}")]
    ReservationConflict {
        order_id: String,
        reserved: u32,
        requested: u32,
    },
    #[error("product {product_id} is not available for sale")]
    ProductNotAvailable { product_id: String },
    #[error("a line may hold at most {max} units, {requested} were requested")]
    LineQuantityLimit { max: u32, requested: u64 },
    #[error("a cart may hold at most {max} lines")]
    CartLineLimit { max: usize },
    #[error("product {product_id} is not in the cart")]
    NotInCart { product_id: String },
    #[error("product {product_id} appears on more than one line")]
    DuplicateLine { product_id: String },
    #[error("{aggregate} has no lines")]
    NoLines { aggregate: &'static str },
    #[error("cart {id} is checked out and accepts no more changes")]
    CartCheckedOut { id: String },
    #[error("amount {given_minor} differs from the authorized {expected_minor} minor units")]
    AmountMismatch {
        expected_minor: i64,
        given_minor: i64,
    },
    #[error(
        "a refund of {requested_minor} exceeds the {refundable_minor} minor units left to refund"
    )]
    RefundExceedsCapture {
        refundable_minor: i64,
        requested_minor: i64,
    },
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

impl DomainError {
    pub fn kind(&self) -> RejectionKind {
        match self {
            DomainError::NotFound { .. }
            | DomainError::NotInCart { .. }
            | DomainError::NoSubOrder { .. }
            | DomainError::NoSale { .. }
            | DomainError::NoPayout { .. }
            | DomainError::NoReturn { .. } => RejectionKind::NotFound,
            DomainError::NotOwner { .. }
            | DomainError::NotPermitted { .. }
            | DomainError::VendorMayNotSell { .. } => RejectionKind::Forbidden,
            DomainError::AlreadyExists { .. }
            | DomainError::IllegalTransition { .. }
            | DomainError::ReservationConflict { .. }
            | DomainError::CartCheckedOut { .. }
            | DomainError::HoldNotOver { .. }
            | DomainError::PayoutOpen { .. }
            | DomainError::NothingToPay { .. }
            | DomainError::NotReleased { .. }
            | DomainError::ReturnIdTaken { .. }
            | DomainError::NotShipped { .. } => RejectionKind::Conflict,
            DomainError::CurrencyMismatch { .. }
            | DomainError::AmountTooLarge { .. }
            | DomainError::OutOfStock { .. }
            | DomainError::ProductNotAvailable { .. }
            | DomainError::LineQuantityLimit { .. }
            | DomainError::CartLineLimit { .. }
            | DomainError::DuplicateLine { .. }
            | DomainError::NoLines { .. }
            | DomainError::VendorNotNamed { .. }
            | DomainError::InconsistentCommissionRule { .. }
            | DomainError::NotInOrder { .. }
            | DomainError::ReturnExceedsSale { .. }
            | DomainError::AmountMismatch { .. }
            | DomainError::RefundExceedsCapture { .. }
            | DomainError::Invalid(_) => RejectionKind::Unprocessable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rejection_maps_to_the_category_the_api_promises() {
        let cases = [
            (
                DomainError::NotFound { aggregate: "Order" },
                RejectionKind::NotFound,
            ),
            (
                DomainError::NotInCart {
                    product_id: "p".into(),
                },
                RejectionKind::NotFound,
            ),
            (
                DomainError::NotOwner {
                    aggregate: "Cart",
                    id: "c".into(),
                },
                RejectionKind::Forbidden,
            ),
            (
                DomainError::NotPermitted { action: "ship" },
                RejectionKind::Forbidden,
            ),
            (
                DomainError::VendorMayNotSell {
                    vendor_id: "v".into(),
                    status: "pending",
                },
                RejectionKind::Forbidden,
            ),
            (
                DomainError::AlreadyExists {
                    aggregate: "Cart",
                    id: "c".into(),
                },
                RejectionKind::Conflict,
            ),
            (
                DomainError::IllegalTransition {
                    aggregate: "Order",
                    from: "shipped",
                    to: "cancelled",
                },
                RejectionKind::Conflict,
            ),
            (
                DomainError::ReservationConflict {
                    order_id: "o".into(),
                    reserved: 1,
                    requested: 2,
                },
                RejectionKind::Conflict,
            ),
            (
                DomainError::CartCheckedOut { id: "c".into() },
                RejectionKind::Conflict,
            ),
            (
                DomainError::OutOfStock {
                    requested: 2,
                    available: 1,
                },
                RejectionKind::Unprocessable,
            ),
            (
                DomainError::NoLines { aggregate: "Cart" },
                RejectionKind::Unprocessable,
            ),
            (
                DomainError::CartLineLimit { max: 100 },
                RejectionKind::Unprocessable,
            ),
            (
                DomainError::AmountMismatch {
                    expected_minor: 1,
                    given_minor: 2,
                },
                RejectionKind::Unprocessable,
            ),
            (
                DomainError::Invalid(ValidationError::new("quantity", "must be at least 1")),
                RejectionKind::Unprocessable,
            ),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
    }
}
