// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	mediapkg "github.com/lifeline-hotline/lifeline/internal/media"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// stepUpAge is how long a fresh second factor allows reveals of identity
// fields (SECURITY.md §2.6: step-up, max age 5 min).
const stepUpAge = 5 * time.Minute

// caseScope is the object-level rule for cases (lifeline.Reaches), for
// pages, actions, search, export and notifications alike: "own" grants
// reach the cases whose case officer or verification officer the operator
// is; the intake operator's append-only and pseudonym-only grants reach the
// cases of conversations he handles (mine says so).
func caseScope(s *session, action lifeline.Action, c *sqlstore.CaseSummary, mine bool) bool {
	return lifeline.Reaches(s.reacher(), action, c.Object(mine))
}

// caseView is what one operator may see and do on one case.
type caseView struct {
	Case        *sqlstore.CaseSummary
	Pseudonym   bool // sees the code name and status only
	Identity    bool // may reveal identity fields (own, step-up)
	Revealed    bool // a fresh step-up: identity fields shown
	WriteID     bool // may add persons, choices, tasks
	IntelRead   bool // screening details and operation plans
	VerdictOnly bool
	IntelWrite  bool
	Assign      bool
	Approve     bool // meetings, closing
	Originals   bool // document originals (the verification officer)
	Erase       bool // may ask for or confirm an erasure (two supervisors)
	Hold        bool // may put the case on legal hold (a supervisor)
}

// caseFor loads the case of the request's {id} and what the session may do
// with it; a case out of scope answers like one that does not exist, and
// the refusal is audited.
func (c *Console) caseFor(r *http.Request, s *session) (*caseView, error) {
	notFound := lifeline.Errorf(lifeline.ENOTFOUND, "No such case.")
	id := lifeline.CaseID(r.PathValue("id"))
	if !id.Valid() {
		return nil, notFound
	}
	k, err := c.store.CaseSummaryByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	mine, err := c.handlesCase(r, s, id)
	if err != nil {
		return nil, err
	}
	if !caseScope(s, lifeline.ActionSearchContact, k, mine) {
		c.deny(r, s.actor(r), "console.denied", string(id), string(lifeline.ActionSearchContact))
		return nil, notFound
	}
	role := s.Operator.Role
	v := &caseView{Case: k}
	v.Pseudonym = lifeline.Allowed(role, lifeline.ActionSearchContact) == lifeline.GrantPseudonymOnly
	v.Identity = lifeline.Allowed(role, lifeline.ActionReadIdentity) == lifeline.GrantOwnStepUp && caseScope(s, lifeline.ActionReadIdentity, k, mine)
	v.Revealed = v.Identity && !s.StepUpAt.IsZero() && c.cfg.Now().Sub(s.StepUpAt) < stepUpAge
	v.WriteID = caseScope(s, lifeline.ActionWriteIdentity, k, mine)
	ir := lifeline.Allowed(role, lifeline.ActionIntelRead)
	v.IntelRead = ir != lifeline.GrantOwnVerdict && caseScope(s, lifeline.ActionIntelRead, k, mine)
	v.VerdictOnly = ir == lifeline.GrantOwnVerdict && caseScope(s, lifeline.ActionIntelRead, k, mine)
	v.IntelWrite = caseScope(s, lifeline.ActionIntelWrite, k, mine)
	v.Assign = lifeline.Allowed(role, lifeline.ActionCaseAssign).Permitted()
	v.Approve = lifeline.Allowed(role, lifeline.ActionMeetingApprove) == lifeline.GrantApprove
	v.Originals = role == lifeline.RoleVerification && k.VerifierID == s.Operator.ID
	v.Erase = lifeline.Allowed(role, lifeline.ActionCaseShred).Permitted()
	v.Hold = lifeline.Allowed(role, lifeline.ActionCaseLegalHold) == lifeline.GrantApprove
	return v, nil
}

