// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

// Queue names the console's inbox queues.
type Queue string

// The queues. A conversation is waiting for us while its contact's latest
// message is unanswered (waiting_seq is set), and waiting on the contact
// once answered.
const (
	QueueUnassigned Queue = "unassigned" // not closed, no one assigned
	QueueMine       Queue = "mine"       // not closed, assigned to the asker
	QueueOpen       Queue = "open"       // not closed
	QueueWaiting    Queue = "waiting"    // not closed, answered: waiting on the contact
	QueueClosed     Queue = "closed"
)

// Queues lists the queues in the order the console shows them.
var Queues = []Queue{QueueUnassigned, QueueMine, QueueOpen, QueueWaiting, QueueClosed}

// ValidQueue reports whether q names a queue.
func ValidQueue(q Queue) bool {
	for _, x := range Queues {
		if q == x {
			return true
		}
	}
	return false
}

// InboxQuery selects an inbox queue.
type InboxQuery struct {
	Queue    Queue
	Stream   string              // "" for every stream
	Operator lifeline.OperatorID // whose "mine" queue
	Limit    int                 // default 100, at most 500
}

// InboxItem is one conversation in a queue: routing fields only, and the
// exact time its contact has waited since, opened from the sealed message
// time (the zero time if it waits for nothing).
type InboxItem struct {
	ConversationSummary
	Stream       string
	Language     string
	AssignedName string
	Position     int  // in a queue: 1 for the contact who has waited longest; 0 if not waiting
	Waiting      bool // the contact waits for an answer (set by Conversation; a queue gives Position)
	WaitingSince time.Time
	Escalated    bool
	WindowClosed bool    // WhatsApp only: past 24 hours since the contact wrote, only a template may go (set by Conversation)
	Quarantined  int     // messages held past their sender's storage cap, not among Messages (set by Conversation)
	CaseCode     string  // the code name of the contact's case, if any
	OptOut       *OptOut // the contact has opted out of this channel (SMS STOP): nothing can be sent; nil if not (set by Conversation)
	Bot          BotState
}

// BotState is where the registration bot stands in a conversation, as a
// queue shows it.
type BotState struct {
	State    string // active, paused, completing; "" when it has no session or is done
	PausedBy string // while paused: contact, operator or bot
	Handoff  string // why the bot handed the contact to operators (question, unusable), while paused; "" otherwise
}

// HandedOff reports whether the bot handed the contact to operators and no
// operator has taken over yet.
func (b BotState) HandedOff() bool { return b.State == QuestionnairePaused && b.PausedBy == "bot" }

// botColumns read a conversation v's BotState from its session q (LEFT JOIN).
const botColumns = `CASE WHEN q.state IN ('active', 'paused', 'completing') THEN q.state ELSE '' END,
	CASE WHEN q.state = 'paused' THEN q.paused_by ELSE '' END, CASE WHEN q.state = 'paused' THEN q.handoff ELSE '' END`

// Pseudonym is how the console names a contact who has no case yet: a short
// tag drawn from the random contact id, never from personal data.
func Pseudonym(id lifeline.ContactID) string {
	s := strings.ToUpper(string(id))
	if len(s) > 6 {
		s = s[:6]
	}
	return "#" + s
}

func queueWhere(q Queue) string {
	switch q {
	case QueueUnassigned:
		return `v.state <> 'closed' AND v.assigned_to IS NULL`
	case QueueMine:
		return `v.state <> 'closed' AND v.assigned_to = ?2`
	case QueueWaiting:
		return `v.state <> 'closed' AND v.waiting_seq IS NULL`
	case QueueClosed:
		return `v.state = 'closed'`
	default:
		return `v.state <> 'closed'`
	}
}

