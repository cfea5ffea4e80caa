//! `HttpPaymentProvider`: [`PaymentProvider`] over the provider's HTTP API (the one the
//! simulator serves), and the one mapping from what came back to `Ok` or the [`ProviderError`]
//! that tells the saga whether a retry can help.
use std::time::{Duration, Instant};

use anyhow::Context;
use commerce_domain::Money;
use serde::Deserialize;
use uuid::Uuid;

use super::{PaymentProvider, ProviderError};

/// Longest wait for a connection: an unreachable provider should fail fast and be retried, not
/// use up the whole request timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How much of a failure body that is not a problem document goes into the error.
const MAX_DETAIL_BYTES: usize = 200;

/// A card payment provider reached over HTTP.
#[derive(Debug, Clone)]
pub struct HttpPaymentProvider {
    client: reqwest::Client,
    /// Without a trailing slash, so request paths are appended as written.
    base_url: String,
}

impl HttpPaymentProvider {
    /// A client of the provider at `base_url`; every call gives up after `request_timeout`.
    pub fn new(base_url: &str, request_timeout: Duration) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(base_url)
            .with_context(|| format!("payment provider URL {base_url:?}"))?;
        // The workspace builds reqwest without TLS: an https URL would fail every call, and the
        // saga would retry a call that can never succeed.
        anyhow::ensure!(
            url.scheme() == "http",
            "payment provider URL {base_url:?}: only http:// is supported"
        );
        let client = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(request_timeout.min(CONNECT_TIMEOUT))
            // A redirected payment call is a misconfiguration, not something to follow.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the payment provider HTTP client")?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Sends `call` for `payment_id` and maps what came back; logs and measures every call.
    #[tracing::instrument(level = "debug", skip(self, call), fields(operation = call.name(), %payment_id))]
    async fn send(&self, payment_id: Uuid, call: Call<'_>) -> Result<(), ProviderError> {
        let started = Instant::now();
        let mut request = self
            .client
            .post(format!("{}{}", self.base_url, call.path(payment_id)));
        if let Some(body) = call.body() {
            request = request.json(&body);
        }
        let result = match request.send().await {
            Ok(response) => outcome(response).await,
            Err(error) => Err(transport_error(error)),
        };
        record(call.name(), &result, started.elapsed());
        result
    }
}

#[async_trait::async_trait]
impl PaymentProvider for HttpPaymentProvider {
    async fn authorize(
        &self,
        payment_id: Uuid,
        token: &str,
        amount: &Money,
    ) -> Result<(), ProviderError> {
        self.send(payment_id, Call::Authorize { token, amount })
            .await
    }

    async fn capture(&self, payment_id: Uuid, amount: &Money) -> Result<(), ProviderError> {
        self.send(payment_id, Call::Capture { amount }).await
    }

    async fn void(&self, payment_id: Uuid) -> Result<(), ProviderError> {
        self.send(payment_id, Call::Void).await
    }

    async fn refund(
        &self,
        payment_id: Uuid,
        refund_id: Uuid,
        amount: &Money,
    ) -> Result<(), ProviderError> {
        self.send(payment_id, Call::Refund { refund_id, amount })
            .await
    }

    async fn transfer(
        &self,
        transfer_id: Uuid,
        vendor_id: Uuid,
        amount: &Money,
    ) -> Result<(), ProviderError> {
        self.send(transfer_id, Call::Transfer { vendor_id, amount })
            .await
    }
}

/// One call of the provider's API: its path and body live here and nowhere else.
#[derive(Debug, Clone, Copy)]
enum Call<'a> {
    Authorize {
        token: &'a str,
        amount: &'a Money,
    },
    Capture {
        amount: &'a Money,
    },
    Void,
    Refund {
        refund_id: Uuid,
        amount: &'a Money,
    },
    /// Keyed by the transfer's id (in place of a payment's).
    Transfer {
        vendor_id: Uuid,
        amount: &'a Money,
    },
}

