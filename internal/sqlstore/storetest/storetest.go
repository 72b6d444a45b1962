// SPDX-License-Identifier: AGPL-3.0-or-later

// Package storetest is the store test suite. Every backend of sqlstore runs
// the same suite, so that SQLite and PostgreSQL keep one behaviour:
//
//	func TestSQLite(t *testing.T) { storetest.Run(t, openSQLite) }
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// Opener returns a new, empty, unmigrated store that the test owns. It
// registers its own cleanup (closing the store) with t.Cleanup.
type Opener func(t testing.TB) *sqlstore.DB

// Run runs the whole suite against the backend that open makes.
func Run(t *testing.T, open Opener) {
	t.Run("Migrations", func(t *testing.T) { testMigrations(t, open) })
	t.Run("GroupCommit", func(t *testing.T) { testGroupCommit(t, open) })
	t.Run("WriteIsolation", func(t *testing.T) { testWriteIsolation(t, open) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, open) })
	t.Run("AuditAppendOnly", func(t *testing.T) { testAuditAppendOnly(t, open) })
	t.Run("AuditLog", func(t *testing.T) { testAuditLog(t, open) })
	t.Run("Operators", func(t *testing.T) { testOperators(t, open) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open) })
}

// MustMigrate opens a store through open and migrates it to the latest
// version.
func MustMigrate(t testing.TB, open Opener) *sqlstore.DB {
	t.Helper()
	db := open(t)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

func testMigrations(t *testing.T, open Opener) {
	ctx := context.Background()
	t.Run("Fresh", func(t *testing.T) {
		db := open(t)
		if v, err := db.SchemaVersion(ctx); err != nil || v != 0 {
			t.Fatalf("new database: version %d, %v; want 0, nil", v, err)
		}
		if err := db.CheckSchema(ctx); !errors.Is(err, sqlstore.ErrSchemaStale) {
			t.Fatalf("CheckSchema on a new database = %v, want ErrSchemaStale", err)
		}
		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != db.LatestVersion() || db.LatestVersion() < 2 {
			t.Fatalf("applied %v, latest %d", applied, db.LatestVersion())
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatalf("CheckSchema after migrate: %v", err)
		}
		again, err := db.Migrate(ctx)
		if err != nil || len(again) != 0 {
			t.Fatalf("second Migrate applied %v, %v; want nothing", again, err)
		}
	})
	t.Run("Upgrade", func(t *testing.T) {
		db := open(t)
		if _, err := db.MigrateTo(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if v, _ := db.SchemaVersion(ctx); v != 1 {
			t.Fatalf("version %d, want 1", v)
		}
		// Data written at version 1 survives the upgrade.
		err := db.Write(ctx, func(tx *sqlstore.Tx) error {
			_, err := tx.Exec(`INSERT INTO meta (key, value) VALUES ('marker', 'v1')`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CheckSchema(ctx); !errors.Is(err, sqlstore.ErrSchemaStale) {
			t.Fatalf("CheckSchema at version 1 = %v, want ErrSchemaStale", err)
		}
		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != db.LatestVersion()-1 || applied[0] != 2 {
			t.Fatalf("applied %v", applied)
		}
		var got string
		err = db.Read(ctx, func(tx *sqlstore.Tx) error {
			return tx.QueryRow(`SELECT value FROM meta WHERE key = 'marker'`).Scan(&got)
		})
		if err != nil || got != "v1" {
			t.Fatalf("marker after upgrade = %q, %v; want v1", got, err)
		}
	})
	t.Run("RefuseNewer", func(t *testing.T) {
		db := MustMigrate(t, open)
		future := db.LatestVersion() + 1
		err := db.Write(ctx, func(tx *sqlstore.Tx) error {
			_, err := tx.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, '2099-01-01T00:00:00.000000Z')`, future)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CheckSchema(ctx); !errors.Is(err, sqlstore.ErrSchemaTooNew) {
			t.Fatalf("CheckSchema = %v, want ErrSchemaTooNew", err)
		}
		if _, err := db.Migrate(ctx); !errors.Is(err, sqlstore.ErrSchemaTooNew) {
			t.Fatalf("Migrate = %v, want ErrSchemaTooNew", err)
		}
	})
}

// testGroupCommit proves both halves of the writer's contract: every write is
// committed and visible when Write returns, and concurrent writes share
// commits.
func testGroupCommit(t *testing.T, open Opener) {
	ctx := context.Background()
	db := MustMigrate(t, open)
	const writers, each = 64, 25
	before := db.Stats()
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key := fmt.Sprintf("gc-%d-%d", w, i)
				err := db.Write(ctx, func(tx *sqlstore.Tx) error {
					_, err := tx.Exec(`INSERT INTO meta (key, value) VALUES (?, 'x')`, key)
					return err
				})
				if err != nil {
					errs <- fmt.Errorf("%s: %w", key, err)
					continue
				}
				// Committed means visible to a fresh reader at once.
				var n int
				err = db.Read(ctx, func(tx *sqlstore.Tx) error {
					return tx.QueryRow(`SELECT COUNT(*) FROM meta WHERE key = ?`, key).Scan(&n)
				})
				if err != nil || n != 1 {
					errs <- fmt.Errorf("%s not visible after Write returned: n=%d err=%v", key, n, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	after := db.Stats()
	writes, commits := after.Writes-before.Writes, after.Commits-before.Commits
	if writes != writers*each {
		t.Fatalf("writer counted %d writes, want %d", writes, writers*each)
	}
	t.Logf("%d writes in %d commits (%.1f writes per commit)", writes, commits, float64(writes)/float64(commits))
	if commits*4 > writes {
		t.Fatalf("%d commits for %d concurrent writes: group commit is not grouping", commits, writes)
	}
}

// testWriteIsolation: a write that fails or panics is undone alone; the
// writes batched with it commit.
func testWriteIsolation(t *testing.T, open Opener) {
	ctx := context.Background()
	db := MustMigrate(t, open)
	boom := errors.New("boom")
	var wg sync.WaitGroup
	results := make([]error, 90)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = db.Write(ctx, func(tx *sqlstore.Tx) error {
				if _, err := tx.Exec(`INSERT INTO meta (key, value) VALUES (?, 'x')`, fmt.Sprintf("iso-%d", i)); err != nil {
					return err
				}
				switch i % 3 {
				case 1:
					return boom
				case 2:
					panic("write function panicked")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range results {
		var n int
		if rerr := db.Read(ctx, func(tx *sqlstore.Tx) error {
			return tx.QueryRow(`SELECT COUNT(*) FROM meta WHERE key = ?`, fmt.Sprintf("iso-%d", i)).Scan(&n)
		}); rerr != nil {
			t.Fatal(rerr)
		}
		switch i % 3 {
		case 0:
			if err != nil || n != 1 {
				t.Errorf("write %d: err %v, rows %d; want nil, 1", i, err, n)
			}
		case 1:
			if !errors.Is(err, boom) || n != 0 {
				t.Errorf("failing write %d: err %v, rows %d; want boom, 0", i, err, n)
			}
		case 2:
			if err == nil || n != 0 {
				t.Errorf("panicking write %d: err %v, rows %d; want an error, 0", i, err, n)
			}
		}
	}
}

func testClosed(t *testing.T, open Opener) {
	db := MustMigrate(t, open)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	err := db.Write(context.Background(), func(*sqlstore.Tx) error { return nil })
	if !errors.Is(err, sqlstore.ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
}

// testAuditAppendOnly: the database itself refuses to change or remove audit
// history, whatever the application code does.
func testAuditAppendOnly(t *testing.T, open Opener) {
	ctx := context.Background()
	db := MustMigrate(t, open)
	err := db.Write(ctx, func(tx *sqlstore.Tx) error {
		for _, q := range []string{
			`INSERT INTO audit_checkpoints (size, at, note) VALUES (1, '2026-01-01T00:00:00.000000Z', X'00')`,
			`INSERT INTO audit_entries (seq, at, actor, role, action, object, decision, reason, request_id, leaf_hash)
			 VALUES (0, '2026-01-01T00:00:00.000000Z', 'cli', 'admin', 'test', '', 'allow', '', '', X'00')`,
			`INSERT INTO audit_hashes (idx, hash) VALUES (0, X'00')`,
		} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE audit_checkpoints SET size = 2`,
		`DELETE FROM audit_checkpoints`,
		`UPDATE audit_entries SET reason = 'x'`,
		`DELETE FROM audit_entries`,
		`UPDATE audit_hashes SET hash = X'00'`,
		`DELETE FROM audit_hashes`,
	} {
		err := db.Write(ctx, func(tx *sqlstore.Tx) error {
			_, err := tx.Exec(q)
			return err
		})
		if err == nil {
			t.Errorf("%s: allowed, want refused", q)
		}
	}
	var n int
	if err := db.Read(ctx, func(tx *sqlstore.Tx) error {
		return tx.QueryRow(`SELECT (SELECT COUNT(*) FROM audit_checkpoints WHERE size = 1)
			+ (SELECT COUNT(*) FROM audit_entries WHERE seq = 0 AND reason = '')
			+ (SELECT COUNT(*) FROM audit_hashes WHERE idx = 0 AND hash = X'00')`).Scan(&n)
	}); err != nil || n != 3 {
		t.Fatalf("audit rows intact after refused changes: %d of 3, %v", n, err)
	}
}
