-- Events a projector skipped because this version of it cannot read them (an unknown event type
-- or version, or an event that cannot follow the stored document): the consumer advances the
-- aggregate's sequence past them so later events are not blocked for ever, and records each here
-- for ops. A rebuild with code that knows them applies them.
CREATE TABLE read.skipped_events (
    projection     text        NOT NULL,
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    sequence       bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    event_version  text        NOT NULL,
    reason         text        NOT NULL,
    skipped_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, aggregate_type, aggregate_id, sequence)
);
