// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import "time"

// No one alone (SECURITY.md §2.5, "2P"): a two-person rule counts people,
// not accounts. Whoever holds the host's shell can make accounts at the
// command line; such an account acts only once a supervisor, a person other
// than the account itself, has approved it, and the approval is recorded.
// These records are what [SecondPerson] reads.

// Origin says how an account came to exist.
type Origin string

// The origins of an account.
const (
	// OriginBootstrap: made directly at the command line while no
	// supervisor had enrolled (at most two supervisors, once), or made
	// before approvals were recorded. It stands on the command line's
	// word alone.
	OriginBootstrap Origin = "bootstrap"
	// OriginProposed: made at the command line and pending until a
	// supervisor approves it.
	OriginProposed Origin = "proposed"
	// OriginSeeded: seeded directly by the program itself (the demo's
	// invented staff, tests); never by the command line of an installation.
	OriginSeeded Origin = "seeded"
)

// Vouch is what a two-person rule needs to know of one account: how it came
// to exist and which supervisors approved it (its creation, its current
// role). An account with no approvers stands on its origin alone.
type Vouch struct {
	Origin    Origin
	Approvers []OperatorID
}

// SecondPerson reports whether second may complete a two-person action that
// first began (an export, an erasure): nil if the two accounts count as two
// people, EFORBIDDEN with the reason if not. They count as one person when
//
//   - they are the same account;
//   - one approved the other, directly or through a chain of approvals (the
//     approving supervisor must have been approved by someone else than the
//     one he now stands second to, and the other way round): whoever can
//     approve an account into being may hold it;
//   - both stand on the command line's word alone (bootstrap accounts):
//     whoever held the shell could have made both.
//
// vouches holds every account's record; an account missing from it counts
// as a bootstrap account with no approvers.
func SecondPerson(first, second OperatorID, vouches map[OperatorID]Vouch) error {
	if first == second {
		return Errorf(EFORBIDDEN, "A second person must do this: not the one who began it.")
	}
	if vouchedFor(first, second, vouches) || vouchedFor(second, first, vouches) {
		return Errorf(EFORBIDDEN, "A second person must do this: one of the two accounts was approved by the other (directly or through others), so they may be one person's.")
	}
	if alone(first, vouches) && alone(second, vouches) {
		return Errorf(EFORBIDDEN, "A second person must do this: both accounts were made at the command line without anyone's approval, so they may be one person's. A supervisor approved by someone else must take part.")
	}
	return nil
}

// alone reports whether an account stands on the command line's word alone.
func alone(id OperatorID, vouches map[OperatorID]Vouch) bool {
	v, ok := vouches[id]
	return !ok || (v.Origin != OriginSeeded && len(v.Approvers) == 0)
}

// vouchedFor reports whether who is among the approvers of id, or of its
// approvers, and so on (a walk of the approval graph; cycles end it).
func vouchedFor(id, who OperatorID, vouches map[OperatorID]Vouch) bool {
	seen := map[OperatorID]bool{id: true}
	next := []OperatorID{id}
	for len(next) > 0 {
		cur := next[len(next)-1]
		next = next[:len(next)-1]
		for _, a := range vouches[cur].Approvers {
			if a == who {
				return true
			}
			if !seen[a] {
				seen[a] = true
				next = append(next, a)
			}
		}
	}
	return false
}

// TokenScope is what an API token may do: read, or read and reply.
type TokenScope string

// The scopes of an API token.
const (
	ScopeRead  TokenScope = "read"
	ScopeReply TokenScope = "reply" // read and reply
)

// MaxTokenLife is the longest an API token lives; it is made with an
// expiry, never without.
const MaxTokenLife = 90 * 24 * time.Hour

// ParseTokenScope returns s as a TokenScope; EINVALID for anything but
// "read" and "reply".
func ParseTokenScope(s string) (TokenScope, error) {
	switch TokenScope(s) {
	case ScopeRead, ScopeReply:
		return TokenScope(s), nil
	}
	return "", Errorf(EINVALID, "A token's scope is read, or reply (read and reply).")
}

// Allows reports whether a token of scope s may be used for action:
// ActionReplyConversation needs ScopeReply; other actions either scope.
func (s TokenScope) Allows(a Action) bool {
	switch s {
	case ScopeReply:
		return true
	case ScopeRead:
		return a != ActionReplyConversation
	}
	return false
}
