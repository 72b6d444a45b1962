// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// writer owns the single write connection and group-commits: while one
// transaction is being made durable, the writes that arrive queue up, and the
// next transaction takes all of them at once. There is no timer: under light
// load a write commits alone and at once; under heavy load many writes share
// one fsync.
type writer struct {
	db       *DB
	maxBatch int
	reqs     chan *writeReq

	mu     sync.RWMutex // guards closed against the send in do
	closed bool
	done   chan struct{}

	writes  atomic.Int64
	commits atomic.Int64

	// shared holds the statements the writes have run, prepared on the
	// write connection itself and kept from batch to batch: a batch binds
	// them to its transaction instead of parsing them again. Only the
	// writer's goroutine touches it.
	shared map[string]*sql.Stmt
}

// maxShared bounds the statements kept prepared across batches; the
// queries are constants of the code, far fewer than this.
const maxShared = 256

type writeReq struct {
	fn  func(*Tx) error
	ctx context.Context
	res chan error // buffered, capacity 1
}

func newWriter(db *DB, maxBatch int) *writer {
	w := &writer{
		db:       db,
		maxBatch: maxBatch,
		reqs:     make(chan *writeReq, maxBatch),
		done:     make(chan struct{}),
	}
	go w.run()
	return w
}

func (w *writer) do(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeReq{fn: fn, ctx: context.WithoutCancel(ctx), res: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case w.reqs <- req:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	// Queued: the write will be carried out whatever ctx does now, so wait for
	// its outcome rather than leave the caller guessing.
	return <-req.res
}

func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.reqs)
	}
	w.mu.Unlock()
	<-w.done
}

func (w *writer) run() {
	defer close(w.done)
	defer func() {
		for _, st := range w.shared {
			st.Close()
		}
	}()
	batch := make([]*writeReq, 0, w.maxBatch)
	for req := range w.reqs {
		batch = append(batch[:0], req)
	fill:
		for len(batch) < w.maxBatch {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		w.commit(batch)
	}
}

// commit runs one batch in one transaction. Each write runs inside its own
// savepoint so that a failing write is undone alone. If the transaction
// itself fails (BEGIN, a broken savepoint, COMMIT), every write in the batch
// that had not failed on its own gets that error: none of it is durable.
func (w *writer) commit(batch []*writeReq) {
	results := make([]error, len(batch))
	fail := func(err error) {
		for i, r := range batch {
			if results[i] == nil {
				results[i] = err
			}
			r.res <- results[i]
		}
	}
	ctx := context.Background()
	sqlTx, err := w.db.write.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("begin write: %w", err))
		return
	}
	audited := false
	stmts := &batchStmts{shared: w.shared, local: map[string]*sql.Stmt{}}
	defer w.share(stmts)
	for i, r := range batch {
		tx := &Tx{ctx: r.ctx, tx: sqlTx, d: w.db.dialect, now: w.db.Now(), audited: &audited, stmts: stmts, db: w.db}
		if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			sqlTx.Rollback()
			fail(fmt.Errorf("savepoint: %w", err))
			return
		}
		results[i] = call(r.fn, tx)
		if results[i] != nil {
			if _, err := sqlTx.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
				sqlTx.Rollback()
				fail(fmt.Errorf("rollback to savepoint: %w", err))
				return
			}
		}
		if _, err := sqlTx.ExecContext(ctx, "RELEASE w"); err != nil {
			sqlTx.Rollback()
			fail(fmt.Errorf("release savepoint: %w", err))
			return
		}
	}
	if err := sqlTx.Commit(); err != nil {
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	w.commits.Add(1)
	w.writes.Add(int64(len(batch)))
	if w.db.ckpt != nil {
		w.db.ckpt.committed()
	}
	if audited {
		select {
		case w.db.auditPoke <- struct{}{}:
		default:
		}
	}
	for i, r := range batch {
		r.res <- results[i]
	}
}

// batchStmts are the statements of one batch: bound from the writer's
// shared ones, or prepared on the transaction for want of one (missed),
// to be shared once the batch is over.
type batchStmts struct {
	shared map[string]*sql.Stmt // the writer's; read only here
	local  map[string]*sql.Stmt // bound to this batch's transaction
	missed []string
}

// share prepares, on the write connection (free again once the batch has
// committed or rolled back), the statements the batch missed, for the
// batches after it. A statement that does not prepare is left unshared:
// it runs unprepared or prepared per batch, as before.
func (w *writer) share(b *batchStmts) {
	for _, q := range b.missed {
		if len(w.shared) >= maxShared {
			return
		}
		if _, ok := w.shared[q]; ok {
			continue
		}
		st, err := w.db.write.PrepareContext(context.Background(), q)
		if err != nil {
			continue
		}
		if w.shared == nil {
			w.shared = map[string]*sql.Stmt{}
		}
		w.shared[q] = st
	}
}

// errPanic marks a write whose function panicked; the panic is turned into an
// error so that one bad write cannot take down the writer and every caller
// waiting on it.
var errPanic = errors.New("write panicked")

func call(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v\n%s", errPanic, p, debug.Stack())
		}
	}()
	return fn(tx)
}
