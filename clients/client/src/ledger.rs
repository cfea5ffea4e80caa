//! The vendors' ledger (read API): a vendor's balances, statement and payouts (the vendor itself
//! and admins), and the marketplace's commission income (admins). Amounts are integer minor units
//! of the `currency` beside them.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::endpoint::{endpoint, QueryString};
use crate::{ClientError, CommerceClient};

/// A vendor's balances, one per currency it has sold in (none before its first paid sale).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorBalance {
    pub vendor_id: Uuid,
    #[serde(default)]
    pub balances: Vec<CurrencyBalance>,
}

/// A vendor's balances in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyBalance {
    pub currency: String,
    /// Its share of sales not released yet (not shipped, or within the hold period).
    #[serde(default)]
    pub pending_minor: i64,
    /// What the next payout pays; negative when returns after a payout took back more.
    #[serde(default)]
    pub available_minor: i64,
    /// Everything paid out so far.
    #[serde(default)]
    pub paid_out_minor: i64,
}

/// One page of a vendor's statement, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementPage {
    #[serde(default)]
    pub items: Vec<StatementEntry>,
    /// Pass as `cursor` to [`CommerceClient::vendor_statement`] for the next (older) page;
    /// `None` on the last.
    #[serde(default)]
    pub next_cursor: Option<Uuid>,
}

/// One ledger event of a vendor: why, for which order, and what it moved on each account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementEntry {
    pub event_id: Uuid,
    pub at: DateTime<Utc>,
    /// `sale_credited` (a payment captured), `funds_released` (shipped, hold over),
    /// `return_reversed` (a return or a cancellation refunded) or `share_paid_out` (a payout).
    pub reason: String,
    pub order_id: Uuid,
    /// The return a `return_reversed` entry refunds.
    #[serde(default)]
    pub return_id: Option<Uuid>,
    /// The payout a `share_paid_out` entry belongs to.
    #[serde(default)]
    pub payout_id: Option<Uuid>,
    pub currency: String,
    #[serde(default)]
    pub pending_minor: i64,
    #[serde(default)]
    pub available_minor: i64,
    #[serde(default)]
    pub paid_out_minor: i64,
    /// The marketplace's commission moved (taken on a sale, given back on a return).
    #[serde(default)]
    pub commission_minor: i64,
    /// What customers paid (positive) or got back (negative) with the event.
    #[serde(default)]
    pub customer_minor: i64,
    /// The lines a sale credits or a return gives back; empty for releases and payouts.
    #[serde(default)]
    pub lines: Vec<StatementLine>,
}

/// One line of a [`StatementEntry`]: a sale's line (`line_total_minor`) or the units of one a
/// return gives back (`refund_minor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    pub product_id: Uuid,
    /// Units sold, or returned.
    #[serde(default)]
    pub quantity: u32,
    /// A sale's line: what the customer paid for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_total_minor: Option<i64>,
    /// A return's line: what the customer got back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_minor: Option<i64>,
    /// The commission the line carries (taken, or given back).
    #[serde(default)]
    pub commission_minor: i64,
}

/// One page of a vendor's payouts, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutPage {
    #[serde(default)]
    pub items: Vec<Payout>,
    /// Pass as `cursor` to [`CommerceClient::vendor_payouts`] for the next (older) page; `None`
    /// on the last.
    #[serde(default)]
    pub next_cursor: Option<Uuid>,
}

/// A payout to a vendor, in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    pub payout_id: Uuid,
    pub currency: String,
    pub amount_minor: i64,
    /// How many sales it pays.
    #[serde(default)]
    pub sales: u64,
    pub started_at: DateTime<Utc>,
    /// `None` while the payout is open (the next payout run finishes it).
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
}

/// The marketplace's takings, per currency (admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionIncome {
    #[serde(default)]
    pub currencies: Vec<CurrencyIncome>,
}

/// The commission, and where the rest of the customers' money stands, in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyIncome {
    pub currency: String,
    /// Commission taken, net of what returns gave back.
    #[serde(default)]
    pub commission_minor: i64,
    /// What customers paid for vendors' sales, net of refunds.
    #[serde(default)]
    pub customer_payments_minor: i64,
    /// Owed to vendors, not released yet.
    #[serde(default)]
    pub vendors_pending_minor: i64,
    /// Owed to vendors, payable by the next payout run.
    #[serde(default)]
    pub vendors_available_minor: i64,
    /// Paid out to vendors.
    #[serde(default)]
    pub vendors_paid_out_minor: i64,
}

impl CommerceClient {
    /// `GET /v1/vendors/{vendor_id}/balance` (the vendor, admins): pending, available and paid
    /// out, per currency.
    pub async fn vendor_balance(&self, vendor_id: Uuid) -> Result<VendorBalance, ClientError> {
        self.read(endpoint(
            self.read_api_base(),
            &format!("/v1/vendors/{vendor_id}/balance"),
        ))
        .await
    }

