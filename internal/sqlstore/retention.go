// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// Retention is how long the sweeper keeps what (SECURITY.md §2.9), in days.
type Retention struct {
	DedupeDays    int // webhook dedupe keys
	SessionDays   int // ended console sessions
	AbandonedDays int // a contact with no case, silent this long, is erased
	ClosedDays    int // a closed case is erased this long after closing
}

// DefaultRetention is SECURITY.md §2.9's table.
var DefaultRetention = Retention{DedupeDays: 7, SessionDays: 7, AbandonedDays: 30, ClosedDays: 90}

// Swept counts what one sweep removed.
type Swept struct {
	DedupeKeys, Sessions, Contacts, Cases int
}

// Sweep removes what is past its retention: dedupe keys and ended
// sessions are deleted; an abandoned contact (no case, nothing from him
// within AbandonedDays) and a case closed more than ClosedDays ago are
// crypto-shredded, their keys destroyed. Each erasure is audited as the
// system's.
func (db *DB) Sweep(ctx context.Context, r Retention) (Swept, error) {
	var out Swept
	today := lifeline.DayOf(db.Now())
	day := func(n int) string { return today.AddDays(-n).String() }
	err := db.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`DELETE FROM webhook_events WHERE received_day < ?`, day(r.DedupeDays))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		out.DedupeKeys = int(n)
		res, err = tx.Exec(`DELETE FROM sessions WHERE COALESCE(ended_at, last_seen_at) < ?`, day(r.SessionDays))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		out.Sessions = int(n)
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("sweep: %w", err)
	}

	var contacts []lifeline.ContactID
	var cases []lifeline.CaseID
	err = db.Read(ctx, func(tx *Tx) error {
		var err error
		contacts, err = queryAll(tx, func(rows *sql.Rows) (id lifeline.ContactID, err error) { return id, rows.Scan(&id) },
			`SELECT c.id FROM contacts c WHERE c.case_id IS NULL AND c.created_day < ?1
				AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.contact_id = c.id AND m.created_day >= ?1)`, day(r.AbandonedDays))
		if err != nil {
			return err
		}
		cases, err = queryAll(tx, func(rows *sql.Rows) (id lifeline.CaseID, err error) { return id, rows.Scan(&id) },
			`SELECT id FROM cases WHERE status = 'closed' AND closed_day < ?1 AND COALESCE(hold_until, '') < ?2`, day(r.ClosedDays), today.String())
		return err
	})
	if err != nil {
		return out, fmt.Errorf("sweep: %w", err)
	}
	system := lifeline.Actor{ID: lifeline.ActorSystem}
	for _, c := range contacts {
		if err := db.shredContact(ctx, system, c); err != nil {
			return out, err
		}
		out.Contacts++
	}
	for _, c := range cases {
		if err := db.ShredCase(ctx, system, c, "retention: closed more than the retention period ago"); err != nil {
			return out, err
		}
		out.Cases++
	}
	return out, nil
}

// shredContact erases a contact that has no case: his conversations,
// messages, media, bot sessions, jobs and data keys.
func (db *DB) shredContact(ctx context.Context, by lifeline.Actor, id lifeline.ContactID) error {
	var shredded []seal.KeyID
	err := db.audited(ctx, by, "contact.shred", string(id), "retention: abandoned", func(tx *Tx) error {
		owners := []string{contactOwner(id)}
		convs, err := queryAll(tx, func(rows *sql.Rows) (v lifeline.ConversationID, err error) { return v, rows.Scan(&v) },
			`SELECT id FROM conversations WHERE contact_id = ?`, id)
		if err != nil {
			return err
		}
		for _, v := range convs {
			owners = append(owners, "conversation:"+string(v), questionnaireOwner(v))
		}
		msgs, err := queryAll(tx, func(rows *sql.Rows) (m string, err error) { return m, rows.Scan(&m) },
			`SELECT id FROM messages WHERE contact_id = ?`, id)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			owners = append(owners, "message:"+m)
		}
		versions, err := queryAll(tx, func(rows *sql.Rows) (v string, err error) { return v, rows.Scan(&v) },
			`SELECT x.id FROM message_versions x JOIN messages m ON m.id = x.message_id WHERE m.contact_id = ?`, id)
		if err != nil {
			return err
		}
		for _, v := range versions {
			owners = append(owners, versionOwner(v))
		}
		corrections, err := queryAll(tx, func(rows *sql.Rows) (c string, err error) { return c, rows.Scan(&c) },
			`SELECT x.id FROM answer_corrections x JOIN messages m ON m.id = x.message_id WHERE m.contact_id = ?`, id)
		if err != nil {
			return err
		}
		for _, c := range corrections {
			owners = append(owners, correctionOwner(c))
		}
		media, err := queryAll(tx, func(rows *sql.Rows) (m string, err error) { return m, rows.Scan(&m) },
			`SELECT id FROM media WHERE contact_id = ?`, id)
		if err != nil {
			return err
		}
		for _, m := range media {
			owners = append(owners, "media:"+m)
		}
		for _, q := range []string{
			`DELETE FROM jobs WHERE media_id IN (SELECT id FROM media WHERE contact_id = ?)`,
			`DELETE FROM media WHERE contact_id = ?`,
			`DELETE FROM message_versions WHERE message_id IN (SELECT id FROM messages WHERE contact_id = ?)`,
			`DELETE FROM answer_corrections WHERE message_id IN (SELECT id FROM messages WHERE contact_id = ?)`,
			`DELETE FROM jobs WHERE message_id IN (SELECT id FROM messages WHERE contact_id = ?)`,
			`DELETE FROM messages WHERE contact_id = ?`,
			`DELETE FROM questionnaire_sessions WHERE contact_id = ?`,
			`DELETE FROM wrapups WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = ?)`,
			`DELETE FROM conversation_labels WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = ?)`,
			`DELETE FROM conversations WHERE contact_id = ?`,
			`DELETE FROM opt_outs WHERE contact_id = ?`,
			`DELETE FROM contacts WHERE id = ? AND case_id IS NULL`,
		} {
			if _, err := tx.Exec(q, id); err != nil {
				return fmt.Errorf("shred contact: %w", err)
			}
		}
		shredded, err = db.deleteDataKeys(tx, owners...)
		return err
	})
	if err != nil {
		return err
	}
	if db.sealer != nil {
		db.sealer.Forget(shredded...)
	}
	db.inbound.clear() // the cache never holds more than ids, but an erased contact leaves none
	db.timesMu.Lock()
	db.times = nil
	db.timesMu.Unlock()
	return nil
}

// HoldDays is the length of one legal hold; a supervisor renews it.
const HoldDays = 90

// SetLegalHold keeps a case from the retention sweep for HoldDays from
// today (a renewal starts afresh), audited with the reason.
func (db *DB) SetLegalHold(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, reason string) (lifeline.Day, error) {
	if err := checkReason(reason); err != nil {
		return lifeline.Day{}, err
	}
	var until lifeline.Day
	err := db.audited(ctx, by, "case.legal_hold", string(id), reason, func(tx *Tx) error {
		until = lifeline.DayOf(tx.Now()).AddDays(HoldDays)
		res, err := tx.Exec(`UPDATE cases SET hold_until = ? WHERE id = ?`, until.String(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such case.")
		}
		return db.addEvent(tx, by, id, "hold", "", until.String(), seal.CompartmentIdentity, reason)
	})
	return until, err
}
