//! The payout run: releases the sales whose sub-order shipped more than the hold period ago, then
//! pays each vendor what is available through the payment provider, once.
//!
//! The ledger's read model only nominates (which sales may be released, which vendors have
//! something payable); the ledger's aggregates decide, loaded fresh. Each payout follows the
//! command discipline of the saga:
//!
//! 1. `PayoutStarted` fixes its items (each sale's payable amount then) under an id derived from
//!    the vendor's payouts stream, so two runs at once start the same payout, and one of them
//!    appends it.
//! 2. Each item is marked paid on its sale (once per payout).
//! 3. The provider transfers the total under the payout's id (a repeat pays nothing more).
//! 4. `PayoutCompleted`.
//!
//! A run stopped anywhere leaves the payout open; the next run finishes it before starting
//! another, so a vendor is paid exactly once for each sale's share.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use commerce_domain::ledger::{
    OpenPayout, PayoutItem, PayoutsCommand, SaleCommand, VendorPayouts, VendorSale,
};
use commerce_domain::{Currency, DomainError, Money, PayoutId, VendorId};
use commerce_platform::envelope::metadata_keys;
use commerce_platform::payments::{PaymentProvider, ProviderError};
use serde::Serialize;
use sqlx::{PgPool, Row};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::event_store::{CommandExecutor, ExecuteError};

/// Sales released per statement of the run's first step.
const RELEASE_PAGE: i64 = 500;

/// What a run needs.
#[derive(Clone)]
pub struct PayoutRun {
    pub sales: Arc<CommandExecutor<VendorSale>>,
    pub payouts: Arc<CommandExecutor<VendorPayouts>>,
    /// Reads the ledger's read model (schema `read`).
    pub read_models: PgPool,
    pub provider: Arc<dyn PaymentProvider>,
    /// How long after its sub-order shipped a sale may be paid out (returns come back in it).
    pub hold: chrono::Duration,
}

/// One payout a run made (or finished, when an earlier run had started it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PayoutMade {
    pub vendor_id: Uuid,
    pub payout_id: Uuid,
    pub currency: String,
    pub amount_minor: i64,
    /// The sales it pays.
    pub sales: usize,
}

/// A vendor the run could not pay this time; its payout, if started, is finished by the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PayoutFailure {
    pub vendor_id: Uuid,
    pub error: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct RunReport {
    pub run_id: Uuid,
    /// Sales released (their shipment's hold over).
    pub released: usize,
    pub payouts: Vec<PayoutMade>,
    /// Vendors left for the next run.
    pub failures: Vec<PayoutFailure>,
}

