// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
)

// Meta reads a setting of the installation ("" if unset). Settings are
// plain text: never put a secret or personal data in one.
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := db.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow(`SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetMeta writes a setting of the installation.
func (db *DB) SetMeta(ctx context.Context, key, value string) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
}
