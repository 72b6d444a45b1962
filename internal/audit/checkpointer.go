// SPDX-License-Identifier: AGPL-3.0-or-later

package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A Store is the side of the audit store the Checkpointer needs.
type Store interface {
	// Size returns the number of committed entries.
	Size(ctx context.Context) (int64, error)
	// ReadHashes reads stored hashes by tlog.StoredHashIndex (see Log).
	ReadHashes(indexes []int64) ([]tlog.Hash, error)
	// LatestCheckpointSize returns the size of the latest stored
	// checkpoint, 0 if there is none.
	LatestCheckpointSize(ctx context.Context) (int64, error)
	// SaveCheckpoint durably stores the signed note of a checkpoint of size.
	SaveCheckpoint(ctx context.Context, size int64, note []byte) error
}

// ErrNoSigner is wrapped by a Checkpointer's Signers while the signing key
// is out of reach (the server sealed).
var ErrNoSigner = errors.New("no signing key while sealed")

// Checkpointer defaults.
const (
	DefaultInterval   = 60 * time.Second
	DefaultMaxEntries = 1000
	// CheckpointFile is the name of the file in Checkpointer.Dir that holds
	// the latest signed checkpoint.
	CheckpointFile = "checkpoint"
	// shutdownBudget bounds the final checkpoint written when Run stops.
	shutdownBudget = 10 * time.Second
)

// A Checkpointer signs a checkpoint of the audit log every Interval and
// whenever MaxEntries entries were appended since the last one, and once more
// when it stops (SECURITY.md §2.7: every 60 s or 1,000 entries). Set the
// fields before the first call; a Checkpointer must not be copied after use.
// Checkpoint is safe for concurrent use.
type Checkpointer struct {
	Store  Store       // required
	Signer note.Signer // the key never lives in the database; or Signers
	// Signers, if Signer is nil, gives the signer for each checkpoint, or
	// an error wrapping ErrNoSigner while it has none (the server sealed,
	// its key locked in the keyring): no checkpoint is written then, and
	// the next one covers the entries made meanwhile.
	Signers func() (note.Signer, error)
	Origin  string // names the log in its checkpoints; required with Signers, default Signer.Name()

	Interval   time.Duration // default DefaultInterval
	MaxEntries int64         // default DefaultMaxEntries

	// Dir, if not empty, receives every new checkpoint as the file
	// CheckpointFile (mode 0644), replaced atomically, for shipping to
	// witnesses off-box.
	Dir string
	// Witnesses are directories outside the data directory (another disk,
	// a mount of the monitor box) that receive every new checkpoint as
	// CheckpointFile too: `lifeline audit verify --checkpoint` checks the
	// log against them, so cutting the newest entries and the newest
	// checkpoint on the box is caught.
	Witnesses []string

	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default time.Now

	mu       sync.Mutex
	known    bool       // lastSize holds the size of the latest checkpoint
	lastSize int64      // size of the latest checkpoint
	signed   Checkpoint // latest checkpoint this Checkpointer signed; Size 0 until then
}

