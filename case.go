// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// CaseStatus is where a case stands in the program (DESIGN.md "Case
// states"). The allowed moves between statuses are the table
// caseTransitions below; [CaseStatus.CanTransition] reads it and
// [Case.Transition] enforces it.
type CaseStatus string

// The case statuses, in the order a case normally passes through them.
const (
	CaseRegistered  CaseStatus = "registered"   // first contact; the registration questionnaire is under way
	CaseScreening   CaseStatus = "screening"    // identity, unit and service number are being verified
	CaseWaiting     CaseStatus = "waiting"      // verified; waits until he is deployed and makes contact again
	CaseRejected    CaseStatus = "rejected"     // screening failed (a provocateur, a decoy); closed next
	CaseActive      CaseStatus = "active"       // contact from the front; an extraction is being prepared
	CaseExtraction  CaseStatus = "extraction"   // an extraction operation is under way
	CaseCaptured    CaseStatus = "captured"     // handed over, recorded as captured in combat
	CaseInCustody   CaseStatus = "in_custody"   // held as a prisoner; chooses exchange, staying or emigration
	CaseExchanged   CaseStatus = "exchanged"    // returned home in a prisoner exchange
	CaseStays       CaseStatus = "stays"        // stays in Ukraine
	CaseEmigrated   CaseStatus = "emigrated"    // resettled in a third country
	CaseClosed      CaseStatus = "closed"       // no further work; retention runs from the closing day
	CaseWithdrawn   CaseStatus = "withdrawn"    // he gave up the attempt; closed next
	CaseLostContact CaseStatus = "lost_contact" // silent past the watchdog's limit; resumes where it was
)

// caseTransitions lists, for each status, the statuses it may move to.
//
// The rules, from DESIGN.md "Case states":
//   - the main line registered → screening → waiting | rejected,
//     waiting → active → extraction → captured → in_custody →
//     exchanged | stays | emigrated → closed;
//   - rejected and withdrawn may only be closed, and closed is final;
//   - every open status (see [CaseStatus.IsOpen]) may move to withdrawn
//     or lost_contact;
//   - extraction → active: an operation that is called off (the meeting
//     point is compromised, the unit cannot reach it) sends the case back to
//     planning. DESIGN.md does not list this move; without it a failed
//     operation would have no honest status.
//   - lost_contact → withdrawn | closed (he is not coming back; the case
//     must still be closable so that retention starts), or back to the
//     status it was in when contact was lost. The table allows every open
//     status here; [Case.Transition] narrows it to the one recorded in
//     [Case.LostFrom], so that silence can never be used to skip a step
//     (lost while waiting, resumed as captured).
//
// exchanged, stays and emigrated are open: protection, the relocation of
// his family and help with work go on after them, and a resettled defector
// who falls silent must be flagged lost_contact.
var caseTransitions = map[CaseStatus][]CaseStatus{
	CaseRegistered: {CaseScreening, CaseWithdrawn, CaseLostContact},
	CaseScreening:  {CaseWaiting, CaseRejected, CaseWithdrawn, CaseLostContact},
	CaseWaiting:    {CaseActive, CaseWithdrawn, CaseLostContact},
	CaseRejected:   {CaseClosed},
	CaseActive:     {CaseExtraction, CaseWithdrawn, CaseLostContact},
	CaseExtraction: {CaseActive, CaseCaptured, CaseWithdrawn, CaseLostContact},
	CaseCaptured:   {CaseInCustody, CaseWithdrawn, CaseLostContact},
	CaseInCustody:  {CaseExchanged, CaseStays, CaseEmigrated, CaseWithdrawn, CaseLostContact},
	CaseExchanged:  {CaseClosed, CaseWithdrawn, CaseLostContact},
	CaseStays:      {CaseClosed, CaseWithdrawn, CaseLostContact},
	CaseEmigrated:  {CaseClosed, CaseWithdrawn, CaseLostContact},
	CaseClosed:     {},
	CaseWithdrawn:  {CaseClosed},
	CaseLostContact: {
		CaseRegistered, CaseScreening, CaseWaiting, CaseActive, CaseExtraction, CaseCaptured,
		CaseInCustody, CaseExchanged, CaseStays, CaseEmigrated, CaseWithdrawn, CaseClosed,
	},
}

