// SPDX-License-Identifier: AGPL-3.0-or-later

package audit_test

import (
	"context"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/audit"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestVerifyClean(t *testing.T) {
	m := MustBuildLog(t, 2500, 1000)
	if got, want := m.sizes, []int64{1000, 2000, 2500}; !slices.Equal(got, want) {
		t.Fatalf("checkpoint sizes %v, want %v", got, want)
	}
	rep, err := audit.Verify(context.Background(), m, mustVerifier(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 2500 || rep.CheckpointSize != 2500 || rep.Checkpoints != 3 || rep.Origin != "audit.test" || rep.Unsigned() != 0 {
		t.Errorf("report %+v", rep)
	}
	if rep.Root != rep.Head {
		t.Errorf("root %v, head %v: want equal when the latest checkpoint covers the log", rep.Root, rep.Head)
	}

	// Entries after the latest checkpoint verify (as unsigned), and extra
	// notes identical to stored ones are fine.
	if err := m.append(testEntry(2500)); err != nil {
		t.Fatal(err)
	}
	rep, err = audit.Verify(context.Background(), m, mustVerifier(t), m.notes...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 2501 || rep.CheckpointSize != 2500 || rep.Unsigned() != 1 || rep.Checkpoints != 3 {
		t.Errorf("report %+v", rep)
	}

	// An empty log without checkpoints verifies.
	if _, err := audit.Verify(context.Background(), &memLog{}, mustVerifier(t)); err != nil {
		t.Errorf("empty log: %v", err)
	}
}

func TestVerifyTamper(t *testing.T) {
	base := MustBuildLog(t, 2500, 1000)
	other, err := otherSigner("intruder.test")
	if err != nil {
		t.Fatal(err)
	}
	sameName, err := otherSigner("audit.test")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		tamper    func(t *testing.T, m *memLog) (extra [][]byte)
		seq, last int64
		kind      string
		contains  string
	}{
		{
			name: "edit content, stored leaf untouched",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows[1234].e.Reason = "nothing to see"
				return nil
			},
			seq: 1234, last: 1234, kind: audit.KindAltered,
			contains: "audit entry 1234: altered (content does not match its leaf hash)",
		},
		{
			name: "edit content and its stored leaf",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows[1234].e.Actor = "op_0000"
				m.rows[1234].leaf = audit.LeafHash(m.rows[1234].e)
				return nil
			},
			seq: 1234, last: 1234, kind: audit.KindAltered, contains: "stored leaf hash in the hash table",
		},
		{
			name: "edit content, recompute leaf and level-0 hash only",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows[1234].e.Decision = audit.DecisionAllow
				m.rows[1234].e.Reason = "x"
				m.rows[1234].leaf = audit.LeafHash(m.rows[1234].e)
				m.hashes[tlog.StoredHashIndex(0, 1234)] = m.rows[1234].leaf
				return nil
			},
			seq: 1234, last: 1235, kind: audit.KindHashes, contains: "level 1",
		},
		{
			name: "edit content and recompute every hash",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows[1234].e.Reason = "nothing to see"
				m.rehash(t)
				return nil
			},
			seq: 1000, last: 1999, kind: audit.KindCheckpoint,
			contains: "entries 1000..1999 do not match signed checkpoint of size 2000",
		},
		{
			name: "edit an inner stored hash",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.hashes[tlog.StoredHashIndex(3, 1234>>3)][0] ^= 1
				return nil
			},
			seq: 1232, last: 1239, kind: audit.KindHashes, contains: "level 3 over entries 1232..1239",
		},
		{
			name: "cut the hash table",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.hashes = m.hashes[:tlog.StoredHashIndex(0, 2400)]
				return nil
			},
			seq: 2400, last: 2400, kind: audit.KindAltered, contains: "missing",
		},
		{
			name: "delete entry 700",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows = slices.Delete(m.rows, 700, 701)
				return nil
			},
			seq: 700, last: 700, kind: audit.KindMissing, contains: "entry 701 follows entry 699",
		},
		{
			name: "delete entries 700..702",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows = slices.Delete(m.rows, 700, 703)
				return nil
			},
			seq: 700, last: 702, kind: audit.KindMissing,
		},
		{
			name: "delete entry 0",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows = m.rows[1:]
				return nil
			},
			seq: 0, last: 0, kind: audit.KindMissing, contains: "follows the start of the log",
		},
		{
			name: "swap rows 10 and 11 with their seqs",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows[10], m.rows[11] = m.rows[11], m.rows[10]
				return nil
			},
			seq: 10, last: 10, kind: audit.KindReordered, contains: "position 10 holds entry 11",
		},
		{
			name: "swap entries 10 and 11 keeping seqs in place",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows[10], m.rows[11] = m.rows[11], m.rows[10]
				m.rows[10].e.Seq, m.rows[11].e.Seq = 10, 11
				return nil
			},
			seq: 10, last: 10, kind: audit.KindAltered,
		},
		{
			name: "swap entries 10 and 11 keeping seqs, recompute every hash",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows[10], m.rows[11] = m.rows[11], m.rows[10]
				m.rows[10].e.Seq, m.rows[11].e.Seq = 10, 11
				m.rehash(t)
				return nil
			},
			seq: 0, last: 999, kind: audit.KindCheckpoint,
		},
		{
			name: "duplicate entry 5",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows = slices.Insert(m.rows, 6, m.rows[5])
				return nil
			},
			seq: 6, last: 6, kind: audit.KindReordered,
		},
		{
			name: "truncate the last 300 entries",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows = m.rows[:2200]
				return nil
			},
			seq: 2200, last: 2499, kind: audit.KindTruncated,
			contains: "the log has 2200 entries, the signed checkpoint of 2026-03-01T08:41:40Z covers 2500",
		},
		{
			name: "truncate and recompute the hash table",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows = m.rows[:2200]
				m.rehash(t)
				return nil
			},
			seq: 2200, last: 2499, kind: audit.KindTruncated,
		},
		{
			name: "truncate, recompute, drop stored checkpoint; off-box copy",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				offBox := m.notes[2]
				m.rows = m.rows[:2200]
				m.rehash(t)
				m.notes, m.sizes = m.notes[:2], m.sizes[:2]
				return [][]byte{offBox}
			},
			seq: 2200, last: 2499, kind: audit.KindTruncated,
		},
		{
			name: "forged checkpoint by another key",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.rows = m.rows[:2200]
				m.rehash(t)
				root, err := tlog.TreeHash(2200, m)
				if err != nil {
					t.Fatal(err)
				}
				m.notes = append(m.notes[:2], mustSign(t, other, audit.Checkpoint{Origin: "audit.test", Size: 2200, Root: root, Time: testEpoch}))
				return nil
			},
			seq: -1, last: -1, kind: audit.KindSignature,
			contains: "not signed by key audit.test (signed by unknown keys intruder.test+",
		},
		{
			name: "forged checkpoint by another key of the same name",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				return [][]byte{mustSign(t, sameName, audit.Checkpoint{Origin: "audit.test", Size: 1, Root: m.rows[0].leaf, Time: testEpoch})}
			},
			seq: -1, last: -1, kind: audit.KindSignature, contains: "extra checkpoint #0: audit: checkpoint: not signed by key audit.test",
		},
		{
			name: "checkpoint with a flipped root byte",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				m.notes[1] = flipRootByte(t, m.notes[1])
				return nil
			},
			seq: -1, last: -1, kind: audit.KindSignature, contains: "stored checkpoint #1: audit: checkpoint: bad signature by key audit.test",
		},
		{
			name: "checkpoint of another log signed with the same key",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				return [][]byte{mustSign(t, mustSigner(t), audit.Checkpoint{Origin: "staging.test", Size: 1, Root: m.rows[0].leaf, Time: testEpoch})}
			},
			seq: -1, last: -1, kind: audit.KindSignature, contains: "two logs",
		},
		{
			name: "a second root for a signed size",
			tamper: func(t *testing.T, m *memLog) [][]byte {
				return [][]byte{mustSign(t, mustSigner(t), audit.Checkpoint{Origin: "audit.test", Size: 2000, Root: tlog.Hash{1}, Time: testEpoch})}
			},
			seq: 1000, last: 1999, kind: audit.KindCheckpoint,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base.clone()
			extra := tt.tamper(t, m)
			_, err := audit.Verify(context.Background(), m, mustVerifier(t), extra...)
			p := mustProblem(t, err)
			if p.Seq != tt.seq || p.Last != tt.last || p.Kind != tt.kind {
				t.Errorf("got %d..%d %s, want %d..%d %s; error: %v", p.Seq, p.Last, p.Kind, tt.seq, tt.last, tt.kind, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}

	t.Run("the documented gap: truncate, recompute, drop checkpoint, no off-box copy", func(t *testing.T) {
		m := base.clone()
		m.rows = m.rows[:2200]
		m.rehash(t)
		m.notes, m.sizes = m.notes[:2], m.sizes[:2]
		rep, err := audit.Verify(context.Background(), m, mustVerifier(t))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Unsigned() != 200 {
			t.Errorf("unsigned %d, want 200", rep.Unsigned())
		}
	})
}

func TestVerifyEditEveryCheckpointRange(t *testing.T) {
	// Edits with every hash recomputed are bounded by the checkpoints around them.
	base := MustBuildLog(t, 2500, 1000)
	for _, tc := range []struct{ edit, seq, last int64 }{{0, 0, 999}, {999, 0, 999}, {1000, 1000, 1999}, {2499, 2000, 2499}} {
		m := base.clone()
		m.rows[tc.edit].e.Object = "h:0"
		m.rehash(t)
		_, err := audit.Verify(context.Background(), m, mustVerifier(t))
		p := mustProblem(t, err)
		if p.Kind != audit.KindCheckpoint || p.Seq != tc.seq || p.Last != tc.last {
			t.Errorf("edit %d: got %v, want entries %d..%d", tc.edit, err, tc.seq, tc.last)
		}
	}
}

// TestVerifyRandomMutations is SECURITY.md S-14 in miniature: single random
// edits, deletions and adjacent swaps are all detected at the right entry.
func TestVerifyRandomMutations(t *testing.T) {
	const n = 1100
	base := MustBuildLog(t, n, 1000)
	rng := rand.New(rand.NewPCG(14, 1100))
	detected := 0
	const trials = 200
	for trial := range trials {
		m := base.clone()
		i := rng.IntN(n)
		var what string
		switch rng.IntN(3) {
		case 0:
			what = mutateField(rng, &m.rows[i].e)
		case 1:
			what = "delete"
			m.rows = slices.Delete(m.rows, i, i+1)
		case 2:
			if i == n-1 {
				i--
			}
			what = "swap with next"
			m.rows[i], m.rows[i+1] = m.rows[i+1], m.rows[i]
		}
		_, err := audit.Verify(context.Background(), m, mustVerifier(t))
		var p *audit.Problem
		if !errors.As(err, &p) {
			t.Errorf("trial %d: %s entry %d: not detected (err %v)", trial, what, i, err)
			continue
		}
		if p.Seq != int64(i) {
			t.Errorf("trial %d: %s entry %d: reported %v", trial, what, i, err)
			continue
		}
		detected++
	}
	if detected != trials {
		t.Errorf("detected %d/%d", detected, trials)
	}
}

// mutateField changes one field of e to a different value.
func mutateField(rng *rand.Rand, e *audit.Entry) string {
	switch rng.IntN(10) {
	case 0:
		e.Seq += 1 + rng.Int64N(5)
		return "seq"
	case 1:
		e.Time = e.Time.Add(time.Duration(1+rng.IntN(1000)) * time.Microsecond)
		return "time"
	case 2:
		e.Actor += "x"
		return "actor"
	case 3:
		e.Role = "SV"
		if e.Role == "SV" {
			e.Role = "AU"
		}
		return "role"
	case 4:
		e.Action = "case.export"
		return "action"
	case 5:
		e.Object = e.Object[:len(e.Object)-1]
		return "object"
	case 6:
		if e.Decision == audit.DecisionAllow {
			e.Decision = audit.DecisionDeny
		} else {
			e.Decision = audit.DecisionAllow
		}
		return "decision"
	case 7:
		e.Reason += " "
		return "reason"
	case 8:
		e.RequestID = ""
		return "request id"
	}
	// Move a byte across a field boundary.
	e.Actor, e.Role = e.Actor+e.Role[:1], e.Role[1:]
	return "boundary"
}

func mustProblem(t *testing.T, err error) *audit.Problem {
	t.Helper()
	var p *audit.Problem
	if !errors.As(err, &p) {
		t.Fatalf("got error %v, want *audit.Problem", err)
	}
	return p
}

func otherSigner(name string) (note.Signer, error) {
	skey, _, err := audit.GenerateKey(name)
	if err != nil {
		return nil, err
	}
	return audit.NewSigner(skey)
}

func mustSign(t testing.TB, s note.Signer, c audit.Checkpoint) []byte {
	t.Helper()
	msg, err := audit.SignCheckpoint(s, c)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// flipRootByte flips one bit of the root in a signed checkpoint, keeping
// the signature.
func flipRootByte(t *testing.T, msg []byte) []byte {
	t.Helper()
	lines := strings.SplitN(string(msg), "\n", 4)
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil {
		t.Fatal(err)
	}
	root[7] ^= 0x01
	lines[2] = base64.StdEncoding.EncodeToString(root)
	return []byte(strings.Join(lines, "\n"))
}

func BenchmarkAppend(b *testing.B) {
	m := &memLog{}
	e := testEntry(1)
	for b.Loop() {
		if err := m.append(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify100k(b *testing.B) {
	m := MustBuildLog(b, 100_000, 1000)
	v := mustVerifier(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := audit.Verify(context.Background(), m, v); err != nil {
			b.Fatal(err)
		}
	}
}