// handlesCase reports whether a conversation of the case is assigned to
// the operator or waits unassigned, and is still within the intake desk's
// reach (not handed off, its contact wrote within 72 hours): the intake
// operator's reach.
func (c *Console) handlesCase(r *http.Request, s *session, id lifeline.CaseID) (bool, error) {
	convs, err := c.store.CaseConversations(r.Context(), id)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(convs, func(v sqlstore.ConversationSummary) bool {
		return v.State != "closed" && (v.AssignedTo == s.Operator.ID || v.AssignedTo == "") && v.Object().IntakeOpen(s.now)
	}), nil
}

// casesPage lists the cases the operator's scope reaches; ?lost=1 the
// lost-contact list.
func (c *Console) casesPage(w http.ResponseWriter, r *http.Request, s *session) {
	f := sqlstore.CaseFilter{Lost: r.URL.Query().Get("lost") == "1"}
	if lifeline.Allowed(s.Operator.Role, lifeline.ActionSearchContact) != lifeline.GrantAll {
		f.Officer = s.Operator.ID
	}
	cases, err := c.store.Cases(r.Context(), f)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	data := map[string]any{"Cases": cases, "Lost": f.Lost}
	if lifeline.Allowed(s.Operator.Role, lifeline.ActionCaseAssign).Permitted() {
		overdue, err := c.store.Tasks(r.Context(), "", lifeline.DayOf(c.cfg.Now()).AddDays(-1), false)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["Overdue"] = overdue
	}
	if lifeline.Allowed(s.Operator.Role, lifeline.ActionCaseShred).Permitted() {
		erasures, err := c.store.Erasures(r.Context())
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["Erasures"] = erasures
	}
	c.render(w, r, s, "cases", http.StatusOK, data)
}

