-- The event store: postgres-es's layout (events, snapshots) plus what the design needs on top:
-- a unique event id, a global position, the writing transaction's id (for the safe read horizon)
-- and the transactional outbox.
CREATE SCHEMA IF NOT EXISTS es;

CREATE TABLE es.events (
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL CHECK (sequence > 0),
    event_type      text        NOT NULL,
    event_version   text        NOT NULL,
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    event_id        uuid        NOT NULL UNIQUE,
    -- Allocated at insert, so positions commit out of order: readers of the global stream must stay
    -- below the safe horizon (transaction_id < pg_snapshot_xmin(pg_current_snapshot())).
    global_position bigint      NOT NULL GENERATED ALWAYS AS IDENTITY UNIQUE,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Optimistic concurrency: two writers of the same next sequence cannot both commit.
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE TABLE es.snapshots (
    aggregate_type   text        NOT NULL,
    aggregate_id     text        NOT NULL,
    last_sequence    bigint      NOT NULL,
    current_snapshot bigint      NOT NULL,
    payload          jsonb       NOT NULL,
    taken_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- One row per event, written in the same statement as the event. The relay publishes unpublished
-- rows in position order and stamps published_at only after SNS acknowledged them.
CREATE TABLE es.outbox (
    global_position bigint      PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz
);
CREATE INDEX outbox_unpublished ON es.outbox (global_position) WHERE published_at IS NULL;

-- Events are facts: never updated, never deleted. Schema changes go through event_version.
CREATE FUNCTION es.refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'es.events is append-only';
END $$;
CREATE TRIGGER events_are_append_only
    BEFORE UPDATE OR DELETE ON es.events
    FOR EACH ROW EXECUTE FUNCTION es.refuse_event_change();
