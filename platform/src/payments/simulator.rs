//! The payment simulator: a local card provider serving the API that `HttpPaymentProvider` speaks,
//! so tests and a local system can take payments without a real provider.
//!
//! Test card tokens choose the answer (`tok_ok`, `tok_decline`, `tok_timeout`), `POST /v1/faults`
//! makes the next calls fail transiently, and every operation is idempotent by its ids, as a real
//! provider's is. The counters of [`PaymentRecord`] count only the operations that changed
//! something, so a test can prove that a retried call did not charge twice. State is in memory.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::http::{self, Dependencies};
use crate::problem::{ApiJson, Problem};
use crate::Shutdown;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use commerce_domain::{Currency, Money};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use uuid::Uuid;

/// Largest request body: every body here is a few short fields.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// The decline reason of `tok_decline`.
const CARD_DECLINED: &str = "the card was declined";

/// The decline reason of a token that is not a test card, so a typo says what to use instead.
const UNKNOWN_TOKEN: &str = "unknown test card token; use tok_ok, tok_decline or tok_timeout";

/// What a payment method token makes the simulator do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TestCard {
    /// `tok_ok`: authorized.
    Approved,
    /// `tok_decline`: declined.
    Declined,
    /// `tok_timeout`: no answer until the simulator stops, so the client times out.
    Silent,
    /// Anything else: declined, with a reason that lists the test cards.
    Unknown,
}

impl TestCard {
    fn from_token(token: &str) -> Self {
        match token {
            "tok_ok" => Self::Approved,
            "tok_decline" => Self::Declined,
            "tok_timeout" => Self::Silent,
            _ => Self::Unknown,
        }
    }
}

/// Where a simulated payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimulatedPaymentStatus {
    Authorized,
    /// The authorization was refused: the payment can never be captured.
    Declined,
    Captured,
    Voided,
}

/// A simulated payment as `GET /v1/payments/{payment_id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub payment_id: Uuid,
    pub status: SimulatedPaymentStatus,
    pub amount_minor: i64,
    pub currency: Currency,
    /// 1 once authorized, never more: a repeated authorization changes nothing.
    pub authorizations: u32,
    pub captures: u32,
    pub voids: u32,
    /// The sum of every refund.
    pub refunded_minor: i64,
    /// Distinct refund ids; a repeated refund is not counted again.
    pub refunds: u32,
}

/// One payment's state.
struct SimulatedPayment {
    /// Kept to tell a repeated authorization from another request under the same id.
    token: String,
    amount: Money,
    status: SimulatedPaymentStatus,
    /// Why the authorization was refused, answered again to every repeat.
    decline_reason: Option<String>,
    captures: u32,
    voids: u32,
    refunds: HashMap<Uuid, Money>,
}

impl SimulatedPayment {
    fn refunded_minor(&self) -> i64 {
        self.refunds
            .values()
            .map(|refund| refund.amount_minor)
            .sum()
    }

    fn record(&self, payment_id: Uuid) -> PaymentRecord {
        PaymentRecord {
            payment_id,
            status: self.status,
            amount_minor: self.amount.amount_minor,
            currency: self.amount.currency.clone(),
            authorizations: u32::from(self.decline_reason.is_none()),
            captures: self.captures,
            voids: self.voids,
            refunded_minor: self.refunded_minor(),
            refunds: u32::try_from(self.refunds.len()).unwrap_or(u32::MAX),
        }
    }

    /// Takes the authorized amount; a repeat with the same amount changes nothing.
    fn capture(&mut self, amount: &Money) -> Result<(), SimulatorError> {
        match self.status {
            SimulatedPaymentStatus::Declined => Err(SimulatorError::Conflict(
                "the payment was declined; there is nothing to capture".to_owned(),
            )),
            SimulatedPaymentStatus::Voided => Err(SimulatorError::Conflict(
                "the payment was voided; it can no longer be captured".to_owned(),
            )),
            SimulatedPaymentStatus::Authorized | SimulatedPaymentStatus::Captured
                if *amount != self.amount =>
            {
                Err(SimulatorError::RuleBroken(format!(
                    "the capture of {} differs from the authorized {}",
                    show(amount),
                    show(&self.amount)
                )))
            }
            SimulatedPaymentStatus::Captured => Ok(()),
            SimulatedPaymentStatus::Authorized => {
                self.status = SimulatedPaymentStatus::Captured;
                self.captures += 1;
                Ok(())
            }
        }
    }

