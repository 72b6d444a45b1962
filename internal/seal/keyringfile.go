// SPDX-License-Identifier: AGPL-3.0-or-later

package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// The keyring file is text, so that it can be inspected, printed and diffed:
//
//	lifeline-keyring v1
//	id: <keyring id, 26 characters of lower-case base32>
//	created: <RFC 3339 UTC, seconds>
//	threshold: <k>
//	shares: <n>
//	commitment: <64 hex digits, SHA-256 commitment of share 1>
//	...                                  (exactly n commitment lines)
//	cipher: xchacha20poly1305
//	                                     (empty line)
//	<standard base64 of 24-byte nonce | XChaCha20-Poly1305 box of the payload>
//
// Every line ends in "\n". The header is every byte up to and including the
// empty line; those exact bytes are the associated data of the box, so any
// change to the header makes OpenKeyring fail. Parsing is strict (fixed
// field order, canonical numbers, no spare white space), so each header has
// exactly one encoding.
//
// Before OpenKeyring succeeds the header is unauthenticated: the commitments
// it gives the [Unsealer] catch mistyped and mixed-up shares, not an attacker
// who can rewrite the file (who could only make unsealing fail).
const (
	keyringMagic  = "lifeline-keyring v1"
	keyringCipher = "xchacha20poly1305"

	// MaxKeyringSize bounds the keyring file that ParseHeader and
	// OpenKeyring accept.
	MaxKeyringSize = 1 << 20

	maxShares = 255
)

// KeyringID identifies one keyring file (one L0/L1 generation). It is random
// and not secret.
type KeyringID [16]byte

// String returns the id in lower-case base32 (26 characters).
func (id KeyringID) String() string { return lowerBase32.EncodeToString(id[:]) }

// Header is the plaintext part of a keyring file. It is authenticated (as
// associated data) only once [OpenKeyring] succeeds.
type Header struct {
	// ID is random, chosen by NewHeader; a new one for every rekey.
	ID KeyringID
	// Created is UTC with second precision.
	Created time.Time
	// Threshold is k, the number of shares that unseal; Shares is n, the
	// number printed. Both are 0 when the unseal key was not split
	// (development only: `init --dev-unseal-file`).
	Threshold, Shares int
	// Commitments holds the SHA-256 commitment of each share, in share
	// order (share 1 first); len(Commitments) == Shares.
	Commitments [][32]byte
}

// NewHeader returns a header with a fresh random id, the current time, and
// the threshold, share count and commitments of [Split]. Pass 0, 0, nil for
// an unsplit (development) unseal key.
func NewHeader(threshold, shares int, commitments [][32]byte) (Header, error) {
	h := Header{
		Created:     time.Now().UTC().Truncate(time.Second),
		Threshold:   threshold,
		Shares:      shares,
		Commitments: commitments,
	}
	rand.Read(h.ID[:])
	if err := h.validate(); err != nil {
		return Header{}, err
	}
	return h, nil
}

// Split reports whether the unseal key of this keyring was split into shares.
func (h Header) Split() bool { return h.Shares > 0 }

func (h Header) validate() error {
	if h.ID == (KeyringID{}) {
		return errors.New("seal: keyring header: zero id")
	}
	if h.Created.IsZero() || h.Created.Year() < 2000 || h.Created.Year() > 9999 {
		return errors.New("seal: keyring header: missing or implausible creation time")
	}
	if h.Threshold == 0 && h.Shares == 0 {
		if len(h.Commitments) != 0 {
			return errors.New("seal: keyring header: commitments without shares")
		}
		return nil
	}
	if err := checkSplitParams(h.Shares, h.Threshold); err != nil {
		return fmt.Errorf("seal: keyring header: %w", err)
	}
	if len(h.Commitments) != h.Shares {
		return fmt.Errorf("seal: keyring header: %d commitments for %d shares", len(h.Commitments), h.Shares)
	}
	seen := make(map[[32]byte]bool, len(h.Commitments))
	for _, c := range h.Commitments {
		if seen[c] {
			return errors.New("seal: keyring header: duplicate share commitment")
		}
		seen[c] = true
	}
	return nil
}

func (h Header) marshal() []byte {
	var b bytes.Buffer
	b.WriteString(keyringMagic + "\n")
	b.WriteString("id: " + h.ID.String() + "\n")
	b.WriteString("created: " + h.Created.UTC().Format(time.RFC3339) + "\n")
	b.WriteString("threshold: " + strconv.Itoa(h.Threshold) + "\n")
	b.WriteString("shares: " + strconv.Itoa(h.Shares) + "\n")
	for _, c := range h.Commitments {
		b.WriteString("commitment: " + hex.EncodeToString(c[:]) + "\n")
	}
	b.WriteString("cipher: " + keyringCipher + "\n\n")
	return b.Bytes()
}

// errKeyringFormat is wrapped by every ParseHeader error.
var errKeyringFormat = errors.New("seal: not a valid lifeline keyring file")

