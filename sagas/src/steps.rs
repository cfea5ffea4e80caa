//! Each state's step: the commands the saga sends (through the command side's executor, the same
//! load-decide-append path as an HTTP command; where one step changes several aggregates, their
//! streams are loaded in one query and their decisions appended in one statement, as checkout
//! does) and the payment provider calls it makes. Every step
//! is safe to run again: the commands are idempotent per order (a repeated reservation, release,
//! confirmation, capture, void or refund records nothing) and provider calls are keyed by ids
//! derived from the order.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use commerce_command_api::event_store::{
    audited, CommandExecutor, Decided, ExecuteError, PgEventRepository, StoredStream,
};
use commerce_domain::commission::CommissionSchedule;
use commerce_domain::inventory::{Inventory, InventoryCommand};
use commerce_domain::ledger::{CreditedLine, SaleCommand, VendorSale};
use commerce_domain::order::{CancelReason, Order, OrderCommand};
use commerce_domain::payment::{Payment, PaymentCommand, PaymentStatus};
use commerce_domain::product::Product;
use commerce_domain::{
    Actor, Category, Currency, DomainError, OrderId, PaymentToken, ProductId, Quantity, RefundId,
    ReturnId, VendorId,
};
use commerce_platform::audit::AuditEntry;
use commerce_platform::envelope::metadata_keys;
use cqrs_es::persist::{PersistenceError, SerializedEvent};

use crate::model::{payment_id_of, OrderSaga, SagaState, StepOutcome, STEP_RESERVE};
use crate::payments::{PaymentProvider, ProviderError};
use crate::returns::{RefundOutcome, ReturnRefund};

/// Tries of a step's combined append when other writers keep winning the race.
const MAX_ATTEMPTS: u32 = 5;

/// Products whose category a saga process remembers (a product's category never changes).
const CATEGORY_CACHE: usize = 100_000;

/// What a step talks to.
pub struct SagaSteps {
    pub inventory: CommandExecutor<Inventory>,
    /// Read only: the categories of the lines' products, for their commission.
    pub products: CommandExecutor<Product>,
    /// Read only: the commission rules in force when an order is confirmed.
    pub commissions: CommandExecutor<CommissionSchedule>,
    /// Each vendor's part of an order in the ledger, credited when its payment is captured.
    pub sales: CommandExecutor<VendorSale>,
    /// The categories of products read so far, by product.
    pub categories: std::sync::Mutex<HashMap<ProductId, Category>>,
    pub payments: CommandExecutor<Payment>,
    pub orders: CommandExecutor<Order>,
    /// For appends decided without a load (a payment's first event).
    pub repository: PgEventRepository,
    /// For the transactions held across a command (an audited refund): apart from the pool the
    /// executors load with, so that holders never starve the loads they wait for.
    pub held_transactions: sqlx::PgPool,
    pub provider: Arc<dyn PaymentProvider>,
}

/// A step's own failure: retried, with its reason recorded for ops.
struct Transient(String);

impl<E: std::error::Error> From<ExecuteError<E>> for Transient {
    fn from(error: ExecuteError<E>) -> Self {
        Transient(error.to_string())
    }
}

impl From<ProviderError> for Transient {
    fn from(error: ProviderError) -> Self {
        Transient(format!("payment provider: {error}"))
    }
}

type StepResult = Result<StepOutcome, Transient>;

impl SagaSteps {
    /// Runs the step of the saga's state once.
    #[tracing::instrument(skip_all, fields(order_id = %saga.order_id, state = saga.state.as_str()))]
    pub async fn run(&self, saga: &OrderSaga) -> StepOutcome {
        let started = Instant::now();
        let result = match saga.state {
            SagaState::Reserving => self.reserve(saga).await,
            SagaState::Authorizing => self.authorize_and_confirm(saga).await,
            SagaState::Capturing => self.capture_and_commit(saga).await,
            SagaState::Compensating => self.compensate(saga).await,
            SagaState::Refunding => self.refund(saga).await,
            SagaState::Completed
            | SagaState::Cancelled
            | SagaState::Refunded
            | SagaState::Abandoned => Ok(StepOutcome::Done),
        };
        let outcome = result.unwrap_or_else(|Transient(error)| StepOutcome::Retry(error));
        let label = match &outcome {
            StepOutcome::Done => "done",
            StepOutcome::Compensate(_) => "compensate",
            StepOutcome::CancelledElsewhere => "cancelled_elsewhere",
            StepOutcome::Retry(_) => "retry",
        };
        metrics::histogram!("saga_step_seconds", "step" => saga.state.step(), "outcome" => label)
            .record(started.elapsed().as_secs_f64());
        if let StepOutcome::Retry(error) = &outcome {
            tracing::warn!(attempts = saga.attempts, %error, "saga step failed; it will be retried");
        } else {
            tracing::debug!(outcome = label, "saga step ran");
        }
        outcome
    }

