//! The saga as data: its states, what it remembers of the order, and the pure rules that say what
//! follows a step's outcome. No I/O here; the runner applies these decisions.
use std::time::Duration;

use chrono::{DateTime, Utc};
use commerce_domain::order::CancelReason;
use commerce_domain::{Money, PaymentId, RefundId, ReturnId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where an order's saga is. Four states are final: `completed` (confirmed, paid, stock sold),
/// `cancelled` (compensated), `refunded` (cancelled after confirmation, money and stock given
/// back) and `abandoned` (an operator took it over).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaState {
    Reserving,
    /// Authorizing the payment, then confirming the order in the same append.
    Authorizing,
    /// Capturing the payment, then selling the reserved stock in the same append.
    Capturing,
    Completed,
    Compensating,
    Cancelled,
    Refunding,
    Refunded,
    Abandoned,
}

impl SagaState {
    pub const ALL: [SagaState; 9] = [
        SagaState::Reserving,
        SagaState::Authorizing,
        SagaState::Capturing,
        SagaState::Completed,
        SagaState::Compensating,
        SagaState::Cancelled,
        SagaState::Refunding,
        SagaState::Refunded,
        SagaState::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SagaState::Reserving => "reserving",
            SagaState::Authorizing => "authorizing",
            SagaState::Capturing => "capturing",
            SagaState::Completed => "completed",
            SagaState::Compensating => "compensating",
            SagaState::Cancelled => "cancelled",
            SagaState::Refunding => "refunding",
            SagaState::Refunded => "refunded",
            SagaState::Abandoned => "abandoned",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Nothing more happens to a saga in a final state (an operator may still retry an abandoned
    /// one).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            SagaState::Completed
                | SagaState::Cancelled
                | SagaState::Refunded
                | SagaState::Abandoned
        )
    }

    /// The step the runner performs in this state, named as `steps_done` records it.
    pub fn step(self) -> &'static str {
        match self {
            SagaState::Reserving => STEP_RESERVE,
            SagaState::Authorizing => STEP_AUTHORIZE_AND_CONFIRM,
            SagaState::Capturing => STEP_CAPTURE_AND_COMMIT,
            SagaState::Compensating => "compensate",
            SagaState::Refunding => "refund",
            SagaState::Completed
            | SagaState::Cancelled
            | SagaState::Refunded
            | SagaState::Abandoned => "none",
        }
    }

    /// Whether the order may still be stopped before confirmation: a cancellation then
    /// compensates; after it, it refunds.
    fn before_confirmation(self) -> bool {
        matches!(self, SagaState::Reserving | SagaState::Authorizing)
    }
}

/// Every line's stock held.
pub const STEP_RESERVE: &str = "reserve";
/// The payment authorized at the provider, then `PaymentAuthorized` and `OrderConfirmed` appended
/// together: the order is confirmed exactly when its payment is on record.
pub const STEP_AUTHORIZE_AND_CONFIRM: &str = "authorize_and_confirm";
/// The payment captured at the provider, then `PaymentCaptured` and every line's
/// `StockCommitted` appended together.
pub const STEP_CAPTURE_AND_COMMIT: &str = "capture_and_commit";

/// One order line as the saga needs it: what to reserve, commit or give back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaLine {
    pub product_id: Uuid,
    pub quantity: u32,
    /// Whose line: its sale stream is credited on capture. Absent on sagas started before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<Uuid>,
}

/// An order's saga as stored in `saga.order_sagas` (and as `commerce sagas show` prints it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderSaga {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub state: SagaState,
    pub lines: Vec<SagaLine>,
    pub total: Money,
    pub payment_token: String,
    pub steps_done: Vec<String>,
    pub cancel_reason: Option<String>,
    pub cancel_requested: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Uuid,
    pub placed_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl OrderSaga {
    /// The payment's id and aggregate id: derived from the order, so every retry of the
    /// authorization names the same payment and the provider never holds the money twice.
    pub fn payment_id(&self) -> PaymentId {
        payment_id_of(self.order_id)
    }

    /// The refund's id, derived from the order: a retried refund is recognised.
    pub fn refund_id(&self) -> RefundId {
        RefundId(Uuid::new_v5(&self.order_id, b"refund"))
    }

    /// The id under which a cancellation after capture reverses the cancelled lines in the
    /// vendors' ledgers, derived from the order: a retried reversal is recognised.
    pub fn cancellation_return_id(&self) -> ReturnId {
        ReturnId(Uuid::new_v5(&self.order_id, b"cancellation"))
    }

    /// The id of the commands the saga sends in its current step (saga id + step): recorded in
    /// the events' metadata, the same on every retry of the step.
    pub fn command_id(&self) -> Uuid {
        Uuid::new_v5(&self.order_id, self.state.step().as_bytes())
    }
}

