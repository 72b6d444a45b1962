// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"golang.org/x/mod/sumdb/tlog"
)

// caseFor opens a case on a new contact's conversation and adds its
// applicant with the given service number.
func (e *routingEnv) caseFor(t testing.TB, by lifeline.Actor, service string) (*lifeline.Case, lifeline.PersonID) {
	t.Helper()
	ctx := context.Background()
	c := e.inbound(t, nil)
	k, err := e.db.OpenCase(ctx, by, c.conv)
	if err != nil {
		t.Fatal(err)
	}
	p := &lifeline.Person{ID: lifeline.NewPersonID(), CaseID: k.ID, Relation: lifeline.RelationApplicant,
		Name: "Тестов Пётр Иванович", BirthDate: "1990-01-01", Unit: "в/ч 00000", Rank: "рядовой", ServiceNumber: lifeline.Sensitive(service)}
	if err := e.db.AddPerson(ctx, by, p); err != nil {
		t.Fatal(err)
	}
	return k, p.ID
}

func mustCaseStatus(t *testing.T, db *sqlstore.DB, id lifeline.CaseID, want lifeline.CaseStatus) {
	t.Helper()
	c, err := db.Case(context.Background(), id)
	if err != nil || c.Status != want {
		t.Fatalf("case status %v %v, want %s", c, err, want)
	}
}

