// SPDX-License-Identifier: AGPL-3.0-or-later

package auth_test

import (
	"encoding/base32"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/lifeline-hotline/lifeline/internal/auth"
)

// rfcSecret is the RFC 6238 Appendix B SHA-1 seed "12345678901234567890".
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func MustCode(tb testing.TB, secret string, t time.Time) string {
	tb.Helper()
	c, err := totp.GenerateCode(secret, t)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestVerifyTOTPVectors(t *testing.T) {
	// RFC 6238 Appendix B, SHA-1, last 6 of the 8 digits.
	for _, tt := range []struct {
		unix int64
		code string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	} {
		step, err := auth.VerifyTOTP(rfcSecret, tt.code, 0, time.Unix(tt.unix, 0))
		if err != nil || step != tt.unix/30 {
			t.Errorf("VerifyTOTP(%s at %d) = %d, %v; want %d, nil", tt.code, tt.unix, step, err, tt.unix/30)
		}
	}
}

func TestVerifyTOTP(t *testing.T) {
	now := time.Date(2025, 11, 25, 3, 0, 10, 0, time.UTC)
	cur := auth.TOTPStep(now)
	at := func(steps int64) string { return MustCode(t, rfcSecret, now.Add(time.Duration(steps)*30*time.Second)) }

	t.Run("valid now", func(t *testing.T) {
		step, err := auth.VerifyTOTP(rfcSecret, at(0), 0, now)
		if err != nil || step != cur {
			t.Fatalf("got %d, %v; want %d, nil", step, err, cur)
		}
	})
	t.Run("spaces stripped", func(t *testing.T) {
		c := at(0)
		step, err := auth.VerifyTOTP(rfcSecret, " "+c[:3]+" \t"+c[3:]+"\u00a0", 0, now)
		if err != nil || step != cur {
			t.Fatalf("got %d, %v; want %d, nil", step, err, cur)
		}
	})
	t.Run("previous step accepted once", func(t *testing.T) {
		step, err := auth.VerifyTOTP(rfcSecret, at(-1), 0, now)
		if err != nil || step != cur-1 {
			t.Fatalf("first use: got %d, %v; want %d, nil", step, err, cur-1)
		}
		if _, err := auth.VerifyTOTP(rfcSecret, at(-1), step, now); !errors.Is(err, auth.ErrTOTPReplayed) {
			t.Fatalf("second use: err = %v, want ErrTOTPReplayed", err)
		}
	})
	t.Run("same code twice", func(t *testing.T) {
		step, err := auth.VerifyTOTP(rfcSecret, at(0), cur-5, now)
		if err != nil {
			t.Fatal(err)
		}
		// Still inside the same 30 s step, and in the next one (skew).
		for _, later := range []time.Time{now.Add(5 * time.Second), now.Add(30 * time.Second)} {
			if _, err := auth.VerifyTOTP(rfcSecret, at(0), step, later); !errors.Is(err, auth.ErrTOTPReplayed) {
				t.Errorf("replay at %v: err = %v, want ErrTOTPReplayed", later, err)
			}
		}
	})
	t.Run("next step accepted", func(t *testing.T) {
		step, err := auth.VerifyTOTP(rfcSecret, at(1), 0, now)
		if err != nil || step != cur+1 {
			t.Fatalf("got %d, %v; want %d, nil", step, err, cur+1)
		}
	})
	t.Run("two steps off", func(t *testing.T) {
		for _, off := range []int64{-2, 2, -3, 3} {
			if _, err := auth.VerifyTOTP(rfcSecret, at(off), 0, now); !errors.Is(err, auth.ErrTOTPInvalid) {
				t.Errorf("code %d steps off: err = %v, want ErrTOTPInvalid", off, err)
			}
		}
	})
	t.Run("older step after newer", func(t *testing.T) {
		// After step N was accepted, the code for N-1 (still in the skew
		// window) must not work.
		step, err := auth.VerifyTOTP(rfcSecret, at(0), 0, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := auth.VerifyTOTP(rfcSecret, at(-1), step, now); !errors.Is(err, auth.ErrTOTPReplayed) {
			t.Errorf("err = %v, want ErrTOTPReplayed", err)
		}
		// Nor the current code after the next step's code was accepted.
		if _, err := auth.VerifyTOTP(rfcSecret, at(0), cur+1, now); !errors.Is(err, auth.ErrTOTPReplayed) {
			t.Errorf("err = %v, want ErrTOTPReplayed", err)
		}
	})
	t.Run("malformed codes", func(t *testing.T) {
		c := at(0)
		for _, code := range []string{
			"", "12345", "1234567", c + "0", c[:5], c[:5] + "a", "abcdef", "-12345", "+12345",
			"１２３４５６", // full-width digits
			"12345\x00", c + "\n0",
		} {
			if _, err := auth.VerifyTOTP(rfcSecret, code, 0, now); !errors.Is(err, auth.ErrTOTPInvalid) {
				t.Errorf("VerifyTOTP(%q): err = %v, want ErrTOTPInvalid", code, err)
			}
		}
	})
}

func TestVerifyTOTPNearEpoch(t *testing.T) {
	// At step 0 the window would include step -1; the library's uint64
	// counter would wrap (pquerna/otp#97). Step 1 is still reachable.
	now := time.Unix(5, 0)
	step, err := auth.VerifyTOTP(rfcSecret, "287082", -1, now)
	if err != nil || step != 1 {
		t.Fatalf("got %d, %v; want 1, nil", step, err)
	}
	c0 := MustCode(t, rfcSecret, time.Unix(0, 0))
	if step, err := auth.VerifyTOTP(rfcSecret, c0, -1, now); err != nil || step != 0 {
		t.Fatalf("step 0: got %d, %v; want 0, nil", step, err)
	}
	if _, err := auth.VerifyTOTP(rfcSecret, "000000", -1, time.Unix(-100, 0)); !errors.Is(err, auth.ErrTOTPInvalid) {
		t.Fatalf("before 1970: err = %v, want ErrTOTPInvalid", err)
	}
	if got := auth.TOTPStep(time.Unix(-1, 0)); got != -1 {
		t.Errorf("TOTPStep(-1 s) = %d, want -1", got)
	}
}

func TestVerifyTOTPBadSecret(t *testing.T) {
	now := time.Now()
	for _, s := range []string{
		"", "not base32!", "GEZDGNBVGY3TQOJQGEZA", // 12 bytes: under 128 bits
	} {
		if _, err := auth.VerifyTOTP(s, "123456", 0, now); !errors.Is(err, auth.ErrTOTPSecret) {
			t.Errorf("VerifyTOTP(secret %q): err = %v, want ErrTOTPSecret", s, err)
		}
	}
}

func TestNewTOTPSecret(t *testing.T) {
	e, err := auth.NewTOTPSecret("Lifeline", "op-0042")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret %q decodes to %d bytes, %v; want 20", e.Secret, len(raw), err)
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || q.Get("secret") != e.Secret || q.Get("issuer") != "Lifeline" ||
		q.Get("period") != "30" || q.Get("digits") != "6" || q.Get("algorithm") != "SHA1" {
		t.Errorf("URL = %q", e.URL)
	}
	key, err := otp.NewKeyFromURL(e.URL)
	if err != nil || key.AccountName() != "op-0042" || key.Issuer() != "Lifeline" {
		t.Errorf("NewKeyFromURL: %v, %v", key, err)
	}
	now := time.Now()
	if _, err := auth.VerifyTOTP(e.Secret, MustCode(t, e.Secret, now), 0, now); err != nil {
		t.Errorf("VerifyTOTP with a fresh secret: %v", err)
	}
	e2, err := auth.NewTOTPSecret("Lifeline", "op-0042")
	if err != nil || e2.Secret == e.Secret {
		t.Errorf("two enrollments share a secret (%v)", err)
	}
	for _, bad := range [][2]string{{"", "a"}, {"a", ""}, {"Life:line", "a"}, {"Lifeline", "op:1"}} {
		if _, err := auth.NewTOTPSecret(bad[0], bad[1]); err == nil {
			t.Errorf("NewTOTPSecret(%q, %q): no error", bad[0], bad[1])
		}
	}
}
