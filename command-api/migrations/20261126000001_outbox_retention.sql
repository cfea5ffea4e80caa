-- Published outbox rows are copies of events (which stay forever) and are removed after a
-- retention. The sweep walks the outbox by position (its primary key), oldest first, and stops at
-- the first rows younger than the retention: no index on published_at, whose upkeep on every
-- stamp cost the relay about a tenth of its throughput (BENCHMARKS.md).

COMMENT ON COLUMN es.idempotency_keys.scope IS
    'the caller: {role}:{sub}:{vendor_id or -}, sub in canonical form when it is a UUID';
