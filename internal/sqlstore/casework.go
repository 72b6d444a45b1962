// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// CaseSummary is a case as lists show it: workflow fields only.
type CaseSummary struct {
	lifeline.Case
	VerifierID     lifeline.OperatorID
	OfficerName    string
	VerifierName   string
	ExchangeChoice string // '', exchange, no_exchange
	FutureChoice   string // '', stay, emigrate
	LastContactDay lifeline.Day
	Verdict        string        // '', verified, rejected
	HoldUntil      lifeline.Day  // a legal hold keeps it from retention until this day; zero if none
	CloseProposed  bool          // an officer proposed closing it since its last status change
	Team           lifeline.Team // the team it belongs to; "" for none yet
}

// Object is what need-to-know (lifeline.Reaches) knows of the case: its
// officers and its team; mine says the operator handles it as the intake
// desk does (one of its conversations is within his intake reach).
func (s *CaseSummary) Object(mine bool) lifeline.Object {
	o := lifeline.Object{Owners: []lifeline.OperatorID{s.AssignedTo, s.VerifierID}, Handles: mine, HandedOff: s.AssignedTo != ""}
	if s.Team != "" {
		o.Teams = []lifeline.Team{s.Team}
	}
	return o
}

// The applicant's choices.
const (
	ChoiceExchange   = "exchange"
	ChoiceNoExchange = "no_exchange"
	ChoiceStay       = "stay"
	ChoiceEmigrate   = "emigrate"
)

const caseSummaryColumns = `c.id, c.code_name, c.stream, c.status, c.lost_from, COALESCE(c.assigned_to, ''), COALESCE(c.verifier_id, ''),
	COALESCE(o.username, ''), COALESCE(v.username, ''), c.exchange_choice, c.future_choice, c.created_day, COALESCE(c.closed_day, ''),
	COALESCE((SELECT MAX(m.created_day) FROM messages m JOIN contacts k ON k.id = m.contact_id WHERE k.case_id = c.id AND m.direction = 'in'), c.created_day),
	COALESCE((SELECT verdict FROM screenings s WHERE s.case_id = c.id), ''), COALESCE(c.hold_until, ''),
	EXISTS (SELECT 1 FROM case_events p WHERE p.case_id = c.id AND p.kind = 'proposal'
		AND p.rowid > COALESCE((SELECT MAX(q.rowid) FROM case_events q WHERE q.case_id = c.id AND q.kind = 'status'), 0)),
	COALESCE(c.team, '')`

const caseSummaryFrom = ` FROM cases c LEFT JOIN operators o ON o.id = c.assigned_to LEFT JOIN operators v ON v.id = c.verifier_id`

func scanCaseSummary(rows interface{ Scan(...any) error }) (CaseSummary, error) {
	var s CaseSummary
	var created, closed, last, hold string
	err := rows.Scan(&s.ID, &s.CodeName, &s.Stream, &s.Status, &s.LostFrom, &s.AssignedTo, &s.VerifierID, &s.OfficerName, &s.VerifierName,
		&s.ExchangeChoice, &s.FutureChoice, &created, &closed, &last, &s.Verdict, &hold, &s.CloseProposed, &s.Team)
	if err != nil {
		return s, err
	}
	if s.CreatedDay, err = lifeline.ParseDay(created); err != nil {
		return s, err
	}
	if closed != "" {
		if s.ClosedDay, err = lifeline.ParseDay(closed); err != nil {
			return s, err
		}
	}
	if hold != "" {
		if s.HoldUntil, err = lifeline.ParseDay(hold); err != nil {
			return s, err
		}
	}
	s.LastContactDay, err = lifeline.ParseDay(last)
	return s, err
}

// CaseFilter selects cases for a list.
type CaseFilter struct {
	Officer lifeline.OperatorID // cases whose case officer or verification officer this is; "" for all
	Status  lifeline.CaseStatus // "" for every status
	Lost    bool                // only lost_contact
}

