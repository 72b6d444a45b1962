// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// A Job is an outbox job as a worker claims it.
type Job struct {
	ID        string
	MessageID lifeline.MessageID
	Attempts  int // including this one
}

// ClaimJobs leases up to limit due jobs for lease: no other worker takes
// them until the lease runs out, so a worker that dies mid-send leaves its
// jobs to be retried, not lost.
func (db *DB) ClaimJobs(ctx context.Context, lease time.Duration, limit int) ([]Job, error) {
	return claim(ctx, db, "send", "message_id", lease, limit, func(id, target string, attempts int) Job {
		return Job{ID: id, MessageID: lifeline.MessageID(target), Attempts: attempts}
	})
}

// claim leases up to limit due jobs of one kind; target names the column
// the job is about.
func claim[J any](ctx context.Context, db *DB, kind, target string, lease time.Duration, limit int, build func(id, target string, attempts int) J) ([]J, error) {
	var jobs []J
	err := db.Write(ctx, func(tx *Tx) error {
		now := formatTime(tx.Now())
		var err error
		jobs, err = queryAll(tx, func(rows *sql.Rows) (J, error) {
			var id, t string
			var attempts int
			err := rows.Scan(&id, &t, &attempts)
			return build(id, t, attempts), err
		}, `UPDATE jobs SET lease_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM jobs WHERE kind = ? AND state = 'pending' AND run_after <= ? AND (lease_until IS NULL OR lease_until < ?)
				ORDER BY run_after LIMIT ?)
			RETURNING id, `+target+`, attempts`, formatTime(tx.Now().Add(lease)), kind, now, now, limit)
		return err
	})
	return jobs, err
}

// Outbound is what a worker needs to send a message.
type Outbound struct {
	// MessageKind is "text", or "template" (Text is then "name|language").
	MessageKind string
	Kind        lifeline.ChannelKind
	Channel     string
	To          lifeline.Sensitive // the conversation's reply address, else the contact's handle
	Text        lifeline.Sensitive
}

// OutboundMessage opens a queued message for sending; EUNAVAILABLE while
// sealed, ENOTFOUND if it was erased.
func (db *DB) OutboundMessage(ctx context.Context, id lifeline.MessageID) (Outbound, error) {
	var o Outbound
	err := db.Read(ctx, func(tx *Tx) error {
		var body, handle, replyTo []byte
		var contact lifeline.ContactID
		var conv sql.NullString
		err := tx.QueryRow(`SELECT m.kind, m.body, m.contact_id, m.conversation_id, c.handle, c.channel, COALESCE(v.channel_name, ''), v.reply_to
			FROM messages m JOIN contacts c ON c.id = m.contact_id LEFT JOIN conversations v ON v.id = m.conversation_id
			WHERE m.id = ? AND m.direction = 'out'`, id).Scan(&o.MessageKind, &body, &contact, &conv, &handle, &o.Kind, &o.Channel, &replyTo)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such message.")
		}
		if err != nil {
			return err
		}
		text, err := db.openField(tx, messageAAD(id), body)
		if err != nil {
			return err
		}
		o.Text = lifeline.Sensitive(text)
		if len(replyTo) > 0 {
			to, err := db.openField(tx, seal.AAD{Table: "conversations", Column: "reply_to", Row: conv.String}, replyTo)
			if err != nil {
				return err
			}
			o.To = lifeline.Sensitive(to)
			return nil
		}
		to, err := db.openField(tx, contactAAD(contact), handle)
		o.To = lifeline.Sensitive(to)
		return err
	})
	return o, unavailable(err)
}

// CompleteJob records a sent message: the job is done, the message sent,
// with the provider's id as a keyed reference for status updates.
func (db *DB) CompleteJob(ctx context.Context, job Job, providerRef []byte) error {
	return db.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`UPDATE jobs SET state = 'done', lease_until = NULL WHERE id = ?`, job.ID); err != nil {
			return err
		}
		_, err := tx.Exec(`UPDATE messages SET status = 'sent', status_reason = '', provider_ref = ? WHERE id = ? AND status IN ('queued', '')`, providerRef, job.MessageID)
		return err
	})
}

// FailJob records a failed attempt. A permanent failure marks the message
// failed with the reason, for the operator to see; otherwise the job is due
// again at retryAt.
func (db *DB) FailJob(ctx context.Context, job Job, reason string, permanent bool, retryAt time.Time) error {
	if len(reason) > 200 {
		reason = reason[:200]
	}
	return db.Write(ctx, func(tx *Tx) error {
		if permanent {
			if _, err := tx.Exec(`UPDATE jobs SET state = 'failed', lease_until = NULL, last_error = ? WHERE id = ?`, reason, job.ID); err != nil {
				return err
			}
			_, err := tx.Exec(`UPDATE messages SET status = 'failed', status_reason = ? WHERE id = ?`, reason, job.MessageID)
			return err
		}
		_, err := tx.Exec(`UPDATE jobs SET lease_until = NULL, last_error = ?, run_after = ? WHERE id = ?`, reason, formatTime(retryAt), job.ID)
		return err
	})
}

