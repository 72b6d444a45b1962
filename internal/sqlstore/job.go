// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lifeline-hotline/lifeline"
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
		text, err := db.openMessage(tx, id, contact, lifeline.ConversationID(conv.String), body)
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

// QueueReply stores an operator's reply in a conversation and queues it;
// it returns the message id.
//
// On WhatsApp, outside the 24-hour customer-service window only an approved
// template can be sent: a free-form reply then is refused (ECONFLICT) with
// a message that says so; QueueTemplate sends the template.
func (db *DB) QueueReply(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, text string) (lifeline.MessageID, error) {
	if text == "" || len(text) > 4096 {
		return "", lifeline.Errorf(lifeline.EINVALID, "A reply is 1 to 4096 bytes of text.")
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
	return db.queueOutbound(ctx, by, conv, "conversation.template", "template", name+"|"+language)
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

func (db *DB) queueOutbound(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, action, kind, text string) (lifeline.MessageID, error) {
	m := &lifeline.Message{ID: lifeline.NewMessageID(), Direction: lifeline.Outbound, Body: lifeline.Sensitive(text)}
	if id := lifeline.OperatorID(by.ID); id.Valid() {
		m.Author = id
	}
	err := db.audited(ctx, by, action, string(conv)+" "+string(m.ID), "", func(tx *Tx) error {
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
		// Staged disclosure (SECURITY.md §2.13): before the contact's case
		// is verified, nothing about procedures, meeting points or staff
		// goes to him, whoever writes it, from the console or the API.
		if word := lifeline.DisclosureRisk(text); word != "" {
			var verdict string
			err := tx.QueryRow(`SELECT COALESCE(s.verdict, '') FROM conversations v JOIN contacts k ON k.id = v.contact_id
				LEFT JOIN screenings s ON s.case_id = k.case_id WHERE v.id = ?`, conv).Scan(&verdict)
			if err != nil {
				return err
			}
			if verdict != VerdictVerified {
				return lifeline.Errorf(lifeline.ECONFLICT, "Not sent: the reply mentions %q, and the contact's case is not verified. Nothing about procedures, meeting points or staff goes to a contact before verification.", word)
			}
		}
		if kind == "text" && !windowOpen(channelKind, lastInbound, tx.Now()) {
			return lifeline.Errorf(lifeline.ECONFLICT, "The WhatsApp 24-hour window is closed: the contact last wrote more than 24 hours ago, and WhatsApp lets us send only an approved template until they write again.")
		}
		if err := db.addMessage(tx, m, conv, kind, nil, "queued"); err != nil {
			return unavailable(err)
		}
		// An answer takes the conversation out of the waiting queue.
		if _, err := tx.Exec(`UPDATE conversations SET last_activity_day = ?, waiting_seq = NULL, escalated = 0 WHERE id = ?`, lifeline.DayOf(tx.Now()).String(), conv); err != nil {
			return err
		}
		return enqueue(tx, m.ID)
	})
	if err != nil {
		return "", err
	}
	return m.ID, nil
}

// ConversationMessages reads a conversation's messages, oldest first, with
// delivery statuses; quarantined ones are left out (only counted, see
// Conversation); EUNAVAILABLE while sealed.
func (db *DB) ConversationMessages(ctx context.Context, conv lifeline.ConversationID) ([]ConversationMessage, error) {
	var out []ConversationMessage
	err := db.Read(ctx, func(tx *Tx) error {
		contact, err := conversationContact(tx, conv)
		if err != nil {
			return err
		}
		type row struct {
			m      ConversationMessage
			ct, at []byte
			d      string
		}
		rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.m.ID, &r.m.Direction, &r.m.Kind, &r.ct, &r.at, &r.m.Author, &r.m.Status, &r.m.StatusReason, &r.d)
		}, `SELECT m.id, m.direction, m.kind, m.body, m.at, COALESCE(o.username, ''), m.status, m.status_reason, m.created_day
			FROM messages m LEFT JOIN operators o ON o.id = m.author_id WHERE m.conversation_id = ? AND m.hold <> 'quarantined' ORDER BY m.rowid`, conv)
		if err != nil {
			return err
		}
		for _, r := range rs {
			text, err := db.openMessage(tx, r.m.ID, contact, conv, r.ct)
			if err != nil {
				return fmt.Errorf("message %s: %w", r.m.ID, err)
			}
			r.m.Text = lifeline.Sensitive(text)
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

// conversationContact is the contact a conversation belongs to; a message
// read through the conversation must be sealed under that contact's key.
func conversationContact(tx *Tx, conv lifeline.ConversationID) (lifeline.ContactID, error) {
	var c lifeline.ContactID
	err := tx.QueryRow(`SELECT contact_id FROM conversations WHERE id = ?`, conv).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil // no such conversation: it has no messages either
	}
	return c, err
}
