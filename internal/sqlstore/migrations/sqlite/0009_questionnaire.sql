-- The registration questionnaire (stage 1 of DESIGN.md): its definition as
-- data, versioned, and one bot session per conversation.

-- Every saved definition is kept: a session runs to its end on the version
-- it started with, and a supervisor can see who changed what. The JSON holds
-- questions, never answers: it is not personal data.
CREATE TABLE questionnaires (
    version     INTEGER PRIMARY KEY,
    definition  TEXT NOT NULL,
    created_by  TEXT NOT NULL,              -- an operator id, "cli" or "system"
    created_day TEXT NOT NULL
);

-- questionnaire_sessions: the bot's place in one conversation. The cursor
-- (step) and the state are plaintext workflow; the answers identify the
-- soldier and his family and are sealed (identity) under a key of the
-- session's own (owner questionnaire:<conversation id>), shredded once the
-- answers are a case.
CREATE TABLE questionnaire_sessions (
    -- No foreign keys: erasing a case (ShredCase) deletes its conversations
    -- and contacts, and a session row must never stand in its way.
    conversation_id TEXT PRIMARY KEY,
    contact_id      TEXT NOT NULL,
    version         INTEGER NOT NULL,       -- the definition it runs on; 0 for a session that never ran
    state           TEXT NOT NULL,          -- active, paused, completing, done
    paused_by       TEXT NOT NULL DEFAULT '', -- contact or operator, while paused
    step            TEXT NOT NULL DEFAULT '', -- the question asked and awaiting an answer
    language        TEXT NOT NULL DEFAULT 'ru',
    answers         BLOB,                   -- sealed (identity): the answers so far, JSON; NULL once done
    -- The rowid of the last message of the conversation the bot has dealt
    -- with; it moves in the same transaction as what the message caused, so
    -- a crash neither skips nor repeats an answer.
    last_rowid      INTEGER NOT NULL DEFAULT 0,
    reask           INTEGER NOT NULL DEFAULT 0, -- 1: resumed by an operator; ask the current question again
    outcome         TEXT NOT NULL DEFAULT '',   -- when done: registered, handoff, skipped
    case_id         TEXT,                   -- the case the answers became (set from completing on)
    plan            TEXT NOT NULL DEFAULT '',   -- completing: the ids the case and its persons get, JSON
    seq             INTEGER NOT NULL DEFAULT 0, -- bumped by every change: writes are conditional on it
    started_day     TEXT NOT NULL,
    updated_day     TEXT NOT NULL
);
CREATE INDEX questionnaire_sessions_state ON questionnaire_sessions (state);

-- Conversations that were there before the bot are operators' business:
-- the bot never starts on them.
INSERT INTO questionnaire_sessions (conversation_id, contact_id, version, state, outcome, started_day, updated_day)
    SELECT id, contact_id, 0, 'done', 'skipped', opened_day, opened_day FROM conversations;
