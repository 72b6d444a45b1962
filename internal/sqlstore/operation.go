// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// OperationPlan is the sealed part of an extraction operation (intel):
// when, where, who runs it.
type OperationPlan struct {
	Time         string `json:"time"`          // as planned, e.g. 2026-12-20 04:30 local
	MeetingPoint string `json:"meeting_point"` // coordinates or a description
	Unit         string `json:"unit"`          // the unit that runs it
	Notes        string `json:"notes,omitempty"`
}

// Operation states.
const (
	OperationPlanned   = "planned"
	OperationApproved  = "approved" // a supervisor approved the meeting
	OperationUnderWay  = "under_way"
	OperationDone      = "done"
	OperationCalledOff = "called_off"
)

// Outcomes per person.
const (
	OutcomeCaptured   = "captured"
	OutcomeNotArrived = "not_arrived"
	OutcomeWithdrew   = "withdrawn"
)

// Operation is an extraction operation with its persons.
type Operation struct {
	ID         string
	CodeName   string
	State      string
	Plan       *OperationPlan // nil unless opened (intel)
	ApprovedBy lifeline.OperatorID
	CreatedDay lifeline.Day
	Persons    []OperationPerson
}

// OperationPerson is one person in an operation.
type OperationPerson struct {
	Case     lifeline.CaseID
	CaseCode string
	Person   lifeline.PersonID
	Outcome  string
}

func operationAAD(id string) seal.AAD { return seal.AAD{Table: "operations", Column: "plan", Row: id} }

// operationOwner is the owner of an operation's data key: an operation
// spans cases, so it has a key of its own.
func operationOwner(id string) string { return "operation:" + id }

func validPlan(p OperationPlan) error {
	for _, f := range []string{p.Time, p.MeetingPoint, p.Unit} {
		if strings.TrimSpace(f) == "" {
			return lifeline.Errorf(lifeline.EINVALID, "An operation needs a time, a meeting point and a unit.")
		}
	}
	for _, f := range []string{p.Time, p.MeetingPoint, p.Unit, p.Notes} {
		if len(f) > 1000 || !utf8.ValidString(f) {
			return lifeline.Errorf(lifeline.EINVALID, "Each field of a plan is at most 1000 bytes of text.")
		}
	}
	return nil
}

