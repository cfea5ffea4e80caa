-- What customers and vendors are told about their orders (confirmed, cancelled, shipped), for
-- the read API's list. Keyed by recipient and event: each is written once, however often the
-- event is delivered.
CREATE TABLE read.notifications_g1 (
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
CREATE TABLE read.notification_checkpoints_g1 (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    version        bigint NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Each order's vendors, from its placement: a shipment names none, and its vendors are told too.
CREATE TABLE read.order_vendors_g1 (
    order_id   uuid   PRIMARY KEY,
    vendor_ids uuid[] NOT NULL
);

-- Generations, as for orders and analytics: the live one behind views of the plain names.
CREATE VIEW read.notifications AS SELECT * FROM read.notifications_g1;
CREATE VIEW read.notification_checkpoints AS SELECT * FROM read.notification_checkpoints_g1;
CREATE VIEW read.order_vendors AS SELECT * FROM read.order_vendors_g1;
INSERT INTO read.generations (model, generation) VALUES ('notifications', 1);
