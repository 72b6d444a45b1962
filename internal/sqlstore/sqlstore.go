// SPDX-License-Identifier: AGPL-3.0-or-later

// Package sqlstore keeps lifeline's durable state in SQL: SQLite by default
// (embedded, one file, WAL), PostgreSQL later through the same code.
//
// Every write goes through [DB.Write], which group-commits: concurrent writes
// share one transaction and one fsync, and each Write returns only after the
// transaction holding it is durable. Reads use a separate pool of read-only
// connections and never wait for the writer (WAL).
//
// Columns that hold personal data are opaque byte fields; they are sealed and
// opened by the caller through the keyring package before they reach this
// package, so nothing here ever sees them in the clear.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/lifeline-hotline/lifeline"
)

// FileName is the name of the SQLite database inside a data directory.
const FileName = "lifeline.db"

// ErrClosed is returned by Write and Read after Close.
var ErrClosed = errors.New("store is closed")

// Options tune a DB. The zero value is right for production.
type Options struct {
	// Now is the clock; nil means time.Now. Tests pin it.
	Now func() time.Time
	// MaxBatch caps how many writes share one transaction (default 256).
	MaxBatch int
	// ReadConns is the size of the read-only pool (default 4).
	ReadConns int
	// Sealer makes and opens the data keys of sealed fields. Without it the
	// store serves only what holds no personal data (staff, tokens, audit).
	Sealer Sealer
	// MediaPace is the gap between fetches of one sender's deferred media
	// (over his daily media budget, or released from quarantine); default
	// DefaultMediaPace.
	MediaPace time.Duration
}

// DB is a handle on the store. It is safe for concurrent use.
type DB struct {
	dialect dialect
	write   *sql.DB // exactly one connection: the writer's
	read    *sql.DB // read-only pool
	writer  *writer
	now     func() time.Time
	path    string

	auditPoke chan struct{} // see AuditAppended
	sealer    Sealer        // nil: no personal data through this handle

	ckpt *checkpointer // SQLite files: checkpoints beside the writer

	readMu    sync.Mutex
	readStmts map[string]*sql.Stmt // see readStmt

	inbound inboundCache // see PrepareInbound
	tags    tagState     // see handle.go

	timesMu sync.Mutex
	times   map[lifeline.MessageID]time.Time // opened message times; see openTime

	instance atomic.Pointer[string] // this process's instance, once started; see StartInstance

	mediaPace time.Duration // see Options.MediaPace
}

// OpenSQLite opens (creating if needed) the SQLite database at path with the
// pragmas lifeline depends on: WAL, synchronous=FULL (NORMAL can lose the last
// commits on power loss, and a provider has already been told 200 for them),
// foreign keys, a busy timeout, secure_delete and incremental auto-vacuum.
// It does not migrate; see Migrate and CheckSchema.
func OpenSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("open store: empty path")
	}
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath()
	common := url.Values{}
	common.Set("_busy_timeout", "10000")
	common.Set("_foreign_keys", "1")
	common.Add("_pragma", "secure_delete(1)")
	common.Add("_pragma", "temp_store(MEMORY)") // temp tables never touch the disk
	common.Set("_time_format", "sqlite")

	wq := cloneValues(common)
	wq.Set("_auto_vacuum", "INCREMENTAL") // only takes effect on a new database
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", "FULL")
	wq.Set("_txlock", "immediate")
	// Checkpoints run beside the writer, not inside its commits (see
	// checkpointer): copying the WAL back into the database, with its
	// fsyncs, would otherwise stall every write of the batch that crossed
	// the threshold.
	wq.Add("_pragma", "wal_autocheckpoint(0)")
	write, err := sql.Open("sqlite", base+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// The first connection creates the file and switches it to WAL, so that the
	// read pool below finds a WAL database.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open store %s: %w", filepath.Base(path), err)
	}
	var mode string
	if err := write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		write.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if path != ":memory:" && !strings.EqualFold(mode, "wal") {
		write.Close()
		return nil, fmt.Errorf("open store: journal mode is %q, want wal", mode)
	}

	rq := cloneValues(common)
	rq.Set("_query_only", "1")
	read, err := sql.Open("sqlite", base+"?"+rq.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	n := opts.ReadConns
	if n <= 0 {
		n = 4
	}
	var ckpt *sql.DB
	if path == ":memory:" {
		// An in-memory database exists only on the one writer connection.
		read.Close()
		read = write
	} else {
		read.SetMaxOpenConns(n)
		read.SetMaxIdleConns(n)
		if ckpt, err = sql.Open("sqlite", base+"?"+cloneValues(common).Encode()); err != nil {
			write.Close()
			read.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
		ckpt.SetMaxOpenConns(1)
	}
	db := newDB(sqliteDialect{}, write, read, path, opts)
	if ckpt != nil {
		db.ckpt = newCheckpointer(ckpt)
	}
	return db, nil
}

// checkpointer copies the WAL back into the database on a connection of
// its own, beside the writer (a PASSIVE checkpoint takes no lock that
// writes or reads wait for), after commits: at most one at a time, and at
// most every checkpointEvery, so that one checkpoint covers many commits.
// The WAL is restarted from its beginning by the first write after a
// checkpoint has copied all of it.
type checkpointer struct {
	mu     sync.Mutex // held by each checkpoint, and by hold
	db     *sql.DB
	poke   chan struct{}
	done   chan struct{}
	closer sync.Once
}

const checkpointEvery = 100 * time.Millisecond

func newCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, poke: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c
}

