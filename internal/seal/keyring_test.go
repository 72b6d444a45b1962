// SPDX-License-Identifier: AGPL-3.0-or-later

package seal_test

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// TestKeyringFile is a keyring sealed under a split unseal key.
type TestKeyringFile struct {
	Keyring   *seal.Keyring
	UnsealKey seal.Key
	Shares    []string
	Header    seal.Header
	Blob      []byte
}

// MustNewKeyringFile creates a keyring, splits a fresh unseal key k-of-n and
// seals the keyring under it, or fails the test.
func MustNewKeyringFile(tb testing.TB, n, k int) TestKeyringFile {
	tb.Helper()
	f := TestKeyringFile{Keyring: seal.NewKeyring(), UnsealKey: seal.NewUnsealKey()}
	var commitments [][32]byte
	var err error
	if f.Shares, commitments, err = seal.Split(f.UnsealKey, n, k); err != nil {
		tb.Fatalf("Split: %v", err)
	}
	if f.Header, err = seal.NewHeader(k, n, commitments); err != nil {
		tb.Fatalf("NewHeader: %v", err)
	}
	if f.Blob, err = f.Keyring.Seal(f.UnsealKey, f.Header); err != nil {
		tb.Fatalf("Seal: %v", err)
	}
	return f
}

// sameKeys reports whether two keyrings hold the same keys, checked through
// the public API: each opens the other's wrapped private keys and derives the
// same index values and pepper.
func sameKeys(tb testing.TB, a, b *seal.Keyring) bool {
	tb.Helper()
	if !cmp.Equal(a.RootVersions(), b.RootVersions()) || !cmp.Equal(a.IndexVersions(), b.IndexVersions()) {
		return false
	}
	ck := MustCompartmentKey(tb, seal.CompartmentRouting, 1)
	w, v, err := a.WrapPrivate(ck)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := b.UnwrapPrivate(ck.Compartment, ck.Epoch, v, ck.Public.Bytes(), w); err != nil {
		return false
	}
	pa, _ := a.Pepper()
	pb, _ := b.Pepper()
	ia, _ := a.IndexKeys()
	ib, _ := b.IndexKeys()
	ea, _ := ia.Exact(seal.DomainPhone, "+79161234567", 32)
	eb, _ := ib.Exact(seal.DomainPhone, "+79161234567", 32)
	return bytes.Equal(pa, pb) && ea == eb
}

func TestKeyringSealOpen(t *testing.T) {
	f := MustNewKeyringFile(t, 5, 3)
	if !bytes.HasPrefix(f.Blob, []byte("lifeline-keyring v1\n")) {
		t.Errorf("keyring file starts %q", f.Blob[:20])
	}
	k, h, err := seal.OpenKeyring(f.Blob, f.UnsealKey)
	if err != nil {
		t.Fatalf("OpenKeyring: %v", err)
	}
	if diff := cmp.Diff(f.Header, h); diff != "" {
		t.Errorf("header (-sealed +opened):\n%s", diff)
	}
	if !sameKeys(t, f.Keyring, k) {
		t.Error("opened keyring holds other keys")
	}
	ph, err := seal.ParseHeader(f.Blob)
	if err != nil {
		t.Fatalf("ParseHeader: %v", err)
	}
	if diff := cmp.Diff(f.Header, ph); diff != "" {
		t.Errorf("ParseHeader (-sealed +parsed):\n%s", diff)
	}
	if h.Created.Location() != time.UTC || time.Since(h.Created) > time.Minute {
		t.Errorf("Created = %v", h.Created)
	}
}

func TestKeyringWrongUnsealKey(t *testing.T) {
	f := MustNewKeyringFile(t, 3, 2)
	k, _, err := seal.OpenKeyring(f.Blob, seal.NewUnsealKey())
	if !errors.Is(err, seal.ErrWrongUnsealKey) || k != nil {
		t.Errorf("OpenKeyring with another key = %v, %v; want nil, ErrWrongUnsealKey", k, err)
	}
	if _, err := f.Keyring.Seal(seal.Key{}, f.Header); err == nil {
		t.Error("Seal under a zero key succeeded")
	}
}