// Checkpoint signs and stores a checkpoint if the log grew since the latest
// one, and reports whether it wrote one. Before signing it checks that the
// stored hashes still produce the root it signed last time, and it refuses to
// sign a log smaller than its latest checkpoint: signing over tampering would
// bless it.
//
// If the checkpoint was stored but writing the file in Dir failed, Checkpoint
// returns the checkpoint, true and the error.
func (c *Checkpointer) Checkpoint(ctx context.Context) (Checkpoint, bool, error) {
	if c.Store == nil || (c.Signer == nil && (c.Signers == nil || c.Origin == "")) {
		return Checkpoint{}, false, errors.New("audit: checkpoint: Checkpointer needs a Store and a Signer (or Signers and an Origin)")
	}
	c.mu.Lock()
	defer c.mu.Unlock()

	size, err := c.Store.Size(ctx)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit: checkpoint: read size: %w", err)
	}
	latest, err := c.Store.LatestCheckpointSize(ctx)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit: checkpoint: read latest checkpoint: %w", err)
	}
	c.known, c.lastSize = true, latest
	if size < latest || size < c.signed.Size {
		return Checkpoint{}, false, fmt.Errorf("audit: checkpoint: log has %d entries but a checkpoint covers %d: truncated",
			size, max(latest, c.signed.Size))
	}
	if size == latest {
		return Checkpoint{}, false, nil
	}
	if c.signed.Size > 0 {
		old, err := tlog.TreeHash(c.signed.Size, c.Store)
		if err != nil {
			return Checkpoint{}, false, fmt.Errorf("audit: checkpoint: tree hash at %d: %w", c.signed.Size, err)
		}
		if old != c.signed.Root {
			return Checkpoint{}, false, fmt.Errorf("audit: checkpoint: stored hashes no longer match the checkpoint of size %d signed at %s: tampered; refusing to sign",
				c.signed.Size, c.signed.Time.Format(time.RFC3339))
		}
	}
	root, err := tlog.TreeHash(size, c.Store)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit: checkpoint: tree hash at %d: %w", size, err)
	}
	signer := c.Signer
	if signer == nil {
		if signer, err = c.Signers(); err != nil {
			return Checkpoint{}, false, fmt.Errorf("audit: checkpoint: %w", err)
		}
	}
	cp := Checkpoint{Origin: c.origin(), Size: size, Root: root, Time: c.now().UTC().Truncate(time.Second)}
	msg, err := SignCheckpoint(signer, cp)
	if err != nil {
		return Checkpoint{}, false, err
	}
	if err := c.Store.SaveCheckpoint(ctx, size, msg); err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit: checkpoint: save size %d: %w", size, err)
	}
	c.lastSize, c.signed = size, cp
	if c.Dir != "" {
		if err := writeFileAtomic(c.Dir, CheckpointFile, msg); err != nil {
			return cp, true, fmt.Errorf("audit: checkpoint: size %d stored, but writing the file: %w", size, err)
		}
	}
	for _, w := range c.Witnesses {
		if err := writeFileAtomic(w, CheckpointFile, msg); err != nil {
			return cp, true, fmt.Errorf("audit: checkpoint: size %d stored, but writing it to the witness %s: %w", size, w, err)
		}
	}
	return cp, true, nil
}

// Run checkpoints every Interval, and when poked (the store pokes after
// appends; pokes may be dropped, a buffer of 1 is enough) if MaxEntries
// entries were appended since the latest checkpoint. When ctx is done it
// writes a final checkpoint, within a fresh 10 s budget, and returns. Errors
// are logged, not returned: the log keeps working between checkpoints, and
// the witnesses alarm when checkpoints stop arriving. poke may be nil.
func (c *Checkpointer) Run(ctx context.Context, poke <-chan struct{}) {
	interval := c.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownBudget)
			c.runOnce(fctx, "shutdown")
			cancel()
			return
		case <-ticker.C:
			c.runOnce(ctx, "interval")
		case _, ok := <-poke:
			if !ok {
				poke = nil // closed: rely on the ticker
				continue
			}
			if c.due(ctx) {
				c.runOnce(ctx, "entries")
			}
		}
	}
}

// due reports whether MaxEntries entries were appended since the latest checkpoint.
func (c *Checkpointer) due(ctx context.Context) bool {
	size, err := c.Store.Size(ctx)
	if err != nil {
		c.logger().Error("audit checkpoint: read size", "error", err.Error())
		return false
	}
	c.mu.Lock()
	known, last := c.known, c.lastSize
	c.mu.Unlock()
	if !known {
		last, err = c.Store.LatestCheckpointSize(ctx)
		if err != nil {
			c.logger().Error("audit checkpoint: read latest checkpoint", "error", err.Error())
			return false
		}
		c.mu.Lock()
		c.known, c.lastSize = true, last
		c.mu.Unlock()
	}
	maxEntries := c.MaxEntries
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return size-last >= maxEntries
}

func (c *Checkpointer) runOnce(ctx context.Context, why string) {
	cp, wrote, err := c.Checkpoint(ctx)
	if errors.Is(err, ErrNoSigner) {
		c.logger().Debug("audit checkpoint deferred: no signing key (sealed)", "reason", why)
		return
	}
	if err != nil {
		c.logger().Error("audit checkpoint failed", "reason", why, "error", err.Error())
	}
	if wrote {
		c.logger().Info("audit checkpoint", "reason", why, "size", cp.Size, "root", cp.Root.String())
	}
}

func (c *Checkpointer) origin() string {
	if c.Origin != "" {
		return c.Origin
	}
	return c.Signer.Name()
}

func (c *Checkpointer) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Checkpointer) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// writeFileAtomic replaces dir/name with data: temporary file, fsync, rename,
// fsync of the directory, so that a crash leaves the old or the new file.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
