-- Issue 10 follow-up (findings 3 and 4): media past a sender's daily budget
-- are fetched later, not never; edits are ordered by the provider's edit
-- time; a contact's correction of an identity answer reaches the identity
-- compartment.

-- media.state gains 'deferred': over its sender's daily media budget, or of
-- a quarantined message that was released. It has a fetch job like a
-- pending file, due later: each conversation's deferred files are spaced
-- (sqlstore.Options.MediaPace, default one a minute). Such jobs have
-- priority 3, so that fresh files go first, and name their conversation,
-- so that the spacing finds the conversation's last one, done or not, in
-- the index below. A file of a message still in quarantine stays 'skipped'
-- (no job) until its message is released.
CREATE INDEX jobs_media_deferred ON jobs (conversation_id, run_after) WHERE kind = 'media' AND priority = 3;

-- edited_at: the provider's time of an edit (Telegram's edit_date), sealed
-- (conversation) like the version's body and under the same key, never in
-- plaintext. NULL for an original that came after its edit (seq -1) and for
-- versions stored before this column. The current text is the edit with the
-- latest edit time (then the latest to arrive), not the last to arrive.
ALTER TABLE message_versions ADD COLUMN edited_at BLOB;
-- messages.edited_at: for a message stored from an edit whose original was
-- unknown, the provider's time of that edit, sealed like messages.at: its
-- body is then an edit, ordered among the later ones by this time.
ALTER TABLE messages ADD COLUMN edited_at BLOB;

-- answer_corrections: a contact's edit of a message the bot took as the
-- answer to an identity question. The new text never enters the
-- conversation (its version there is the marker "answer corrected: <key>");
-- it is sealed here in the identity compartment under a key of the row's
-- own (owner correction:<id>), made with the public key alone, so that
-- intake stores it while sealed. The questionnaire worker, once unsealed,
-- applies it: to the session's answers while the bot still runs, else to
-- the case's person (with a timeline entry and an audit entry), and then
-- deletes the row and shreds its key. answer is the question's key;
-- edited_at the provider's edit time, sealed like body.
CREATE TABLE answer_corrections (
    id              TEXT PRIMARY KEY,
    message_id      TEXT NOT NULL REFERENCES messages (id),
    conversation_id TEXT NOT NULL,
    answer          TEXT NOT NULL,
    body            BLOB NOT NULL,
    edited_at       BLOB,
    created_day     TEXT NOT NULL
);
CREATE INDEX answer_corrections_message ON answer_corrections (message_id);
