// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

// AllOthersGone is the staleBefore of ReleaseLeases for a server that holds
// its SQLite data directory's lock: no other process can be running, so
// every other instance is gone, whatever its last heartbeat.
var AllOthersGone = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// StartInstance registers this process as a new instance, whose id every
// lease it takes from now on names, and returns the id. Call it once, before
// any worker claims; Heartbeat then keeps it alive.
func (db *DB) StartInstance(ctx context.Context) (string, error) {
	id := string(lifeline.NewID())
	err := db.Write(ctx, func(tx *Tx) error {
		now := formatTime(tx.Now())
		_, err := tx.Exec(`INSERT INTO instances (id, started_at, heartbeat_at) VALUES (?, ?, ?)`, id, now, now)
		return err
	})
	if err != nil {
		return "", err
	}
	db.instance.Store(&id)
	return id, nil
}

// instanceID is the lease holder's column value: this process's instance,
// or NULL before StartInstance (a tool's lease: its holder counts as gone).
func (db *DB) instanceID() any {
	if id := db.instance.Load(); id != nil {
		return *id
	}
	return nil
}

// Heartbeat records that this process's instance is alive.
func (db *DB) Heartbeat(ctx context.Context) error {
	id := db.instanceID()
	if id == nil {
		return nil
	}
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE instances SET heartbeat_at = ? WHERE id = ?`, formatTime(tx.Now()), id)
		return err
	})
}

// EndInstance ends this process's instance on a clean stop: its row goes,
// and so do the leases it still holds (its workers have stopped), so that
// the next server sends those jobs at once.
func (db *DB) EndInstance(ctx context.Context) error {
	id := db.instanceID()
	if id == nil {
		return nil
	}
	return db.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`UPDATE jobs SET lease_until = NULL, leased_by = NULL WHERE state = 'pending' AND leased_by = ?`, id); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM instances WHERE id = ?`, id)
		return err
	})
}

// ReleaseLeases frees the leases whose holder is gone, so that jobs a
// crashed process had claimed are sent now rather than when their leases
// run out; it returns how many. Gone are the instances other than this
// one whose last heartbeat is before staleBefore (their rows are deleted),
// and a lease naming no instance at all. A live holder's leases are never
// touched: a second process must not send what the first is sending.
//
// On SQLite the caller holds the data directory's lock and passes
// AllOthersGone; on a shared database (PostgreSQL) a heartbeat older than a
// few intervals.
func (db *DB) ReleaseLeases(ctx context.Context, staleBefore time.Time) (int, error) {
	var n int64
	self := "" // no instance of our own: every other one stale is gone
	if id := db.instance.Load(); id != nil {
		self = *id
	}
	err := db.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`DELETE FROM instances WHERE heartbeat_at < ? AND id <> ?`, formatTime(staleBefore), self); err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE jobs SET lease_until = NULL, leased_by = NULL
			WHERE state = 'pending' AND lease_until IS NOT NULL
			AND (leased_by IS NULL OR leased_by NOT IN (SELECT id FROM instances))`)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
