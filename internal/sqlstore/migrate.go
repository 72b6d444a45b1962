// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFS embed.FS

// Errors of CheckSchema.
var (
	// ErrSchemaTooNew means the database was migrated by a newer lifeline;
	// this binary must not touch it.
	ErrSchemaTooNew = errors.New("database schema is newer than this lifeline")
	// ErrSchemaStale means migrations are pending; run `lifeline migrate`.
	ErrSchemaStale = errors.New("database schema is older than this lifeline: run lifeline migrate")
)

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the dialect's numbered migrations in order. They are
// history: never edited once released, only appended to.
func (db *DB) migrations() ([]migration, error) {
	dir := db.dialect.migrationsDir()
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_what.sql", name)
		}
		body, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// LatestVersion is the schema version this binary's migrations reach.
func (db *DB) LatestVersion() int {
	ms, err := db.migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// SchemaVersion reads the version the database is at: 0 for a new database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.Read(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow(db.dialect.hasTable(), "schema_migrations").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		return tx.QueryRow(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	})
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// CheckSchema returns ErrSchemaTooNew or ErrSchemaStale (wrapped with both
// versions) unless the database is exactly at LatestVersion.
func (db *DB) CheckSchema(ctx context.Context) error {
	cur, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	latest := db.LatestVersion()
	switch {
	case cur > latest:
		return fmt.Errorf("%w (database at version %d, this binary knows %d)", ErrSchemaTooNew, cur, latest)
	case cur < latest:
		return fmt.Errorf("%w (database at version %d, this binary at %d)", ErrSchemaStale, cur, latest)
	}
	return nil
}

// Migrate applies every pending migration and returns the versions applied.
// It refuses a database newer than the binary.
func (db *DB) Migrate(ctx context.Context) ([]int, error) {
	return db.MigrateTo(ctx, db.LatestVersion())
}

// MigrateTo applies pending migrations up to and including version target,
// each in its own transaction with its schema_migrations row, so that a
// failure leaves the database at the last migration that succeeded.
func (db *DB) MigrateTo(ctx context.Context, target int) ([]int, error) {
	ms, err := db.migrations()
	if err != nil {
		return nil, err
	}
	if target < 0 || target > len(ms) {
		return nil, fmt.Errorf("migrate: no version %d (latest is %d)", target, len(ms))
	}
	cur, err := db.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if cur > len(ms) {
		return nil, fmt.Errorf("%w (database at version %d, this binary knows %d)", ErrSchemaTooNew, cur, len(ms))
	}
	var applied []int
	for _, m := range ms[cur:target] {
		err := db.Write(ctx, func(tx *Tx) error {
			if _, err := tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
				return err
			}
			if _, err := tx.Exec(m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.version, formatTime(tx.Now()))
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.name, err)
		}
		applied = append(applied, m.version)
	}
	return applied, nil
}
