// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

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

// AddEdit records a contact's edit of a stored inbound message, made at
// editedAt (the provider's edit time; zero if it gave none): a version of
// the message, with its edit time sealed beside it, and the message marked
// edited today. The current text is the edit with the latest edit time, so
// edits that arrive out of order show right; the texts before it are kept.
//
// A message the bot took as the answer to an identity question keeps only
// its marker: the edit's text goes to the identity compartment as a
// correction (answer_corrections), for the questionnaire worker to apply
// (ApplyAnswerCorrections), and the conversation shows
// AnswerCorrectedMarker.
func (in *Ingest) AddEdit(m StoredInbound, text lifeline.Sensitive, editedAt time.Time) error {
	answer, err := in.answerOf(m.ID)
	if err != nil {
		return err
	}
	if answer != "" {
		if err := in.addCorrection(m, answer, text, editedAt); err != nil {
			return err
		}
		text = lifeline.Sensitive(AnswerCorrectedMarker(answer))
	}
	if err := in.addVersion(m, text, editedAt, nextSeq); err != nil {
		return err
	}
	_, err = in.tx.Exec(`UPDATE messages SET edited_day = ? WHERE id = ?`, lifeline.DayOf(in.tx.Now()).String(), m.ID)
	return err
}

// AddOriginal records the text first sent of a message that was stored
// from its edit (OriginalMissing): it becomes the earliest version, and the
// current text stays the edited one. A recorded answer keeps its marker.
func (in *Ingest) AddOriginal(m StoredInbound, text lifeline.Sensitive) error {
	answer, err := in.answerOf(m.ID)
	if err != nil {
		return err
	}
	if answer != "" {
		text = lifeline.Sensitive(AnswerMarker(answer))
	}
	if err := in.addVersion(m, text, time.Time{}, `(SELECT COALESCE(MIN(seq), 0) - 1 FROM message_versions WHERE message_id = ?)`); err != nil {
		return err
	}
	_, err = in.tx.Exec(`UPDATE messages SET original_missing = 0 WHERE id = ?`, m.ID)
	return err
}

// nextSeq numbers a message's next edit (addVersion).
const nextSeq = `(SELECT COALESCE(MAX(seq), 0) + 1 FROM message_versions WHERE message_id = ?)`

// answerOf is the identity question a message was taken as the answer to,
// or "".
func (in *Ingest) answerOf(id lifeline.MessageID) (string, error) {
	var answer string
	if err := in.tx.QueryRow(`SELECT answer FROM messages WHERE id = ?`, id).Scan(&answer); err != nil {
		return "", fmt.Errorf("find message: %w", err)
	}
	return answer, nil
}

// addVersion stores a version of m numbered by the seq expression (which
// takes the message id), with its edit time (none if zero) sealed under
// the same key as its text.
func (in *Ingest) addVersion(m StoredInbound, text lifeline.Sensitive, editedAt time.Time, seq string) error {
	id := string(lifeline.NewID())
	dk, err := in.db.sealingKey(in.tx, contactOwner(m.Contact), versionOwner(id), seal.CompartmentConversation)
	if err != nil {
		return fmt.Errorf("seal message version: %w", err)
	}
	ct, err := seal.Encrypt(dk, versionAAD(id), []byte(text.Reveal()))
	if err != nil {
		return fmt.Errorf("seal message version: %w", err)
	}
	var at []byte
	if !editedAt.IsZero() {
		if at, err = seal.Encrypt(dk, versionAtAAD(id), sealTime(editedAt)); err != nil {
			return fmt.Errorf("seal message version: %w", err)
		}
	}
	_, err = in.tx.Exec(`INSERT INTO message_versions (id, message_id, seq, body, edited_at, created_day) VALUES (?, ?, `+seq+`, ?, ?, ?)`,
		id, m.ID, m.ID, ct, at, lifeline.DayOf(in.tx.Now()).String())
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

// versionAtAAD binds a version's sealed edit time to its row.
func versionAtAAD(id string) seal.AAD {
	return seal.AAD{Table: "message_versions", Column: "edited_at", Row: id}
}

// messageEditedAtAAD binds the sealed edit time of a message stored from
// an edit to its row.
func messageEditedAtAAD(id lifeline.MessageID) seal.AAD {
	return seal.AAD{Table: "messages", Column: "edited_at", Row: string(id)}
}

// openSealedTime opens a sealed time; the zero time if there is none.
func (db *DB) openSealedTime(tx *Tx, aad seal.AAD, ct []byte) (time.Time, error) {
	if len(ct) == 0 {
		return time.Time{}, nil
	}
	b, err := db.openField(tx, aad, ct)
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, string(b))
}

