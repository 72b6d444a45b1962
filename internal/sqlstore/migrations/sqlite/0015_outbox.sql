-- One process per data directory, and operator replies first (issue 10,
-- items 3 and 4).

-- instances: the server processes that lease jobs. Each beats its heart
-- while it runs; a job's lease names its instance, and is released only when
-- that instance is gone: on SQLite when a server holds the data directory's
-- lock (no other can run), on PostgreSQL when the heartbeat is stale.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);

-- leased_by: the instance holding the lease (NULL for a lease taken before
-- instances, or by a tool: its holder is unknown, so gone).
ALTER TABLE jobs ADD COLUMN leased_by TEXT;
-- priority: 0 an operator's reply (console, API), 1 the registration bot,
-- 2 a greeting or other automatic message. Claimed lowest first.
ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 2;
-- channel_kind: the lane a send job waits in (each provider kind is paced
-- on its own); '' for media jobs.
ALTER TABLE jobs ADD COLUMN channel_kind TEXT NOT NULL DEFAULT '';
-- conversation_id: the chat a send job goes to, for folding greetings.
ALTER TABLE jobs ADD COLUMN conversation_id TEXT;

UPDATE jobs SET
    channel_kind = COALESCE((SELECT c.channel FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE m.id = jobs.message_id), ''),
    conversation_id = (SELECT m.conversation_id FROM messages m WHERE m.id = jobs.message_id),
    priority = CASE WHEN EXISTS (SELECT 1 FROM messages m WHERE m.id = jobs.message_id AND m.author_id IS NOT NULL) THEN 0 ELSE 2 END
WHERE kind = 'send' AND state = 'pending';

-- The claim: due jobs of one kind and lane, by priority, then age, walked
-- in order. It replaces jobs_due, which the planner would otherwise take
-- and then sort.
DROP INDEX jobs_due;
CREATE INDEX jobs_claim ON jobs (kind, channel_kind, priority, run_after) WHERE state = 'pending';
-- Folding: a conversation's pending jobs.
CREATE INDEX jobs_conversation ON jobs (conversation_id) WHERE state = 'pending';
