// SPDX-License-Identifier: AGPL-3.0-or-later

package auth_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/auth"
)

func TestNewToken(t *testing.T) {
	for _, kind := range []struct {
		prefix string
		new    func() (string, []byte, error)
		hash   func(string) ([]byte, error)
	}{
		{auth.TokenPrefix, auth.NewToken, auth.HashToken},
		{auth.SessionPrefix, auth.NewSessionID, auth.HashSessionID},
	} {
		t.Run(kind.prefix, func(t *testing.T) {
			a, ha, err := kind.new()
			if err != nil {
				t.Fatal(err)
			}
			b, _, _ := kind.new()
			if a == b {
				t.Fatal("two secrets are equal")
			}
			if !strings.HasPrefix(a, kind.prefix) || len(a) != 4+52 {
				t.Fatalf("secret %q: want prefix %q and 56 characters", a, kind.prefix)
			}
			if want := sha256.Sum256([]byte(a)); !bytes.Equal(ha, want[:]) {
				t.Errorf("stored hash is not SHA-256 of the plaintext")
			}
			h, err := kind.hash(a)
			if err != nil || !bytes.Equal(h, ha) {
				t.Errorf("hash(%q) = %x, %v; want %x, nil", a, h, err, ha)
			}
		})
	}
}

func TestHashTokenRejects(t *testing.T) {
	good, _, _ := auth.NewToken()
	body := good[4:]
	// 52 base32 characters carry 4 spare bits: "a…a" is canonical, "a…b" not.
	canonical := "llt_" + strings.Repeat("a", 52)
	if _, err := auth.HashToken(canonical); err != nil {
		t.Fatalf("HashToken(all zero) = %v", err)
	}
	session, _, _ := auth.NewSessionID()
	for _, tt := range []struct{ name, in string }{
		{"empty", ""},
		{"prefix only", "llt_"},
		{"no prefix", body},
		{"session id", session},
		{"upper-case prefix", "LLT_" + body},
		{"upper-case body", "llt_" + strings.ToUpper(body)},
		{"one short", good[:len(good)-1]},
		{"one long", good + "a"},
		{"padded", good + "===="},
		{"bearer scheme", "Bearer " + good},
		{"trailing newline", good[:len(good)-1] + "\n"},
		{"digit 0", "llt_0" + body[1:]},
		{"digit 1", "llt_1" + body[1:]},
		{"digit 8", "llt_8" + body[1:]},
		{"non-canonical tail", canonical[:len(canonical)-1] + "b"},
		{"non-ASCII", "llt_é" + body[2:]},
		{"NUL", "llt_\x00" + body[1:]},
	} {
		if _, err := auth.HashToken(tt.in); !errors.Is(err, auth.ErrTokenFormat) {
			t.Errorf("%s: HashToken(%q) err = %v, want ErrTokenFormat", tt.name, tt.in, err)
		}
		if _, err := auth.TokenID(tt.in); !errors.Is(err, auth.ErrTokenFormat) {
			t.Errorf("%s: TokenID(%q) err = %v, want ErrTokenFormat", tt.name, tt.in, err)
		}
	}
	if _, err := auth.HashSessionID(good); !errors.Is(err, auth.ErrTokenFormat) {
		t.Errorf("HashSessionID(API token) err = %v, want ErrTokenFormat", err)
	}
}

func TestTokenID(t *testing.T) {
	tok, _, _ := auth.NewToken()
	id, err := auth.TokenID(tok)
	if err != nil {
		t.Fatal(err)
	}
	if want := tok[:4+auth.TokenIDLen]; id != want {
		t.Errorf("TokenID = %q, want %q", id, want)
	}
}
