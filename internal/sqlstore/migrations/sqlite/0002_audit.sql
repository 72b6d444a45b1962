-- The tamper-evident audit log (SECURITY.md §2.7): an RFC 6962 Merkle tree
-- over audit_entries, its stored hashes in audit_hashes (golang.org/x/mod/sumdb/tlog
-- layout), and Ed25519-signed checkpoints. Entries hold ids and codes, never
-- personal data. All three tables are INSERT-only: the triggers refuse UPDATE
-- and DELETE, so that changing history takes editing the file by hand, which
-- `lifeline audit verify` detects against the signed checkpoints.

CREATE TABLE audit_entries (
    seq        INTEGER PRIMARY KEY,   -- 0-based leaf index
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    role       TEXT NOT NULL,
    action     TEXT NOT NULL,
    object     TEXT NOT NULL,
    decision   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    request_id TEXT NOT NULL,
    leaf_hash  BLOB NOT NULL
);

CREATE TABLE audit_hashes (
    idx  INTEGER PRIMARY KEY,         -- tlog.StoredHashIndex
    hash BLOB NOT NULL
);

CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY,
    at   TEXT NOT NULL,
    note BLOB NOT NULL                -- signed note (C2SP tlog-checkpoint)
);

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_hashes_no_update BEFORE UPDATE ON audit_hashes
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_hashes_no_delete BEFORE DELETE ON audit_hashes
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
