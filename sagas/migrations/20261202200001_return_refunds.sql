-- Refunds of accepted returns: one row per return, driven by the saga service's return runner
-- (under a lease) from `refunding` to `refunded`, or to `failed` when the payment provider
-- will not refund (the return is then marked failed on its order, and its units are free).
CREATE TABLE saga.return_refunds (
    return_id       uuid        PRIMARY KEY,
    order_id        uuid        NOT NULL,
    vendor_id       uuid        NOT NULL,
    -- [{product_id, quantity}]: the units returned.
    lines           jsonb       NOT NULL,
    refund_minor    bigint      NOT NULL,
    currency        text        NOT NULL,
    -- Whether the units go back to stock.
    restock         boolean     NOT NULL,
    -- refunding, refunded (terminal) or failed (terminal).
    state           text        NOT NULL DEFAULT 'refunding',
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_owner     uuid,
    lease_until     timestamptz,
    correlation_id  uuid,
    -- The ReturnAccepted event that started it.
    causation_id    uuid        NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);

CREATE INDEX return_refunds_due ON saga.return_refunds (next_attempt_at)
    WHERE state = 'refunding';