// CaseStatuses returns every status, in the order of the constants.
func CaseStatuses() []CaseStatus {
	return []CaseStatus{
		CaseRegistered, CaseScreening, CaseWaiting, CaseRejected, CaseActive, CaseExtraction,
		CaseCaptured, CaseInCustody, CaseExchanged, CaseStays, CaseEmigrated, CaseClosed,
		CaseWithdrawn, CaseLostContact,
	}
}

// Valid reports whether s is one of the statuses.
func (s CaseStatus) Valid() bool {
	_, ok := caseTransitions[s]
	return ok
}

// ParseCaseStatus returns s as a CaseStatus; it is exact (lower case, with
// underscores) and fails with EINVALID for anything else.
func ParseCaseStatus(s string) (CaseStatus, error) {
	if st := CaseStatus(s); st.Valid() {
		return st, nil
	}
	return "", Errorf(EINVALID, "Unknown case status.")
}

// IsOpen reports whether a case in status s is still being worked on: true
// for every valid status except rejected, withdrawn and closed. Open cases
// may be flagged withdrawn or lost_contact.
func (s CaseStatus) IsOpen() bool {
	switch s {
	case CaseRejected, CaseWithdrawn, CaseClosed:
		return false
	}
	return s.Valid()
}

// CanTransition reports whether the state machine has a move from s to to.
// It is false for unknown statuses and for s == to. For a case, prefer
// [Case.CanTransition], which also applies the lost_contact rule.
func (s CaseStatus) CanTransition(to CaseStatus) bool {
	return slices.Contains(caseTransitions[s], to)
}

// Transitions returns the statuses s may move to, in a fixed order; nil for
// an unknown status, empty for closed. The caller owns the slice.
func (s CaseStatus) Transitions() []CaseStatus {
	return slices.Clone(caseTransitions[s])
}

// MaxReasonLen is the longest reason, in bytes, a status change may carry.
const MaxReasonLen = 2000

// Case is the file on one would-be defector. Only workflow fields live here
// and in plaintext at rest (SECURITY.md §2.4); who he is lives in the
// identity compartment.
type Case struct {
	ID       CaseID
	CodeName string // pseudonym used by operators, e.g. KESTREL-4821; see NewCodeName
	Stream   Stream
	Status   CaseStatus

	// LostFrom is the status the case was in when it was flagged
	// lost_contact, and the only open status it may return to. It is set
	// if and only if Status is lost_contact.
	LostFrom CaseStatus

	AssignedTo OperatorID // "" while unassigned
	CreatedDay Day        // UTC date of registration
	ClosedDay  Day        // UTC date of closing; zero while not closed
}

// NewCase returns a case registered on now's UTC day in the given stream,
// with a fresh id and code name. It fails with EINVALID for an unknown
// stream. Code names are not unique by construction: the store must reject a
// duplicate and the caller draw a new one.
func NewCase(stream Stream, now time.Time) (*Case, error) {
	if !stream.Valid() {
		return nil, Errorf(EINVALID, "Unknown stream.")
	}
	return &Case{
		ID:         NewCaseID(),
		CodeName:   NewCodeName(),
		Stream:     stream,
		Status:     CaseRegistered,
		CreatedDay: DayOf(now),
	}, nil
}

// Validate reports with EINVALID whether c breaks an invariant of its
// fields. The store calls it before writing and after reading.
func (c *Case) Validate() error {
	switch {
	case !c.ID.Valid():
		return Errorf(EINVALID, "Invalid case id.")
	case !ValidCodeName(c.CodeName):
		return Errorf(EINVALID, "Invalid code name.")
	case !c.Stream.Valid():
		return Errorf(EINVALID, "Unknown stream.")
	case !c.Status.Valid():
		return Errorf(EINVALID, "Unknown case status.")
	case c.Status == CaseLostContact && (!c.LostFrom.IsOpen() || c.LostFrom == CaseLostContact):
		return Errorf(EINVALID, "A case that lost contact must record an open status to resume.")
	case c.Status != CaseLostContact && c.LostFrom != "":
		return Errorf(EINVALID, "Only a case that lost contact records a status to resume.")
	case c.AssignedTo != "" && !c.AssignedTo.Valid():
		return Errorf(EINVALID, "Invalid operator id.")
	case c.CreatedDay.IsZero():
		return Errorf(EINVALID, "A case must have a creation day.")
	case (c.Status == CaseClosed) != !c.ClosedDay.IsZero():
		return Errorf(EINVALID, "A case has a closing day if and only if it is closed.")
	case !c.ClosedDay.IsZero() && c.ClosedDay.Before(c.CreatedDay):
		return Errorf(EINVALID, "A case cannot close before it was created.")
	}
	return nil
}

