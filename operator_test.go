// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

func TestValidUsername(t *testing.T) {
	for _, s := range []string{"abc", "o.petrenko", "shift_lead-2", "a12", strings.Repeat("a", 32), "z..", "a-_"} {
		if !lifeline.ValidUsername(s) {
			t.Errorf("ValidUsername(%q) = false, want true", s)
		}
	}
	for _, s := range []string{
		"", "ab", strings.Repeat("a", 33), "1abc", ".abc", "_abc", "-abc", "Abc", "abC",
		"a bc", "ab@c", "abc\n", "олена", "аbc", // the last starts with a Cyrillic а
		"ab/c", "ab\x00c",
	} {
		if lifeline.ValidUsername(s) {
			t.Errorf("ValidUsername(%q) = true, want false", s)
		}
	}
}

func TestOperatorValidate(t *testing.T) {
	ok := lifeline.Operator{
		ID: lifeline.NewOperatorID(), Username: "o.petrenko", Role: lifeline.RoleCaseOfficer,
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	for name, mutate := range map[string]func(*lifeline.Operator){
		"bad id":        func(o *lifeline.Operator) { o.ID = "x" },
		"system id":     func(o *lifeline.Operator) { o.ID = lifeline.SystemOperator },
		"bad username":  func(o *lifeline.Operator) { o.Username = "O.Petrenko" },
		"no role":       func(o *lifeline.Operator) { o.Role = "" },
		"unknown role":  func(o *lifeline.Operator) { o.Role = "root" },
		"abbrev'd role": func(o *lifeline.Operator) { o.Role = "CO" },
	} {
		o := ok
		mutate(&o)
		if err := o.Validate(); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("%s: Validate() = %v, want code %q", name, err, lifeline.EINVALID)
		}
	}
}
