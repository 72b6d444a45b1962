-- Intake and outbox.
--
-- webhook_events: the dedupe keys of every provider event stored: a keyed
-- HMAC of (channel, provider event id), never the id itself (a wamid holds a
-- phone number). Written in the same transaction as what the event caused.
CREATE TABLE webhook_events (
    channel_kind TEXT NOT NULL,
    channel_name TEXT NOT NULL,
    event_ref    BLOB NOT NULL,
    received_day TEXT NOT NULL,
    PRIMARY KEY (channel_kind, channel_name, event_ref)
) WITHOUT ROWID; -- one B-tree, not a table and an index: one random insert per webhook, not two

-- quarantine: size-capped, sealed copies of authentic bodies that did not
-- parse, for an engineer to look at.
CREATE TABLE quarantine (
    id           TEXT PRIMARY KEY,
    channel_kind TEXT NOT NULL,
    channel_name TEXT NOT NULL,
    reason       TEXT NOT NULL,
    body         BLOB NOT NULL,                -- sealed (conversation), owner quarantine:<id>
    received_day TEXT NOT NULL
);

-- jobs: the durable outbox. A worker claims a job with a lease; a crash
-- leaves the lease to expire and another claim to retry.
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,                 -- send, media
    message_id  TEXT REFERENCES messages (id),
    media_id    TEXT,                          -- kind media: the media row to fetch (0006_media.sql)
    state       TEXT NOT NULL,                 -- pending, done, failed
    run_after   TEXT NOT NULL,
    lease_until TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT ''       -- a code or short reason; never message text
);
CREATE INDEX jobs_due ON jobs (state, run_after);

-- channels: configured provider endpoints. The secrets are sealed under the
-- intake key (keys/intake), which intake needs while the server is sealed.
CREATE TABLE channels (
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    config     BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);

-- blocked_senders: senders blocked at the door by a supervisor. What they
-- send is acknowledged and not stored. sender_ref is the intake key's HMAC
-- of (kind, "sender", normalized address), never the address.
CREATE TABLE blocked_senders (
    channel_kind TEXT NOT NULL,
    sender_ref   BLOB NOT NULL,
    blocked_day  TEXT NOT NULL,
    PRIMARY KEY (channel_kind, sender_ref)
);
