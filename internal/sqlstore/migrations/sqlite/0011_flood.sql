-- Floods: every authenticated message is stored (issue 10). A sender's
-- budget decides only whether his message causes automatic work (the bot,
-- notifications); past the storage cap per sender (intake.Limits) it is
-- still stored, sealed like any other, but held in quarantine: not shown in
-- the conversation, counted on it, until an operator who may reply there
-- releases it. A flag on the row keeps ingest one guarded INSERT, keeps the
-- conversation's order (rowid), and lets erasure, retention and reseal
-- treat held messages as the messages they are.
--   ''            within the sender's budget
--   'deferred'    over the budget: stored and shown, no automatic work (the
--                 bot skips it); also a released message
--   'quarantined' over the storage cap: held, shown only as a count
ALTER TABLE messages ADD COLUMN hold TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_quarantined ON messages (conversation_id) WHERE hold = 'quarantined';

-- A media item over its sender's daily media budget, or of a quarantined
-- message, is recorded in state 'skipped' with its reason and no fetch job:
-- the operator sees that media arrived and why it was not fetched.