// CreateOperation plans an extraction operation for the given persons
// (of one or more cases, each in status active), under a fresh code name;
// the plan is sealed (intel). Each case gets a timeline entry.
func (db *DB) CreateOperation(ctx context.Context, by lifeline.Actor, plan OperationPlan, persons []lifeline.PersonID) (*Operation, error) {
	if err := validPlan(plan); err != nil {
		return nil, err
	}
	if len(persons) == 0 {
		return nil, lifeline.Errorf(lifeline.EINVALID, "An operation brings over at least one person.")
	}
	op := &Operation{ID: string(lifeline.NewID()), CodeName: "OP-" + lifeline.NewCodeName(), State: OperationPlanned}
	err := db.audited(ctx, by, "operation.create", op.ID, "", func(tx *Tx) error {
		ct, err := db.sealField(tx, operationOwner(op.ID), "", seal.CompartmentIntel, operationAAD(op.ID), mustJSON(plan))
		if err != nil {
			return unavailable(err)
		}
		op.CreatedDay = lifeline.DayOf(tx.Now())
		if _, err := tx.Exec(`INSERT INTO operations (id, code_name, state, plan, created_by, created_day) VALUES (?, ?, ?, ?, ?, ?)`,
			op.ID, op.CodeName, op.State, ct, by.ID, op.CreatedDay.String()); err != nil {
			return err
		}
		cases := map[lifeline.CaseID]bool{}
		for _, p := range persons {
			var c lifeline.CaseID
			var status lifeline.CaseStatus
			err := tx.QueryRow(`SELECT p.case_id, c.status FROM persons p JOIN cases c ON c.id = p.case_id WHERE p.id = ?`, p).Scan(&c, &status)
			if errors.Is(err, sql.ErrNoRows) {
				return lifeline.Errorf(lifeline.ENOTFOUND, "No such person.")
			}
			if err != nil {
				return err
			}
			if status != lifeline.CaseActive {
				return lifeline.Errorf(lifeline.ECONFLICT, "Only persons of active cases (contact from the front) can be brought over.")
			}
			if _, err := tx.Exec(`INSERT INTO operation_persons (operation_id, case_id, person_id) VALUES (?, ?, ?)`, op.ID, c, p); err != nil {
				return err
			}
			op.Persons = append(op.Persons, OperationPerson{Case: c, Person: p})
			if !cases[c] {
				cases[c] = true
				if err := db.addEvent(tx, by, c, "operation", "", op.CodeName, seal.CompartmentIntel, ""); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return op, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs of strings are passed
	}
	return b
}

// SetOperationState moves an operation: planned → approved (a supervisor
// approves the meeting) → under_way → done, or called_off from any but
// done. Cases follow: under_way moves each active case to extraction;
// called_off moves extraction cases back to active.
func (db *DB) SetOperationState(ctx context.Context, by lifeline.Actor, id, state string) error {
	next := map[string][]string{
		OperationPlanned:  {OperationApproved, OperationCalledOff},
		OperationApproved: {OperationUnderWay, OperationCalledOff},
		OperationUnderWay: {OperationDone, OperationCalledOff},
	}
	return db.audited(ctx, by, "operation.state", id, state, func(tx *Tx) error {
		var cur, code string
		err := tx.QueryRow(`SELECT state, code_name FROM operations WHERE id = ?`, id).Scan(&cur, &code)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such operation.")
		}
		if err != nil {
			return err
		}
		ok := false
		for _, s := range next[cur] {
			ok = ok || s == state
		}
		if !ok {
			return lifeline.Errorf(lifeline.ECONFLICT, "An operation that is %s cannot become %s.", cur, state)
		}
		if state == OperationApproved && by.Role != lifeline.RoleSupervisor {
			return lifeline.Errorf(lifeline.EFORBIDDEN, "A supervisor approves the meeting.")
		}
		q := `UPDATE operations SET state = ? WHERE id = ?`
		args := []any{state, id}
		if state == OperationApproved {
			q, args = `UPDATE operations SET state = ?, approved_by = ? WHERE id = ?`, []any{state, by.ID, id}
		}
		if _, err := tx.Exec(q, args...); err != nil {
			return err
		}
		var from, to lifeline.CaseStatus
		switch state {
		case OperationUnderWay:
			from, to = lifeline.CaseActive, lifeline.CaseExtraction
		case OperationCalledOff:
			from, to = lifeline.CaseExtraction, lifeline.CaseActive
		default:
			return nil
		}
		cases, err := queryAll(tx, func(rows *sql.Rows) (c lifeline.CaseID, err error) { return c, rows.Scan(&c) },
			`SELECT DISTINCT op.case_id FROM operation_persons op JOIN cases c ON c.id = op.case_id WHERE op.operation_id = ? AND c.status = ?`, id, from)
		if err != nil {
			return err
		}
		for _, c := range cases {
			if _, err := tx.Exec(`UPDATE cases SET status = ? WHERE id = ? AND status = ?`, to, c, from); err != nil {
				return err
			}
			if err := db.addEvent(tx, by, c, "status", string(from), string(to), seal.CompartmentIdentity, "operation "+code+" "+state); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetOutcome records what became of one person in an operation; a
// captured applicant moves his case to captured.
func (db *DB) SetOutcome(ctx context.Context, by lifeline.Actor, id string, person lifeline.PersonID, outcome string) error {
	if outcome != OutcomeCaptured && outcome != OutcomeNotArrived && outcome != OutcomeWithdrew {
		return lifeline.Errorf(lifeline.EINVALID, "Unknown outcome.")
	}
	return db.audited(ctx, by, "operation.outcome", id+" "+string(person), outcome, func(tx *Tx) error {
		var c lifeline.CaseID
		var relation lifeline.Relation
		var status lifeline.CaseStatus
		err := tx.QueryRow(`SELECT op.case_id, p.relation, c.status FROM operation_persons op JOIN persons p ON p.id = op.person_id
			JOIN cases c ON c.id = op.case_id WHERE op.operation_id = ? AND op.person_id = ?`, id, person).Scan(&c, &relation, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such person in this operation.")
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE operation_persons SET outcome = ? WHERE operation_id = ? AND person_id = ?`, outcome, id, person); err != nil {
			return err
		}
		if outcome == OutcomeCaptured && relation == lifeline.RelationApplicant && status == lifeline.CaseExtraction {
			if _, err := tx.Exec(`UPDATE cases SET status = ? WHERE id = ?`, lifeline.CaseCaptured, c); err != nil {
				return err
			}
			return db.addEvent(tx, by, c, "status", string(status), string(lifeline.CaseCaptured), seal.CompartmentIdentity, "operation outcome")
		}
		return nil
	})
}

// Operations lists the operations a case takes part in (or all, for ""),
// newest first. withPlan opens the plans (intel).
func (db *DB) Operations(ctx context.Context, caseID lifeline.CaseID, withPlan bool) ([]Operation, error) {
	var out []Operation
	err := db.Read(ctx, func(tx *Tx) error {
		type row struct {
			op   Operation
			day  string
			plan []byte
			by   sql.NullString
		}
		rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.op.ID, &r.op.CodeName, &r.op.State, &r.plan, &r.by, &r.day)
		}, `SELECT o.id, o.code_name, o.state, o.plan, o.approved_by, o.created_day FROM operations o
			WHERE ?1 = '' OR o.id IN (SELECT operation_id FROM operation_persons WHERE case_id = ?1) ORDER BY o.rowid DESC`, caseID)
		if err != nil {
			return err
		}
		for _, r := range rs {
			r.op.ApprovedBy = lifeline.OperatorID(r.by.String)
			if r.op.CreatedDay, err = lifeline.ParseDay(r.day); err != nil {
				return err
			}
			if withPlan {
				var p OperationPlan
				if err := db.openJSON(tx, operationAAD(r.op.ID), r.plan, &p); err != nil {
					return err
				}
				r.op.Plan = &p
			}
			r.op.Persons, err = queryAll(tx, func(rows *sql.Rows) (p OperationPerson, err error) {
				return p, rows.Scan(&p.Case, &p.CaseCode, &p.Person, &p.Outcome)
			}, `SELECT op.case_id, c.code_name, op.person_id, op.outcome FROM operation_persons op JOIN cases c ON c.id = op.case_id
				WHERE op.operation_id = ? ORDER BY c.code_name, op.person_id`, r.op.ID)
			if err != nil {
				return err
			}
			out = append(out, r.op)
		}
		return nil
	})
	return out, unavailable(err)
}

// Task kinds.
var TaskKinds = []string{"relocate_relative", "new_identity", "financial_support", "find_job", "call_back", "prepare_documents", "safety_review"}

// Task is work on a case.
type Task struct {
	ID         string
	Case       lifeline.CaseID
	CaseCode   string
	Kind       string
	Owner      lifeline.OperatorID
	OwnerName  string
	Due        lifeline.Day
	State      string // open, done, cancelled
	Note       lifeline.Sensitive
	CreatedDay lifeline.Day
}

func taskAAD(id string) seal.AAD { return seal.AAD{Table: "tasks", Column: "note", Row: id} }

// AddTask adds a task to a case, on its timeline.
func (db *DB) AddTask(ctx context.Context, by lifeline.Actor, t *Task) error {
	valid := false
	for _, k := range TaskKinds {
		valid = valid || k == t.Kind
	}
	if !valid {
		return lifeline.Errorf(lifeline.EINVALID, "Unknown kind of task.")
	}
	if t.Due.IsZero() {
		return lifeline.Errorf(lifeline.EINVALID, "A task needs a due date.")
	}
	if len(t.Note.Reveal()) > 2000 || !utf8.ValidString(t.Note.Reveal()) {
		return lifeline.Errorf(lifeline.EINVALID, "A task's note is at most 2000 bytes of text.")
	}
	t.ID, t.State = string(lifeline.NewID()), "open"
	return db.audited(ctx, by, "task.add", string(t.Case)+" "+t.ID, t.Kind, func(tx *Tx) error {
		if _, err := caseInTx(tx, t.Case); err != nil {
			return err
		}
		var note []byte
		if !t.Note.IsEmpty() {
			var err error
			if note, err = db.sealField(tx, caseOwner(t.Case), "", seal.CompartmentIdentity, taskAAD(t.ID), []byte(t.Note.Reveal())); err != nil {
				return unavailable(err)
			}
		}
		t.CreatedDay = lifeline.DayOf(tx.Now())
		if _, err := tx.Exec(`INSERT INTO tasks (id, case_id, kind, owner_id, due_day, state, note, created_day) VALUES (?, ?, ?, NULLIF(?, ''), ?, 'open', ?, ?)`,
			t.ID, t.Case, t.Kind, t.Owner, t.Due.String(), note, t.CreatedDay.String()); err != nil {
			return err
		}
		return db.addEvent(tx, by, t.Case, "task", "", t.Kind, seal.CompartmentIdentity, "")
	})
}

// SetTaskState marks a task done or cancelled.
func (db *DB) SetTaskState(ctx context.Context, by lifeline.Actor, caseID lifeline.CaseID, id, state string) error {
	if state != "done" && state != "cancelled" {
		return lifeline.Errorf(lifeline.EINVALID, "A task is done or cancelled.")
	}
	return db.audited(ctx, by, "task.state", string(caseID)+" "+id, state, func(tx *Tx) error {
		var kind string
		err := tx.QueryRow(`SELECT kind FROM tasks WHERE id = ? AND case_id = ? AND state = 'open'`, id, caseID).Scan(&kind)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such open task.")
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE tasks SET state = ?, done_day = ? WHERE id = ?`, state, lifeline.DayOf(tx.Now()).String(), id); err != nil {
			return err
		}
		return db.addEvent(tx, by, caseID, "task", "open", kind+" "+state, seal.CompartmentIdentity, "")
	})
}

// Tasks lists a case's tasks (or, for "", every open task due on or before
// dueBy: the overdue list), by due date. withNotes opens the notes.
func (db *DB) Tasks(ctx context.Context, caseID lifeline.CaseID, dueBy lifeline.Day, withNotes bool) ([]Task, error) {
	var out []Task
	err := db.Read(ctx, func(tx *Tx) error {
		type row struct {
			t          Task
			due, cr    string
			note       []byte
			owner, own sql.NullString
		}
		rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.t.ID, &r.t.Case, &r.t.CaseCode, &r.t.Kind, &r.owner, &r.own, &r.due, &r.t.State, &r.note, &r.cr)
		}, `SELECT t.id, t.case_id, c.code_name, t.kind, t.owner_id, o.username, t.due_day, t.state, t.note, t.created_day
			FROM tasks t JOIN cases c ON c.id = t.case_id LEFT JOIN operators o ON o.id = t.owner_id
			WHERE (?1 <> '' AND t.case_id = ?1) OR (?1 = '' AND t.state = 'open' AND t.due_day <= ?2)
			ORDER BY t.due_day, t.rowid`, caseID, dueBy.String())
		if err != nil {
			return err
		}
		for _, r := range rs {
			r.t.Owner, r.t.OwnerName = lifeline.OperatorID(r.owner.String), r.own.String
			if r.t.Due, err = lifeline.ParseDay(r.due); err != nil {
				return err
			}
			if r.t.CreatedDay, err = lifeline.ParseDay(r.cr); err != nil {
				return err
			}
			if withNotes && r.note != nil {
				b, err := db.openField(tx, taskAAD(r.t.ID), r.note)
				if err != nil {
					return err
				}
				r.t.Note = lifeline.Sensitive(b)
			}
			out = append(out, r.t)
		}
		return nil
	})
	return out, unavailable(err)
}

// WatchdogLimits are how long a case in each status may stay silent (no
// message from its contacts) before the watchdog flags it lost_contact.
var WatchdogLimits = map[lifeline.CaseStatus]time.Duration{
	lifeline.CaseRegistered: 14 * 24 * time.Hour,
	lifeline.CaseScreening:  14 * 24 * time.Hour,
	lifeline.CaseWaiting:    60 * 24 * time.Hour,
	lifeline.CaseActive:     3 * 24 * time.Hour,
	lifeline.CaseExtraction: 2 * 24 * time.Hour,
	lifeline.CaseExchanged:  90 * 24 * time.Hour,
	lifeline.CaseStays:      90 * 24 * time.Hour,
	lifeline.CaseEmigrated:  90 * 24 * time.Hour,
}

// FlagSilentCases moves every case silent past its status's limit to
// lost_contact (as the system, with a reason), and returns how many.
// Captured and in-custody cases are not watched: the man is held.
func (db *DB) FlagSilentCases(ctx context.Context, limits map[lifeline.CaseStatus]time.Duration) (int, error) {
	// Every open case, not the case list's newest 500.
	var cases []CaseSummary
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		cases, err = queryAll(tx, func(rows *sql.Rows) (CaseSummary, error) { return scanCaseSummary(rows) },
			`SELECT `+caseSummaryColumns+caseSummaryFrom+` WHERE c.status NOT IN ('closed', 'lost_contact')`)
		return err
	})
	if err != nil {
		return 0, err
	}
	today := lifeline.DayOf(db.Now())
	n := 0
	for _, c := range cases {
		limit, ok := limits[c.Status]
		if !ok {
			continue
		}
		days := int(limit / (24 * time.Hour))
		if !c.LastContactDay.AddDays(days).Before(today) {
			continue
		}
		err := db.TransitionCase(ctx, lifeline.Actor{ID: lifeline.ActorSystem}, c.ID, lifeline.CaseLostContact,
			"silent since "+c.LastContactDay.String())
		if lifeline.ErrorCode(err) == lifeline.ECONFLICT {
			continue // moved meanwhile
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