// Cases lists cases, newest first.
func (db *DB) Cases(ctx context.Context, f CaseFilter) ([]CaseSummary, error) {
	var out []CaseSummary
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (CaseSummary, error) { return scanCaseSummary(rows) },
			`SELECT `+caseSummaryColumns+caseSummaryFrom+`
			WHERE (?1 = '' OR c.assigned_to = ?1 OR c.verifier_id = ?1) AND (?2 = '' OR c.status = ?2) AND (?3 = 0 OR c.status = 'lost_contact')
			ORDER BY c.created_day DESC, c.rowid DESC LIMIT 500`, f.Officer, f.Status, f.Lost)
		return err
	})
	return out, err
}

// CaseSummaryByID reads one case's summary; ENOTFOUND if there is none.
func (db *DB) CaseSummaryByID(ctx context.Context, id lifeline.CaseID) (*CaseSummary, error) {
	var s CaseSummary
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		s, err = scanCaseSummary(tx.QueryRow(`SELECT `+caseSummaryColumns+caseSummaryFrom+` WHERE c.id = ?`, id))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lifeline.Errorf(lifeline.ENOTFOUND, "No such case.")
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// eventAAD binds an event's sealed detail to its row.
func eventAAD(id string) seal.AAD { return seal.AAD{Table: "case_events", Column: "detail", Row: id} }

// addEvent records one thing that happened to a case, in tx; detail (the
// why, typed) is sealed in compartment c under the case's key.
func (db *DB) addEvent(tx *Tx, by lifeline.Actor, caseID lifeline.CaseID, kind, from, to string, c seal.Compartment, detail string) error {
	id := string(lifeline.NewID())
	var ct []byte
	if detail != "" {
		var err error
		if ct, err = db.sealField(tx, caseOwner(caseID), "", c, eventAAD(id), []byte(detail)); err != nil {
			return unavailable(err)
		}
	}
	_, err := tx.Exec(`INSERT INTO case_events (id, case_id, kind, from_state, to_state, actor_id, day, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, caseID, kind, from, to, by.ID, lifeline.DayOf(tx.Now()).String(), ct)
	return err
}

// checkReason validates a typed reason.
func checkReason(reason string) error {
	switch {
	case strings.TrimSpace(reason) == "":
		return lifeline.Errorf(lifeline.EINVALID, "Say why.")
	case len(reason) > lifeline.MaxReasonLen || !utf8.ValidString(reason):
		return lifeline.Errorf(lifeline.EINVALID, "The reason is at most %d bytes of text.", lifeline.MaxReasonLen)
	}
	return nil
}

// OpenCase opens a case for the contact of a conversation: a new case in
// registered, under a fresh code name, the contact linked to it. ECONFLICT
// if the contact has a case already.
func (db *DB) OpenCase(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID) (*lifeline.Case, error) {
	for range 8 { // a code name taken by chance: draw again
		var stream lifeline.Stream
		var contact lifeline.ContactID
		var existing sql.NullString
		err := db.Read(ctx, func(tx *Tx) error {
			return tx.QueryRow(`SELECT v.stream, v.contact_id, k.case_id FROM conversations v JOIN contacts k ON k.id = v.contact_id WHERE v.id = ?`, conv).
				Scan(&stream, &contact, &existing)
		})
		if errors.Is(err, sql.ErrNoRows) {
			return nil, lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
		}
		if err != nil {
			return nil, err
		}
		if existing.Valid {
			return nil, lifeline.Errorf(lifeline.ECONFLICT, "This contact has a case already.")
		}
		c, err := lifeline.NewCase(stream, db.Now())
		if err != nil {
			return nil, err
		}
		err = db.audited(ctx, by, "case.create", string(c.ID), "conversation", func(tx *Tx) error {
			_, err := tx.Exec(`INSERT INTO cases (id, code_name, stream, status, lost_from, created_day) VALUES (?, ?, ?, ?, '', ?)`,
				c.ID, c.CodeName, c.Stream, c.Status, c.CreatedDay.String())
			if db.dialect.isUniqueViolation(err) {
				return errCodeNameTaken
			}
			if err != nil {
				return err
			}
			res, err := tx.Exec(`UPDATE contacts SET case_id = ? WHERE id = ? AND case_id IS NULL`, c.ID, contact)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return lifeline.Errorf(lifeline.ECONFLICT, "This contact has a case already.")
			}
			// An operator who opens the case takes over from the bot: its
			// session ends here and its answers' key is shredded, so that
			// it never makes a second case.
			if _, err := tx.Exec(`UPDATE questionnaire_sessions SET state = 'done', outcome = 'skipped', answers = NULL, seq = seq + 1
				WHERE contact_id = ? AND state IN ('active', 'paused')`, contact); err != nil {
				return err
			}
			if _, err := db.deleteDataKeys(tx, questionnaireOwner(conv)); err != nil {
				return err
			}
			return db.addEvent(tx, by, c.ID, "created", "", string(c.Status), seal.CompartmentIdentity, "")
		})
		if errors.Is(err, errCodeNameTaken) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, lifeline.Errorf(lifeline.EUNAVAILABLE, "No free code name; try again.")
}

var errCodeNameTaken = errors.New("code name taken")

// CaseOfConversation returns the case the conversation's contact is linked
// to, or "".
func (db *DB) CaseOfConversation(ctx context.Context, conv lifeline.ConversationID) (lifeline.CaseID, error) {
	var id sql.NullString
	err := db.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow(`SELECT k.case_id FROM conversations v JOIN contacts k ON k.id = v.contact_id WHERE v.id = ?`, conv).Scan(&id)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
	}
	return lifeline.CaseID(id.String), err
}

// CaseConversations lists the conversations of a case's contacts.
func (db *DB) CaseConversations(ctx context.Context, id lifeline.CaseID) ([]ConversationSummary, error) {
	var out []ConversationSummary
	err := db.Read(ctx, func(tx *Tx) error {
		teams, err := teamsOf(tx)
		if err != nil {
			return err
		}
		out, err = queryAll(tx, func(rows *sql.Rows) (c ConversationSummary, err error) {
			var opened, last string
			var sc scope
			if err = rows.Scan(append([]any{&c.ID, &c.ContactID, &c.Kind, &c.Channel, &c.State, &c.AssignedTo, &opened, &last}, sc.dest()...)...); err != nil {
				return c, err
			}
			sc.apply(&c, teams)
			if c.OpenedDay, err = lifeline.ParseDay(opened); err == nil {
				c.LastActivityDay, err = lifeline.ParseDay(last)
			}
			return c, err
		}, `SELECT v.id, v.contact_id, v.channel_kind, v.channel_name, v.state, COALESCE(v.assigned_to, ''), v.opened_day, v.last_activity_day,
				`+scopeColumns+`
			FROM conversations v JOIN contacts k ON k.id = v.contact_id WHERE k.case_id = ? ORDER BY v.rowid`, id)
		return err
	})
	return out, err
}

// TransitionCase moves a case to another status by the rules of
// lifeline.Case.Transition, recording who, when and why (the why sealed)
// on the timeline, audited.
func (db *DB) TransitionCase(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, to lifeline.CaseStatus, reason string) error {
	operator := lifeline.OperatorID(by.ID)
	if by.ID == lifeline.ActorSystem {
		operator = lifeline.SystemOperator
	}
	return db.audited(ctx, by, "case.status", string(id), "to="+string(to), func(tx *Tx) error {
		c, err := caseInTx(tx, id)
		if err != nil {
			return err
		}
		from := c.Status
		if _, err := c.Transition(to, operator, reason, tx.Now()); err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE cases SET status = ?, lost_from = ?, closed_day = NULLIF(?, '') WHERE id = ? AND status = ?`,
			c.Status, c.LostFrom, dayOrEmpty(c.ClosedDay), id, from)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return lifeline.Errorf(lifeline.ECONFLICT, "The case changed meanwhile; reload it.")
		}
		return db.addEvent(tx, by, id, "status", string(from), string(to), seal.CompartmentIdentity, reason)
	})
}

