// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lifeline-hotline/lifeline"
)

// allStatuses is written out here, not taken from the package, so that a
// status added or dropped there makes these tests fail.
var allStatuses = []string{
	"registered", "screening", "waiting", "rejected", "active", "extraction", "captured",
	"in_custody", "exchanged", "stays", "emigrated", "closed", "withdrawn", "lost_contact",
}

// closedStatuses are the statuses that are not open.
var closedStatuses = map[string]bool{"rejected": true, "withdrawn": true, "closed": true}

// wantEdges is the state machine as DESIGN.md "Case states" states it, plus
// the documented decisions (extraction → active; lost_contact → resume,
// withdrawn, closed), written independently of the package's table.
var wantEdges = func() map[[2]string]bool {
	m := map[[2]string]bool{}
	for _, line := range []string{
		"registered screening",
		"screening waiting", "screening rejected",
		"waiting active",
		"active extraction",
		"extraction captured", "extraction active",
		"captured in_custody",
		"in_custody exchanged", "in_custody stays", "in_custody emigrated",
		"exchanged closed", "stays closed", "emigrated closed",
		"rejected closed", "withdrawn closed",
		"lost_contact withdrawn", "lost_contact closed",
	} {
		f := strings.Fields(line)
		m[[2]string{f[0], f[1]}] = true
	}
	for _, s := range allStatuses {
		if closedStatuses[s] {
			continue
		}
		if s != "lost_contact" {
			m[[2]string{s, "withdrawn"}] = true
			m[[2]string{s, "lost_contact"}] = true
			// The table lets lost_contact return to any open status;
			// Case.Transition narrows that to LostFrom.
			m[[2]string{"lost_contact", s}] = true
		}
	}
	return m
}()

func TestCaseStatuses(t *testing.T) {
	var got []string
	for _, s := range lifeline.CaseStatuses() {
		got = append(got, string(s))
	}
	if diff := cmp.Diff(allStatuses, got); diff != "" {
		t.Errorf("CaseStatuses() mismatch (-want +got):\n%s", diff)
	}
}

func TestParseCaseStatus(t *testing.T) {
	for _, s := range allStatuses {
		got, err := lifeline.ParseCaseStatus(s)
		if err != nil || string(got) != s {
			t.Errorf("ParseCaseStatus(%q) = %q, %v; want %q, nil", s, got, err, s)
		}
		if !got.Valid() {
			t.Errorf("%q.Valid() = false", s)
		}
	}
	for _, s := range []string{"", "Registered", "REGISTERED", " registered", "in-custody", "lost", "open", "closed\n"} {
		got, err := lifeline.ParseCaseStatus(s)
		if code := lifeline.ErrorCode(err); code != lifeline.EINVALID {
			t.Errorf("ParseCaseStatus(%q) = %q, code %q; want code %q", s, got, code, lifeline.EINVALID)
		}
		if lifeline.CaseStatus(s).Valid() {
			t.Errorf("CaseStatus(%q).Valid() = true", s)
		}
	}
}

func TestCaseStatusIsOpen(t *testing.T) {
	for _, s := range allStatuses {
		if got, want := lifeline.CaseStatus(s).IsOpen(), !closedStatuses[s]; got != want {
			t.Errorf("%q.IsOpen() = %v, want %v", s, got, want)
		}
	}
	if lifeline.CaseStatus("bogus").IsOpen() {
		t.Error(`"bogus".IsOpen() = true`)
	}
}

