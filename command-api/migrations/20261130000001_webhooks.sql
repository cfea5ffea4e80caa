-- Vendors' webhooks and their deliveries. Configuration, not history: a webhook's secret must
-- never be published, so it is kept here rather than in an event.
CREATE SCHEMA IF NOT EXISTS notify;

-- One webhook per vendor: where its notifications are posted and the secret that signs them.
CREATE TABLE notify.webhooks (
    vendor_id  uuid        PRIMARY KEY,
    url        text        NOT NULL,
    secret     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One delivery per notification event and vendor with a webhook, queued by the notifications
-- projector with the event and sent by the delivery worker: `pending` until the receiver
-- answers 2xx (`delivered`) or the attempts run out (`dead`, and a copy in the notifications
-- DLQ). The key (event_id, vendor_id) makes a redelivered event queue nothing new.
CREATE TABLE notify.webhook_deliveries (
    delivery_id     uuid        PRIMARY KEY,
    vendor_id       uuid        NOT NULL,
    event_id        uuid        NOT NULL,
    -- `order_confirmed`, `order_cancelled` or `order_shipped`.
    kind            text        NOT NULL,
    order_id        uuid        NOT NULL,
    -- When the event happened, and what it says besides (a reason, a tracking number).
    at              timestamptz NOT NULL,
    detail          jsonb       NOT NULL DEFAULT '{}',
    state           text        NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    -- When a pending delivery is next tried; while an attempt runs, when it is given up as lost.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- The last attempt's HTTP status (none when it did not get an answer) and what went wrong.
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (event_id, vendor_id)
);

-- The worker's claim: the due pending deliveries, oldest first.
CREATE INDEX webhook_deliveries_due ON notify.webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
-- A vendor's deliveries, newest first.
CREATE INDEX webhook_deliveries_by_vendor ON notify.webhook_deliveries (vendor_id, created_at DESC);
