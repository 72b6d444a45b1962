// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// appendOnlyTriggers are the triggers of migrations/sqlite/0002_audit.sql
// that an attacker with the database file drops first.
var appendOnlyTriggers = []string{
	"audit_entries_no_update", "audit_entries_no_delete",
	"audit_hashes_no_update", "audit_hashes_no_delete",
	"audit_checkpoints_no_update", "audit_checkpoints_no_delete",
}

// mustBuildAuditLog makes a data directory whose audit log holds 14 entries
// (2 user.add of the bootstrap supervisors, 10 token.create seeded, 2
// token.revoke), the unsealed server signing a checkpoint after each
// command, so that checkpoints of every size 1..14 exist.
func mustBuildAuditLog(t testing.TB) (dir string, entries int) {
	t.Helper()
	dir = mustMigrate(t)
	mustAddUser(t, dir, "alice", "supervisor")
	mustSignCheckpoint(t, dir)
	mustAddUser(t, dir, "bob", "supervisor")
	mustSignCheckpoint(t, dir)
	var ids []string
	for i := range 10 {
		ids = append(ids, mustCreateToken(t, dir, []string{"alice", "bob"}[i%2]))
		mustSignCheckpoint(t, dir)
	}
	mustRun(t, nil, "token", "revoke", "--data", dir, "--id", ids[0])
	mustSignCheckpoint(t, dir)
	mustRun(t, nil, "token", "revoke", "--data", dir, "--id", ids[5])
	mustSignCheckpoint(t, dir)
	return dir, 14
}

// mustCopyDir copies a data directory, modes included, to a new temporary
// directory and returns the copy.
func mustCopyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, fi.Mode().Perm())
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return dst
}

// mustTamper edits a data directory's database by hand, bypassing the
// store, as an attacker holding the file would: in one transaction it drops
// the append-only triggers and then calls edit.
func mustTamper(t testing.TB, dir string, edit func(tx *sql.Tx) error) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlstore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, name := range appendOnlyTriggers {
		if _, err := tx.Exec(`DROP TRIGGER IF EXISTS ` + name); err != nil {
			t.Fatalf("drop trigger %s: %v", name, err)
		}
	}
	if err := edit(tx); err != nil {
		t.Fatalf("tamper: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// execAll is an edit for mustTamper that runs each statement and checks
// that each UPDATE and DELETE changed something.
func execAll(queries ...string) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		for _, q := range queries {
			res, err := tx.Exec(q)
			if err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
			if strings.HasPrefix(q, "CREATE") {
				continue
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return fmt.Errorf("%s: changed no rows", q)
			}
		}
		return nil
	}
}

// truncateTail deletes the entries from seq first on, with the stored
// hashes that only they complete, so that the tree of what is left is
// consistent.
func truncateTail(first int64) []string {
	return []string{
		fmt.Sprintf(`DELETE FROM audit_entries WHERE seq >= %d`, first),
		fmt.Sprintf(`DELETE FROM audit_hashes WHERE idx >= %d`, tlog.StoredHashIndex(0, first)),
	}
}

// memHashes is a tlog.HashReader over a slice of stored hashes.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d of %d: %w", x, len(m), audit.ErrMissingHash)
		}
		out[i] = m[x]
	}
	return out, nil
}