    /// The events' metadata: what caused them (the `OrderPlaced`), the order's correlation, and
    /// the step's deterministic command id.
    fn metadata(saga: &OrderSaga) -> HashMap<String, String> {
        HashMap::from([
            (
                metadata_keys::CORRELATION_ID.to_owned(),
                saga.correlation_id.unwrap_or(saga.order_id).to_string(),
            ),
            (
                metadata_keys::CAUSATION_ID.to_owned(),
                saga.causation_id.to_string(),
            ),
            ("command_id".to_owned(), saga.command_id().to_string()),
            ("user".to_owned(), "order-saga".to_owned()),
        ])
    }

    /// Holds every line's units, in line order; the first line out of stock stops the order
    /// (compensation releases what the earlier lines hold).
    async fn reserve(&self, saga: &OrderSaga) -> StepResult {
        let order_id = OrderId(saga.order_id);
        for line in &saga.lines {
            let Ok(quantity) = Quantity::new(line.quantity) else {
                return Ok(StepOutcome::Compensate(CancelReason::OutOfStock));
            };
            let reserved = self
                .inventory
                .execute(
                    &line.product_id.to_string(),
                    InventoryCommand::Reserve { order_id, quantity },
                    Self::metadata(saga),
                    &(),
                )
                .await;
            match reserved {
                Ok(_) => {}
                Err(ExecuteError::Rejected(
                    DomainError::OutOfStock { .. } | DomainError::ReservationConflict { .. },
                )) => return Ok(StepOutcome::Compensate(CancelReason::OutOfStock)),
                Err(other) => return Err(other.into()),
            }
        }
        Ok(StepOutcome::Done)
    }

    /// Asks the provider to hold the money, then records the authorization and confirms the
    /// order in one append: an order is confirmed exactly when its payment is on record.
    async fn authorize_and_confirm(&self, saga: &OrderSaga) -> StepResult {
        let payment_id = saga.payment_id();
        match self
            .provider
            .authorize(payment_id.0, &saga.payment_token, &saga.total)
            .await
        {
            Ok(()) => {}
            Err(ProviderError::Declined { reason }) => {
                tracing::info!(%reason, "payment declined");
                return Ok(StepOutcome::Compensate(CancelReason::PaymentDeclined));
            }
            Err(ProviderError::Rejected(reason)) => {
                tracing::warn!(%reason, "the provider refused the authorization request");
                return Ok(StepOutcome::Compensate(CancelReason::PaymentDeclined));
            }
            Err(unavailable) => return Err(unavailable.into()),
        }
        let Ok(token) = PaymentToken::parse(&saga.payment_token) else {
            return Ok(StepOutcome::Compensate(CancelReason::PaymentDeclined));
        };
        let (payment, order) = (payment_id.to_string(), saga.order_id.to_string());
        let metadata = Self::metadata(saga);
        // The commission rules in force and each line's category are read in the same query:
        // the confirmation fixes each line's commission under them. A product's category never
        // changes, so only products this process has not seen yet are loaded.
        let known = self.known_categories(saga);
        let products: Vec<String> = saga
            .lines
            .iter()
            .filter(|l| !known.contains_key(&ProductId(l.product_id)))
            .map(|l| l.product_id.to_string())
            .collect();
        let mut streams: Vec<(&str, &str)> = vec![
            (Payment::TYPE, &payment),
            (Order::TYPE, &order),
            (CommissionSchedule::TYPE, CommissionSchedule::ID),
        ];
        streams.extend(products.iter().map(|p| (Product::TYPE, p.as_str())));
        for attempt in 1..=MAX_ATTEMPTS {
            let mut stored = self.load(&streams).await?.into_iter();
            let (Some(payment_stream), Some(order_stream), Some(schedule_stream)) =
                (stored.next(), stored.next(), stored.next())
            else {
                return Err(Transient("a load returned fewer streams than asked".into()));
            };
            let rules = self
                .commissions
                .rebuild::<DomainError>(CommissionSchedule::ID, schedule_stream)
                .await?
                .aggregate
                .rules()
                .clone();
            let mut categories = known.clone();
            for (product, stream) in products.iter().zip(stored) {
                let loaded = self
                    .products
                    .rebuild::<DomainError>(product, stream)
                    .await?;
                if let (Some(product_id), Some(category)) =
                    (loaded.aggregate.product_id(), loaded.aggregate.category())
                {
                    categories.insert(product_id, category.clone());
                    self.remember_category(product_id, category);
                }
            }
            let loaded_payment = self
                .payments
                .rebuild::<DomainError>(&payment, payment_stream)
                .await?;
            let loaded_order = self
                .orders
                .rebuild::<DomainError>(&order, order_stream)
                .await?;
            let authorized = PaymentCommand::Authorize {
                payment_id,
                order_id: OrderId(saga.order_id),
                amount: saga.total.clone(),
                token: token.clone(),
            };
            let authorized = self
                .payments
                .decide(&payment, loaded_payment, authorized, &metadata, &())
                .await?;
            let confirm = OrderCommand::Confirm {
                actor: Actor::System,
                rules,
                categories,
            };
            let confirmed = match self
                .orders
                .decide(&order, loaded_order, confirm, &metadata, &())
                .await
            {
                Ok(confirmed) => confirmed,
                // Cancelled meanwhile (by its customer): compensation voids the provider's hold.
                Err(ExecuteError::Rejected(DomainError::IllegalTransition { .. })) => {
                    return Ok(StepOutcome::CancelledElsewhere)
                }
                Err(other) => return Err(other.into()),
            };
            if self
                .append(&[authorized.serialized(), confirmed.serialized()], attempt)
                .await?
            {
                return Ok(StepOutcome::Done);
            }
        }
        Err(Transient("the payment or the order kept changing".into()))
    }

