-- The operator console: sessions, routing, canned answers, shifts.
-- Staff data only, except where a column says sealed.

-- Server-side sessions. The cookie holds a random 256-bit id; only its
-- SHA-256 is stored, so a copy of the database opens no session.
CREATE TABLE sessions (
    id_hash      BLOB PRIMARY KEY,                 -- SHA-256 of the cookie value
    operator_id  TEXT NOT NULL REFERENCES operators (id),
    created_at   TEXT NOT NULL,                    -- absolute expiry counts from here
    last_seen_at TEXT NOT NULL,                    -- idle expiry counts from here
    stage        TEXT NOT NULL DEFAULT 'full',     -- full, or enrol: only the first-login page
    ended_at     TEXT                              -- logout, disable, role change; NULL while live
) WITHOUT ROWID;
CREATE INDEX sessions_operator ON sessions (operator_id);

-- What routing needs to know of each operator.
ALTER TABLE operators ADD COLUMN languages TEXT NOT NULL DEFAULT 'ru';      -- comma-separated: ru,uk,en
ALTER TABLE operators ADD COLUMN streams TEXT NOT NULL DEFAULT 'surrender'; -- comma-separated streams served
ALTER TABLE operators ADD COLUMN capacity INTEGER NOT NULL DEFAULT 5;       -- open conversations at once
ALTER TABLE operators ADD COLUMN ui_language TEXT NOT NULL DEFAULT 'uk';    -- console language: uk or en
ALTER TABLE operators ADD COLUMN password_peppered INTEGER NOT NULL DEFAULT 0;

-- Queues. waiting_seq is the rowid of the oldest inbound message not yet
-- answered (NULL when the contact waits for nothing): a position, not a
-- time. The exact time lives sealed in messages.at.
ALTER TABLE conversations ADD COLUMN waiting_seq INTEGER;
ALTER TABLE conversations ADD COLUMN language TEXT NOT NULL DEFAULT 'ru';
ALTER TABLE conversations ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0;
CREATE INDEX conversations_waiting ON conversations (waiting_seq) WHERE waiting_seq IS NOT NULL;
CREATE INDEX conversations_assigned ON conversations (assigned_to, state);

-- The exact time of a message, sealed under the conversation key (C1):
-- plaintext times are days only (SECURITY.md §2.4).
ALTER TABLE messages ADD COLUMN at BLOB;
-- The operator who wrote an outbound message or a note (direction 'note':
-- never sent).
ALTER TABLE messages ADD COLUMN author_id TEXT REFERENCES operators (id);

-- Canned answers, written by supervisors. Not personal data: placeholders
-- like {name} are filled in by the operator at send time.
CREATE TABLE canned_answers (
    id         TEXT PRIMARY KEY,
    language   TEXT NOT NULL,                      -- ru, uk, en
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    archived   INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,                      -- the actor: an operator id or "cli"
    updated_at TEXT NOT NULL
);
CREATE INDEX canned_answers_language ON canned_answers (language, archived);

-- Shifts: who is on duty when, for which stream and languages.
CREATE TABLE shifts (
    id          TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators (id),
    starts_at   TEXT NOT NULL,                     -- UTC, RFC 3339
    ends_at     TEXT NOT NULL,                     -- UTC, after starts_at
    stream      TEXT NOT NULL DEFAULT 'surrender',
    created_by  TEXT NOT NULL,                     -- the actor: an operator id or "cli"
    created_at  TEXT NOT NULL
);
CREATE INDEX shifts_time ON shifts (starts_at, ends_at);
CREATE INDEX shifts_operator ON shifts (operator_id, starts_at);
