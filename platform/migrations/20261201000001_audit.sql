-- The audit log of sensitive operations: who did what to what, when, from where, with the
-- request's correlation id. Written by the service that does the operation, in its transaction
-- where it has one; read by admins (`GET /v1/audit`). Append-only.
CREATE SCHEMA IF NOT EXISTS audit;

CREATE TABLE audit.entries (
    -- UUID v7: time-ordered, the cursor of the list.
    entry_id       uuid        PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    -- The user who acted (a user id, or the email tried for a failed sign-in), if known.
    actor          text,
    -- What was done: `login_succeeded`, `login_failed`, `login_throttled`,
    -- `refresh_token_reused`, `logout`, `user_registered`, `role_granted`, `price_changed`, ...
    action         text        NOT NULL,
    -- What it was done to (a user, a product, an order).
    target         text,
    -- Where the request came from.
    client_address text,
    correlation_id uuid,
    detail         jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_entries_by_actor ON audit.entries (actor, entry_id);
CREATE INDEX audit_entries_by_action ON audit.entries (action, entry_id);

CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END $$;

CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit.entries
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