// committed tells the checkpointer that the WAL has grown.
func (c *checkpointer) committed() {
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for range c.poke {
		// An error (a busy database) is left for the next commit's try;
		// the WAL only grows until then.
		c.mu.Lock()
		c.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		c.mu.Unlock()
		time.Sleep(checkpointEvery)
	}
}

// hold keeps the checkpointer from starting a checkpoint until release is
// called, for one that must run alone (CheckpointWAL); nil-safe.
func (c *checkpointer) hold() (release func()) {
	if c == nil {
		return func() {}
	}
	c.mu.Lock()
	return c.mu.Unlock
}

// close stops the checkpointer, once the writer has stopped, and closes
// its connection (SQLite checkpoints as the last connection closes).
func (c *checkpointer) close() error {
	var err error
	c.closer.Do(func() {
		close(c.poke)
		<-c.done
		err = c.db.Close()
	})
	return err
}

func newDB(d dialect, write, read *sql.DB, path string, opts Options) *DB {
	db := &DB{dialect: d, write: write, read: read, now: opts.Now, path: path, auditPoke: make(chan struct{}, 1), sealer: opts.Sealer, mediaPace: opts.MediaPace}
	if db.mediaPace <= 0 {
		db.mediaPace = DefaultMediaPace
	}
	if db.now == nil {
		db.now = time.Now
	}
	max := opts.MaxBatch
	if max <= 0 {
		max = 256
	}
	db.writer = newWriter(db, max)
	return db
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// Path is the database file (":memory:" for an in-memory store).
func (db *DB) Path() string { return db.path }

// Now returns the store's clock reading in UTC.
func (db *DB) Now() time.Time { return db.now().UTC() }

// readStmt returns query prepared on the read pool, kept for the life of
// the handle: for the reads on the hot path of intake, which would
// otherwise be parsed again each time.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	db.readMu.Lock()
	defer db.readMu.Unlock()
	if st, ok := db.readStmts[query]; ok {
		return st, nil
	}
	st, err := db.read.PrepareContext(ctx, db.dialect.rebind(query))
	if err != nil {
		return nil, err
	}
	if db.readStmts == nil {
		db.readStmts = map[string]*sql.Stmt{}
	}
	db.readStmts[query] = st
	return st, nil
}

// Close finishes the writes already queued, then closes every connection.
func (db *DB) Close() error {
	db.writer.close()
	db.tags.bg.Wait() // a re-index ends at its next write, refused now
	db.readMu.Lock()
	for _, st := range db.readStmts {
		st.Close()
	}
	db.readStmts = nil
	db.readMu.Unlock()
	var errs []error
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.close())
	}
	if db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	return errors.Join(errs...)
}

