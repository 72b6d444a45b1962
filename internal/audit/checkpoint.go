// SPDX-License-Identifier: AGPL-3.0-or-later

package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// GenerateKey returns a new Ed25519 key pair in signed-note format, named
// name (for example "audit.lifeline.example"; no spaces or '+'), which also
// becomes the default origin of the checkpoints it signs: the signer key, which must be
// kept secret (SECURITY.md §2.2 derives or stores it outside the database),
// and the verifier key, which auditors and witnesses configure.
func GenerateKey(name string) (signerKey, verifierKey string, err error) {
	if err := checkOrigin(name); err != nil {
		return "", "", fmt.Errorf("audit: generate key: name: %w", err)
	}
	if strings.Contains(name, "+") {
		return "", "", fmt.Errorf("audit: generate key: name %q contains '+'", name)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("audit: generate key: %w", err)
	}
	return skey, vkey, nil
}

// NewSigner parses a signer key made by GenerateKey.
func NewSigner(signerKey string) (note.Signer, error) {
	s, err := note.NewSigner(strings.TrimSpace(signerKey))
	if err != nil {
		// Never echo the key itself.
		return nil, fmt.Errorf("audit: parse signer key: %w", err)
	}
	return s, nil
}

// VerifierKey returns the verifier key of a signer key made by GenerateKey,
// so that the public half never has to be kept beside the private one.
func VerifierKey(signerKey []byte) (string, error) {
	parts := strings.SplitN(strings.TrimSpace(string(signerKey)), "+", 5) // base64 may hold "+"
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("audit: verifier key: not a signer key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("audit: verifier key: not an Ed25519 signer key")
	}
	defer clear(raw)
	priv := ed25519.NewKeyFromSeed(raw[1:])
	defer clear(priv)
	vkey, err := note.NewEd25519VerifierKey(parts[2], priv.Public().(ed25519.PublicKey))
	if err != nil {
		return "", fmt.Errorf("audit: verifier key: %w", err)
	}
	if !strings.HasPrefix(vkey, parts[2]+"+"+parts[3]+"+") {
		return "", errors.New("audit: verifier key: the signer key's hash does not match its key")
	}
	return vkey, nil
}

// NewVerifier parses a verifier key made by GenerateKey.
func NewVerifier(verifierKey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return nil, fmt.Errorf("audit: parse verifier key %q: %w", verifierKey, err)
	}
	return v, nil
}

// A Checkpoint is a signed statement that the log Origin held Size entries
// whose Merkle tree hash was Root, at Time.
type Checkpoint struct {
	Origin string    // names the log; by default the signing key's name
	Size   int64     // number of entries covered: seqs 0..Size-1
	Root   tlog.Hash // RFC 6962 tree hash of the first Size entries
	Time   time.Time // when it was signed; whole seconds, UTC
}

// maxCheckpointLen bounds the signed note accepted by OpenCheckpoint; a real
// one is about 200 bytes plus about 100 per cosignature.
const maxCheckpointLen = 8 << 10

const maxOriginLen = 256

// SignCheckpoint returns c as a signed note whose text is a C2SP
// tlog-checkpoint body with one extension line:
//
//	<origin>
//	<size, decimal>
//	<root, base64>
//	time <unix seconds>
func SignCheckpoint(s note.Signer, c Checkpoint) ([]byte, error) {
	if err := checkOrigin(c.Origin); err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: origin: %w", err)
	}
	if c.Size < 0 {
		return nil, fmt.Errorf("audit: sign checkpoint: negative size %d", c.Size)
	}
	if c.Time.Unix() < 0 {
		return nil, fmt.Errorf("audit: sign checkpoint: time %v before 1970", c.Time)
	}
	msg, err := note.Sign(&note.Note{Text: checkpointText(c)}, s)
	if err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	return msg, nil
}

func checkpointText(c Checkpoint) string {
	return fmt.Sprintf("%s\n%d\n%s\ntime %d\n", c.Origin, c.Size,
		base64.StdEncoding.EncodeToString(c.Root[:]), c.Time.Unix())
}

// OpenCheckpoint verifies the signature of v on the signed note msg and parses
// its text strictly: exactly the four lines SignCheckpoint writes, in
// canonical form (no leading zeros, canonical base64, no extra lines).
// Signatures by other keys (witness cosignatures) are allowed and ignored.
// The error says whether the note is malformed, signed by an unknown key,
// carries a bad signature, or has a malformed body.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	if len(msg) > maxCheckpointLen {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint: %d bytes, more than %d", len(msg), maxCheckpointLen)
	}
	if v == nil {
		return Checkpoint{}, errors.New("audit: checkpoint: no verifier")
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return Checkpoint{}, fmt.Errorf("audit: checkpoint: not signed by key %s (signed by unknown keys %s)",
				v.Name(), sigNames(unverified.Note.UnverifiedSigs))
		case errors.As(err, &invalid):
			return Checkpoint{}, fmt.Errorf("audit: checkpoint: bad signature by key %s", v.Name())
		}
		return Checkpoint{}, fmt.Errorf("audit: checkpoint: %w", err)
	}
	c, err := parseCheckpointText(n.Text)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint signed by %s: %w", v.Name(), err)
	}
	return c, nil
}

func sigNames(sigs []note.Signature) string {
	var b strings.Builder
	for i, s := range sigs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s+%08x", s.Name, s.Hash)
	}
	return b.String()
}

func parseCheckpointText(text string) (Checkpoint, error) {
	var c Checkpoint
	lines := strings.Split(text, "\n")
	// note.Open guarantees text ends in "\n", so the last element is empty.
	if len(lines) != 5 || lines[4] != "" {
		return c, fmt.Errorf("body has %d lines, want 4 (origin, size, root, time)", len(lines)-1)
	}
	if err := checkOrigin(lines[0]); err != nil {
		return c, fmt.Errorf("origin: %w", err)
	}
	c.Origin = lines[0]
	size, err := parseDecimal(lines[1])
	if err != nil {
		return c, fmt.Errorf("size %q: %w", lines[1], err)
	}
	c.Size = size
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize || base64.StdEncoding.EncodeToString(root) != lines[2] {
		return c, fmt.Errorf("root %q: want canonical base64 of %d bytes", lines[2], tlog.HashSize)
	}
	copy(c.Root[:], root)
	ts, ok := strings.CutPrefix(lines[3], "time ")
	if !ok {
		return c, fmt.Errorf("line 4 %q: want \"time <unix seconds>\"", lines[3])
	}
	sec, err := parseDecimal(ts)
	if err != nil {
		return c, fmt.Errorf("time %q: %w", ts, err)
	}
	c.Time = time.Unix(sec, 0).UTC()
	return c, nil
}

// parseDecimal parses a non-negative int64 written without sign or leading zeros.
func parseDecimal(s string) (int64, error) {
	if s == "" || len(s) > 19 || s[0] == '0' && len(s) > 1 {
		return 0, errors.New("want a decimal number without sign or leading zeros")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("want a decimal number without sign or leading zeros")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("out of range")
	}
	return n, nil
}

// checkOrigin accepts 1..256 bytes of printable UTF-8 without spaces, which
// also makes it a valid signed-note key name when it contains no '+'.
func checkOrigin(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > maxOriginLen {
		return fmt.Errorf("%d bytes, more than %d", len(s), maxOriginLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%q contains %U", s, r)
		}
	}
	return nil
}