func dayOrEmpty(d lifeline.Day) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

func caseInTx(tx *Tx, id lifeline.CaseID) (*lifeline.Case, error) {
	var c lifeline.Case
	var assigned sql.NullString
	var created string
	err := tx.QueryRow(`SELECT id, code_name, stream, status, lost_from, assigned_to, created_day FROM cases WHERE id = ?`, id).
		Scan(&c.ID, &c.CodeName, &c.Stream, &c.Status, &c.LostFrom, &assigned, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lifeline.Errorf(lifeline.ENOTFOUND, "No such case.")
	}
	if err != nil {
		return nil, err
	}
	c.AssignedTo = lifeline.OperatorID(assigned.String)
	c.CreatedDay, err = lifeline.ParseDay(created)
	return &c, err
}

// AssignCase sets a case's case officer and verification officer ("" for
// none), audited and on the timeline. The verification officer must not be
// the case officer.
func (db *DB) AssignCase(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, officer, verifier lifeline.OperatorID) error {
	if officer != "" && officer == verifier {
		return lifeline.Errorf(lifeline.EINVALID, "The verification officer must be someone other than the case officer.")
	}
	return db.audited(ctx, by, "case.assign", string(id), "", func(tx *Tx) error {
		for _, o := range []struct {
			id   lifeline.OperatorID
			role lifeline.Role
		}{{officer, lifeline.RoleCaseOfficer}, {verifier, lifeline.RoleVerification}} {
			if o.id == "" {
				continue
			}
			var role lifeline.Role
			var disabled bool
			err := tx.QueryRow(`SELECT role, disabled FROM operators WHERE id = ?`, o.id).Scan(&role, &disabled)
			if errors.Is(err, sql.ErrNoRows) {
				return lifeline.Errorf(lifeline.ENOTFOUND, "No such operator.")
			}
			if err != nil {
				return err
			}
			if disabled || role != o.role {
				return lifeline.Errorf(lifeline.EINVALID, "A case's officer is a %s, and active.", o.role)
			}
		}
		res, err := tx.Exec(`UPDATE cases SET assigned_to = NULLIF(?, ''), verifier_id = NULLIF(?, '') WHERE id = ?`, officer, verifier, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such case.")
		}
		if officer != "" {
			if err := teamFromOfficer(tx, id, officer); err != nil {
				return err
			}
		}
		names := []string{"-", "-"}
		for i, o := range []lifeline.OperatorID{officer, verifier} {
			if o != "" {
				if err := tx.QueryRow(`SELECT username FROM operators WHERE id = ?`, o).Scan(&names[i]); err != nil {
					return err
				}
			}
		}
		return db.addEvent(tx, by, id, "assign", "", names[0]+", "+names[1], seal.CompartmentIdentity, "")
	})
}

