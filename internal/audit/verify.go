// SPDX-License-Identifier: AGPL-3.0-or-later

package audit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A Log is the read side of the audit store, as Verify needs it. All its
// methods must read one consistent snapshot (one read-only transaction):
// entries appended between two reads would look like tampering.
type Log interface {
	// Size returns the number of entries in the log.
	Size(ctx context.Context) (int64, error)
	// Entries calls fn for each stored entry in ascending seq order with the
	// leaf hash stored beside it, and stops at the first error fn returns.
	Entries(ctx context.Context, fn func(e Entry, storedLeaf tlog.Hash) error) error
	// ReadHashes reads stored hashes (audit_hashes) by tlog.StoredHashIndex.
	// Verify calls it with sorted, contiguous batches of at most
	// HashBatchSize indexes, and once with the ≤ 1+log₂ n indexes of
	// tlog.TreeHash. A missing index must yield an error wrapping
	// ErrMissingHash.
	ReadHashes(indexes []int64) ([]tlog.Hash, error)
	// Checkpoints returns every stored signed note, in ascending size.
	Checkpoints(ctx context.Context) ([][]byte, error)
}

// HashBatchSize is the most indexes Verify passes to one Log.ReadHashes call
// when it compares the whole hash table (well below SQLite's limit of 32766
// bound parameters).
const HashBatchSize = 1000

// Kinds of Problem.
const (
	KindAltered    = "altered"    // content does not match its leaf hash or its stored level-0 hash
	KindMissing    = "missing"    // seq gap: entries deleted
	KindReordered  = "reordered"  // entries out of seq order or duplicated
	KindHashes     = "hashes"     // the stored hash table does not match the entries
	KindTruncated  = "truncated"  // a signed checkpoint covers more entries than the log holds
	KindCheckpoint = "checkpoint" // the recomputed root differs from a signed root; Seq..Last bounds the edit
	KindSignature  = "signature"  // a checkpoint note fails to verify or parse; Seq is -1
)

// A Problem is evidence of tampering (or corruption) found by Verify. It
// names the first bad entry: Seq..Last is the lowest range of entries that
// Verify can show to be bad (Seq == Last for a single entry). Seq and Last
// are -1 when the problem is not tied to entries (KindSignature).
//
// For KindCheckpoint (content edited and every hash recomputed, so only the
// signed roots disagree), Seq..Last runs from the size of the last checkpoint
// that still verifies to just below the size of the first that does not: the
// edit is somewhere in that range.
type Problem struct {
	Seq    int64
	Last   int64
	Kind   string
	Detail string
}

func (p *Problem) Error() string {
	switch {
	case p.Seq < 0:
		return fmt.Sprintf("audit log: %s (%s)", p.Kind, p.Detail)
	case p.Last > p.Seq:
		return fmt.Sprintf("audit entries %d..%d: %s (%s)", p.Seq, p.Last, p.Kind, p.Detail)
	}
	return fmt.Sprintf("audit entry %d: %s (%s)", p.Seq, p.Kind, p.Detail)
}

// A Report describes a log that verified.
type Report struct {
	Entries        int64     // entries in the log
	Checkpoints    int       // distinct signed checkpoints checked (stored and extra)
	Origin         string    // origin named by the checkpoints; "" if there are none
	CheckpointSize int64     // size of the latest checkpoint; 0 if there is none
	CheckpointTime time.Time // when the latest checkpoint was signed
	Root           tlog.Hash // signed root of the latest checkpoint; zero if there is none
	Head           tlog.Hash // tree hash of all Entries, recomputed from the entries
}

// Unsigned returns the number of entries after the latest checkpoint: they
// passed the leaf and stored-hash checks, but nothing signed covers them yet.
func (r Report) Unsigned() int64 { return r.Entries - r.CheckpointSize }

