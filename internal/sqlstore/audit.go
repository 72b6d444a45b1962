// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lifeline-hotline/lifeline/internal/audit"
)

// AppendAudit appends e to the audit log within tx and returns it as
// stored, with Seq and Time filled in. Because it runs in the caller's
// transaction, the action it records and its audit entry commit together or
// not at all: an action whose entry cannot be written fails.
//
// Time is the transaction's UTC day (SECURITY.md §2.4: exact times only
// inside ciphertext; seq orders the entries), and every space-separated id
// of Object is stored as its keyed hash (§2.7, see AuditObject): the log
// names no case, contact, conversation, message or account in the clear.
func AppendAudit(tx *Tx, e audit.Entry) (audit.Entry, error) {
	var n int64
	if err := tx.QueryRow(`SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries`).Scan(&n); err != nil {
		return e, fmt.Errorf("audit append: %w", err)
	}
	if e.Object != "" {
		if tx.db == nil {
			return e, errors.New("audit append: not in a write transaction")
		}
		obj, err := tx.db.AuditObject(e.Object)
		if err != nil {
			return e, fmt.Errorf("audit append: %w", err)
		}
		e.Object = obj
	}
	e.Seq = n
	e.Time = auditDay(tx.Now())
	idx, hashes, err := audit.HashesForAppend(n, e, txHashReader{tx})
	if err != nil {
		return e, fmt.Errorf("audit append: %w", err)
	}
	_, err = tx.Exec(`INSERT INTO audit_entries (seq, at, actor, role, action, object, decision, reason, request_id, leaf_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, formatTime(e.Time), e.Actor, e.Role, e.Action, e.Object, e.Decision, e.Reason, e.RequestID, hashes[0][:])
	if err != nil {
		return e, fmt.Errorf("audit append: %w", err)
	}
	for i, h := range hashes {
		if _, err := tx.Exec(`INSERT INTO audit_hashes (idx, hash) VALUES (?, ?)`, idx[i], h[:]); err != nil {
			return e, fmt.Errorf("audit append: %w", err)
		}
	}
	if tx.audited != nil {
		*tx.audited = true
	}
	return e, nil
}

// auditDay is the time an audit entry records: the UTC day of t.
func auditDay(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// auditRefs is the side of the keys that keys audit objects: the intake
// key's HMAC (keys.Keeper), there sealed or not, outside the data directory.
type auditRefs interface {
	IntakeRef(parts ...string) []byte
}

// ErrNoAuditKey is returned for an audit entry naming an object by a store
// without the intake key: it is never written with the id in the clear.
var ErrNoAuditKey = errors.New("no key for audit objects: the store needs the intake key (--intake-key)")

// auditObjectLabel separates audit object hashes from every other use of
// the intake key.
const auditObjectLabel = "audit-object v1"

// AuditObject is an audit entry's object as stored: each space-separated
// id replaced by "h" and the hex of the first 16 bytes of its HMAC under
// the intake key (SECURITY.md §2.7). Entries about the same id share the
// hash, so that an auditor holding the key can ask what happened to one
// (AuditTrail); without it, the log links nothing to a case, contact,
// conversation or account.
func (db *DB) AuditObject(object string) (string, error) {
	refs, ok := db.sealer.(auditRefs)
	if !ok || refs == nil {
		return "", ErrNoAuditKey
	}
	ids := strings.Fields(object)
	for i, id := range ids {
		mac := refs.IntakeRef(auditObjectLabel, id)
		if mac == nil {
			return "", ErrNoAuditKey
		}
		ids[i] = "h" + hex.EncodeToString(mac[:16])
	}
	return strings.Join(ids, " "), nil
}

// AuditTrail returns, in order, every audit entry whose object names id
// (a case, contact, conversation, message, account...): "what happened to
// case X", for an auditor on the server's host, which holds the intake key.
func (db *DB) AuditTrail(ctx context.Context, id string) ([]audit.Entry, error) {
	h, err := db.AuditObject(id)
	if err != nil {
		return nil, err
	}
	if strings.ContainsRune(h, ' ') || h == "" {
		return nil, errors.New("audit trail: give one id")
	}
	var out []audit.Entry
	err = db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT seq, at, actor, role, action, object, decision, reason, request_id
			FROM audit_entries WHERE object = ? OR object LIKE ? OR object LIKE ? OR object LIKE ? ORDER BY seq`,
			h, h+" %", "% "+h, "% "+h+" %")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e audit.Entry
			var at string
			if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Role, &e.Action, &e.Object, &e.Decision, &e.Reason, &e.RequestID); err != nil {
				return err
			}
			if e.Time, err = parseTime(at); err != nil {
				return fmt.Errorf("audit entry %d: %w", e.Seq, err)
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// txHashReader reads stored hashes within a transaction, so that an append
// sees the hashes of the appends before it in the same batch.
type txHashReader struct{ tx *Tx }

func (r txHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return readHashes(r.tx, indexes)
}

func readHashes(tx *Tx, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	args := make([]any, len(indexes))
	for i, x := range indexes {
		args[i] = x
	}
	q := `SELECT idx, hash FROM audit_hashes WHERE idx IN (?` + strings.Repeat(`, ?`, len(indexes)-1) + `)`
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[int64]tlog.Hash, len(indexes))
	for rows.Next() {
		var idx int64
		var b []byte
		if err := rows.Scan(&idx, &b); err != nil {
			return nil, err
		}
		var h tlog.Hash
		if len(b) != len(h) {
			return nil, fmt.Errorf("stored hash %d: %d bytes, want %d", idx, len(b), len(h))
		}
		copy(h[:], b)
		found[idx] = h
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := found[x]
		if !ok {
			return nil, fmt.Errorf("stored hash %d: %w", x, audit.ErrMissingHash)
		}
		out[i] = h
	}
	return out, nil
}