/// The payment of order `order_id`: derived from the order, so the saga and the refunds of its
/// returns name the same one.
pub fn payment_id_of(order_id: Uuid) -> PaymentId {
    PaymentId(Uuid::new_v5(&order_id, b"payment"))
}

/// What came of running the current state's step.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// The step's effects are in place.
    Done,
    /// The order cannot go on: undo what was done, and cancel it for `reason`.
    Compensate(CancelReason),
    /// The order was cancelled by someone else while the saga drove it.
    CancelledElsewhere,
    /// A failure that may pass (a dependency down, contention, a provider timeout): try again.
    Retry(String),
}

/// How long each waiting state may last, and how retries back off.
#[derive(Debug, Clone)]
pub struct SagaTimings {
    /// A payment provider that has not authorized by then is given up: `payment_timeout`.
    pub payment_deadline: Duration,
    /// Any other state past this is overdue: still retried, and listed for ops.
    pub step_deadline: Duration,
    pub retry_first: Duration,
    pub retry_max: Duration,
}

impl Default for SagaTimings {
    fn default() -> Self {
        Self {
            payment_deadline: Duration::from_secs(30),
            step_deadline: Duration::from_secs(60),
            retry_first: Duration::from_millis(200),
            retry_max: Duration::from_secs(10),
        }
    }
}

impl SagaTimings {
    /// The deadline of `state` when entered at `now`.
    pub fn deadline(&self, state: SagaState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if state.is_final() {
            return None;
        }
        let allowed = match state {
            SagaState::Authorizing => self.payment_deadline,
            _ => self.step_deadline,
        };
        Some(now + chrono::Duration::from_std(allowed).unwrap_or(chrono::Duration::MAX))
    }

    /// The pause before attempt `attempts + 1` (doubling, capped).
    pub fn backoff(&self, attempts: i32) -> Duration {
        let doublings = u32::try_from(attempts.clamp(0, 16)).unwrap_or(0);
        self.retry_first
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.retry_max)
    }
}

/// What the runner records after a step: the saga's next state, or a retry of the same one.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Enter `state` now (its deadline starts); `step_done` is appended to `steps_done`.
    Enter {
        state: SagaState,
        step_done: Option<&'static str>,
        cancel_reason: Option<String>,
    },
    /// Stay, and try again at `at`, remembering why.
    RetryAt { at: DateTime<Utc>, error: String },
}

impl Transition {
    /// Whether the saga's row must say so before the runner goes on. Steps forward need not be
    /// recorded: after a crash the runner starts again from the last recorded state, and every
    /// step it repeats is idempotent. But compensation must be on record before it releases
    /// anything, or a restart could go forward again over a line already given back; a wait must
    /// be, for the runner that takes it up later and for operators; and so must the end.
    pub fn must_be_recorded(&self) -> bool {
        match self {
            Transition::RetryAt { .. } => true,
            Transition::Enter { state, .. } => {
                state.is_final() || matches!(state, SagaState::Compensating | SagaState::Refunding)
            }
        }
    }

    /// `saga` after this transition at `now`.
    pub fn applied_to(
        &self,
        saga: &OrderSaga,
        now: DateTime<Utc>,
        timings: &SagaTimings,
    ) -> OrderSaga {
        let mut next = saga.clone();
        match self {
            Transition::Enter {
                state,
                step_done,
                cancel_reason,
            } => {
                if let Some(step) = step_done {
                    if !next.steps_done.iter().any(|done| done == step) {
                        next.steps_done.push((*step).to_owned());
                    }
                }
                next.state = *state;
                next.cancel_reason = cancel_reason.clone();
                next.deadline = timings.deadline(*state, now);
                next.next_attempt_at = now;
                next.attempts = 0;
                next.last_error = None;
                next.finished_at = state.is_final().then_some(now);
            }
            Transition::RetryAt { at, error } => {
                next.next_attempt_at = *at;
                next.attempts = next.attempts.saturating_add(1);
                next.last_error = Some(error.clone());
            }
        }
        next
    }
}

