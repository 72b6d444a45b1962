// SPDX-License-Identifier: AGPL-3.0-or-later

package seal_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// MustUnsealer returns an Unsealer for h or fails the test.
func MustUnsealer(tb testing.TB, h seal.Header) *seal.Unsealer {
	tb.Helper()
	u, err := seal.NewUnsealer(h)
	if err != nil {
		tb.Fatalf("NewUnsealer: %v", err)
	}
	return u
}

var shareRE = regexp.MustCompile(`^LLS1-[1-9][0-9]*(-[0-9A-HJKMNP-TV-Z]{5}){10}-[0-9A-HJKMNP-TV-Z]{3}-[0-9A-HJKMNP-TV-Z]{4}$`)

func TestSplitFormat(t *testing.T) {
	f := MustNewKeyringFile(t, 5, 3)
	for i, s := range f.Shares {
		if !shareRE.MatchString(s) {
			t.Errorf("share %d = %q, does not match %v", i+1, s, shareRE)
		}
		if want := "LLS1-" + string(rune('1'+i)) + "-"; !strings.HasPrefix(s, want) {
			t.Errorf("share %d starts %q, want %q", i+1, s[:7], want)
		}
	}
}

// TestUnsealEverySubset is the 3-of-5 test: all 10 three-share subsets give
// the key and open the keyring; no two-share subset yields a key.
func TestUnsealEverySubset(t *testing.T) {
	f := MustNewKeyringFile(t, 5, 3)
	subsets := 0
	for a := 0; a < 5; a++ {
		for b := a + 1; b < 5; b++ {
			u := MustUnsealer(t, f.Header)
			for _, s := range []string{f.Shares[a], f.Shares[b]} {
				if _, _, err := u.Add(s); err != nil {
					t.Fatalf("Add: %v", err)
				}
			}
			if have, need := u.Have(), u.Need(); have != 2 || need != 3 {
				t.Errorf("shares %d,%d: have %d need %d, want 2 and 3", a+1, b+1, have, need)
			}
			if k, err := u.Key(); !errors.Is(err, seal.ErrNotEnoughShares) || !k.IsZero() {
				t.Errorf("shares %d,%d: Key() error = %v, want ErrNotEnoughShares and no key", a+1, b+1, err)
			}
			if k, err := seal.Combine([]string{f.Shares[a], f.Shares[b]}); err == nil && k.Equal(&f.UnsealKey) {
				t.Errorf("shares %d,%d: Combine of 2 gave the key", a+1, b+1)
			}
			for c := b + 1; c < 5; c++ {
				subsets++
				u := MustUnsealer(t, f.Header)
				for _, s := range []string{f.Shares[c], f.Shares[a], f.Shares[b]} {
					if _, _, err := u.Add(s); err != nil {
						t.Fatalf("Add: %v", err)
					}
				}
				k, err := u.Key()
				if err != nil || !k.Equal(&f.UnsealKey) {
					t.Fatalf("shares %d,%d,%d: Key() = wrong key, %v", a+1, b+1, c+1, err)
				}
				if _, _, err := seal.OpenKeyring(f.Blob, k); err != nil {
					t.Errorf("shares %d,%d,%d: OpenKeyring: %v", a+1, b+1, c+1, err)
				}
				if k2, err := seal.Combine([]string{f.Shares[a], f.Shares[b], f.Shares[c]}); err != nil || !k2.Equal(&f.UnsealKey) {
					t.Errorf("shares %d,%d,%d: Combine = wrong key, %v", a+1, b+1, c+1, err)
				}
				u.Zero()
				if u.Have() != 0 {
					t.Error("Have after Zero")
				}
			}
		}
	}
	if subsets != 10 {
		t.Errorf("tried %d subsets, want 10", subsets)
	}
}

