// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// The kinds of entries of the supervisors' lists.
const (
	LabelKindLabel    = "label"    // put on conversations by operators
	LabelKindCategory = "category" // a wrap-up category
)

// Label is one entry of a list supervisors keep: a label operators put on
// conversations, or a wrap-up category. Staff words, never personal data.
type Label struct {
	ID       string
	Kind     string // LabelKindLabel or LabelKindCategory
	Name     string
	Archived bool // no longer offered
}

// Labels lists the entries of kind, by name; archived ones too if all.
func (db *DB) Labels(ctx context.Context, kind string, all bool) ([]Label, error) {
	var out []Label
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (l Label, err error) {
			return l, rows.Scan(&l.ID, &l.Kind, &l.Name, &l.Archived)
		}, `SELECT id, kind, name, archived = 1 FROM labels WHERE kind = ? AND (? OR archived = 0) ORDER BY name, id`, kind, all)
		return err
	})
	return out, err
}

// AddLabel adds an entry to the list of kind: EINVALID for an unknown kind
// or a name that is not 1 to 60 characters, ECONFLICT if the list has it.
// Audited. The caller checks that by runs the floor.
func (db *DB) AddLabel(ctx context.Context, by lifeline.Actor, kind, name string) (*Label, error) {
	name = strings.Join(strings.Fields(name), " ")
	switch {
	case kind != LabelKindLabel && kind != LabelKindCategory:
		return nil, lifeline.Errorf(lifeline.EINVALID, "Unknown list.")
	case name == "" || utf8.RuneCountInString(name) > 60 || !utf8.ValidString(name):
		return nil, lifeline.Errorf(lifeline.EINVALID, "A name is 1 to 60 characters.")
	}
	l := &Label{ID: string(lifeline.NewID()), Kind: kind, Name: name}
	err := db.audited(ctx, by, "label.add", l.ID, "kind="+kind, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO labels (id, kind, name, created_by, created_day) VALUES (?, ?, ?, ?, ?)`,
			l.ID, kind, name, by.ID, lifeline.DayOf(tx.Now()).String())
		if db.dialect.isUniqueViolation(err) {
			return lifeline.Errorf(lifeline.ECONFLICT, "The list has that name already.")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// ArchiveLabel takes an entry out of use: it is no longer offered, and
// stays on what used it. ENOTFOUND if there is no such live entry. Audited.
func (db *DB) ArchiveLabel(ctx context.Context, by lifeline.Actor, id string) error {
	return db.audited(ctx, by, "label.archive", id, "", func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE labels SET archived = 1 WHERE id = ? AND archived = 0`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such entry.")
		}
		return nil
	})
}

// ConversationLabels lists the labels on a conversation, by name.
func (db *DB) ConversationLabels(ctx context.Context, conv lifeline.ConversationID) ([]Label, error) {
	var out []Label
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (l Label, err error) {
			return l, rows.Scan(&l.ID, &l.Kind, &l.Name, &l.Archived)
		}, `SELECT l.id, l.kind, l.name, l.archived = 1 FROM conversation_labels c JOIN labels l ON l.id = c.label_id
			WHERE c.conversation_id = ? ORDER BY l.name, l.id`, conv)
		return err
	})
	return out, err
}