// Verify checks the whole log against itself and against every signed
// checkpoint: those stored in the log and the extra notes given (copies kept
// off-box by witnesses, which catch checkpoints deleted from the database).
//
// It recomputes every leaf hash from the entry contents and the whole tree
// from those leaves, then checks, in this order of precedence:
//   - entries come in seq order 0, 1, 2, … (KindMissing, KindReordered);
//   - each entry matches its stored leaf hash (KindAltered);
//   - every stored hash matches the recomputed tree (KindAltered at level 0,
//     KindHashes above);
//   - the recomputed root at each checkpoint's size equals the signed root
//     (KindCheckpoint), and no checkpoint is larger than the log (KindTruncated).
//
// The first three locate the exact entry; they win over the checkpoint checks,
// which can only bound a range. Entries after the latest checkpoint are
// covered by the first three only: an attacker who edits them and recomputes
// every hash is caught only by the next checkpoint.
//
// Evidence of tampering comes back as a *Problem; any other error means the
// log could not be read. v must be the log's checkpoint key; a note it does
// not verify is a *Problem of KindSignature.
func Verify(ctx context.Context, log Log, v note.Verifier, extra ...[]byte) (Report, error) {
	stored, err := log.Checkpoints(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: read checkpoints: %w", err)
	}
	cps, err := openAll(stored, extra, v)
	if err != nil {
		return Report{}, err
	}
	size, err := log.Size(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: read size: %w", err)
	}

	var (
		seqs    []int64
		leaves  []tlog.Hash
		altered = int64(-1)
	)
	err = log.Entries(ctx, func(e Entry, storedLeaf tlog.Hash) error {
		pos := int64(len(leaves))
		if pos%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		leaf := LeafHash(e)
		if leaf != storedLeaf && altered < 0 {
			altered = pos
		}
		seqs = append(seqs, e.Seq)
		leaves = append(leaves, leaf)
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: read entries: %w", err)
	}
	n := int64(len(leaves))

	// Precise problems first; the lowest entry wins, earlier checks on ties.
	var p *Problem
	consider := func(q *Problem) {
		if q != nil && (p == nil || q.Seq < p.Seq) {
			p = q
		}
	}
	consider(seqProblem(seqs))
	if altered >= 0 {
		consider(&Problem{Seq: altered, Last: altered, Kind: KindAltered, Detail: "content does not match its leaf hash"})
	}
	mem, err := treeOf(leaves)
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	q, err := compareHashes(ctx, log, mem, n)
	if err != nil {
		return Report{}, err
	}
	consider(q)
	if p != nil {
		return Report{}, p
	}
	if size != n {
		return Report{}, &Problem{Seq: n, Last: n, Kind: KindMissing,
			Detail: fmt.Sprintf("the log reports %d entries but holds %d", size, n)}
	}
	head, err := tlog.TreeHash(n, mem)
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	// Redundant with compareHashes, but cheap, and it reads the hashes the
	// way the Checkpointer does.
	storedHead, err := tlog.TreeHash(n, log)
	if errors.Is(err, ErrMissingHash) {
		return Report{}, &Problem{Seq: 0, Last: n - 1, Kind: KindHashes, Detail: "a hash needed for the tree hash is missing"}
	}
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: tree hash of stored hashes: %w", err)
	}
	if storedHead != head {
		return Report{}, &Problem{Seq: 0, Last: n - 1, Kind: KindHashes, Detail: "tree hash of the stored hashes differs from the recomputed one"}
	}

	rep := Report{Entries: n, Checkpoints: len(cps), Head: head}
	for i, c := range cps {
		if c.Size > n {
			return Report{}, &Problem{Seq: n, Last: c.Size - 1, Kind: KindTruncated,
				Detail: fmt.Sprintf("the log has %d entries, the signed checkpoint of %s covers %d",
					n, c.Time.Format(time.RFC3339), c.Size)}
		}
		root, err := tlog.TreeHash(c.Size, mem)
		if err != nil {
			return Report{}, fmt.Errorf("audit: verify: %w", err)
		}
		if root != c.Root {
			// Every earlier checkpoint matched; the edit lies above the
			// largest of them that is smaller than this one.
			var lastGood int64
			for _, prev := range cps[:i] {
				if prev.Size < c.Size {
					lastGood = prev.Size
				}
			}
			good := "no smaller checkpoint"
			if lastGood > 0 {
				good = fmt.Sprintf("the checkpoint of size %d matches", lastGood)
			}
			return Report{}, &Problem{Seq: lastGood, Last: c.Size - 1, Kind: KindCheckpoint,
				Detail: fmt.Sprintf("entries %d..%d do not match signed checkpoint of size %d signed %s; %s; every hash was recomputed",
					lastGood, c.Size-1, c.Size, c.Time.Format(time.RFC3339), good)}
		}
		rep.Origin, rep.CheckpointSize, rep.CheckpointTime, rep.Root = c.Origin, c.Size, c.Time, c.Root
	}
	return rep, nil
}

// openAll verifies and parses every note, sorts them by size and drops exact
// duplicates (the same checkpoint stored and kept off-box).
func openAll(stored, extra [][]byte, v note.Verifier) ([]Checkpoint, error) {
	var cps []Checkpoint
	for i, msg := range stored {
		c, err := OpenCheckpoint(msg, v)
		if err != nil {
			return nil, &Problem{Seq: -1, Last: -1, Kind: KindSignature, Detail: fmt.Sprintf("stored checkpoint #%d: %v", i, err)}
		}
		cps = append(cps, c)
	}
	for i, msg := range extra {
		c, err := OpenCheckpoint(msg, v)
		if err != nil {
			return nil, &Problem{Seq: -1, Last: -1, Kind: KindSignature, Detail: fmt.Sprintf("extra checkpoint #%d: %v", i, err)}
		}
		cps = append(cps, c)
	}
	slices.SortStableFunc(cps, func(a, b Checkpoint) int {
		switch {
		case a.Size < b.Size:
			return -1
		case a.Size > b.Size:
			return 1
		}
		return a.Time.Compare(b.Time)
	})
	cps = slices.CompactFunc(cps, func(a, b Checkpoint) bool {
		return a.Origin == b.Origin && a.Size == b.Size && a.Root == b.Root && a.Time.Equal(b.Time)
	})
	for _, c := range cps {
		if c.Origin != cps[0].Origin {
			return nil, &Problem{Seq: -1, Last: -1, Kind: KindSignature,
				Detail: fmt.Sprintf("checkpoints name two logs, %q and %q", cps[0].Origin, c.Origin)}
		}
	}
	return cps, nil
}

