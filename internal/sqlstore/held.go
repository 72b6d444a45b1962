// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// HeldReply is a reply held for a supervisor (staged disclosure), opened.
type HeldReply struct {
	ID           lifeline.MessageID
	Conversation lifeline.ConversationID
	AssignedTo   lifeline.OperatorID // the conversation's operator, for need-to-know
	Author       lifeline.OperatorID
	AuthorName   string
	HeldFor      []lifeline.Disclosure
	Text         lifeline.Sensitive
	Day          lifeline.Day
}

// decisionNoteAAD binds a supervisor's note on a held reply to its row.
func decisionNoteAAD(id lifeline.MessageID) seal.AAD {
	return seal.AAD{Table: "messages", Column: "decision_note", Row: string(id)}
}

// HeldReplies lists the replies waiting for a supervisor, oldest first;
// EUNAVAILABLE while sealed.
func (db *DB) HeldReplies(ctx context.Context) ([]HeldReply, error) {
	var out []HeldReply
	err := db.Read(ctx, func(tx *Tx) error {
		type row struct {
			h          HeldReply
			ct         []byte
			held, d    string
			contact    lifeline.ContactID
			assignedTo sql.NullString
		}
		rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.h.ID, &r.h.Conversation, &r.contact, &r.assignedTo, &r.h.Author, &r.h.AuthorName, &r.held, &r.ct, &r.d)
		}, `SELECT m.id, m.conversation_id, m.contact_id, v.assigned_to, COALESCE(m.author_id, ''), COALESCE(o.username, ''), m.held_for, m.body, m.created_day
			FROM messages m JOIN conversations v ON v.id = m.conversation_id LEFT JOIN operators o ON o.id = m.author_id
			WHERE m.status = 'held' ORDER BY m.rowid`)
		if err != nil {
			return err
		}
		for _, r := range rs {
			text, err := db.openMessage(tx, r.h.ID, r.contact, r.h.Conversation, r.ct)
			if err != nil {
				return fmt.Errorf("message %s: %w", r.h.ID, err)
			}
			r.h.Text, r.h.HeldFor, r.h.AssignedTo = lifeline.Sensitive(text), lifeline.ParseDisclosures(r.held), lifeline.OperatorID(r.assignedTo.String)
			if r.h.Day, err = lifeline.ParseDay(r.d); err != nil {
				return err
			}
			out = append(out, r.h)
		}
		return nil
	})
	return out, unavailable(err)
}

// DecideHeld approves (the reply is queued to send, once) or rejects (it is
// never sent) a reply held for a supervisor, with the supervisor's note,
// sealed beside the reply for its author to read; it returns the reply's
// conversation. The decision is audited with the categories the reply was
// held for.
//
// Only a role that approves meetings (the supervisor) decides, and never
// on his own reply: EFORBIDDEN. EINVALID without a note; ENOTFOUND for no
// held reply of that id; ECONFLICT if it was decided already, or if it is
// approved once the WhatsApp window has closed.
func (db *DB) DecideHeld(ctx context.Context, by lifeline.Actor, id lifeline.MessageID, approve bool, note string) (lifeline.ConversationID, error) {
	if lifeline.Allowed(by.Role, lifeline.ActionMeetingApprove) != lifeline.GrantApprove {
		return "", lifeline.Errorf(lifeline.EFORBIDDEN, "A supervisor decides on held replies.")
	}
	if err := checkReason(note); err != nil {
		return "", err
	}
	var conv lifeline.ConversationID
	err := db.Write(ctx, func(tx *Tx) error {
		var author, status, held string
		var contact lifeline.ContactID
		var channelKind lifeline.ChannelKind
		var lastInbound sql.NullString
		err := tx.QueryRow(`SELECT m.conversation_id, m.contact_id, COALESCE(m.author_id, ''), m.status, m.held_for, v.channel_kind, v.last_inbound_hour
			FROM messages m JOIN conversations v ON v.id = m.conversation_id WHERE m.id = ? AND m.direction = 'out' AND m.held_for <> ''`, id).
			Scan(&conv, &contact, &author, &status, &held, &channelKind, &lastInbound)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such held reply.")
		}
		if err != nil {
			return err
		}
		if author == by.ID {
			return lifeline.Errorf(lifeline.EFORBIDDEN, "Another supervisor must decide on your own reply.")
		}
		if status != "held" {
			return lifeline.Errorf(lifeline.ECONFLICT, "This reply was decided already: it is %s.", status)
		}
		if approve {
			if o, err := conversationOptOut(tx, conv); err != nil || o != nil {
				if err != nil {
					return err
				}
				return lifeline.Errorf(lifeline.ECONFLICT, "%s", o.Refusal())
			}
		}
		if approve && !windowOpen(channelKind, lastInbound, tx.Now()) {
			return lifeline.Errorf(lifeline.ECONFLICT, "The WhatsApp 24-hour window is closed: this reply cannot be sent until the contact writes again.")
		}
		ct, err := db.sealField(tx, contactOwner(contact), messageOwner(id), seal.CompartmentConversation, decisionNoteAAD(id), []byte(note))
		if err != nil {
			return unavailable(err)
		}
		to, action := "rejected", "conversation.reply_reject"
		if approve {
			to, action = "queued", "conversation.reply_release"
		}
		res, err := tx.Exec(`UPDATE messages SET status = ?, decided_by = ?, decision_note = ? WHERE id = ? AND status = 'held'`, to, by.ID, ct, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return lifeline.Errorf(lifeline.ECONFLICT, "This reply was decided already.")
		}
		if approve {
			if err := answered(tx, conv, channelKind, id); err != nil {
				return err
			}
		}
		_, err = AppendAudit(tx, audit.Entry{Actor: by.ID, Role: string(by.Role), Action: action, Object: string(conv) + " " + string(id),
			Decision: audit.DecisionAllow, Reason: "held_for=" + held, RequestID: by.RequestID})
		return err
	})
	if err != nil {
		return "", err
	}
	return conv, nil
}
