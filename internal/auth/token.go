// SPDX-License-Identifier: AGPL-3.0-or-later

package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
)

// Opaque secrets: API bearer tokens and session ids. Each is a prefix and
// 256 random bits in lower-case base32 without padding (52 characters), e.g.
//
//	llt_3xq7…(52 characters)
//
// Lower-case base32 has no '-' or '+', so a double click selects the whole
// token, and the prefix lets secret scanners and log scrubbers spot it.
//
// Only SHA-256(plaintext) is stored. A slow, salted hash such as Argon2 is
// for low-entropy passwords; against 256 uniformly random bits it adds no
// security (2^256 guesses at any speed) but would cost 64 MiB and ~100 ms on
// every API request, and a per-row salt would make the hash unusable as the
// indexed lookup key. Looking a row up by hash in the database is not a
// timing oracle worth guarding: learning a prefix of SHA-256(secret) does
// not help to find the secret.
const (
	TokenPrefix   = "llt_" // API bearer tokens
	SessionPrefix = "lls_" // console session ids (cookie values)

	// TokenIDLen is the number of secret characters, after the prefix, that
	// TokenID exposes: 40 of the 256 bits, enough to tell tokens apart in a
	// listing, not unique: "token revoke" must refuse an ambiguous id.
	TokenIDLen = 8

	secretBytes = 32
	secretChars = 52 // base32 of 32 bytes, unpadded
)

// ErrTokenFormat means a string is not a well-formed token or session id of
// the expected kind. The caller should answer 401 without a database lookup.
var ErrTokenFormat = errors.New("auth: malformed token")

var secretB32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewToken returns a new API bearer token, to be shown to its owner once, and
// the SHA-256 hash to store. err is always nil with Go ≥ 1.24 (crypto/rand
// cannot fail) and kept for callers' error paths.
func NewToken() (plaintext string, hash []byte, err error) {
	return newSecret(TokenPrefix)
}

// HashToken validates that plaintext has the exact shape NewToken produces
// (prefix, length, alphabet, canonical encoding) and returns its SHA-256
// hash, the database lookup key. Errors: ErrTokenFormat.
func HashToken(plaintext string) ([]byte, error) {
	return hashSecret(TokenPrefix, plaintext)
}

// TokenID returns the public, non-secret short form of a valid token, the
// prefix and its first TokenIDLen characters ("llt_3xq7abcd"), to store next
// to the hash for "token list" and "token revoke". Errors: ErrTokenFormat.
func TokenID(plaintext string) (string, error) {
	if err := checkSecret(TokenPrefix, plaintext); err != nil {
		return "", err
	}
	return plaintext[:len(TokenPrefix)+TokenIDLen], nil
}

// NewSessionID returns a new 256-bit session id with the "lls_" prefix, to be
// sent as the cookie value, and the SHA-256 hash to store server-side.
// err is always nil, as for NewToken.
func NewSessionID() (plaintext string, hash []byte, err error) {
	return newSecret(SessionPrefix)
}

// HashSessionID validates a session cookie value as HashToken does and
// returns its SHA-256 hash. Errors: ErrTokenFormat.
func HashSessionID(plaintext string) ([]byte, error) {
	return hashSecret(SessionPrefix, plaintext)
}

func newSecret(prefix string) (string, []byte, error) {
	var b [secretBytes]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	s := prefix + secretB32.EncodeToString(b[:])
	h := sha256.Sum256([]byte(s))
	return s, h[:], nil
}

func hashSecret(prefix, s string) ([]byte, error) {
	if err := checkSecret(prefix, s); err != nil {
		return nil, err
	}
	h := sha256.Sum256([]byte(s))
	return h[:], nil
}

func checkSecret(prefix, s string) error {
	if len(s) != len(prefix)+secretChars || s[:len(prefix)] != prefix {
		return ErrTokenFormat
	}
	body := s[len(prefix):]
	for i := 0; i < len(body); i++ {
		c := body[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return ErrTokenFormat
		}
	}
	// 52 characters carry 260 bits; the last 4 must be zero, so that each
	// 256-bit value has exactly one spelling (and one hash).
	var b [secretBytes + 1]byte
	n, err := secretB32.Decode(b[:], []byte(body))
	if err != nil || n != secretBytes || secretB32.EncodeToString(b[:n]) != body {
		return ErrTokenFormat
	}
	return nil
}
