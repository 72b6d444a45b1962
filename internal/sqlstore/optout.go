// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/lifeline-hotline/lifeline"
)

// Opt-out sources.
const (
	OptOutStop  = "stop"  // the contact texted a STOP keyword
	OptOut21610 = "21610" // the provider refused a send: the recipient has opted out
)

// OptOut is a contact's opt-out of a channel (SMS STOP): nothing may be
// sent to him there until he opts in again (START).
type OptOut struct {
	Since  lifeline.Day
	Source string // OptOutStop or OptOut21610
	// Others are the other channel kinds this contact, or another contact
	// of his case, has written on and may still be answered on: the kinds
	// only, never a handle.
	Others []lifeline.ChannelKind
}

// SetOptOut records, in an intake write, that a contact opted out of the
// channel (out) or back in. Opting out twice keeps the first day.
func (in *Ingest) SetOptOut(contact lifeline.ContactID, kind lifeline.ChannelKind, name string, out bool) error {
	return setOptOut(in.tx, contact, kind, name, out, OptOutStop)
}

func setOptOut(tx *Tx, contact lifeline.ContactID, kind lifeline.ChannelKind, name string, out bool, source string) error {
	if !out {
		_, err := tx.Exec(`DELETE FROM opt_outs WHERE contact_id = ? AND channel_kind = ? AND channel_name = ?`, contact, kind, name)
		return err
	}
	_, err := tx.Exec(`INSERT INTO opt_outs (contact_id, channel_kind, channel_name, source, since_day) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, contact, kind, name, source, lifeline.DayOf(tx.Now()).String())
	return err
}

// MarkOptedOut records that the provider refused to send a message
// because its recipient has opted out (Twilio error 21610), so that no
// further reply is queued to him on that channel.
func (db *DB) MarkOptedOut(ctx context.Context, message lifeline.MessageID) error {
	return db.Write(ctx, func(tx *Tx) error {
		var contact lifeline.ContactID
		var kind lifeline.ChannelKind
		var name string
		err := tx.QueryRow(`SELECT v.contact_id, v.channel_kind, v.channel_name FROM messages m JOIN conversations v ON v.id = m.conversation_id
			WHERE m.id = ?`, message).Scan(&contact, &kind, &name)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // erased meanwhile
		}
		if err != nil {
			return err
		}
		return setOptOut(tx, contact, kind, name, true, OptOut21610)
	})
}

// conversationOptOut reads the opt-out of a conversation's contact on its
// channel; nil if there is none.
func conversationOptOut(tx *Tx, conv lifeline.ConversationID) (*OptOut, error) {
	var o OptOut
	var day string
	var contact lifeline.ContactID
	var kind lifeline.ChannelKind
	var name string
	err := tx.QueryRow(`SELECT o.since_day, o.source, v.contact_id, v.channel_kind, v.channel_name
		FROM conversations v JOIN opt_outs o ON o.contact_id = v.contact_id AND o.channel_kind = v.channel_kind AND o.channel_name = v.channel_name
		WHERE v.id = ?`, conv).Scan(&day, &o.Source, &contact, &kind, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if o.Since, err = lifeline.ParseDay(day); err != nil {
		return nil, err
	}
	// The contact's other conversations, and those of the other contacts
	// of his case, on channels he has not opted out of.
	o.Others, err = queryAll(tx, func(rows *sql.Rows) (k lifeline.ChannelKind, err error) { return k, rows.Scan(&k) },
		`SELECT DISTINCT v.channel_kind FROM conversations v JOIN contacts c ON c.id = v.contact_id
		WHERE (c.id = ? OR c.case_id = (SELECT case_id FROM contacts WHERE id = ?))
			AND NOT (v.contact_id = ? AND v.channel_kind = ? AND v.channel_name = ?)
			AND NOT EXISTS (SELECT 1 FROM opt_outs x WHERE x.contact_id = v.contact_id AND x.channel_kind = v.channel_kind AND x.channel_name = v.channel_name)`,
		contact, contact, contact, kind, name)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(o.Others, func(a, b lifeline.ChannelKind) int {
		return slices.Index(lifeline.ChannelKinds(), a) - slices.Index(lifeline.ChannelKinds(), b)
	})
	return &o, nil
}

// Refusal is the sentence that refuses a reply to an opted-out contact.
func (o *OptOut) Refusal() string {
	var b strings.Builder
	b.WriteString("Not sent: the contact has opted out of SMS from this number (he texted STOP")
	if o.Source == OptOut21610 {
		b.Reset()
		b.WriteString("Not sent: the contact has opted out of SMS from this number (Twilio refused a message with error 21610")
	}
	b.WriteString("), and Twilio delivers nothing more until he texts START. ")
	if len(o.Others) == 0 {
		b.WriteString("He has written on no other channel.")
		return b.String()
	}
	b.WriteString("He has also written on: ")
	for i, k := range o.Others {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.Title())
	}
	b.WriteString(".")
	return b.String()
}
