-- Idempotency-Key: the first answer to a (caller, key) pair, replayed for repeats of the same
-- request. The row is inserted in the transaction that holds the key while the command runs, so
-- concurrent repeats wait for the first answer instead of running the command again.
CREATE TABLE es.idempotency_keys (
    scope        text        NOT NULL,  -- the caller (the token's sub)
    key          text        NOT NULL,
    fingerprint  bytea       NOT NULL,  -- sha256 of method, path and body
    status       smallint,
    content_type text,
    location     text,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_at ON es.idempotency_keys (created_at);
