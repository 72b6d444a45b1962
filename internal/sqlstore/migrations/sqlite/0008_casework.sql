-- Case work (stage 1 and 2 of DESIGN.md): the timeline of every change,
-- the applicant's choices, screening, extraction operations, tasks,
-- documents and two-person exports. Plaintext: ids, enums, UTC days and
-- who acted; everything a person said or that locates anyone is sealed.

-- The watchdog's clock: the UTC day the case last heard from its contacts.
ALTER TABLE cases ADD COLUMN last_contact_day TEXT;
-- The applicant's choices, plaintext enums because the exchange list is
-- drawn from them: '' (not yet), exchange or no_exchange; stay or emigrate.
ALTER TABLE cases ADD COLUMN exchange_choice TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN future_choice TEXT NOT NULL DEFAULT '';
-- Where he emigrates to, and notes on the choices: sealed (identity).
ALTER TABLE cases ADD COLUMN choice_detail BLOB;
-- A supervisor's legal hold: the retention sweep keeps the case until this
-- UTC day (renewable in 90-day steps, SECURITY.md §2.9).
ALTER TABLE cases ADD COLUMN hold_until TEXT;
-- The verification officer of the case (the case officer is assigned_to).
ALTER TABLE cases ADD COLUMN verifier_id TEXT REFERENCES operators (id);
-- Whether each relative needs relocation (plaintext: it makes tasks).
ALTER TABLE persons ADD COLUMN relocate INTEGER NOT NULL DEFAULT 0;

-- Step-up (SECURITY.md §2.6): the time of the session's latest fresh TOTP,
-- for reveals of identity fields and exports within five minutes of it.
ALTER TABLE sessions ADD COLUMN step_up_at TEXT;

-- The timeline: one row per thing that happened to a case. The why is
-- sealed (case officers type it; it may name people).
CREATE TABLE case_events (
    id         TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES cases (id),
    kind       TEXT NOT NULL,              -- created, status, choice, assign, screening, verdict, operation, task, document, contact, export
    from_state TEXT NOT NULL DEFAULT '',
    to_state   TEXT NOT NULL DEFAULT '',
    actor_id   TEXT NOT NULL,              -- an operator id, "cli" or "system"
    day        TEXT NOT NULL,
    detail     BLOB                        -- sealed (intel for screening and operations, else identity): why, typed
);
CREATE INDEX case_events_case ON case_events (case_id);

-- Screening and verification (C3): a checklist and risk flags, sealed; the
-- verdict plaintext (case officers read the verdict only), recorded by a
-- verification officer who is not the case's officer.
CREATE TABLE screenings (
    case_id     TEXT PRIMARY KEY REFERENCES cases (id),
    checklist   BLOB,                      -- sealed (intel): items and their answers, JSON
    flags       BLOB,                      -- sealed (intel): risk flags, JSON
    verdict     TEXT NOT NULL DEFAULT '',  -- '', verified, rejected
    verdict_by  TEXT REFERENCES operators (id),
    verdict_day TEXT
);

-- Extraction operations: one or more cases; time and meeting point sealed
-- in the intel compartment.
CREATE TABLE operations (
    id          TEXT PRIMARY KEY,
    code_name   TEXT NOT NULL UNIQUE,
    state       TEXT NOT NULL,             -- planned, approved, under_way, done, called_off
    plan        BLOB NOT NULL,             -- sealed (intel): planned time, meeting point, unit, notes
    approved_by TEXT REFERENCES operators (id),
    created_by  TEXT NOT NULL,
    created_day TEXT NOT NULL
);
CREATE TABLE operation_persons (
    operation_id TEXT NOT NULL REFERENCES operations (id),
    case_id      TEXT NOT NULL REFERENCES cases (id),
    person_id    TEXT NOT NULL REFERENCES persons (id),
    outcome      TEXT NOT NULL DEFAULT '', -- '', captured, not_arrived, killed, withdrawn
    PRIMARY KEY (operation_id, person_id)
);
CREATE INDEX operation_persons_case ON operation_persons (case_id);

-- Tasks on a case: relocate a relative, new identity, support, job, call
-- back, documents, safety review.
CREATE TABLE tasks (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    kind        TEXT NOT NULL,
    owner_id    TEXT REFERENCES operators (id),
    due_day     TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'open', -- open, done, cancelled
    note        BLOB,                      -- sealed (identity)
    created_day TEXT NOT NULL,
    done_day    TEXT
);
CREATE INDEX tasks_case ON tasks (case_id);
CREATE INDEX tasks_due ON tasks (state, due_day);

-- Documents and evidence: the original sealed (identity), shown to the
-- verification officer only; others see the sanitised rendition.
CREATE TABLE documents (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    person_id   TEXT REFERENCES persons (id),
    kind        TEXT NOT NULL,             -- passport, military_id, photo, scan, other
    mime        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    original    BLOB NOT NULL,             -- sealed (identity)
    rendition   BLOB,                      -- sealed (identity): redrawn image, if any
    created_by  TEXT NOT NULL,
    created_day TEXT NOT NULL
);
CREATE INDEX documents_case ON documents (case_id);

-- Exports need two people (SECURITY.md §2.5): one asks, another approves;
-- the file is made once, watermarked with both.
CREATE TABLE exports (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,            -- exchange_list
    format       TEXT NOT NULL,            -- csv, json
    requested_by TEXT NOT NULL REFERENCES operators (id),
    approved_by  TEXT REFERENCES operators (id),
    state        TEXT NOT NULL,            -- requested, approved, downloaded, refused
    created_day  TEXT NOT NULL
);

-- Erasing a case (or one person of it) needs two supervisors: one asks (with a reason), another
-- confirms, and the case is crypto-shredded. The request outlives the case
-- (no foreign key): it is the record that the erasure was agreed.
CREATE TABLE erasures (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL,
    person_id    TEXT,                     -- one person of the case; NULL for the whole case
    code_name    TEXT NOT NULL,
    requested_by TEXT NOT NULL REFERENCES operators (id),
    confirmed_by TEXT REFERENCES operators (id),
    state        TEXT NOT NULL,            -- requested, done
    created_day  TEXT NOT NULL
);
