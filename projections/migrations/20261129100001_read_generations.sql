-- Generations of the Postgres read models, so ops can rebuild one while the live one serves.
--
-- Each generation of the orders model is a table `read.orders_g{N}`; `read.orders` is a view of
-- the live one, which is what the read API reads and the live projector writes (a simple view is
-- updatable, `INSERT … ON CONFLICT` included). A rebuild fills `read.orders_g{N+1}`, then swaps the
-- view and `read.generations` in one transaction and drops the old table.
CREATE TABLE read.generations (
    model      text        PRIMARY KEY,
    generation bigint      NOT NULL,
    swapped_at timestamptz NOT NULL DEFAULT now()
);

-- A rebuild under way, written in the same transaction as each page it writes: a rebuild that is
-- killed resumes after the last page it wrote whole.
CREATE TABLE read.rebuilds (
    model          text        PRIMARY KEY,
    generation     bigint      NOT NULL,
    -- The safe horizon (a transaction id) when the rebuild started.
    start_horizon  bigint      NOT NULL,
    phase          text        NOT NULL,
    scan_type      integer     NOT NULL,
    scan_aggregate text        NOT NULL,
    scan_sequence  bigint      NOT NULL,
    events         bigint      NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE read.orders RENAME TO orders_g1;
CREATE VIEW read.orders AS SELECT * FROM read.orders_g1;
INSERT INTO read.generations (model, generation) VALUES ('orders', 1);
