-- Accounts and sign-in. Credentials live here and nowhere else: no password hash or refresh
-- token is ever written to an event, a log or an answer other than the one that issues it.
CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE auth.users (
    user_id       uuid        PRIMARY KEY,
    -- Lower-cased: one account per address, however it is typed.
    email         text        NOT NULL UNIQUE,
    -- Argon2id, PHC string format (algorithm, parameters, salt and hash).
    password_hash text        NOT NULL,
    role          text        NOT NULL DEFAULT 'customer'
                              CHECK (role IN ('customer', 'vendor', 'admin', 'analyst', 'ops')),
    -- The vendor a vendor member acts for.
    vendor_id     uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'vendor') = (vendor_id IS NOT NULL))
);

-- Refresh tokens, stored as their SHA-256 only. Each is used once: using it issues the next of
-- its family; using a used one again revokes the whole family (a stolen token was replayed).
CREATE TABLE auth.refresh_tokens (
    token_hash bytea       PRIMARY KEY,
    family_id  uuid        NOT NULL,
    user_id    uuid        NOT NULL REFERENCES auth.users,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_by_family ON auth.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expired ON auth.refresh_tokens (expires_at);

-- Access-token signing keys (Ed25519). A key is published in the JWKS from its creation, signs
-- from `signs_from` (after verifiers had time to read it), stops signing when it is retired,
-- and is published until the last token it signed has expired.
CREATE TABLE auth.signing_keys (
    kid         text        PRIMARY KEY,
    -- PKCS#8 DER.
    private_key bytea       NOT NULL,
    -- The public key, base64url (the JWK's `x`).
    public_key  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    signs_from  timestamptz NOT NULL,
    retired_at  timestamptz
);

-- Failed sign-ins, by account (`email:…`) and by client address (`address:…`), for throttling.
CREATE TABLE auth.login_failures (
    key text        NOT NULL,
    at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_by_key ON auth.login_failures (key, at);
