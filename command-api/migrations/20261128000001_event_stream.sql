-- The global event stream (replay, rebuild, GET /v1/events) is read in the order (writing
-- transaction, position), below the safe horizon: this index serves that keyset scan.
CREATE INDEX events_stream_order ON es.events (transaction_id, global_position);

-- Replay and rebuild read the event store through this role, which can read events and nothing
-- else, and write nothing. Roles belong to the whole cluster: another database (or a concurrent
-- migration of one) may have created it already.
DO $$
BEGIN
    CREATE ROLE commerce_reader NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;
GRANT USAGE ON SCHEMA es TO commerce_reader;
GRANT SELECT ON es.events TO commerce_reader;
-- The migrating user may become the reader (`SET ROLE commerce_reader`) for its own replays.
DO $$
BEGIN
    EXECUTE format('GRANT commerce_reader TO %I', current_user);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'commerce_reader not granted to %: %', current_user, SQLERRM;
END $$;