// SetChoices records the applicant's choices: exchange or not, staying in
// Ukraine or emigrating, and where (sealed), with who and when on the
// timeline.
func (db *DB) SetChoices(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, exchange, future, where string) error {
	if exchange != "" && exchange != ChoiceExchange && exchange != ChoiceNoExchange {
		return lifeline.Errorf(lifeline.EINVALID, "Exchange or no exchange.")
	}
	if future != "" && future != ChoiceStay && future != ChoiceEmigrate {
		return lifeline.Errorf(lifeline.EINVALID, "Stay in Ukraine or emigrate.")
	}
	if len(where) > 200 || !utf8.ValidString(where) {
		return lifeline.Errorf(lifeline.EINVALID, "Where is at most 200 bytes of text.")
	}
	return db.audited(ctx, by, "case.choice", string(id), "", func(tx *Tx) error {
		var detail []byte
		if where != "" {
			var err error
			if detail, err = db.sealField(tx, caseOwner(id), "", seal.CompartmentIdentity, seal.AAD{Table: "cases", Column: "choice_detail", Row: string(id)}, []byte(where)); err != nil {
				return unavailable(err)
			}
		}
		res, err := tx.Exec(`UPDATE cases SET exchange_choice = ?, future_choice = ?, choice_detail = ? WHERE id = ?`, exchange, future, detail, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such case.")
		}
		return db.addEvent(tx, by, id, "choice", "", exchange+" "+future, seal.CompartmentIdentity, where)
	})
}

