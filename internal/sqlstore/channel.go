// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// StoredChannel is a configured channel as stored: its configuration is
// sealed by the caller (under the intake key) and opaque here. Send holds
// the secrets that only sending needs, in the clear: the store seals them
// under a routing data key of the channel's own, so they open only while
// unsealed (Channels leaves Send nil and sets SendSealed then).
type StoredChannel struct {
	Kind       lifeline.ChannelKind
	Name       string
	Config     []byte
	Send       []byte
	SendSealed bool // Channels: the channel has send secrets, and the keys are sealed
	// AccountRef is a keyed hash (the caller's) of what the provider knows
	// the channel by, its bot or number: two channels may not share one.
	// Nil for a channel saved before it was kept.
	AccountRef []byte
}

func channelOwner(kind lifeline.ChannelKind, name string) string {
	return "channel:" + string(kind) + "/" + name
}

func channelSendAAD(kind lifeline.ChannelKind, name string) seal.AAD {
	return seal.AAD{Table: "channels", Column: "send_config", Row: string(kind) + "/" + name, Owner: channelOwner(kind, name)}
}

// SaveChannel adds a channel's configuration, or replaces it if replace is
// true: ECONFLICT if the channel exists and replace is false, or if another
// channel has the same AccountRef (one bot or number, two channels).
func (db *DB) SaveChannel(ctx context.Context, by lifeline.Actor, ch StoredChannel, replace bool) error {
	if !ch.Kind.Valid() || !ValidChannelName(ch.Name) {
		return lifeline.Errorf(lifeline.EINVALID, "A channel name is 1 to 32 of a-z, 0-9, '-' and '_', starting with a letter.")
	}
	reason := ""
	if replace {
		reason = "replace"
	}
	return db.audited(ctx, by, "channel.save", string(ch.Kind)+"/"+ch.Name, reason, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM channels WHERE kind = ? AND name = ?`, ch.Kind, ch.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 && !replace {
			return lifeline.Errorf(lifeline.ECONFLICT, "A channel %s/%s exists already: give --replace to replace its configuration.", ch.Kind, ch.Name)
		}
		if len(ch.AccountRef) > 0 {
			var kind, name string
			err := tx.QueryRow(`SELECT kind, name FROM channels WHERE account_ref = ? AND NOT (kind = ? AND name = ?)`, ch.AccountRef, ch.Kind, ch.Name).Scan(&kind, &name)
			switch {
			case err == nil:
				return lifeline.Errorf(lifeline.ECONFLICT, "Channel %s/%s uses the same bot or number already: one account serves one channel (remove that one first, or replace it).", kind, name)
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		// A fresh data key each save: it is made with the public key alone,
		// so a channel is saved while sealed too; the old one is shredded.
		owner := channelOwner(ch.Kind, ch.Name)
		ids, err := db.deleteDataKeys(tx, owner)
		if err != nil {
			return err
		}
		if db.sealer != nil {
			db.sealer.Forget(ids...)
		}
		var send []byte
		if len(ch.Send) > 0 {
			if send, err = db.sealField(tx, owner, "", seal.CompartmentRouting, channelSendAAD(ch.Kind, ch.Name), ch.Send); err != nil {
				return err
			}
		}
		var ref any // NULL, not an empty blob: the unique index ignores NULLs
		if len(ch.AccountRef) > 0 {
			ref = ch.AccountRef
		}
		_, err = tx.Exec(`INSERT INTO channels (kind, name, config, send_config, account_ref, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, name) DO UPDATE SET config = excluded.config, send_config = excluded.send_config, account_ref = excluded.account_ref`,
			ch.Kind, ch.Name, ch.Config, send, ref, formatTime(tx.Now()))
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
		ids, err := db.deleteDataKeys(tx, channelOwner(kind, name))
		if err == nil && db.sealer != nil {
			db.sealer.Forget(ids...)
		}
		return err
	})
}

// Channels lists the configured channels.
func (db *DB) Channels(ctx context.Context) ([]StoredChannel, error) {
	var out []StoredChannel
	err := db.Read(ctx, func(tx *Tx) error {
		type row struct {
			c    StoredChannel
			send []byte
		}
		rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.c.Kind, &r.c.Name, &r.c.Config, &r.send, &r.c.AccountRef)
		}, `SELECT kind, name, config, send_config, account_ref FROM channels ORDER BY kind, name`)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if len(r.send) > 0 {
				plain, err := db.openOwned(tx, channelSendAAD(r.c.Kind, r.c.Name), r.send, channelOwner(r.c.Kind, r.c.Name))
				switch {
				case errors.Is(err, keys.ErrSealed) || errors.Is(err, errNoSealer):
					r.c.SendSealed = true
				case err != nil:
					return fmt.Errorf("channel %s/%s: send secrets: %w", r.c.Kind, r.c.Name, err)
				default:
					r.c.Send = plain
				}
			}
			out = append(out, r.c)
		}
		return nil
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
