// SPDX-License-Identifier: AGPL-3.0-or-later

package seal_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// Seed corpora live in testdata/fuzz/<Name>/; crashers found later become
// regression seeds there (SECURITY.md S-04).

var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func FuzzNormalizePhone(f *testing.F) {
	f.Add("+7 916 123-45-67", "")
	f.Add("8 (916) 123-45-67", "RU")
	f.Fuzz(func(t *testing.T, s, region string) {
		got, err := seal.NormalizePhone(s, region)
		if err != nil {
			if !errors.Is(err, seal.ErrNotNormalizable) {
				t.Fatalf("error %v is not ErrNotNormalizable", err)
			}
			return
		}
		if !e164RE.MatchString(got) {
			t.Fatalf("NormalizePhone(%q, %q) = %q, not E.164", s, region, got)
		}
		if again, err := seal.NormalizePhone(got, ""); err != nil || again != got {
			t.Fatalf("NormalizePhone(%q) = %q, %v; not idempotent", got, again, err)
		}
		if strings.ContainsFunc(s, func(r rune) bool {
			return r > 0x7f && r != '\u00a0' && r != '\u2009' && r != '\u202f' && !(r >= '\u2010' && r <= '\u2015') && r != '\u2212'
		}) {
			t.Fatalf("NormalizePhone(%q) accepted a non-ASCII character", s)
		}
	})
}

func FuzzNormalizeDocument(f *testing.F) {
	f.Add("АВ 1234567")
	f.Add("№ 45 06 123456")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := seal.NormalizeDocumentNumber(s)
		svc, svcErr := seal.NormalizeServiceNumber(s)
		if got != svc || (err == nil) != (svcErr == nil) {
			t.Fatalf("document and service normalizers differ on %q", s)
		}
		if err != nil {
			return
		}
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) < 4 || utf8.RuneCountInString(got) > 32 {
			t.Fatalf("NormalizeDocumentNumber(%q) = %q", s, got)
		}
		for _, r := range got {
			if !(r >= '0' && r <= '9') && !(r >= 'A' && r <= 'Z') && !(r >= 'Б' && r <= 'Я') && !strings.ContainsRune("ЄЇЎҐ", r) {
				t.Fatalf("NormalizeDocumentNumber(%q) = %q contains %U", s, got, r)
			}
			if strings.ContainsRune("АВЕКМНОРСТХУ", r) {
				t.Fatalf("NormalizeDocumentNumber(%q) = %q kept look-alike %U", s, got, r)
			}
		}
		if again, err := seal.NormalizeDocumentNumber(got); err != nil || again != got {
			t.Fatalf("NormalizeDocumentNumber(%q) = %q, %v; not idempotent", got, again, err)
		}
	})
}

// fuzzDataKey is a fixed key so that fuzzing is deterministic.
var fuzzDataKey = seal.DataKey{ID: seal.KeyID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, Key: seal.Key{42, 42, 42}}

