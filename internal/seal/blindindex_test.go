// SPDX-License-Identifier: AGPL-3.0-or-later

package seal_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// MustIndexKeys returns the current index keys of kr or fails the test.
func MustIndexKeys(tb testing.TB, kr *seal.Keyring) *seal.IndexKeys {
	tb.Helper()
	ik, err := kr.IndexKeys()
	if err != nil {
		tb.Fatalf("IndexKeys: %v", err)
	}
	return ik
}

// mustExact returns the exact index at its widest, 32 bits, big-endian.
func mustExact(tb testing.TB, ik *seal.IndexKeys, d seal.Domain, v string) []byte {
	tb.Helper()
	e, err := ik.Exact(d, v, 32)
	if err != nil {
		tb.Fatalf("Exact(%s, %q): %v", d, v, err)
	}
	return binary.BigEndian.AppendUint32(nil, e)
}

func TestBlindIndexExact(t *testing.T) {
	kr := seal.NewKeyring()
	ik := MustIndexKeys(t, kr)
	a := mustExact(t, ik, seal.DomainPhone, "+79161234567")
	// Narrower indexes are prefixes of the widest.
	for bits := 1; bits < 32; bits++ {
		if e, err := ik.Exact(seal.DomainPhone, "+79161234567", bits); err != nil || e != binary.BigEndian.Uint32(a)>>(32-bits) {
			t.Errorf("Exact at %d bits = %d, %v, want the prefix of the 32-bit index", bits, e, err)
		}
	}
	if b := mustExact(t, MustIndexKeys(t, kr), seal.DomainPhone, "+79161234567"); !bytes.Equal(a, b) {
		t.Error("Exact is not deterministic")
	}
	// Same normalized value from two spellings.
	n, _ := seal.NormalizePhone("8 (916) 123-45-67", "RU")
	if b := mustExact(t, ik, seal.DomainPhone, n); !bytes.Equal(a, b) {
		t.Error("two spellings of one number index differently")
	}
	if b := mustExact(t, ik, seal.DomainPhone, "+79161234568"); bytes.Equal(a, b) {
		t.Error("different numbers index equal")
	}
	// The same digits in different domains differ.
	wa := mustExact(t, ik, seal.DomainWhatsApp, "79161234567")
	tg := mustExact(t, ik, seal.DomainTelegram, "79161234567")
	svc := mustExact(t, ik, seal.DomainServiceNumber, "79161234567")
	doc := mustExact(t, ik, seal.DomainDocumentNumber, "79161234567")
	seen := map[string]bool{}
	for _, v := range [][]byte{wa, tg, svc, doc} {
		if seen[string(v)] {
			t.Error("two domains give the same index for one value")
		}
		seen[string(v)] = true
	}
	// Another index master key gives other values.
	if b := mustExact(t, MustIndexKeys(t, seal.NewKeyring()), seal.DomainPhone, "+79161234567"); bytes.Equal(a, b) {
		t.Error("another keyring gives the same index")
	}
	if bytes.Contains(a, []byte("9161234567")) {
		t.Error("index contains the value")
	}
}

func TestBlindIndexRejects(t *testing.T) {
	ik := MustIndexKeys(t, seal.NewKeyring())
	for _, tt := range []struct {
		d seal.Domain
		v string
	}{
		{"email", "a@b.c"},
		{seal.DomainPhone, "8 916 123 45 67"}, // not normalized
		{seal.DomainPhone, "+7 916 1234567"},  // not normalized
		{seal.DomainServiceNumber, "ав123456"},
		{seal.DomainTelegram, "0042"},
		{seal.DomainPhone, ""},
	} {
		if _, err := ik.Exact(tt.d, tt.v, 12); err == nil {
			t.Errorf("Exact(%s, %q) succeeded", tt.d, tt.v)
		}
		if _, err := ik.Bucket(tt.d, tt.v, 12); err == nil {
			t.Errorf("Bucket(%s, %q) succeeded", tt.d, tt.v)
		}
	}
	for _, bits := range []int{-1, 0, 33} {
		if _, err := ik.Bucket(seal.DomainPhone, "+79161234567", bits); err == nil {
			t.Errorf("Bucket(bits=%d) succeeded", bits)
		}
		if _, err := ik.Exact(seal.DomainPhone, "+79161234567", bits); err == nil {
			t.Errorf("Exact(bits=%d) succeeded", bits)
		}
	}
}