// TestKeyringTamper changes every byte of a keyring file in turn: the file
// must never open, whether the change hits the header (associated data) or
// the box.
func TestKeyringTamper(t *testing.T) {
	f := MustNewKeyringFile(t, 3, 2)
	for i := range f.Blob {
		for _, delta := range []byte{1, 0x20} {
			b := bytes.Clone(f.Blob)
			b[i] ^= delta
			if k, _, err := seal.OpenKeyring(b, f.UnsealKey); err == nil || k != nil {
				t.Fatalf("byte %d ^ %#x: OpenKeyring succeeded", i, delta)
			}
		}
	}
	// A header that parses but differs (threshold 2 -> 3) fails as AAD.
	b := bytes.Replace(f.Blob, []byte("threshold: 2\n"), []byte("threshold: 3\n"), 1)
	if _, err := seal.ParseHeader(b); err != nil {
		t.Fatalf("ParseHeader of edited header: %v", err)
	}
	if _, _, err := seal.OpenKeyring(b, f.UnsealKey); !errors.Is(err, seal.ErrWrongUnsealKey) {
		t.Errorf("edited threshold: error = %v, want ErrWrongUnsealKey", err)
	}
	for n := range len(f.Blob) {
		if _, _, err := seal.OpenKeyring(f.Blob[:n], f.UnsealKey); err == nil {
			t.Fatalf("truncated to %d bytes: OpenKeyring succeeded", n)
		}
	}
}

func TestParseHeaderRejects(t *testing.T) {
	f := MustNewKeyringFile(t, 3, 2)
	for name, edit := range map[string]func([]byte) []byte{
		"magic":        func(b []byte) []byte { return bytes.Replace(b, []byte("v1"), []byte("v2"), 1) },
		"CRLF":         func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) },
		"k > n":        func(b []byte) []byte { return bytes.Replace(b, []byte("threshold: 2"), []byte("threshold: 4"), 1) },
		"k = 1":        func(b []byte) []byte { return bytes.Replace(b, []byte("threshold: 2"), []byte("threshold: 1"), 1) },
		"leading zero": func(b []byte) []byte { return bytes.Replace(b, []byte("threshold: 2"), []byte("threshold: 02"), 1) },
		"n mismatch":   func(b []byte) []byte { return bytes.Replace(b, []byte("shares: 3"), []byte("shares: 4"), 1) },
		"space":        func(b []byte) []byte { return bytes.Replace(b, []byte("shares: 3"), []byte("shares:  3"), 1) },
		"cipher":       func(b []byte) []byte { return bytes.Replace(b, []byte("xchacha20poly1305"), []byte("aes256gcm"), 1) },
		"trailing":     func(b []byte) []byte { return append(b, '\n') },
		"no body":      func(b []byte) []byte { return b[:bytes.Index(b, []byte("\n\n"))+2] },
		"empty":        func([]byte) []byte { return nil },
		"huge":         func(b []byte) []byte { return append(b, make([]byte, seal.MaxKeyringSize)...) },
	} {
		if _, err := seal.ParseHeader(edit(bytes.Clone(f.Blob))); err == nil {
			t.Errorf("%s: ParseHeader succeeded", name)
		}
	}
}

func TestNewHeaderBounds(t *testing.T) {
	c := func(n int) [][32]byte {
		cs := make([][32]byte, n)
		for i := range cs {
			cs[i][0] = byte(i + 1)
		}
		return cs
	}
	for _, tt := range []struct {
		k, n int
		cs   [][32]byte
		ok   bool
	}{
		{0, 0, nil, true}, {2, 2, c(2), true}, {3, 5, c(5), true}, {255, 255, c(255), true},
		{1, 3, c(3), false}, {4, 3, c(3), false}, {2, 256, c(256), false}, {3, 5, c(4), false},
		{0, 0, c(1), false}, {2, 2, [][32]byte{{1}, {1}}, false},
	} {
		_, err := seal.NewHeader(tt.k, tt.n, tt.cs)
		if got := err == nil; got != tt.ok {
			t.Errorf("NewHeader(%d, %d, %d commitments): err = %v, want ok %v", tt.k, tt.n, len(tt.cs), err, tt.ok)
		}
	}
}

