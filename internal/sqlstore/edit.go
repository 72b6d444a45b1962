// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// Edits. An inbound message that can be edited or delivered again under a
// new provider event id carries a provider reference (messages.provider_ref:
// the intake key's HMAC of the channel, the sender and the provider's id of
// the message, never the ids). An edit of it adds a version
// (message_versions), sealed as bodies are; the text first stored stays in
// messages.body, so that an edit never has to open anything and intake
// keeps working while sealed.

// StoredInbound is an inbound message found by its provider reference.
type StoredInbound struct {
	ID           lifeline.MessageID
	Contact      lifeline.ContactID
	Conversation lifeline.ConversationID
	// OriginalMissing: the message was stored from an edit; the text first
	// sent has not arrived.
	OriginalMissing bool
}

// FindInbound finds the inbound message stored under a provider reference;
// false if there is none (never stored, or erased since).
func (in *Ingest) FindInbound(ref []byte) (StoredInbound, bool, error) {
	var m StoredInbound
	if ref == nil {
		return m, false, nil
	}
	var missing int
	err := in.tx.QueryRow(`SELECT id, contact_id, COALESCE(conversation_id, ''), original_missing FROM messages
		WHERE provider_ref = ? AND direction = 'in'`, ref).Scan(&m.ID, &m.Contact, &m.Conversation, &missing)
	if errors.Is(err, sql.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("find inbound message: %w", err)
	}
	m.OriginalMissing = missing == 1
	return m, true, nil
}

// AddEdit records a contact's edit of a stored inbound message: text becomes
// its current text, the texts before it are kept, and the message is marked
// edited today.
func (in *Ingest) AddEdit(m StoredInbound, text lifeline.Sensitive) error {
	if err := in.addVersion(m, text, `(SELECT COALESCE(MAX(seq), 0) + 1 FROM message_versions WHERE message_id = ?)`); err != nil {
		return err
	}
	_, err := in.tx.Exec(`UPDATE messages SET edited_day = ? WHERE id = ?`, lifeline.DayOf(in.tx.Now()).String(), m.ID)
	return err
}

// AddOriginal records the text first sent of a message that was stored
// from its edit (OriginalMissing): it becomes the earliest version, and the
// current text stays the edited one.
func (in *Ingest) AddOriginal(m StoredInbound, text lifeline.Sensitive) error {
	if err := in.addVersion(m, text, `(SELECT COALESCE(MIN(seq), 0) - 1 FROM message_versions WHERE message_id = ?)`); err != nil {
		return err
	}
	_, err := in.tx.Exec(`UPDATE messages SET original_missing = 0 WHERE id = ?`, m.ID)
	return err
}

// addVersion stores a version of m numbered by the seq expression (which
// takes the message id).
//
// A message the bot took as the answer to an identity question keeps only
// its marker: an edit of it is stored as the marker too, never the text
// (the answer lives in the identity compartment; see RecordIdentityAnswer).
func (in *Ingest) addVersion(m StoredInbound, text lifeline.Sensitive, seq string) error {
	var answer string
	if err := in.tx.QueryRow(`SELECT answer FROM messages WHERE id = ?`, m.ID).Scan(&answer); err != nil {
		return fmt.Errorf("find message: %w", err)
	}
	if answer != "" {
		text = lifeline.Sensitive(AnswerMarker(answer))
	}
	id := string(lifeline.NewID())
	ct, err := in.db.sealField(in.tx, contactOwner(m.Contact), versionOwner(id), seal.CompartmentConversation, versionAAD(id), []byte(text.Reveal()))
	if err != nil {
		return fmt.Errorf("seal message version: %w", err)
	}
	_, err = in.tx.Exec(`INSERT INTO message_versions (id, message_id, seq, body, created_day) VALUES (?, ?, `+seq+`, ?, ?)`,
		id, m.ID, m.ID, ct, lifeline.DayOf(in.tx.Now()).String())
	if err != nil {
		return fmt.Errorf("store message version: %w", err)
	}
	return nil
}