/// The state a pending cancellation moves the saga to, if one is pending and not yet acted on.
pub fn on_cancel_request(saga: &OrderSaga) -> Option<Transition> {
    let reason = saga.cancel_requested.clone()?;
    if saga.state.before_confirmation() {
        return Some(Transition::Enter {
            state: SagaState::Compensating,
            step_done: None,
            cancel_reason: Some(reason),
        });
    }
    // A completed saga learns of a cancellation here when it was recorded while the saga was
    // finishing; the listener moves one completed earlier to `refunding` itself.
    if matches!(saga.state, SagaState::Capturing | SagaState::Completed) {
        return Some(Transition::Enter {
            state: SagaState::Refunding,
            step_done: None,
            cancel_reason: Some(reason),
        });
    }
    None
}

/// What follows `outcome` of the step of `saga.state`, at `now`.
pub fn after_step(
    saga: &OrderSaga,
    outcome: StepOutcome,
    now: DateTime<Utc>,
    timings: &SagaTimings,
) -> Transition {
    let step_done = Some(saga.state.step());
    match outcome {
        StepOutcome::Done => Transition::Enter {
            state: match saga.state {
                SagaState::Reserving => SagaState::Authorizing,
                SagaState::Authorizing => SagaState::Capturing,
                SagaState::Capturing => SagaState::Completed,
                SagaState::Compensating => SagaState::Cancelled,
                SagaState::Refunding => SagaState::Refunded,
                done => done,
            },
            step_done,
            cancel_reason: saga.cancel_reason.clone(),
        },
        StepOutcome::Compensate(reason) => Transition::Enter {
            state: SagaState::Compensating,
            step_done: None,
            cancel_reason: Some(reason.as_str().to_owned()),
        },
        StepOutcome::CancelledElsewhere => Transition::Enter {
            state: if saga.state.before_confirmation() {
                SagaState::Compensating
            } else {
                SagaState::Refunding
            },
            step_done: None,
            cancel_reason: Some(
                saga.cancel_requested
                    .clone()
                    .unwrap_or_else(|| "order_cancelled".to_owned()),
            ),
        },
        StepOutcome::Retry(error) => {
            let past_deadline = saga.deadline.is_some_and(|deadline| now >= deadline);
            if past_deadline && saga.state == SagaState::Authorizing {
                return Transition::Enter {
                    state: SagaState::Compensating,
                    step_done: None,
                    cancel_reason: Some(CancelReason::PaymentTimeout.as_str().to_owned()),
                };
            }
            let pause = timings.backoff(saga.attempts);
            Transition::RetryAt {
                at: now + chrono::Duration::from_std(pause).unwrap_or(chrono::Duration::MAX),
                error,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use commerce_domain::Currency;

    use super::*;

    fn saga(state: SagaState) -> OrderSaga {
        let now = Utc::now();
        OrderSaga {
            order_id: Uuid::from_u128(1),
            customer_id: Uuid::from_u128(2),
            state,
            lines: vec![SagaLine {
                product_id: Uuid::from_u128(3),
                quantity: 2,
                vendor_id: None,
            }],
            total: Money::new(2000, Currency::parse("EUR").unwrap()).unwrap(),
            payment_token: "tok_ok".into(),
            steps_done: vec![],
            cancel_reason: None,
            cancel_requested: None,
            deadline: Some(now + chrono::Duration::seconds(30)),
            next_attempt_at: now,
            attempts: 0,
            last_error: None,
            correlation_id: None,
            causation_id: Uuid::from_u128(4),
            placed_at: now,
            started_at: now,
            updated_at: now,
            finished_at: None,
        }
    }

    #[test]
    fn a_finished_step_leads_to_the_next_state_in_order() {
        let timings = SagaTimings::default();
        let path = [
            (SagaState::Reserving, SagaState::Authorizing),
            (SagaState::Authorizing, SagaState::Capturing),
            (SagaState::Capturing, SagaState::Completed),
            (SagaState::Compensating, SagaState::Cancelled),
            (SagaState::Refunding, SagaState::Refunded),
        ];
        for (from, to) in path {
            let next = after_step(&saga(from), StepOutcome::Done, Utc::now(), &timings);
            assert_eq!(
                next,
                Transition::Enter {
                    state: to,
                    step_done: Some(from.step()),
                    cancel_reason: None
                }
            );
        }
    }

    #[test]
    fn a_payment_that_keeps_failing_is_given_up_at_its_deadline_and_nothing_else_is() {
        let timings = SagaTimings::default();
        let mut waiting = saga(SagaState::Authorizing);
        let deadline = waiting.deadline.unwrap();
        let before = after_step(
            &waiting,
            StepOutcome::Retry("timeout".into()),
            deadline - chrono::Duration::seconds(1),
            &timings,
        );
        assert!(matches!(before, Transition::RetryAt { .. }), "{before:?}");
        let after = after_step(
            &waiting,
            StepOutcome::Retry("timeout".into()),
            deadline,
            &timings,
        );
        assert_eq!(
            after,
            Transition::Enter {
                state: SagaState::Compensating,
                step_done: None,
                cancel_reason: Some("payment_timeout".into())
            }
        );
        waiting.state = SagaState::Capturing;
        let capture = after_step(&waiting, StepOutcome::Retry("x".into()), deadline, &timings);
        assert!(
            matches!(capture, Transition::RetryAt { .. }),
            "money already held is captured, not abandoned: {capture:?}"
        );
    }

    #[test]
    fn compensation_waits_and_ends_are_recorded_before_the_runner_goes_on_steps_forward_are_not() {
        let enter = |state| Transition::Enter {
            state,
            step_done: None,
            cancel_reason: None,
        };
        for state in SagaState::ALL {
            let recorded = enter(state).must_be_recorded();
            let forward = matches!(
                state,
                SagaState::Reserving | SagaState::Authorizing | SagaState::Capturing
            );
            assert_eq!(recorded, !forward, "{state:?}");
        }
        let retry = Transition::RetryAt {
            at: Utc::now(),
            error: "x".into(),
        };
        assert!(retry.must_be_recorded());
    }

    #[test]
    fn a_transition_applied_in_memory_keeps_each_step_once_and_counts_retries() {
        let timings = SagaTimings::default();
        let now = Utc::now();
        let saga = saga(SagaState::Reserving);
        let next =
            after_step(&saga, StepOutcome::Done, now, &timings).applied_to(&saga, now, &timings);
        assert_eq!(next.state, SagaState::Authorizing);
        assert_eq!(next.steps_done, ["reserve"]);
        assert_eq!(next.deadline, timings.deadline(SagaState::Authorizing, now));
        let again = Transition::Enter {
            state: SagaState::Authorizing,
            step_done: Some("reserve"),
            cancel_reason: None,
        }
        .applied_to(&next, now, &timings);
        assert_eq!(again.steps_done, ["reserve"]);
        let retried = after_step(&again, StepOutcome::Retry("503".into()), now, &timings)
            .applied_to(&again, now, &timings);
        assert_eq!(
            (retried.attempts, retried.last_error.as_deref()),
            (1, Some("503"))
        );
        assert_eq!(
            retried.deadline, again.deadline,
            "a retry keeps the state's deadline"
        );
    }

    #[test]
    fn retries_back_off_doubling_up_to_the_cap() {
        let timings = SagaTimings::default();
        assert_eq!(timings.backoff(0), Duration::from_millis(200));
        assert_eq!(timings.backoff(1), Duration::from_millis(400));
        assert_eq!(timings.backoff(30), timings.retry_max);
        assert_eq!(timings.backoff(-1), Duration::from_millis(200));
    }

    #[test]
    fn a_cancellation_compensates_before_confirmation_and_refunds_after() {
        for (state, expected) in [
            (SagaState::Reserving, Some(SagaState::Compensating)),
            (SagaState::Authorizing, Some(SagaState::Compensating)),
            (SagaState::Capturing, Some(SagaState::Refunding)),
            (SagaState::Completed, Some(SagaState::Refunding)),
            (SagaState::Compensating, None),
            (SagaState::Cancelled, None),
            (SagaState::Refunding, None),
        ] {
            let mut cancelled = saga(state);
            cancelled.cancel_requested = Some("customer_request".into());
            let next = on_cancel_request(&cancelled);
            let entered = match next {
                Some(Transition::Enter { state, .. }) => Some(state),
                _ => None,
            };
            assert_eq!(entered, expected, "from {state:?}");
            assert_eq!(on_cancel_request(&saga(state)), None, "nothing requested");
        }
    }

    #[test]
    fn ids_derive_from_the_order_and_the_step() {
        let a = saga(SagaState::Reserving);
        let mut b = a.clone();
        assert_eq!(a.payment_id(), b.payment_id());
        assert_eq!(a.command_id(), b.command_id());
        b.state = SagaState::Authorizing;
        assert_ne!(a.command_id(), b.command_id());
        assert_ne!(a.payment_id().0, a.refund_id().0);
    }

    #[test]
    fn every_state_parses_from_its_name() {
        for state in SagaState::ALL {
            assert_eq!(SagaState::parse(state.as_str()), Some(state));
        }
        assert_eq!(SagaState::parse("done"), None);
    }
}
