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
}

func channelOwner(kind lifeline.ChannelKind, name string) string {
	return "channel:" + string(kind) + "/" + name
}

func channelSendAAD(kind lifeline.ChannelKind, name string) seal.AAD {
	return seal.AAD{Table: "channels", Column: "send_config", Row: string(kind) + "/" + name, Owner: channelOwner(kind, name)}
}

// SaveChannel adds or replaces a channel's configuration.
func (db *DB) SaveChannel(ctx context.Context, by lifeline.Actor, ch StoredChannel) error {
	if !ch.Kind.Valid() || !ValidChannelName(ch.Name) {
		return lifeline.Errorf(lifeline.EINVALID, "A channel name is 1 to 32 of a-z, 0-9, '-' and '_', starting with a letter.")
	}
	return db.audited(ctx, by, "channel.save", string(ch.Kind)+"/"+ch.Name, "", func(tx *Tx) error {
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
		_, err = tx.Exec(`INSERT INTO channels (kind, name, config, send_config, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (kind, name) DO UPDATE SET config = excluded.config, send_config = excluded.send_config`,
			ch.Kind, ch.Name, ch.Config, send, formatTime(tx.Now()))
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
			return r, rows.Scan(&r.c.Kind, &r.c.Name, &r.c.Config, &r.send)
		}, `SELECT kind, name, config, send_config FROM channels ORDER BY kind, name`)
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
