-- The registration bot hands a contact to operators when it cannot use
-- what he writes (internal/questionnaire): a question, or answers in a row
-- the question cannot take. Plaintext workflow, like the cursor: a count and
-- a reason code, never what he wrote.
ALTER TABLE questionnaire_sessions ADD COLUMN misses INTEGER NOT NULL DEFAULT 0;   -- answers in a row the question could not take
ALTER TABLE questionnaire_sessions ADD COLUMN handoff TEXT NOT NULL DEFAULT '';    -- while paused by the bot (and after an operator took over): question or unusable