    /// Lets the authorization go; a repeat, or a payment never authorized, changes nothing.
    fn void(&mut self) -> Result<OperationStatus, SimulatorError> {
        match self.status {
            SimulatedPaymentStatus::Authorized => {
                self.status = SimulatedPaymentStatus::Voided;
                self.voids += 1;
                Ok(OperationStatus::Voided)
            }
            SimulatedPaymentStatus::Voided => Ok(OperationStatus::Voided),
            SimulatedPaymentStatus::Declined => Ok(OperationStatus::NotAuthorized),
            SimulatedPaymentStatus::Captured => Err(SimulatorError::Conflict(
                "the payment was captured; refund it instead".to_owned(),
            )),
        }
    }

    /// Gives `amount` back under `refund_id`; a repeat with the same amount changes nothing.
    fn refund(&mut self, refund_id: Uuid, amount: Money) -> Result<(), SimulatorError> {
        if self.status != SimulatedPaymentStatus::Captured {
            return Err(SimulatorError::Conflict(
                "the payment was not captured; there is nothing to refund".to_owned(),
            ));
        }
        if let Some(earlier) = self.refunds.get(&refund_id) {
            return if *earlier == amount {
                Ok(())
            } else {
                Err(SimulatorError::Conflict(format!(
                    "refund {refund_id} was already made for {}",
                    show(earlier)
                )))
            };
        }
        if amount.currency != self.amount.currency {
            return Err(SimulatorError::RuleBroken(format!(
                "the refund is in {}, the payment in {}",
                amount.currency, self.amount.currency
            )));
        }
        let refunded = self.refunded_minor() + amount.amount_minor;
        if refunded > self.amount.amount_minor {
            return Err(SimulatorError::RuleBroken(format!(
                "the refund would bring the refunded total to {refunded}, over the captured {}",
                show(&self.amount)
            )));
        }
        self.refunds.insert(refund_id, amount);
        Ok(())
    }
}

fn show(amount: &Money) -> String {
    format!("{} {}", amount.amount_minor, amount.currency)
}

/// Why the simulator said no, each with its own status.
#[derive(Debug, thiserror::Error)]
enum SimulatorError {
    /// 402: the card was refused.
    #[error("{0}")]
    Declined(String),
    #[error("{0}")]
    NotFound(String),
    /// 409: the payment's state does not allow the operation, or the id was used for another request.
    #[error("{0}")]
    Conflict(String),
    /// 422: the amount breaks a rule that depends on the payment (not what was authorized, too much).
    #[error("{0}")]
    RuleBroken(String),
    /// 422: an amount or currency that is not one.
    #[error("{0}")]
    Invalid(String),
    /// 503: an injected fault, or a held request released by shutdown.
    #[error("{0}")]
    Unavailable(String),
}

impl IntoResponse for SimulatorError {
    fn into_response(self) -> Response {
        let problem = match self {
            SimulatorError::Declined(reason) => Problem::new(
                StatusCode::PAYMENT_REQUIRED,
                "payment-declined",
                "The payment was declined",
                reason,
            ),
            SimulatorError::NotFound(detail) => Problem::not_found(detail),
            SimulatorError::Conflict(detail) => Problem::conflict(detail),
            SimulatorError::RuleBroken(detail) => Problem::unprocessable(detail),
            SimulatorError::Invalid(detail) => Problem::invalid_value(detail),
            SimulatorError::Unavailable(detail) => Problem::unavailable(detail),
        };
        problem.into_response()
    }
}

/// What an authorization came to when it did not fail.
enum Authorization {
    Authorized,
    /// A `tok_timeout` card: the caller holds the request unanswered.
    Silent,
}

/// A transfer to a vendor's account, as `GET /v1/transfers/{transfer_id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRecord {
    pub transfer_id: Uuid,
    pub vendor_id: Uuid,
    pub amount_minor: i64,
    pub currency: Currency,
    /// How often it was asked for; it was made once.
    pub requests: u32,
}