// QueuedReply is what became of a reply: queued to send, or held.
type QueuedReply struct {
	ID lifeline.MessageID
	// Held, if not empty, is what the reply would disclose: it is stored
	// held for a supervisor (HeldReplies), not queued.
	Held []lifeline.Disclosure
}

// QueueReply stores an operator's reply in a conversation and queues it.
//
// Staged disclosure (SECURITY.md §2.13): before the contact's case is
// verified (or while he has no case), a reply that names a time, a place,
// a route, a call sign, a unit or a person (lifeline.Disclosures) is
// stored held instead, sealed like every body, for a supervisor who is
// not its author to approve or reject (DecideHeld).
//
// On WhatsApp, outside the 24-hour customer-service window only an approved
// template can be sent: a free-form reply then is refused (ECONFLICT) with
// a message that says so; QueueTemplate sends the template.
func (db *DB) QueueReply(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, text string) (QueuedReply, error) {
	if text == "" || len(text) > 4096 {
		return QueuedReply{}, lifeline.Errorf(lifeline.EINVALID, "A reply is 1 to 4096 bytes of text.")
	}
	return db.queueOutbound(ctx, by, conv, "conversation.reply", "text", text)
}

// QueueTemplate queues an approved WhatsApp message template (its name and
// language code), the only message Meta lets a business send outside the
// 24-hour window.
func (db *DB) QueueTemplate(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, name, language string) (lifeline.MessageID, error) {
	if !validTemplatePart(name, 512) || !validTemplatePart(language, 16) {
		return "", lifeline.Errorf(lifeline.EINVALID, "A template needs its name and language code (a-z, 0-9, _).")
	}
	q, err := db.queueOutbound(ctx, by, conv, "conversation.template", "template", name+"|"+language)
	return q.ID, err
}

func validTemplatePart(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// windowOpen reports whether a conversation can take a free-form reply now:
// always, except on WhatsApp past 24 hours after the contact's latest
// message.
func windowOpen(kind lifeline.ChannelKind, lastInboundHour sql.NullString, now time.Time) bool {
	if kind != lifeline.ChannelWhatsApp {
		return true
	}
	if !lastInboundHour.Valid {
		return false
	}
	h, err := time.Parse(hourFormat, lastInboundHour.String)
	if err != nil {
		return false
	}
	return now.Before(h.Add(WhatsAppWindow))
}

func (db *DB) queueOutbound(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, action, kind, text string) (QueuedReply, error) {
	m := &lifeline.Message{ID: lifeline.NewMessageID(), Direction: lifeline.Outbound, Body: lifeline.Sensitive(text)}
	if id := lifeline.OperatorID(by.ID); id.Valid() {
		m.Author = id
	}
	// Templates are Meta's approved texts, not the operator's words.
	var risks []lifeline.Disclosure
	if kind == "text" {
		risks = lifeline.Disclosures(text)
	}
	var held []lifeline.Disclosure
	err := db.Write(ctx, func(tx *Tx) error {
		var state string
		var channelKind lifeline.ChannelKind
		var lastInbound sql.NullString
		err := tx.QueryRow(`SELECT contact_id, state, channel_kind, last_inbound_hour FROM conversations WHERE id = ?`, conv).
			Scan(&m.ContactID, &state, &channelKind, &lastInbound)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
		}
		if err != nil {
			return err
		}
		if kind == "template" && channelKind != lifeline.ChannelWhatsApp {
			return lifeline.Errorf(lifeline.EINVALID, "Templates are for WhatsApp conversations.")
		}
		if kind == "text" && !windowOpen(channelKind, lastInbound, tx.Now()) {
			return lifeline.Errorf(lifeline.ECONFLICT, "The WhatsApp 24-hour window is closed: the contact last wrote more than 24 hours ago, and WhatsApp lets us send only an approved template until they write again.")
		}
		// Staged disclosure (SECURITY.md §2.13): before the contact's case
		// is verified, nothing about times, places, procedures or staff
		// goes to him unreviewed, whoever writes it, from the console or
		// the API: it waits for a supervisor.
		if len(risks) > 0 {
			verified, err := contactVerified(tx, conv)
			if err != nil {
				return err
			}
			if !verified {
				held = risks
			}
		}
		status, auditAction, reason := "queued", action, ""
		if held != nil {
			status, auditAction, reason = "held", action+"_held", "held_for="+lifeline.JoinDisclosures(held)
		}
		if err := db.addMessage(tx, m, conv, kind, nil, status); err != nil {
			return unavailable(err)
		}
		if held != nil {
			// The contact still waits for a word: the conversation stays in
			// the waiting queue until the reply is released.
			if _, err := tx.Exec(`UPDATE messages SET held_for = ? WHERE id = ?`, lifeline.JoinDisclosures(held), m.ID); err != nil {
				return err
			}
			if _, err := tx.Exec(`UPDATE conversations SET last_activity_day = ? WHERE id = ?`, lifeline.DayOf(tx.Now()).String(), conv); err != nil {
				return err
			}
		} else if err := answered(tx, conv, m.ID); err != nil {
			return err
		}
		_, err = AppendAudit(tx, audit.Entry{Actor: by.ID, Role: string(by.Role), Action: auditAction, Object: string(conv) + " " + string(m.ID),
			Decision: audit.DecisionAllow, Reason: reason, RequestID: by.RequestID})
		return err
	})
	if err != nil {
		return QueuedReply{}, err
	}
	return QueuedReply{ID: m.ID, Held: held}, nil
}