func TestUnsealerAdd(t *testing.T) {
	f := MustNewKeyringFile(t, 5, 3)
	other := MustNewKeyringFile(t, 5, 3)
	u := MustUnsealer(t, f.Header)

	have, need, err := u.Add(f.Shares[0])
	if err != nil || have != 1 || need != 3 {
		t.Fatalf("Add = %d, %d, %v; want 1, 3, nil", have, need, err)
	}
	// The same share again, however it is typed, is a duplicate.
	for _, s := range []string{f.Shares[0], strings.ToLower(f.Shares[0]), strings.ReplaceAll(f.Shares[0], "-", " "),
		"LLS1-1-" + strings.ReplaceAll(f.Shares[0][len("LLS1-1-"):], "-", "")} {
		if have, _, err := u.Add(s); !errors.Is(err, seal.ErrShareDuplicate) || have != 1 {
			t.Errorf("Add(same share as %q) = %d, %v; want 1, ErrShareDuplicate", s, have, err)
		}
	}
	if _, _, err := u.Add(other.Shares[1]); !errors.Is(err, seal.ErrShareForeign) {
		t.Errorf("Add(share of another keyring) error = %v, want ErrShareForeign", err)
	}
	if !strings.Contains(seal.ErrShareForeign.Error(), "does not belong to this keyring") {
		t.Errorf("ErrShareForeign = %q", seal.ErrShareForeign)
	}
	for _, bad := range []string{"", "hello", "LLS1", "LLS1-1", "LLS2-1-" + f.Shares[1][7:], "LLS1-0-" + f.Shares[1][7:],
		"LLS1-256-" + f.Shares[1][7:], "LLS1-01-" + f.Shares[1][7:], f.Shares[1] + "X", f.Shares[1][:len(f.Shares[1])-1],
		strings.Replace(f.Shares[1], "-", "-U", 3), strings.Repeat("A", 1000), "LLS1-2-Ж" + f.Shares[1][8:]} {
		if _, _, err := u.Add(bad); err == nil {
			t.Errorf("Add(%q) succeeded", bad)
		} else if !errors.Is(err, seal.ErrShareMalformed) && !errors.Is(err, seal.ErrShareMistyped) {
			t.Errorf("Add(%q) error = %v, want malformed or mistyped", bad, err)
		}
	}
	if got := u.Have(); got != 1 {
		t.Errorf("Have = %d after rejected shares, want 1", got)
	}
	if _, _, err := u.Add(f.Shares[3]); err != nil {
		t.Fatal(err)
	}
	if have, need, err := u.Add(f.Shares[4]); err != nil || have != need {
		t.Fatalf("third Add = %d, %d, %v", have, need, err)
	}
	if _, _, err := u.Add(f.Shares[2]); !errors.Is(err, seal.ErrEnoughShares) {
		t.Errorf("Add after k shares: error = %v, want ErrEnoughShares", err)
	}
	if k, err := u.Key(); err != nil || !k.Equal(&f.UnsealKey) {
		t.Errorf("Key() = wrong key, %v", err)
	}
}

// TestShareTypos changes each character of a share after the share number to
// another share character: every change is caught as a typo, never accepted
// as another share.
func TestShareTypos(t *testing.T) {
	f := MustNewKeyringFile(t, 5, 3)
	u := MustUnsealer(t, f.Header)
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	s := f.Shares[2]
	missed := 0
	for i := len("LLS1-3-"); i < len(s); i++ {
		if s[i] == '-' {
			continue
		}
		c := alphabet[(strings.IndexByte(alphabet, s[i])+1+i%7)%len(alphabet)]
		typo := s[:i] + string(c) + s[i+1:]
		// The 20-bit checksum misses one typo in a million; the commitment
		// check then refuses it as foreign. Either way no key is built.
		switch _, _, err := u.Add(typo); {
		case errors.Is(err, seal.ErrShareMistyped):
		case errors.Is(err, seal.ErrShareForeign):
			missed++
		default:
			t.Errorf("character %d changed: error = %v, want ErrShareMistyped", i, err)
		}
	}
	if missed > 1 {
		t.Errorf("checksum missed %d single-character typos", missed)
	}
	for _, number := range []string{"4", "13"} {
		if _, _, err := u.Add("LLS1-" + number + s[6:]); !errors.Is(err, seal.ErrShareMistyped) {
			t.Errorf("share number changed to %s: error = %v, want ErrShareMistyped", number, err)
		}
	}
	// Crockford look-alikes are the same character, not typos.
	lookalike := strings.NewReplacer("0", "O", "1", "l").Replace(s[5:])
	if _, _, err := u.Add("lls1-" + lookalike); err != nil {
		t.Errorf("Add with look-alikes: %v", err)
	}
	if u.Have() != 1 {
		t.Errorf("Have = %d, want 1", u.Have())
	}
	if strings.Contains(seal.ErrShareMistyped.Error(), s[8:12]) {
		t.Error("error contains share characters")
	}
}

func TestSplitBounds(t *testing.T) {
	k := seal.NewUnsealKey()
	for _, tt := range []struct {
		n, k int
		ok   bool
	}{{2, 2, true}, {5, 3, true}, {255, 255, true}, {255, 2, true}, {1, 1, false}, {3, 1, false}, {2, 3, false}, {256, 3, false}, {256, 256, false}, {0, 0, false}} {
		shares, cs, err := seal.Split(k, tt.n, tt.k)
		if got := err == nil; got != tt.ok {
			t.Errorf("Split(n=%d, k=%d) error = %v, want ok %v", tt.n, tt.k, err, tt.ok)
			continue
		}
		if tt.ok && (len(shares) != tt.n || len(cs) != tt.n) {
			t.Errorf("Split(n=%d, k=%d) = %d shares, %d commitments", tt.n, tt.k, len(shares), len(cs))
		}
	}
	if _, _, err := seal.Split(seal.Key{}, 5, 3); err == nil {
		t.Error("Split of a zero key succeeded")
	}
	shares, _, _ := seal.Split(k, 255, 255)
	if got, err := seal.Combine(shares); err != nil || !got.Equal(&k) {
		t.Errorf("Combine(255 of 255) = wrong key, %v", err)
	}
	if _, err := seal.Combine(shares[:1]); err == nil {
		t.Error("Combine of one share succeeded")
	}
	if _, err := seal.Combine([]string{shares[0], shares[0]}); !errors.Is(err, seal.ErrShareDuplicate) {
		t.Errorf("Combine of a duplicate: %v", err)
	}
}