    /// Takes the money at the provider, then records the capture, sells every line's held units
    /// and credits each vendor's ledger with its share, in one append.
    async fn capture_and_commit(&self, saga: &OrderSaga) -> StepResult {
        let payment_id = saga.payment_id();
        self.provider.capture(payment_id.0, &saga.total).await?;
        let payment = payment_id.to_string();
        let products: Vec<String> = saga
            .lines
            .iter()
            .map(|l| l.product_id.to_string())
            .collect();
        let order = saga.order_id.to_string();
        let order_id = OrderId(saga.order_id);
        // The vendors' sale streams are read in the same query when the saga knows the lines'
        // vendors (sagas started before it kept them read them in a second one).
        let sale_ids: Option<Vec<String>> = saga
            .lines
            .iter()
            .map(|l| l.vendor_id)
            .collect::<Option<Vec<uuid::Uuid>>>()
            .map(|vendors| {
                let mut ids: Vec<String> = Vec::new();
                for vendor_id in vendors {
                    let id = VendorSale::id(order_id, VendorId(vendor_id));
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                ids
            });
        let mut streams: Vec<(&str, &str)> = vec![(Payment::TYPE, &payment), (Order::TYPE, &order)];
        streams.extend(products.iter().map(|p| (Inventory::TYPE, p.as_str())));
        streams.extend(
            sale_ids
                .iter()
                .flatten()
                .map(|id| (VendorSale::TYPE, id.as_str())),
        );
        let metadata = Self::metadata(saga);
        for attempt in 1..=MAX_ATTEMPTS {
            let mut stored = self.load(&streams).await?.into_iter();
            let (Some(payment_stream), Some(order_stream)) = (stored.next(), stored.next()) else {
                return Err(Transient("a load returned fewer streams than asked".into()));
            };
            let sales = self
                .orders
                .rebuild::<DomainError>(&order, order_stream)
                .await?
                .aggregate
                .sales_by_vendor();
            let loaded = self
                .payments
                .rebuild::<DomainError>(&payment, payment_stream)
                .await?;
            let capture = PaymentCommand::Capture {
                amount: saga.total.clone(),
            };
            let captured = self
                .payments
                .decide(&payment, loaded, capture, &metadata, &())
                .await?;
            let mut commits = Vec::with_capacity(products.len());
            for (product, stream) in products.iter().zip(stored.by_ref()) {
                let loaded = self
                    .inventory
                    .rebuild::<DomainError>(product, stream)
                    .await?;
                let commit = InventoryCommand::Commit { order_id };
                commits.push(
                    self.inventory
                        .decide(product, loaded, commit, &metadata, &())
                        .await?,
                );
            }
            let preloaded = sale_ids
                .as_ref()
                .map(|ids| ids.iter().cloned().zip(stored).collect());
            let credits = self.credits(&sales, order_id, &metadata, preloaded).await?;
            let mut decisions = vec![captured.serialized()];
            decisions.extend(commits.iter().map(|c| c.serialized()));
            decisions.extend(credits.iter().map(|c| c.serialized()));
            if self.append(&decisions, attempt).await? {
                return Ok(StepOutcome::Done);
            }
        }
        Err(Transient("the payment or the stock kept changing".into()))
    }

    /// Loads several streams, of any types, in one query.
    async fn load(&self, streams: &[(&str, &str)]) -> Result<Vec<StoredStream>, Transient> {
        self.repository
            .load_streams(streams)
            .await
            .map_err(|e| ExecuteError::<DomainError>::from_persistence(e).into())
    }

    /// The categories of `saga`'s products this process has already read.
    fn known_categories(&self, saga: &OrderSaga) -> BTreeMap<ProductId, Category> {
        let cache = self.categories.lock().unwrap_or_else(|e| e.into_inner());
        saga.lines
            .iter()
            .filter_map(|l| {
                let product_id = ProductId(l.product_id);
                cache.get(&product_id).map(|c| (product_id, c.clone()))
            })
            .collect()
    }

    fn remember_category(&self, product_id: ProductId, category: &Category) {
        let mut cache = self.categories.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: forgotten all at once when full, and read again as needed.
        if cache.len() >= CATEGORY_CACHE {
            cache.clear();
        }
        cache.insert(product_id, category.clone());
    }

    /// Each vendor's part of the order credited with its share in the ledger (decided, not
    /// appended): one stream per vendor and order, so sales never contend with each other.
    /// `preloaded` holds the sale streams already read, by id; the others are read here.
    async fn credits(
        &self,
        sales: &[(VendorId, Currency, Vec<CreditedLine>)],
        order_id: OrderId,
        metadata: &HashMap<String, String>,
        preloaded: Option<HashMap<String, StoredStream>>,
    ) -> Result<Vec<Decided<VendorSale>>, Transient> {
        let ids: Vec<String> = sales
            .iter()
            .map(|(vendor_id, _, _)| VendorSale::id(order_id, *vendor_id))
            .collect();
        let mut preloaded = preloaded.unwrap_or_default();
        let missing: Vec<(&str, &str)> = ids
            .iter()
            .filter(|id| !preloaded.contains_key(*id))
            .map(|id| (VendorSale::TYPE, id.as_str()))
            .collect();
        if !missing.is_empty() {
            let stored = self.load(&missing).await?;
            for ((_, id), stream) in missing.iter().zip(stored) {
                preloaded.insert((*id).to_owned(), stream);
            }
        }
        let mut decided = Vec::with_capacity(sales.len());
        for ((vendor_id, currency, lines), id) in sales.iter().zip(&ids) {
            let stream = preloaded.remove(id).unwrap_or_default();
            let loaded = self.sales.rebuild::<DomainError>(id, stream).await?;
            let credit = SaleCommand::Credit {
                vendor_id: *vendor_id,
                order_id,
                currency: currency.clone(),
                lines: lines.clone(),
            };
            decided.push(self.sales.decide(id, loaded, credit, metadata, &()).await?);
        }
        Ok(decided)
    }

    /// Appends decisions about several aggregates in one statement. `false`: another writer got
    /// to one of them first (after a pause, the caller decides again from a fresh load).
    async fn append(
        &self,
        decisions: &[&[SerializedEvent]],
        attempt: u32,
    ) -> Result<bool, Transient> {
        if decisions.iter().all(|d| d.is_empty()) {
            return Ok(true);
        }
        match self.repository.append_decided(decisions, &[]).await {
            Ok(()) => {
                self.payments.committed();
                Ok(true)
            }
            Err(PersistenceError::OptimisticLockError) => {
                let pause = 2u64.saturating_pow(attempt).min(50);
                tokio::time::sleep(Duration::from_millis(rand::random_range(0..=pause))).await;
                Ok(false)
            }
            Err(other) => Err(ExecuteError::<DomainError>::from_persistence(other).into()),
        }
    }

    /// Undoes, in reverse: the authorization is voided, every line's hold released, and the
    /// order cancelled for the saga's reason (an order someone else cancelled stays as it is).
    async fn compensate(&self, saga: &OrderSaga) -> StepResult {
        self.give_back_payment(saga).await?;
        self.give_back_stock(saga, false).await?;
        let reason = saga
            .cancel_reason
            .as_deref()
            .and_then(CancelReason::parse)
            .unwrap_or(CancelReason::Admin);
        let cancelled = self
            .orders
            .execute(
                &saga.order_id.to_string(),
                OrderCommand::Cancel {
                    reason,
                    actor: Actor::System,
                },
                Self::metadata(saga),
                &(),
            )
            .await;
        match cancelled {
            Ok(_) | Err(ExecuteError::Rejected(DomainError::IllegalTransition { .. })) => {
                Ok(StepOutcome::Done)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// An order cancelled after confirmation: its money is refunded (or its hold voided, if it
    /// was not captured yet), the vendors' shares of the cancelled lines and the commission on
    /// them are reversed in the ledger, and the units come back, held or sold.
    async fn refund(&self, saga: &OrderSaga) -> StepResult {
        self.give_back_payment(saga).await?;
        self.reverse_cancelled_sales(saga).await?;
        self.give_back_stock(saga, true).await?;
        Ok(StepOutcome::Done)
    }

    /// Reverses the cancelled lines (`saga.lines`: those not shipped) in each of their vendors'
    /// sales, under the cancellation's return id. A sale never credited (the payment was not
    /// captured) has nothing to reverse.
    async fn reverse_cancelled_sales(&self, saga: &OrderSaga) -> Result<(), Transient> {
        let order_id = OrderId(saga.order_id);
        let (order, _) = self
            .orders
            .load(&saga.order_id.to_string())
            .await
            .map_err(Transient::from)?;
        // Each line's vendor, from the order (sagas started before lines kept it have none).
        let vendor_of: HashMap<ProductId, VendorId> = order
            .sales_by_vendor()
            .into_iter()
            .flat_map(|(vendor_id, _, lines)| {
                lines
                    .into_iter()
                    .map(move |line| (line.product_id, vendor_id))
            })
            .collect();
        let mut units: BTreeMap<VendorId, Vec<(ProductId, u32)>> = BTreeMap::new();
        for line in &saga.lines {
            let product_id = ProductId(line.product_id);
            let Some(vendor_id) = line
                .vendor_id
                .map(VendorId)
                .or(vendor_of.get(&product_id).copied())
            else {
                continue;
            };
            let lines = units.entry(vendor_id).or_default();
            match lines.iter_mut().find(|(p, _)| *p == product_id) {
                Some((_, quantity)) => *quantity += line.quantity,
                None => lines.push((product_id, line.quantity)),
            }
        }
        let return_id = saga.cancellation_return_id();
        for (vendor_id, units) in units {
            let sale = VendorSale::id(order_id, vendor_id);
            let reversed = self
                .sales
                .execute(
                    &sale,
                    SaleCommand::ReverseReturn { return_id, units },
                    Self::metadata(saga),
                    &(),
                )
                .await;
            match reversed {
                Ok(_) | Err(ExecuteError::Rejected(DomainError::NotFound { .. })) => {}
                // Refused for good (the lines are not the sale's): retrying cannot help, and
                // `commerce ledger check` shows the books off by this sale.
                Err(ExecuteError::Rejected(refused)) => {
                    tracing::error!(%sale, %refused, "the cancellation could not be reversed in the ledger");
                }
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }

    /// Voids an authorization or refunds a capture, whichever the payment is at.
    async fn give_back_payment(&self, saga: &OrderSaga) -> Result<(), Transient> {
        let payment_id = saga.payment_id();
        let (payment, _) = self
            .payments
            .load(&payment_id.to_string())
            .await
            .map_err(Transient::from)?;
        let command = match payment.status() {
            // Never recorded: if the saga got as far as asking, the provider may still hold an
            // authorization whose answer was lost (a timeout); voiding one it never made does
            // nothing. A saga stopped while reserving never asked.
            None => {
                if saga.steps_done.iter().any(|step| step == STEP_RESERVE) {
                    self.provider.void(payment_id.0).await?;
                }
                return Ok(());
            }
            Some(PaymentStatus::Authorized) => {
                self.provider.void(payment_id.0).await?;
                PaymentCommand::Void
            }
            Some(PaymentStatus::Captured | PaymentStatus::PartiallyRefunded) => {
                let refund_id = saga.refund_id();
                self.provider
                    .refund(payment_id.0, refund_id.0, &saga.total)
                    .await?;
                let command = PaymentCommand::Refund {
                    refund_id,
                    amount: saga.total.clone(),
                };
                // Money going back is audited, with the refund recorded.
                let entry = AuditEntry::new("refund_issued")
                    .actor("order-saga")
                    .target(format!("order {}", saga.order_id))
                    .correlation(saga.correlation_id.unwrap_or(saga.order_id))
                    .detail(serde_json::json!({
                        "payment_id": payment_id.0,
                        "refund_id": refund_id.0,
                        "amount_minor": saga.total.amount_minor,
                        "currency": saga.total.currency.as_str(),
                    }));
                let payment = payment_id.to_string();
                let refund = self
                    .payments
                    .execute(&payment, command, Self::metadata(saga), &());
                audited(&self.held_transactions, &entry, refund)
                    .await
                    .map_err(|e| Transient(format!("recording the refund: {e}")))??;
                return Ok(());
            }
            Some(PaymentStatus::Voided | PaymentStatus::Refunded) => return Ok(()),
        };
        self.payments
            .execute(&payment_id.to_string(), command, Self::metadata(saga), &())
            .await?;
        Ok(())
    }

    /// Releases every line's hold, and with `sold` also takes back units already sold.
    async fn give_back_stock(&self, saga: &OrderSaga, sold: bool) -> Result<(), Transient> {
        let order_id = OrderId(saga.order_id);
        for line in saga.lines.iter().rev() {
            let product = line.product_id.to_string();
            self.inventory
                .execute(
                    &product,
                    InventoryCommand::Release { order_id },
                    Self::metadata(saga),
                    &(),
                )
                .await?;
            if sold {
                self.inventory
                    .execute(
                        &product,
                        InventoryCommand::ReturnSold { order_id },
                        Self::metadata(saga),
                        &(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Refunds an accepted return: the provider first (under a refund id derived from the
    /// return), then, in one audited append, the payment's refund, the vendor's ledger
    /// reversal, the units back in stock (if the vendor said so) and the return refunded on its
    /// order. A provider that will not refund fails the return instead (its compensation).
    #[tracing::instrument(skip_all, fields(return_id = %refund.return_id, order_id = %refund.order_id))]
    pub async fn refund_return(&self, refund: &ReturnRefund) -> RefundOutcome {
        match self.refund_return_once(refund).await {
            Ok(outcome) => outcome,
            Err(Transient(error)) => RefundOutcome::Retry(error),
        }
    }

    async fn refund_return_once(&self, refund: &ReturnRefund) -> Result<RefundOutcome, Transient> {
        let order_id = OrderId(refund.order_id);
        let return_id = ReturnId(refund.return_id);
        let payment_id = payment_id_of(refund.order_id);
        let refund_id = RefundId(uuid::Uuid::new_v5(&refund.return_id, b"refund"));
        let metadata = HashMap::from([
            (
                metadata_keys::CORRELATION_ID.to_owned(),
                refund.correlation_id.unwrap_or(refund.order_id).to_string(),
            ),
            (
                metadata_keys::CAUSATION_ID.to_owned(),
                refund.causation_id.to_string(),
            ),
            (
                "command_id".to_owned(),
                uuid::Uuid::new_v5(&refund.return_id, b"refund_return").to_string(),
            ),
            ("user".to_owned(), "order-saga".to_owned()),
        ]);
        let order = refund.order_id.to_string();
        match self
            .provider
            .refund(payment_id.0, refund_id.0, &refund.refund)
            .await
        {
            Ok(()) => {}
            Err(ProviderError::Declined { reason } | ProviderError::Rejected(reason)) => {
                let failed = self
                    .orders
                    .execute(
                        &order,
                        OrderCommand::FailReturn {
                            return_id,
                            reason: reason.clone(),
                        },
                        metadata,
                        &(),
                    )
                    .await;
                return match failed {
                    Ok(_) => Ok(RefundOutcome::Failed(reason)),
                    // Refunded already (an earlier attempt got through): it stays refunded.
                    Err(ExecuteError::Rejected(DomainError::IllegalTransition { .. })) => {
                        Ok(RefundOutcome::Refunded)
                    }
                    Err(other) => Err(other.into()),
                };
            }
            Err(unavailable) => return Err(unavailable.into()),
        }
        let payment = payment_id.to_string();
        let sale = VendorSale::id(order_id, VendorId(refund.vendor_id));
        let products: Vec<String> = match refund.restock {
            true => refund
                .lines
                .iter()
                .map(|l| l.product_id.to_string())
                .collect(),
            false => Vec::new(),
        };
        let mut streams: Vec<(&str, &str)> = vec![
            (Payment::TYPE, &payment),
            (Order::TYPE, &order),
            (VendorSale::TYPE, &sale),
        ];
        streams.extend(products.iter().map(|p| (Inventory::TYPE, p.as_str())));
        let units: Vec<(ProductId, u32)> = refund
            .lines
            .iter()
            .map(|l| (ProductId(l.product_id), l.quantity))
            .collect();
        let entry = AuditEntry::new("refund_issued")
            .actor("order-saga")
            .target(format!("order {}", refund.order_id))
            .correlation(refund.correlation_id.unwrap_or(refund.order_id))
            .detail(serde_json::json!({
                "payment_id": payment_id.0,
                "refund_id": refund_id.0,
                "return_id": refund.return_id,
                "amount_minor": refund.refund.amount_minor,
                "currency": refund.refund.currency.as_str(),
            }));
        for attempt in 1..=MAX_ATTEMPTS {
            let mut stored = self.load(&streams).await?.into_iter();
            let (Some(payment_stream), Some(order_stream), Some(sale_stream)) =
                (stored.next(), stored.next(), stored.next())
            else {
                return Err(Transient("a load returned fewer streams than asked".into()));
            };
            let loaded = self
                .payments
                .rebuild::<DomainError>(&payment, payment_stream)
                .await?;
            let refunded = PaymentCommand::Refund {
                refund_id,
                amount: refund.refund.clone(),
            };
            let refunded = self
                .payments
                .decide(&payment, loaded, refunded, &metadata, &())
                .await?;
            let loaded = self
                .sales
                .rebuild::<DomainError>(&sale, sale_stream)
                .await?;
            let reversal = SaleCommand::ReverseReturn {
                return_id,
                units: units.clone(),
            };
            // An order paid before the ledger existed has no sale to reverse.
            let reversed = match self
                .sales
                .decide(&sale, loaded, reversal, &metadata, &())
                .await
            {
                Ok(reversed) => Some(reversed),
                Err(ExecuteError::Rejected(DomainError::NotFound { .. })) => None,
                Err(other) => return Err(other.into()),
            };
            let loaded = self
                .orders
                .rebuild::<DomainError>(&order, order_stream)
                .await?;
            let completed = self
                .orders
                .decide(
                    &order,
                    loaded,
                    OrderCommand::CompleteReturn { return_id },
                    &metadata,
                    &(),
                )
                .await?;
            let mut restocked = Vec::with_capacity(products.len());
            for ((product, stream), line) in products.iter().zip(stored).zip(&refund.lines) {
                let loaded = self
                    .inventory
                    .rebuild::<DomainError>(product, stream)
                    .await?;
                let Ok(quantity) = Quantity::new(line.quantity) else {
                    continue;
                };
                let restock = InventoryCommand::Restock {
                    order_id,
                    return_id,
                    quantity,
                };
                restocked.push(
                    self.inventory
                        .decide(product, loaded, restock, &metadata, &())
                        .await?,
                );
            }
            let mut decisions = vec![refunded.serialized(), completed.serialized()];
            decisions.extend(reversed.iter().map(|r| r.serialized()));
            decisions.extend(restocked.iter().map(|r| r.serialized()));
            // Money going back is audited, in the same transaction as its record.
            let appended = audited(
                &self.held_transactions,
                &entry,
                self.append(&decisions, attempt),
            )
            .await
            .map_err(|e| Transient(format!("recording the return's refund: {e}")))??;
            if appended {
                return Ok(RefundOutcome::Refunded);
            }
        }
        Err(Transient(
            "the payment, the order or the ledger kept changing".into(),
        ))
    }
}
