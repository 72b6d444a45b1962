// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
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
	// absent are the handles FindContact found no contact for in this
	// write, which CreateContact need not look up again.
	absent map[string]bool
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

// FindContact finds a returning contact by the truncated blind index of
// its handle, confirming the candidates by decrypting their handles. It
// returns keys.ErrSealed while sealed: intake then threads by other means.
func (in *Ingest) FindContact(ch lifeline.ChannelKind, handle string) (lifeline.ContactID, bool, error) {
	if in.db.sealer == nil {
		return "", false, errNoSealer
	}
	ik, err := in.db.sealer.IndexKeys()
	if err != nil {
		return "", false, err
	}
	id, err := in.db.contactByHandle(in.tx, ik, ch, handle)
	if err == nil && id == "" {
		if in.absent == nil {
			in.absent = map[string]bool{}
		}
		in.absent[string(ch)+"\x00"+handle] = true
	}
	return id, id != "", err
}

// CreateContact stores a new contact (see DB.CreateContact).
func (in *Ingest) CreateContact(c *lifeline.Contact) error {
	k := string(c.Channel) + "\x00" + c.Handle.Reveal()
	checked := in.absent[k]
	delete(in.absent, k) // from now on it exists
	return in.db.createContact(in.tx, c, checked)
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
// provider's id of the message, by which status updates find an outbound
// message, and duplicates and edits an inbound one (FindInbound).
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

// Enqueue adds an outbox job to send a stored outbound message of a
// conversation on a channel of kind, at priority (see Priority).
func (in *Ingest) Enqueue(message lifeline.MessageID, conv lifeline.ConversationID, kind lifeline.ChannelKind, priority Priority) error {
	return enqueue(in.tx, message, conv, kind, priority)
}

// foldedReason is the status reason of an automatic message not sent
// because another message to the same contact went instead.
const foldedReason = "folded: another message went to the contact instead"

// enqueue queues a send job. Automatic messages yield (issue 10): a
// conversation has at most one pending automatic message, so one queued
// while another waits is folded into it, not sent; and a reply or a bot
// message folds the conversation's automatic messages not yet claimed,
// since the contact is being answered. A folded message is marked failed
// with foldedReason, its job folded.
func enqueue(tx *Tx, message lifeline.MessageID, conv lifeline.ConversationID, kind lifeline.ChannelKind, priority Priority) error {
	return enqueueAt(tx, message, conv, kind, priority, tx.Now())
}

// enqueueAt is enqueue with the time the job is due: messages queued in one
// transaction are due a microsecond apart, to go in order.
func enqueueAt(tx *Tx, message lifeline.MessageID, conv lifeline.ConversationID, kind lifeline.ChannelKind, priority Priority, due time.Time) error {
	if priority >= PriorityAutomatic {
		var pending int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM jobs WHERE conversation_id = ? AND state = 'pending' AND kind = 'send' AND priority >= ?`,
			conv, PriorityAutomatic).Scan(&pending); err != nil {
			return err
		}
		if pending > 0 {
			_, err := tx.Exec(`UPDATE messages SET status = 'failed', status_reason = ? WHERE id = ?`, foldedReason, message)
			return err
		}
	} else {
		if _, err := tx.Exec(`UPDATE messages SET status = 'failed', status_reason = ?
			WHERE id IN (SELECT message_id FROM jobs WHERE conversation_id = ? AND state = 'pending' AND kind = 'send' AND priority >= ? AND lease_until IS NULL)`,
			foldedReason, conv, PriorityAutomatic); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE jobs SET state = 'folded' WHERE conversation_id = ? AND state = 'pending' AND kind = 'send' AND priority >= ? AND lease_until IS NULL`,
			conv, PriorityAutomatic); err != nil {
			return err
		}
	}
	_, err := tx.Exec(`INSERT INTO jobs (id, kind, message_id, state, run_after, priority, channel_kind, conversation_id) VALUES (?, 'send', ?, 'pending', ?, ?, ?, ?)`,
		lifeline.NewID(), message, formatTime(due), priority, kind, conv)
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

// Inbound is an inbound message made ready for its write outside the
// writer, which every write waits for: the sender's contact, found or to
// be made, with its open conversation and its conversation key, from a
// cache or a snapshot; the keys the message may need, opened or made and
// wrapped in advance; the body and time sealed. The writer then checks,
// inside the transaction, that what was read still holds, and most of the
// time stores the message with one guarded INSERT (Ingest.StoreInbound);
// when anything changed in between, it does the whole work itself
// (Ingest.Use), as exactly as it always did.
type Inbound struct {
	contact      lifeline.ContactID // found, or to be made under this id
	found        bool
	conversation lifeline.ConversationID // the open conversation read, or ""
	message      lifeline.MessageID
	at           time.Time
	senderRef    []byte
	cacheKey     string // "" if not cached
	ref          []byte // the provider reference, or nil (see InboundArgs.Ref)
	edit         bool   // stored from an edit whose original is unknown

	body, sealedAt []byte      // sealed; nil unless StoreInbound may store them
	editedAt       []byte      // sealed: the provider's edit time of an edit whose original is unknown; nil if none
	keyID          []byte      // the stored key they are sealed under
	own            *premadeKey // or, while sealed, the message's own new key

	premade map[premadeName]premadeKey
}

// InboundArgs describe a message to prepare.
type InboundArgs struct {
	Kind    lifeline.ChannelKind
	Channel string // the channel's name
	Handle  string // the sender, normalized
	// SenderRef is the intake key's reference of the sender, by which it
	// may be blocked (see Ingest.IsBlocked).
	SenderRef []byte
	// Known is the contact the caller threaded the sender to while the
	// keys are sealed (no blind index to find it by), if any.
	Known lifeline.ContactID
	Body  lifeline.Sensitive
	// Ref, if not nil, is the provider reference the message is stored
	// under (see FindInbound): the intake key's HMAC of its provider id.
	Ref []byte
	// Edit: the message is an edit whose original is unknown; it is stored
	// marked edited, its original missing, and EditedAt (the provider's
	// edit time, if not zero) sealed beside it.
	Edit     bool
	EditedAt time.Time
}

// Contact is the contact the message belongs to, and whether it was found
// stored; if not, the id a new contact is to be made under (its keys are
// made already).
func (p *Inbound) Contact() (lifeline.ContactID, bool) { return p.contact, p.found }

// Message is the id the message is to be stored under.
func (p *Inbound) Message() lifeline.MessageID { return p.message }

// Ref is the provider reference the message is to be stored under, or nil.
func (p *Inbound) Ref() []byte { return p.ref }

// Edit reports whether the message is an edit whose original is unknown.
func (p *Inbound) Edit() bool { return p.edit }

// Conversation is the open conversation the message was stored in by
// StoreInbound.
func (p *Inbound) Conversation() lifeline.ConversationID { return p.conversation }

// Ready reports whether StoreInbound may store the message as prepared
// (if what was read still holds); if not, only the long way can.
func (p *Inbound) Ready() bool { return p.body != nil }

// inboundQuery reads, in one statement (one snapshot), a sender's contact
// (found by its handle, or the id the caller knows), the contact's open
// conversation on the channel and its conversation data key.
const inboundQuery = `SELECT c.id,
	(SELECT v.id FROM conversations v WHERE v.contact_id = c.id AND v.channel_kind = ? AND v.channel_name = ? AND v.state <> 'closed'
		ORDER BY v.opened_day DESC LIMIT 1),
	k.id, k.owner, k.compartment, k.epoch, k.wrapped
FROM (SELECT 1) AS one
LEFT JOIN contacts c ON c.id = ?
LEFT JOIN data_keys k ON k.owner = 'contact:' || c.id AND k.compartment = ?`

// inboundCache remembers, by channel and a memory-only HMAC of the
// sender's handle (DB.inboundKey), what
// PrepareInbound last read of a returning sender: its contact, open
// conversation and conversation key (wrapped). It spares the read, and the
// pages a reader has to fetch again after every commit; it is never
// trusted, since StoreInbound checks all of it inside the write, and an
// entry that failed the check is forgotten. It holds ids and keyed hashes
// under a key that never leaves memory, no key and no handle, and only
// while unsealed.
type inboundCache struct {
	mu sync.Mutex
	m  map[string]inboundEntry
}

type inboundEntry struct {
	contact      lifeline.ContactID
	conversation lifeline.ConversationID
	key          keys.WrappedKey
}

// inboundCacheSize bounds the cache: past it an arbitrary entry makes room,
// and its sender is read again next time.
const inboundCacheSize = 100_000

func (c *inboundCache) get(k string) (inboundEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e, ok
}

func (c *inboundCache) put(k string, e inboundEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]inboundEntry{}
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= inboundCacheSize {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = e
}

func (c *inboundCache) forget(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

func (c *inboundCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// PrepareInbound does, outside the writer, what storing an inbound message
// can do before its write. It must not be called inside a write.
func (db *DB) PrepareInbound(ctx context.Context, a InboundArgs) (*Inbound, error) {
	if db.sealer == nil {
		return nil, errNoSealer
	}
	p := &Inbound{message: lifeline.NewMessageID(), at: db.Now(), senderRef: a.SenderRef, ref: a.Ref, edit: a.Edit}
	ik, err := db.sealer.IndexKeys()
	sealed := errors.Is(err, keys.ErrSealed)
	if err != nil && !sealed {
		return nil, err
	}
	if sealed {
		db.inbound.clear()
	} else {
		// Unsealed, contacts are found by their handle alone, as inside
		// the write (Ingest.FindContact).
		a.Known = ""
		if _, _, ok := handleValue(a.Kind, a.Handle); ok {
			p.cacheKey = db.inboundKey(a.Kind, a.Channel, a.Handle)
		}
	}

	e, cached := db.inbound.get(p.cacheKey)
	if !cached || p.cacheKey == "" {
		if !sealed {
			err := db.Read(ctx, func(tx *Tx) error {
				var err error
				a.Known, err = db.contactByHandle(tx, ik, a.Kind, a.Handle)
				return err
			})
			if err != nil {
				return nil, err
			}
		}
		e, err = db.readInbound(ctx, a)
		if err != nil {
			return nil, err
		}
	}
	if e.contact == "" {
		// A new contact, as far as the snapshot tells: its keys are made
		// here, and the writer makes the rest (or finds that a write
		// since made the contact, and uses that).
		p.contact = lifeline.NewContactID()
		if _, err := p.premake(db.sealer, contactOwner(p.contact), seal.CompartmentRouting); err != nil {
			return nil, err
		}
		_, err := p.premake(db.sealer, contactOwner(p.contact), seal.CompartmentConversation)
		return p, err
	}
	p.contact, p.found, p.conversation = e.contact, true, e.conversation
	if e.key.Owner == "" {
		// The contact's first message: its conversation key is made here.
		_, err := p.premake(db.sealer, contactOwner(p.contact), seal.CompartmentConversation)
		return p, err
	}
	dk, err := db.sealer.OpenDataKey(e.key)
	switch {
	case errors.Is(err, keys.ErrSealed):
		// Sealed: the message goes under a key of its own, which Reseal
		// folds into the contact's later (see sealField).
		own, err := p.premake(db.sealer, messageOwner(p.message), seal.CompartmentConversation)
		if err != nil {
			return nil, err
		}
		p.own, dk = &own, own.dk
	case err != nil:
		return nil, err
	default:
		p.keyID = e.key.ID[:]
	}
	if p.conversation == "" {
		return p, nil // a new conversation: the writer opens it
	}
	if p.body, err = seal.Encrypt(dk, messageAAD(p.message, p.conversation), []byte(a.Body.Reveal())); err != nil {
		return nil, err
	}
	if p.sealedAt, err = seal.Encrypt(dk, messageAtAAD(p.message), sealTime(p.at)); err != nil {
		return nil, err
	}
	if a.Edit && !a.EditedAt.IsZero() {
		if p.editedAt, err = seal.Encrypt(dk, messageEditedAtAAD(p.message), sealTime(a.EditedAt)); err != nil {
			return nil, err
		}
	}
	if p.cacheKey != "" && p.own == nil && !cached {
		db.inbound.put(p.cacheKey, e)
	}
	return p, nil
}

// readInbound reads what PrepareInbound needs from the read pool.
func (db *DB) readInbound(ctx context.Context, a InboundArgs) (inboundEntry, error) {
	var e inboundEntry
	st, err := db.readStmt(ctx, inboundQuery)
	if err != nil {
		return e, err
	}
	var contact, conv, owner, compartment sql.NullString
	var epoch sql.NullInt64
	var kid, wrapped []byte
	err = st.QueryRowContext(ctx, a.Kind, a.Channel, a.Known, string(seal.CompartmentConversation)).
		Scan(&contact, &conv, &kid, &owner, &compartment, &epoch, &wrapped)
	if err != nil {
		return e, fmt.Errorf("prepare inbound: %w", err)
	}
	e.contact, e.conversation = lifeline.ContactID(contact.String), lifeline.ConversationID(conv.String)
	if kid != nil {
		if len(kid) != len(e.key.ID) {
			return e, fmt.Errorf("data key id of %d bytes", len(kid))
		}
		copy(e.key.ID[:], kid)
		e.key.Owner, e.key.Compartment, e.key.Epoch, e.key.Wrapped = owner.String, seal.Compartment(compartment.String), uint32(epoch.Int64), wrapped
	}
	return e, nil
}

// premake makes a data key for owner in c and wraps it, for the write to
// store if it needs it.
func (p *Inbound) premake(s Sealer, owner string, c seal.Compartment) (premadeKey, error) {
	dk, w, err := s.NewDataKey(owner, c)
	if err != nil {
		return premadeKey{}, err
	}
	if p.premade == nil {
		p.premade = map[premadeName]premadeKey{}
	}
	k := premadeKey{dk: dk, w: w}
	p.premade[premadeName{owner, c}] = k
	return k, nil
}

// Inbound messages stored by StoreInbound: only from a sender not blocked
// at the door, into a conversation that is still the contact's, open, and
// already marked with this day, this hour and a waiting message (so that
// nothing on it changes), and under a key that still exists.
const (
	insertInbound = `INSERT INTO messages (id, contact_id, conversation_id, direction, kind, body, at, status, hold, created_day, provider_ref, edited_day, original_missing, edited_at)
	SELECT ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?
	WHERE NOT EXISTS (SELECT 1 FROM blocked_senders WHERE channel_kind = ? AND sender_ref = ?)
	AND EXISTS (SELECT 1 FROM conversations WHERE id = ? AND contact_id = ? AND state = 'open'
		AND last_activity_day = ? AND last_inbound_hour = ? AND waiting_seq IS NOT NULL)`
	insertInboundKeyed = insertInbound + `
	AND EXISTS (SELECT 1 FROM data_keys WHERE id = ?)`
)

// StoreInbound stores a Ready message of the given kind from a sender of
// the given channel kind, with its hold, if the sender is not blocked and
// nothing read for it has changed since, and reports whether it did; if
// not, the caller
// takes the long way, with Use and the ordinary methods (IsBlocked,
// FindContact, CreateContact, OpenConversation, AddMessage).
func (in *Ingest) StoreInbound(p *Inbound, channel lifeline.ChannelKind, kind string, hold lifeline.Hold) (bool, error) {
	if !p.Ready() {
		return false, nil
	}
	day := lifeline.DayOf(p.at).String()
	hour := p.at.UTC().Truncate(time.Hour).Format(hourFormat)
	var editedDay any
	missing := 0
	if p.edit {
		editedDay, missing = day, 1
	}
	args := []any{p.message, p.contact, p.conversation, lifeline.Inbound, kind, p.body, p.sealedAt, hold, day, p.ref, editedDay, missing, p.editedAt,
		channel, p.senderRef, p.conversation, p.contact, day, hour}
	q := insertInbound
	if p.own == nil {
		q = insertInboundKeyed
		args = append(args, p.keyID)
	}
	res, err := in.tx.Exec(q, args...)
	if err != nil {
		return false, fmt.Errorf("store message: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if p.cacheKey != "" {
			in.db.inbound.forget(p.cacheKey)
		}
		return false, err
	}
	if p.own != nil {
		w := p.own.w
		if _, err := in.tx.Exec(`INSERT INTO data_keys (id, owner, compartment, epoch, wrapped, created_day) VALUES (?, ?, ?, ?, ?, ?)`,
			w.ID[:], w.Owner, string(w.Compartment), w.Epoch, w.Wrapped, day); err != nil {
			return false, fmt.Errorf("store data key: %w", err)
		}
	}
	return true, nil
}

// Use hands the keys made for p to the rest of the write, which stores
// those it needs instead of making them (see dataKey).
func (in *Ingest) Use(p *Inbound) {
	if len(p.premade) == 0 {
		return
	}
	if in.tx.premade == nil {
		in.tx.premade = map[premadeName]premadeKey{}
	}
	for n, k := range p.premade {
		in.tx.premade[n] = k
	}
}
