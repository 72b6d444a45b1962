-- Identity stays in its compartment (issue 11, item 4).
--
-- Teams: SECURITY.md §2.5's "team" scope. A team's name is its id (a-z,
-- 0-9, '-'), never personal data. Operators belong to teams; a case belongs
-- to one (set when it is assigned, from its case officer's team, or by a
-- supervisor); a conversation belongs to its case's team, else to its
-- operator's teams, else to none (a new contact: the whole floor's).
CREATE TABLE teams (
    name        TEXT PRIMARY KEY,
    created_day TEXT NOT NULL
);
CREATE TABLE operator_teams (
    operator_id TEXT NOT NULL REFERENCES operators (id),
    team        TEXT NOT NULL REFERENCES teams (name),
    PRIMARY KEY (operator_id, team)
);
CREATE INDEX operator_teams_team ON operator_teams (team);
ALTER TABLE cases ADD COLUMN team TEXT REFERENCES teams (name);

-- Everything that existed before teams is the default team's, so that an
-- upgrade changes no one's reach.
INSERT INTO teams (name, created_day) VALUES ('main', '2025-01-01');
INSERT INTO operator_teams (operator_id, team) SELECT id, 'main' FROM operators;
UPDATE cases SET team = 'main';

-- An inbound message the bot took as the answer to an identity question:
-- its body is replaced by a marker ("answer recorded: <answer>") and the
-- answer lives only in the identity compartment (the session's sealed
-- answers, then the case's persons). answer is the question's key
-- (applicant.name, relatives.birth_date, …); '' for every other message.
ALTER TABLE messages ADD COLUMN answer TEXT NOT NULL DEFAULT '';

-- Whether the question the bot waits on is an identity question: a message
-- of the contact after the session's last_rowid is then shown as awaiting
-- the bot, never its text, until the bot has taken it.
ALTER TABLE questionnaire_sessions ADD COLUMN awaits_identity INTEGER NOT NULL DEFAULT 0;