impl Call<'_> {
    /// The `operation` label of logs and metrics.
    fn name(&self) -> &'static str {
        match self {
            Call::Authorize { .. } => "authorize",
            Call::Capture { .. } => "capture",
            Call::Void => "void",
            Call::Refund { .. } => "refund",
            Call::Transfer { .. } => "transfer",
        }
    }

    fn path(&self, payment_id: Uuid) -> String {
        match self {
            Call::Authorize { .. } => format!("/v1/payments/{payment_id}/authorize"),
            Call::Capture { .. } => format!("/v1/payments/{payment_id}/capture"),
            Call::Void => format!("/v1/payments/{payment_id}/void"),
            Call::Refund { refund_id, .. } => {
                format!("/v1/payments/{payment_id}/refunds/{refund_id}")
            }
            Call::Transfer { .. } => format!("/v1/transfers/{payment_id}"),
        }
    }

    fn body(&self) -> Option<serde_json::Value> {
        match self {
            Call::Authorize { token, amount } => Some(serde_json::json!({
                "token": token,
                "amount_minor": amount.amount_minor,
                "currency": amount.currency,
            })),
            Call::Capture { amount } | Call::Refund { amount, .. } => Some(serde_json::json!({
                "amount_minor": amount.amount_minor,
                "currency": amount.currency,
            })),
            Call::Transfer { vendor_id, amount } => Some(serde_json::json!({
                "vendor_id": vendor_id,
                "amount_minor": amount.amount_minor,
                "currency": amount.currency,
            })),
            Call::Void => None,
        }
    }
}

/// What an answer means: 2xx done, 402 declined, 408/429/5xx transient, any other status a
/// request the provider will never accept.
async fn outcome(response: reqwest::Response) -> Result<(), ProviderError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let detail = problem_detail(response).await;
    Err(match status.as_u16() {
        402 => ProviderError::Declined { reason: detail },
        408 | 429 | 500..=599 => ProviderError::Unavailable(format!("{status}: {detail}")),
        _ => ProviderError::Rejected(format!("{status}: {detail}")),
    })
}

/// The `detail` of a problem+json answer, or the start of whatever else came back.
async fn problem_detail(response: reqwest::Response) -> String {
    #[derive(Deserialize)]
    struct ProblemBody {
        detail: Option<String>,
        title: Option<String>,
    }
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => return format!("the answer's body could not be read: {error}"),
    };
    serde_json::from_slice::<ProblemBody>(&body)
        .ok()
        .and_then(|problem| problem.detail.or(problem.title))
        .unwrap_or_else(|| {
            let start = &body[..body.len().min(MAX_DETAIL_BYTES)];
            match String::from_utf8_lossy(start).trim() {
                "" => "no detail given".to_owned(),
                text => text.to_owned(),
            }
        })
}

/// A call that got no answer. Only a request that could not even be built is our own fault;
/// everything else (timeout, refused connection, reset) may go through on a retry.
fn transport_error(error: reqwest::Error) -> ProviderError {
    let built = !error.is_builder();
    let cause = format!("{:#}", anyhow::Error::from(error));
    if built {
        ProviderError::Unavailable(cause)
    } else {
        ProviderError::Rejected(cause)
    }
}