// TestCaseLifecycle follows one case through the store: opened from a
// conversation, assigned, screened with a verdict only a verification
// officer other than the case officer records, waiting, active, an
// operation with a second case, captured, custody, choices, tasks, the
// exchange list by two people, and the timeline that records it all.
func TestCaseLifecycle(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	io := lifeline.Actor{ID: string(e.operator(t, lifeline.RoleIntake)), Role: lifeline.RoleIntake}
	coID := e.operator(t, lifeline.RoleCaseOfficer)
	co := lifeline.Actor{ID: string(coID), Role: lifeline.RoleCaseOfficer}
	voID := e.operator(t, lifeline.RoleVerification)
	vo := lifeline.Actor{ID: string(voID), Role: lifeline.RoleVerification}
	sv2 := lifeline.Actor{ID: string(e.operator(t, lifeline.RoleSupervisor)), Role: lifeline.RoleSupervisor}

	k, applicant := e.caseFor(t, io, "AB-123456")
	if k.Status != lifeline.CaseRegistered || !lifeline.ValidCodeName(k.CodeName) {
		t.Fatalf("new case %+v", k)
	}
	if err := e.db.AssignCase(ctx, e.boss, k.ID, coID, coID); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Errorf("same officer twice: %v, want EINVALID", err)
	}
	if err := e.db.AssignCase(ctx, e.boss, k.ID, voID, ""); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Errorf("a verification officer as case officer: %v, want EINVALID", err)
	}
	if err := e.db.AssignCase(ctx, e.boss, k.ID, coID, voID); err != nil {
		t.Fatal(err)
	}
	if err := e.db.TransitionCase(ctx, co, k.ID, lifeline.CaseWaiting, "skip screening"); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("registered → waiting: %v, want ECONFLICT", err)
	}
	if err := e.db.TransitionCase(ctx, co, k.ID, lifeline.CaseScreening, "questionnaire done"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SaveScreening(ctx, vo, k.ID, map[string]bool{"identity_consistent": true, "unit_confirmed": true}, nil, "checked the unit"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.RecordVerdict(ctx, co, k.ID, sqlstore.VerdictVerified, "looks fine"); lifeline.ErrorCode(err) != lifeline.EFORBIDDEN {
		t.Errorf("verdict by the case officer: %v, want EFORBIDDEN", err)
	}
	if err := e.db.RecordVerdict(ctx, vo, k.ID, sqlstore.VerdictVerified, "unit and number confirmed"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.RecordVerdict(ctx, vo, k.ID, sqlstore.VerdictRejected, "changed my mind"); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("second verdict: %v, want ECONFLICT", err)
	}
	if s, err := e.db.CaseScreening(ctx, k.ID, false); err != nil || s.Verdict != sqlstore.VerdictVerified || len(s.Checklist) != 0 {
		t.Errorf("verdict-only screening %+v %v: want the verdict and no checklist", s, err)
	}
	if s, err := e.db.CaseScreening(ctx, k.ID, true); err != nil || !s.Checklist["unit_confirmed"] {
		t.Errorf("intel screening %+v %v", s, err)
	}
	for _, st := range []lifeline.CaseStatus{lifeline.CaseWaiting, lifeline.CaseActive} {
		if err := e.db.TransitionCase(ctx, co, k.ID, st, "next step"); err != nil {
			t.Fatal(err)
		}
	}

	// A second soldier joins the same operation.
	k2, applicant2 := e.caseFor(t, io, "AB-777777")
	for _, st := range []lifeline.CaseStatus{lifeline.CaseScreening, lifeline.CaseWaiting, lifeline.CaseActive} {
		if err := e.db.TransitionCase(ctx, co, k2.ID, st, "next step"); err != nil {
			t.Fatal(err)
		}
	}
	plan := sqlstore.OperationPlan{Time: "2026-03-10 04:30", MeetingPoint: "48.1000 37.2000, the old mill", Unit: "test brigade"}
	op, err := e.db.CreateOperation(ctx, vo, plan, []lifeline.PersonID{applicant, applicant2})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetOperationState(ctx, vo, op.ID, sqlstore.OperationApproved); lifeline.ErrorCode(err) != lifeline.EFORBIDDEN {
		t.Errorf("approval by a verification officer: %v, want EFORBIDDEN", err)
	}
	for _, st := range []string{sqlstore.OperationApproved, sqlstore.OperationUnderWay} {
		if err := e.db.SetOperationState(ctx, e.boss, op.ID, st); err != nil {
			t.Fatal(err)
		}
	}
	mustCaseStatus(t, e.db, k.ID, lifeline.CaseExtraction)
	mustCaseStatus(t, e.db, k2.ID, lifeline.CaseExtraction)
	if err := e.db.SetOutcome(ctx, vo, op.ID, applicant, sqlstore.OutcomeCaptured); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetOutcome(ctx, vo, op.ID, applicant2, sqlstore.OutcomeNotArrived); err != nil {
		t.Fatal(err)
	}
	mustCaseStatus(t, e.db, k.ID, lifeline.CaseCaptured)
	mustCaseStatus(t, e.db, k2.ID, lifeline.CaseExtraction)
	ops, err := e.db.Operations(ctx, k.ID, true)
	if err != nil || len(ops) != 1 || ops[0].Plan.MeetingPoint != plan.MeetingPoint || len(ops[0].Persons) != 2 {
		t.Fatalf("operations %+v %v", ops, err)
	}
	if ops, _ := e.db.Operations(ctx, k.ID, false); ops[0].Plan != nil {
		t.Error("the plan was opened without intel")
	}

	if err := e.db.TransitionCase(ctx, co, k.ID, lifeline.CaseInCustody, "handed over"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetChoices(ctx, co, k.ID, sqlstore.ChoiceExchange, sqlstore.ChoiceEmigrate, "Canada"); err != nil {
		t.Fatal(err)
	}
	if where, err := e.db.ChoiceWhere(ctx, k.ID); err != nil || where != "Canada" {
		t.Errorf("where: %q %v", where, err)
	}

	// Tasks: one overdue surfaces on the supervisor's list.
	today := lifeline.DayOf(e.clock.Now())
	task := &sqlstore.Task{Case: k.ID, Kind: "relocate_relative", Owner: coID, Due: today.AddDays(-1), Note: "wife and daughter"}
	if err := e.db.AddTask(ctx, co, task); err != nil {
		t.Fatal(err)
	}
	if err := e.db.AddTask(ctx, co, &sqlstore.Task{Case: k.ID, Kind: "find_job", Due: today.AddDays(30)}); err != nil {
		t.Fatal(err)
	}
	overdue, err := e.db.Tasks(ctx, "", today.AddDays(-1), false)
	if err != nil || len(overdue) != 1 || overdue[0].ID != task.ID || overdue[0].CaseCode != k.CodeName || !overdue[0].Note.IsEmpty() {
		t.Fatalf("overdue %+v %v", overdue, err)
	}
	if err := e.db.SetTaskState(ctx, co, k.ID, task.ID, "done"); err != nil {
		t.Fatal(err)
	}

	// The exchange list needs two people and is made once (again only by
	// the same person, for a short while: a download that broke off).
	x, err := e.db.RequestExport(ctx, e.boss, "csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.db.ExchangeList(ctx, e.boss, x.ID); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("unapproved export: %v, want ECONFLICT", err)
	}
	if err := e.db.ApproveExport(ctx, e.boss, x.ID); lifeline.ErrorCode(err) != lifeline.EFORBIDDEN {
		t.Errorf("self-approval: %v, want EFORBIDDEN", err)
	}
	if err := e.db.ApproveExport(ctx, sv2, x.ID); err != nil {
		t.Fatal(err)
	}
	got, rows, err := e.db.ExchangeList(ctx, sv2, x.ID)
	if err != nil || len(rows) != 1 || rows[0].CodeName != k.CodeName || rows[0].Name != "Тестов Пётр Иванович" || got.ApprovedName == "" {
		t.Fatalf("exchange list %+v %+v %v", got, rows, err)
	}
	if _, _, err := e.db.ExchangeList(ctx, e.boss, x.ID); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("second download by the other person: %v, want ECONFLICT", err)
	}
	if _, rows, err := e.db.ExchangeList(ctx, sv2, x.ID); err != nil || len(rows) != 1 {
		t.Errorf("second download by the same person at once: %v %v, want the list again", rows, err)
	}

	for _, st := range []lifeline.CaseStatus{lifeline.CaseEmigrated, lifeline.CaseClosed} {
		if err := e.db.TransitionCase(ctx, co, k.ID, st, "done"); err != nil {
			t.Fatal(err)
		}
	}
	tl, err := e.db.CaseTimeline(ctx, k.ID, true, false)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range tl {
		kinds = append(kinds, ev.Kind)
		if ev.Kind == "verdict" && !ev.Detail.IsEmpty() {
			t.Error("a verdict's reason was opened without intel")
		}
	}
	for _, want := range []string{"created", "assign", "status", "screening", "verdict", "operation", "choice", "task"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("timeline %q lacks %q", kinds, want)
		}
	}
	if last := tl[len(tl)-1]; last.To != "closed" || last.Detail.Reveal() != "done" {
		t.Errorf("last event %+v", last)
	}
}

