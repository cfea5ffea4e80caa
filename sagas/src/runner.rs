//! The step runner: takes due sagas under a lease and drives each through its steps until it
//! finishes or has to wait (a retry, later). Also what fires deadlines: a saga waiting on a
//! payment is due again at its next retry, and the retry that finds the deadline passed
//! compensates.
//!
//! A crash at any point loses nothing: the saga's row still names the state whose step was
//! running, its lease runs out, and a runner (this one restarted, or another) runs the step again;
//! every step is idempotent.
use std::sync::Arc;
use std::time::Duration;

use commerce_platform::Shutdown;
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::clock::SagaClock;
use crate::model::{after_step, on_cancel_request, OrderSaga, SagaState, SagaTimings, Transition};
use crate::steps::SagaSteps;
use crate::store::SagaStore;

/// How the runner works.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Sagas driven at once.
    pub concurrency: usize,
    /// How long a runner holds a saga without recording progress before another may take it.
    pub lease: Duration,
    /// How often due sagas (retries, deadlines, crashed runners' sagas) are looked for when
    /// nothing wakes the runner.
    pub poll_interval: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            concurrency: 64,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(250),
        }
    }
}

/// For tests of crash recovery: the runner dies (stops everything, records nothing more) right
/// after the step of `crash_after` has had its effects, before it records them.
#[derive(Clone, Default)]
pub struct FaultInjection {
    pub crash_after: Option<SagaState>,
    /// Notified when the simulated crash happened.
    pub crashed: Arc<Notify>,
}

impl std::fmt::Debug for FaultInjection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultInjection")
            .field("crash_after", &self.crash_after)
            .finish()
    }
}

/// Drives sagas.
pub struct SagaRunner {
    pub store: SagaStore,
    pub steps: SagaSteps,
    pub clock: SagaClock,
    pub timings: SagaTimings,
    pub config: RunnerConfig,
    pub faults: FaultInjection,
    /// Woken by the listener when a saga became due.
    pub wake: Arc<Notify>,
    /// This runner's identity on the leases it holds.
    pub owner: Uuid,
}

impl SagaRunner {
    /// Runs until `halt`; sagas being driven then finish their current step and let go. Sagas
    /// handed over on `new_sagas` are already leased to this runner.
    pub async fn run(
        self: Arc<Self>,
        mut new_sagas: mpsc::UnboundedReceiver<OrderSaga>,
        halt: Shutdown,
    ) {
        let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut driving = JoinSet::new();
        // Whether due sagas may be waiting in the table: at start, when woken, at every poll
        // tick, and after a claim that filled every free permit. A saga handed over by the
        // listener does not set it: it is already leased, and a claim per new saga would be a
        // statement per order for nothing.
        let mut look_for_due = true;
        let mut next_poll = tokio::time::Instant::now() + self.config.poll_interval;
        tracing::info!(owner = %self.owner, "saga runner started");
        while !halt.is_cancelled() {
            while driving.try_join_next().is_some() {}
            let free = permits.available_permits();
            if look_for_due && free > 0 {
                let claimed = self
                    .store
                    .claim_due(
                        self.owner,
                        self.clock.now(),
                        i64::try_from(free).unwrap_or(i64::MAX),
                        self.config.lease,
                    )
                    .await;
                let sagas = match claimed {
                    Ok(sagas) => sagas,
                    Err(error) => {
                        tracing::warn!(%error, "could not take due sagas; trying again");
                        Vec::new()
                    }
                };
                look_for_due = sagas.len() == free;
                for saga in sagas {
                    let Ok(permit) = permits.clone().acquire_owned().await else {
                        break;
                    };
                    let runner = self.clone();
                    let halt = halt.clone();
                    driving.spawn(async move {
                        runner.drive(saga, &halt).await;
                        drop(permit);
                    });
                }
                if look_for_due {
                    continue;
                }
            }
            tokio::select! {
                _ = self.wake.notified() => look_for_due = true,
                Some(saga) = new_sagas.recv() => {
                    // Leased at insert: it waits here for a permit, never for its lease.
                    let runner = self.clone();
                    let halt = halt.clone();
                    let permits = permits.clone();
                    driving.spawn(async move {
                        let Ok(permit) = permits.acquire_owned().await else {
                            return;
                        };
                        runner.drive(saga, &halt).await;
                        drop(permit);
                    });
                },
                // With every permit taken, a saga that ends frees one for what may be due.
                Some(_) = driving.join_next(), if free == 0 && look_for_due => {},
                _ = tokio::time::sleep_until(next_poll) => {
                    look_for_due = true;
                    next_poll = tokio::time::Instant::now() + self.config.poll_interval;
                },
                _ = halt.cancelled() => break,
            }
        }
        while driving.join_next().await.is_some() {}
        tracing::info!(owner = %self.owner, "saga runner stopped");
    }

