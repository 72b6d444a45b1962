// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
)

// AuditFilter selects audit entries for a reader: what he asked for
// (Actor, Action, Object, From, To) within what he may read (Actors,
// ActionPrefixes), newest first, a page at a time.
type AuditFilter struct {
	Actor  string // an actor id ("cli", "system", an operator's id); "" any
	Action string // an action, or its family ending in "." ("login."); "" any
	// Object is an object id as a person types it (a conversation's, a
	// case's): the store matches it as it writes objects (see auditObject),
	// as the whole object or one of its space-separated ids.
	Object   string
	From, To time.Time // entries at or after From and before To; zero: open
	Before   int64     // entries with a smaller seq only; 0: from the newest
	Limit    int       // at most this many; 0 or more than MaxAuditPage: MaxAuditPage

	// The reader's reach. Actors, if not nil, are the only actors whose
	// entries he reads (a supervisor: his teams); ActionPrefixes, if not
	// nil, the only families of actions (an admin: system events).
	Actors         []string
	ActionPrefixes []string
}

// MaxAuditPage bounds one page of audit entries (and an export).
const MaxAuditPage = 5000

// auditFilterToken is what an actor, action or object filter may hold: ids
// and codes, never free text.
func auditFilterToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r)) {
			return false
		}
	}
	return len(s) <= 128
}

// auditObject is the form in which the audit log holds the object a person
// typed: its keyed hash (AuditObject). Every filter by object goes
// through it.
func (db *DB) auditObject(typed string) (string, error) { return db.AuditObject(typed) }

// likeEscape escapes s for a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// AuditEntries returns the entries f selects, newest first. A filter that
// is not an id or a code is EINVALID.
func (db *DB) AuditEntries(ctx context.Context, f AuditFilter) ([]audit.Entry, error) {
	for _, s := range []string{f.Actor, f.Action, f.Object} {
		if !auditFilterToken(s) {
			return nil, lifeline.Errorf(lifeline.EINVALID, "Filter the audit log by ids and codes: letters, digits, '.', '_', ':' and '-'.")
		}
	}
	if f.Limit <= 0 || f.Limit > MaxAuditPage {
		f.Limit = MaxAuditPage
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.Actor != "" {
		add(`actor = ?`, f.Actor)
	}
	switch {
	case strings.HasSuffix(f.Action, "."):
		add(`action LIKE ? ESCAPE '\'`, likeEscape(f.Action)+"%")
	case f.Action != "":
		add(`action = ?`, f.Action)
	}
	if f.Object != "" {
		o, err := db.auditObject(f.Object)
		if err != nil {
			return nil, err
		}
		add(`(' ' || object || ' ') LIKE ? ESCAPE '\'`, "% "+likeEscape(o)+" %")
	}
	if !f.From.IsZero() {
		add(`at >= ?`, formatTime(f.From))
	}
	if !f.To.IsZero() {
		add(`at < ?`, formatTime(f.To))
	}
	if f.Before > 0 {
		add(`seq < ?`, f.Before)
	}
	if f.Actors != nil {
		if len(f.Actors) == 0 {
			return nil, nil
		}
		add(`actor IN (?`+strings.Repeat(`, ?`, len(f.Actors)-1)+`)`, anySlice(f.Actors)...)
	}
	if f.ActionPrefixes != nil {
		if len(f.ActionPrefixes) == 0 {
			return nil, nil
		}
		var or []string
		for _, p := range f.ActionPrefixes {
			or = append(or, `action LIKE ? ESCAPE '\'`)
			args = append(args, likeEscape(p)+"%")
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	q := `SELECT seq, at, actor, role, action, object, decision, reason, request_id FROM audit_entries`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, f.Limit)
	var out []audit.Entry
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (e audit.Entry, err error) {
			var at string
			if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Role, &e.Action, &e.Object, &e.Decision, &e.Reason, &e.RequestID); err != nil {
				return e, err
			}
			e.Time, err = parseTime(at)
			return e, err
		}, q, args...)
		return err
	})
	return out, err
}

// TeamMates returns the ids of the operators who share a team with id,
// and id itself: whose entries a supervisor reads in the audit log.
func (db *DB) TeamMates(ctx context.Context, id lifeline.OperatorID) ([]lifeline.OperatorID, error) {
	var out []lifeline.OperatorID
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (o lifeline.OperatorID, err error) {
			return o, rows.Scan(&o)
		}, `SELECT DISTINCT b.operator_id FROM operator_teams a JOIN operator_teams b ON a.team = b.team
			WHERE a.operator_id = ? ORDER BY b.operator_id`, id)
		return err
	})
	if err == nil && !containsID(out, id) {
		out = append(out, id)
	}
	return out, err
}

func containsID(ids []lifeline.OperatorID, id lifeline.OperatorID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