// ChoiceWhere opens where the applicant emigrates to; "" if not given.
func (db *DB) ChoiceWhere(ctx context.Context, id lifeline.CaseID) (string, error) {
	var out string
	err := db.Read(ctx, func(tx *Tx) error {
		var ct []byte
		if err := tx.QueryRow(`SELECT choice_detail FROM cases WHERE id = ?`, id).Scan(&ct); err != nil {
			return err
		}
		if ct == nil {
			return nil
		}
		b, err := db.openField(tx, seal.AAD{Table: "cases", Column: "choice_detail", Row: string(id)}, ct)
		out = string(b)
		return err
	})
	return out, unavailable(err)
}

// CaseEvent is one entry of a case's timeline.
type CaseEvent struct {
	ID       string
	Kind     string
	From, To string
	Actor    string // username, "cli" or "system"
	Day      lifeline.Day
	Detail   lifeline.Sensitive // opened only when asked and allowed; empty otherwise
	Sealed   bool               // a detail exists
}

// CaseTimeline lists a case's events, oldest first. withDetail opens the
// typed reasons of events outside the intel compartment; intel opens
// those of screening and operations too.
func (db *DB) CaseTimeline(ctx context.Context, id lifeline.CaseID, withDetail, intel bool) ([]CaseEvent, error) {
	var out []CaseEvent
	err := db.Read(ctx, func(tx *Tx) error {
		type row struct {
			e  CaseEvent
			d  string
			ct []byte
		}
		rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.e.ID, &r.e.Kind, &r.e.From, &r.e.To, &r.e.Actor, &r.d, &r.ct)
		}, `SELECT e.id, e.kind, e.from_state, e.to_state, COALESCE(o.username, e.actor_id), e.day, e.detail
			FROM case_events e LEFT JOIN operators o ON o.id = e.actor_id WHERE e.case_id = ? ORDER BY e.rowid`, id)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.e.Day, err = lifeline.ParseDay(r.d); err != nil {
				return err
			}
			r.e.Sealed = r.ct != nil
			isIntel := r.e.Kind == "screening" || r.e.Kind == "verdict" || r.e.Kind == "operation"
			if r.ct != nil && withDetail && (!isIntel || intel) {
				b, err := db.openField(tx, eventAAD(r.e.ID), r.ct)
				if err != nil {
					return err
				}
				r.e.Detail = lifeline.Sensitive(b)
			}
			out = append(out, r.e)
		}
		return nil
	})
	return out, unavailable(err)
}

// PersonRelocate sets whether a relative needs relocation.
func (db *DB) PersonRelocate(ctx context.Context, by lifeline.Actor, caseID lifeline.CaseID, person lifeline.PersonID, relocate bool) error {
	return db.audited(ctx, by, "person.relocate", string(caseID)+" "+string(person), fmt.Sprint(relocate), func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE persons SET relocate = ? WHERE id = ? AND case_id = ?`, relocate, person, caseID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such person in this case.")
		}
		return nil
	})
}

// PersonRelocations reports which of a case's persons need relocation.
func (db *DB) PersonRelocations(ctx context.Context, caseID lifeline.CaseID) (map[lifeline.PersonID]bool, error) {
	out := map[lifeline.PersonID]bool{}
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT id, relocate FROM persons WHERE case_id = ?`, caseID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id lifeline.PersonID
			var r bool
			if err := rows.Scan(&id, &r); err != nil {
				return err
			}
			out[id] = r
		}
		return rows.Err()
	})
	return out, err
}

// jsonSealed seals v as JSON in compartment c under the case's key.
func (db *DB) jsonSealed(tx *Tx, caseID lifeline.CaseID, c seal.Compartment, aad seal.AAD, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	ct, err := db.sealField(tx, caseOwner(caseID), "", c, aad, b)
	return ct, unavailable(err)
}