func TestKeyringDevHeader(t *testing.T) {
	kr, uk := seal.NewKeyring(), seal.NewUnsealKey()
	h, err := seal.NewHeader(0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := kr.Seal(uk, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := seal.OpenKeyring(blob, uk); err != nil {
		t.Fatalf("OpenKeyring: %v", err)
	}
	if _, err := seal.NewUnsealer(h); err == nil {
		t.Error("NewUnsealer accepted an unsplit keyring")
	}
}

func TestWrapPrivate(t *testing.T) {
	kr := seal.NewKeyring()
	ck := MustCompartmentKey(t, seal.CompartmentIntel, 9)
	w, v, err := kr.WrapPrivate(ck)
	if err != nil {
		t.Fatalf("WrapPrivate: %v", err)
	}
	if v != 1 || len(w) != seal.WrappedPrivateSize {
		t.Errorf("WrapPrivate: version %d, %d bytes; want 1, %d", v, len(w), seal.WrappedPrivateSize)
	}
	got, err := kr.UnwrapPrivate(ck.Compartment, ck.Epoch, v, ck.Public.Bytes(), w)
	if err != nil {
		t.Fatalf("UnwrapPrivate: %v", err)
	}
	if !got.Private.Equal(ck.Private) || !got.Public.Equal(ck.Public) || got.Compartment != ck.Compartment || got.Epoch != ck.Epoch {
		t.Errorf("UnwrapPrivate = %v, want %v", got, ck)
	}

	other := MustCompartmentKey(t, seal.CompartmentIntel, 9)
	for name, call := range map[string]func() error{
		"compartment": func() error {
			_, err := kr.UnwrapPrivate(seal.CompartmentIdentity, ck.Epoch, v, ck.Public.Bytes(), w)
			return err
		},
		"epoch": func() error { _, err := kr.UnwrapPrivate(ck.Compartment, 10, v, ck.Public.Bytes(), w); return err },
		"public": func() error {
			_, err := kr.UnwrapPrivate(ck.Compartment, ck.Epoch, v, other.Public.Bytes(), w)
			return err
		},
		"another keyring": func() error {
			_, err := seal.NewKeyring().UnwrapPrivate(ck.Compartment, ck.Epoch, v, ck.Public.Bytes(), w)
			return err
		},
		"truncated": func() error {
			_, err := kr.UnwrapPrivate(ck.Compartment, ck.Epoch, v, ck.Public.Bytes(), w[:len(w)-1])
			return err
		},
	} {
		if err := call(); !errors.Is(err, seal.ErrDecrypt) {
			t.Errorf("wrong %s: error = %v, want ErrDecrypt", name, err)
		}
	}
	if _, err := kr.UnwrapPrivate(ck.Compartment, ck.Epoch, 2, ck.Public.Bytes(), w); !errors.Is(err, seal.ErrUnknownVersion) {
		t.Errorf("unknown root version: error = %v, want ErrUnknownVersion", err)
	}
	for i := range len(w) * 8 {
		c := bytes.Clone(w)
		c[i/8] ^= 1 << (i % 8)
		if _, err := kr.UnwrapPrivate(ck.Compartment, ck.Epoch, v, ck.Public.Bytes(), c); err == nil {
			t.Fatalf("bit %d flipped: UnwrapPrivate succeeded", i)
		}
	}
	if _, _, err := kr.WrapPrivate(ck.PublicOnly()); !errors.Is(err, seal.ErrNoPrivateKey) {
		t.Errorf("WrapPrivate(public only) error = %v, want ErrNoPrivateKey", err)
	}
	mismatched := ck
	mismatched.Public = other.Public
	if _, _, err := kr.WrapPrivate(mismatched); err == nil {
		t.Error("WrapPrivate accepted a mismatched pair")
	}
}

func TestKeyringRotateRetire(t *testing.T) {
	f := MustNewKeyringFile(t, 3, 2)
	kr := f.Keyring
	ck := MustCompartmentKey(t, seal.CompartmentRouting, 1)
	w1, v1, err := kr.WrapPrivate(ck)
	if err != nil || v1 != 1 {
		t.Fatalf("WrapPrivate = %d, %v", v1, err)
	}
	v2, err := kr.Rotate()
	if err != nil || v2 != 2 {
		t.Fatalf("Rotate = %d, %v; want 2", v2, err)
	}
	w2, got, err := kr.WrapPrivate(ck)
	if err != nil || got != 2 {
		t.Fatalf("WrapPrivate after Rotate: version %d, %v; want 2", got, err)
	}
	// Both versions open, also after a seal/open round trip.
	blob, err := kr.Seal(f.UnsealKey, f.Header)
	if err != nil {
		t.Fatal(err)
	}
	reopened, _, err := seal.OpenKeyring(blob, f.UnsealKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*seal.Keyring{kr, reopened} {
		if diff := cmp.Diff([]uint32{1, 2}, k.RootVersions()); diff != "" {
			t.Errorf("RootVersions (-want +got):\n%s", diff)
		}
		for _, w := range []struct {
			v uint32
			b []byte
		}{{1, w1}, {2, w2}} {
			if _, err := k.UnwrapPrivate(ck.Compartment, ck.Epoch, w.v, ck.Public.Bytes(), w.b); err != nil {
				t.Errorf("UnwrapPrivate version %d: %v", w.v, err)
			}
		}
	}
	if err := kr.Retire(2); err == nil {
		t.Error("Retire(current) succeeded")
	}
	if err := kr.Retire(7); !errors.Is(err, seal.ErrUnknownVersion) {
		t.Errorf("Retire(7) error = %v, want ErrUnknownVersion", err)
	}
	if err := kr.Retire(1); err != nil {
		t.Fatalf("Retire(1): %v", err)
	}
	if _, err := kr.UnwrapPrivate(ck.Compartment, ck.Epoch, 1, ck.Public.Bytes(), w1); !errors.Is(err, seal.ErrUnknownVersion) {
		t.Errorf("UnwrapPrivate after Retire: error = %v, want ErrUnknownVersion", err)
	}
	if _, err := kr.UnwrapPrivate(ck.Compartment, ck.Epoch, 2, ck.Public.Bytes(), w2); err != nil {
		t.Errorf("UnwrapPrivate version 2 after Retire(1): %v", err)
	}
	if diff := cmp.Diff([]uint32{2}, kr.RootVersions()); diff != "" {
		t.Errorf("RootVersions (-want +got):\n%s", diff)
	}
	// A retired version stays gone across seal/open.
	blob, err = kr.Seal(f.UnsealKey, f.Header)
	if err != nil {
		t.Fatal(err)
	}
	if reopened, _, err = seal.OpenKeyring(blob, f.UnsealKey); err != nil || !cmp.Equal(reopened.RootVersions(), []uint32{2}) {
		t.Errorf("reopened RootVersions = %v, %v", reopened.RootVersions(), err)
	}
}

func TestKeyringZero(t *testing.T) {
	kr := seal.NewKeyring()
	ck := MustCompartmentKey(t, seal.CompartmentRouting, 1)
	w, v, _ := kr.WrapPrivate(ck)
	kr.Zero()
	if _, _, err := kr.WrapPrivate(ck); !errors.Is(err, seal.ErrZeroed) {
		t.Errorf("WrapPrivate after Zero: %v", err)
	}
	if _, err := kr.UnwrapPrivate(ck.Compartment, ck.Epoch, v, ck.Public.Bytes(), w); !errors.Is(err, seal.ErrZeroed) {
		t.Errorf("UnwrapPrivate after Zero: %v", err)
	}
	if _, err := kr.Seal(seal.NewUnsealKey(), seal.Header{}); err == nil {
		t.Error("Seal after Zero succeeded")
	}
	h, _ := seal.NewHeader(0, 0, nil)
	if _, err := kr.Seal(seal.NewUnsealKey(), h); !errors.Is(err, seal.ErrZeroed) {
		t.Errorf("Seal after Zero: %v", err)
	}
	if _, err := kr.Pepper(); !errors.Is(err, seal.ErrZeroed) {
		t.Errorf("Pepper after Zero: %v", err)
	}
	if _, err := kr.IndexKeys(); !errors.Is(err, seal.ErrZeroed) {
		t.Errorf("IndexKeys after Zero: %v", err)
	}
	if _, err := kr.Rotate(); !errors.Is(err, seal.ErrZeroed) {
		t.Errorf("Rotate after Zero: %v", err)
	}
	if len(kr.RootVersions()) != 0 || kr.CurrentRootVersion() != 0 {
		t.Error("versions remain after Zero")
	}
}

// TestKeyringConcurrentRotate wraps from many goroutines while the root key
// rotates (S-10 in miniature; run with -race).
func TestKeyringConcurrentRotate(t *testing.T) {
	kr := seal.NewKeyring()
	ck := MustCompartmentKey(t, seal.CompartmentRouting, 1)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				w, v, err := kr.WrapPrivate(ck)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := kr.UnwrapPrivate(ck.Compartment, ck.Epoch, v, ck.Public.Bytes(), w); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 20 {
		if _, err := kr.Rotate(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if got := kr.CurrentRootVersion(); got != 21 {
		t.Errorf("CurrentRootVersion = %d, want 21", got)
	}
}

func TestPepper(t *testing.T) {
	kr := seal.NewKeyring()
	p1, err := kr.Pepper()
	if err != nil || len(p1) != 32 {
		t.Fatalf("Pepper = %d bytes, %v", len(p1), err)
	}
	if _, err := kr.Rotate(); err != nil {
		t.Fatal(err)
	}
	p2, _ := kr.Pepper()
	if !bytes.Equal(p1, p2) {
		t.Error("pepper changed on root rotation")
	}
	p2[0] ^= 1
	if p3, _ := kr.Pepper(); !bytes.Equal(p1, p3) {
		t.Error("Pepper returned the keyring's own slice")
	}
}

// TestKeyFileSwapKeyringKeepsPinsFileKeyAndAuditSeed: the file key, the
// epoch pins and the audit seed survive sealing and opening the keyring,
// and a pin refuses another public key for its epoch.
func TestKeyFileSwapKeyringKeepsPinsFileKeyAndAuditSeed(t *testing.T) {
	k := seal.NewKeyring()
	pub := bytes.Repeat([]byte{7}, 32)
	if err := k.Pin(seal.CompartmentRouting, 2, pub); err != nil {
		t.Fatal(err)
	}
	if err := k.SetAuditSeed([]byte("seed")); err != nil {
		t.Fatal(err)
	}
	mac, err := k.FileMAC("compartments", []byte("file"))
	if err != nil {
		t.Fatal(err)
	}
	uk := seal.NewUnsealKey()
	h, err := seal.NewHeader(0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := k.Seal(uk, h)
	if err != nil {
		t.Fatal(err)
	}
	k2, _, err := seal.OpenKeyring(blob, uk)
	if err != nil {
		t.Fatal(err)
	}
	if !k2.VerifyFileMAC("compartments", []byte("file"), mac) || k2.VerifyFileMAC("compartments", []byte("filf"), mac) {
		t.Errorf("file MAC does not survive the round trip, or verifies other data")
	}
	if match, pinned := k2.Pinned(seal.CompartmentRouting, 2, pub); !match || !pinned {
		t.Errorf("pin lost: match %v pinned %v", match, pinned)
	}
	if match, pinned := k2.Pinned(seal.CompartmentRouting, 2, bytes.Repeat([]byte{8}, 32)); match || !pinned {
		t.Errorf("another key matches the pin")
	}
	if err := k2.Pin(seal.CompartmentRouting, 2, bytes.Repeat([]byte{8}, 32)); err == nil {
		t.Errorf("re-pinning an epoch to another key succeeded")
	}
	if s, err := k2.AuditSeed(); err != nil || string(s) != "seed" {
		t.Errorf("audit seed: got %q, %v", s, err)
	}
}
