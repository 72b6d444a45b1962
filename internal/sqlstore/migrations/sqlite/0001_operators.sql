-- Staff accounts and their API tokens. Staff data, not case data: nothing
-- here names a soldier. Secrets are never stored in the clear: passwords as
-- Argon2id PHC strings, TOTP seeds sealed by the keyring, tokens as SHA-256.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE operators (
    id                       TEXT PRIMARY KEY,          -- lifeline.NewID, 26 chars base32
    username                 TEXT NOT NULL UNIQUE,
    role                     TEXT NOT NULL,
    password_hash            TEXT NOT NULL,             -- Argon2id PHC string
    password_change_required INTEGER NOT NULL DEFAULT 1,
    totp_secret              BLOB NOT NULL,             -- sealed; opaque here
    totp_last_step           INTEGER NOT NULL DEFAULT 0, -- replay memory: only a later step is accepted
    disabled                 INTEGER NOT NULL DEFAULT 0,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,                       -- public prefix, shown in listings
    operator_id TEXT NOT NULL REFERENCES operators (id),
    token_hash  BLOB NOT NULL UNIQUE,                   -- SHA-256 of the bearer token
    created_at  TEXT NOT NULL,
    revoked_at  TEXT                                    -- NULL while valid
);
CREATE INDEX api_tokens_operator ON api_tokens (operator_id);