// seqProblem finds the first position whose seq is not its position.
func seqProblem(seqs []int64) *Problem {
	i := int64(-1)
	for pos, s := range seqs {
		if s != int64(pos) {
			i = int64(pos)
			break
		}
	}
	if i < 0 {
		return nil
	}
	later := make(map[int64]bool, len(seqs)-int(i))
	for _, s := range seqs[i:] {
		later[s] = true
	}
	got := seqs[i]
	if got > i && !later[i] {
		last := i
		for last+1 < got && !later[last+1] {
			last++
		}
		prev := "the start of the log"
		if i > 0 {
			prev = fmt.Sprintf("entry %d", seqs[i-1])
		}
		return &Problem{Seq: i, Last: last, Kind: KindMissing,
			Detail: fmt.Sprintf("entry %d follows %s", got, prev)}
	}
	return &Problem{Seq: i, Last: i, Kind: KindReordered,
		Detail: fmt.Sprintf("position %d holds entry %d", i, got)}
}

// memHashes is an in-memory tlog.HashReader over a slice of stored hashes.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d of %d: %w", x, len(m), ErrMissingHash)
		}
		out[i] = m[x]
	}
	return out, nil
}

// treeOf returns every stored hash of the tree over leaves, in storage order.
func treeOf(leaves []tlog.Hash) (memHashes, error) {
	mem := make(memHashes, 0, tlog.StoredHashCount(int64(len(leaves))))
	for i, leaf := range leaves {
		hs, err := tlog.StoredHashesForRecordHash(int64(i), leaf, mem)
		if err != nil {
			return nil, err
		}
		mem = append(mem, hs...)
	}
	return mem, nil
}

// compareHashes reads the whole stored hash table in batches and returns the
// problem with the lowest entry, or nil. A changed hash also changes every
// hash above it, so a mismatch counts only where it starts: at level 0, or
// at a node whose two children match.
func compareHashes(ctx context.Context, log Log, mem memHashes, n int64) (*Problem, error) {
	total := int64(len(mem))
	bad := make(map[int64]string) // stored index → " (missing)" or ""
	indexes := make([]int64, 0, HashBatchSize)
	for start := int64(0); start < total; start += HashBatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(start+HashBatchSize, total)
		indexes = indexes[:0]
		for i := start; i < end; i++ {
			indexes = append(indexes, i)
		}
		got, err := log.ReadHashes(indexes)
		if errors.Is(err, ErrMissingHash) {
			// Find which ones, one at a time.
			for _, i := range indexes {
				h, err := log.ReadHashes([]int64{i})
				switch {
				case errors.Is(err, ErrMissingHash):
					bad[i] = " (missing)"
				case err != nil:
					return nil, fmt.Errorf("audit: verify: read stored hash %d: %w", i, err)
				case len(h) != 1:
					return nil, fmt.Errorf("audit: verify: read 1 stored hash, got %d", len(h))
				case h[0] != mem[i]:
					bad[i] = ""
				}
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("audit: verify: read stored hashes %d..%d: %w", start, end-1, err)
		}
		if len(got) != len(indexes) {
			return nil, fmt.Errorf("audit: verify: read %d stored hashes, got %d", len(indexes), len(got))
		}
		for j, h := range got {
			if h != mem[start+int64(j)] {
				bad[start+int64(j)] = ""
			}
		}
	}

	var p *Problem
	// In index order, a node comes after the lower nodes that start at the
	// same entry, so on ties the narrowest problem is kept.
	for _, idx := range slices.Sorted(maps.Keys(bad)) {
		what := bad[idx]
		level, k := tlog.SplitStoredHashIndex(idx)
		first := k << level
		if p != nil && first >= p.Seq {
			continue
		}
		if level == 0 {
			p = &Problem{Seq: first, Last: first, Kind: KindAltered,
				Detail: "content does not match its stored leaf hash in the hash table" + what}
			continue
		}
		_, left := bad[tlog.StoredHashIndex(level-1, 2*k)]
		_, right := bad[tlog.StoredHashIndex(level-1, 2*k+1)]
		if left || right {
			continue // caused below
		}
		last := min((k+1)<<level, n) - 1
		p = &Problem{Seq: first, Last: last, Kind: KindHashes,
			Detail: fmt.Sprintf("stored hash %d (level %d over entries %d..%d) was changed%s", idx, level, first, last, what)}
	}
	return p, nil
}