// AuditLog is the read side of the audit log and the checkpoint store; it
// satisfies audit.Log and audit.Store.
type AuditLog struct {
	db *DB
	tx *Tx // if set, every read runs in this one snapshot
}

// AuditLog returns the store's audit log. Each of its reads is a
// transaction of its own; use AuditSnapshot to verify.
func (db *DB) AuditLog() *AuditLog { return &AuditLog{db: db} }

// AuditSnapshot calls fn with a view of the audit log whose every read sees
// one snapshot, so that entries appended meanwhile (by a running server)
// cannot look like tampering to a verifier.
func (db *DB) AuditSnapshot(ctx context.Context, fn func(*AuditLog) error) error {
	return db.Read(ctx, func(tx *Tx) error {
		return fn(&AuditLog{db: db, tx: tx})
	})
}

func (l *AuditLog) read(ctx context.Context, fn func(tx *Tx) error) error {
	if l.tx != nil {
		return fn(l.tx)
	}
	return l.db.Read(ctx, fn)
}

var (
	_ audit.Log   = (*AuditLog)(nil)
	_ audit.Store = (*AuditLog)(nil)
)

// AuditAppended delivers a value (without blocking the writer, so at most one
// waits) after each commit that appended audit entries: the checkpointer
// listens to it to sign every MaxEntries entries.
func (db *DB) AuditAppended() <-chan struct{} { return db.auditPoke }

// Size is the number of entries.
func (l *AuditLog) Size(ctx context.Context) (int64, error) {
	var n int64
	err := l.read(ctx, func(tx *Tx) error {
		return tx.QueryRow(`SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries`).Scan(&n)
	})
	return n, err
}

// Entries calls fn for each entry in seq order with its stored leaf hash.
func (l *AuditLog) Entries(ctx context.Context, fn func(audit.Entry, tlog.Hash) error) error {
	return l.read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT seq, at, actor, role, action, object, decision, reason, request_id, leaf_hash
			FROM audit_entries ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e audit.Entry
			var at string
			var leaf []byte
			if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Role, &e.Action, &e.Object, &e.Decision, &e.Reason, &e.RequestID, &leaf); err != nil {
				return err
			}
			t, err := parseTime(at)
			if err != nil {
				return fmt.Errorf("audit entry %d: %w", e.Seq, err)
			}
			e.Time = t
			var h tlog.Hash
			copy(h[:], leaf) // a short or long stored hash simply fails the comparison
			if err := fn(e, h); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// ReadHashes reads stored hashes by index.
func (l *AuditLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	var out []tlog.Hash
	err := l.read(context.Background(), func(tx *Tx) error {
		var err error
		out, err = readHashes(tx, indexes)
		return err
	})
	return out, err
}

// Checkpoints returns every stored signed checkpoint, smallest first.
func (l *AuditLog) Checkpoints(ctx context.Context) ([][]byte, error) {
	var notes [][]byte
	err := l.read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT note FROM audit_checkpoints ORDER BY size`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				return err
			}
			notes = append(notes, b)
		}
		return rows.Err()
	})
	return notes, err
}

// LatestCheckpointSize is the size of the latest checkpoint, 0 if none.
func (l *AuditLog) LatestCheckpointSize(ctx context.Context) (int64, error) {
	var n int64
	err := l.read(ctx, func(tx *Tx) error {
		return tx.QueryRow(`SELECT COALESCE(MAX(size), 0) FROM audit_checkpoints`).Scan(&n)
	})
	return n, err
}

// SaveCheckpoint stores a signed checkpoint. Two processes may sign the same
// size (serve and a CLI command); the first one stored stands.
func (l *AuditLog) SaveCheckpoint(ctx context.Context, size int64, note []byte) error {
	if l.tx != nil {
		return errors.New("save checkpoint: the audit log view is read-only")
	}
	return l.db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO audit_checkpoints (size, at, note) VALUES (?, ?, ?) ON CONFLICT (size) DO NOTHING`,
			size, formatTime(tx.Now()), note)
		return err
	})
}