/// Everything the handlers and the [`SimulatorHandle`] share.
struct SimulatorState {
    payments: Mutex<HashMap<Uuid, SimulatedPayment>>,
    transfers: Mutex<HashMap<Uuid, TransferRecord>>,
    /// Payment operations still to fail with 503 (`POST /v1/faults`).
    fail_next: AtomicU32,
    /// Refunds still to decline with 402, doing nothing (a test's card that cannot be refunded).
    decline_refunds: AtomicU32,
    /// `tok_timeout` requests being held, so a test can wait until one has arrived.
    held: AtomicUsize,
    /// Cancelled when the simulator stops, which releases held requests so that graceful
    /// shutdown, which waits for every request in flight, ends.
    stopping: Shutdown,
}

impl SimulatorState {
    fn new() -> Self {
        Self {
            payments: Mutex::new(HashMap::new()),
            transfers: Mutex::new(HashMap::new()),
            fail_next: AtomicU32::new(0),
            decline_refunds: AtomicU32::new(0),
            held: AtomicUsize::new(0),
            stopping: Shutdown::new(),
        }
    }

    /// The payments. No critical section panics, so a poisoned lock still guards a consistent map.
    fn payments(&self) -> MutexGuard<'_, HashMap<Uuid, SimulatedPayment>> {
        self.payments.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn transfers(&self) -> MutexGuard<'_, HashMap<Uuid, TransferRecord>> {
        self.transfers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes transfer `transfer_id` once; a repeat of the same request changes nothing, another
    /// request under the same id is refused.
    fn transfer(
        &self,
        transfer_id: Uuid,
        vendor_id: Uuid,
        amount: Money,
    ) -> Result<TransferRecord, SimulatorError> {
        if amount.amount_minor <= 0 {
            return Err(SimulatorError::RuleBroken(format!(
                "a transfer must move a positive amount, not {}",
                show(&amount)
            )));
        }
        let mut transfers = self.transfers();
        let record = transfers
            .entry(transfer_id)
            .or_insert_with(|| TransferRecord {
                transfer_id,
                vendor_id,
                amount_minor: amount.amount_minor,
                currency: amount.currency.clone(),
                requests: 0,
            });
        if record.vendor_id != vendor_id
            || record.amount_minor != amount.amount_minor
            || record.currency != amount.currency
        {
            return Err(SimulatorError::Conflict(format!(
                "transfer {transfer_id} was already made to another vendor or for another amount"
            )));
        }
        record.requests = record.requests.saturating_add(1);
        Ok(record.clone())
    }

    /// Whether this call is one of the injected faults (and counts it).
    fn take_fault(&self) -> bool {
        self.fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn authorize(
        &self,
        payment_id: Uuid,
        token: &str,
        amount: Money,
    ) -> Result<Authorization, SimulatorError> {
        let mut payments = self.payments();
        if let Some(payment) = payments.get(&payment_id) {
            if payment.amount != amount || payment.token != token {
                return Err(SimulatorError::Conflict(format!(
                    "payment {payment_id} was already requested with another amount or token"
                )));
            }
            return match &payment.decline_reason {
                Some(reason) => Err(SimulatorError::Declined(reason.clone())),
                None => Ok(Authorization::Authorized),
            };
        }
        let decline_reason = match TestCard::from_token(token) {
            TestCard::Approved => None,
            TestCard::Declined => Some(CARD_DECLINED),
            TestCard::Unknown => Some(UNKNOWN_TOKEN),
            TestCard::Silent => return Ok(Authorization::Silent),
        };
        payments.insert(
            payment_id,
            SimulatedPayment {
                token: token.to_owned(),
                amount,
                status: if decline_reason.is_some() {
                    SimulatedPaymentStatus::Declined
                } else {
                    SimulatedPaymentStatus::Authorized
                },
                decline_reason: decline_reason.map(str::to_owned),
                captures: 0,
                voids: 0,
                refunds: HashMap::new(),
            },
        );
        match decline_reason {
            Some(reason) => Err(SimulatorError::Declined(reason.to_owned())),
            None => Ok(Authorization::Authorized),
        }
    }

    /// Runs `operation` on a payment that must exist.
    fn with_payment<T>(
        &self,
        payment_id: Uuid,
        operation: impl FnOnce(&mut SimulatedPayment) -> Result<T, SimulatorError>,
    ) -> Result<T, SimulatorError> {
        let mut payments = self.payments();
        let payment = payments
            .get_mut(&payment_id)
            .ok_or_else(|| SimulatorError::NotFound(format!("no payment {payment_id}")))?;
        operation(payment)
    }

    /// Waits, unanswered, until the simulator stops.
    async fn hold(&self) {
        let _held = HeldRequest::new(&self.held);
        self.stopping.cancelled().await;
    }
}

/// Counts a held request for as long as it lives, including when its client hangs up first.
struct HeldRequest<'a>(&'a AtomicUsize);

