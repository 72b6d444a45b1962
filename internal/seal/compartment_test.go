// SPDX-License-Identifier: AGPL-3.0-or-later

package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// MustCompartmentKey generates a compartment key pair or fails the test.
func MustCompartmentKey(tb testing.TB, c seal.Compartment, epoch uint32) seal.CompartmentKey {
	tb.Helper()
	ck, err := seal.NewCompartmentKey(c, epoch)
	if err != nil {
		tb.Fatalf("NewCompartmentKey: %v", err)
	}
	return ck
}

// MustWrap wraps a data key or fails the test.
func MustWrap(tb testing.TB, ck seal.CompartmentKey, owner string, dk seal.DataKey) []byte {
	tb.Helper()
	w, err := seal.WrapDataKey(ck.Public, ck.Compartment, ck.Epoch, owner, dk)
	if err != nil {
		tb.Fatalf("WrapDataKey: %v", err)
	}
	return w
}

func TestWrapUnwrapDataKey(t *testing.T) {
	ck := MustCompartmentKey(t, seal.CompartmentRouting, 7)
	dk := seal.NewDataKey()
	w := MustWrap(t, ck.PublicOnly(), "case:abc", dk)
	if len(w) != seal.WrappedKeySize {
		t.Errorf("len(wrapped) = %d, want %d", len(w), seal.WrappedKeySize)
	}
	if bytes.Contains(w, dk.Key[:8]) {
		t.Error("wrapped key contains key bytes")
	}
	got, err := seal.UnwrapDataKey(ck, "case:abc", dk.ID, w)
	if err != nil {
		t.Fatalf("UnwrapDataKey: %v", err)
	}
	if got.ID != dk.ID || !got.Key.Equal(&dk.Key) {
		t.Error("unwrapped key differs")
	}
	if bytes.Equal(w, MustWrap(t, ck, "case:abc", dk)) {
		t.Error("two wraps of one key are equal")
	}
}

func TestUnwrapDataKeyWrongContext(t *testing.T) {
	ck := MustCompartmentKey(t, seal.CompartmentIdentity, 3)
	dk := seal.NewDataKey()
	w := MustWrap(t, ck, "case:abc", dk)

	other := MustCompartmentKey(t, seal.CompartmentIdentity, 3)
	wrongComp := ck
	wrongComp.Compartment = seal.CompartmentIntel
	wrongEpoch := ck
	wrongEpoch.Epoch = 4

	tests := []struct {
		name    string
		ck      seal.CompartmentKey
		owner   string
		id      seal.KeyID
		wrapped []byte
		wantErr error
	}{
		{"wrong compartment", wrongComp, "case:abc", dk.ID, w, seal.ErrDecrypt},
		{"wrong epoch", wrongEpoch, "case:abc", dk.ID, w, seal.ErrDecrypt},
		{"wrong owner", ck, "case:abd", dk.ID, w, seal.ErrDecrypt},
		{"owner of another kind", ck, "contact:abc", dk.ID, w, seal.ErrDecrypt},
		{"wrong key id", ck, "case:abc", seal.NewKeyID(), w, seal.ErrDecrypt},
		{"other key pair", other, "case:abc", dk.ID, w, seal.ErrDecrypt},
		{"public only", ck.PublicOnly(), "case:abc", dk.ID, w, seal.ErrNoPrivateKey},
		{"truncated", ck, "case:abc", dk.ID, w[:len(w)-1], seal.ErrDecrypt},
		{"empty", ck, "case:abc", dk.ID, nil, seal.ErrDecrypt},
		{"empty owner", ck, "", dk.ID, w, seal.ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := seal.UnwrapDataKey(tt.ck, tt.owner, tt.id, tt.wrapped)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("UnwrapDataKey error = %v, want %v", err, tt.wantErr)
			}
			if !got.Key.IsZero() {
				t.Error("UnwrapDataKey returned key bytes with an error")
			}
		})
	}

	for i := range len(w) * 8 {
		c := bytes.Clone(w)
		c[i/8] ^= 1 << (i % 8)
		if _, err := seal.UnwrapDataKey(ck, "case:abc", dk.ID, c); !errors.Is(err, seal.ErrDecrypt) {
			t.Fatalf("bit %d flipped: error = %v, want ErrDecrypt", i, err)
		}
	}
}

func TestWrapDataKeyRejects(t *testing.T) {
	ck := MustCompartmentKey(t, seal.CompartmentFinance, 1)
	dk := seal.NewDataKey()
	if _, err := seal.WrapDataKey(ck.Public, "payroll", 1, "case:a", dk); err == nil {
		t.Error("unknown compartment accepted")
	}
	if _, err := seal.WrapDataKey(nil, ck.Compartment, 1, "case:a", dk); err == nil {
		t.Error("nil public key accepted")
	}
	if _, err := seal.WrapDataKey(ck.Public, ck.Compartment, 1, "", dk); err == nil {
		t.Error("empty owner accepted")
	}
	if _, err := seal.WrapDataKey(ck.Public, ck.Compartment, 1, "case:a", seal.DataKey{ID: dk.ID}); err == nil {
		t.Error("zero data key accepted")
	}
	if _, err := seal.NewCompartmentKey("intake", 1); err == nil {
		t.Error("NewCompartmentKey accepted an unknown compartment")
	}
	for _, c := range seal.Compartments() {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
}

func TestRewrapDataKey(t *testing.T) {
	old := MustCompartmentKey(t, seal.CompartmentConversation, 1)
	next := MustCompartmentKey(t, seal.CompartmentConversation, 2)
	dk := seal.NewDataKey()
	w := MustWrap(t, old, "case:x", dk)
	w2, err := seal.RewrapDataKey(old, next.Public, next.Epoch, "case:x", dk.ID, w)
	if err != nil {
		t.Fatalf("RewrapDataKey: %v", err)
	}
	got, err := seal.UnwrapDataKey(next, "case:x", dk.ID, w2)
	if err != nil || !got.Key.Equal(&dk.Key) {
		t.Fatalf("unwrap rewrapped key: %v", err)
	}
	if _, err := seal.UnwrapDataKey(old, "case:x", dk.ID, w2); err == nil {
		t.Error("old epoch opens the rewrapped key")
	}
	if _, err := seal.RewrapDataKey(old, next.Public, next.Epoch, "case:y", dk.ID, w); err == nil {
		t.Error("rewrap with the wrong owner succeeded")
	}
}

func TestParsePublicKey(t *testing.T) {
	ck := MustCompartmentKey(t, seal.CompartmentRouting, 1)
	pub, err := seal.ParsePublicKey(ck.Public.Bytes())
	if err != nil || !pub.Equal(ck.Public) {
		t.Fatalf("ParsePublicKey: %v", err)
	}
	if _, err := seal.ParsePublicKey(make([]byte, 31)); err == nil {
		t.Error("31-byte public key accepted")
	}
}
