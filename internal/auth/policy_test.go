// SPDX-License-Identifier: AGPL-3.0-or-later

package auth_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

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
		{"256 characters", strings.Repeat("ab", 128), nil},
		{"257 characters", strings.Repeat("ab", 128) + "c", auth.ErrPasswordTooLong},
		{"256 runes, 1024 bytes", strings.Repeat("🦊🌲", 128), nil},
		{"invalid UTF-8", "valid prefix then \xff\xfe", auth.ErrPasswordEncoding},
		{"common", "passwordpassword", auth.ErrPasswordCommon},
		{"common, other case", "PassWordPassWord", auth.ErrPasswordCommon},
		{"common digits", "123456789012345", auth.ErrPasswordCommon},
		{"common, Cyrillic upper case", "ЙЦУКЕНГШЩЗХЪФЫВ", auth.ErrPasswordCommon},
		{"service name", "LifelineHotline", auth.ErrPasswordCommon},
		{"one repeated character", "aaaaaaaaaaaaaaaa", auth.ErrPasswordCommon},
		{"only spaces", strings.Repeat(" ", 20), auth.ErrPasswordCommon},
		{"common plus a character", "passwordpassword!", nil},
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