impl<'a> HeldRequest<'a> {
    fn new(held: &'a AtomicUsize) -> Self {
        held.fetch_add(1, Ordering::SeqCst);
        Self(held)
    }
}

impl Drop for HeldRequest<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `Path` whose rejection is a [`Problem`], so a malformed id gets problem+json like every error.
struct ApiPath<T>(T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(value) = Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| Problem::bad_request(rejection.body_text()))?;
        Ok(Self(value))
    }
}

#[derive(Debug, Deserialize)]
struct AuthorizeBody {
    token: String,
    #[serde(deserialize_with = "crate::whole_number::deserialize")]
    amount_minor: i64,
    currency: String,
}

/// The body of a capture or a refund.
#[derive(Debug, Deserialize)]
struct AmountBody {
    #[serde(deserialize_with = "crate::whole_number::deserialize")]
    amount_minor: i64,
    currency: String,
}

/// Parses an amount at the edge: 422 for a value outside what `Money` allows.
fn money(amount_minor: i64, currency: &str) -> Result<Money, SimulatorError> {
    let currency =
        Currency::parse(currency).map_err(|e| SimulatorError::Invalid(e.reason.clone()))?;
    Money::new(amount_minor, currency)
        .map_err(|e| SimulatorError::Invalid(format!("amount_minor {}", e.reason)))
}

/// What an operation left the payment as.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
enum OperationStatus {
    Authorized,
    Captured,
    Voided,
    /// A void of a payment that was never authorized: nothing to let go.
    NotAuthorized,
    Refunded,
}

#[derive(Debug, Serialize)]
struct OperationAnswer {
    payment_id: Uuid,
    status: OperationStatus,
}

fn answer(payment_id: Uuid, status: OperationStatus) -> Json<OperationAnswer> {
    Json(OperationAnswer { payment_id, status })
}

#[derive(Debug, Serialize)]
struct RefundAnswer {
    payment_id: Uuid,
    refund_id: Uuid,
    status: OperationStatus,
    amount_minor: i64,
    currency: Currency,
}

#[derive(Debug, Serialize, Deserialize)]
struct Faults {
    fail_next: u32,
}

type SharedState = State<Arc<SimulatorState>>;

