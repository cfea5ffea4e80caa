-- Published outbox rows are copies of events (which stay forever) and are removed after a
-- retention. This index lets the sweep find the oldest published rows without scanning the
-- outbox; it holds only published rows, so claims of unpublished rows never touch it.
CREATE INDEX outbox_published_at ON es.outbox (published_at) WHERE published_at IS NOT NULL;

COMMENT ON COLUMN es.idempotency_keys.scope IS
    'the caller: {role}:{sub}:{vendor_id or -}, sub in canonical form when it is a UUID';
