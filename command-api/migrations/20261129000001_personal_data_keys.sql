-- Keys that seal customers' personal data in events (crypto-shredding): deleting a customer's
-- key erases every sealed field of theirs from every copy of every event. Keep this schema's
-- backups on a shorter retention than `es`'s, or a restored backup brings erased keys back.
CREATE SCHEMA IF NOT EXISTS pii;

CREATE TABLE pii.subject_keys (
    -- The customer the key belongs to: one live key each, created with their first sealed field.
    subject    uuid        PRIMARY KEY,
    -- Named in each sealed value: a subject forgotten and seen again gets a new key, and what
    -- was sealed under the old one stays erased.
    key_id     uuid        NOT NULL UNIQUE,
    key        bytea       NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Each erasure request carried out (`commerce gdpr forget`), for the record the regulation asks
-- for: who was forgotten and when, not what they were.
CREATE TABLE pii.erasures (
    subject      uuid        NOT NULL,
    erased_at    timestamptz NOT NULL DEFAULT now(),
    keys_deleted integer     NOT NULL,
    PRIMARY KEY (subject, erased_at)
);

-- Replay and rebuild, as commerce_reader, open what they read.
GRANT USAGE ON SCHEMA pii TO commerce_reader;
GRANT SELECT ON pii.subject_keys TO commerce_reader;

-- Events are still never changed, with one exception: `commerce gdpr seal-stored` seals the
-- personal data that versions before sealing-on-write stored in clear, so that forgetting a
-- customer erases it too. It marks its transaction (`commerce.sealing_stored_events`), and may
-- change nothing but the fields of `payload->'data'`: every column, the event type in the
-- payload and anything else outside `data` must stay as they were.
CREATE OR REPLACE FUNCTION es.refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND current_setting('commerce.sealing_stored_events', true) = 'on'
       AND (to_jsonb(NEW) - 'payload') = (to_jsonb(OLD) - 'payload')
       AND (NEW.payload - 'data') = (OLD.payload - 'data') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'es.events is append-only';
END $$;