#[tracing::instrument(skip(state, body), fields(%payment_id))]
async fn authorize(
    State(state): SharedState,
    ApiPath(payment_id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AuthorizeBody>,
) -> Result<Json<OperationAnswer>, SimulatorError> {
    let amount = money(body.amount_minor, &body.currency)?;
    match state.authorize(payment_id, &body.token, amount)? {
        Authorization::Authorized => Ok(answer(payment_id, OperationStatus::Authorized)),
        Authorization::Silent => {
            tracing::info!("holding a tok_timeout authorization until the simulator stops");
            state.hold().await;
            Err(SimulatorError::Unavailable(
                "the payment simulator is stopping".to_owned(),
            ))
        }
    }
}

#[tracing::instrument(skip(state, body), fields(%payment_id))]
async fn capture(
    State(state): SharedState,
    ApiPath(payment_id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AmountBody>,
) -> Result<Json<OperationAnswer>, SimulatorError> {
    let amount = money(body.amount_minor, &body.currency)?;
    state.with_payment(payment_id, |payment| payment.capture(&amount))?;
    Ok(answer(payment_id, OperationStatus::Captured))
}

#[tracing::instrument(skip(state), fields(%payment_id))]
async fn void(
    State(state): SharedState,
    ApiPath(payment_id): ApiPath<Uuid>,
) -> Result<Json<OperationAnswer>, SimulatorError> {
    let status = match state.payments().get_mut(&payment_id) {
        Some(payment) => payment.void()?,
        None => OperationStatus::NotAuthorized,
    };
    Ok(answer(payment_id, status))
}

#[tracing::instrument(skip(state, body), fields(%payment_id, %refund_id))]
async fn refund(
    State(state): SharedState,
    ApiPath((payment_id, refund_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<AmountBody>,
) -> Result<Json<RefundAnswer>, SimulatorError> {
    let amount = money(body.amount_minor, &body.currency)?;
    let declined = state
        .decline_refunds
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if declined {
        return Err(SimulatorError::Declined(
            "the card can no longer be refunded".to_owned(),
        ));
    }
    state.with_payment(payment_id, |payment| {
        payment.refund(refund_id, amount.clone())
    })?;
    Ok(Json(RefundAnswer {
        payment_id,
        refund_id,
        status: OperationStatus::Refunded,
        amount_minor: amount.amount_minor,
        currency: amount.currency,
    }))
}

#[derive(Debug, Deserialize)]
struct TransferBody {
    vendor_id: Uuid,
    #[serde(deserialize_with = "crate::whole_number::deserialize")]
    amount_minor: i64,
    currency: String,
}

#[tracing::instrument(skip(state, body), fields(%transfer_id))]
async fn transfer(
    State(state): SharedState,
    ApiPath(transfer_id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<TransferBody>,
) -> Result<Json<TransferRecord>, SimulatorError> {
    let amount = money(body.amount_minor, &body.currency)?;
    Ok(Json(state.transfer(transfer_id, body.vendor_id, amount)?))
}

async fn get_transfer(
    State(state): SharedState,
    ApiPath(transfer_id): ApiPath<Uuid>,
) -> Result<Json<TransferRecord>, SimulatorError> {
    state
        .transfers()
        .get(&transfer_id)
        .cloned()
        .map(Json)
        .ok_or_else(|| SimulatorError::NotFound(format!("no transfer {transfer_id}")))
}

async fn get_payment(
    State(state): SharedState,
    ApiPath(payment_id): ApiPath<Uuid>,
) -> Result<Json<PaymentRecord>, SimulatorError> {
    state.with_payment(payment_id, |payment| Ok(Json(payment.record(payment_id))))
}

async fn get_faults(State(state): SharedState) -> Json<Faults> {
    Json(Faults {
        fail_next: state.fail_next.load(Ordering::SeqCst),
    })
}

async fn set_faults(State(state): SharedState, ApiJson(faults): ApiJson<Faults>) -> Json<Faults> {
    state.fail_next.store(faults.fail_next, Ordering::SeqCst);
    tracing::info!(fail_next = faults.fail_next, "faults injected");
    Json(faults)
}

/// Middleware on the payment operations: answers 503, doing nothing, while faults remain.
async fn inject_fault(State(state): SharedState, request: Request, next: Next) -> Response {
    if state.take_fault() {
        tracing::info!("answering with an injected fault");
        return SimulatorError::Unavailable("injected fault; retry later".to_owned())
            .into_response();
    }
    next.run(request).await
}

/// Every route of the simulator. Faults apply to the operations the provider client calls, not
/// to the `GET`s, so state can be inspected while faults are armed.
fn router(state: Arc<SimulatorState>) -> Router {
    let operations = Router::new()
        .route("/v1/payments/{payment_id}/authorize", post(authorize))
        .route("/v1/payments/{payment_id}/capture", post(capture))
        .route("/v1/payments/{payment_id}/void", post(void))
        .route(
            "/v1/payments/{payment_id}/refunds/{refund_id}",
            post(refund),
        )
        .route("/v1/transfers/{transfer_id}", post(transfer))
        .route_layer(middleware::from_fn_with_state(state.clone(), inject_fault));
    let api = Router::new()
        .merge(operations)
        .route("/v1/payments/{payment_id}", get(get_payment))
        .route("/v1/transfers/{transfer_id}", get(get_transfer))
        .route("/v1/faults", get(get_faults).post(set_faults))
        .with_state(state);
    http::service_router(
        "payment-simulator",
        api,
        Dependencies::default(),
        MAX_BODY_BYTES,
    )
}

/// What tests use to inspect and steer a simulator without going through HTTP.
#[derive(Clone)]
pub struct SimulatorHandle {
    state: Arc<SimulatorState>,
}

impl SimulatorHandle {
    pub fn payment(&self, payment_id: Uuid) -> Option<PaymentRecord> {
        self.state
            .payments()
            .get(&payment_id)
            .map(|payment| payment.record(payment_id))
    }

    /// Every transfer made, in no particular order.
    pub fn transfers(&self) -> Vec<TransferRecord> {
        self.state.transfers().values().cloned().collect()
    }

    /// Makes the next `n` refunds answer 402 (declined) without doing anything.
    pub fn decline_next_refunds(&self, n: u32) {
        self.state.decline_refunds.store(n, Ordering::SeqCst);
    }

    /// Makes the next `n` payment operations answer 503 without doing anything.
    pub fn fail_next(&self, n: u32) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// How many `tok_timeout` authorizations are waiting unanswered.
    pub fn held_requests(&self) -> usize {
        self.state.held.load(Ordering::SeqCst)
    }
}

/// The payment simulator, bound and ready to serve.
pub struct PaymentSimulator {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    state: Arc<SimulatorState>,
}

impl PaymentSimulator {
    /// Binds `listen` (port 0 picks a free port).
    pub async fn bind(listen: SocketAddr) -> anyhow::Result<Self> {
        // Install the recorder before anything records, or early samples go nowhere.
        crate::telemetry::metrics_handle();
        let (listener, address) = http::bind(listen).await?;
        let state = Arc::new(SimulatorState::new());
        Ok(Self {
            listener,
            address,
            router: router(state.clone()),
            state,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn handle(&self) -> SimulatorHandle {
        SimulatorHandle {
            state: self.state.clone(),
        }
    }

    /// Serves until `shutdown`, then lets requests in flight finish; held `tok_timeout` requests
    /// are answered 503 then, so they do not keep the simulator running.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        tracing::info!(address = %self.address, "payment simulator listening");
        let stopping = self.state.stopping.clone();
        // Held requests run in the server's connection tasks: release them however serving ends.
        let _release_held = stopping.clone().drop_guard();
        let serve = http::serve(self.listener, self.router, shutdown.clone());
        tokio::pin!(serve);
        tokio::select! {
            result = &mut serve => return result,
            () = shutdown.cancelled() => stopping.cancel(),
        }
        serve.await
    }
}

/// A simulator running in the background, for the tests of this module and of the HTTP client.
#[cfg(test)]
pub(crate) mod testing {
    use std::time::Duration;

    use super::*;

    /// The longest a stopping simulator may take: it holds no request longer than that.
    const STOP_LIMIT: Duration = Duration::from_secs(2);

    pub(crate) struct RunningSimulator {
        pub(crate) handle: SimulatorHandle,
        /// `http://127.0.0.1:port`, without a trailing slash.
        pub(crate) base_url: String,
        shutdown: Shutdown,
        task: tokio::task::JoinHandle<anyhow::Result<()>>,
    }

    impl RunningSimulator {
        pub(crate) async fn start() -> Self {
            crate::telemetry::init_test_logging();
            let simulator = PaymentSimulator::bind(([127, 0, 0, 1], 0).into())
                .await
                .expect("the simulator binds a free port");
            let base_url = format!("http://{}", simulator.address());
            let handle = simulator.handle();
            let shutdown = Shutdown::new();
            let task = tokio::spawn(simulator.run_until_stopped(shutdown.clone()));
            Self {
                handle,
                base_url,
                shutdown,
                task,
            }
        }

        /// Stops the simulator, failing the test unless it stops promptly and cleanly.
        pub(crate) async fn stop(self) {
            self.shutdown.cancel();
            let stopped = tokio::time::timeout(STOP_LIMIT, self.task)
                .await
                .expect("the simulator stops promptly");
            stopped
                .expect("the simulator task does not panic")
                .expect("the simulator stops without error");
        }

        /// Waits until exactly `n` `tok_timeout` requests are held (a request whose client hung
        /// up is no longer held).
        pub(crate) async fn wait_for_held_requests(&self, n: usize) {
            tokio::time::timeout(STOP_LIMIT, async {
                while self.handle.held_requests() != n {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await
            .expect("the held requests arrive or go");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::testing::RunningSimulator;
    use super::*;

    async fn post(sim: &RunningSimulator, path: &str, body: Value) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", sim.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    async fn read(response: reqwest::Response) -> (StatusCode, Value) {
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    fn authorization(token: &str, amount_minor: i64) -> Value {
        json!({ "token": token, "amount_minor": amount_minor, "currency": "EUR" })
    }

    fn eur(amount_minor: i64) -> Value {
        json!({ "amount_minor": amount_minor, "currency": "EUR" })
    }

    #[tokio::test]
    async fn a_payment_is_authorized_captured_refunded_and_shown() {
        let sim = RunningSimulator::start().await;
        let id = Uuid::new_v4();
        let refund_id = Uuid::new_v4();

        let (status, body) = post(
            &sim,
            &format!("/v1/payments/{id}/authorize"),
            authorization("tok_ok", 1200),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({ "payment_id": id.to_string(), "status": "authorized" })
        );
        let (status, body) = post(&sim, &format!("/v1/payments/{id}/capture"), eur(1200)).await;
        assert_eq!(
            (status, &body["status"]),
            (StatusCode::OK, &json!("captured"))
        );
        let (status, body) = post(
            &sim,
            &format!("/v1/payments/{id}/refunds/{refund_id}"),
            eur(200),
        )
        .await;
        assert_eq!(
            (status, &body["status"]),
            (StatusCode::OK, &json!("refunded"))
        );

        let response = reqwest::get(format!("{}/v1/payments/{id}", sim.base_url))
            .await
            .unwrap();
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({
                "payment_id": id.to_string(), "status": "captured", "amount_minor": 1200,
                "currency": "EUR", "authorizations": 1, "captures": 1, "voids": 0,
                "refunded_minor": 200, "refunds": 1
            })
        );
        sim.stop().await;
    }

    #[tokio::test]
    async fn a_repeated_authorization_with_another_amount_or_token_conflicts() {
        let sim = RunningSimulator::start().await;
        let id = Uuid::new_v4();
        let path = format!("/v1/payments/{id}/authorize");
        assert_eq!(
            post(&sim, &path, authorization("tok_ok", 1200)).await.0,
            StatusCode::OK
        );
        assert_eq!(
            post(&sim, &path, authorization("tok_ok", 1300)).await.0,
            StatusCode::CONFLICT
        );
        assert_eq!(
            post(&sim, &path, authorization("tok_decline", 1200))
                .await
                .0,
            StatusCode::CONFLICT
        );
        assert_eq!(sim.handle.payment(id).unwrap().authorizations, 1);
        sim.stop().await;
    }

    #[tokio::test]
    async fn an_unknown_token_is_declined_with_the_test_cards_to_use() {
        let sim = RunningSimulator::start().await;
        let id = Uuid::new_v4();
        let (status, body) = post(
            &sim,
            &format!("/v1/payments/{id}/authorize"),
            authorization("tok_typo", 1200),
        )
        .await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
        assert_eq!(body["detail"], json!(UNKNOWN_TOKEN));
        let record = sim.handle.payment(id).unwrap();
        assert_eq!(
            (record.status, record.authorizations),
            (SimulatedPaymentStatus::Declined, 0)
        );
        sim.stop().await;
    }

    #[tokio::test]
    async fn operations_on_payments_in_the_wrong_state_are_refused_with_their_own_status() {
        let sim = RunningSimulator::start().await;
        let unknown = Uuid::new_v4();
        let (status, _) = post(&sim, &format!("/v1/payments/{unknown}/capture"), eur(1)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = post(&sim, &format!("/v1/payments/{unknown}/void"), json!({})).await;
        assert_eq!(
            (status, &body["status"]),
            (StatusCode::OK, &json!("not_authorized"))
        );

        let id = Uuid::new_v4();
        post(
            &sim,
            &format!("/v1/payments/{id}/authorize"),
            authorization("tok_ok", 1200),
        )
        .await;
        let refund = format!("/v1/payments/{id}/refunds/{}", Uuid::new_v4());
        assert_eq!(
            post(&sim, &refund, eur(100)).await.0,
            StatusCode::CONFLICT,
            "nothing captured yet"
        );
        post(&sim, &format!("/v1/payments/{id}/capture"), eur(1200)).await;
        assert_eq!(
            post(&sim, &refund, eur(1300)).await.0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "more than captured"
        );
        assert_eq!(post(&sim, &refund, eur(1200)).await.0, StatusCode::OK);
        assert_eq!(
            post(&sim, &refund, eur(1100)).await.0,
            StatusCode::CONFLICT,
            "the refund id was used for another amount"
        );
        let another = format!("/v1/payments/{id}/refunds/{}", Uuid::new_v4());
        assert_eq!(
            post(&sim, &another, eur(1)).await.0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "everything was refunded already"
        );

        let voided = Uuid::new_v4();
        post(
            &sim,
            &format!("/v1/payments/{voided}/authorize"),
            authorization("tok_ok", 500),
        )
        .await;
        post(&sim, &format!("/v1/payments/{voided}/void"), json!({})).await;
        post(&sim, &format!("/v1/payments/{voided}/void"), json!({})).await;
        let (status, _) = post(&sim, &format!("/v1/payments/{voided}/capture"), eur(500)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(sim.handle.payment(voided).unwrap().voids, 1);
        sim.stop().await;
    }

    #[tokio::test]
    async fn malformed_requests_get_problems_never_a_panic() {
        let sim = RunningSimulator::start().await;
        let client = reqwest::Client::new();
        let id = Uuid::new_v4();
        let cases = [
            (
                "/v1/payments/not-a-uuid/authorize".to_owned(),
                authorization("tok_ok", 1200).to_string(),
                StatusCode::BAD_REQUEST,
            ),
            (
                format!("/v1/payments/{id}/authorize"),
                "{\"token\": \"tok_ok\"".to_owned(),
                StatusCode::BAD_REQUEST,
            ),
            (
                format!("/v1/payments/{id}/authorize"),
                json!({ "token": "tok_ok", "amount_minor": "12" }).to_string(),
                StatusCode::BAD_REQUEST,
            ),
            (
                format!("/v1/payments/{id}/authorize"),
                authorization("tok_ok", -5).to_string(),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                format!("/v1/payments/{id}/capture"),
                json!({ "amount_minor": 5, "currency": "EUE" }).to_string(),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                format!("/v1/payments/{id}/refunds/42"),
                eur(5).to_string(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "/v1/faults".to_owned(),
                json!({ "fail_next": -1 }).to_string(),
                StatusCode::BAD_REQUEST,
            ),
        ];
        for (path, body, expected) in cases {
            let response = client
                .post(format!("{}{path}", sim.base_url))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status().as_u16(),
                expected.as_u16(),
                "{path} {body}"
            );
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json",
                "{path} {body}"
            );
        }
        assert!(sim.handle.payment(id).is_none());
        sim.stop().await;
    }

    #[tokio::test]
    async fn injected_faults_fail_operations_without_doing_anything_then_run_out() {
        let sim = RunningSimulator::start().await;
        let (status, body) = post(&sim, "/v1/faults", json!({ "fail_next": 1 })).await;
        assert_eq!((status, body), (StatusCode::OK, json!({ "fail_next": 1 })));
        let id = Uuid::new_v4();
        let path = format!("/v1/payments/{id}/authorize");
        let (status, body) = post(&sim, &path, authorization("tok_ok", 1200)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], json!(503));
        assert!(sim.handle.payment(id).is_none());

        let response = reqwest::get(format!("{}/v1/faults", sim.base_url))
            .await
            .unwrap();
        assert_eq!(read(response).await.1, json!({ "fail_next": 0 }));
        assert_eq!(
            post(&sim, &path, authorization("tok_ok", 1200)).await.0,
            StatusCode::OK
        );
        sim.stop().await;
    }

    #[tokio::test]
    async fn a_held_tok_timeout_request_is_answered_when_the_simulator_stops() {
        let sim = RunningSimulator::start().await;
        let request = reqwest::Client::new()
            .post(format!(
                "{}/v1/payments/{}/authorize",
                sim.base_url,
                Uuid::new_v4()
            ))
            .json(&authorization("tok_timeout", 1200))
            .send();
        let pending = tokio::spawn(request);
        sim.wait_for_held_requests(1).await;
        sim.stop().await;
        let response = pending.await.unwrap().unwrap();
        assert_eq!(response.status().as_u16(), 503);
    }

    #[tokio::test]
    async fn the_service_answers_health_checks() {
        let sim = RunningSimulator::start().await;
        let response = reqwest::get(format!("{}/healthz", sim.base_url))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        sim.stop().await;
    }
}
