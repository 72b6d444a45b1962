// SPDX-License-Identifier: AGPL-3.0-or-later

package audit_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/audit"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// row is one audit_entries row: the entry and the leaf hash stored beside it.
type row struct {
	e    audit.Entry
	leaf tlog.Hash
}

// memLog mimics sqlstore's audit tables with slices: rows in storage order
// (Entries yields them in slice order, as ORDER BY seq would for an honest
// store), audit_hashes indexed by tlog.StoredHashIndex, and the notes of
// audit_checkpoints. Tests tamper with the slices directly.
type memLog struct {
	rows   []row
	hashes []tlog.Hash
	sizes  []int64
	notes  [][]byte
}

var (
	_ audit.Log   = (*memLog)(nil)
	_ audit.Store = (*memLog)(nil)
)

func (m *memLog) Size(context.Context) (int64, error) { return int64(len(m.rows)), nil }

func (m *memLog) Entries(ctx context.Context, fn func(audit.Entry, tlog.Hash) error) error {
	for _, r := range m.rows {
		if err := fn(r.e, r.leaf); err != nil {
			return err
		}
	}
	return nil
}

func (m *memLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("hash %d: %w", x, audit.ErrMissingHash)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memLog) Checkpoints(context.Context) ([][]byte, error) { return m.notes, nil }

func (m *memLog) LatestCheckpointSize(context.Context) (int64, error) {
	if len(m.sizes) == 0 {
		return 0, nil
	}
	return m.sizes[len(m.sizes)-1], nil
}

func (m *memLog) SaveCheckpoint(_ context.Context, size int64, note []byte) error {
	if len(m.sizes) > 0 && size <= m.sizes[len(m.sizes)-1] {
		return fmt.Errorf("checkpoint size %d not above %d", size, m.sizes[len(m.sizes)-1])
	}
	m.sizes = append(m.sizes, size)
	m.notes = append(m.notes, slices.Clone(note))
	return nil
}

// append appends e as the store does: HashesForAppend, then insert the row
// and the (idx, hash) rows.
func (m *memLog) append(e audit.Entry) error {
	n := int64(len(m.rows))
	e.Seq = n
	idx, hs, err := audit.HashesForAppend(n, e, m)
	if err != nil {
		return err
	}
	if idx[0] != int64(len(m.hashes)) {
		return fmt.Errorf("first index %d, table holds %d", idx[0], len(m.hashes))
	}
	m.rows = append(m.rows, row{e, hs[0]})
	m.hashes = append(m.hashes, hs...)
	return nil
}

func (m *memLog) clone() *memLog {
	return &memLog{
		rows:   slices.Clone(m.rows),
		hashes: slices.Clone(m.hashes),
		sizes:  slices.Clone(m.sizes),
		notes:  slices.Clone(m.notes),
	}
}

// rehash recomputes every stored leaf and the whole hash table from the
// rows as they are now, as an attacker with write access to the file would.
func (m *memLog) rehash(t testing.TB) {
	t.Helper()
	m.hashes = nil
	for i := range m.rows {
		m.rows[i].leaf = audit.LeafHash(m.rows[i].e)
		hs, err := tlog.StoredHashesForRecordHash(int64(i), m.rows[i].leaf, m)
		if err != nil {
			t.Fatal(err)
		}
		m.hashes = append(m.hashes, hs...)
	}
}

// Test keys. The signer key is fixed so that the fuzz seed corpus stays
// signed by it; it signs nothing but test data.
const (
	testSignerKey   = "PRIVATE+KEY+audit.test+72cece0b+AYHKeyJ5ZbxT6B6cYRCYux3QzAy2YzMHqjenlxJakIWf"
	testVerifierKey = "audit.test+72cece0b+ARTiLO2lE2QiQe7fVfQVG+rVqDrXDOIi+b6qkurVrRVh"
)

func mustSigner(t testing.TB) note.Signer {
	t.Helper()
	s, err := audit.NewSigner(testSignerKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustVerifier(t testing.TB) note.Verifier {
	t.Helper()
	v, err := audit.NewVerifier(testVerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var testEpoch = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// testEntry returns a plausible entry number i.
func testEntry(i int) audit.Entry {
	actions := []string{"login.ok", "login.fail", "case.read", "identity.reveal", "user.add", "token.create"}
	decision := audit.DecisionAllow
	if i%7 == 3 {
		decision = audit.DecisionDeny
	}
	return audit.Entry{
		Seq:       int64(i),
		Time:      testEpoch.Add(time.Duration(i) * 1234567 * time.Microsecond),
		Actor:     fmt.Sprintf("op_%04x", i%97),
		Role:      []string{"IO", "CO", "VO", "SV", "AU"}[i%5],
		Action:    actions[i%len(actions)],
		Object:    fmt.Sprintf("h:%016x", uint64(i)*0x9e3779b97f4a7c15),
		Decision:  decision,
		Reason:    []string{"", "assigned", "step_up", "break-glass: caller in danger"}[i%4],
		RequestID: fmt.Sprintf("req-%08d", i),
	}
}

// MustBuildLog appends n test entries and signs a checkpoint every `every`
// entries and at the end, through a Checkpointer, as the server does.
func MustBuildLog(t testing.TB, n, every int) *memLog {
	t.Helper()
	m := &memLog{}
	cp := &audit.Checkpointer{Store: m, Signer: mustSigner(t), Now: func() time.Time { return testEpoch.Add(time.Duration(len(m.rows)) * time.Second) }}
	for i := range n {
		if err := m.append(testEntry(i)); err != nil {
			t.Fatal(err)
		}
		if (i+1)%every == 0 || i+1 == n {
			if _, ok, err := cp.Checkpoint(context.Background()); err != nil || !ok {
				t.Fatalf("checkpoint at %d: %v, %v", i+1, ok, err)
			}
		}
	}
	return m
}