// CanTransition reports whether c may move to status to now: the state
// machine allows it and, for a case in lost_contact, to is withdrawn, closed
// or the status recorded in LostFrom.
func (c *Case) CanTransition(to CaseStatus) bool {
	if !c.Status.CanTransition(to) {
		return false
	}
	if c.Status == CaseLostContact && to.IsOpen() {
		return to == c.LostFrom
	}
	return true
}

// NextStatuses returns the statuses c may move to now, in the order of
// [CaseStatus.Transitions]. Consoles offer exactly these.
func (c *Case) NextStatuses() []CaseStatus {
	next := c.Status.Transitions()
	return slices.DeleteFunc(next, func(to CaseStatus) bool { return !c.CanTransition(to) })
}

// StatusChange records one move of a case between statuses: who, when and
// why. Every change is also an audit event.
type StatusChange struct {
	Case CaseID
	From CaseStatus
	To   CaseStatus
	By   OperatorID // an operator, or SystemOperator for the watchdog

	// Reason is the operator's free text. It may name people or places, so
	// it is Sensitive: it must be sealed at rest and never logged.
	Reason Sensitive

	// At is the exact time of the change, in UTC. Exact times may be
	// stored only inside ciphertext; plaintext columns take DayOf(At)
	// (SECURITY.md §2.4).
	At time.Time
}

// Transition moves c to status to on behalf of by, for the given reason, at
// time now, and returns the record of the change. On error c is unchanged.
//
// It fails with EINVALID if to is not a status, by is neither a valid
// operator id nor SystemOperator, or reason is blank or longer than
// MaxReasonLen bytes or not UTF-8; with ECONFLICT if the move is not allowed
// from the case's status (see [Case.CanTransition]); and with EINTERNAL if
// the case's own status is not valid (corrupt data).
//
// Moving to lost_contact records the current status in LostFrom; leaving
// lost_contact clears it. Moving to closed sets ClosedDay to now's UTC day.
// Transition checks the state machine only; whether the operator may make
// the change is a question for [Allowed].
func (c *Case) Transition(to CaseStatus, by OperatorID, reason string, now time.Time) (StatusChange, error) {
	switch {
	case !to.Valid():
		return StatusChange{}, Errorf(EINVALID, "Unknown case status.")
	case !by.Valid() && by != SystemOperator:
		return StatusChange{}, Errorf(EINVALID, "Invalid operator id.")
	case strings.TrimSpace(reason) == "":
		return StatusChange{}, Errorf(EINVALID, "A status change needs a reason.")
	case len(reason) > MaxReasonLen:
		return StatusChange{}, Errorf(EINVALID, "The reason is longer than %d bytes.", MaxReasonLen)
	case !utf8.ValidString(reason):
		return StatusChange{}, Errorf(EINVALID, "The reason is not valid text.")
	case !c.Status.Valid():
		return StatusChange{}, Errorf(EINTERNAL, "Case has an unknown status.")
	case !c.CanTransition(to):
		return StatusChange{}, Errorf(ECONFLICT, "A case in status %s cannot move to %s.", c.Status, to)
	}

	from := c.Status
	c.Status = to
	c.LostFrom = ""
	if to == CaseLostContact {
		c.LostFrom = from
	}
	if to == CaseClosed {
		c.ClosedDay = DayOf(now)
	}
	return StatusChange{
		Case:   c.ID,
		From:   from,
		To:     to,
		By:     by,
		Reason: Sensitive(reason),
		At:     now.UTC(),
	}, nil
}
