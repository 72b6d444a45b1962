// SPDX-License-Identifier: AGPL-3.0-or-later

package auth_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/auth"
)

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name, pw string
		want     error
	}{
		{"empty", "", auth.ErrPasswordTooShort},
		{"14 characters", "abcdefghij1234", auth.ErrPasswordTooShort},
		{"15 characters", "tulip wire moss", nil},
		{"15 runes, 30 bytes", "тюльпан провод ", nil},
		{"14 runes, 28 bytes", "тюльпанпровод ", auth.ErrPasswordTooShort},
		{"no composition rules", "alllowercaseletters", nil},
		{"emoji", "🦊🦊🌲🌲🚲🚲🎈🎈🧭🧭🪁🪁🧩🧩🎲", nil},
		{"256 characters", unrepeated(256), nil},
		{"256 characters repeating", strings.Repeat("ab", 128), auth.ErrPasswordCommon},
		{"257 characters", unrepeated(257), auth.ErrPasswordTooLong},
		{"256 runes, 1024 bytes", strings.Repeat("🦊🌲", 128), nil},
		{"invalid UTF-8", "valid prefix then \xff\xfe", auth.ErrPasswordEncoding},
		{"common", "passwordpassword", auth.ErrPasswordCommon},
		{"common, other case", "PassWordPassWord", auth.ErrPasswordCommon},
		{"common digits", "123456789012345", auth.ErrPasswordCommon},
		{"common, Cyrillic upper case", "ЙЦУКЕНГШЩЗХЪФЫВ", auth.ErrPasswordCommon},
		{"service name", "LifelineHotline", auth.ErrPasswordCommon},
		{"one repeated character", "aaaaaaaaaaaaaaaa", auth.ErrPasswordCommon},
		{"only spaces", strings.Repeat(" ", 20), auth.ErrPasswordCommon},
		{"common plus a character", "passwordpassword!", auth.ErrPasswordCommon},
		{"common word and digits", "password1234567890", auth.ErrPasswordCommon},
		{"a year twice", "Kyiv2024Kyiv2024", auth.ErrPasswordCommon},
		{"a few unrelated words", "yellow submarine kettle", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.CheckPassword(tt.pw)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("CheckPassword: got %v, want %v", err, tt.want)
			}
			if err != nil && tt.pw != "" && strings.Contains(err.Error(), tt.pw) {
				t.Errorf("error %q echoes the password", err)
			}
		})
	}
}

// TestCheckPasswordCountsKnownWords: the username (and any word the caller
// knows the person by) is guessable: a password built on it is refused
// though the same shape with an unknown word passes.
func TestCheckPasswordCountsKnownWords(t *testing.T) {
	if err := auth.CheckPassword("marichka-kovalchuk-99", "marichka-kovalchuk"); !errors.Is(err, auth.ErrPasswordCommon) {
		t.Errorf("password built on the username: got %v, want ErrPasswordCommon", err)
	}
	if err := auth.CheckPassword("marichka-kovalchuk-99"); err != nil {
		t.Errorf("the same password for someone else: got %v, want nil", err)
	}
}

// TestCheckPasswordIsQuickOnTheLongest: the estimator's work grows with
// the square of the length; the longest password allowed is judged on a
// bounded prefix, so an enrolment cannot tie up the server.
func TestCheckPasswordIsQuickOnTheLongest(t *testing.T) {
	start := time.Now()
	for _, pw := range []string{strings.Repeat("🦊🌲", 128), strings.Repeat("a1b2c3d4", 32)} {
		auth.CheckPassword(pw)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("two longest passwords took %v, want well under a second", d)
	}
}

// unrepeated is n letters with no pattern the estimator knows.
func unrepeated(n int) string {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = 'a' + byte(x%26)
	}
	return string(b)
}

func TestCheckPasswordMessages(t *testing.T) {
	err := auth.CheckPassword("short")
	if got, want := err.Error(), "password must be at least 15 characters long (it has 5)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestGeneratePassword(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}(-[0-9a-hjkmnp-tv-z]{5}){4}$`)
	seen := make(map[string]bool)
	for range 200 {
		pw := auth.GeneratePassword()
		if !re.MatchString(pw) {
			t.Fatalf("GeneratePassword() = %q, want 5 groups of 5 unambiguous characters", pw)
		}
		if err := auth.CheckPassword(pw); err != nil {
			t.Fatalf("CheckPassword(GeneratePassword()) = %v", err)
		}
		if seen[pw] {
			t.Fatalf("GeneratePassword repeated %q", pw)
		}
		seen[pw] = true
	}
}
