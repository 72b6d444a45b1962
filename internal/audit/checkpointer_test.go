// SPDX-License-Identifier: AGPL-3.0-or-later

package audit_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/audit"
	"golang.org/x/mod/sumdb/tlog"
)

func TestCheckpointerCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := &memLog{}
	now := testEpoch
	c := &audit.Checkpointer{Store: m, Signer: mustSigner(t), Dir: dir, Now: func() time.Time { return now }}

	if _, ok, err := c.Checkpoint(ctx); ok || err != nil {
		t.Fatalf("empty log: wrote %v, err %v", ok, err)
	}
	for i := range 5 {
		if err := m.append(testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	cp, ok, err := c.Checkpoint(ctx)
	if !ok || err != nil {
		t.Fatalf("wrote %v, err %v", ok, err)
	}
	root, _ := tlog.TreeHash(5, m)
	if want := (audit.Checkpoint{Origin: "audit.test", Size: 5, Root: root, Time: testEpoch}); cp != want {
		t.Errorf("checkpoint %+v, want %+v", cp, want)
	}
	file := filepath.Join(dir, audit.CheckpointFile)
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, m.notes[0]) {
		t.Errorf("file holds %q, store %q", got, m.notes[0])
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v, %v; want 0644", fi.Mode(), err)
	}
	if opened, err := audit.OpenCheckpoint(got, mustVerifier(t)); err != nil || opened != cp {
		t.Errorf("file opens as %+v, %v", opened, err)
	}

	// Nothing new, nothing written.
	if _, ok, err := c.Checkpoint(ctx); ok || err != nil {
		t.Fatalf("unchanged log: wrote %v, err %v", ok, err)
	}
	if err := m.append(testEntry(5)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	c.Origin = "lifeline.example/audit"
	if cp, ok, err := c.Checkpoint(ctx); !ok || err != nil || cp.Size != 6 || cp.Origin != "lifeline.example/audit" {
		t.Fatalf("grown log: %+v, %v, %v", cp, ok, err)
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, m.notes[1]) {
		t.Error("file not replaced")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d files, want 1 (no temp files left)", len(entries))
	}

	// The file is written after the store: a missing dir still stores.
	c.Dir = filepath.Join(dir, "missing")
	if err := m.append(testEntry(6)); err != nil {
		t.Fatal(err)
	}
	if cp, ok, err := c.Checkpoint(ctx); !ok || err == nil || cp.Size != 7 || len(m.notes) != 3 {
		t.Errorf("missing dir: %+v, %v, %v, %d notes", cp, ok, err, len(m.notes))
	}
}

func TestCheckpointerRefusesTampering(t *testing.T) {
	ctx := context.Background()
	m := MustBuildLog(t, 20, 10)
	c := &audit.Checkpointer{Store: m, Signer: mustSigner(t)}
	if err := m.append(testEntry(20)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Checkpoint(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}

	// A hash under the checkpoint it signed changed.
	m2 := m.clone()
	c2 := &audit.Checkpointer{Store: m2, Signer: mustSigner(t)}
	if _, _, err := c2.Checkpoint(ctx); err != nil { // learns nothing: log unchanged
		t.Fatal(err)
	}
	if err := m.append(testEntry(21)); err != nil {
		t.Fatal(err)
	}
	m.hashes[tlog.StoredHashIndex(4, 0)][0] ^= 1 // read by tlog.TreeHash(21)
	if _, ok, err := c.Checkpoint(ctx); ok || err == nil || !strings.Contains(err.Error(), "refusing to sign") {
		t.Errorf("tampered hashes: wrote %v, err %v", ok, err)
	}

	// The log shrank below the latest checkpoint.
	m2.rows = m2.rows[:15]
	if _, ok, err := c2.Checkpoint(ctx); ok || err == nil || !strings.Contains(err.Error(), "log has 15 entries but a checkpoint covers 21") {
		t.Errorf("truncated log: wrote %v, err %v", ok, err)
	}
}

// lockedLog serializes access to a memLog shared between the test and Run.
type lockedLog struct {
	mu sync.Mutex
	m  *memLog
}

func (l *lockedLog) Size(ctx context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Size(ctx)
}

func (l *lockedLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.ReadHashes(indexes)
}

func (l *lockedLog) LatestCheckpointSize(ctx context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.LatestCheckpointSize(ctx)
}

func (l *lockedLog) SaveCheckpoint(ctx context.Context, size int64, note []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.SaveCheckpoint(ctx, size, note)
}

func (l *lockedLog) append(t *testing.T, n int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		if err := l.m.append(testEntry(len(l.m.rows))); err != nil {
			t.Fatal(err)
		}
	}
}

func (l *lockedLog) sizes() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int64(nil), l.m.sizes...)
}

func TestCheckpointerRun(t *testing.T) {
	l := &lockedLog{m: &memLog{}}
	c := &audit.Checkpointer{Store: l, Signer: mustSigner(t), Interval: time.Hour, MaxEntries: 10}
	poke := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Run(ctx, poke)
		close(done)
	}()
	pokeAfter := func(n int) {
		l.append(t, n)
		select {
		case poke <- struct{}{}:
		default:
		}
	}
	waitSizes := func(want ...int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := l.sizes()
			if len(got) == len(want) && equalInt64(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("checkpoint sizes %v, want %v", got, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	pokeAfter(9)
	time.Sleep(50 * time.Millisecond)
	pokeAfter(1)
	waitSizes(10)
	pokeAfter(5)
	time.Sleep(50 * time.Millisecond)
	if got := l.sizes(); len(got) != 1 {
		t.Errorf("checkpoints after 5 more entries: %v, want none new", got)
	}
	pokeAfter(5)
	waitSizes(10, 20)
	pokeAfter(3)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	waitSizes(10, 20, 23)
}

func equalInt64(a, b []int64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCheckpointerRunInterval(t *testing.T) {
	l := &lockedLog{m: &memLog{}}
	c := &audit.Checkpointer{Store: l, Signer: mustSigner(t), Interval: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx, nil)
	l.append(t, 3)
	deadline := time.Now().Add(5 * time.Second)
	for len(l.sizes()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint after the interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