// SetConversationLabels makes ids the labels of a conversation: each must
// be a label (not a category) that is in use, or already on it (an archived
// label stays until taken off). ENOTFOUND if there is no such
// conversation, EINVALID for anything else. Audited, naming the labels by
// id. The caller checks that by may read the conversation.
func (db *DB) SetConversationLabels(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, ids []string) error {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > 50 {
		return lifeline.Errorf(lifeline.EINVALID, "At most 50 labels.")
	}
	return db.audited(ctx, by, "conversation.labels", string(conv), "labels="+strings.Join(ids, ","), func(tx *Tx) error {
		var one int
		err := tx.QueryRow(`SELECT 1 FROM conversations WHERE id = ?`, conv).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
		}
		if err != nil {
			return err
		}
		for _, id := range ids {
			var ok bool
			err := tx.QueryRow(`SELECT archived = 0 OR EXISTS (SELECT 1 FROM conversation_labels c WHERE c.conversation_id = ? AND c.label_id = l.id)
				FROM labels l WHERE l.id = ? AND l.kind = ?`, conv, id, LabelKindLabel).Scan(&ok)
			if errors.Is(err, sql.ErrNoRows) || err == nil && !ok {
				return lifeline.Errorf(lifeline.EINVALID, "Choose labels from the list.")
			}
			if err != nil {
				return err
			}
		}
		if _, err := tx.Exec(`DELETE FROM conversation_labels WHERE conversation_id = ?`, conv); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.Exec(`INSERT INTO conversation_labels (conversation_id, label_id) VALUES (?, ?)`, conv, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// ClosedWrapUp is the wrap-up of a closed conversation, as stored.
type ClosedWrapUp struct {
	lifeline.WrapUp
	CategoryName string
	ClosedBy     lifeline.OperatorID // the operator who closed; "" for the command line
	ClosedAt     time.Time           // exact, opened from its sealed copy
	ClosedDay    lifeline.Day
}

// Undoable reports whether who may still undo the close at now: he closed
// it, less than lifeline.UndoWindow ago.
func (w *ClosedWrapUp) Undoable(who lifeline.OperatorID, now time.Time) bool {
	return who != "" && who == w.ClosedBy && now.Sub(w.ClosedAt) < lifeline.UndoWindow
}

// wrapUpDetail is the sealed part of a wrap-up.
type wrapUpDetail struct {
	At   string `json:"at"`
	Note string `json:"note,omitempty"`
}

func wrapUpAAD(conv lifeline.ConversationID) seal.AAD {
	return seal.AAD{Table: "wrapups", Column: "detail", Row: string(conv), Owner: conversationOwner(conv)}
}

// CloseWithWrapUp closes a conversation with its wrap-up, in one
// transaction: the wrap-up replaces any earlier one, and what closing
// clears (the place in the waiting queue, the escalation) is kept for an
// undo. EINVALID for an incomplete wrap-up or a category not in use,
// ENOTFOUND if there is no such conversation, ECONFLICT if it is closed
// already; EUNAVAILABLE while sealed. Audited (conversation.close). The
// caller checks that by may reply there.
func (db *DB) CloseWithWrapUp(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, w lifeline.WrapUp) error {
	if err := w.Validate(); err != nil {
		return err
	}
	err := db.audited(ctx, by, "conversation.close", string(conv), "wrapup="+string(w.Outcome), func(tx *Tx) error {
		var contact lifeline.ContactID
		var state string
		var seq sql.NullInt64
		var escalated bool
		err := tx.QueryRow(`SELECT contact_id, state, waiting_seq, escalated FROM conversations WHERE id = ?`, conv).Scan(&contact, &state, &seq, &escalated)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
		}
		if err != nil {
			return err
		}
		if state == "closed" {
			return lifeline.Errorf(lifeline.ECONFLICT, "The conversation is closed already.")
		}
		var one int
		err = tx.QueryRow(`SELECT 1 FROM labels WHERE id = ? AND kind = ? AND archived = 0`, w.Category, LabelKindCategory).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.EINVALID, "Choose a category from the list.")
		}
		if err != nil {
			return err
		}
		now := tx.Now()
		detail, err := json.Marshal(wrapUpDetail{At: string(sealTime(now)), Note: strings.TrimSpace(w.FollowUpNote.Reveal())})
		if err != nil {
			return err
		}
		ct, err := db.sealField(tx, contactOwner(contact), "", seal.CompartmentConversation, wrapUpAAD(conv), detail)
		clear(detail)
		if err != nil {
			return unavailable(err)
		}
		day := lifeline.DayOf(now).String()
		res, err := tx.Exec(`UPDATE conversations SET state = 'closed', waiting_seq = NULL, escalated = 0, last_activity_day = ? WHERE id = ? AND state = ?`,
			day, conv, state)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ECONFLICT, "The conversation changed; try again.")
		}
		if _, err := tx.Exec(`DELETE FROM wrapups WHERE conversation_id = ?`, conv); err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO wrapups (conversation_id, category_id, outcome, follow_up, detail, closed_by, closed_day, prev_state, prev_waiting_seq, prev_escalated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, conv, w.Category, w.Outcome, w.FollowUp, ct, by.ID, day, state, seq, escalated)
		return err
	})
	return err
}

// WrapUpOf reads a closed conversation's wrap-up; ENOTFOUND if it has none
// (it is open, or was closed without one), EUNAVAILABLE while sealed.
func (db *DB) WrapUpOf(ctx context.Context, conv lifeline.ConversationID) (*ClosedWrapUp, error) {
	var w *ClosedWrapUp
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		w, _, err = db.wrapUp(tx, conv)
		return err
	})
	return w, unavailable(err)
}

