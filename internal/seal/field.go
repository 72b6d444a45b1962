// SPDX-License-Identifier: AGPL-3.0-or-later

package seal

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Field ciphertext layout (all produced by [Encrypt]):
//
//	offset  size  content
//	0       1     format version (1)
//	1       1     algorithm id (1 = XChaCha20-Poly1305)
//	2       16    data key id
//	18      24    random nonce
//	42      n+16  XChaCha20-Poly1305 sealed box of the n-byte plaintext
//
// The associated data is fieldAADLabel, the 18 header bytes and the
// length-prefixed table, column and row of the [AAD], so a ciphertext opens
// only for the exact key, algorithm, table, column and row it was made for.
//
// Format version 2 (an [AAD] with an Owner) adds the length-prefixed owner
// (the case, contact or conversation the row belongs to) under its own
// label, so a row moved to another owner does not open there. Version 1
// ciphertexts, made before owners were bound, still open; the store
// re-encrypts them as version 2 (see sqlstore's Reseal).
const (
	fieldFormatV1 = 1
	fieldFormatV2 = 2

	// AlgXChaCha20Poly1305 is the algorithm id of XChaCha20-Poly1305 with a
	// random 24-byte nonce, the only algorithm of format version 1.
	AlgXChaCha20Poly1305 = 1

	fieldHeaderLen = 2 + len(KeyID{})
	fieldNonceOff  = fieldHeaderLen
	fieldBoxOff    = fieldNonceOff + chacha20poly1305.NonceSizeX

	// FieldOverhead is how many bytes [Encrypt] adds to a plaintext.
	FieldOverhead = fieldBoxOff + chacha20poly1305.Overhead

	// maxAADPart bounds each of table, column and row. Row ids are 128-bit
	// random values in base32 (26 characters); the bound only stops misuse.
	maxAADPart = 1024
)

const (
	fieldAADLabel   = "lifeline field v1\x00"
	fieldAADLabelV2 = "lifeline field v2\x00"
)

var (
	// ErrDecrypt is returned by Decrypt and the other opening functions for
	// every ciphertext that does not authenticate: truncated, corrupt, forged,
	// of an unknown format, or bound to another table, column, row, owner,
	// compartment or epoch. It deliberately says no more.
	ErrDecrypt = errors.New("seal: cannot decrypt: corrupt or forged ciphertext, or wrong context")

	// ErrWrongKey is returned by Decrypt when the ciphertext names a different
	// data key than the one given: the caller loaded the wrong key.
	// errors.Is(ErrWrongKey, ErrDecrypt) holds.
	ErrWrongKey = fmt.Errorf("%w (sealed under a different data key id)", ErrDecrypt)
)

// AAD is the context a field ciphertext is bound to: the table, column and
// row id it is stored in. All three must be non-empty. Two AADs are equal as
// associated data only if all three strings are equal (each is length
// prefixed, so "ab"+"c" never collides with "a"+"bc").
type AAD struct {
	Table, Column, Row string
	// Owner, if set, is what the row belongs to ("conversation:<id>",
	// "case:<id>"): the ciphertext is then of format 2 and bound to it too.
	Owner string
}

func (a AAD) validate() error {
	for _, p := range [...]struct{ name, v string }{{"table", a.Table}, {"column", a.Column}, {"row", a.Row}} {
		if p.v == "" {
			return fmt.Errorf("seal: associated data: empty %s", p.name)
		}
		if len(p.v) > maxAADPart {
			return fmt.Errorf("seal: associated data: %s longer than %d bytes", p.name, maxAADPart)
		}
	}
	if len(a.Owner) > maxAADPart {
		return fmt.Errorf("seal: associated data: owner longer than %d bytes", maxAADPart)
	}
	return nil
}

func (a AAD) format() byte {
	if a.Owner != "" {
		return fieldFormatV2
	}
	return fieldFormatV1
}