// TestCaseStatusCanTransition checks every pair of the status×status
// product against wantEdges, and Transitions against CanTransition.
func TestCaseStatusCanTransition(t *testing.T) {
	for _, from := range allStatuses {
		var wantNext []lifeline.CaseStatus
		for _, to := range allStatuses {
			want := wantEdges[[2]string{from, to}]
			if got := lifeline.CaseStatus(from).CanTransition(lifeline.CaseStatus(to)); got != want {
				t.Errorf("%s.CanTransition(%s) = %v, want %v", from, to, got, want)
			}
			if want {
				wantNext = append(wantNext, lifeline.CaseStatus(to))
			}
		}
		got := lifeline.CaseStatus(from).Transitions()
		if diff := cmp.Diff(wantNext, got, cmpSortStatuses); diff != "" {
			t.Errorf("%s.Transitions() mismatch (-want +got):\n%s", from, diff)
		}
	}
	if got := lifeline.CaseStatus("bogus").Transitions(); got != nil {
		t.Errorf(`"bogus".Transitions() = %v, want nil`, got)
	}
	if lifeline.CaseStatus("bogus").CanTransition(lifeline.CaseWithdrawn) {
		t.Error(`"bogus".CanTransition(withdrawn) = true`)
	}
	if lifeline.CaseActive.CanTransition("bogus") {
		t.Error(`active.CanTransition("bogus") = true`)
	}
}

var cmpSortStatuses = cmp.Transformer("sort", func(in []lifeline.CaseStatus) map[lifeline.CaseStatus]bool {
	m := map[lifeline.CaseStatus]bool{}
	for _, s := range in {
		m[s] = true
	}
	return m
})

func TestCaseStatusTransitionsIsACopy(t *testing.T) {
	next := lifeline.CaseInCustody.Transitions()
	next[0] = lifeline.CaseClosed
	if lifeline.CaseInCustody.CanTransition(lifeline.CaseClosed) {
		t.Fatal("changing the result of Transitions changed the state machine")
	}
}

var (
	testNow = time.Date(2025, 3, 14, 22, 47, 5, 0, time.FixedZone("Kyiv", 2*60*60))
	testDay = lifeline.DayOf(testNow) // 2025-03-14 in UTC
)

// MustNewCase returns a valid case in the given status; lostFrom is used
// only for lost_contact.
func MustNewCase(tb testing.TB, status, lostFrom lifeline.CaseStatus) *lifeline.Case {
	tb.Helper()
	c, err := lifeline.NewCase(lifeline.StreamSurrender, testNow.AddDate(0, 0, -30))
	if err != nil {
		tb.Fatal(err)
	}
	c.Status = status
	c.AssignedTo = lifeline.NewOperatorID()
	if status == lifeline.CaseLostContact {
		c.LostFrom = lostFrom
	}
	if status == lifeline.CaseClosed {
		c.ClosedDay = c.CreatedDay.AddDays(1)
	}
	if err := c.Validate(); err != nil {
		tb.Fatalf("test case in status %s is invalid: %v", status, err)
	}
	return c
}

