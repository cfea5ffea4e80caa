use serde::{Deserialize, Serialize};

/// Where an order is in its life. `Shipped` and `Cancelled` are final. `PartiallyShipped`: some
/// vendors' sub-orders are shipped, others are not yet (an order's status only; a sub-order is
/// shipped or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    PartiallyShipped,
    Shipped,
    Cancelled,
}

impl OrderStatus {
    /// The status as the public API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

/// Why an order was cancelled; reported to customers and counted by analytics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    OutOfStock,
    PaymentDeclined,
    PaymentTimeout,
    CustomerRequest,
    Admin,
}

impl CancelReason {
    /// Every reason, in the order the API document lists them.
    pub const ALL: [CancelReason; 5] = [
        CancelReason::OutOfStock,
        CancelReason::PaymentDeclined,
        CancelReason::PaymentTimeout,
        CancelReason::CustomerRequest,
        CancelReason::Admin,
    ];

    /// The reason the API spells `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == name)
    }

    /// The reason as the public API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::OutOfStock => "out_of_stock",
            CancelReason::PaymentDeclined => "payment_declined",
            CancelReason::PaymentTimeout => "payment_timeout",
            CancelReason::CustomerRequest => "customer_request",
            CancelReason::Admin => "admin",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cancel_reason_parses_from_the_name_it_is_stored_under() {
        for reason in CancelReason::ALL {
            let stored = serde_json::to_value(reason).unwrap();
            assert_eq!(stored, reason.as_str());
            assert_eq!(CancelReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(CancelReason::parse(""), None);
        assert_eq!(CancelReason::parse("Admin"), None);
    }
}