/// Why a vendor's payout stopped.
#[derive(Debug, thiserror::Error)]
enum Stopped {
    #[error(transparent)]
    Command(#[from] ExecuteError<DomainError>),
    #[error("payment provider: {0}")]
    Provider(#[from] ProviderError),
    #[error("{0}")]
    Other(String),
}

impl PayoutRun {
    /// Releases what is due at `now`, then pays every vendor with something payable. A failure
    /// with one vendor is reported and the run goes on with the others; only an unreachable
    /// read model stops it.
    #[tracing::instrument(skip_all, fields(run_id = %run_id))]
    pub async fn run(
        &self,
        run_id: Uuid,
        now: DateTime<Utc>,
        user: &str,
    ) -> Result<RunReport, sqlx::Error> {
        let metadata = HashMap::from([
            (metadata_keys::CORRELATION_ID.to_owned(), run_id.to_string()),
            (
                metadata_keys::CAUSATION_ID.to_owned(),
                Uuid::now_v7().to_string(),
            ),
            ("user".to_owned(), user.to_owned()),
        ]);
        let mut report = RunReport {
            run_id,
            ..RunReport::default()
        };
        // Sales released now are not in the read model as released yet: they are paid from the
        // list kept here.
        let released = self.release_due(now, &metadata).await?;
        report.released = released.len();
        let mut candidates: BTreeMap<Uuid, BTreeSet<String>> = BTreeMap::new();
        for (vendor_id, sale) in released {
            candidates.entry(vendor_id).or_default().insert(sale);
        }
        let rows = sqlx::query(
            "SELECT vendor_id, sale_id FROM read.ledger_sales WHERE payable_minor <> 0 \
             UNION ALL \
             SELECT vendor_id, NULL FROM read.ledger_payouts WHERE completed_at IS NULL",
        )
        .fetch_all(&self.read_models)
        .await?;
        for row in rows {
            let vendor_id: Uuid = row.try_get("vendor_id")?;
            let sales = candidates.entry(vendor_id).or_default();
            if let Some(sale) = row.try_get::<Option<String>, _>("sale_id")? {
                sales.insert(sale);
            }
        }
        for (vendor_id, sales) in candidates {
            let vendor_id = VendorId(vendor_id);
            if let Err(error) = self
                .pay_vendor(vendor_id, &sales, &metadata, &mut report.payouts)
                .await
            {
                tracing::warn!(%vendor_id, %error, "vendor not paid in this run; the next run goes on");
                report.failures.push(PayoutFailure {
                    vendor_id: vendor_id.0,
                    error: error.to_string(),
                });
            }
        }
        let paid: i64 = report.payouts.iter().map(|p| p.amount_minor).sum();
        tracing::info!(
            released = report.released,
            payouts = report.payouts.len(),
            paid_minor = paid,
            failures = report.failures.len(),
            "payout run finished"
        );
        Ok(report)
    }

    /// Releases every sale whose sub-order shipped at least the hold period before `now`;
    /// answers the released sales with their vendors.
    async fn release_due(
        &self,
        now: DateTime<Utc>,
        metadata: &HashMap<String, String>,
    ) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
        let due = now - self.hold;
        let mut released = Vec::new();
        let mut after = String::new();
        loop {
            // A vendor's own shipment, or the order's last one (`OrderShipped`, nil vendor):
            // the earlier of the two is when its sub-order left.
            let rows = sqlx::query(
                "SELECT s.sale_id, s.vendor_id, h.shipped_at \
                 FROM read.ledger_sales s \
                 CROSS JOIN LATERAL ( \
                   SELECT min(shipped_at) AS shipped_at FROM read.ledger_shipments sh \
                   WHERE sh.order_id = s.order_id \
                     AND sh.vendor_id IN (s.vendor_id, '00000000-0000-0000-0000-000000000000')) h \
                 WHERE NOT s.released AND h.shipped_at <= $1 AND s.sale_id > $2 \
                 ORDER BY s.sale_id LIMIT $3",
            )
            .bind(due)
            .bind(&after)
            .bind(RELEASE_PAGE)
            .fetch_all(&self.read_models)
            .await?;
            let Some(last) = rows.last() else {
                return Ok(released);
            };
            after = last.try_get("sale_id")?;
            for row in &rows {
                let sale: String = row.try_get("sale_id")?;
                let vendor_id: Uuid = row.try_get("vendor_id")?;
                let shipped_at: DateTime<Utc> = row.try_get("shipped_at")?;
                let release = SaleCommand::Release {
                    shipped_at,
                    now,
                    hold: self.hold,
                };
                match self
                    .sales
                    .execute(&sale, release, metadata.clone(), &())
                    .await
                {
                    Ok(_) => released.push((vendor_id, sale)),
                    Err(error) => {
                        tracing::warn!(%sale, %error, "sale not released; the next run tries again");
                    }
                }
            }
        }
    }

    /// Finishes the vendor's open payout, if any, then pays what its `sales` hold now, one
    /// payout per currency.
    async fn pay_vendor(
        &self,
        vendor_id: VendorId,
        sales: &BTreeSet<String>,
        metadata: &HashMap<String, String>,
        made: &mut Vec<PayoutMade>,
    ) -> Result<(), Stopped> {
        let stream = vendor_id.to_string();
        let (payouts, _) = self.payouts.load(&stream).await?;
        if let Some(open) = payouts.open() {
            made.push(self.finish(open, metadata).await?);
        }
        let ids: Vec<&str> = sales.iter().map(String::as_str).collect();
        let loaded = self.sales.load_many::<DomainError>(&ids).await?;
        let mut by_currency: BTreeMap<Currency, Vec<PayoutItem>> = BTreeMap::new();
        for (id, sale) in ids.iter().zip(loaded) {
            let (Some(currency), amount) =
                (sale.aggregate.currency(), sale.aggregate.payable_minor())
            else {
                continue;
            };
            if amount != 0 {
                by_currency
                    .entry(currency.clone())
                    .or_default()
                    .push(PayoutItem {
                        sale: (*id).to_owned(),
                        amount_minor: amount,
                    });
            }
        }
        for (currency, items) in by_currency {
            // Returns after a payout may leave less than nothing: kept for the next sales.
            if items.iter().map(|i| i.amount_minor).sum::<i64>() <= 0 {
                continue;
            }
            let (payouts, version) = self.payouts.load(&stream).await?;
            let open = match payouts.open() {
                Some(open) => open.clone(),
                None => {
                    let payout_id = PayoutId(Uuid::new_v5(
                        &vendor_id.0,
                        format!("payout:{version}").as_bytes(),
                    ));
                    let start = PayoutsCommand::Start {
                        vendor_id,
                        payout_id,
                        currency,
                        items,
                    };
                    match self
                        .payouts
                        .execute(&stream, start, metadata.clone(), &())
                        .await
                    {
                        Ok(_) | Err(ExecuteError::Rejected(DomainError::PayoutOpen { .. })) => {}
                        Err(ExecuteError::Rejected(DomainError::NothingToPay { .. })) => continue,
                        Err(other) => return Err(other.into()),
                    }
                    // Another run may have started it first: the stored one is finished.
                    let (payouts, _) = self.payouts.load(&stream).await?;
                    payouts.open().cloned().ok_or_else(|| {
                        Stopped::Other("the payout started is not open".to_owned())
                    })?
                }
            };
            made.push(self.finish(&open, metadata).await?);
        }
        Ok(())
    }

    /// Marks each item paid on its sale, has the provider transfer the total under the payout's
    /// id, and completes the payout. Every step is idempotent, so a run may repeat any of them.
    async fn finish(
        &self,
        open: &OpenPayout,
        metadata: &HashMap<String, String>,
    ) -> Result<PayoutMade, Stopped> {
        for item in &open.items {
            let mark = SaleCommand::MarkPaid {
                payout_id: open.payout_id,
                amount_minor: item.amount_minor,
            };
            self.sales
                .execute(&item.sale, mark, metadata.clone(), &())
                .await?;
        }
        let amount = Money::new(open.amount_minor, open.currency.clone())
            .map_err(|e| Stopped::Other(format!("payout {}: {}", open.payout_id, e.reason)))?;
        self.provider
            .transfer(open.payout_id.0, open.vendor_id.0, &amount)
            .await?;
        self.payouts
            .execute(
                &open.vendor_id.to_string(),
                PayoutsCommand::Complete {
                    payout_id: open.payout_id,
                },
                metadata.clone(),
                &(),
            )
            .await?;
        tracing::info!(
            vendor_id = %open.vendor_id,
            payout_id = %open.payout_id,
            amount_minor = open.amount_minor,
            currency = %open.currency,
            "payout made"
        );
        Ok(PayoutMade {
            vendor_id: open.vendor_id.0,
            payout_id: open.payout_id.0,
            currency: open.currency.to_string(),
            amount_minor: open.amount_minor,
            sales: open.items.len(),
        })
    }
}
