// SPDX-License-Identifier: AGPL-3.0-or-later

package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// MustEncrypt encrypts or fails the test.
func MustEncrypt(tb testing.TB, dk seal.DataKey, aad seal.AAD, pt []byte) []byte {
	tb.Helper()
	ct, err := seal.Encrypt(dk, aad, pt)
	if err != nil {
		tb.Fatalf("Encrypt: %v", err)
	}
	return ct
}

func TestEncryptRoundTrip(t *testing.T) {
	dk := seal.NewDataKey()
	aad := seal.AAD{Table: "contacts", Column: "phone", Row: "c7q2m4"}
	for _, pt := range [][]byte{nil, []byte("x"), []byte("Иван Петрович Сидоров, +7 916 123-45-67"), bytes.Repeat([]byte{0xAB}, 1<<16)} {
		ct := MustEncrypt(t, dk, aad, pt)
		if got, want := len(ct), len(pt)+seal.FieldOverhead; got != want {
			t.Errorf("len(ciphertext) = %d, want %d", got, want)
		}
		if len(pt) > 8 && bytes.Contains(ct, pt[:8]) {
			t.Errorf("ciphertext contains plaintext")
		}
		got, err := seal.Decrypt(dk, aad, ct)
		if err != nil {
			t.Fatalf("Decrypt: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("Decrypt = %q, want %q", got, pt)
		}
		id, err := seal.CiphertextKeyID(ct)
		if err != nil || id != dk.ID {
			t.Errorf("CiphertextKeyID = %v, %v; want %v", id, err, dk.ID)
		}
	}
}

func TestEncryptSamePlaintextDiffers(t *testing.T) {
	dk := seal.NewDataKey()
	aad := seal.AAD{Table: "t", Column: "c", Row: "r"}
	a, b := MustEncrypt(t, dk, aad, []byte("same")), MustEncrypt(t, dk, aad, []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions of one plaintext are equal")
	}
}

func TestEncryptRejectsBadInput(t *testing.T) {
	dk := seal.NewDataKey()
	for _, aad := range []seal.AAD{
		{Column: "c", Row: "r"}, {Table: "t", Row: "r"}, {Table: "t", Column: "c"},
		{Table: string(make([]byte, 1025)), Column: "c", Row: "r"},
	} {
		if _, err := seal.Encrypt(dk, aad, []byte("x")); err == nil {
			t.Errorf("Encrypt(%+v) succeeded, want error", aad)
		}
	}
	if _, err := seal.Encrypt(seal.DataKey{ID: dk.ID}, seal.AAD{Table: "t", Column: "c", Row: "r"}, nil); err == nil {
		t.Error("Encrypt with a zero key succeeded")
	}
	if _, err := seal.Encrypt(seal.DataKey{Key: dk.Key}, seal.AAD{Table: "t", Column: "c", Row: "r"}, nil); err == nil {
		t.Error("Encrypt with a zero key id succeeded")
	}
}

// TestDecryptSwaps is S-11: a ciphertext moved to another row, column, table
// or key never opens.
func TestDecryptSwaps(t *testing.T) {
	dk, other := seal.NewDataKey(), seal.NewDataKey()
	aad := seal.AAD{Table: "contacts", Column: "phone", Row: "row1"}
	ct := MustEncrypt(t, dk, aad, []byte("+79161234567"))

	tests := []struct {
		name    string
		dk      seal.DataKey
		aad     seal.AAD
		wantErr error
	}{
		{"other row", dk, seal.AAD{Table: "contacts", Column: "phone", Row: "row2"}, seal.ErrDecrypt},
		{"other column", dk, seal.AAD{Table: "contacts", Column: "name", Row: "row1"}, seal.ErrDecrypt},
		{"other table", dk, seal.AAD{Table: "cases", Column: "phone", Row: "row1"}, seal.ErrDecrypt},
		{"shifted boundary", dk, seal.AAD{Table: "contactsp", Column: "hone", Row: "row1"}, seal.ErrDecrypt},
		{"other key", other, aad, seal.ErrWrongKey},
		{"other key bytes, same id", seal.DataKey{ID: dk.ID, Key: other.Key}, aad, seal.ErrDecrypt},
		{"invalid aad", dk, seal.AAD{}, seal.ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := seal.Decrypt(tt.dk, tt.aad, ct)
			if !errors.Is(err, tt.wantErr) || pt != nil {
				t.Errorf("Decrypt = %q, %v; want nil, %v", pt, err, tt.wantErr)
			}
		})
	}
	if !errors.Is(seal.ErrWrongKey, seal.ErrDecrypt) {
		t.Error("ErrWrongKey is not an ErrDecrypt")
	}
}

// TestAADLengthPrefix checks that moving bytes between table, column and row
// changes the associated data.
func TestAADLengthPrefix(t *testing.T) {
	dk := seal.NewDataKey()
	ct := MustEncrypt(t, dk, seal.AAD{Table: "ab", Column: "c", Row: "d"}, []byte("x"))
	for _, aad := range []seal.AAD{{Table: "a", Column: "bc", Row: "d"}, {Table: "ab", Column: "cd", Row: "\x00"}, {Table: "abc", Column: "d", Row: "x"}} {
		if _, err := seal.Decrypt(dk, aad, ct); err == nil {
			t.Errorf("Decrypt with %+v succeeded", aad)
		}
	}
}

