-- The vendors' ledger as read: one posting per ledger event (its entries by account, all in the
-- sale's currency), each sale's release and payable amount, each payout, and the sub-orders'
-- shipments (when a sale may be released). Balances and income are sums of the postings.
CREATE TABLE read.ledger_postings_g1 (
    -- The ledger event (UUID v7: newest last).
    event_id         uuid        PRIMARY KEY,
    vendor_id        uuid        NOT NULL,
    -- `sale_credited`, `funds_released`, `return_reversed` or `share_paid_out`.
    reason           text        NOT NULL,
    order_id         uuid        NOT NULL,
    return_id        uuid,
    payout_id        uuid,
    currency         text        NOT NULL,
    -- The event's entries by account; they sum to zero.
    clearing_minor   bigint      NOT NULL,
    commission_minor bigint      NOT NULL,
    pending_minor    bigint      NOT NULL,
    available_minor  bigint      NOT NULL,
    paid_out_minor   bigint      NOT NULL,
    -- The lines credited or returned: product, quantity, amounts.
    lines            jsonb       NOT NULL DEFAULT '[]',
    at               timestamptz NOT NULL
);
CREATE INDEX ledger_postings_g1_vendor ON read.ledger_postings_g1 (vendor_id, event_id);

-- Each vendor's part of an order: released yet, and what a payout would pay of it now.
CREATE TABLE read.ledger_sales_g1 (
    sale_id       text    PRIMARY KEY,
    vendor_id     uuid    NOT NULL,
    order_id      uuid    NOT NULL,
    currency      text    NOT NULL,
    released      boolean NOT NULL DEFAULT false,
    payable_minor bigint  NOT NULL DEFAULT 0
);
CREATE INDEX ledger_sales_g1_unreleased ON read.ledger_sales_g1 (order_id) WHERE NOT released;
CREATE INDEX ledger_sales_g1_payable ON read.ledger_sales_g1 (vendor_id) WHERE payable_minor <> 0;

-- Shipments of sub-orders: a vendor's (`SubOrderShipped`), or the nil vendor for "every
-- sub-order still open" (`OrderShipped`, the last to ship).
CREATE TABLE read.ledger_shipments_g1 (
    order_id   uuid        NOT NULL,
    vendor_id  uuid        NOT NULL,
    shipped_at timestamptz NOT NULL,
    PRIMARY KEY (order_id, vendor_id)
);

-- Each payout: what it pays, and when it was completed (null while open).
CREATE TABLE read.ledger_payouts_g1 (
    payout_id    uuid        PRIMARY KEY,
    vendor_id    uuid        NOT NULL,
    currency     text        NOT NULL,
    amount_minor bigint      NOT NULL,
    sales        integer     NOT NULL,
    started_at   timestamptz NOT NULL,
    completed_at timestamptz
);
CREATE INDEX ledger_payouts_g1_vendor ON read.ledger_payouts_g1 (vendor_id, started_at);

-- The ledger projector's per-aggregate checkpoint, written with what each event adds.
CREATE TABLE read.ledger_checkpoints_g1 (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    version        bigint NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Generations, as for the other models: the live one behind views of the plain names.
CREATE VIEW read.ledger_postings AS SELECT * FROM read.ledger_postings_g1;
CREATE VIEW read.ledger_sales AS SELECT * FROM read.ledger_sales_g1;
CREATE VIEW read.ledger_shipments AS SELECT * FROM read.ledger_shipments_g1;
CREATE VIEW read.ledger_payouts AS SELECT * FROM read.ledger_payouts_g1;
CREATE VIEW read.ledger_checkpoints AS SELECT * FROM read.ledger_checkpoints_g1;
INSERT INTO read.generations (model, generation) VALUES ('ledger', 1);