func FuzzDecrypt(f *testing.F) {
	ct, err := seal.Encrypt(fuzzDataKey, seal.AAD{Table: "t", Column: "c", Row: "r"}, []byte("seed"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct, "other row") // a real ciphertext, for the wrong row
	ct[len(ct)-1] ^= 1
	f.Add(ct, "r") // a forged tag
	f.Fuzz(func(t *testing.T, ct []byte, row string) {
		if id, err := seal.CiphertextKeyID(ct); err == nil && len(ct) < seal.FieldOverhead {
			t.Fatalf("CiphertextKeyID(%d bytes) = %v", len(ct), id)
		}
		named := fuzzDataKey // the key id the input names, so the AEAD check runs
		copy(named.ID[:], ct[min(len(ct), 2):min(len(ct), 18)])
		for _, dk := range []seal.DataKey{fuzzDataKey, named} {
			pt, err := seal.Decrypt(dk, seal.AAD{Table: "t", Column: "c", Row: row}, ct)
			if row == "r" && string(pt) == "seed" {
				continue // the fuzzer rebuilt the seed ciphertext itself
			}
			if err == nil || pt != nil {
				t.Fatalf("Decrypt of fuzzed input succeeded: %q", pt)
			}
			if !errors.Is(err, seal.ErrDecrypt) {
				t.Fatalf("Decrypt error %v is not ErrDecrypt", err)
			}
		}
	})
}

// fuzzUnsealKey is a fixed unseal key for the keyring fuzz targets.
var fuzzUnsealKey = seal.Key{7, 7, 7, 7}

func FuzzParseHeader(f *testing.F) {
	f.Add(string(mustFuzzKeyring(f)))
	f.Fuzz(func(t *testing.T, blob string) {
		h, err := seal.ParseHeader([]byte(blob))
		if err != nil {
			return
		}
		if h.Shares != len(h.Commitments) || (h.Shares > 0 && (h.Threshold < 2 || h.Threshold > h.Shares)) {
			t.Fatalf("ParseHeader accepted an inconsistent header %+v", h)
		}
		// Round trip: the parsed header seals and parses back unchanged.
		out, err := seal.NewKeyring().Seal(fuzzUnsealKey, h)
		if err != nil {
			t.Fatalf("Seal with a parsed header: %v", err)
		}
		h2, err := seal.ParseHeader(out)
		if err != nil {
			t.Fatalf("ParseHeader of re-sealed: %v", err)
		}
		if diff := cmp.Diff(h, h2); diff != "" {
			t.Fatalf("header round trip (-parsed +resealed):\n%s", diff)
		}
		if !strings.HasPrefix(blob, string(out[:strings.Index(string(out), "\n\n")+2])) {
			t.Fatal("header has two encodings")
		}
	})
}

func mustFuzzKeyring(tb testing.TB) []byte {
	tb.Helper()
	_, cs, err := seal.Split(fuzzUnsealKey, 3, 2)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := seal.NewHeader(2, 3, cs)
	if err != nil {
		tb.Fatal(err)
	}
	blob, err := seal.NewKeyring().Seal(fuzzUnsealKey, h)
	if err != nil {
		tb.Fatal(err)
	}
	return blob
}

func FuzzOpenKeyring(f *testing.F) {
	f.Add(mustFuzzKeyring(f))
	f.Fuzz(func(t *testing.T, blob []byte) {
		kr, h, err := seal.OpenKeyring(blob, fuzzUnsealKey)
		if err != nil {
			if kr != nil {
				t.Fatal("OpenKeyring returned a keyring with an error")
			}
			return
		}
		// Only a file sealed under fuzzUnsealKey opens: the seed itself.
		ph, err := seal.ParseHeader(blob)
		if err != nil {
			t.Fatalf("opened but ParseHeader fails: %v", err)
		}
		if diff := cmp.Diff(h, ph); diff != "" {
			t.Fatalf("OpenKeyring and ParseHeader headers differ:\n%s", diff)
		}
		if len(kr.RootVersions()) == 0 || len(kr.IndexVersions()) == 0 {
			t.Fatal("opened keyring without keys")
		}
	})
}

func FuzzUnsealerAdd(f *testing.F) {
	uk := seal.Key{9, 9, 9}
	shares, cs, err := seal.Split(uk, 3, 2)
	if err != nil {
		f.Fatal(err)
	}
	h, err := seal.NewHeader(2, 3, cs)
	if err != nil {
		f.Fatal(err)
	}
	// Valid shares differ on every run (Split is randomized), so the fixed
	// corpus holds only invalid ones; these seeds give the fuzzer the shape.
	f.Add(shares[0])
	f.Add(strings.ToLower(strings.ReplaceAll(shares[1], "-", " ")))
	f.Fuzz(func(t *testing.T, s string) {
		u, err := seal.NewUnsealer(h)
		if err != nil {
			t.Fatal(err)
		}
		have, need, err := u.Add(s)
		if err != nil {
			if have != 0 || need != 2 {
				t.Fatalf("rejected share changed state: have %d need %d", have, need)
			}
			for _, want := range []error{seal.ErrShareMalformed, seal.ErrShareMistyped, seal.ErrShareForeign} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("Add error %v is none of the share errors", err)
		}
		// An accepted share is one of ours: with any other share it gives the key.
		for _, other := range shares {
			if k, err := seal.Combine([]string{s, other}); err == nil && k.Equal(&uk) {
				return
			}
		}
		t.Fatalf("Add accepted %q, which is not a share of this keyring", s)
	})
}
