// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

// ConversationSummary is a conversation as a list shows it: ids, states and
// days, nothing sealed.
type ConversationSummary struct {
	ID              lifeline.ConversationID
	ContactID       lifeline.ContactID
	Kind            lifeline.ChannelKind
	Channel         string
	State           string
	Campaign        string
	AssignedTo      lifeline.OperatorID
	OpenedDay       lifeline.Day
	LastActivityDay lifeline.Day
	Messages        int

	// What need-to-know knows besides (see Object): the conversation's
	// teams, whether it has been handed to a case officer, and the hour
	// of its contact's latest message.
	Teams       []lifeline.Team
	HandedOff   bool
	LastMessage time.Time
}

// Conversations lists conversations, most recently active first, after the
// cursor (the id of the last one of the previous page; "" for the first).
func (db *DB) Conversations(ctx context.Context, limit int, after lifeline.ConversationID) ([]ConversationSummary, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	var out []ConversationSummary
	err := db.Read(ctx, func(tx *Tx) error {
		teams, err := teamsOf(tx)
		if err != nil {
			return err
		}
		rows, err := tx.Query(`SELECT v.id, v.contact_id, v.channel_kind, v.channel_name, v.state, v.campaign, COALESCE(v.assigned_to, ''),
				v.opened_day, v.last_activity_day, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = v.id AND m.hold <> 'quarantined'),
				`+scopeColumns+`
			FROM conversations v
			WHERE ? = '' OR (v.last_activity_day, v.rowid) < (SELECT last_activity_day, rowid FROM conversations WHERE id = ?)
			ORDER BY v.last_activity_day DESC, v.rowid DESC LIMIT ?`, after, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c ConversationSummary
			var opened, last string
			var sc scope
			if err := rows.Scan(append([]any{&c.ID, &c.ContactID, &c.Kind, &c.Channel, &c.State, &c.Campaign, &c.AssignedTo, &opened, &last, &c.Messages}, sc.dest()...)...); err != nil {
				return err
			}
			sc.apply(&c, teams)
			if c.OpenedDay, err = lifeline.ParseDay(opened); err != nil {
				return err
			}
			if c.LastActivityDay, err = lifeline.ParseDay(last); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return out, nil
}

// Counts are totals for tests, metrics and the demo: how many rows of each.
type Counts struct {
	Contacts, Conversations, Messages, Jobs, Events, Quarantined int
}

// Count counts rows.
func (db *DB) Count(ctx context.Context) (Counts, error) {
	var c Counts
	err := db.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow(`SELECT (SELECT COUNT(*) FROM contacts), (SELECT COUNT(*) FROM conversations), (SELECT COUNT(*) FROM messages),
			(SELECT COUNT(*) FROM jobs), (SELECT COUNT(*) FROM webhook_events), (SELECT COUNT(*) FROM quarantine)`).
			Scan(&c.Contacts, &c.Conversations, &c.Messages, &c.Jobs, &c.Events, &c.Quarantined)
	})
	return c, err
}