// versionOwner owns the key a version is sealed under while the keys are
// sealed; Reseal folds it into the contact's.
func versionOwner(id string) string { return "version:" + id }

// versionAAD binds a version's sealed text to its row.
func versionAAD(id string) seal.AAD {
	return seal.AAD{Table: "message_versions", Column: "body", Row: id}
}

// version is one stored version of a message, opened.
type version struct {
	message lifeline.MessageID
	seq     int
	text    lifeline.Sensitive
}

// conversationVersions reads the versions of a conversation's messages, by
// message, in seq order.
func (db *DB) conversationVersions(tx *Tx, conv lifeline.ConversationID) (map[lifeline.MessageID][]version, error) {
	type row struct {
		id string
		v  version
		ct []byte
	}
	rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
		return r, rows.Scan(&r.id, &r.v.message, &r.v.seq, &r.ct)
	}, `SELECT x.id, x.message_id, x.seq, x.body FROM message_versions x JOIN messages m ON m.id = x.message_id
		WHERE m.conversation_id = ? ORDER BY x.message_id, x.seq`, conv)
	if err != nil {
		return nil, err
	}
	out := map[lifeline.MessageID][]version{}
	for _, r := range rs {
		text, err := db.openField(tx, versionAAD(r.id), r.ct)
		if err != nil {
			return nil, fmt.Errorf("message %s version %d: %w", r.v.message, r.v.seq, err)
		}
		r.v.text = lifeline.Sensitive(text)
		out[r.v.message] = append(out[r.v.message], r.v)
	}
	return out, nil
}

// withVersions sets m's current text and earlier texts from the message's
// stored body and its versions (in seq order): the body is version 0.
func withVersions(m *ConversationMessage, vs []version) {
	all := make([]lifeline.Sensitive, 0, len(vs)+1)
	placed := false
	for _, v := range vs {
		if v.seq > 0 && !placed {
			all, placed = append(all, m.Text), true
		}
		all = append(all, v.text)
	}
	if !placed {
		all = append(all, m.Text)
	}
	m.Text = all[len(all)-1]
	m.Earlier = all[:len(all)-1]
}

// resealVersions re-encrypts, after an unseal, the versions stored while
// sealed (each under a key of its own) under their contact's conversation
// key, and shreds their own keys.
func (db *DB) resealVersions(tx *Tx) (int, error) {
	type pending struct {
		id      string
		contact lifeline.ContactID
		ct      []byte
	}
	ps, err := queryAll(tx, func(rows *sql.Rows) (p pending, err error) {
		return p, rows.Scan(&p.id, &p.contact, &p.ct)
	}, `SELECT x.id, m.contact_id, x.body FROM message_versions x JOIN messages m ON m.id = x.message_id
		JOIN data_keys k ON k.owner = 'version:' || x.id`)
	if err != nil {
		return 0, err
	}
	for _, p := range ps {
		plain, err := db.openField(tx, versionAAD(p.id), p.ct)
		if err != nil {
			return 0, err
		}
		dk, err := db.sealingKey(tx, contactOwner(p.contact), "", seal.CompartmentConversation)
		if err != nil {
			return 0, err
		}
		ct, err := seal.Encrypt(dk, versionAAD(p.id), plain)
		if err != nil {
			return 0, err
		}
		if _, err := tx.Exec(`UPDATE message_versions SET body = ? WHERE id = ?`, ct, p.id); err != nil {
			return 0, err
		}
		ids, err := db.deleteDataKeys(tx, versionOwner(p.id))
		if err != nil {
			return 0, err
		}
		db.sealer.Forget(ids...)
	}
	return len(ps), nil
}

// MarkEditOfUnknown marks a message just stored from an edit whose
// original is unknown: edited today, its original missing.
func (in *Ingest) MarkEditOfUnknown(id lifeline.MessageID) error {
	_, err := in.tx.Exec(`UPDATE messages SET edited_day = ?, original_missing = 1 WHERE id = ?`, lifeline.DayOf(in.tx.Now()).String(), id)
	return err
}