// TestDuplicateServiceNumberFlagged: a service number planted in two cases
// is found through the truncated blind indexes and confirmed by
// decrypting; a third case with another number is not flagged.
func TestDuplicateServiceNumberFlagged(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	a, _ := e.caseFor(t, e.boss, "ВС-424242")
	b, _ := e.caseFor(t, e.boss, "вс 424242") // the same number, typed otherwise
	c, _ := e.caseFor(t, e.boss, "ВС-999001")
	dup, err := e.db.Duplicates(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(dup) != 1 || dup[0].OtherCase != b.ID || dup[0].Field != "service_number" || dup[0].OtherCode != b.CodeName {
		t.Fatalf("duplicates of a: %+v, want b by service number", dup)
	}
	if dup, err := e.db.Duplicates(ctx, c.ID); err != nil || len(dup) != 0 {
		t.Errorf("duplicates of c: %+v %v, want none", dup, err)
	}
}

// TestWatchdog: a case silent past its status's limit moves to
// lost_contact, with the status it was in kept; a recent one does not.
func TestWatchdog(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	old, _ := e.caseFor(t, e.boss, "AA-1")
	e.clock.Add(10 * 24 * time.Hour)
	fresh, _ := e.caseFor(t, e.boss, "AA-2")
	e.clock.Add(5 * 24 * time.Hour)
	n, err := e.db.FlagSilentCases(ctx, sqlstore.WatchdogLimits)
	if err != nil || n != 1 {
		t.Fatalf("flagged %d, %v; want 1", n, err)
	}
	c, _ := e.db.Case(ctx, old.ID)
	if c.Status != lifeline.CaseLostContact || c.LostFrom != lifeline.CaseRegistered {
		t.Errorf("old case %+v", c)
	}
	mustCaseStatus(t, e.db, fresh.ID, lifeline.CaseRegistered)
}

// TestErasureNeedsTwoSupervisors: one supervisor asks, the same one cannot
// confirm, a second one does; the case and all its work are gone, and not
// a byte of its sealed person data is left in the database files.
func TestErasureNeedsTwoSupervisors(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	sv2 := lifeline.Actor{ID: string(e.operator(t, lifeline.RoleSupervisor)), Role: lifeline.RoleSupervisor}
	k, _ := e.caseFor(t, e.boss, "ER-000001")
	keep, _ := e.caseFor(t, e.boss, "ER-000002")
	if err := e.db.AddTask(ctx, e.boss, &sqlstore.Task{Case: k.ID, Kind: "call_back", Due: lifeline.DayOf(e.clock.Now()), Note: "позвонить жене"}); err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := e.db.Read(ctx, func(tx *sqlstore.Tx) error {
		return tx.QueryRow(`SELECT data FROM persons WHERE case_id = ?`, k.ID).Scan(&sealed)
	}); err != nil {
		t.Fatal(err)
	}
	x, err := e.db.RequestErasure(ctx, e.boss, k.ID, "", "duplicate of a provocation")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.ConfirmErasure(ctx, e.boss, x.ID); lifeline.ErrorCode(err) != lifeline.EFORBIDDEN {
		t.Fatalf("self-confirmation: %v, want EFORBIDDEN", err)
	}
	if _, err := e.db.Case(ctx, k.ID); err != nil {
		t.Fatalf("the case went before a second supervisor confirmed: %v", err)
	}
	if err := e.db.ConfirmErasure(ctx, sv2, x.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Case(ctx, k.ID); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("erased case: %v, want ENOTFOUND", err)
	}
	if tasks, err := e.db.Tasks(ctx, k.ID, lifeline.Day{}, false); err != nil || len(tasks) != 0 {
		t.Errorf("tasks of an erased case: %v %v", tasks, err)
	}
	if _, err := e.db.Case(ctx, keep.ID); err != nil {
		t.Errorf("the other case: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(e.db.Path()), "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if bytes.Contains(b, sealed[len(sealed)-32:]) {
			t.Errorf("%s still holds the erased person's ciphertext", filepath.Base(f))
		}
	}
}

// TestPersonErasure: one relative is crypto-shredded on two supervisors'
// word; the applicant stays, readable.
func TestPersonErasure(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	sv2 := lifeline.Actor{ID: string(e.operator(t, lifeline.RoleSupervisor)), Role: lifeline.RoleSupervisor}
	k, _ := e.caseFor(t, e.boss, "ER-000003")
	wife := &lifeline.Person{ID: lifeline.NewPersonID(), CaseID: k.ID, Relation: lifeline.RelationSpouse, Name: "Тестова Вера", DocumentNumber: "4500 123456"}
	if err := e.db.AddPerson(ctx, e.boss, wife); err != nil {
		t.Fatal(err)
	}
	x, err := e.db.RequestErasure(ctx, e.boss, k.ID, wife.ID, "she asked to be forgotten")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.ConfirmErasure(ctx, sv2, x.ID); err != nil {
		t.Fatal(err)
	}
	ps, err := e.db.Persons(ctx, k.ID)
	if err != nil || len(ps) != 1 || ps[0].Relation != lifeline.RelationApplicant {
		t.Fatalf("persons after the erasure: %+v %v", ps, err)
	}
	var keys int
	if err := e.db.Read(ctx, func(tx *sqlstore.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM data_keys WHERE owner = ?`, "person:"+string(wife.ID)).Scan(&keys)
	}); err != nil || keys != 0 {
		t.Errorf("the erased person's data keys: %d %v, want none", keys, err)
	}
	if _, err := e.db.RequestErasure(ctx, e.boss, k.ID, wife.ID, "again"); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("erasing her again: %v, want ENOTFOUND", err)
	}
}

// TestStagedDisclosureHoldsUntilVerified: before the contact has a case,
// and before his case is verified, a reply naming a meeting point is held
// (no send job) with its reasons, while a harmless one is queued; after the
// verdict the same reply is queued at once.
func TestStagedDisclosureHoldsUntilVerified(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	io := lifeline.Actor{ID: string(e.operator(t, lifeline.RoleIntake)), Role: lifeline.RoleIntake}
	c := e.inbound(t, nil)
	const risky = "Место встречи: 48.0159, 37.8029"
	jobs := func() int {
		t.Helper()
		js, err := e.db.ClaimJobs(ctx, time.Minute, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(js)
	}
	q, err := e.db.QueueReply(ctx, io, c.conv, risky)
	if err != nil || !slices.Equal(q.Held, []lifeline.Disclosure{lifeline.DisclosePlace, lifeline.DiscloseCoordinates}) {
		t.Fatalf("before any case: %+v %v, want held for place and coordinates", q, err)
	}
	if n := jobs(); n != 0 {
		t.Fatalf("a held reply made %d send jobs, want none", n)
	}
	if q, err := e.db.QueueReply(ctx, io, c.conv, "Вы в безопасности, оператор на связи."); err != nil || q.Held != nil {
		t.Fatalf("a harmless reply: %+v %v, want queued", q, err)
	}
	if n := jobs(); n != 1 {
		t.Fatalf("a harmless reply made %d send jobs, want 1", n)
	}
	k, err := e.db.OpenCase(ctx, io, c.conv)
	if err != nil {
		t.Fatal(err)
	}
	if q, err := e.db.QueueReply(ctx, io, c.conv, risky); err != nil || q.Held == nil {
		t.Fatalf("before the verdict: %+v %v, want held", q, err)
	}
	vo := lifeline.Actor{ID: string(e.operator(t, lifeline.RoleVerification)), Role: lifeline.RoleVerification}
	if err := e.db.RecordVerdict(ctx, vo, k.ID, sqlstore.VerdictVerified, "checked"); err != nil {
		t.Fatal(err)
	}
	if q, err := e.db.QueueReply(ctx, io, c.conv, risky); err != nil || q.Held != nil {
		t.Fatalf("after the verdict: %+v %v, want queued", q, err)
	}
	if n := jobs(); n != 1 {
		t.Fatalf("after the verdict: %d send jobs, want 1", n)
	}
	msgs, err := e.db.ConversationMessages(ctx, c.conv)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, m := range msgs[1:] {
		statuses = append(statuses, m.Status+":"+lifeline.JoinDisclosures(m.HeldFor))
	}
	if want := []string{"held:place,coordinates", "queued:", "held:place,coordinates", "queued:"}; !slices.Equal(statuses, want) {
		t.Errorf("statuses %q, want %q", statuses, want)
	}
}

// TestHeldReplyDecidedOnceByAnotherSupervisor: only a supervisor decides,
// never on his own reply, with a note; an approval queues the reply once,
// a rejection never; each decision is audited with the reasons only, and
// the note is sealed beside the reply for its author.
func TestHeldReplyDecidedOnceByAnotherSupervisor(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	io := lifeline.Actor{ID: string(e.operator(t, lifeline.RoleIntake)), Role: lifeline.RoleIntake}
	sv1 := lifeline.Actor{ID: string(e.operator(t, lifeline.RoleSupervisor)), Role: lifeline.RoleSupervisor}
	sv2 := lifeline.Actor{ID: string(e.operator(t, lifeline.RoleSupervisor)), Role: lifeline.RoleSupervisor}
	c := e.inbound(t, nil)
	first, err := e.db.QueueReply(ctx, io, c.conv, "Ждите завтра в 6 утра у моста.")
	if err != nil || first.Held == nil {
		t.Fatalf("%+v %v, want held", first, err)
	}
	// A supervisor's own reply (break-glass) waits for another.
	own, err := e.db.QueueReply(ctx, sv1, c.conv, "Позывной Сокол.")
	if err != nil || own.Held == nil {
		t.Fatalf("%+v %v, want held", own, err)
	}
	held, err := e.db.HeldReplies(ctx)
	if err != nil || len(held) != 2 || held[0].ID != first.ID || held[0].Text.Reveal() != "Ждите завтра в 6 утра у моста." || held[0].Author != lifeline.OperatorID(io.ID) {
		t.Fatalf("held replies %+v %v", held, err)
	}
	for _, tc := range []struct {
		by   lifeline.Actor
		id   lifeline.MessageID
		note string
		want string
	}{
		{io, first.ID, "ok", lifeline.EFORBIDDEN},
		{sv1, own.ID, "ok", lifeline.EFORBIDDEN},
		{sv1, first.ID, " ", lifeline.EINVALID},
		{sv1, lifeline.NewMessageID(), "ok", lifeline.ENOTFOUND},
	} {
		if _, err := e.db.DecideHeld(ctx, tc.by, tc.id, true, tc.note); lifeline.ErrorCode(err) != tc.want {
			t.Errorf("decision by %s on %s: %v, want %s", tc.by.Role, tc.id, err, tc.want)
		}
	}
	if conv, err := e.db.DecideHeld(ctx, sv1, first.ID, true, "проверен по телефону"); err != nil || conv != c.conv {
		t.Fatalf("approve: %s %v", conv, err)
	}
	if _, err := e.db.DecideHeld(ctx, sv2, first.ID, true, "again"); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("approving twice: %v, want ECONFLICT", err)
	}
	if _, err := e.db.DecideHeld(ctx, sv2, own.ID, false, "не раскрываем позывные"); err != nil {
		t.Fatal(err)
	}
	jobs, err := e.db.ClaimJobs(ctx, time.Minute, 100)
	if err != nil || len(jobs) != 1 || jobs[0].MessageID != first.ID {
		t.Fatalf("jobs %+v %v, want the approved reply's only", jobs, err)
	}
	if held, err := e.db.HeldReplies(ctx); err != nil || len(held) != 0 {
		t.Errorf("held after both decisions: %+v %v", held, err)
	}
	msgs, err := e.db.ConversationMessages(ctx, c.conv)
	if err != nil {
		t.Fatal(err)
	}
	last := msgs[len(msgs)-1]
	if last.Status != "rejected" || last.DecisionNote.Reveal() != "не раскрываем позывные" || last.DecidedBy == "" {
		t.Errorf("rejected reply %+v", last)
	}
	var notes int
	if err := e.db.Read(ctx, func(tx *sqlstore.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM messages WHERE decision_note LIKE '%' || ? || '%'`, "позывные").Scan(&notes)
	}); err != nil || notes != 0 {
		t.Errorf("the note is stored in the clear: %d %v", notes, err)
	}
	var actions []string
	err = e.db.AuditLog().Entries(ctx, func(en audit.Entry, _ tlog.Hash) error {
		if strings.HasPrefix(en.Action, "conversation.reply") {
			actions = append(actions, en.Action+" "+en.Reason)
		}
		return nil
	})
	want := []string{"conversation.reply_held held_for=time,date,place", "conversation.reply_held held_for=callsign",
		"conversation.reply_release held_for=time,date,place", "conversation.reply_reject held_for=callsign"}
	if err != nil || !slices.Equal(actions, want) {
		t.Errorf("audit %q %v, want %q", actions, err, want)
	}
}

// TestLinkedContactAndPhoneDuplicate: the same person writing from a
// second contact is linked to his case; a phone number given in another
// case is flagged, confirmed by decrypting.
func TestLinkedContactAndPhoneDuplicate(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	k, _ := e.caseFor(t, e.boss, "LN-000001")
	second := e.inbound(t, nil)
	found, err := e.db.CaseByCode(ctx, " "+strings.ToLower(k.CodeName)+" ")
	if err != nil || found.ID != k.ID {
		t.Fatalf("CaseByCode: %v %v", found, err)
	}
	if err := e.db.LinkContact(ctx, e.boss, second.conv, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.db.LinkContact(ctx, e.boss, second.conv, k.ID); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("linking twice: %v, want ECONFLICT", err)
	}
	convs, err := e.db.CaseConversations(ctx, k.ID)
	if err != nil || len(convs) != 2 {
		t.Errorf("the case's conversations: %d %v, want 2", len(convs), err)
	}
	// A relative's phone in this case is the applicant's phone in another.
	other, _ := e.caseFor(t, e.boss, "LN-000002")
	add := func(c lifeline.CaseID, rel lifeline.Relation, phone string) {
		p := &lifeline.Person{ID: lifeline.NewPersonID(), CaseID: c, Relation: rel, Name: "Тестов", Phone: lifeline.Sensitive(phone)}
		if err := e.db.AddPerson(ctx, e.boss, p); err != nil {
			t.Fatal(err)
		}
	}
	add(k.ID, lifeline.RelationSpouse, "+380 50 123 45 67")
	add(other.ID, lifeline.RelationSibling, "+380501234567")
	dup, err := e.db.Duplicates(ctx, k.ID)
	if err != nil || len(dup) != 1 || dup[0].Field != "phone" || dup[0].OtherCase != other.ID {
		t.Errorf("duplicates: %+v %v, want the phone in the other case", dup, err)
	}
}

// TestRetentionSweep is SECURITY.md §2.9: dedupe keys and ended sessions go
// after 7 days, a contact who never got a case is erased 30 days after his
// last message, a closed case 90 days after closing; nothing else goes.
func TestRetentionSweep(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	abandoned := e.inbound(t, nil)
	if err := e.db.Ingest(ctx, func(in *sqlstore.Ingest) error {
		_, err := in.MarkSeen(lifeline.ChannelTelegram, "bot", []byte("dedupe-key-of-an-old-update"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	closed, _ := e.caseFor(t, e.boss, "RT-000001")
	for _, st := range []lifeline.CaseStatus{lifeline.CaseWithdrawn, lifeline.CaseClosed} {
		if err := e.db.TransitionCase(ctx, e.boss, closed.ID, st, "he gave up"); err != nil {
			t.Fatal(err)
		}
	}
	held, _ := e.caseFor(t, e.boss, "RT-000003")
	for _, st := range []lifeline.CaseStatus{lifeline.CaseWithdrawn, lifeline.CaseClosed} {
		if err := e.db.TransitionCase(ctx, e.boss, held.ID, st, "he gave up"); err != nil {
			t.Fatal(err)
		}
	}
	open, _ := e.caseFor(t, e.boss, "RT-000002")
	e.clock.Add(20 * 24 * time.Hour)
	talking := e.inbound(t, nil) // writes on day 20 and again on day 45
	e.clock.Add(25 * 24 * time.Hour)
	e.inbound(t, talking)

	got, err := e.db.Sweep(ctx, sqlstore.DefaultRetention)
	if err != nil {
		t.Fatal(err)
	}
	if got.DedupeKeys != 1 || got.Contacts != 1 || got.Cases != 0 {
		t.Errorf("day 45: swept %+v, want the dedupe key and the abandoned contact", got)
	}
	if _, err := e.db.ContactHandle(ctx, abandoned.id); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("abandoned contact: %v, want ENOTFOUND", err)
	}
	if _, err := e.db.ContactHandle(ctx, talking.id); err != nil {
		t.Errorf("a contact who wrote within 30 days: %v", err)
	}
	if _, err := e.db.SetLegalHold(ctx, e.boss, held.ID, "the prosecutor asked us to keep it"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(50 * 24 * time.Hour) // day 95: the closed cases are past 90 days; one is held until day 135
	got, err = e.db.Sweep(ctx, sqlstore.DefaultRetention)
	if err != nil {
		t.Fatal(err)
	}
	if got.Cases != 1 {
		t.Errorf("day 95: swept %+v, want the closed case", got)
	}
	if _, err := e.db.Case(ctx, closed.ID); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("closed case after retention: %v, want ENOTFOUND", err)
	}
	if _, err := e.db.Case(ctx, open.ID); err != nil {
		t.Errorf("an open case, silent: %v (the watchdog's business, not retention's)", err)
	}
	if _, err := e.db.Case(ctx, held.ID); err != nil {
		t.Errorf("a held case: %v, want it kept", err)
	}
	e.clock.Add(41 * 24 * time.Hour) // day 136: the hold has run out
	if got, err := e.db.Sweep(ctx, sqlstore.DefaultRetention); err != nil || got.Cases != 1 {
		t.Errorf("after the hold: swept %+v %v, want the held case", got, err)
	}
}

// TestProposeClose: an officer proposes, the proposal shows until the case
// moves; a case that cannot be closed cannot be proposed.
func TestProposeClose(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	co := lifeline.Actor{ID: string(e.operator(t, lifeline.RoleCaseOfficer)), Role: lifeline.RoleCaseOfficer}
	k, _ := e.caseFor(t, e.boss, "PC-000001")
	if err := e.db.ProposeClose(ctx, co, k.ID, "he stopped answering"); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("proposing to close a registered case: %v, want ECONFLICT", err)
	}
	if err := e.db.TransitionCase(ctx, co, k.ID, lifeline.CaseWithdrawn, "he gave up"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.ProposeClose(ctx, co, k.ID, "nothing left to do"); err != nil {
		t.Fatal(err)
	}
	if s, err := e.db.CaseSummaryByID(ctx, k.ID); err != nil || !s.CloseProposed {
		t.Errorf("after the proposal: %+v %v", s, err)
	}
	if err := e.db.TransitionCase(ctx, e.boss, k.ID, lifeline.CaseClosed, "approved"); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.db.CaseSummaryByID(ctx, k.ID); s.CloseProposed {
		t.Error("the proposal still shows after the case was closed")
	}
}
