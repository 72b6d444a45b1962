// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	Priority  Priority
}

// Priority orders the outbox: lower goes first. An operator's reply goes
// before anything automatic on its channel, and within its chat before that
// chat's own pending automatic messages.
type Priority int

const (
	PriorityReply     Priority = 0 // an operator's reply or template (console, API)
	PriorityBot       Priority = 1 // the registration questionnaire bot
	PriorityAutomatic Priority = 2 // a greeting or another automatic message
)

// ClaimJobs leases up to limit due send jobs of every channel for lease:
// no other worker takes them until the lease runs out, so a worker that
// dies mid-send leaves its jobs to be retried, not lost. Replies first (see
// Priority), then the oldest.
func (db *DB) ClaimJobs(ctx context.Context, lease time.Duration, limit int) ([]Job, error) {
	return claim(ctx, db, "send", nil, "message_id", lease, limit, buildJob)
}

// ClaimChannelJobs is ClaimJobs for the jobs of one kind of channel: each
// provider is paced on its own, so each has its own lane.
func (db *DB) ClaimChannelJobs(ctx context.Context, kind lifeline.ChannelKind, lease time.Duration, limit int) ([]Job, error) {
	return claim(ctx, db, "send", &kind, "message_id", lease, limit, buildJob)
}

// ClaimChannelReplies is ClaimChannelJobs for operators' replies alone
// (PriorityReply): a lane whose automatic messages are all in flight, or
// waiting for room, still takes a reply queued meanwhile.
func (db *DB) ClaimChannelReplies(ctx context.Context, kind lifeline.ChannelKind, lease time.Duration, limit int) ([]Job, error) {
	return claimWhere(ctx, db, "send", replyLaneCondition, []any{kind, PriorityReply}, "message_id", lease, limit, buildJob)
}

func buildJob(id, target string, attempts, priority int) Job {
	return Job{ID: id, MessageID: lifeline.MessageID(target), Attempts: attempts, Priority: Priority(priority)}
}

// claim leases up to limit due jobs of one kind, in one lane if lane is not
// nil; target names the column the job is about. The lease names this
// process's instance (see StartInstance).
//
// The subquery walks the partial index jobs_claim, (kind, channel_kind,
// priority, run_after) over pending jobs, in order; with a lane it stops
// after limit due rows.
func claim[J any](ctx context.Context, db *DB, kind string, lane *lifeline.ChannelKind, target string, lease time.Duration, limit int, build func(id, target string, attempts, priority int) J) ([]J, error) {
	laneCond, args := "", []any{}
	if lane != nil {
		laneCond, args = laneCondition, []any{*lane}
	}
	return claimWhere(ctx, db, kind, laneCond, args, target, lease, limit, build)
}

// claimWhere is claim narrowed by laneCond (laneCondition or
// replyLaneCondition) and its arguments.
func claimWhere[J any](ctx context.Context, db *DB, kind, laneCond string, args []any, target string, lease time.Duration, limit int, build func(id, target string, attempts, priority int) J) ([]J, error) {
	var jobs []J
	type claimed struct {
		id, target, due    string
		attempts, priority int
	}
	err := db.Write(ctx, func(tx *Tx) error {
		now := formatTime(tx.Now())
		rows, err := queryAll(tx, func(rows *sql.Rows) (c claimed, err error) {
			return c, rows.Scan(&c.id, &c.target, &c.attempts, &c.priority, &c.due)
		}, claimQuery(laneCond, target),
			append(append([]any{formatTime(tx.Now().Add(lease)), db.instanceID(), kind}, args...), now, now, limit)...)
		if err != nil {
			return err
		}
		// RETURNING comes in no particular order: put the batch in line.
		slices.SortStableFunc(rows, func(a, b claimed) int {
			return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(a.due, b.due))
		})
		jobs = jobs[:0]
		for _, c := range rows {
			jobs = append(jobs, build(c.id, c.target, c.attempts, c.priority))
		}
		return nil
	})
	return jobs, err
}

// laneCondition narrows a claim to one lane.
const laneCondition = " AND channel_kind = ?"

// replyLaneCondition narrows a claim to one lane's replies.
const replyLaneCondition = " AND channel_kind = ? AND priority <= ?"

