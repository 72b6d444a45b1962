-- Edits (issue 10, items 5 and 6). A contact's edit of a message changes
-- that message instead of arriving as a stranger, and the same message
-- delivered again under a new provider event id is stored once.
--
-- messages.provider_ref, for an inbound message, is the intake key's HMAC of
-- (channel, sender, the provider's id of the message: Telegram's chat id and
-- message_id, a WhatsApp wamid): its second dedupe key, and how an edit finds
-- it. Never the ids themselves. The partial unique index of 0010 covers it.
--
-- edited_day: the UTC day of the latest edit (days only, as every plaintext
-- time); NULL if never edited. original_missing: 1 for a message stored from
-- an edit whose original was unknown (erased, or not arrived yet).
ALTER TABLE messages ADD COLUMN edited_day TEXT;
ALTER TABLE messages ADD COLUMN original_missing INTEGER NOT NULL DEFAULT 0;

-- message_versions: a message's other texts, sealed (conversation) under its
-- contact's key like bodies (or, while sealed, a key of the version's own,
-- owner version:<id>, which Reseal folds in). messages.body keeps the text
-- first stored; versions after it (seq 1, 2, …) are edits, in the order they
-- came; an original that came after its edit is seq -1. The current text is
-- the one of the highest seq.
CREATE TABLE message_versions (
    id          TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL REFERENCES messages (id),
    seq         INTEGER NOT NULL,
    body        BLOB NOT NULL,
    created_day TEXT NOT NULL,
    UNIQUE (message_id, seq)
);
