// SPDX-License-Identifier: AGPL-3.0-or-later

package seal

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Redacted is what every key-holding type of this package prints as.
const Redacted = "[redacted]"

// errMarshalKey is returned by every encoder hook of a key-holding type. Keys
// leave memory only through the explicit, reviewable paths of this package
// (Keyring.Seal, WrapDataKey, Keyring.WrapPrivate, EncodeUnsealKey).
var errMarshalKey = errors.New("seal: refusing to encode key material")

// KeySize is the size in bytes of every symmetric key of this package.
const KeySize = 32

// Key is a 256-bit secret key. It prints as [Redacted] through fmt (every
// verb), log/slog, and refuses JSON, text and gob encoding. The zero Key is
// a valid value but never a key this package generates.
type Key [KeySize]byte

// NewKey returns a fresh random key from crypto/rand. crypto/rand.Read never
// fails since Go 1.24 (the process crashes instead), so there is no error.
func NewKey() Key {
	var k Key
	rand.Read(k[:])
	return k
}

// Zero overwrites the key with zeros. See the package doc for Go's limits.
func (k *Key) Zero() { clear(k[:]) }

// IsZero reports whether every byte of the key is zero, in constant time.
func (k *Key) IsZero() bool {
	var z Key
	return subtle.ConstantTimeCompare(k[:], z[:]) == 1
}

// Equal reports whether two keys are equal, in constant time.
func (k *Key) Equal(o *Key) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

// String returns [Redacted].
func (Key) String() string { return Redacted }

// GoString returns [Redacted].
func (Key) GoString() string { return Redacted }

// Format writes [Redacted] for every verb and flag.
func (Key) Format(f fmt.State, _ rune) { io.WriteString(f, Redacted) }

// LogValue implements slog.LogValuer and returns [Redacted].
func (Key) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText always fails: keys are never written by generic encoders.
func (Key) MarshalText() ([]byte, error) { return nil, errMarshalKey }

// MarshalJSON always fails: keys are never written by generic encoders.
func (Key) MarshalJSON() ([]byte, error) { return nil, errMarshalKey }

// GobEncode always fails: keys are never written by generic encoders.
func (Key) GobEncode() ([]byte, error) { return nil, errMarshalKey }

// base64url encodes whole keys written as text.
var base64url = base64.RawURLEncoding

// unsealKeyPrefix marks a whole unseal key written as text.
const unsealKeyPrefix = "LLUK1-"

// EncodeUnsealKey returns the unseal key as one line of text, for the
// development-only `lifeline init --dev-unseal-file` (issue 3). Production
// deployments never write the unseal key anywhere; they print its Split
// shares once.
func EncodeUnsealKey(k Key) string {
	return unsealKeyPrefix + base64url.EncodeToString(k[:])
}

// DecodeUnsealKey parses the output of [EncodeUnsealKey]; surrounding white
// space is ignored. The error never contains the input.
func DecodeUnsealKey(s string) (Key, error) {
	var k Key
	s = strings.TrimSpace(s)
	body, ok := strings.CutPrefix(s, unsealKeyPrefix)
	if !ok {
		return k, errors.New("seal: not an unseal key (want prefix " + unsealKeyPrefix + ")")
	}
	if base64url.DecodedLen(len(body)) != KeySize || len(body) != base64url.EncodedLen(KeySize) {
		return k, errors.New("seal: unseal key has the wrong length")
	}
	n, err := base64url.Decode(k[:], []byte(body))
	if err != nil || n != KeySize || base64url.EncodeToString(k[:]) != body {
		k.Zero()
		return k, errors.New("seal: unseal key is not valid base64url")
	}
	return k, nil
}

// KeyID names a data key. Ids are random and not secret: they appear in
// ciphertext headers and may be logged.
type KeyID [16]byte

// lowerBase32 is RFC 4648 base32 in lower case without padding: 26 characters
// for a KeyID, friendly to logs and URLs.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewKeyID returns a fresh random id.
func NewKeyID() KeyID {
	var id KeyID
	rand.Read(id[:])
	return id
}

// String returns the id in lower-case base32 (26 characters).
func (id KeyID) String() string { return lowerBase32.EncodeToString(id[:]) }

// Hex returns the id as 32 lower-case hex digits.
func (id KeyID) Hex() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether the id is all zeros (never a generated id).
func (id KeyID) IsZero() bool { return id == KeyID{} }

// MarshalText returns [KeyID.String].
func (id KeyID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses the output of [KeyID.MarshalText].
func (id *KeyID) UnmarshalText(b []byte) error {
	v, err := ParseKeyID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseKeyID parses the output of [KeyID.String].
func ParseKeyID(s string) (KeyID, error) {
	var id KeyID
	if len(s) != lowerBase32.EncodedLen(len(id)) {
		return id, fmt.Errorf("seal: key id %q: wrong length", s)
	}
	n, err := lowerBase32.Decode(id[:], []byte(s))
	if err != nil || n != len(id) || id.String() != s {
		return KeyID{}, fmt.Errorf("seal: key id %q: not lower-case base32", s)
	}
	return id, nil
}

// DataKey is a per-case or per-contact data encryption key (an L3 "DEK") with
// its id. It is stored only wrapped ([WrapDataKey]); the id is stored in the
// clear beside the wrapped key and in every ciphertext it produced.
type DataKey struct {
	ID  KeyID
	Key Key
}

// NewDataKey returns a fresh random data key with a fresh random id.
func NewDataKey() DataKey { return DataKey{ID: NewKeyID(), Key: NewKey()} }

// Zero overwrites the key bytes; the id stays.
func (dk *DataKey) Zero() { dk.Key.Zero() }

// String returns the id and [Redacted].
func (dk DataKey) String() string { return "seal.DataKey{" + dk.ID.String() + " " + Redacted + "}" }

// GoString is [DataKey.String].
func (dk DataKey) GoString() string { return dk.String() }

// Format writes [DataKey.String] for every verb and flag.
func (dk DataKey) Format(f fmt.State, _ rune) { io.WriteString(f, dk.String()) }

// LogValue implements slog.LogValuer: the id and [Redacted].
func (dk DataKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", dk.ID.String()), slog.String("key", Redacted))
}

// MarshalText always fails: data keys are written only wrapped.
func (DataKey) MarshalText() ([]byte, error) { return nil, errMarshalKey }

// MarshalJSON always fails: data keys are written only wrapped.
func (DataKey) MarshalJSON() ([]byte, error) { return nil, errMarshalKey }

// GobEncode always fails: data keys are written only wrapped.
func (DataKey) GobEncode() ([]byte, error) { return nil, errMarshalKey }
