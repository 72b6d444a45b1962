// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"fmt"

	"github.com/lifeline-hotline/lifeline"
)

// StoredChannel is a configured channel as stored: its configuration is
// sealed by the caller (under the intake key) and opaque here.
type StoredChannel struct {
	Kind   lifeline.ChannelKind
	Name   string
	Config []byte
}

// SaveChannel adds or replaces a channel's configuration.
func (db *DB) SaveChannel(ctx context.Context, by lifeline.Actor, ch StoredChannel) error {
	if !ch.Kind.Valid() || !ValidChannelName(ch.Name) {
		return lifeline.Errorf(lifeline.EINVALID, "A channel name is 1 to 32 of a-z, 0-9, '-' and '_', starting with a letter.")
	}
	return db.audited(ctx, by, "channel.save", string(ch.Kind)+"/"+ch.Name, "", func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO channels (kind, name, config, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (kind, name) DO UPDATE SET config = excluded.config`, ch.Kind, ch.Name, ch.Config, formatTime(tx.Now()))
		return err
	})
}

// RemoveChannel removes a channel; ENOTFOUND if there is none.
func (db *DB) RemoveChannel(ctx context.Context, by lifeline.Actor, kind lifeline.ChannelKind, name string) error {
	return db.audited(ctx, by, "channel.remove", string(kind)+"/"+name, "", func(tx *Tx) error {
		res, err := tx.Exec(`DELETE FROM channels WHERE kind = ? AND name = ?`, kind, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such channel.")
		}
		return nil
	})
}

// Channels lists the configured channels.
func (db *DB) Channels(ctx context.Context) ([]StoredChannel, error) {
	var out []StoredChannel
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT kind, name, config FROM channels ORDER BY kind, name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c StoredChannel
			if err := rows.Scan(&c.Kind, &c.Name, &c.Config); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return out, nil
}

// ValidChannelName reports whether s can name a channel (it is part of a
// webhook URL).
func ValidChannelName(s string) bool {
	if len(s) < 1 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
