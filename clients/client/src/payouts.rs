//! The payout run (command API): admins release the sales past their hold and pay each vendor
//! its available balance, once.
use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ClientError, CommandOptions, CommerceClient};

/// What a payout run did: the answer to [`CommerceClient::run_payouts`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutRunReport {
    /// The run's id (its correlation id): the audit log and the payouts' events carry it.
    pub run_id: Uuid,
    /// Sales released by this run: their sub-order shipped longer ago than the hold period.
    #[serde(default)]
    pub released: u64,
    /// One per vendor and currency paid, including payouts an earlier run had left open.
    #[serde(default)]
    pub payouts: Vec<PayoutMade>,
    /// Vendors this run could not pay; the next run pays them (nobody is paid twice).
    #[serde(default)]
    pub failures: Vec<PayoutFailure>,
}

/// One payout a run made (or finished).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutMade {
    pub vendor_id: Uuid,
    /// Also the payment provider's transfer id, so a retried transfer is never paid twice.
    pub payout_id: Uuid,
    /// ISO 4217 code of `amount_minor`.
    pub currency: String,
    /// Minor units (cents for EUR).
    pub amount_minor: i64,
    /// How many of the vendor's sales it pays.
    #[serde(default)]
    pub sales: u64,
}

/// A vendor a run could not pay, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutFailure {
    pub vendor_id: Uuid,
    #[serde(default)]
    pub error: String,
}

impl CommerceClient {
    /// `POST /v1/payouts/runs` (admin): runs the payout run now and answers once it is over. It
    /// takes as long as the payment provider's transfers do: give the client a timeout to match
    /// ([`CommerceClient::with_http_client`]). A run cut short by a lost answer goes on in the
    /// server, and running again pays nobody twice.
    pub async fn run_payouts(
        &self,
        options: &CommandOptions,
    ) -> Result<PayoutRunReport, ClientError> {
        self.command_without_body(Method::POST, "/v1/payouts/runs", options)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_report_reads_payouts_and_failures() {
        let vendor = Uuid::from_u128(1);
        let report: PayoutRunReport = serde_json::from_value(serde_json::json!({
            "run_id": Uuid::from_u128(9), "released": 3,
            "payouts": [{"vendor_id": vendor, "payout_id": Uuid::from_u128(2),
                "currency": "EUR", "amount_minor": 4500, "sales": 2}],
            "failures": [{"vendor_id": Uuid::from_u128(3), "error": "provider unavailable"}]
        }))
        .expect("decodes");
        assert_eq!(report.released, 3);
        assert_eq!(report.payouts[0].vendor_id, vendor);
        assert_eq!(report.payouts[0].amount_minor, 4500);
        assert_eq!(report.payouts[0].sales, 2);
        assert_eq!(report.failures[0].error, "provider unavailable");
        let quiet: PayoutRunReport =
            serde_json::from_value(serde_json::json!({"run_id": Uuid::nil()})).expect("decodes");
        assert!(quiet.payouts.is_empty() && quiet.failures.is_empty());
    }
}
