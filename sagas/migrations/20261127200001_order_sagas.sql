-- The order-fulfilment saga's state: one row per order, changed only by the saga's step runner
-- (under a lease) and by the message listener (in the transaction that records the message as
-- handled, so a redelivered message changes nothing).
CREATE SCHEMA IF NOT EXISTS saga;

CREATE TABLE saga.order_sagas (
    order_id         uuid        PRIMARY KEY,
    customer_id      uuid        NOT NULL,
    -- reserving, authorizing (then confirming), capturing (then committing the stock),
    -- completed (terminal), compensating, cancelled (terminal), refunding, refunded (terminal),
    -- abandoned (terminal).
    state            text        NOT NULL,
    -- [{product_id, quantity}] in the order's line order.
    lines            jsonb       NOT NULL,
    total_minor      bigint      NOT NULL,
    currency         text        NOT NULL,
    payment_token    text        NOT NULL,
    -- Steps finished, in order, each once (`reserve`, `authorize_and_confirm`, ...): what
    -- `sagas show` lists.
    steps_done       text[]      NOT NULL DEFAULT '{}',
    -- Why the saga compensates (a cancel reason), once it does.
    cancel_reason    text,
    -- A cancellation the saga did not cause (the customer's, an admin's), still to act on.
    cancel_requested text,
    -- When the current state gives up (the payment's, for authorizing), in the saga's clock.
    deadline         timestamptz,
    -- When the runner next takes the saga up (retries back off), in the saga's clock.
    next_attempt_at  timestamptz NOT NULL,
    -- Failed attempts of the current state, and the last failure: why a saga is waiting.
    attempts         integer     NOT NULL DEFAULT 0,
    last_error       text,
    -- A runner holds the saga until then (database clock); a crashed runner's lease runs out.
    lease_owner      uuid,
    lease_until      timestamptz,
    correlation_id   uuid,
    -- The OrderPlaced event that started the saga.
    causation_id     uuid        NOT NULL,
    placed_at        timestamptz NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);

-- The runner's work list: only sagas that are not finished.
CREATE INDEX order_sagas_due ON saga.order_sagas (next_attempt_at)
    WHERE state NOT IN ('completed', 'cancelled', 'refunded', 'abandoned');
CREATE INDEX order_sagas_by_state ON saga.order_sagas (state, started_at);

-- Messages already acted on (event ids), kept longer than SQS keeps a message (14 days).
CREATE TABLE saga.handled_messages (
    event_id   uuid        PRIMARY KEY,
    handled_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX handled_messages_by_age ON saga.handled_messages (handled_at);

-- Every saga's row is updated as it waits and finishes: vacuum after 1,000 dead rows, so the
-- runner's claims do not step over ever more dead entries of `order_sagas_due`.
ALTER TABLE saga.order_sagas SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02
);
