// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Outcome is how a conversation ended, as the operator who closed it
// records in its wrap-up (Aselo's "contact summary").
type Outcome string

// The outcomes.
const (
	OutcomeRegistered Outcome = "registered"  // the contact registered (the questionnaire is done)
	OutcomeReferred   Outcome = "referred"    // handed to a case officer or another service
	OutcomeInformed   Outcome = "informed"    // he got the information he asked for
	OutcomeNoContact  Outcome = "no_contact"  // he stopped answering
	OutcomeNotGenuine Outcome = "not_genuine" // a prank, a test or a hostile probe
	OutcomeOther      Outcome = "other"
)

// Outcomes returns every outcome, in the order a form offers them.
func Outcomes() []Outcome {
	return []Outcome{OutcomeRegistered, OutcomeReferred, OutcomeInformed, OutcomeNoContact, OutcomeNotGenuine, OutcomeOther}
}

// Valid reports whether o is one of the outcomes.
func (o Outcome) Valid() bool {
	for _, x := range Outcomes() {
		if o == x {
			return true
		}
	}
	return false
}

// UndoWindow is how long the operator who closed a conversation may undo
// the close (which reopens it and clears its wrap-up); after it the close
// is final.
const UndoWindow = time.Minute

// MaxFollowUpNote is the longest follow-up note of a wrap-up, in bytes.
const MaxFollowUpNote = 2000

// WrapUp is what an operator records when he closes a conversation: a
// category (from the list supervisors keep), an outcome, and whether
// someone must follow up, with a note saying what (sealed: it may hold
// anything the conversation does).
type WrapUp struct {
	Category     string // the id of a wrap-up category
	Outcome      Outcome
	FollowUp     bool
	FollowUpNote Sensitive
}

// Validate checks a wrap-up before it is stored: EINVALID without a
// category or a valid outcome, with a follow-up note but no follow-up, or
// with a note too long or not UTF-8.
func (w *WrapUp) Validate() error {
	note := w.FollowUpNote.Reveal()
	switch {
	case w.Category == "":
		return Errorf(EINVALID, "Choose a category to close the conversation.")
	case !w.Outcome.Valid():
		return Errorf(EINVALID, "Choose an outcome to close the conversation.")
	case !w.FollowUp && strings.TrimSpace(note) != "":
		return Errorf(EINVALID, "A follow-up note needs follow-up ticked.")
	case len(note) > MaxFollowUpNote || !utf8.ValidString(note):
		return Errorf(EINVALID, "A follow-up note is at most %d bytes of text.", MaxFollowUpNote)
	}
	return nil
}
