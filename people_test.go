// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"testing"

	"github.com/lifeline-hotline/lifeline"
)

// TestSecondPersonCountsPeople is the table of the two-person rule: two
// accounts count as two people unless they are one, one approved the other
// (directly or through a chain), or both stand on the command line's word
// alone.
func TestSecondPersonCountsPeople(t *testing.T) {
	var (
		a, b   = lifeline.NewOperatorID(), lifeline.NewOperatorID() // the bootstrap pair
		c      = lifeline.NewOperatorID()                           // proposed, approved by a
		d      = lifeline.NewOperatorID()                           // proposed, approved by c
		e      = lifeline.NewOperatorID()                           // proposed, approved by b
		s1, s2 = lifeline.NewOperatorID(), lifeline.NewOperatorID() // seeded (demo)
		p      = lifeline.NewOperatorID()                           // proposed, still pending
		x, y   = lifeline.NewOperatorID(), lifeline.NewOperatorID() // approved each other (a role change)
		ghost  = lifeline.NewOperatorID()                           // no record at all
	)
	boot := lifeline.Vouch{Origin: lifeline.OriginBootstrap}
	by := func(ids ...lifeline.OperatorID) lifeline.Vouch {
		return lifeline.Vouch{Origin: lifeline.OriginProposed, Approvers: ids}
	}
	vouches := map[lifeline.OperatorID]lifeline.Vouch{
		a: boot, b: boot, c: by(a), d: by(c), e: by(b),
		s1: {Origin: lifeline.OriginSeeded}, s2: {Origin: lifeline.OriginSeeded},
		p: {Origin: lifeline.OriginProposed}, x: by(a, y), y: by(x),
	}
	for _, tc := range []struct {
		name          string
		first, second lifeline.OperatorID
		ok            bool
	}{
		{"the same account", a, a, false},
		{"the bootstrap pair", a, b, false},
		{"the bootstrap pair, the other way", b, a, false},
		{"approved by the first", a, c, false},
		{"approved the first", c, a, false},
		{"approved through a chain leading back to the first", a, d, false},
		{"the first approved through a chain by the second", d, a, false},
		{"direct approval in the chain", c, d, false},
		{"approved by the other bootstrap account", a, e, true},
		{"bootstrap and one approved by its pair", b, c, true},
		{"two approved by different supervisors", c, e, true},
		{"two approved through different chains", d, e, true},
		{"two seeded accounts", s1, s2, true},
		{"seeded and bootstrap", s1, a, true},
		{"a pending account with a bootstrap one", p, a, false},
		{"accounts that approved each other", x, y, false},
		{"a cycle reaching the first", a, y, false},
		{"no record and a bootstrap account", ghost, a, false},
		{"no record and an approved account", ghost, e, true},
	} {
		err := lifeline.SecondPerson(tc.first, tc.second, vouches)
		if (err == nil) != tc.ok {
			t.Errorf("%s: SecondPerson = %v, want allowed %v", tc.name, err, tc.ok)
		}
		if err != nil && lifeline.ErrorCode(err) != lifeline.EFORBIDDEN {
			t.Errorf("%s: %v, want EFORBIDDEN", tc.name, err)
		}
	}
}

func TestTokenScope(t *testing.T) {
	for _, s := range []string{"", "Read", "write", "all", "read,reply"} {
		if _, err := lifeline.ParseTokenScope(s); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("ParseTokenScope(%q) = %v, want EINVALID", s, err)
		}
	}
	for _, tc := range []struct {
		scope lifeline.TokenScope
		a     lifeline.Action
		ok    bool
	}{
		{lifeline.ScopeRead, lifeline.ActionReadConversation, true},
		{lifeline.ScopeRead, lifeline.ActionReplyConversation, false},
		{lifeline.ScopeReply, lifeline.ActionReadConversation, true},
		{lifeline.ScopeReply, lifeline.ActionReplyConversation, true},
		{"", lifeline.ActionReadConversation, false},
	} {
		if got := tc.scope.Allows(tc.a); got != tc.ok {
			t.Errorf("%q.Allows(%s) = %v, want %v", tc.scope, tc.a, got, tc.ok)
		}
	}
}