// mustRehash recomputes every leaf hash and the whole stored hash table
// from the entries as they now stand: the careful attacker, who is caught
// only by the signed checkpoints.
func mustRehash(t testing.TB, dir string) {
	t.Helper()
	db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, sqlstore.FileName), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var entries []audit.Entry
	err = db.AuditLog().Entries(t.Context(), func(e audit.Entry, _ tlog.Hash) error {
		entries = append(entries, e)
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	var stored memHashes
	for n, e := range entries {
		_, hashes, err := audit.HashesForAppend(int64(n), e, stored)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hashes...)
	}
	mustTamper(t, dir, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM audit_hashes`); err != nil {
			return err
		}
		for i, h := range stored {
			if _, err := tx.Exec(`INSERT INTO audit_hashes (idx, hash) VALUES (?, ?)`, i, h[:]); err != nil {
				return err
			}
		}
		for _, e := range entries {
			leaf := audit.LeafHash(e)
			if _, err := tx.Exec(`UPDATE audit_entries SET leaf_hash = ? WHERE seq = ?`, leaf[:], e.Seq); err != nil {
				return err
			}
		}
		return nil
	})
}

// problem is the start of the message of an audit.Problem: the first bad
// entry (or range) and the kind.
func problem(seq, last int64, kind string) string {
	if last > seq {
		return fmt.Sprintf("audit entries %d..%d: %s", seq, last, kind)
	}
	return fmt.Sprintf("audit entry %d: %s", seq, kind)
}

func TestAuditVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	base, n := mustBuildAuditLog(t)
	out := mustRun(t, nil, "audit", "verify", "--data", base)
	if want := fmt.Sprintf("Audit log intact: %d entries; the latest signed checkpoint covers %d ", n, n); !strings.HasPrefix(out, want) {
		t.Fatalf("before tampering: got %q, want it to start %q", out, want)
	}
	// A witness's copy of the latest checkpoint, kept off-box.
	witness := filepath.Join(t.TempDir(), "witness-checkpoint")
	b, err := os.ReadFile(filepath.Join(base, auditDir, audit.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, witness, string(b))
	forged := filepath.Join(t.TempDir(), "forged-checkpoint")
	forgedNote := strings.Replace(string(b), fmt.Sprintf("\n%d\n", n), fmt.Sprintf("\n%d\n", n+1), 1)
	if forgedNote == string(b) {
		t.Fatalf("got checkpoint %q, want a size line %d to forge", b, n)
	}
	mustWriteFile(t, forged, forgedNote)
	otherKey := filepath.Join(t.TempDir(), "other-verifier.key")
	_, vkey, err := audit.GenerateKey(auditOrigin)
	if err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, otherKey, vkey+"\n")

	removeCheckpointFile := func(t testing.TB, dir string) {
		t.Helper()
		if err := os.Remove(filepath.Join(dir, auditDir, audit.CheckpointFile)); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name   string
		tamper func(t testing.TB, dir string)
		flags  []string
		want   string
	}{
		{
			name: "edit a reason",
			tamper: func(t testing.TB, dir string) {
				mustTamper(t, dir, execAll(`UPDATE audit_entries SET reason = 'role=admin' WHERE seq = 5`))
			},
			want: problem(5, 5, audit.KindAltered),
		},
		{
			name: "edit an actor",
			tamper: func(t testing.TB, dir string) {
				mustTamper(t, dir, execAll(`UPDATE audit_entries SET actor = 'system' WHERE seq = 0`))
			},
			want: problem(0, 0, audit.KindAltered),
		},
		{
			name: "delete an entry",
			tamper: func(t testing.TB, dir string) {
				mustTamper(t, dir, execAll(`DELETE FROM audit_entries WHERE seq = 7`))
			},
			want: problem(7, 7, audit.KindMissing),
		},
		{
			name: "delete two entries",
			tamper: func(t testing.TB, dir string) {
				mustTamper(t, dir, execAll(`DELETE FROM audit_entries WHERE seq IN (8, 9)`))
			},
			want: problem(8, 9, audit.KindMissing),
		},
		{
			name: "swap two entries",
			tamper: func(t testing.TB, dir string) {
				mustTamper(t, dir, execAll(
					`CREATE TEMP TABLE swap AS SELECT * FROM audit_entries WHERE seq IN (3, 4)`,
					`UPDATE audit_entries SET
						at = s.at, actor = s.actor, role = s.role, action = s.action, object = s.object,
						decision = s.decision, reason = s.reason, request_id = s.request_id, leaf_hash = s.leaf_hash
					FROM swap AS s WHERE s.seq = 7 - audit_entries.seq`,
				))
			},
			want: problem(3, 3, audit.KindAltered),
		},
		{
			name: "change a stored inner hash",
			tamper: func(t testing.TB, dir string) {
				mustTamper(t, dir, execAll(fmt.Sprintf(`UPDATE audit_hashes SET hash = zeroblob(32) WHERE idx = %d`, tlog.StoredHashIndex(1, 2))))
			},
			want: problem(4, 5, audit.KindHashes),
		},
		{
			name: "truncate the tail",
			tamper: func(t testing.TB, dir string) {
				mustTamper(t, dir, execAll(truncateTail(int64(n-4))...))
			},
			// The smallest checkpoint that covers more, of size n-3, names
			// the first missing entry.
			want: problem(int64(n-4), int64(n-4), audit.KindTruncated),
		},
		{
			name: "truncate and delete the stored checkpoints",
			tamper: func(t testing.TB, dir string) {
				// The copy in the audit directory still remembers.
				mustTamper(t, dir, execAll(append(truncateTail(int64(n-4)), `DELETE FROM audit_checkpoints`)...))
			},
			want: problem(int64(n-4), int64(n-1), audit.KindTruncated),
		},
		{
			name: "truncate and delete every checkpoint on the box",
			tamper: func(t testing.TB, dir string) {
				mustTamper(t, dir, execAll(append(truncateTail(int64(n-4)), `DELETE FROM audit_checkpoints`)...))
				removeCheckpointFile(t, dir)
			},
			flags: []string{"--checkpoint", witness},
			want:  problem(int64(n-4), int64(n-1), audit.KindTruncated),
		},
		{
			name: "edit an entry and recompute every hash",
			tamper: func(t testing.TB, dir string) {
				mustTamper(t, dir, execAll(`UPDATE audit_entries SET reason = 'role=admin' WHERE seq = 2`))
				mustRehash(t, dir)
			},
			// Checkpoints of sizes 1 and 2 still match; the one of size 3 does not.
			want: problem(2, 2, audit.KindCheckpoint),
		},
		{
			name: "edit, recompute and delete every checkpoint on the box",
			tamper: func(t testing.TB, dir string) {
				mustTamper(t, dir, execAll(`UPDATE audit_entries SET reason = 'role=admin' WHERE seq = 2`, `DELETE FROM audit_checkpoints`))
				mustRehash(t, dir)
				removeCheckpointFile(t, dir)
			},
			flags: []string{"--checkpoint", witness},
			want:  problem(0, int64(n-1), audit.KindCheckpoint),
		},
		{
			name:   "forged witness checkpoint",
			tamper: func(t testing.TB, dir string) {},
			flags:  []string{"--checkpoint", forged},
			want:   "audit log: " + audit.KindSignature,
		},
		{
			name:   "another log's verifier key",
			tamper: func(t testing.TB, dir string) {},
			flags:  []string{"--verifier-key", otherKey},
			want:   "audit log: " + audit.KindSignature,
		},
	}
	t.Run("tampered", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				dir := mustCopyDir(t, base)
				tt.tamper(t, dir)
				res := runLifeline(t, nil, append([]string{"audit", "verify", "--data", dir}, tt.flags...)...)
				checkOneLineError(t, res, 1)
				want := "lifeline: audit log is NOT intact: " + tt.want
				if len(tt.flags) == 2 && tt.flags[0] == "--checkpoint" {
					// Caught by a witness: the message names it.
					want = "lifeline: audit log is NOT intact: against the witness's checkpoint " + tt.flags[1] + ": " + tt.want
				}
				if !strings.HasPrefix(res.stderr, want) {
					t.Errorf("got %q, want it to start %q", res.stderr, want)
				}
				if res.stdout != "" {
					t.Errorf("got stdout %q, want nothing", res.stdout)
				}
			})
		}
	})

	// Controls: the original still verifies, and so does a plain copy, with
	// the witness's checkpoint too.
	for _, dir := range []string{base, mustCopyDir(t, base)} {
		out := mustRun(t, nil, "audit", "verify", "--data", dir, "--checkpoint", witness)
		if want := fmt.Sprintf("Audit log intact: %d entries", n); !strings.HasPrefix(out, want) {
			t.Errorf("control %s: got %q, want it to start %q", dir, out, want)
		}
	}

	// A witness file that cannot be read is a usage error, not a verdict.
	res := runLifeline(t, nil, "audit", "verify", "--data", base, "--checkpoint", filepath.Join(t.TempDir(), "missing"))
	checkOneLineError(t, res, 2)
}

// TestAuditCommandsRefuseToSignOverTruncation checks that a command run after
// the tail was cut off fails, appending nothing, and that the server's
// checkpointer refuses to sign a checkpoint that would bless the shorter log.
func TestAuditCommandsRefuseToSignOverTruncation(t *testing.T) {
	t.Parallel()
	dir := mustMigrate(t)
	mustAddUser(t, dir, "carol", "supervisor")
	var id string
	for range 3 {
		id = mustCreateToken(t, dir, "carol")
	}
	mustSignCheckpoint(t, dir)
	mustTamper(t, dir, execAll(truncateTail(2)...))
	res := runLifeline(t, nil, "token", "revoke", "--data", dir, "--id", id)
	checkOneLineError(t, res, 1)
	if !strings.Contains(res.stderr, "truncated") {
		t.Errorf("got %q, want it to report the truncation", res.stderr)
	}
	if n := len(readAuditRows(t, dir)); n != 2 {
		t.Errorf("got %d audit entries after the refused command, want the 2 left", n)
	}
	keeper, err := keys.Open(filepath.Join(dir, keysDir))
	if err != nil {
		t.Fatal(err)
	}
	defer keeper.Seal()
	if err := keeper.UnsealWithFile(mustInitKeys(t, dir)); err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, sqlstore.FileName), sqlstore.Options{Sealer: keeper})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, wrote, err := newCheckpointer(db, dir, keeper).Checkpoint(t.Context()); wrote || err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("server checkpoint over the cut log: got wrote=%v %v, want it refused as truncated", wrote, err)
	}
	res = runLifeline(t, nil, "audit", "verify", "--data", dir)
	checkOneLineError(t, res, 1)
}

// TestAuditWitnessDetectsTruncation (issue 11 §6): every checkpoint also
// goes to a witness directory outside the data directory; cutting the
// newest entries with the newest checkpoints on the box passes a check
// that trusts the box (today's attack), and fails against the witness's
// checkpoint and the public key given from outside, naming the witness. A
// witness inside the data directory is refused.
func TestAuditWitnessDetectsTruncation(t *testing.T) {
	t.Parallel()
	dir := mustMigrate(t)
	witness := t.TempDir() // another disk, or the monitor box's mount
	for _, u := range []string{"alice", "bob", "carol", "dmytro"} {
		mustRun(t, nil, "user", "add", "--data", dir, "--username", u, "--role", "intake")
		mustSignCheckpoint(t, dir, witness) // the server's, with --audit-witness
	}
	vk, err := os.ReadFile(filepath.Join(dir, auditVerifierFile))
	if err != nil {
		t.Fatal(err)
	}
	publicKey := strings.TrimSpace(string(vk))
	wcp := filepath.Join(witness, audit.CheckpointFile)
	if out := mustRun(t, nil, "audit", "verify", "--data", dir, "--public-key", publicKey, "--checkpoint", wcp); !strings.HasPrefix(out, "Audit log intact: 4 entries; the latest signed checkpoint covers 4 ") {
		t.Fatalf("before the cut: %q", out)
	}

	// Cut the two newest entries, the checkpoints that cover them, and the
	// checkpoint file on the box.
	mustTamper(t, dir, execAll(append(truncateTail(2), `DELETE FROM audit_checkpoints WHERE size > 2`)...))
	if err := os.Remove(filepath.Join(dir, auditDir, audit.CheckpointFile)); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, nil, "audit", "verify", "--data", dir, "--public-key", publicKey); !strings.HasPrefix(out, "Audit log intact: 2 entries") {
		t.Fatalf("without the witness the cut log should pass (the attack): %q", out)
	}
	res := runLifeline(t, nil, "audit", "verify", "--data", dir, "--public-key", publicKey, "--checkpoint", wcp)
	checkOneLineError(t, res, 1)
	if !strings.Contains(res.stderr, "witness's checkpoint "+wcp) || !strings.Contains(res.stderr, string(audit.KindTruncated)) {
		t.Errorf("against the witness: got %q, want the truncation, naming the witness", res.stderr)
	}

	inside := filepath.Join(dir, "witness")
	res = runLifeline(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--audit-witness", inside)
	if res.code != 2 || !strings.Contains(res.stderr, "inside the data directory") {
		t.Errorf("serve with a witness inside the data directory: got %d %q, want it refused", res.code, res.stderr)
	}
}
