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

// Staff is an operator with his routing profile, as routing reads him.
type Staff struct {
	Operator lifeline.Operator
	Profile  lifeline.RoutingProfile
}

const staffColumns = `o.id, o.username, o.role, o.disabled, o.created_at, o.languages, o.streams, o.capacity`

func scanStaff(row *sql.Rows) (Staff, error) {
	var s Staff
	var created, langs, streams string
	if err := row.Scan(&s.Operator.ID, &s.Operator.Username, &s.Operator.Role, &s.Operator.Disabled, &created, &langs, &streams, &s.Profile.Capacity); err != nil {
		return s, err
	}
	return s, s.parse(created, langs, streams)
}

func (s *Staff) parse(created, langs, streams string) error {
	var err error
	if s.Operator.CreatedAt, err = parseTime(created); err != nil {
		return err
	}
	if s.Profile.Languages, err = lifeline.ParseLanguages(langs); err != nil {
		return fmt.Errorf("operator %s languages: %w", s.Operator.ID, err)
	}
	if s.Profile.Streams, err = lifeline.ParseStreams(streams); err != nil {
		return fmt.Errorf("operator %s streams: %w", s.Operator.ID, err)
	}
	return nil
}

// SetRoutingProfile sets the languages, streams and capacity routing uses
// for an operator, audited. EINVALID for an invalid profile, ENOTFOUND for
// an unknown operator. Shifts already scheduled stay; one for a stream the
// operator no longer serves then covers nothing.
func (db *DB) SetRoutingProfile(ctx context.Context, by lifeline.Actor, id lifeline.OperatorID, p lifeline.RoutingProfile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	langs := make([]string, len(p.Languages))
	for i, l := range p.Languages {
		langs[i] = string(l)
	}
	streams := make([]string, len(p.Streams))
	for i, s := range p.Streams {
		streams[i] = string(s)
	}
	reason := fmt.Sprintf("languages=%s streams=%s capacity=%d", strings.Join(langs, ","), strings.Join(streams, ","), p.Capacity)
	return db.audited(ctx, by, "user.routing", string(id), reason, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE operators SET languages = ?, streams = ?, capacity = ?, updated_at = ? WHERE id = ?`,
			strings.Join(langs, ","), strings.Join(streams, ","), p.Capacity, formatTime(tx.Now()), id)
		if err != nil {
			return fmt.Errorf("set routing profile: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such operator.")
		}
		return nil
	})
}

// RoutingProfile reads an operator with his routing profile; ENOTFOUND if
// there is none.
func (db *DB) RoutingProfile(ctx context.Context, id lifeline.OperatorID) (Staff, error) {
	var out []Staff
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, scanStaff, `SELECT `+staffColumns+` FROM operators o WHERE o.id = ?`, id)
		return err
	})
	if err != nil {
		return Staff{}, fmt.Errorf("read routing profile: %w", err)
	}
	if len(out) == 0 {
		return Staff{}, lifeline.Errorf(lifeline.ENOTFOUND, "No such operator.")
	}
	return out[0], nil
}

// RoutingProfiles lists every operator, disabled ones included, with his
// routing profile, by username: the staff side of the schedule page.
func (db *DB) RoutingProfiles(ctx context.Context) ([]Staff, error) {
	var out []Staff
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, scanStaff, `SELECT `+staffColumns+` FROM operators o ORDER BY o.username`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list routing profiles: %w", err)
	}
	return out, nil
}

// OnDuty is an operator on shift, with his load.
type OnDuty struct {
	Staff
	Shift lifeline.Shift // the shift he is on (an operator's shifts do not overlap)
	Load  int            // conversations assigned to him that are not closed
}

// OnDuty lists the enabled operators of every role with a shift covering
// at, by username. Routing picks from those who take conversations
// (lifeline.TakesConversations), escalation from the supervisors.
func (db *DB) OnDuty(ctx context.Context, at time.Time) ([]OnDuty, error) {
	var out []OnDuty
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = onDuty(tx, at, "")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("on duty: %w", err)
	}
	return out, nil
}

// onDuty lists the operators on duty at t, or only operator if not "".
func onDuty(tx *Tx, t time.Time, operator lifeline.OperatorID) ([]OnDuty, error) {
	ts := formatTime(t)
	return queryAll(tx, func(rows *sql.Rows) (OnDuty, error) {
		var d OnDuty
		var created, langs, streams, start, end string
		err := rows.Scan(&d.Operator.ID, &d.Operator.Username, &d.Operator.Role, &d.Operator.Disabled, &created, &langs, &streams, &d.Profile.Capacity,
			&d.Shift.ID, &start, &end, &d.Shift.Stream, &d.Load)
		if err != nil {
			return d, err
		}
		if err := d.parse(created, langs, streams); err != nil {
			return d, err
		}
		d.Shift.Operator = d.Operator.ID
		if d.Shift.Start, err = parseTime(start); err != nil {
			return d, err
		}
		d.Shift.End, err = parseTime(end)
		return d, err
	}, `SELECT `+staffColumns+`, s.id, s.starts_at, s.ends_at, s.stream,
			(SELECT COUNT(*) FROM conversations v WHERE v.assigned_to = o.id AND v.state <> 'closed')
		FROM shifts s JOIN operators o ON o.id = s.operator_id
		WHERE s.starts_at <= ? AND s.ends_at > ? AND o.disabled = 0 AND (? = '' OR o.id = ?)
		ORDER BY o.username, s.starts_at`, ts, ts, operator, operator)
}

// WaitingConversation is a conversation whose contact waits for an answer:
// routing fields and the exact time the wait began, nothing else.
type WaitingConversation struct {
	ID         lifeline.ConversationID
	Kind       lifeline.ChannelKind
	Stream     lifeline.Stream
	Language   lifeline.Language
	AssignedTo lifeline.OperatorID // "" while unassigned
	Escalated  bool                // the first-response target was missed and reported
	// Seq is the conversation's place in the queue: the position of its
	// first unanswered message, lower for older. Pass it back to
	// MarkEscalated.
	Seq int64
	// Since is when the first unanswered message arrived, opened from its
	// sealed time; the zero time if that message has none.
	Since time.Time
}

// waitingMessage is the SQL for the rowid of the message a conversation
// v waits since: the first inbound message at or after its queue position
// (the position is taken as the message is stored, so it is that message's
// own, unless another write slipped in between). The inbox and the router
// both use it.
const waitingMessage = `(SELECT MIN(f.rowid) FROM messages f
	WHERE f.conversation_id = v.id AND f.rowid >= v.waiting_seq AND f.direction = 'in')`

// WaitingConversations lists every conversation, assigned or not, that is
// not closed and whose contact waits for a first answer to his latest
// messages, oldest wait first. The exact waiting times are sealed:
// EUNAVAILABLE while the server is sealed.
func (db *DB) WaitingConversations(ctx context.Context) ([]WaitingConversation, error) {
	var out []WaitingConversation
	err := db.Read(ctx, func(tx *Tx) error {
		type row struct {
			w   WaitingConversation
			mid sql.NullString
			at  []byte
		}
		rows, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.w.ID, &r.w.Kind, &r.w.Stream, &r.w.Language, &r.w.AssignedTo, &r.w.Escalated, &r.w.Seq, &r.mid, &r.at)
		}, `SELECT v.id, v.channel_kind, v.stream, v.language, COALESCE(v.assigned_to, ''), v.escalated, v.waiting_seq, m.id, m.at
			FROM conversations v
			LEFT JOIN messages m ON m.rowid = `+waitingMessage+`
			WHERE v.waiting_seq IS NOT NULL AND v.state <> 'closed'
			ORDER BY v.waiting_seq, v.id`)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r.mid.Valid {
				t, err := db.openTime(tx, lifeline.MessageID(r.mid.String), r.at)
				if err != nil {
					return fmt.Errorf("conversation %s: %w", r.w.ID, err)
				}
				r.w.Since = t.UTC()
			}
			out = append(out, r.w)
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// Assign gives an unassigned conversation to an operator, audited. The
// change is conditional: ECONFLICT if the conversation is assigned already
// (someone else, or the router, was first) or closed, ENOTFOUND if there is
// no such conversation or operator, EINVALID if the operator is disabled or
// of a role that does not take conversations. Capacity and shifts are the
// router's rules, not a supervisor's: Assign ignores them.
func (db *DB) Assign(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, to lifeline.OperatorID) error {
	return db.reassign(ctx, by, "conversation.assign", conv, "", to)
}

// Transfer moves a conversation from one operator to another, audited, if
// it is still assigned to from: ECONFLICT otherwise, or if it is closed.
// Other errors are Assign's.
func (db *DB) Transfer(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, from, to lifeline.OperatorID) error {
	if from == "" || from == to {
		return lifeline.Errorf(lifeline.EINVALID, "A transfer is from one operator to another.")
	}
	return db.reassign(ctx, by, "conversation.transfer", conv, from, to)
}

// Unassign puts a conversation back in the unassigned queue, audited, if
// it is still assigned to from: ECONFLICT otherwise. ENOTFOUND if there is
// no such conversation.
func (db *DB) Unassign(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, from lifeline.OperatorID) error {
	if from == "" {
		return lifeline.Errorf(lifeline.EINVALID, "Say whose conversation it was.")
	}
	return db.reassign(ctx, by, "conversation.unassign", conv, from, "")
}

// reassign moves conv from from to to ("" is unassigned on either side),
// only if it is assigned to from and not closed when the write runs.
func (db *DB) reassign(ctx context.Context, by lifeline.Actor, action string, conv lifeline.ConversationID, from, to lifeline.OperatorID) error {
	object := string(conv)
	if to != "" {
		object += " " + string(to)
	}
	reason := ""
	if from != "" {
		reason = "from=" + string(from)
	}
	return db.audited(ctx, by, action, object, reason, func(tx *Tx) error {
		if to != "" {
			if err := checkAssignee(tx, to); err != nil {
				return err
			}
		}
		res, err := tx.Exec(`UPDATE conversations SET assigned_to = NULLIF(?, '') WHERE id = ? AND COALESCE(assigned_to, '') = ? AND state <> 'closed'`,
			to, conv, from)
		if err != nil {
			return fmt.Errorf("assign: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		return assignConflict(tx, conv)
	})
}

// checkAssignee returns an error unless id is an enabled operator who takes
// conversations.
func checkAssignee(tx *Tx, id lifeline.OperatorID) error {
	var role lifeline.Role
	var disabled bool
	err := tx.QueryRow(`SELECT role, disabled FROM operators WHERE id = ?`, id).Scan(&role, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return lifeline.Errorf(lifeline.ENOTFOUND, "No such operator.")
	}
	if err != nil {
		return fmt.Errorf("assign: %w", err)
	}
	if disabled {
		return lifeline.Errorf(lifeline.EINVALID, "The operator's account is disabled.")
	}
	if !lifeline.TakesConversations(role) {
		return lifeline.Errorf(lifeline.EINVALID, "Operators of the %s role do not take conversations.", role)
	}
	return nil
}

// assignConflict explains why a conditional change of conv's assignee
// changed nothing.
func assignConflict(tx *Tx, conv lifeline.ConversationID) error {
	var state string
	err := tx.QueryRow(`SELECT state FROM conversations WHERE id = ?`, conv).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
	}
	if err != nil {
		return fmt.Errorf("assign: %w", err)
	}
	if state == "closed" {
		return lifeline.Errorf(lifeline.ECONFLICT, "The conversation is closed.")
	}
	return lifeline.Errorf(lifeline.ECONFLICT, "The conversation's assignment changed meanwhile: reload and try again.")
}

// SystemActor is the actor of the router's changes.
var SystemActor = lifeline.Actor{ID: lifeline.ActorSystem}

// AutoAssign is the router's Assign, audited as the system. Every rule of
// automatic routing is checked again in the write that assigns, so that a
// router working from a stale reading cannot break one: the conversation is
// not closed, unassigned and waiting; the operator is enabled, takes
// conversations, is on a shift for the conversation's stream now, serves
// its stream and language in his profile, and carries fewer open
// conversations than his capacity. ECONFLICT if any of that no longer
// holds, ENOTFOUND if there is no such conversation or operator.
func (db *DB) AutoAssign(ctx context.Context, conv lifeline.ConversationID, to lifeline.OperatorID) error {
	return db.audited(ctx, SystemActor, "conversation.auto_assign", string(conv)+" "+string(to), "", func(tx *Tx) error {
		var stream lifeline.Stream
		var lang lifeline.Language
		err := tx.QueryRow(`SELECT stream, language FROM conversations WHERE id = ?`, conv).Scan(&stream, &lang)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
		}
		if err != nil {
			return fmt.Errorf("auto-assign: %w", err)
		}
		if err := checkAssignee(tx, to); err != nil {
			var e *lifeline.Error
			if lifeline.ErrorCode(err) == lifeline.EINVALID && errors.As(err, &e) {
				conflict := *e // the same words, a conflict here
				conflict.Code = lifeline.ECONFLICT
				return &conflict
			}
			return err
		}
		duty, err := onDuty(tx, tx.Now(), to)
		if err != nil {
			return fmt.Errorf("auto-assign: %w", err)
		}
		if len(duty) == 0 || duty[0].Shift.Stream != stream || !duty[0].Profile.Serves(stream, lang) {
			return lifeline.Errorf(lifeline.ECONFLICT, "The operator is not on duty for the conversation's stream and language.")
		}
		if duty[0].Load >= duty[0].Profile.Capacity {
			return lifeline.Errorf(lifeline.ECONFLICT, "The operator is at capacity.")
		}
		res, err := tx.Exec(`UPDATE conversations SET assigned_to = ? WHERE id = ? AND assigned_to IS NULL AND waiting_seq IS NOT NULL AND state <> 'closed'`, to, conv)
		if err != nil {
			return fmt.Errorf("auto-assign: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ECONFLICT, "The conversation is no longer waiting unassigned.")
		}
		return nil
	})
}

// errNoChange rolls back an audited write that found nothing to do.
var errNoChange = errors.New("no change")

// MarkEscalated records that a conversation missed its first-response
// target, audited as the system, and reports whether this call did so: it
// is true once per wait. seq is the WaitingConversation.Seq read: if the
// contact has been answered since (or answered and writing again), nothing
// changes and it returns false. An answer clears the mark.
func (db *DB) MarkEscalated(ctx context.Context, conv lifeline.ConversationID, seq int64) (bool, error) {
	err := db.audited(ctx, SystemActor, "conversation.escalate", string(conv), "", func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE conversations SET escalated = 1 WHERE id = ? AND waiting_seq = ? AND escalated = 0 AND state <> 'closed'`, conv, seq)
		if err != nil {
			return fmt.Errorf("escalate: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNoChange
		}
		return nil
	})
	if errors.Is(err, errNoChange) {
		return false, nil
	}
	return err == nil, err
}

// SetConversationLanguage records the language a contact writes in, which
// routing matches against operators' profiles, audited. EINVALID for an
// unknown language, ENOTFOUND for an unknown conversation.
func (db *DB) SetConversationLanguage(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, lang lifeline.Language) error {
	if !lang.Valid() {
		return lifeline.Errorf(lifeline.EINVALID, "Unknown language.")
	}
	return db.audited(ctx, by, "conversation.language", string(conv), "language="+string(lang), func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE conversations SET language = ? WHERE id = ?`, lang, conv)
		if err != nil {
			return fmt.Errorf("set language: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
		}
		return nil
	})
}