// casePage shows a case as the operator may see it. Every read of identity
// or intel fields is one audit entry naming the fields, never the values.
func (c *Console) casePage(w http.ResponseWriter, r *http.Request, s *session) {
	v, err := c.caseFor(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	ctx, id := r.Context(), v.Case.ID
	// The moves this operator may make: the officers move the case along,
	// a supervisor closes it.
	moves := slices.DeleteFunc(nextStatuses(v.Case), func(st lifeline.CaseStatus) bool {
		if st == lifeline.CaseClosed {
			return lifeline.Allowed(s.Operator.Role, lifeline.ActionCaseClose) != lifeline.GrantApprove
		}
		return !v.WriteID
	})
	canPropose := v.WriteID && lifeline.Allowed(s.Operator.Role, lifeline.ActionCaseClose) == lifeline.GrantPropose &&
		slices.Contains(nextStatuses(v.Case), lifeline.CaseClosed) && !v.Case.CloseProposed
	data := map[string]any{"V": v, "Statuses": moves, "CanPropose": canPropose, "TaskKinds": sqlstore.TaskKinds,
		"DocumentKinds": sqlstore.DocumentKinds, "ScreeningItems": sqlstore.ScreeningItems}
	if v.Pseudonym && !v.WriteID {
		c.render(w, r, s, "case", http.StatusOK, data)
		return
	}
	var read []string
	if v.Revealed {
		persons, err := c.store.Persons(ctx, id)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["Persons"] = persons
		where, err := c.store.ChoiceWhere(ctx, id)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["Where"] = where
		read = append(read, "persons", "choice_detail")
	}
	relocate, err := c.store.PersonRelocations(ctx, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	data["Relocate"], data["PersonCount"] = relocate, len(relocate)
	if v.IntelRead || v.VerdictOnly {
		sc, err := c.store.CaseScreening(ctx, id, v.IntelRead)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["Screening"] = sc
		if v.IntelRead {
			dup, err := c.store.Duplicates(ctx, id)
			if err != nil {
				c.fail(w, r, s, err)
				return
			}
			data["Duplicates"] = dup
			read = append(read, "screening", "operation_plans")
		}
	}
	if !v.Pseudonym {
		ops, err := c.store.Operations(ctx, id, v.IntelRead)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["Operations"] = ops
		tasks, err := c.store.Tasks(ctx, id, lifeline.Day{}, v.Revealed)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["Tasks"] = tasks
		docs, err := c.store.Documents(ctx, id)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["Documents"] = docs
		tl, err := c.store.CaseTimeline(ctx, id, v.Revealed, v.IntelRead)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["Timeline"] = tl
		convs, err := c.store.CaseConversations(ctx, id)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["Conversations"] = convs
		if v.IntelWrite {
			active, err := c.store.Cases(ctx, sqlstore.CaseFilter{Status: lifeline.CaseActive, Officer: s.Operator.ID})
			if err != nil {
				c.fail(w, r, s, err)
				return
			}
			data["ActiveCases"] = active
		}
	}
	if v.Erase {
		refs, err := c.store.PersonRefs(ctx, id)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["PersonRefs"] = refs
	}
	if v.Assign {
		ops, err := c.store.Operators(ctx)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		data["Officers"] = ops
	}
	if len(read) > 0 {
		c.audit(r, s, "case.read", string(id), "fields="+strings.Join(read, ","))
	}
	c.render(w, r, s, "case", http.StatusOK, data)
}

// nextStatuses are the moves the state machine allows from the case's
// status (the lost_contact return narrowed to where it was lost from).
func nextStatuses(k *sqlstore.CaseSummary) []lifeline.CaseStatus {
	var out []lifeline.CaseStatus
	for _, st := range lifeline.CaseStatuses() {
		kc := k.Case
		if _, err := kc.Transition(st, lifeline.SystemOperator, "check", time.Now()); err == nil {
			out = append(out, st)
		}
	}
	return out
}

// audit records an allowed sensitive read (field names only).
func (c *Console) audit(r *http.Request, s *session, action, object, reason string) {
	by := s.actor(r)
	if err := c.store.Audit(context.WithoutCancel(r.Context()), by, action, object, reason); err != nil {
		c.logger.Error("audit", "error", err.Error())
	}
}

func (c *Console) backToCase(w http.ResponseWriter, r *http.Request, id lifeline.CaseID) {
	http.Redirect(w, r, "/cases/"+string(id), http.StatusSeeOther)
}

// openCase opens a case for a conversation's contact.
func (c *Console) openCase(w http.ResponseWriter, r *http.Request, s *session) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReadConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	k, err := c.store.OpenCase(context.WithoutCancel(r.Context()), s.actor(r), conv.ID)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.backToCase(w, r, k.ID)
}

// linkContact links a conversation's contact to an existing case of the
// officer's own (the same person on another channel), found by code name.
// A case out of the officer's reach answers like one that does not exist.
func (c *Console) linkContact(w http.ResponseWriter, r *http.Request, s *session) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReadConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	k, err := c.store.CaseByCode(r.Context(), r.PostFormValue("code"))
	if err == nil && !caseScope(s, lifeline.ActionWriteIdentity, k, false) {
		c.deny(r, s.actor(r), "console.denied", string(k.ID), "route="+r.Pattern)
		err = lifeline.Errorf(lifeline.ENOTFOUND, "No case has that code name.")
	}
	if err == nil {
		err = c.store.LinkContact(context.WithoutCancel(r.Context()), s.actor(r), conv.ID, k.ID)
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.backToCase(w, r, k.ID)
}

// reveal takes a fresh TOTP code (step-up) and then shows identity fields
// for five minutes.
func (c *Console) reveal(w http.ResponseWriter, r *http.Request, s *session) {
	v, err := c.caseFor(r, s)
	if err == nil && !v.Identity {
		err = lifeline.Errorf(lifeline.EFORBIDDEN, "Your role does not reveal identity fields on this case.")
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if err := c.stepUp(r, s, string(v.Case.ID)); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.backToCase(w, r, v.Case.ID)
}

// stepUp checks the fresh TOTP code of the request's form and records the
// step-up on the session; a wrong or replayed code is audited as a denial
// about object and answered EUNAUTHORIZED.
func (c *Console) stepUp(r *http.Request, s *session, object string) error {
	l, err := c.store.LoginByUsername(r.Context(), s.Operator.Username)
	if err != nil {
		return err
	}
	step, err := auth.VerifyTOTP(string(l.TOTPSecret), r.PostFormValue("code"), l.TOTPLastStep, c.cfg.Now())
	if err == nil {
		var fresh bool
		if fresh, err = c.store.UseTOTPStep(r.Context(), s.Operator.ID, step); err == nil && !fresh {
			err = auth.ErrTOTPReplayed
		}
	}
	if err != nil {
		c.deny(r, s.actor(r), "session.step_up", object, "totp")
		return lifeline.Errorf(lifeline.EUNAUTHORIZED, "That code is wrong or used already: type the current one.")
	}
	if err := c.store.StepUp(context.WithoutCancel(r.Context()), s.actor(r), s.hash); err != nil {
		return err
	}
	s.StepUpAt = c.cfg.Now()
	return nil
}

// withCase runs fn on the request's case if the session's view allows it
// (allowed reads the view); otherwise the refusal is audited and answered.
func (c *Console) withCase(allowed func(*caseView) bool, fn func(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		v, err := c.caseFor(r, s)
		if err == nil && !allowed(v) {
			c.deny(r, s.actor(r), "console.denied", string(v.Case.ID), "route="+r.Pattern)
			err = lifeline.Errorf(lifeline.EFORBIDDEN, "Your role does not allow this on this case.")
		}
		if err == nil {
			err = fn(w, r, s, v)
		}
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		if w.Header().Get("Location") == "" {
			c.backToCase(w, r, v.Case.ID)
		}
	}
}

func (c *Console) addPerson(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	f := func(k string) lifeline.Sensitive { return lifeline.Sensitive(strings.TrimSpace(r.PostFormValue(k))) }
	p := &lifeline.Person{ID: lifeline.NewPersonID(), CaseID: v.Case.ID, Relation: lifeline.Relation(r.PostFormValue("relation")),
		Name: f("name"), BirthDate: f("birth_date"), Unit: f("unit"), Rank: f("rank"), ServiceNumber: f("service_number"),
		DocumentNumber: f("document_number"), Whereabouts: f("whereabouts"), Phone: f("phone")}
	if p.Name.IsEmpty() {
		return lifeline.Errorf(lifeline.EINVALID, "A person needs a name.")
	}
	ctx := context.WithoutCancel(r.Context())
	if err := c.store.AddPerson(ctx, s.actor(r), p); err != nil {
		return err
	}
	if r.PostFormValue("relocate") == "1" {
		return c.store.PersonRelocate(ctx, s.actor(r), v.Case.ID, p.ID, true)
	}
	return nil
}

func (c *Console) setStatus(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	to := lifeline.CaseStatus(r.PostFormValue("status"))
	// Closing is the supervisor's approval; the officers propose it by
	// note. Every other move is the officers' own work.
	if to == lifeline.CaseClosed && lifeline.Allowed(s.Operator.Role, lifeline.ActionCaseClose) != lifeline.GrantApprove {
		return lifeline.Errorf(lifeline.EFORBIDDEN, "A supervisor closes cases.")
	}
	if to != lifeline.CaseClosed && !v.WriteID {
		return lifeline.Errorf(lifeline.EFORBIDDEN, "The case's officers move it.")
	}
	return c.store.TransitionCase(context.WithoutCancel(r.Context()), s.actor(r), v.Case.ID, to, strings.TrimSpace(r.PostFormValue("reason")))
}

func (c *Console) setChoices(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	return c.store.SetChoices(context.WithoutCancel(r.Context()), s.actor(r), v.Case.ID,
		r.PostFormValue("exchange"), r.PostFormValue("future"), strings.TrimSpace(r.PostFormValue("where")))
}

func (c *Console) assignCase(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	return c.store.AssignCase(context.WithoutCancel(r.Context()), s.actor(r), v.Case.ID,
		lifeline.OperatorID(r.PostFormValue("officer")), lifeline.OperatorID(r.PostFormValue("verifier")))
}

func (c *Console) saveScreening(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	if err := r.ParseForm(); err != nil {
		return lifeline.Errorf(lifeline.EINVALID, "Unreadable form.")
	}
	checklist := map[string]bool{}
	for _, item := range r.PostForm["checked"] {
		checklist[item] = true
	}
	return c.store.SaveScreening(context.WithoutCancel(r.Context()), s.actor(r), v.Case.ID, checklist, r.PostForm["flags"], strings.TrimSpace(r.PostFormValue("note")))
}

func (c *Console) verdict(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	return c.store.RecordVerdict(context.WithoutCancel(r.Context()), s.actor(r), v.Case.ID, r.PostFormValue("verdict"), strings.TrimSpace(r.PostFormValue("reason")))
}

func (c *Console) createOperation(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	if err := r.ParseForm(); err != nil {
		return lifeline.Errorf(lifeline.EINVALID, "Unreadable form.")
	}
	// The applicants of the chosen active cases (this one and others the
	// officer verifies) are the persons brought over.
	var persons []lifeline.PersonID
	for _, cid := range append([]string{string(v.Case.ID)}, r.PostForm["with"]...) {
		other, err := c.store.CaseSummaryByID(r.Context(), lifeline.CaseID(cid))
		if err != nil {
			return err
		}
		if !caseScope(s, lifeline.ActionIntelWrite, other, false) {
			return lifeline.Errorf(lifeline.ENOTFOUND, "No such case.")
		}
		ps, err := c.store.Persons(r.Context(), other.ID)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Relation == lifeline.RelationApplicant && !slices.Contains(persons, p.ID) {
				persons = append(persons, p.ID)
			}
		}
	}
	plan := sqlstore.OperationPlan{Time: strings.TrimSpace(r.PostFormValue("time")), MeetingPoint: strings.TrimSpace(r.PostFormValue("meeting_point")),
		Unit: strings.TrimSpace(r.PostFormValue("unit")), Notes: strings.TrimSpace(r.PostFormValue("notes"))}
	_, err := c.store.CreateOperation(context.WithoutCancel(r.Context()), s.actor(r), plan, persons)
	return err
}

// operationOf checks that the form's operation involves the case.
func (c *Console) operationOf(r *http.Request, v *caseView) (string, error) {
	ops, err := c.store.Operations(r.Context(), v.Case.ID, false)
	if err != nil {
		return "", err
	}
	id := r.PostFormValue("operation")
	if !slices.ContainsFunc(ops, func(o sqlstore.Operation) bool { return o.ID == id }) {
		return "", lifeline.Errorf(lifeline.ENOTFOUND, "No such operation on this case.")
	}
	return id, nil
}

func (c *Console) operationState(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	id, err := c.operationOf(r, v)
	if err != nil {
		return err
	}
	state := r.PostFormValue("state")
	if (state == sqlstore.OperationApproved) != v.Approve {
		return lifeline.Errorf(lifeline.EFORBIDDEN, "A supervisor approves meetings; the verification officer runs the operation.")
	}
	return c.store.SetOperationState(context.WithoutCancel(r.Context()), s.actor(r), id, state)
}

func (c *Console) operationOutcome(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	id, err := c.operationOf(r, v)
	if err != nil {
		return err
	}
	return c.store.SetOutcome(context.WithoutCancel(r.Context()), s.actor(r), id, lifeline.PersonID(r.PostFormValue("person")), r.PostFormValue("outcome"))
}

func (c *Console) addTask(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	due, err := lifeline.ParseDay(r.PostFormValue("due"))
	if err != nil {
		return lifeline.Errorf(lifeline.EINVALID, "Give the due date as YYYY-MM-DD.")
	}
	return c.store.AddTask(context.WithoutCancel(r.Context()), s.actor(r), &sqlstore.Task{Case: v.Case.ID, Kind: r.PostFormValue("kind"),
		Owner: lifeline.OperatorID(r.PostFormValue("owner")), Due: due, Note: lifeline.Sensitive(strings.TrimSpace(r.PostFormValue("note")))})
}

func (c *Console) taskState(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	return c.store.SetTaskState(context.WithoutCancel(r.Context()), s.actor(r), v.Case.ID, r.PathValue("task"), r.PostFormValue("state"))
}

// maxDocument is the largest document a case officer may upload.
const maxDocument = 10 << 20

func (c *Console) addDocument(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	f, _, err := r.FormFile("file")
	if err != nil {
		return lifeline.Errorf(lifeline.EINVALID, "Choose a file (at most 10 MiB).")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDocument+1))
	if err != nil || len(data) > maxDocument {
		return lifeline.Errorf(lifeline.EINVALID, "A document is at most 10 MiB.")
	}
	verdict := mediapkg.Check(data)
	if verdict.Reason != "" {
		return lifeline.Errorf(lifeline.EINVALID, "That file is not a picture or PDF lifeline accepts (%s).", verdict.Reason)
	}
	d := &sqlstore.Document{Case: v.Case.ID, Kind: r.PostFormValue("kind"), MIME: verdict.MIME, Original: data}
	if _, rend, err := mediapkg.Preview(verdict.MIME, data); err == nil {
		d.Rendition = rend
	}
	return c.store.AddDocument(context.WithoutCancel(r.Context()), s.actor(r), d)
}