// parseKeyringFile splits a keyring file into its header, the header bytes
// (associated data) and the decoded box.
func parseKeyringFile(blob []byte) (h Header, aad, box []byte, err error) {
	bad := func(what string) (Header, []byte, []byte, error) {
		return Header{}, nil, nil, fmt.Errorf("%w: %s", errKeyringFormat, what)
	}
	if len(blob) > MaxKeyringSize {
		return bad("too large")
	}
	rest := blob
	line := func() (string, bool) {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return "", false
		}
		l := string(rest[:i])
		rest = rest[i+1:]
		return l, true
	}
	field := func(name string) (string, bool) {
		l, ok := line()
		if !ok {
			return "", false
		}
		return strings.CutPrefix(l, name+": ")
	}
	number := func(name string) (int, bool) {
		s, ok := field(name)
		if !ok {
			return 0, false
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxShares || strconv.Itoa(n) != s {
			return 0, false
		}
		return n, true
	}

	if l, ok := line(); !ok || l != keyringMagic {
		return bad("missing \"" + keyringMagic + "\" line")
	}
	s, ok := field("id")
	if !ok || len(s) != 26 {
		return bad("id")
	}
	if n, err := lowerBase32.Decode(h.ID[:], []byte(s)); err != nil || n != len(h.ID) || h.ID.String() != s {
		return bad("id")
	}
	s, ok = field("created")
	if !ok {
		return bad("created")
	}
	if h.Created, err = time.Parse(time.RFC3339, s); err != nil || h.Created.Format(time.RFC3339) != s || !strings.HasSuffix(s, "Z") {
		return bad("created")
	}
	h.Created = h.Created.UTC()
	if h.Threshold, ok = number("threshold"); !ok {
		return bad("threshold")
	}
	if h.Shares, ok = number("shares"); !ok {
		return bad("shares")
	}
	for range h.Shares {
		s, ok := field("commitment")
		var c [32]byte
		if !ok || len(s) != 64 {
			return bad("commitment")
		}
		if _, err := hex.Decode(c[:], []byte(s)); err != nil || hex.EncodeToString(c[:]) != s {
			return bad("commitment")
		}
		h.Commitments = append(h.Commitments, c)
	}
	if s, ok := field("cipher"); !ok || s != keyringCipher {
		return bad("cipher")
	}
	if l, ok := line(); !ok || l != "" {
		return bad("missing empty line after header")
	}
	if err := h.validate(); err != nil {
		return bad(err.Error())
	}
	aad = blob[:len(blob)-len(rest)]

	body, ok := line()
	if !ok || len(rest) != 0 {
		return bad("body must be one line ending the file")
	}
	box, err = base64.StdEncoding.Strict().DecodeString(body)
	if err != nil || len(box) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return bad("body")
	}
	return h, aad, box, nil
}

// ParseHeader returns the plaintext header of a keyring file without any key,
// so that the unseal prompt can check shares against its commitments. The
// header is not authenticated until [OpenKeyring] succeeds.
func ParseHeader(blob []byte) (Header, error) {
	h, _, _, err := parseKeyringFile(blob)
	return h, err
}

// Seal encrypts the keyring under the unseal key and returns the keyring
// file, with header as its plaintext (and authenticated) header. Use the
// header of [NewHeader] for a new keyring or a rekey, or the header of the
// file being replaced to re-seal after a rotation.
func (k *Keyring) Seal(unsealKey Key, header Header) ([]byte, error) {
	if err := header.validate(); err != nil {
		return nil, err
	}
	if unsealKey.IsZero() {
		return nil, errors.New("seal: keyring seal: unseal key is unset")
	}
	payload, err := k.marshalPayload()
	if err != nil {
		return nil, err
	}
	defer clear(payload)
	aead, err := chacha20poly1305.NewX(unsealKey[:])
	if err != nil {
		return nil, fmt.Errorf("seal: keyring seal: %w", err)
	}
	hdr := header.marshal()
	box := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(payload)+chacha20poly1305.Overhead)
	rand.Read(box)
	box = aead.Seal(box, box[:chacha20poly1305.NonceSizeX], payload, hdr)
	out := make([]byte, 0, len(hdr)+base64.StdEncoding.EncodedLen(len(box))+1)
	out = append(out, hdr...)
	out = base64.StdEncoding.AppendEncode(out, box)
	return append(out, '\n'), nil
}

// ErrWrongUnsealKey is returned by OpenKeyring when the keyring does not
// open: the unseal key is wrong or the file was altered.
var ErrWrongUnsealKey = errors.New("seal: keyring does not open: wrong unseal key, or the file was altered")

// OpenKeyring opens a keyring file made by [Keyring.Seal]. It returns
// [ErrWrongUnsealKey] if the key is wrong or any byte of the file changed,
// and an error wrapping a format error if the file is not a keyring file.
func OpenKeyring(blob []byte, unsealKey Key) (*Keyring, Header, error) {
	h, aad, box, err := parseKeyringFile(blob)
	if err != nil {
		return nil, Header{}, err
	}
	aead, err := chacha20poly1305.NewX(unsealKey[:])
	if err != nil {
		return nil, Header{}, ErrWrongUnsealKey
	}
	payload, err := aead.Open(nil, box[:chacha20poly1305.NonceSizeX], box[chacha20poly1305.NonceSizeX:], aad)
	if err != nil {
		return nil, Header{}, ErrWrongUnsealKey
	}
	defer clear(payload)
	k, err := unmarshalPayload(payload)
	if err != nil {
		return nil, Header{}, err
	}
	return k, h, nil
}