// contactVerified reports whether the contact of a conversation has a case
// whose verdict is verified.
func contactVerified(tx *Tx, conv lifeline.ConversationID) (bool, error) {
	var verdict string
	err := tx.QueryRow(`SELECT COALESCE(s.verdict, '') FROM conversations v JOIN contacts k ON k.id = v.contact_id
		LEFT JOIN screenings s ON s.case_id = k.case_id WHERE v.id = ?`, conv).Scan(&verdict)
	return verdict == VerdictVerified, err
}

// answered queues a message to send and takes its conversation out of the
// waiting queue: the contact has his answer.
func answered(tx *Tx, conv lifeline.ConversationID, id lifeline.MessageID) error {
	if _, err := tx.Exec(`UPDATE conversations SET last_activity_day = ?, waiting_seq = NULL, escalated = 0 WHERE id = ?`, lifeline.DayOf(tx.Now()).String(), conv); err != nil {
		return err
	}
	return enqueue(tx, id)
}

// ConversationMessages reads a conversation's messages, oldest first, with
// delivery statuses; EUNAVAILABLE while sealed.
func (db *DB) ConversationMessages(ctx context.Context, conv lifeline.ConversationID) ([]ConversationMessage, error) {
	var out []ConversationMessage
	err := db.Read(ctx, func(tx *Tx) error {
		type row struct {
			m            ConversationMessage
			ct, at, note []byte
			d, held      string
		}
		rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.m.ID, &r.m.Direction, &r.m.Kind, &r.ct, &r.at, &r.m.Author, &r.m.Status, &r.m.StatusReason, &r.d,
				&r.held, &r.m.DecidedBy, &r.note)
		}, `SELECT m.id, m.direction, m.kind, m.body, m.at, COALESCE(o.username, ''), m.status, m.status_reason, m.created_day,
				m.held_for, COALESCE(d.username, ''), m.decision_note
			FROM messages m LEFT JOIN operators o ON o.id = m.author_id LEFT JOIN operators d ON d.id = m.decided_by
			WHERE m.conversation_id = ? ORDER BY m.rowid`, conv)
		if err != nil {
			return err
		}
		for _, r := range rs {
			text, err := db.openField(tx, messageAAD(r.m.ID), r.ct)
			if err != nil {
				return fmt.Errorf("message %s: %w", r.m.ID, err)
			}
			r.m.Text = lifeline.Sensitive(text)
			r.m.HeldFor = lifeline.ParseDisclosures(r.held)
			if len(r.note) > 0 {
				note, err := db.openField(tx, decisionNoteAAD(r.m.ID), r.note)
				if err != nil {
					return fmt.Errorf("message %s: %w", r.m.ID, err)
				}
				r.m.DecisionNote = lifeline.Sensitive(note)
			}
			if r.m.At, err = db.openTime(tx, r.m.ID, r.at); err != nil {
				return fmt.Errorf("message %s: %w", r.m.ID, err)
			}
			if r.m.Day, err = lifeline.ParseDay(r.d); err != nil {
				return err
			}
			out = append(out, r.m)
		}
		return nil
	})
	return out, unavailable(err)
}

// ConversationMessage is one message of a conversation, opened.
type ConversationMessage struct {
	ID           lifeline.MessageID
	Direction    lifeline.Direction
	Kind         string
	Text         lifeline.Sensitive
	Status       string
	StatusReason string
	Day          lifeline.Day
	At           time.Time // exact time, opened from its sealed copy; zero for rows older than that column
	Author       string    // the username of the operator who wrote it; "" for the contact or the system
	// HeldFor is what a reply held for a supervisor would disclose (its
	// Status is "held" until approved, then "queued", or "rejected");
	// empty for a reply that was never held.
	HeldFor      []lifeline.Disclosure
	DecidedBy    string             // the username of the supervisor who approved or rejected it
	DecisionNote lifeline.Sensitive // why, as the supervisor wrote it
}

// ReleaseLeases frees the leases of every job: call it when a server starts
// on a store it alone uses (SQLite), so that jobs a crashed predecessor had
// claimed are sent now rather than when their leases run out.
func (db *DB) ReleaseLeases(ctx context.Context) (int, error) {
	var n int64
	err := db.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE jobs SET lease_until = NULL WHERE state = 'pending' AND lease_until IS NOT NULL`)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