    /// `GET /v1/vendors/{vendor_id}/statement` (the vendor, admins): one page of its ledger
    /// entries, newest first; `limit` 1 to 100 (the server's default is 20).
    pub async fn vendor_statement(
        &self,
        vendor_id: Uuid,
        cursor: Option<Uuid>,
        limit: Option<u32>,
    ) -> Result<StatementPage, ClientError> {
        self.read(ledger_page_url(
            self.read_api_base(),
            vendor_id,
            "statement",
            cursor,
            limit,
        ))
        .await
    }

    /// `GET /v1/vendors/{vendor_id}/payouts` (the vendor, admins): one page of its payouts,
    /// newest first; `limit` 1 to 100 (the server's default is 20).
    pub async fn vendor_payouts(
        &self,
        vendor_id: Uuid,
        cursor: Option<Uuid>,
        limit: Option<u32>,
    ) -> Result<PayoutPage, ClientError> {
        self.read(ledger_page_url(
            self.read_api_base(),
            vendor_id,
            "payouts",
            cursor,
            limit,
        ))
        .await
    }

    /// `GET /v1/commission-income` (admins).
    pub async fn commission_income(&self) -> Result<CommissionIncome, ClientError> {
        self.read(endpoint(self.read_api_base(), "/v1/commission-income"))
            .await
    }
}

/// A page of one of a vendor's ledger lists (`statement`, `payouts`).
fn ledger_page_url(
    base: &str,
    vendor_id: Uuid,
    list: &str,
    cursor: Option<Uuid>,
    limit: Option<u32>,
) -> String {
    QueryString::default()
        .param("cursor", cursor)
        .param("limit", limit)
        .append_to(endpoint(base, &format!("/v1/vendors/{vendor_id}/{list}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_page_urls_send_only_what_is_set() {
        let vendor = Uuid::from_u128(1);
        let cursor = Uuid::from_u128(2);
        assert_eq!(
            ledger_page_url(
                "http://reads.test/",
                vendor,
                "statement",
                Some(cursor),
                Some(50)
            ),
            format!("http://reads.test/v1/vendors/{vendor}/statement?cursor={cursor}&limit=50")
        );
        assert_eq!(
            ledger_page_url("http://reads.test", vendor, "payouts", None, None),
            format!("http://reads.test/v1/vendors/{vendor}/payouts")
        );
    }

    #[test]
    fn a_statement_reads_sale_and_return_lines_and_entries_without_lines() {
        let page: StatementPage = serde_json::from_value(serde_json::json!({
            "items": [
                {"event_id": Uuid::from_u128(3), "at": "2026-11-26T10:00:00Z",
                 "reason": "return_reversed", "order_id": Uuid::from_u128(4),
                 "return_id": Uuid::from_u128(5), "payout_id": null, "currency": "EUR",
                 "pending_minor": -2250, "available_minor": 0, "paid_out_minor": 0,
                 "commission_minor": -250, "customer_minor": -2500,
                 "lines": [{"product_id": Uuid::from_u128(6), "quantity": 2,
                            "refund_minor": 2500, "commission_minor": 250}]},
                {"event_id": Uuid::from_u128(7), "at": "2026-11-25T10:00:00Z",
                 "reason": "funds_released", "order_id": Uuid::from_u128(4),
                 "currency": "EUR", "pending_minor": -4500, "available_minor": 4500,
                 "paid_out_minor": 0, "commission_minor": 0, "customer_minor": 0,
                 "lines": [], "note": "a field this client does not know"}
            ],
            "next_cursor": Uuid::from_u128(7)
        }))
        .expect("decodes");
        let reversal = &page.items[0];
        assert_eq!(reversal.return_id, Some(Uuid::from_u128(5)));
        assert_eq!(reversal.lines[0].refund_minor, Some(2500));
        assert_eq!(reversal.lines[0].line_total_minor, None);
        assert!(page.items[1].lines.is_empty());
        assert_eq!(page.next_cursor, Some(Uuid::from_u128(7)));
    }

    #[test]
    fn balances_payouts_and_income_decode() {
        let balance: VendorBalance = serde_json::from_value(serde_json::json!({
            "vendor_id": Uuid::from_u128(1),
            "balances": [{"currency": "EUR", "pending_minor": 100, "available_minor": -20,
                          "paid_out_minor": 4500}]
        }))
        .expect("decodes");
        assert_eq!(balance.balances[0].available_minor, -20);
        let payouts: PayoutPage = serde_json::from_value(serde_json::json!({
            "items": [{"payout_id": Uuid::from_u128(2), "currency": "EUR", "amount_minor": 4500,
                       "sales": 2, "started_at": "2026-11-26T10:00:00Z", "completed_at": null}],
            "next_cursor": null
        }))
        .expect("decodes");
        assert_eq!(payouts.items[0].completed_at, None);
        let income: CommissionIncome = serde_json::from_value(serde_json::json!({
            "currencies": [{"currency": "EUR", "commission_minor": 725,
                "customer_payments_minor": 7250, "vendors_pending_minor": 0,
                "vendors_available_minor": 2025, "vendors_paid_out_minor": 4500}]
        }))
        .expect("decodes");
        assert_eq!(income.currencies[0].commission_minor, 725);
    }
}