func TestBlindIndexBucket(t *testing.T) {
	kr := seal.NewKeyring()
	ik := MustIndexKeys(t, kr)
	for bits := 1; bits <= 32; bits++ {
		b1, err := ik.Bucket(seal.DomainPhone, "+79161234567", bits)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := MustIndexKeys(t, kr).Bucket(seal.DomainPhone, "+79161234567", bits)
		if b1 != b2 {
			t.Errorf("bits %d: Bucket not stable: %d, %d", bits, b1, b2)
		}
		if bits < 32 && b1 >= 1<<bits {
			t.Errorf("bits %d: Bucket = %d, out of range", bits, b1)
		}
		// A wider bucket extends a narrower one (same HMAC prefix).
		if bits > 1 {
			narrow, _ := ik.Bucket(seal.DomainPhone, "+79161234567", bits-1)
			if b1>>1 != narrow {
				t.Errorf("bits %d: %d is not an extension of %d", bits, b1, narrow)
			}
		}
	}
	// The bucket key differs from the exact key: the bucket is not a prefix
	// of the exact index.
	exact := mustExact(t, ik, seal.DomainPhone, "+79161234567")
	b32, _ := ik.Bucket(seal.DomainPhone, "+79161234567", 32)
	if uint32(exact[0])<<24|uint32(exact[1])<<16|uint32(exact[2])<<8|uint32(exact[3]) == b32 {
		t.Error("bucket is a prefix of the exact index")
	}
	// 2,000 numbers in 2^10 buckets: every bucket value in range, and spread.
	used := map[uint32]int{}
	for i := range 2000 {
		n, err := seal.NormalizePhone("+7916"+pad7(i), "")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := ik.Bucket(seal.DomainPhone, n, 10)
		if b >= 1024 {
			t.Fatalf("bucket %d out of range", b)
		}
		used[b]++
	}
	if len(used) < 800 {
		t.Errorf("2,000 values used only %d of 1,024 buckets", len(used))
	}
}

func pad7(i int) string {
	b := []byte("0000000")
	for j := 6; j >= 0 && i > 0; j-- {
		b[j] = byte('0' + i%10)
		i /= 10
	}
	return string(b)
}

func TestBucketBits(t *testing.T) {
	for _, tt := range []struct{ rows, want int }{
		{0, 1}, {1, 1}, {4, 1}, {8, 2}, {1000, 8}, {10_000, 12}, {100_000, 15}, {1 << 40, 32},
	} {
		if got := seal.BucketBits(tt.rows); got != tt.want {
			t.Errorf("BucketBits(%d) = %d, want %d", tt.rows, got, tt.want)
		}
	}
}

func TestIndexKeyRotation(t *testing.T) {
	f := MustNewKeyringFile(t, 3, 2)
	kr := f.Keyring
	old := mustExact(t, MustIndexKeys(t, kr), seal.DomainPhone, "+79161234567")
	v, err := kr.RotateIndex()
	if err != nil || v != 2 {
		t.Fatalf("RotateIndex = %d, %v", v, err)
	}
	ik := MustIndexKeys(t, kr)
	if ik.Version() != 2 {
		t.Errorf("Version = %d, want 2", ik.Version())
	}
	if bytes.Equal(old, mustExact(t, ik, seal.DomainPhone, "+79161234567")) {
		t.Error("new index version gives the old index")
	}
	ik1, err := kr.IndexKeysVersion(1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, mustExact(t, ik1, seal.DomainPhone, "+79161234567")) {
		t.Error("index version 1 changed")
	}
	// Versions survive seal and open; a root rotation leaves them alone.
	if _, err := kr.Rotate(); err != nil {
		t.Fatal(err)
	}
	blob, _ := kr.Seal(f.UnsealKey, f.Header)
	re, _, err := seal.OpenKeyring(blob, f.UnsealKey)
	if err != nil {
		t.Fatal(err)
	}
	re1, _ := re.IndexKeysVersion(1)
	if !bytes.Equal(old, mustExact(t, re1, seal.DomainPhone, "+79161234567")) {
		t.Error("index version 1 changed across seal and open")
	}
	if err := kr.RetireIndex(2); err == nil {
		t.Error("RetireIndex(current) succeeded")
	}
	if err := kr.RetireIndex(1); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.IndexKeysVersion(1); err == nil {
		t.Error("IndexKeysVersion(retired) succeeded")
	}
	ik.Zero()
	if e, _ := ik.Exact(seal.DomainPhone, "+79161234567", 32); bytes.Equal(binary.BigEndian.AppendUint32(nil, e), mustExact(t, MustIndexKeys(t, kr), seal.DomainPhone, "+79161234567")) {
		t.Error("Zero left the keys")
	}
}
