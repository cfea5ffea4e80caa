-- A row SNS keeps refusing is parked: the relay stops trying it (and every later row of its
-- aggregate, which must not overtake it), so it never blocks unrelated aggregates. Ops list parked
-- rows with `commerce outbox parked` and put them back with `commerce outbox retry`.
ALTER TABLE es.outbox
    ADD COLUMN attempts   integer NOT NULL DEFAULT 0,  -- refusals of this event by SNS
    ADD COLUMN last_error text,
    ADD COLUMN parked_at  timestamptz;

DROP INDEX es.outbox_unpublished;
CREATE INDEX outbox_claimable ON es.outbox (global_position)
    WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON es.outbox (global_position) WHERE parked_at IS NOT NULL;