// Inbox lists a queue: conversations waiting longest first, then the most
// recently active. EUNAVAILABLE while sealed (waiting times are sealed).
func (db *DB) Inbox(ctx context.Context, q InboxQuery) ([]InboxItem, error) {
	if !ValidQueue(q.Queue) {
		return nil, lifeline.Errorf(lifeline.EINVALID, "Unknown queue.")
	}
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	var out []InboxItem
	err := db.Read(ctx, func(tx *Tx) error {
		type row struct {
			it  InboxItem
			mid sql.NullString
			at  []byte
			pos sql.NullInt64
		}
		teams, err := teamsOf(tx)
		if err != nil {
			return err
		}
		rows, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			var opened, last string
			var sc scope
			err = rows.Scan(append([]any{&r.it.ID, &r.it.ContactID, &r.it.Kind, &r.it.Channel, &r.it.State, &r.it.Campaign, &r.it.AssignedTo,
				&r.it.AssignedName, &r.it.Stream, &r.it.Language, &r.it.Escalated, &opened, &last, &r.mid, &r.at, &r.pos, &r.it.CaseCode,
				&r.it.Bot.State, &r.it.Bot.PausedBy, &r.it.Bot.Handoff}, sc.dest()...)...)
			sc.apply(&r.it.ConversationSummary, teams)
			if err == nil {
				r.it.OpenedDay, err = lifeline.ParseDay(opened)
			}
			if err == nil {
				r.it.LastActivityDay, err = lifeline.ParseDay(last)
			}
			return r, err
		}, `SELECT v.id, v.contact_id, v.channel_kind, v.channel_name, v.state, v.campaign, COALESCE(v.assigned_to, ''),
				COALESCE(o.username, ''), v.stream, v.language, v.escalated, v.opened_day, v.last_activity_day, m.id, m.at,
				CASE WHEN v.waiting_seq IS NULL THEN NULL ELSE
					(SELECT COUNT(*) FROM conversations w WHERE w.waiting_seq <= v.waiting_seq AND w.state <> 'closed'
						AND (w.assigned_to IS NULL) = (v.assigned_to IS NULL)) END,
				COALESCE((SELECT cs.code_name FROM contacts k JOIN cases cs ON cs.id = k.case_id WHERE k.id = v.contact_id), ''),
				`+botColumns+`, `+scopeColumns+`
			FROM conversations v
			LEFT JOIN operators o ON o.id = v.assigned_to
			LEFT JOIN messages m ON m.rowid = `+waitingMessage+`
			LEFT JOIN questionnaire_sessions q ON q.conversation_id = v.id
			WHERE `+queueWhere(q.Queue)+` AND (?1 = '' OR v.stream = ?1)
			ORDER BY v.waiting_seq IS NULL, v.waiting_seq, v.last_activity_day DESC, v.rowid DESC
			LIMIT ?3`, q.Stream, q.Operator, q.Limit)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r.pos.Valid {
				r.it.Position = int(r.pos.Int64)
			}
			if r.mid.Valid {
				t, err := db.openTime(tx, lifeline.MessageID(r.mid.String), r.at)
				if err != nil {
					return fmt.Errorf("conversation %s: %w", r.it.ID, err)
				}
				r.it.WaitingSince = t
			}
			out = append(out, r.it)
		}
		return nil
	})
	return out, unavailable(err)
}

// QueueCounts counts each queue, for the console's live badges.
func (db *DB) QueueCounts(ctx context.Context, me lifeline.OperatorID, stream string) (map[Queue]int, error) {
	out := map[Queue]int{}
	err := db.Read(ctx, func(tx *Tx) error {
		var un, mine, open, waiting, closed int
		err := tx.QueryRow(`SELECT
				COALESCE(SUM(state <> 'closed' AND assigned_to IS NULL), 0),
				COALESCE(SUM(state <> 'closed' AND assigned_to = ?2), 0),
				COALESCE(SUM(state <> 'closed'), 0),
				COALESCE(SUM(state <> 'closed' AND waiting_seq IS NULL), 0),
				COALESCE(SUM(state = 'closed'), 0)
			FROM conversations WHERE ?1 = '' OR stream = ?1`, stream, me).Scan(&un, &mine, &open, &waiting, &closed)
		out[QueueUnassigned], out[QueueMine], out[QueueOpen], out[QueueWaiting], out[QueueClosed] = un, mine, open, waiting, closed
		return err
	})
	return out, err
}