// openJSON opens a sealed JSON field into v; nothing if ct is nil.
func (db *DB) openJSON(tx *Tx, aad seal.AAD, ct []byte, v any) error {
	if ct == nil {
		return nil
	}
	b, err := db.openField(tx, aad, ct)
	if err != nil {
		return unavailable(err)
	}
	return json.Unmarshal(b, v)
}

// PersonRef is a person of a case without anything sealed: for lists that
// must not reveal who (a supervisor choosing a relative to erase).
type PersonRef struct {
	ID       lifeline.PersonID
	Relation lifeline.Relation
	Relocate bool
}

// PersonRefs lists a case's persons, applicant first.
func (db *DB) PersonRefs(ctx context.Context, caseID lifeline.CaseID) ([]PersonRef, error) {
	var out []PersonRef
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, func(rows *sql.Rows) (p PersonRef, err error) { return p, rows.Scan(&p.ID, &p.Relation, &p.Relocate) },
			`SELECT id, relation, relocate FROM persons WHERE case_id = ? ORDER BY relation <> 'applicant', rowid`, caseID)
		return err
	})
	return out, err
}

// CaseByCode finds a case by its code name; ENOTFOUND if there is none.
func (db *DB) CaseByCode(ctx context.Context, code string) (*CaseSummary, error) {
	var id lifeline.CaseID
	err := db.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow(`SELECT id FROM cases WHERE code_name = ?`, strings.ToUpper(strings.TrimSpace(code))).Scan(&id)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lifeline.Errorf(lifeline.ENOTFOUND, "No case has that code name.")
	}
	if err != nil {
		return nil, err
	}
	return db.CaseSummaryByID(ctx, id)
}

// LinkContact links the contact of a conversation to an existing case: the
// same person on another channel or number. ECONFLICT if the contact has a
// case already.
func (db *DB) LinkContact(ctx context.Context, by lifeline.Actor, conv lifeline.ConversationID, id lifeline.CaseID) error {
	return db.audited(ctx, by, "case.link_contact", string(id)+" "+string(conv), "", func(tx *Tx) error {
		if _, err := caseInTx(tx, id); err != nil {
			return err
		}
		var contact lifeline.ContactID
		var existing sql.NullString
		err := tx.QueryRow(`SELECT k.id, k.case_id FROM conversations v JOIN contacts k ON k.id = v.contact_id WHERE v.id = ?`, conv).Scan(&contact, &existing)
		if errors.Is(err, sql.ErrNoRows) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such conversation.")
		}
		if err != nil {
			return err
		}
		if existing.Valid {
			return lifeline.Errorf(lifeline.ECONFLICT, "This contact belongs to a case already.")
		}
		if _, err := tx.Exec(`UPDATE contacts SET case_id = ? WHERE id = ? AND case_id IS NULL`, id, contact); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE questionnaire_sessions SET state = 'done', outcome = 'skipped', answers = NULL, seq = seq + 1
			WHERE contact_id = ? AND state IN ('active', 'paused')`, contact); err != nil {
			return err
		}
		return db.addEvent(tx, by, id, "contact", "", "", seal.CompartmentIdentity, "")
	})
}

// ProposeClose records an officer's proposal to close the case, with the
// why (sealed), for a supervisor to approve by closing it (SECURITY.md
// §2.5: officers propose, supervisors approve). ECONFLICT if the case
// cannot be closed from where it is.
func (db *DB) ProposeClose(ctx context.Context, by lifeline.Actor, id lifeline.CaseID, reason string) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	return db.audited(ctx, by, "case.close_propose", string(id), "", func(tx *Tx) error {
		c, err := caseInTx(tx, id)
		if err != nil {
			return err
		}
		if !c.CanTransition(lifeline.CaseClosed) {
			return lifeline.Errorf(lifeline.ECONFLICT, "A case in status %s cannot be closed.", c.Status)
		}
		return db.addEvent(tx, by, id, "proposal", string(c.Status), string(lifeline.CaseClosed), seal.CompartmentIdentity, reason)
	})
}
