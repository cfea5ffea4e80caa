-- The analytics model: facts, one row per order line sold or refunded and per funnel step, from
-- which every figure (sales by day, vendor, product or category; the funnel) is summed when read.
-- Rows are keyed by what they record, so counting an order twice is impossible by construction;
-- the projector also keeps a per-aggregate checkpoint, written in the same statement, so events
-- apply in order, once.
CREATE TABLE read.analytics_checkpoints_g1 (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    -- The last sequence applied.
    version        bigint NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- A line of an order, counted as sold on the UTC day its order was confirmed (the payment
-- captured), and as refunded on the day an order cancelled after confirmation was cancelled.
CREATE TABLE read.sales_lines_g1 (
    order_id     uuid   NOT NULL,
    product_id   uuid   NOT NULL,
    -- `sale` or `refund`.
    kind         text   NOT NULL CHECK (kind IN ('sale', 'refund')),
    vendor_id    uuid   NOT NULL,
    day          date   NOT NULL,
    currency     text   NOT NULL,
    units        bigint NOT NULL,
    amount_minor bigint NOT NULL,
    PRIMARY KEY (order_id, product_id, kind)
);
CREATE INDEX sales_lines_by_day ON read.sales_lines_g1 (day);
CREATE INDEX sales_lines_by_vendor ON read.sales_lines_g1 (vendor_id, day);

-- What sales are grouped by that lines do not carry: each product's title and category (sales
-- follow a product's category as it is now).
CREATE TABLE read.analytics_products_g1 (
    product_id uuid PRIMARY KEY,
    vendor_id  uuid NOT NULL,
    title      text NOT NULL,
    category   text NOT NULL
);

-- The funnel: each cart created and checked out, each order paid (confirmed) and cancelled, on
-- the UTC day it happened.
CREATE TABLE read.funnel_steps_g1 (
    subject_id uuid NOT NULL,
    -- `cart_created`, `cart_checked_out`, `order_paid` or `order_cancelled`.
    step       text NOT NULL,
    day        date NOT NULL,
    PRIMARY KEY (subject_id, step)
);
CREATE INDEX funnel_steps_by_day ON read.funnel_steps_g1 (day, step);

-- Each product's units available now, for vendors' low-stock alerts (every stock event carries
-- the count after it).
CREATE TABLE read.stock_levels_g1 (
    product_id uuid   PRIMARY KEY,
    vendor_id  uuid   NOT NULL,
    available  bigint NOT NULL
);
CREATE INDEX stock_levels_by_vendor ON read.stock_levels_g1 (vendor_id, available);

-- Generations, as for orders: each table of generation N is `read.<table>_g{N}`, and the live
-- generation is read and written through the views of the tables' plain names (a rebuild fills
-- N+1, then swaps the five views and `read.generations` in one transaction).
CREATE VIEW read.analytics_checkpoints AS SELECT * FROM read.analytics_checkpoints_g1;
CREATE VIEW read.sales_lines AS SELECT * FROM read.sales_lines_g1;
CREATE VIEW read.analytics_products AS SELECT * FROM read.analytics_products_g1;
CREATE VIEW read.funnel_steps AS SELECT * FROM read.funnel_steps_g1;
CREATE VIEW read.stock_levels AS SELECT * FROM read.stock_levels_g1;
INSERT INTO read.generations (model, generation) VALUES ('analytics', 1);