// document serves a document of a case: the redrawn rendition to those who
// may reveal identity (after step-up), the original to the case's
// verification officer only. Each is an audited read.
func (c *Console) document(w http.ResponseWriter, r *http.Request, s *session) {
	v, err := c.caseFor(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	original := r.URL.Query().Get("original") == "1"
	if original && !v.Originals || !original && !v.Revealed {
		c.deny(r, s.actor(r), "document.read", string(v.Case.ID), "route="+r.Pattern)
		c.fail(w, r, s, lifeline.Errorf(lifeline.EFORBIDDEN, "Reveal the case's identity fields first; originals are for the verification officer."))
		return
	}
	d, err := c.store.Document(r.Context(), v.Case.ID, r.PathValue("doc"), original)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.audit(r, s, "document.read", string(v.Case.ID)+" "+d.ID, map[bool]string{true: "original", false: "rendition"}[original])
	w.Header().Set("Content-Security-Policy", mediaCSP)
	w.Header().Set("Cache-Control", "no-store")
	if original {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="document"`)
		w.Write(d.Original)
		return
	}
	if d.Rendition == nil {
		c.fail(w, r, s, lifeline.Errorf(lifeline.ENOTFOUND, "This document has no preview."))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(d.Rendition)
}

// legalHold keeps the case from the retention sweep for another 90 days.
func (c *Console) legalHold(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	_, err := c.store.SetLegalHold(context.WithoutCancel(r.Context()), s.actor(r), v.Case.ID, strings.TrimSpace(r.PostFormValue("reason")))
	return err
}

// proposeClose is an officer's proposal to close; a supervisor approves by
// closing the case.
func (c *Console) proposeClose(w http.ResponseWriter, r *http.Request, s *session, v *caseView) error {
	return c.store.ProposeClose(context.WithoutCancel(r.Context()), s.actor(r), v.Case.ID, strings.TrimSpace(r.PostFormValue("reason")))
}
