-- Found in seconds, and a wrap-up at close (issue 12).
--
-- labels: the lists supervisors keep, of labels operators put on
-- conversations (kind 'label') and of wrap-up categories (kind 'category').
-- Staff words, not personal data, like canned answers.
CREATE TABLE labels (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,                       -- label, category
    name       TEXT NOT NULL,
    archived   INTEGER NOT NULL DEFAULT 0,          -- no longer offered; kept for what used it
    created_by TEXT NOT NULL,                       -- the actor: an operator id or "cli"
    created_day TEXT NOT NULL
);
CREATE UNIQUE INDEX labels_name ON labels (kind, name);

CREATE TABLE conversation_labels (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    label_id        TEXT NOT NULL REFERENCES labels (id),
    PRIMARY KEY (conversation_id, label_id)
);
CREATE INDEX conversation_labels_label ON conversation_labels (label_id);

-- wrapups: the contact summary of a closed conversation, one per
-- conversation (the latest close). The exact close time, which the undo
-- window runs from, and the follow-up note are sealed under the contact's
-- conversation key; plaintext keeps the day only. prev_* are what closing
-- cleared, for an undo to restore.
CREATE TABLE wrapups (
    conversation_id  TEXT PRIMARY KEY REFERENCES conversations (id),
    category_id      TEXT NOT NULL REFERENCES labels (id),
    outcome          TEXT NOT NULL,                 -- lifeline.Outcome
    follow_up        INTEGER NOT NULL DEFAULT 0,
    detail           BLOB NOT NULL,                 -- sealed (conversation): JSON {at, note}
    closed_by        TEXT NOT NULL,                 -- the actor who closed
    closed_day       TEXT NOT NULL,
    prev_state       TEXT NOT NULL,
    prev_waiting_seq INTEGER,
    prev_escalated   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX wrapups_day ON wrapups (closed_day);

-- Closing asks for a category, so a new installation starts with a few;
-- supervisors add their own and archive these.
INSERT INTO labels (id, kind, name, created_by, created_day) VALUES
    ('category-registration', 'category', 'Реєстрація · Registration', 'cli', '2026-01-01'),
    ('category-information', 'category', 'Інформація · Information', 'cli', '2026-01-01'),
    ('category-relatives', 'category', 'Родичі · Relatives', 'cli', '2026-01-01'),
    ('category-other', 'category', 'Інше · Other', 'cli', '2026-01-01');
