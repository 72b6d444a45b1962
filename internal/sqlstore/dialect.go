// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect isolates what differs between SQLite and PostgreSQL, so that the
// rest of the package is one code path.
type dialect interface {
	name() string
	// rebind rewrites '?' placeholders into the database's own form.
	rebind(query string) string
	// isUniqueViolation reports whether err is a unique-constraint failure.
	isUniqueViolation(err error) bool
	// migrationsDir names the folder of embedded migrations for this dialect.
	migrationsDir() string
	// hasTable is a query with one parameter, a table name, returning the
	// number of tables of that name (0 or 1).
	hasTable() string
}

type sqliteDialect struct{}

func (sqliteDialect) name() string           { return "sqlite" }
func (sqliteDialect) rebind(q string) string { return q }
func (sqliteDialect) migrationsDir() string  { return "migrations/sqlite" }
func (sqliteDialect) isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func (sqliteDialect) hasTable() string {
	return `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
}