    /// Takes one saga as far as it goes now.
    #[tracing::instrument(skip_all, fields(order_id = %saga.order_id))]
    async fn drive(&self, mut saga: OrderSaga, halt: &Shutdown) {
        loop {
            let transition = match on_cancel_request(&saga) {
                Some(transition) => transition,
                None => {
                    let outcome = self.steps.run(&saga).await;
                    if self.faults.crash_after == Some(saga.state) {
                        tracing::warn!(state = saga.state.as_str(), "simulated crash after a step");
                        self.faults.crashed.notify_waiters();
                        halt.cancel();
                        return;
                    }
                    after_step(&saga, outcome, self.clock.now(), &self.timings)
                }
            };
            let now = self.clock.now();
            let mut next = transition.applied_to(&saga, now, &self.timings);
            if transition.must_be_recorded() {
                let keep_lease =
                    !next.state.is_final() && !matches!(transition, Transition::RetryAt { .. });
                match self
                    .store
                    .record(&next, self.owner, keep_lease, self.config.lease)
                    .await
                {
                    Ok(Some(stored)) => next = stored,
                    Ok(None) => {
                        tracing::warn!("lost the saga's lease; another runner has it");
                        return;
                    }
                    Err(error) => {
                        // The runner that takes the saga up once the lease runs out repeats the
                        // steps since the last record: harmless, every step is idempotent.
                        tracing::warn!(%error, "could not record the saga's progress");
                        return;
                    }
                }
            }
            observe(&saga, &next, &transition);
            saga = next;
            if on_cancel_request(&saga).is_some() {
                continue;
            }
            if saga.state.is_final() || matches!(transition, Transition::RetryAt { .. }) {
                return;
            }
            if halt.is_cancelled() {
                if let Err(error) = self.store.release(saga.order_id, self.owner).await {
                    tracing::warn!(%error, "could not let go of the saga; its lease runs out");
                }
                return;
            }
        }
    }
}

/// Logs and counts a recorded transition.
fn observe(before: &OrderSaga, after: &OrderSaga, transition: &Transition) {
    match transition {
        Transition::Enter { state, .. } => {
            metrics::counter!(
                "saga_transitions_total",
                "from" => before.state.as_str(),
                "to" => state.as_str()
            )
            .increment(1);
            // One line per order at info (where it ended, or that it turned back); each step
            // forward at debug.
            if state.is_final() || matches!(state, SagaState::Compensating | SagaState::Refunding) {
                tracing::info!(
                    from = before.state.as_str(),
                    to = state.as_str(),
                    reason = after.cancel_reason.as_deref().unwrap_or(""),
                    "saga moved on"
                );
            } else {
                tracing::debug!(
                    from = before.state.as_str(),
                    to = state.as_str(),
                    "saga moved on"
                );
            }
            if state.is_final() {
                let took = (chrono::Utc::now() - after.placed_at)
                    .to_std()
                    .unwrap_or_default();
                metrics::histogram!("saga_completion_seconds", "state" => state.as_str())
                    .record(took.as_secs_f64());
            }
        }
        Transition::RetryAt { at, error } => {
            metrics::counter!("saga_retries_total", "step" => before.state.step()).increment(1);
            tracing::info!(state = before.state.as_str(), attempts = after.attempts, retry_at = %at, %error, "saga step will be retried");
        }
    }
}
