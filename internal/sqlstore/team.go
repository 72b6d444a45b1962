// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

// Teams (SECURITY.md §2.5's "team" scope): operators belong to teams, a
// case to one, and a conversation to its case's team, else to its
// operator's teams, else to none yet. lifeline.Reaches decides with them.

// scopeColumns read what need-to-know knows of a conversation v besides
// its operator: its case's team, whether it has been handed to a case
// officer (its case has one, or an operator other than an intake operator
// has it), and the hour of its contact's latest message. scanScope reads
// them.
const scopeColumns = `COALESCE((SELECT cs.team FROM contacts k JOIN cases cs ON cs.id = k.case_id WHERE k.id = v.contact_id), ''),
	(EXISTS (SELECT 1 FROM contacts k JOIN cases cs ON cs.id = k.case_id WHERE k.id = v.contact_id AND cs.assigned_to IS NOT NULL)
		OR EXISTS (SELECT 1 FROM operators a WHERE a.id = v.assigned_to AND a.role <> 'intake')),
	v.last_inbound_hour, v.opened_day`

// scope is scopeColumns as read.
type scope struct {
	caseTeam    string
	handedOff   bool
	lastInbound sql.NullString
	opened      string
}

func (s *scope) dest() []any { return []any{&s.caseTeam, &s.handedOff, &s.lastInbound, &s.opened} }

// teamsOf reads every operator's teams at once, for lists.
func teamsOf(tx *Tx) (map[lifeline.OperatorID][]lifeline.Team, error) {
	rows, err := tx.Query(`SELECT operator_id, team FROM operator_teams ORDER BY operator_id, team`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[lifeline.OperatorID][]lifeline.Team{}
	for rows.Next() {
		var id lifeline.OperatorID
		var t lifeline.Team
		if err := rows.Scan(&id, &t); err != nil {
			return nil, err
		}
		out[id] = append(out[id], t)
	}
	return out, rows.Err()
}

// operatorTeams reads one operator's teams.
func operatorTeams(tx *Tx, id lifeline.OperatorID) ([]lifeline.Team, error) {
	return queryAll(tx, func(rows *sql.Rows) (t lifeline.Team, err error) {
		return t, rows.Scan(&t)
	}, `SELECT team FROM operator_teams WHERE operator_id = ? ORDER BY team`, id)
}

// apply fills c's need-to-know fields from what scopeColumns read; teams
// are every operator's (teamsOf).
func (s *scope) apply(c *ConversationSummary, teams map[lifeline.OperatorID][]lifeline.Team) {
	switch {
	case s.caseTeam != "":
		c.Teams = []lifeline.Team{lifeline.Team(s.caseTeam)}
	case c.AssignedTo != "":
		c.Teams = slices.Clone(teams[c.AssignedTo])
	}
	c.HandedOff = s.handedOff
	// The hour is a floor: the intake desk's 72 hours run from it, erring
	// towards ending early. A conversation with no inbound hour (stored
	// before hours were) counts from the day it opened.
	if s.lastInbound.Valid {
		if h, err := time.Parse(hourFormat, s.lastInbound.String); err == nil {
			c.LastMessage = h
			return
		}
	}
	if d, err := lifeline.ParseDay(s.opened); err == nil {
		c.LastMessage = d.Time()
	}
}

// Object is what need-to-know (lifeline.Reaches) knows of the
// conversation: its operator, whether it waits unassigned, its teams, its
// handoff and its contact's last message.
func (c *ConversationSummary) Object() lifeline.Object {
	return lifeline.Object{
		Owners: []lifeline.OperatorID{c.AssignedTo}, Handles: c.AssignedTo == "",
		Teams: c.Teams, HandedOff: c.HandedOff, LastMessage: c.LastMessage,
	}
}

// Teams lists the teams there are, by name.
func (db *DB) Teams(ctx context.Context) ([]lifeline.Team, error) {
	var out []lifeline.Team
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (t lifeline.Team, err error) {
			return t, rows.Scan(&t)
		}, `SELECT name FROM teams ORDER BY name`)
		return err
	})
	return out, err
}