// appendLP appends s with a 4-byte big-endian length prefix.
func appendLP(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func fieldAAD(header []byte, a AAD) []byte {
	b := make([]byte, 0, len(fieldAADLabelV2)+len(header)+16+len(a.Table)+len(a.Column)+len(a.Row)+len(a.Owner))
	if header[0] == fieldFormatV2 {
		b = append(b, fieldAADLabelV2...)
	} else {
		b = append(b, fieldAADLabel...)
	}
	b = append(b, header...)
	b = appendLP(b, a.Table)
	b = appendLP(b, a.Column)
	b = appendLP(b, a.Row)
	if header[0] == fieldFormatV2 {
		b = appendLP(b, a.Owner)
	}
	return b
}

// Bound reports whether a ciphertext is of format 2, bound to an owner.
func Bound(ciphertext []byte) bool {
	return len(ciphertext) >= FieldOverhead && ciphertext[0] == fieldFormatV2
}

// Encrypt seals plaintext under the data key, bound to aad. Each call draws a
// fresh random 24-byte nonce, so encrypting the same plaintext twice gives
// different ciphertexts; with 192-bit nonces a collision is negligible for
// any number of messages a single key will see. The result is
// [FieldOverhead] bytes longer than plaintext. Errors come only from an
// invalid aad or an unset key, never from the plaintext.
func Encrypt(dk DataKey, aad AAD, plaintext []byte) ([]byte, error) {
	if err := aad.validate(); err != nil {
		return nil, err
	}
	if dk.ID.IsZero() || dk.Key.IsZero() {
		return nil, errors.New("seal: encrypt: data key or key id is unset")
	}
	aead, err := chacha20poly1305.NewX(dk.Key[:])
	if err != nil {
		return nil, fmt.Errorf("seal: encrypt: %w", err)
	}
	out := make([]byte, fieldBoxOff, FieldOverhead+len(plaintext))
	out[0] = aad.format()
	out[1] = AlgXChaCha20Poly1305
	copy(out[2:fieldHeaderLen], dk.ID[:])
	rand.Read(out[fieldNonceOff:fieldBoxOff])
	return aead.Seal(out, out[fieldNonceOff:fieldBoxOff], plaintext, fieldAAD(out[:fieldHeaderLen], aad)), nil
}

// Decrypt opens a ciphertext made by [Encrypt] with the same data key and
// aad. It returns [ErrWrongKey] if the ciphertext names another key id and
// [ErrDecrypt] for everything else that fails; it never returns partial
// plaintext. A format 2 ciphertext opens only with the owner it was made
// for; a format 1 one (made before owners were bound) ignores aad.Owner.
func Decrypt(dk DataKey, aad AAD, ciphertext []byte) ([]byte, error) {
	if !validHeader(ciphertext) {
		return nil, ErrDecrypt
	}
	if ciphertext[0] == fieldFormatV2 && aad.Owner == "" {
		return nil, ErrDecrypt
	}
	if KeyID(ciphertext[2:fieldHeaderLen]) != dk.ID {
		return nil, ErrWrongKey
	}
	if aad.validate() != nil {
		return nil, ErrDecrypt
	}
	aead, err := chacha20poly1305.NewX(dk.Key[:])
	if err != nil {
		return nil, ErrDecrypt
	}
	pt, err := aead.Open(nil, ciphertext[fieldNonceOff:fieldBoxOff], ciphertext[fieldBoxOff:], fieldAAD(ciphertext[:fieldHeaderLen], aad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// CiphertextKeyID returns the id of the data key a ciphertext of [Encrypt]
// was sealed under, so the store knows which wrapped key to load. It checks
// only the header, not authenticity; a forged header fails later in Decrypt.
func CiphertextKeyID(ciphertext []byte) (KeyID, error) {
	if !validHeader(ciphertext) {
		return KeyID{}, ErrDecrypt
	}
	return KeyID(ciphertext[2:fieldHeaderLen]), nil
}

func validHeader(ct []byte) bool {
	return len(ct) >= FieldOverhead && (ct[0] == fieldFormatV1 || ct[0] == fieldFormatV2) && ct[1] == AlgXChaCha20Poly1305
}