/// Logs the call and records `payment_provider_calls_total` and `payment_provider_call_seconds`.
fn record(operation: &'static str, result: &Result<(), ProviderError>, elapsed: Duration) {
    let outcome = match result {
        Ok(()) => "ok",
        Err(ProviderError::Declined { .. }) => "declined",
        Err(ProviderError::Unavailable(_)) => "unavailable",
        Err(ProviderError::Rejected(_)) => "rejected",
    };
    metrics::counter!("payment_provider_calls_total", "operation" => operation, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("payment_provider_call_seconds", "operation" => operation)
        .record(elapsed.as_secs_f64());
    let elapsed_ms = elapsed.as_millis() as u64;
    match result {
        Ok(()) => tracing::debug!(elapsed_ms, "payment provider call succeeded"),
        Err(error) => tracing::warn!(%error, outcome, elapsed_ms, "payment provider call failed"),
    }
}

#[cfg(test)]
mod tests {
    use commerce_domain::Currency;

    use super::*;
    use crate::payments::simulator::testing::RunningSimulator;
    use crate::payments::SimulatedPaymentStatus;

    const TIMEOUT: Duration = Duration::from_secs(5);

    fn eur(amount_minor: i64) -> Money {
        Money::new(amount_minor, Currency::parse("EUR").unwrap()).unwrap()
    }

    fn provider(sim: &RunningSimulator) -> HttpPaymentProvider {
        HttpPaymentProvider::new(&sim.base_url, TIMEOUT).unwrap()
    }

    #[track_caller]
    fn assert_unavailable(result: Result<(), ProviderError>) {
        assert!(
            matches!(result, Err(ProviderError::Unavailable(_))),
            "{result:?}"
        );
    }

    /// Asserts a rejection whose detail starts with `status`, as the client writes it.
    #[track_caller]
    fn assert_rejected(result: Result<(), ProviderError>, status: u16) {
        assert!(
            matches!(&result, Err(ProviderError::Rejected(detail))
                if detail.starts_with(&status.to_string())),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn an_approved_card_is_captured_once_however_often_capture_is_called() {
        let sim = RunningSimulator::start().await;
        let provider = provider(&sim);
        let id = Uuid::new_v4();
        provider.authorize(id, "tok_ok", &eur(1200)).await.unwrap();
        provider.authorize(id, "tok_ok", &eur(1200)).await.unwrap();
        provider.capture(id, &eur(1200)).await.unwrap();
        provider.capture(id, &eur(1200)).await.unwrap();

        let record = sim.handle.payment(id).unwrap();
        assert_eq!(record.status, SimulatedPaymentStatus::Captured);
        assert_eq!((record.authorizations, record.captures), (1, 1));
        sim.stop().await;
    }

    #[tokio::test]
    async fn a_transfer_is_made_once_however_often_it_is_asked_and_never_changed() {
        let sim = RunningSimulator::start().await;
        let provider = provider(&sim);
        let (transfer_id, vendor_id) = (Uuid::new_v4(), Uuid::new_v4());
        provider
            .transfer(transfer_id, vendor_id, &eur(900))
            .await
            .unwrap();
        provider
            .transfer(transfer_id, vendor_id, &eur(900))
            .await
            .unwrap();
        let transfers = sim.handle.transfers();
        assert_eq!(transfers.len(), 1, "{transfers:?}");
        assert_eq!((transfers[0].amount_minor, transfers[0].requests), (900, 2));

        assert_rejected(
            provider.transfer(transfer_id, vendor_id, &eur(901)).await,
            409,
        );
        sim.handle.fail_next(1);
        assert_unavailable(provider.transfer(Uuid::new_v4(), vendor_id, &eur(5)).await);
        assert_eq!(
            sim.handle.transfers().len(),
            1,
            "a failed call makes nothing"
        );
        sim.stop().await;
    }

    #[tokio::test]
    async fn a_declined_card_is_declined_again_on_a_retry() {
        let sim = RunningSimulator::start().await;
        let provider = provider(&sim);
        let id = Uuid::new_v4();
        let declined = ProviderError::Declined {
            reason: "the card was declined".to_owned(),
        };
        assert_eq!(
            provider.authorize(id, "tok_decline", &eur(1200)).await,
            Err(declined.clone())
        );
        assert_eq!(
            provider.authorize(id, "tok_decline", &eur(1200)).await,
            Err(declined)
        );
        sim.stop().await;
    }

    #[tokio::test]
    async fn an_authorization_without_an_answer_is_unavailable_after_the_client_timeout() {
        let sim = RunningSimulator::start().await;
        let provider = HttpPaymentProvider::new(&sim.base_url, Duration::from_millis(200)).unwrap();
        let id = Uuid::new_v4();
        let started = Instant::now();
        let result = provider.authorize(id, "tok_timeout", &eur(1200)).await;
        assert_unavailable(result);
        assert!(started.elapsed() < Duration::from_secs(2));
        // The saga's compensation for a timed-out authorization: the provider never saw one.
        provider.void(id).await.unwrap();
        assert!(sim.handle.payment(id).is_none());

        // The simulator let the request go when the client hung up; one still held when the
        // simulator stops must not keep it running.
        sim.wait_for_held_requests(0).await;
        let patient = HttpPaymentProvider::new(&sim.base_url, TIMEOUT).unwrap();
        let held = tokio::spawn(async move {
            patient
                .authorize(Uuid::new_v4(), "tok_timeout", &eur(1200))
                .await
        });
        sim.wait_for_held_requests(1).await;
        sim.stop().await;
        let result = held.await.unwrap();
        assert_unavailable(result);
    }

    #[tokio::test]
    async fn injected_faults_are_unavailable_until_they_run_out() {
        let sim = RunningSimulator::start().await;
        let provider = provider(&sim);
        let id = Uuid::new_v4();
        sim.handle.fail_next(2);
        for _ in 0..2 {
            let result = provider.authorize(id, "tok_ok", &eur(1200)).await;
            assert_unavailable(result);
        }
        provider.authorize(id, "tok_ok", &eur(1200)).await.unwrap();
        assert_eq!(sim.handle.payment(id).unwrap().authorizations, 1);
        sim.stop().await;
    }

    #[tokio::test]
    async fn voiding_a_payment_the_provider_never_saw_succeeds() {
        let sim = RunningSimulator::start().await;
        let id = Uuid::new_v4();
        provider(&sim).void(id).await.unwrap();
        assert!(sim.handle.payment(id).is_none());
        sim.stop().await;
    }

    #[tokio::test]
    async fn an_authorization_is_voided_once_and_can_then_not_be_captured() {
        let sim = RunningSimulator::start().await;
        let provider = provider(&sim);
        let id = Uuid::new_v4();
        provider.authorize(id, "tok_ok", &eur(1200)).await.unwrap();
        provider.void(id).await.unwrap();
        provider.void(id).await.unwrap();
        assert_rejected(provider.capture(id, &eur(1200)).await, 409);
        let record = sim.handle.payment(id).unwrap();
        assert_eq!(
            (record.status, record.voids, record.captures),
            (SimulatedPaymentStatus::Voided, 1, 0)
        );
        sim.stop().await;
    }

    #[tokio::test]
    async fn voiding_a_captured_payment_is_rejected() {
        let sim = RunningSimulator::start().await;
        let provider = provider(&sim);
        let id = Uuid::new_v4();
        provider.authorize(id, "tok_ok", &eur(1200)).await.unwrap();
        provider.capture(id, &eur(1200)).await.unwrap();
        let result = provider.void(id).await;
        assert_rejected(result, 409);
        assert_eq!(
            sim.handle.payment(id).unwrap().status,
            SimulatedPaymentStatus::Captured
        );
        sim.stop().await;
    }

    #[tokio::test]
    async fn capturing_another_amount_than_authorized_is_rejected() {
        let sim = RunningSimulator::start().await;
        let provider = provider(&sim);
        let id = Uuid::new_v4();
        provider.authorize(id, "tok_ok", &eur(1200)).await.unwrap();
        let result = provider.capture(id, &eur(1100)).await;
        assert_rejected(result, 422);
        assert_eq!(sim.handle.payment(id).unwrap().captures, 0);
        sim.stop().await;
    }

    #[tokio::test]
    async fn a_refund_repeated_under_its_id_refunds_once() {
        let sim = RunningSimulator::start().await;
        let provider = provider(&sim);
        let id = Uuid::new_v4();
        let refund_id = Uuid::new_v4();
        provider.authorize(id, "tok_ok", &eur(1200)).await.unwrap();
        provider.capture(id, &eur(1200)).await.unwrap();
        provider.refund(id, refund_id, &eur(700)).await.unwrap();
        provider.refund(id, refund_id, &eur(700)).await.unwrap();

        let record = sim.handle.payment(id).unwrap();
        assert_eq!((record.refunds, record.refunded_minor), (1, 700));
        // 700 of 1200 refunded: 600 more is over what was captured.
        assert_rejected(provider.refund(id, Uuid::new_v4(), &eur(600)).await, 422);
        sim.stop().await;
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_unavailable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let provider = HttpPaymentProvider::new(&format!("http://{address}/"), TIMEOUT).unwrap();
        let result = provider.void(Uuid::new_v4()).await;
        assert_unavailable(result);
    }

    #[test]
    fn a_url_the_client_cannot_call_is_refused_up_front() {
        assert!(HttpPaymentProvider::new("not a url", TIMEOUT).is_err());
        assert!(HttpPaymentProvider::new("https://payments.example", TIMEOUT).is_err());
        assert!(HttpPaymentProvider::new("http://localhost:8090/", TIMEOUT).is_ok());
    }
}
