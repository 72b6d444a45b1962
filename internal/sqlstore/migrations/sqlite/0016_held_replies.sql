-- Staged disclosure (SECURITY.md §2.13): before a contact's case is
-- verified, an operator's reply that names a time, a place, a route, a call
-- sign, a unit or a person is stored held (status 'held', no send job)
-- until a supervisor other than its author approves it (then 'queued') or
-- rejects it ('rejected', never sent). The row is the message's own, so
-- erasure and retention take it with the message.
ALTER TABLE messages ADD COLUMN held_for TEXT NOT NULL DEFAULT '';  -- disclosure codes, comma-separated: time,place
ALTER TABLE messages ADD COLUMN decided_by TEXT REFERENCES operators (id);
ALTER TABLE messages ADD COLUMN decision_note BLOB;                 -- sealed (conversation): the supervisor's why
-- The supervisors' list of held replies reads only these.
CREATE INDEX messages_held ON messages (status) WHERE status = 'held';