// TestDecryptEveryBitFlip is S-11: every single-bit flip of a ciphertext,
// header included, fails to open.
func TestDecryptEveryBitFlip(t *testing.T) {
	dk := seal.NewDataKey()
	aad := seal.AAD{Table: "messages", Column: "body", Row: "m1"}
	ct := MustEncrypt(t, dk, aad, []byte("Хочу сдаться"))
	failures := 0
	for i := range len(ct) * 8 {
		c := bytes.Clone(ct)
		c[i/8] ^= 1 << (i % 8)
		if _, err := seal.Decrypt(dk, aad, c); errors.Is(err, seal.ErrDecrypt) {
			failures++
		} else {
			t.Errorf("bit %d flipped: Decrypt error = %v, want ErrDecrypt", i, err)
		}
	}
	if got, want := failures, len(ct)*8; got != want {
		t.Errorf("%d of %d bit flips failed to open, want all", got, want)
	}
	for n := range len(ct) {
		if _, err := seal.Decrypt(dk, aad, ct[:n]); !errors.Is(err, seal.ErrDecrypt) {
			t.Errorf("truncated to %d bytes: error = %v, want ErrDecrypt", n, err)
		}
	}
	if _, err := seal.Decrypt(dk, aad, append(bytes.Clone(ct), 0)); !errors.Is(err, seal.ErrDecrypt) {
		t.Errorf("extended: error = %v, want ErrDecrypt", err)
	}
}

// TestNoncesNeverRepeat is S-11: 10^6 encryptions (10^5 with -short) draw no
// nonce twice.
func TestNoncesNeverRepeat(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	dk := seal.NewDataKey()
	aad := seal.AAD{Table: "t", Column: "c", Row: "r"}
	seen := make(map[[24]byte]struct{}, n)
	pt := []byte("x")
	for i := range n {
		ct, err := seal.Encrypt(dk, aad, pt)
		if err != nil {
			t.Fatal(err)
		}
		nonce := [24]byte(ct[18:42])
		if _, dup := seen[nonce]; dup {
			t.Fatalf("encryption %d repeated a nonce", i)
		}
		seen[nonce] = struct{}{}
	}
	if got := len(seen); got != n {
		t.Errorf("%d distinct nonces, want %d", got, n)
	}
}

func TestCiphertextKeyIDRejectsGarbage(t *testing.T) {
	for _, ct := range [][]byte{nil, {1, 1}, make([]byte, seal.FieldOverhead), append([]byte{3, 1}, make([]byte, 60)...)} {
		if _, err := seal.CiphertextKeyID(ct); err == nil {
			t.Errorf("CiphertextKeyID(% x) succeeded", ct)
		}
	}
}

func TestKeyIDText(t *testing.T) {
	id := seal.NewKeyID()
	s := id.String()
	if len(s) != 26 {
		t.Errorf("len(%q) = %d, want 26", s, len(s))
	}
	got, err := seal.ParseKeyID(s)
	if err != nil || got != id {
		t.Errorf("ParseKeyID(%q) = %v, %v; want %v", s, got, err, id)
	}
	for _, bad := range []string{"", "abc", s[:25] + "1", s + "a", "AAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := seal.ParseKeyID(bad); err == nil {
			t.Errorf("ParseKeyID(%q) succeeded", bad)
		}
	}
}

func TestUnsealKeyText(t *testing.T) {
	k := seal.NewUnsealKey()
	s := seal.EncodeUnsealKey(k)
	got, err := seal.DecodeUnsealKey(" " + s + "\n")
	if err != nil || got != k {
		t.Fatalf("DecodeUnsealKey: %v", err)
	}
	for _, bad := range []string{"", s[:len(s)-1], s + "A", "LLUK2-" + s[6:], s[:10] + "!" + s[11:]} {
		if _, err := seal.DecodeUnsealKey(bad); err == nil {
			t.Errorf("DecodeUnsealKey(%q) succeeded", bad)
		}
	}
}

// TestOwnerBoundCiphertextOpensOnlyForItsOwner: a format-2 ciphertext made
// for one owner fails for another, and without one; a format-1 ciphertext
// (made before owners were bound) still opens.
func TestOwnerBoundCiphertextOpensOnlyForItsOwner(t *testing.T) {
	dk := seal.NewDataKey()
	aad := seal.AAD{Table: "messages", Column: "body", Row: "m1", Owner: "conversation:a"}
	ct, err := seal.Encrypt(dk, aad, []byte("text"))
	if err != nil {
		t.Fatal(err)
	}
	if !seal.Bound(ct) {
		t.Errorf("ciphertext with an owner is not bound")
	}
	if pt, err := seal.Decrypt(dk, aad, ct); err != nil || string(pt) != "text" {
		t.Fatalf("own owner: got %q, %v", pt, err)
	}
	for _, other := range []string{"conversation:b", ""} {
		a := aad
		a.Owner = other
		if _, err := seal.Decrypt(dk, a, ct); !errors.Is(err, seal.ErrDecrypt) {
			t.Errorf("owner %q: got %v, want ErrDecrypt", other, err)
		}
	}
	legacy, err := seal.Encrypt(dk, seal.AAD{Table: "messages", Column: "body", Row: "m1"}, []byte("old"))
	if err != nil {
		t.Fatal(err)
	}
	if seal.Bound(legacy) {
		t.Errorf("ciphertext without an owner is bound")
	}
	if pt, err := seal.Decrypt(dk, aad, legacy); err != nil || string(pt) != "old" {
		t.Errorf("legacy ciphertext: got %q, %v", pt, err)
	}
}
