-- Cases, the persons in them, contacts and their messages: the minimum the
-- keys design protects. Every column that identifies or locates a person, and
-- every message body, is an opaque sealed field (internal/seal ciphertext:
-- key id, algorithm, nonce, XChaCha20-Poly1305 with table, column and row id
-- bound in). Plaintext holds only random ids, enums and UTC days.

CREATE TABLE cases (
    id          TEXT PRIMARY KEY,          -- lifeline.CaseID
    code_name   TEXT NOT NULL UNIQUE,      -- KESTREL-4821, never derived from personal data
    stream      TEXT NOT NULL,
    status      TEXT NOT NULL,
    lost_from   TEXT NOT NULL DEFAULT '',
    assigned_to TEXT REFERENCES operators (id),
    created_day TEXT NOT NULL,
    closed_day  TEXT
);

CREATE TABLE persons (
    id       TEXT PRIMARY KEY,
    case_id  TEXT NOT NULL REFERENCES cases (id),
    relation TEXT NOT NULL,                -- applicant, spouse, child, parent, sibling, other
    data     BLOB NOT NULL                 -- sealed (identity): the person's fields as JSON
);
CREATE INDEX persons_case ON persons (case_id);

-- Truncated blind indexes of a person's service and document numbers, for
-- cross-case duplicate checks: an occupied bucket is suspicion, not proof.
CREATE TABLE person_buckets (
    person_id TEXT NOT NULL REFERENCES persons (id),
    domain    TEXT NOT NULL,
    bucket    INTEGER NOT NULL,
    PRIMARY KEY (person_id, domain, bucket)
);
CREATE INDEX person_buckets_lookup ON person_buckets (domain, bucket);

CREATE TABLE contacts (
    id            TEXT PRIMARY KEY,        -- lifeline.ContactID
    channel       TEXT NOT NULL,           -- lifeline.ChannelKind
    handle        BLOB NOT NULL,           -- sealed (routing): phone, Telegram id, wa_id
    handle_index  BLOB,                    -- exact blind index; NULL if stored while sealed
    handle_bucket INTEGER,                 -- truncated blind index; NULL likewise
    case_id       TEXT REFERENCES cases (id),
    created_day   TEXT NOT NULL
);
CREATE UNIQUE INDEX contacts_handle ON contacts (channel, handle_index);
CREATE INDEX contacts_case ON contacts (case_id);
CREATE INDEX contacts_bucket ON contacts (handle_bucket);

-- A conversation is the thread between one contact and the hotline on one
-- channel. Only one is open (or waiting) per contact and channel at a time.
CREATE TABLE conversations (
    id                TEXT PRIMARY KEY,        -- lifeline.ConversationID
    contact_id        TEXT NOT NULL REFERENCES contacts (id),
    channel_kind      TEXT NOT NULL,
    channel_name      TEXT NOT NULL,
    stream            TEXT NOT NULL DEFAULT 'surrender',
    state             TEXT NOT NULL,           -- open, waiting, closed
    assigned_to       TEXT REFERENCES operators (id),
    campaign          TEXT NOT NULL DEFAULT '', -- outreach code of a deep link; never personal
    reply_to          BLOB,                    -- sealed (routing): where replies go, if not the contact's handle
    opened_day        TEXT NOT NULL,
    last_activity_day TEXT NOT NULL,
    -- The UTC hour (floor) of the contact's latest message: WhatsApp lets a
    -- business write freely only within 24 hours of it. Hour precision, not
    -- the exact time: it errs towards calling the window closed.
    last_inbound_hour TEXT
);
CREATE INDEX conversations_contact ON conversations (contact_id, channel_kind, channel_name, state);
CREATE INDEX conversations_state ON conversations (state, last_activity_day);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,          -- lifeline.MessageID
    contact_id      TEXT NOT NULL REFERENCES contacts (id),
    conversation_id TEXT REFERENCES conversations (id),
    direction       TEXT NOT NULL,             -- in, out
    kind            TEXT NOT NULL DEFAULT 'text',
    body            BLOB NOT NULL,             -- sealed (conversation)
    provider_ref    BLOB,                      -- keyed HMAC of the provider's message id: finds it for status updates
    status          TEXT NOT NULL DEFAULT '',  -- outbound: queued, sent, delivered, read, failed
    status_reason   TEXT NOT NULL DEFAULT '',  -- the provider's code and short reason when failed; never text
    created_day     TEXT NOT NULL
);
CREATE INDEX messages_contact ON messages (contact_id);
CREATE INDEX messages_conversation ON messages (conversation_id);
CREATE UNIQUE INDEX messages_provider_ref ON messages (provider_ref);
