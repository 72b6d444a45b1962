// SPDX-License-Identifier: AGPL-3.0-or-later

package auth_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/auth"
)

// Seeds live in testdata/fuzz/<FuzzName>/; plain "go test" runs them.

// FuzzParsePHC checks that the stored-hash parser never panics, accepts only
// parameters inside the bounds, and that what it accepts round-trips exactly
// (one spelling per hash).
func FuzzParsePHC(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		p, err := auth.ParsePHC(s)
		if err != nil {
			if !errors.Is(err, auth.ErrMalformedHash) && !errors.Is(err, auth.ErrHashParams) {
				t.Fatalf("ParsePHC(%q): error %v wraps no sentinel", s, err)
			}
			if len(err.Error()) > 100 {
				// Errors name the field, never echo it: rows may be logged.
				t.Fatalf("ParsePHC(%q): error %q is long enough to quote the input", s, err)
			}
			return
		}
		if p.Memory > 1<<20 || p.Time < 1 || p.Time > 10 || p.Threads < 1 || p.Threads > 16 || p.Memory < 8*uint32(p.Threads) {
			t.Fatalf("ParsePHC(%q) accepted params %+v", s, p.Params)
		}
		if len(p.Salt) < 8 || len(p.Salt) > 64 || len(p.Key) < 16 || len(p.Key) > 64 {
			t.Fatalf("ParsePHC(%q) accepted salt %d, tag %d bytes", s, len(p.Salt), len(p.Key))
		}
		if got := p.String(); got != s {
			t.Fatalf("ParsePHC(%q).String() = %q", s, got)
		}
	})
}

// FuzzHashToken checks the bearer-token and session-id parsers: no panic,
// accepted values have the documented shape and hash, and no string is
// accepted as both kinds.
func FuzzHashToken(f *testing.F) {
	tok, _, _ := auth.NewToken()
	sid, _, _ := auth.NewSessionID()
	f.Add(tok)
	f.Add(sid)
	f.Fuzz(func(t *testing.T, s string) {
		th, terr := auth.HashToken(s)
		sh, serr := auth.HashSessionID(s)
		if terr == nil && serr == nil {
			t.Fatalf("%q accepted as token and session id", s)
		}
		for _, c := range []struct {
			prefix string
			h      []byte
			err    error
		}{{auth.TokenPrefix, th, terr}, {auth.SessionPrefix, sh, serr}} {
			if c.err != nil {
				if !errors.Is(c.err, auth.ErrTokenFormat) || c.h != nil {
					t.Fatalf("%q: got %x, %v; want nil, ErrTokenFormat", s, c.h, c.err)
				}
				continue
			}
			if len(s) != 56 || !strings.HasPrefix(s, c.prefix) || strings.Trim(s[4:], "abcdefghijklmnopqrstuvwxyz234567") != "" {
				t.Fatalf("accepted %q", s)
			}
			if want := sha256.Sum256([]byte(s)); !bytes.Equal(c.h, want[:]) {
				t.Fatalf("%q: hash is not SHA-256 of the input", s)
			}
		}
		if id, err := auth.TokenID(s); (err == nil) != (terr == nil) || (err == nil && !strings.HasPrefix(s, id)) {
			t.Fatalf("TokenID(%q) = %q, %v, disagrees with HashToken (%v)", s, id, err, terr)
		}
	})
}

// FuzzVerifyTOTP feeds arbitrary user input as the code: it must never
// panic or be accepted unless it normalises to the right 6 digits.
func FuzzVerifyTOTP(f *testing.F) {
	f.Fuzz(func(t *testing.T, code string, last, unix int64) {
		step, err := auth.VerifyTOTP(rfcSecret, code, last, time.Unix(unix, 0))
		switch {
		case err == nil:
			cur := auth.TOTPStep(time.Unix(unix, 0))
			if step <= last || step < cur-1 || step > cur+1 || step < 0 {
				t.Fatalf("VerifyTOTP(%q, %d, %d) accepted step %d", code, last, unix, step)
			}
			digits := strings.Join(strings.Fields(code), "")
			if want := MustCode(t, rfcSecret, time.Unix(step*30, 0)); digits != want {
				t.Fatalf("VerifyTOTP(%q) accepted, want code %s", code, want)
			}
		case errors.Is(err, auth.ErrTOTPInvalid), errors.Is(err, auth.ErrTOTPReplayed):
		default:
			t.Fatalf("VerifyTOTP(%q, %d, %d): unexpected error %v", code, last, unix, err)
		}
	})
}
