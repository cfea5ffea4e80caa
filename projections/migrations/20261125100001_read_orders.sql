-- The orders read model. `doc` is the document the read API serves as is; the other columns
-- exist to find documents (by customer, by vendor) and to guard against applying an event twice.
CREATE SCHEMA IF NOT EXISTS read;

CREATE TABLE read.orders (
    order_id    uuid        PRIMARY KEY,
    customer_id uuid        NOT NULL,
    vendor_ids  uuid[]      NOT NULL,
    -- The last applied Order sequence: an event applies only if it is the next one.
    version     bigint      NOT NULL,
    doc         jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_by_customer ON read.orders (customer_id, order_id);
CREATE INDEX orders_by_vendor ON read.orders USING gin (vendor_ids);