// TestCaseTransitionProduct drives Case.Transition over every pair of
// statuses (and, from lost_contact, every recorded status to resume) and
// checks the outcome against wantEdges.
func TestCaseTransitionProduct(t *testing.T) {
	by := lifeline.NewOperatorID()
	for _, from := range allStatuses {
		lostFroms := []string{""}
		if from == "lost_contact" {
			lostFroms = nil
			for _, s := range allStatuses {
				if !closedStatuses[s] && s != "lost_contact" {
					lostFroms = append(lostFroms, s)
				}
			}
		}
		for _, lostFrom := range lostFroms {
			for _, to := range allStatuses {
				want := wantEdges[[2]string{from, to}]
				if from == "lost_contact" && !closedStatuses[to] {
					want = to == lostFrom // resume only where it was
				}

				c := MustNewCase(t, lifeline.CaseStatus(from), lifeline.CaseStatus(lostFrom))
				if got := c.CanTransition(lifeline.CaseStatus(to)); got != want {
					t.Errorf("case in %s (lost from %q): CanTransition(%s) = %v, want %v", from, lostFrom, to, got, want)
				}
				before := *c
				change, err := c.Transition(lifeline.CaseStatus(to), by, "why", testNow)
				if !want {
					if code := lifeline.ErrorCode(err); code != lifeline.ECONFLICT {
						t.Errorf("%s (lost from %q) → %s: error code %q (%v), want %q", from, lostFrom, to, code, err, lifeline.ECONFLICT)
					}
					if diff := cmp.Diff(before, *c, cmp.AllowUnexported(lifeline.Day{})); diff != "" {
						t.Errorf("%s → %s refused but changed the case (-before +after):\n%s", from, to, diff)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s (lost from %q) → %s: %v", from, lostFrom, to, err)
					continue
				}
				wantChange := lifeline.StatusChange{
					Case:   c.ID,
					From:   lifeline.CaseStatus(from),
					To:     lifeline.CaseStatus(to),
					By:     by,
					Reason: "why",
					At:     testNow.UTC(),
				}
				if diff := cmp.Diff(wantChange, change); diff != "" {
					t.Errorf("%s → %s: StatusChange mismatch (-want +got):\n%s", from, to, diff)
				}
				if got := change.At.Location(); got != time.UTC {
					t.Errorf("%s → %s: At in %v, want UTC", from, to, got)
				}
				wantCase := before
				wantCase.Status = lifeline.CaseStatus(to)
				wantCase.LostFrom = ""
				if to == "lost_contact" {
					wantCase.LostFrom = lifeline.CaseStatus(from)
				}
				if to == "closed" {
					wantCase.ClosedDay = testDay
				}
				if diff := cmp.Diff(wantCase, *c, cmp.AllowUnexported(lifeline.Day{})); diff != "" {
					t.Errorf("%s → %s: case mismatch (-want +got):\n%s", from, to, diff)
				}
				if err := c.Validate(); err != nil {
					t.Errorf("%s → %s: case invalid afterwards: %v", from, to, err)
				}
			}
		}
	}
}

func TestCaseNextStatuses(t *testing.T) {
	tests := []struct {
		status, lostFrom lifeline.CaseStatus
		want             []lifeline.CaseStatus
	}{
		{lifeline.CaseRegistered, "", []lifeline.CaseStatus{lifeline.CaseScreening, lifeline.CaseWithdrawn, lifeline.CaseLostContact}},
		{lifeline.CaseInCustody, "", []lifeline.CaseStatus{
			lifeline.CaseExchanged, lifeline.CaseStays, lifeline.CaseEmigrated, lifeline.CaseWithdrawn, lifeline.CaseLostContact,
		}},
		{lifeline.CaseLostContact, lifeline.CaseWaiting, []lifeline.CaseStatus{lifeline.CaseWaiting, lifeline.CaseWithdrawn, lifeline.CaseClosed}},
		{lifeline.CaseLostContact, lifeline.CaseEmigrated, []lifeline.CaseStatus{lifeline.CaseEmigrated, lifeline.CaseWithdrawn, lifeline.CaseClosed}},
		{lifeline.CaseRejected, "", []lifeline.CaseStatus{lifeline.CaseClosed}},
		{lifeline.CaseClosed, "", []lifeline.CaseStatus{}},
	}
	for _, tt := range tests {
		c := MustNewCase(t, tt.status, tt.lostFrom)
		if diff := cmp.Diff(tt.want, c.NextStatuses(), cmpSortStatuses); diff != "" {
			t.Errorf("NextStatuses() of a case in %s (lost from %q) mismatch (-want +got):\n%s", tt.status, tt.lostFrom, diff)
		}
	}
}

// TestCaseTransitionLostWithoutRecord checks that a lost_contact case whose
// previous status is unknown (corrupt or legacy data) cannot resume to any
// status, and can still be withdrawn or closed.
func TestCaseTransitionLostWithoutRecord(t *testing.T) {
	by := lifeline.NewOperatorID()
	for _, to := range allStatuses {
		c := MustNewCase(t, lifeline.CaseWaiting, "")
		c.Status, c.LostFrom = lifeline.CaseLostContact, ""
		_, err := c.Transition(lifeline.CaseStatus(to), by, "contact again", testNow)
		wantOK := to == "withdrawn" || to == "closed"
		if wantOK && err != nil {
			t.Errorf("lost_contact (no record) → %s: %v", to, err)
		}
		if !wantOK && lifeline.ErrorCode(err) != lifeline.ECONFLICT {
			t.Errorf("lost_contact (no record) → %s: error %v, want code %q", to, err, lifeline.ECONFLICT)
		}
	}
}

func TestCaseTransitionErrors(t *testing.T) {
	op := lifeline.NewOperatorID()
	tests := []struct {
		name   string
		status lifeline.CaseStatus
		to     lifeline.CaseStatus
		by     lifeline.OperatorID
		reason string
		want   string
	}{
		{"unknown target", lifeline.CaseWaiting, "bogus", op, "why", lifeline.EINVALID},
		{"empty target", lifeline.CaseWaiting, "", op, "why", lifeline.EINVALID},
		{"empty reason", lifeline.CaseWaiting, lifeline.CaseActive, op, "", lifeline.EINVALID},
		{"blank reason", lifeline.CaseWaiting, lifeline.CaseActive, op, " \t\n", lifeline.EINVALID},
		{"reason too long", lifeline.CaseWaiting, lifeline.CaseActive, op, strings.Repeat("x", lifeline.MaxReasonLen+1), lifeline.EINVALID},
		{"reason not UTF-8", lifeline.CaseWaiting, lifeline.CaseActive, op, "bad \xff byte", lifeline.EINVALID},
		{"no operator", lifeline.CaseWaiting, lifeline.CaseActive, "", "why", lifeline.EINVALID},
		{"bad operator", lifeline.CaseWaiting, lifeline.CaseActive, "alice", "why", lifeline.EINVALID},
		{"refused move", lifeline.CaseWaiting, lifeline.CaseCaptured, op, "why", lifeline.ECONFLICT},
		{"same status", lifeline.CaseWaiting, lifeline.CaseWaiting, op, "why", lifeline.ECONFLICT},
		{"from closed", lifeline.CaseClosed, lifeline.CaseActive, op, "why", lifeline.ECONFLICT},
		{"invalid input beats refused move", lifeline.CaseClosed, lifeline.CaseActive, op, "", lifeline.EINVALID},
		{"corrupt current status", "bogus", lifeline.CaseActive, op, "why", lifeline.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := MustNewCase(t, lifeline.CaseWaiting, "")
			c.Status = tt.status
			if tt.status == lifeline.CaseClosed {
				c.ClosedDay = c.CreatedDay
			}
			before := *c
			change, err := c.Transition(tt.to, tt.by, tt.reason, testNow)
			if got := lifeline.ErrorCode(err); got != tt.want {
				t.Fatalf("error code %q (%v), want %q", got, err, tt.want)
			}
			if diff := cmp.Diff(lifeline.StatusChange{}, change); diff != "" {
				t.Errorf("StatusChange not zero on error:\n%s", diff)
			}
			if diff := cmp.Diff(before, *c, cmp.AllowUnexported(lifeline.Day{})); diff != "" {
				t.Errorf("case changed on error (-before +after):\n%s", diff)
			}
		})
	}
}