// claimQuery is claim's statement (see TestClaimUsesIndex).
func claimQuery(laneCond, target string) string {
	return `UPDATE jobs SET lease_until = ?, leased_by = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM jobs WHERE kind = ?` + laneCond + ` AND state = 'pending' AND run_after <= ? AND (lease_until IS NULL OR lease_until < ?)
			ORDER BY priority, run_after LIMIT ?)
		RETURNING id, ` + target + `, attempts, priority, run_after`
}

// DeferJobs gives claimed jobs back, due at once and not counted as an
// attempt: the worker could not send them yet (a chat's pace, or a pass cut
// short), and other work goes first meanwhile. Each keeps its place in line.
func (db *DB) DeferJobs(ctx context.Context, jobs ...Job) error {
	if len(jobs) == 0 {
		return nil
	}
	return db.Write(ctx, func(tx *Tx) error {
		for _, j := range jobs {
			if _, err := tx.Exec(`UPDATE jobs SET lease_until = NULL, leased_by = NULL, attempts = attempts - 1 WHERE id = ? AND state = 'pending'`, j.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

// Outbound is what a worker needs to send a message.
type Outbound struct {
	// MessageKind is "text", or "template" (Text is then "name|language").
	MessageKind string
	Kind        lifeline.ChannelKind
	Channel     string
	To          lifeline.Sensitive // the conversation's reply address, else the contact's handle
	Text        lifeline.Sensitive
	// OptedOut says the contact has opted out of the channel since the
	// message was queued (SMS STOP): it must not be sent.
	OptedOut bool
}

// OutboundMessage opens a queued message for sending; EUNAVAILABLE while
// sealed, ENOTFOUND if it was erased.
func (db *DB) OutboundMessage(ctx context.Context, id lifeline.MessageID) (Outbound, error) {
	var o Outbound
	err := db.Read(ctx, func(tx *Tx) error {
		var body, handle, replyTo []byte
		var contact lifeline.ContactID
		var conv sql.NullString
		err := tx.QueryRow(`SELECT m.kind, m.body, m.contact_id, m.conversation_id, c.handle, c.channel, COALESCE(v.channel_name, ''), v.reply_to,
				EXISTS (SELECT 1 FROM opt_outs x WHERE x.contact_id = v.contact_id AND x.channel_kind = v.channel_kind AND x.channel_name = v.channel_name)
			FROM messages m JOIN contacts c ON c.id = m.contact_id LEFT JOIN conversations v ON v.id = m.conversation_id
			WHERE m.id = ? AND m.direction = 'out'`, id).Scan(&o.MessageKind, &body, &contact, &conv, &handle, &o.Kind, &o.Channel, &replyTo, &o.OptedOut)
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
		if _, err := tx.Exec(`UPDATE jobs SET state = 'done', lease_until = NULL, leased_by = NULL WHERE id = ?`, job.ID); err != nil {
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
			if _, err := tx.Exec(`UPDATE jobs SET state = 'failed', lease_until = NULL, leased_by = NULL, last_error = ? WHERE id = ?`, reason, job.ID); err != nil {
				return err
			}
			_, err := tx.Exec(`UPDATE messages SET status = 'failed', status_reason = ? WHERE id = ?`, reason, job.MessageID)
			return err
		}
		_, err := tx.Exec(`UPDATE jobs SET lease_until = NULL, leased_by = NULL, last_error = ?, run_after = ? WHERE id = ?`, reason, formatTime(retryAt), job.ID)
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
// a message that says so; QueueTemplate sends the template. A text longer
// than the channel's provider takes, counted as it counts
// (lifeline.MessageLength), is refused (EINVALID); so is any message to a
// contact who has opted out of the channel (SMS STOP), with ECONFLICT and
// a sentence naming the other channel kinds he has used (OptOut.Refusal).
func (db *DB) QueueReply(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, text string) (QueuedReply, error) {
	if text == "" {
		return QueuedReply{}, lifeline.Errorf(lifeline.EINVALID, "A reply needs some text.")
	}
	if len(text) > maxReplyBytes {
		// Past any provider's limit however it counts; checked before
		// anything is read. The channel's own rule is checked below.
		return QueuedReply{}, lifeline.Errorf(lifeline.EINVALID, "Not sent: the reply is far too long for any channel.")
	}
	return db.queueOutbound(ctx, by, conv, "conversation.reply", "text", text)
}

// maxReplyBytes bounds a reply before its channel is known: 4,096
// characters of four bytes each.
const maxReplyBytes = 4 * lifeline.MaxTelegramText

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
		if kind == "text" {
			if p := lifeline.MessageLength(channelKind, text).Problem(); p != "" {
				return lifeline.Errorf(lifeline.EINVALID, "%s", p)
			}
		}
		if o, err := conversationOptOut(tx, conv); err != nil || o != nil {
			if err != nil {
				return err
			}
			return lifeline.Errorf(lifeline.ECONFLICT, "%s", o.Refusal())
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
		} else if err := answered(tx, conv, channelKind, m.ID); err != nil {
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
func answered(tx *Tx, conv lifeline.ConversationID, kind lifeline.ChannelKind, id lifeline.MessageID) error {
	if _, err := tx.Exec(`UPDATE conversations SET last_activity_day = ?, waiting_seq = NULL, escalated = 0 WHERE id = ?`, lifeline.DayOf(tx.Now()).String(), conv); err != nil {
		return err
	}
	return enqueue(tx, id, conv, kind, PriorityReply)
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
			m            ConversationMessage
			ct, at, note []byte
			editedAt     []byte
			d, held      string
			edited       sql.NullString
		}
		rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.m.ID, &r.m.Direction, &r.m.Kind, &r.ct, &r.at, &r.m.Author, &r.m.Status, &r.m.StatusReason, &r.d,
				&r.edited, &r.m.OriginalMissing, &r.held, &r.m.DecidedBy, &r.note, &r.m.Answer, &r.m.AwaitingBot, &r.editedAt)
		}, `SELECT m.id, m.direction, m.kind, m.body, m.at, COALESCE(o.username, ''), m.status, m.status_reason, m.created_day,
				m.edited_day, m.original_missing = 1, m.held_for, COALESCE(d.username, ''), m.decision_note, m.answer,
				(m.direction = 'in' AND m.answer = '' AND m.hold = '' AND EXISTS (SELECT 1 FROM questionnaire_sessions q
					WHERE q.conversation_id = m.conversation_id AND q.state = 'active' AND q.awaits_identity = 1 AND m.rowid > q.last_rowid)),
				m.edited_at
			FROM messages m LEFT JOIN operators o ON o.id = m.author_id LEFT JOIN operators d ON d.id = m.decided_by
			WHERE m.conversation_id = ? AND m.hold <> 'quarantined' ORDER BY m.rowid`, conv)
		if err != nil {
			return err
		}
		versions, err := db.conversationVersions(tx, conv)
		if err != nil {
			return err
		}
		for _, r := range rs {
			// A message the bot is about to take as the answer to an
			// identity question is not opened: until it is taken, and
			// replaced by its marker, it shows as awaiting the bot.
			if !r.m.AwaitingBot {
				text, err := db.openMessage(tx, r.m.ID, contact, conv, r.ct)
				if err != nil {
					return fmt.Errorf("message %s: %w", r.m.ID, err)
				}
				r.m.Text = lifeline.Sensitive(text)
			}
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
			if r.edited.Valid {
				r.m.Edited = true
				if r.m.EditedDay, err = lifeline.ParseDay(r.edited.String); err != nil {
					return err
				}
			}
			if !r.m.AwaitingBot {
				// The body is itself an edit if the message was stored from
				// one: its original missing, or arrived since (seq < 0).
				vs := versions[r.m.ID]
				bodyIsEdit := r.m.OriginalMissing || len(r.editedAt) > 0 || slices.ContainsFunc(vs, func(v version) bool { return v.seq < 0 })
				bodyAt, err := db.openSealedTime(tx, messageEditedAtAAD(r.m.ID), r.editedAt)
				if err != nil {
					return fmt.Errorf("message %s: %w", r.m.ID, err)
				}
				withVersions(&r.m, vs, bodyIsEdit, bodyAt)
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

	// Edited: the contact edited the message (Text is its current text), or
	// it was stored from an edit whose original was unknown; EditedDay is the
	// day of the latest edit.
	Edited    bool
	EditedDay lifeline.Day
	// OriginalMissing: stored from an edit; the text first sent never came.
	OriginalMissing bool
	// Earlier are the message's texts before the current one, oldest first,
	// for those who may read the conversation.
	Earlier []lifeline.Sensitive

	// Answer, if set, is the key of the identity question (applicant.name,
	// relatives.birth_date, …) the message answered: Text is then only
	// AnswerMarker(Answer); the answer is in the case's identity
	// compartment.
	Answer string
	// AwaitingBot: the bot has yet to take the message, as the answer to
	// the identity question it waits on; Text is empty until then.
	AwaitingBot bool
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