// Write runs fn inside a write transaction and returns after that
// transaction is durable (or failed). fn may share its transaction with other
// concurrent writes; it runs inside its own savepoint, so an error from fn
// undoes fn's changes only, and Write returns that error. fn must not retain
// tx, and must be quick: every write in the batch waits for it.
//
// Once queued, a write is carried out even if ctx is cancelled: a caller that
// has gone away must not leave half of what it asked for. ctx only bounds the
// wait for a place in the queue.
func (db *DB) Write(ctx context.Context, fn func(tx *Tx) error) error {
	return db.writer.do(ctx, fn)
}

// Read runs fn inside a read-only transaction on a consistent snapshot.
func (db *DB) Read(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer sqlTx.Rollback()
	return fn(&Tx{ctx: ctx, tx: sqlTx, d: db.dialect, now: db.Now()})
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.Read(ctx, func(tx *Tx) error {
		var one int
		return tx.QueryRow("SELECT 1").Scan(&one)
	})
}

// WriterStats counts the writer's work since Open.
type WriterStats struct {
	Writes  int64 // calls of fn that were carried out (committed or failed)
	Commits int64 // transactions committed
}

// Stats reports the writer's counters.
func (db *DB) Stats() WriterStats {
	return WriterStats{Writes: db.writer.writes.Load(), Commits: db.writer.commits.Load()}
}

// Tx is one transaction. Queries use '?' placeholders; the dialect rewrites
// them for the database underneath.
type Tx struct {
	ctx context.Context
	tx  *sql.Tx
	d   dialect
	now time.Time

	audited *bool // set by AppendAudit; nil on read transactions
	db      *DB   // the store of a write transaction (its keys); nil on reads

	// stmts holds the statements of this write batch: the writes run the
	// same few statements, and SQLite would otherwise parse each of them
	// again for every write. Bound to the transaction (the writer's only
	// connection) from statements the writer keeps prepared across
	// batches, or prepared on it, they close with it. nil on reads.
	stmts *batchStmts

	// premade are data keys made and wrapped before the write (see
	// Ingest.Use), by owner and compartment: dataKey stores one of them
	// rather than make and wrap a key inside the writer.
	premade map[premadeName]premadeKey
}

// prepared returns query prepared within the batch, or nil to run it as is.
func (tx *Tx) prepared(query string) *sql.Stmt {
	b := tx.stmts
	if b == nil {
		return nil
	}
	if st, ok := b.local[query]; ok {
		return st
	}
	var st *sql.Stmt
	if shared, ok := b.shared[query]; ok {
		st = tx.tx.StmtContext(tx.ctx, shared)
	} else {
		var err error
		if st, err = tx.tx.PrepareContext(tx.ctx, query); err != nil {
			return nil // run unprepared: the error, if real, comes back from there
		}
		b.missed = append(b.missed, query)
	}
	b.local[query] = st
	return st
}

// Now is the time the transaction (or this write within it) began, in UTC.
func (tx *Tx) Now() time.Time { return tx.now }

// Exec runs a statement.
func (tx *Tx) Exec(query string, args ...any) (sql.Result, error) {
	query = tx.d.rebind(query)
	if st := tx.prepared(query); st != nil {
		return st.ExecContext(tx.ctx, args...)
	}
	return tx.tx.ExecContext(tx.ctx, query, args...)
}

// Query runs a query that returns rows.
func (tx *Tx) Query(query string, args ...any) (*sql.Rows, error) {
	query = tx.d.rebind(query)
	if st := tx.prepared(query); st != nil {
		return st.QueryContext(tx.ctx, args...)
	}
	return tx.tx.QueryContext(tx.ctx, query, args...)
}

// QueryRow runs a query that returns at most one row.
func (tx *Tx) QueryRow(query string, args ...any) *sql.Row {
	query = tx.d.rebind(query)
	if st := tx.prepared(query); st != nil {
		return st.QueryRowContext(tx.ctx, args...)
	}
	return tx.tx.QueryRowContext(tx.ctx, query, args...)
}

// Context is the context the transaction runs under.
func (tx *Tx) Context() context.Context { return tx.ctx }

// timeFormat stores instants as fixed-width UTC text, so that they sort as
// strings and read the same in every dialect.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

// queryAll runs a query and scans every row with scan, closing the rows
// before it returns, so that the caller may run further statements on the
// transaction (SQLite's writer has one connection) while it uses the rows.
func queryAll[T any](tx *Tx, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := tx.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