// JoinTeam puts an operator in a team, making the team if there is none of
// that name; audited (team.join, the operator as the object, the team as
// the reason). ENOTFOUND if there is no such operator; joining a team he is
// in changes nothing.
func (db *DB) JoinTeam(ctx context.Context, by lifeline.Actor, id lifeline.OperatorID, team lifeline.Team) error {
	if !team.Valid() {
		_, err := lifeline.ParseTeam(string(team))
		return err
	}
	return db.audited(ctx, by, "team.join", string(id), "team="+string(team), func(tx *Tx) error {
		if err := operatorExists(tx, id); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO teams (name, created_day) VALUES (?, ?) ON CONFLICT DO NOTHING`, team, lifeline.DayOf(tx.Now()).String()); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO operator_teams (operator_id, team) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, team)
		return err
	})
}

// LeaveTeam takes an operator out of a team; audited (team.leave).
// ENOTFOUND if he is not in it.
func (db *DB) LeaveTeam(ctx context.Context, by lifeline.Actor, id lifeline.OperatorID, team lifeline.Team) error {
	return db.audited(ctx, by, "team.leave", string(id), "team="+string(team), func(tx *Tx) error {
		res, err := tx.Exec(`DELETE FROM operator_teams WHERE operator_id = ? AND team = ?`, id, team)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "The operator is not in that team.")
		}
		return nil
	})
}

// SetCaseTeam puts a case in a team (a supervisor's move); audited
// (case.team). ENOTFOUND if there is no such case or team.
func (db *DB) SetCaseTeam(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, team lifeline.Team) error {
	return db.audited(ctx, by, "case.team", string(id), "team="+string(team), func(tx *Tx) error {
		var one int
		if err := tx.QueryRow(`SELECT 1 FROM teams WHERE name = ?`, team).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such team.")
		} else if err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE cases SET team = ? WHERE id = ?`, team, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such case.")
		}
		return nil
	})
}

// teamFromOfficer gives a case of no team its new case officer's first
// team, inside the caller's transaction (an assignment).
func teamFromOfficer(tx *Tx, id lifeline.CaseID, officer lifeline.OperatorID) error {
	_, err := tx.Exec(`UPDATE cases SET team = (SELECT MIN(team) FROM operator_teams WHERE operator_id = ?) WHERE id = ? AND team IS NULL`, officer, id)
	return err
}

func operatorExists(tx *Tx, id lifeline.OperatorID) error {
	var one int
	err := tx.QueryRow(`SELECT 1 FROM operators WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return lifeline.Errorf(lifeline.ENOTFOUND, "No such operator.")
	}
	return err
}

// ConversationObject reads what need-to-know knows of one conversation
// (ConversationSummary.Object), and nothing else: the live event stream
// asks it once per event. ENOTFOUND if there is none.
func (db *DB) ConversationObject(ctx context.Context, id lifeline.ConversationID) (lifeline.Object, error) {
	var c ConversationSummary
	err := db.Read(ctx, func(tx *Tx) error {
		var sc scope
		err := tx.QueryRow(`SELECT v.id, COALESCE(v.assigned_to, ''), `+scopeColumns+` FROM conversations v WHERE v.id = ?`, id).
			Scan(append([]any{&c.ID, &c.AssignedTo}, sc.dest()...)...)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
		}
		if err != nil {
			return err
		}
		var teams map[lifeline.OperatorID][]lifeline.Team
		if c.AssignedTo != "" {
			ts, err := operatorTeams(tx, c.AssignedTo)
			if err != nil {
				return err
			}
			teams = map[lifeline.OperatorID][]lifeline.Team{c.AssignedTo: ts}
		}
		sc.apply(&c, teams)
		return nil
	})
	return c.Object(), err
}
