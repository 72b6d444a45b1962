// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"encoding/hex"

	"github.com/lifeline-hotline/lifeline"
)

// Blocking a sender at the door (SECURITY.md §2.12): what a blocked sender
// writes is acknowledged to the provider, so that it stops retrying, and not
// stored. A sender is named by its reference, the intake key's HMAC of
// (kind, "sender", normalized address), which intake can compute while
// sealed; the address itself is never stored or audited.

// senderRefMin is the shortest reference taken: the audit object is the hex
// of its first 8 bytes.
const senderRefMin = 8

// senderObject is the audit object of a blocked sender: enough to tell two
// apart in the log, too little to test addresses against.
func senderObject(kind lifeline.ChannelKind, ref []byte) string {
	return string(kind) + "/" + hex.EncodeToString(ref[:senderRefMin])
}

func checkSenderRef(kind lifeline.ChannelKind, ref []byte, reason string) error {
	if !kind.Valid() || len(ref) < senderRefMin {
		return lifeline.Errorf(lifeline.EINVALID, "A sender is named by its channel kind and reference.")
	}
	if reason == "" {
		return lifeline.Errorf(lifeline.EINVALID, "Say why, for the audit log.")
	}
	return nil
}

// BlockSender blocks a sender at the door, audited as "sender.block".
// Blocking a blocked sender changes nothing and is audited again. It returns
// EINVALID without a valid kind, a reference or a reason.
func (db *DB) BlockSender(ctx context.Context, by lifeline.Actor, kind lifeline.ChannelKind, ref []byte, reason string) error {
	if err := checkSenderRef(kind, ref, reason); err != nil {
		return err
	}
	return db.audited(ctx, by, "sender.block", senderObject(kind, ref), reason, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO blocked_senders (channel_kind, sender_ref, blocked_day) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, kind, ref, lifeline.DayOf(tx.Now()).String())
		return err
	})
}

// UnblockSender lets a blocked sender in again, audited as
// "sender.unblock". It returns ENOTFOUND if the sender is not blocked.
func (db *DB) UnblockSender(ctx context.Context, by lifeline.Actor, kind lifeline.ChannelKind, ref []byte, reason string) error {
	if err := checkSenderRef(kind, ref, reason); err != nil {
		return err
	}
	return db.audited(ctx, by, "sender.unblock", senderObject(kind, ref), reason, func(tx *Tx) error {
		res, err := tx.Exec(`DELETE FROM blocked_senders WHERE channel_kind = ? AND sender_ref = ?`, kind, ref)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "That sender is not blocked.")
		}
		return nil
	})
}

// IsBlocked reports whether a sender is blocked at the door, inside the
// write that would store what it sent.
func (in *Ingest) IsBlocked(kind lifeline.ChannelKind, ref []byte) (bool, error) {
	var n int
	err := in.tx.QueryRow(`SELECT COUNT(*) FROM blocked_senders WHERE channel_kind = ? AND sender_ref = ?`, kind, ref).Scan(&n)
	return n > 0, err
}