// Conversation returns one conversation as a queue shows it, without its
// waiting time; ENOTFOUND if there is none.
func (db *DB) Conversation(ctx context.Context, id lifeline.ConversationID) (*InboxItem, error) {
	var it InboxItem
	err := db.Read(ctx, func(tx *Tx) error {
		var opened, last string
		var lastInbound sql.NullString
		var sc scope
		err := tx.QueryRow(`SELECT v.id, v.contact_id, v.channel_kind, v.channel_name, v.state, v.campaign, COALESCE(v.assigned_to, ''),
				COALESCE(o.username, ''), v.stream, v.language, v.escalated, v.opened_day, v.last_activity_day, v.waiting_seq IS NOT NULL, v.last_inbound_hour,
				(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = v.id AND m.hold <> 'quarantined'),
				(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = v.id AND m.hold = 'quarantined'), `+botColumns+`, `+scopeColumns+`
			FROM conversations v LEFT JOIN operators o ON o.id = v.assigned_to
			LEFT JOIN questionnaire_sessions q ON q.conversation_id = v.id WHERE v.id = ?`, id).
			Scan(append([]any{&it.ID, &it.ContactID, &it.Kind, &it.Channel, &it.State, &it.Campaign, &it.AssignedTo, &it.AssignedName,
				&it.Stream, &it.Language, &it.Escalated, &opened, &last, &it.Waiting, &lastInbound, &it.Messages, &it.Quarantined,
				&it.Bot.State, &it.Bot.PausedBy, &it.Bot.Handoff}, sc.dest()...)...)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
		}
		if err != nil {
			return err
		}
		var teams map[lifeline.OperatorID][]lifeline.Team
		if it.AssignedTo != "" {
			ts, err := operatorTeams(tx, it.AssignedTo)
			if err != nil {
				return err
			}
			teams = map[lifeline.OperatorID][]lifeline.Team{it.AssignedTo: ts}
		}
		sc.apply(&it.ConversationSummary, teams)
		it.WindowClosed = !windowOpen(it.Kind, lastInbound, tx.Now())
		if it.OptOut, err = conversationOptOut(tx, it.ID); err != nil {
			return err
		}
		if it.OpenedDay, err = lifeline.ParseDay(opened); err != nil {
			return err
		}
		it.LastActivityDay, err = lifeline.ParseDay(last)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &it, nil
}

// ReleaseQuarantined releases a conversation's quarantined messages, held
// past their sender's storage cap: they take their places among its
// messages, in the order they arrived, as deferred messages (shown, no bot
// step), and their files are queued for fetching, spaced as deferred
// files are. Audited (conversation.release). It returns how
// many it released; ENOTFOUND if there is no such conversation,
// ECONFLICT if it holds none. The caller checks that by may reply there.
func (db *DB) ReleaseQuarantined(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID) (int, error) {
	var n int64
	err := db.audited(ctx, by, "conversation.release", string(conv), "", func(tx *Tx) error {
		var one int
		err := tx.QueryRow(`SELECT 1 FROM conversations WHERE id = ?`, conv).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
		}
		if err != nil {
			return err
		}
		// Their files are queued first, spaced as deferred ones.
		if err := db.releaseMedia(tx, conv); err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE messages SET hold = ? WHERE conversation_id = ? AND hold = ?`, lifeline.HoldDeferred, conv, lifeline.HoldQuarantined)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if n == 0 {
			return lifeline.Errorf(lifeline.ECONFLICT, "No messages are held in quarantine in this conversation.")
		}
		return nil
	})
	return int(n), err
}

// AddNote stores an operator's internal note on a conversation: sealed like
// a message, never sent. Audited (the entry holds ids, never the text).
func (db *DB) AddNote(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, text string) (lifeline.MessageID, error) {
	if strings.TrimSpace(text) == "" || len(text) > 8192 {
		return "", lifeline.Errorf(lifeline.EINVALID, "A note is 1 to 8192 bytes of text.")
	}
	m := &lifeline.Message{ID: lifeline.NewMessageID(), Direction: lifeline.Note, Body: lifeline.Sensitive(text), Author: lifeline.OperatorID(by.ID)}
	err := db.audited(ctx, by, "conversation.note", string(conv)+" "+string(m.ID), "", func(tx *Tx) error {
		err := tx.QueryRow(`SELECT contact_id FROM conversations WHERE id = ?`, conv).Scan(&m.ContactID)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
		}
		if err != nil {
			return err
		}
		return unavailable(db.addMessage(tx, m, conv, "note", nil, ""))
	})
	if err != nil {
		return "", err
	}
	return m.ID, nil
}

// SetConversationState closes or reopens a conversation, audited. Closing
// takes it out of the waiting queue; a new message from the contact opens
// a closed conversation's successor, not the closed one.
func (db *DB) SetConversationState(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, state string) error {
	if state != "open" && state != "closed" {
		return lifeline.Errorf(lifeline.EINVALID, "A conversation is open or closed.")
	}
	return db.audited(ctx, by, "conversation."+map[string]string{"open": "reopen", "closed": "close"}[state], string(conv), "", func(tx *Tx) error {
		q := `UPDATE conversations SET state = 'open', last_activity_day = ? WHERE id = ? AND state = 'closed'`
		if state == "closed" {
			q = `UPDATE conversations SET state = 'closed', waiting_seq = NULL, escalated = 0, last_activity_day = ? WHERE id = ? AND state <> 'closed'`
		}
		res, err := tx.Exec(q, lifeline.DayOf(tx.Now()).String(), conv)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			if err := tx.QueryRow(`SELECT 1 FROM conversations WHERE id = ?`, conv).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
			}
			return lifeline.Errorf(lifeline.ECONFLICT, "The conversation is %s already.", state)
		}
		return nil
	})
}
