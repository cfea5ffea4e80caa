-- What customers and vendors are told about their orders (confirmed, cancelled, shipped), for
-- the read API's list. Keyed by recipient and event: each is written once, however often the
-- event is delivered.
CREATE TABLE read.notifications (
    recipient_id uuid        NOT NULL,
    -- The event it tells of (UUID v7: newest last).
    event_id     uuid        NOT NULL,
    -- `order_confirmed`, `order_cancelled` or `order_shipped`.
    kind         text        NOT NULL,
    order_id     uuid        NOT NULL,
    at           timestamptz NOT NULL,
    -- The cancellation's reason, the shipment's tracking number.
    detail       jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (recipient_id, event_id)
);

-- The notifications projector's per-aggregate checkpoint, written with what each event adds.
CREATE TABLE read.notification_checkpoints (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    version        bigint NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Each order's vendors, from its placement: a shipment names none, and its vendors are told too.
CREATE TABLE read.order_vendors (
    order_id   uuid   PRIMARY KEY,
    vendor_ids uuid[] NOT NULL
);