func TestCaseTransitionLimits(t *testing.T) {
	c := MustNewCase(t, lifeline.CaseActive, "")
	if _, err := c.Transition(lifeline.CaseLostContact, lifeline.SystemOperator, "silent for 14 days", testNow); err != nil {
		t.Fatalf("watchdog as SystemOperator: %v", err)
	}
	reason := strings.Repeat("я", lifeline.MaxReasonLen/2) // exactly MaxReasonLen bytes
	change, err := c.Transition(lifeline.CaseActive, lifeline.NewOperatorID(), reason, testNow)
	if err != nil {
		t.Fatalf("reason of MaxReasonLen bytes: %v", err)
	}
	if got := change.Reason.Reveal(); got != reason {
		t.Errorf("Reason = %q, want the reason given", got)
	}
}

// TestCaseWalk follows one case along the whole main line.
func TestCaseWalk(t *testing.T) {
	c, err := lifeline.NewCase(lifeline.StreamSurrender, testNow)
	if err != nil {
		t.Fatal(err)
	}
	by := lifeline.NewOperatorID()
	path := []lifeline.CaseStatus{
		lifeline.CaseScreening, lifeline.CaseWaiting, lifeline.CaseLostContact, lifeline.CaseWaiting,
		lifeline.CaseActive, lifeline.CaseExtraction, lifeline.CaseActive, lifeline.CaseExtraction,
		lifeline.CaseCaptured, lifeline.CaseInCustody, lifeline.CaseEmigrated, lifeline.CaseClosed,
	}
	for _, to := range path {
		if _, err := c.Transition(to, by, "next step", testNow); err != nil {
			t.Fatalf("→ %s: %v", to, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("after → %s: %v", to, err)
		}
	}
	if c.ClosedDay != testDay {
		t.Errorf("ClosedDay = %v, want %v", c.ClosedDay, testDay)
	}
	if got := c.NextStatuses(); len(got) != 0 {
		t.Errorf("closed case NextStatuses() = %v, want none", got)
	}
}

func TestNewCase(t *testing.T) {
	c, err := lifeline.NewCase(lifeline.StreamRelatives, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("new case invalid: %v", err)
	}
	if c.Status != lifeline.CaseRegistered || c.Stream != lifeline.StreamRelatives || c.CreatedDay != testDay ||
		c.AssignedTo != "" || !c.ClosedDay.IsZero() || c.LostFrom != "" {
		t.Errorf("NewCase = %+v", c)
	}
	if _, err := lifeline.NewCase("soldiers", testNow); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Errorf("NewCase(bad stream) error %v, want code %q", err, lifeline.EINVALID)
	}
	d, _ := lifeline.NewCase(lifeline.StreamSurrender, testNow)
	if c.ID == d.ID {
		t.Error("two new cases share an id")
	}
}

func TestCaseValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *lifeline.Case)
	}{
		{"bad id", func(c *lifeline.Case) { c.ID = "123" }},
		{"bad code name", func(c *lifeline.Case) { c.CodeName = "kestrel-4821" }},
		{"bad stream", func(c *lifeline.Case) { c.Stream = "" }},
		{"bad status", func(c *lifeline.Case) { c.Status = "open" }},
		{"lost without record", func(c *lifeline.Case) { c.Status = lifeline.CaseLostContact }},
		{"lost from closed", func(c *lifeline.Case) { c.Status, c.LostFrom = lifeline.CaseLostContact, lifeline.CaseRejected }},
		{"lost from lost", func(c *lifeline.Case) { c.Status, c.LostFrom = lifeline.CaseLostContact, lifeline.CaseLostContact }},
		{"record while not lost", func(c *lifeline.Case) { c.LostFrom = lifeline.CaseWaiting }},
		{"bad assignee", func(c *lifeline.Case) { c.AssignedTo = "bob" }},
		{"system assignee", func(c *lifeline.Case) { c.AssignedTo = lifeline.SystemOperator }},
		{"no creation day", func(c *lifeline.Case) { c.CreatedDay = lifeline.Day{} }},
		{"closed without day", func(c *lifeline.Case) { c.Status = lifeline.CaseClosed }},
		{"closing day while open", func(c *lifeline.Case) { c.ClosedDay = c.CreatedDay }},
		{"closed before created", func(c *lifeline.Case) {
			c.Status, c.ClosedDay = lifeline.CaseClosed, c.CreatedDay.AddDays(-1)
		}},
	}
	for _, tt := range tests {
		c := MustNewCase(t, lifeline.CaseWaiting, "")
		tt.mutate(c)
		if err := c.Validate(); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("%s: Validate() = %v, want code %q", tt.name, err, lifeline.EINVALID)
		}
	}
}

func TestStatusChangeDoesNotLogReason(t *testing.T) {
	c := MustNewCase(t, lifeline.CaseWaiting, "")
	change, err := c.Transition(lifeline.CaseActive, lifeline.NewOperatorID(), "Ivan called from Bakhmut", testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		if s := fmt.Sprintf(verb, change); strings.Contains(s, "Ivan") || strings.Contains(s, "Bakhmut") {
			t.Errorf("Sprintf(%q, change) = %s; reveals the reason", verb, s)
		}
	}
}
