// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/lifeline-hotline/lifeline"
)

func TestErrorCodeAndMessage(t *testing.T) {
	var nilErr *lifeline.Error
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
	}{
		{"nil", nil, "", ""},
		{"plain", errors.New("disk on fire at /var/lib"), lifeline.EINTERNAL, "Internal error."},
		{"io", io.ErrUnexpectedEOF, lifeline.EINTERNAL, "Internal error."},
		{"not found", lifeline.Errorf(lifeline.ENOTFOUND, "Case not found."), lifeline.ENOTFOUND, "Case not found."},
		{"formatted", lifeline.Errorf(lifeline.EINVALID, "At most %d items.", 5), lifeline.EINVALID, "At most 5 items."},
		{"conflict", lifeline.Errorf(lifeline.ECONFLICT, "Case already closed."), lifeline.ECONFLICT, "Case already closed."},
		{"unauthorized", lifeline.Errorf(lifeline.EUNAUTHORIZED, "Sign in."), lifeline.EUNAUTHORIZED, "Sign in."},
		{"forbidden", lifeline.Errorf(lifeline.EFORBIDDEN, "Not yours."), lifeline.EFORBIDDEN, "Not yours."},
		{"sealed", lifeline.Errorf(lifeline.EUNAVAILABLE, "The server is sealed."), lifeline.EUNAVAILABLE, "The server is sealed."},
		{"wrapped", fmt.Errorf("assign case: %w", lifeline.Errorf(lifeline.ECONFLICT, "Case already closed.")),
			lifeline.ECONFLICT, "Case already closed."},
		{"wrapped twice", fmt.Errorf("web: %w", fmt.Errorf("store: %w", &lifeline.Error{Code: lifeline.ENOTFOUND, Message: "Gone."})),
			lifeline.ENOTFOUND, "Gone."},
		{"joined", errors.Join(errors.New("x"), lifeline.Errorf(lifeline.EFORBIDDEN, "No.")), lifeline.EFORBIDDEN, "No."},
		{"internal hides message", lifeline.Errorf(lifeline.EINTERNAL, "password=hunter2"), lifeline.EINTERNAL, "Internal error."},
		{"unknown code hides message", &lifeline.Error{Code: "teapot", Message: "secret detail"}, lifeline.EINTERNAL, "Internal error."},
		{"empty code", &lifeline.Error{Message: "secret detail"}, lifeline.EINTERNAL, "Internal error."},
		{"empty message", &lifeline.Error{Code: lifeline.ENOTFOUND}, lifeline.ENOTFOUND, "Not found."},
		{"typed nil wrapped", fmt.Errorf("x: %w", nilErr), lifeline.EINTERNAL, "Internal error."},
	}
	for _, tt := range tests {
		if got := lifeline.ErrorCode(tt.err); got != tt.wantCode {
			t.Errorf("%s: ErrorCode() = %q, want %q", tt.name, got, tt.wantCode)
		}
		if got := lifeline.ErrorMessage(tt.err); got != tt.wantMsg {
			t.Errorf("%s: ErrorMessage() = %q, want %q", tt.name, got, tt.wantMsg)
		}
	}
}

func TestErrorCodesAreDistinct(t *testing.T) {
	codes := []string{
		lifeline.EINVALID, lifeline.ENOTFOUND, lifeline.ECONFLICT, lifeline.EUNAUTHORIZED,
		lifeline.EFORBIDDEN, lifeline.EUNAVAILABLE, lifeline.EINTERNAL,
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if c == "" || seen[c] {
			t.Errorf("code %q is empty or repeated", c)
		}
		seen[c] = true
		// Every code is recognised: an Error with it keeps its code.
		if got := lifeline.ErrorCode(&lifeline.Error{Code: c}); got != c {
			t.Errorf("ErrorCode(&Error{Code: %q}) = %q", c, got)
		}
		if lifeline.ErrorMessage(&lifeline.Error{Code: c}) == "" {
			t.Errorf("no generic message for code %q", c)
		}
	}
}

func TestErrorString(t *testing.T) {
	err := lifeline.Errorf(lifeline.ECONFLICT, "Case already closed.")
	if got, want := err.Error(), "lifeline error: code=conflict message=Case already closed."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
