// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// Ingest is the store as intake sees it inside one write: every event of a
// webhook, its dedupe key and the jobs it causes commit together.
type Ingest struct {
	db *DB
	tx *Tx
}

// Ingest runs fn in one write (group-committed with other webhooks) and
// returns once it is durable.
func (db *DB) Ingest(ctx context.Context, fn func(in *Ingest) error) error {
	return db.Write(ctx, func(tx *Tx) error { return fn(&Ingest{db: db, tx: tx}) })
}

// Now is the write's clock.
func (in *Ingest) Now() time.Time { return in.tx.Now() }

// MarkSeen records a provider event's dedupe key and reports whether it is
// new; false means a retry or a duplicate, which must store nothing.
func (in *Ingest) MarkSeen(kind lifeline.ChannelKind, name string, ref []byte) (bool, error) {
	res, err := in.tx.Exec(`INSERT INTO webhook_events (channel_kind, channel_name, event_ref, received_day) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, kind, name, ref, lifeline.DayOf(in.tx.Now()).String())
	if err != nil {
		return false, fmt.Errorf("dedupe: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FindContact finds a returning contact by the exact blind index of its
// handle. It returns keys.ErrSealed while sealed: intake then threads by
// other means.
func (in *Ingest) FindContact(ch lifeline.ChannelKind, handle string) (lifeline.ContactID, bool, error) {
	if in.db.sealer == nil {
		return "", false, errNoSealer
	}
	ik, err := in.db.sealer.IndexKeys()
	if err != nil {
		return "", false, err
	}
	exact, _ := handleIndexes(ik, ch, handle)
	if exact == nil {
		return "", false, nil
	}
	var id lifeline.ContactID
	err = in.tx.QueryRow(`SELECT id FROM contacts WHERE channel = ? AND handle_index = ?`, ch, exact).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return id, err == nil, err
}

// CreateContact stores a new contact (see DB.CreateContact).
func (in *Ingest) CreateContact(c *lifeline.Contact) error {
	return in.db.createContact(in.tx, c)
}

// OpenConversation returns the contact's open (or waiting) conversation on
// the channel, or opens one; created says which. A campaign code is kept on
// a new conversation.
func (in *Ingest) OpenConversation(contact lifeline.ContactID, kind lifeline.ChannelKind, name, campaign string, replyTo lifeline.Sensitive) (lifeline.ConversationID, bool, error) {
	var id lifeline.ConversationID
	err := in.tx.QueryRow(`SELECT id FROM conversations WHERE contact_id = ? AND channel_kind = ? AND channel_name = ? AND state <> 'closed'
		ORDER BY opened_day DESC LIMIT 1`, contact, kind, name).Scan(&id)
	day := lifeline.DayOf(in.tx.Now()).String()
	hour := in.tx.Now().UTC().Truncate(time.Hour).Format(hourFormat)
	if err == nil {
		// Most messages change nothing here: skip the write then, and with it
		// a dirty page in the commit.
		// waiting_seq marks the first unanswered message's place in the
		// queue: the rowid the message about to be stored will get.
		_, err = in.tx.Exec(`UPDATE conversations SET last_activity_day = ?, last_inbound_hour = ?, state = 'open',
				waiting_seq = COALESCE(waiting_seq, (SELECT IFNULL(MAX(rowid), 0) + 1 FROM messages))
			WHERE id = ? AND (last_activity_day <> ? OR last_inbound_hour IS NOT ? OR state <> 'open' OR waiting_seq IS NULL)`, day, hour, id, day, hour)
		return id, false, err
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", false, err
	}
	id = lifeline.NewConversationID()
	var sealedReplyTo []byte
	if !replyTo.IsEmpty() {
		aad := seal.AAD{Table: "conversations", Column: "reply_to", Row: string(id)}
		if sealedReplyTo, err = in.db.sealField(in.tx, contactOwner(contact), "conversation:"+string(id), seal.CompartmentRouting, aad, []byte(replyTo.Reveal())); err != nil {
			return "", false, err
		}
	}
	_, err = in.tx.Exec(`INSERT INTO conversations (id, contact_id, channel_kind, channel_name, state, campaign, reply_to, opened_day, last_activity_day, last_inbound_hour, waiting_seq)
		VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, (SELECT IFNULL(MAX(rowid), 0) + 1 FROM messages))`, id, contact, kind, name, campaign, sealedReplyTo, day, day, hour)
	return id, true, err
}

// AddMessage stores a message of a conversation, sealed (see
// DB.AddMessage). providerRef, if not nil, is the keyed HMAC of the
// provider's id of the message, by which status updates find it.
func (in *Ingest) AddMessage(m *lifeline.Message, conversation lifeline.ConversationID, kind string, providerRef []byte, status string) error {
	return in.db.addMessage(in.tx, m, conversation, kind, providerRef, status)
}

// SetMessageStatus records a delivery status of an outbound message found
// by its provider reference; false if no message has it (a status of a
// message sent by another system, or one erased since).
func (in *Ingest) SetMessageStatus(providerRef []byte, status, reason string) (bool, error) {
	// Statuses arrive out of order (WIRE-FORMATS §0): a status only moves a
	// message forward, queued → sent → delivered → read, and failed is final.
	res, err := in.tx.Exec(`UPDATE messages SET status = ?, status_reason = ?
		WHERE provider_ref = ? AND direction = 'out' AND status <> 'failed'
		AND (? = 'failed' OR `+statusRank(`status`)+` < `+statusRank(`?`)+`)`, status, reason, providerRef, status, status)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// statusRank is the SQL rank of a delivery status expression.
func statusRank(expr string) string {
	return `(CASE ` + expr + ` WHEN 'queued' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 ELSE 0 END)`
}

// Enqueue adds an outbox job to send a stored outbound message.
func (in *Ingest) Enqueue(message lifeline.MessageID) error {
	return enqueue(in.tx, message)
}

func enqueue(tx *Tx, message lifeline.MessageID) error {
	_, err := tx.Exec(`INSERT INTO jobs (id, kind, message_id, state, run_after) VALUES (?, 'send', ?, 'pending', ?)`,
		lifeline.NewID(), message, formatTime(tx.Now()))
	return err
}

// Quarantine keeps a sealed copy of an authentic body that did not parse.
func (db *DB) Quarantine(ctx context.Context, kind lifeline.ChannelKind, name, reason string, body []byte) error {
	return db.Write(ctx, func(tx *Tx) error {
		id := lifeline.NewID()
		owner := "quarantine:" + string(id)
		ct, err := db.sealField(tx, owner, "", seal.CompartmentConversation, seal.AAD{Table: "quarantine", Column: "body", Row: string(id)}, body)
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO quarantine (id, channel_kind, channel_name, reason, body, received_day) VALUES (?, ?, ?, ?, ?, ?)`,
			id, kind, name, reason, ct, lifeline.DayOf(tx.Now()).String())
		return err
	})
}

// hourFormat stores an hour, UTC.
const hourFormat = "2006-01-02T15Z"

// WhatsAppWindow is Meta's customer-service window: a business may send a
// free-form message only within it of the contact's latest message.
const WhatsAppWindow = 24 * time.Hour

// ErrSealed is keys.ErrSealed, for callers of Ingest.
var ErrSealed = keys.ErrSealed