// wrapUp reads and opens conv's wrap-up with what an undo restores.
func (db *DB) wrapUp(tx *Tx, conv lifeline.ConversationID) (*ClosedWrapUp, *wrapUpPrev, error) {
	var w ClosedWrapUp
	var p wrapUpPrev
	var ct []byte
	var by, day string
	err := tx.QueryRow(`SELECT u.category_id, l.name, u.outcome, u.follow_up, u.detail, u.closed_by, u.closed_day, u.prev_state, u.prev_waiting_seq, u.prev_escalated
		FROM wrapups u JOIN labels l ON l.id = u.category_id JOIN conversations v ON v.id = u.conversation_id
		WHERE u.conversation_id = ? AND v.state = 'closed'`, conv).
		Scan(&w.Category, &w.CategoryName, &w.Outcome, &w.FollowUp, &ct, &by, &day, &p.state, &p.seq, &p.escalated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, lifeline.Errorf(lifeline.ENOTFOUND, "The conversation has no wrap-up.")
	}
	if err != nil {
		return nil, nil, err
	}
	plain, err := db.openOwned(tx, wrapUpAAD(conv), ct)
	if err != nil {
		return nil, nil, err
	}
	var d wrapUpDetail
	err = json.Unmarshal(plain, &d)
	clear(plain)
	if err != nil {
		return nil, nil, fmt.Errorf("wrap-up %s: %w", conv, err)
	}
	if w.ClosedAt, err = time.Parse(time.RFC3339Nano, d.At); err != nil {
		return nil, nil, fmt.Errorf("wrap-up %s: %w", conv, err)
	}
	w.FollowUpNote = lifeline.Sensitive(d.Note)
	if lifeline.OperatorID(by).Valid() {
		w.ClosedBy = lifeline.OperatorID(by)
	}
	if w.ClosedDay, err = lifeline.ParseDay(day); err != nil {
		return nil, nil, err
	}
	return &w, &p, nil
}

// wrapUpPrev is what closing a conversation cleared.
type wrapUpPrev struct {
	state     string
	seq       sql.NullInt64
	escalated bool
}

// UndoClose undoes a close: the conversation is as it was before (open,
// in its place in the waiting queue), and its wrap-up is gone. Only the
// operator who closed it may, and only within lifeline.UndoWindow of the
// close; after that the close is final. ECONFLICT if there is nothing to
// undo, the window has passed, someone else closed it, or the contact has
// written since (his new conversation is open: this one stays closed).
// Audited (conversation.close.undo). The caller checks that by may reply
// there.
func (db *DB) UndoClose(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID) error {
	err := db.audited(ctx, by, "conversation.close.undo", string(conv), "", func(tx *Tx) error {
		w, p, err := db.wrapUp(tx, conv)
		if lifeline.ErrorCode(err) == lifeline.ENOTFOUND {
			return lifeline.Errorf(lifeline.ECONFLICT, "There is no close to undo.")
		}
		if err != nil {
			return unavailable(err)
		}
		switch {
		case w.ClosedBy != lifeline.OperatorID(by.ID):
			return lifeline.Errorf(lifeline.ECONFLICT, "Only the operator who closed the conversation may undo it.")
		case !w.Undoable(lifeline.OperatorID(by.ID), tx.Now()):
			return lifeline.Errorf(lifeline.ECONFLICT, "The close is final: more than a minute has passed.")
		}
		var newer int
		err = tx.QueryRow(`SELECT COUNT(*) FROM conversations n JOIN conversations v ON n.contact_id = v.contact_id
			AND n.channel_kind = v.channel_kind AND n.channel_name = v.channel_name
			WHERE v.id = ? AND n.id <> v.id AND n.state <> 'closed'`, conv).Scan(&newer)
		if err != nil {
			return err
		}
		if newer > 0 {
			return lifeline.Errorf(lifeline.ECONFLICT, "The contact has written since: his new conversation is open.")
		}
		if _, err := tx.Exec(`UPDATE conversations SET state = ?, waiting_seq = ?, escalated = ? WHERE id = ? AND state = 'closed'`,
			p.state, p.seq, p.escalated, conv); err != nil {
			return err
		}
		_, err = tx.Exec(`DELETE FROM wrapups WHERE conversation_id = ?`, conv)
		return err
	})
	return err
}

// WrapUpCount is how many conversations closed in a period got one
// category and outcome.
type WrapUpCount struct {
	Category string // its name
	Outcome  lifeline.Outcome
	FollowUp int // how many of them need a follow-up
	Count    int
}

// WrapUpCounts counts the wrap-ups of conversations closed from day from
// to day to (inclusive; a zero day leaves that end open), per category and
// outcome, most first: what reports are made of. No content.
func (db *DB) WrapUpCounts(ctx context.Context, from, to lifeline.Day) ([]WrapUpCount, error) {
	var out []WrapUpCount
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (c WrapUpCount, err error) {
			return c, rows.Scan(&c.Category, &c.Outcome, &c.FollowUp, &c.Count)
		}, `SELECT l.name, u.outcome, COALESCE(SUM(u.follow_up), 0), COUNT(*)
			FROM wrapups u JOIN labels l ON l.id = u.category_id JOIN conversations v ON v.id = u.conversation_id
			WHERE v.state = 'closed' AND (? = '' OR u.closed_day >= ?) AND (? = '' OR u.closed_day <= ?)
			GROUP BY l.name, u.outcome ORDER BY COUNT(*) DESC, l.name, u.outcome`,
			dayOrEmpty(from), dayOrEmpty(from), dayOrEmpty(to), dayOrEmpty(to))
		return err
	})
	return out, err
}