// version is one stored version of a message, opened.
type version struct {
	message lifeline.MessageID
	seq     int
	text    lifeline.Sensitive
	at      time.Time // the provider's edit time; zero if unknown (or an original)
}

// conversationVersions reads the versions of a conversation's messages, by
// message, in seq order.
func (db *DB) conversationVersions(tx *Tx, conv lifeline.ConversationID) (map[lifeline.MessageID][]version, error) {
	type row struct {
		id     string
		v      version
		ct, at []byte
	}
	rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
		return r, rows.Scan(&r.id, &r.v.message, &r.v.seq, &r.ct, &r.at)
	}, `SELECT x.id, x.message_id, x.seq, x.body, x.edited_at FROM message_versions x JOIN messages m ON m.id = x.message_id
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
		if r.v.at, err = db.openSealedTime(tx, versionAtAAD(r.id), r.at); err != nil {
			return nil, fmt.Errorf("message %s version %d: %w", r.v.message, r.v.seq, err)
		}
		out[r.v.message] = append(out[r.v.message], r.v)
	}
	return out, nil
}

// withVersions sets m's current text and earlier texts from the message's
// stored body and its versions (in seq order). The originals come first:
// versions of negative seq, then the body unless it is itself an edit (a
// message stored from an edit: bodyEditedAt is its edit time, or it was
// marked so). The edits follow in the order of the provider's edit times,
// then of their arrival (seq); the last is the current text. Telegram's
// edit_date orders edits that arrive out of order; edits without a time
// (stored before it was kept) sort first among the edits, by seq.
func withVersions(m *ConversationMessage, vs []version, bodyIsEdit bool, bodyEditedAt time.Time) {
	var originals, edits []version
	body := version{seq: 0, text: m.Text, at: bodyEditedAt}
	for _, v := range vs {
		if v.seq < 0 {
			originals = append(originals, v)
		} else {
			edits = append(edits, v)
		}
	}
	if bodyIsEdit {
		edits = append([]version{body}, edits...)
	} else {
		originals = append(originals, body)
	}
	slices.SortStableFunc(edits, func(a, b version) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.seq, b.seq))
	})
	all := make([]lifeline.Sensitive, 0, len(vs)+1)
	for _, v := range append(originals, edits...) {
		all = append(all, v.text)
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
		ct, at  []byte
	}
	ps, err := queryAll(tx, func(rows *sql.Rows) (p pending, err error) {
		return p, rows.Scan(&p.id, &p.contact, &p.ct, &p.at)
	}, `SELECT x.id, m.contact_id, x.body, x.edited_at FROM message_versions x JOIN messages m ON m.id = x.message_id
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
		var at []byte
		if len(p.at) > 0 {
			t, err := db.openField(tx, versionAtAAD(p.id), p.at)
			if err != nil {
				return 0, err
			}
			if at, err = seal.Encrypt(dk, versionAtAAD(p.id), t); err != nil {
				return 0, err
			}
		}
		if _, err := tx.Exec(`UPDATE message_versions SET body = ?, edited_at = ? WHERE id = ?`, ct, at, p.id); err != nil {
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
// original is unknown: edited today, its original missing, and the
// provider's time of that edit (if not zero) sealed beside it.
func (in *Ingest) MarkEditOfUnknown(id lifeline.MessageID, editedAt time.Time) error {
	var at []byte
	if !editedAt.IsZero() {
		var contact lifeline.ContactID
		if err := in.tx.QueryRow(`SELECT contact_id FROM messages WHERE id = ?`, id).Scan(&contact); err != nil {
			return err
		}
		dk, err := in.db.sealingKey(in.tx, contactOwner(contact), messageOwner(id), seal.CompartmentConversation)
		if err != nil {
			return err
		}
		if at, err = seal.Encrypt(dk, messageEditedAtAAD(id), sealTime(editedAt)); err != nil {
			return err
		}
	}
	_, err := in.tx.Exec(`UPDATE messages SET edited_day = ?, original_missing = 1, edited_at = ? WHERE id = ?`, lifeline.DayOf(in.tx.Now()).String(), at, id)
	return err
}
