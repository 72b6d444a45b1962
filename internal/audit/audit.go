// SPDX-License-Identifier: AGPL-3.0-or-later

// Package audit holds the pure logic of lifeline's tamper-evident audit log
// (SECURITY.md §2.7): the canonical encoding of an entry, the RFC 6962 Merkle
// tree over the entries (golang.org/x/mod/sumdb/tlog stored-hash layout),
// Ed25519-signed checkpoints in the C2SP tlog-checkpoint signed-note format,
// the verifier that names the first bad entry, and the Checkpointer that signs
// a checkpoint every Interval or MaxEntries.
//
// Storage is not here: sqlstore keeps audit_entries, audit_hashes and
// audit_checkpoints and satisfies [Log] and [Store]. The division of trust is:
// the leaf hash beside each entry and the stored hashes catch careless edits;
// the signed checkpoints catch an attacker who also recomputed every hash,
// because the signing key is not in the database. Entries appended after the
// latest checkpoint are protected only by the leaf and stored-hash checks until
// the next checkpoint (at most Interval or MaxEntries later, and on clean
// shutdown); copies of the checkpoint kept off-box (Checkpointer.Dir, shipped to
// witnesses) make deleting checkpoints from the database detectable too.
package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"
)

// An Entry is one audit event. Entries hold ids and codes, never personal
// data and never field values (SECURITY.md §2.7).
type Entry struct {
	Seq       int64     // 0-based position in the log; contiguous
	Time      time.Time // UTC; encoded at microsecond precision (see Encode)
	Actor     string    // operator id, "cli" or "system"; never a name
	Role      string    // role of the actor at the time; may be empty for "system"
	Action    string    // e.g. "user.add", "token.create", "login.fail"; [a-z0-9._-]
	Object    string    // opaque object ids (random ids or HMACs), never personal data
	Decision  string    // DecisionAllow or DecisionDeny
	Reason    string    // reason code or operator-typed reason
	RequestID string
}

// Decisions.
const (
	DecisionAllow = "allow"
	DecisionDeny  = "deny"
)

// MaxFieldLen is the maximum length in bytes of every string field of an Entry.
const MaxFieldLen = 512

// encodingMagic starts every encoded entry. A new encoding gets a new version;
// the old one must stay decodable forever, because signed roots commit to it.
const encodingMagic = "lifeline-audit-v1\n"

// ErrMissingHash is wrapped by Log.ReadHashes and Store.ReadHashes
// implementations when a requested stored hash does not exist, so that Verify
// can report a hash table that was cut short as tampering instead of as a
// storage failure.
var ErrMissingHash = errors.New("audit: stored hash not found")

// Encode returns the canonical encoding of e, the bytes its leaf hash commits to:
//
//	"lifeline-audit-v1\n"
//	Seq as 8 bytes big-endian
//	then Time, Actor, Role, Action, Object, Decision, Reason, RequestID,
//	each as a 4-byte big-endian length followed by that many bytes.
//
// Time is written as RFC 3339 in UTC with up to 6 fractional digits: it is
// truncated to the microsecond, the precision that SQLite TEXT columns written
// by sqlstore and PostgreSQL timestamptz keep, so an entry read back from the
// store encodes to the same bytes as the entry that was appended.
// Length prefixes make the encoding unambiguous for any field contents; Encode
// does not validate (HashesForAppend does).
func (e Entry) Encode() []byte {
	t := formatTime(e.Time)
	fields := [...]string{t, e.Actor, e.Role, e.Action, e.Object, e.Decision, e.Reason, e.RequestID}
	n := len(encodingMagic) + 8
	for _, f := range fields {
		n += 4 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, encodingMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// timeLayout is RFC 3339 with up to 6 fractional digits, trailing zeros
// trimmed (as time.RFC3339Nano does).
const timeLayout = "2006-01-02T15:04:05.999999Z07:00"

func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(timeLayout)
}

// DecodeEntry parses the output of Encode. It accepts only canonical
// encodings: decoding and re-encoding yields the same bytes. It does not
// validate the fields beyond what the encoding needs.
func DecodeEntry(b []byte) (Entry, error) {
	var e Entry
	rest, ok := cutPrefix(b, encodingMagic)
	if !ok {
		return e, errors.New("audit: decode entry: bad version header")
	}
	if len(rest) < 8 {
		return e, errors.New("audit: decode entry: truncated sequence number")
	}
	seq := binary.BigEndian.Uint64(rest)
	if seq > math.MaxInt64 {
		return e, errors.New("audit: decode entry: sequence number out of range")
	}
	e.Seq = int64(seq)
	rest = rest[8:]
	var fields [8]string
	for i := range fields {
		if len(rest) < 4 {
			return Entry{}, fmt.Errorf("audit: decode entry: truncated length of field %d", i)
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return Entry{}, fmt.Errorf("audit: decode entry: field %d longer than the input", i)
		}
		fields[i] = string(rest[:n])
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return Entry{}, errors.New("audit: decode entry: trailing bytes")
	}
	t, err := time.Parse(time.RFC3339Nano, fields[0])
	if err != nil || formatTime(t) != fields[0] {
		return Entry{}, errors.New("audit: decode entry: time is not canonical RFC 3339 UTC")
	}
	e.Time = t.UTC()
	e.Actor, e.Role, e.Action, e.Object = fields[1], fields[2], fields[3], fields[4]
	e.Decision, e.Reason, e.RequestID = fields[5], fields[6], fields[7]
	return e, nil
}

func cutPrefix(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return nil, false
	}
	return b[len(prefix):], true
}

// Validate reports whether e may be appended: Seq not negative; Time set and
// within years 1970..9999; Actor, Action and Decision present; Decision is
// "allow" or "deny"; Action made of [a-z0-9._-] and starting with a letter;
// every string field at most MaxFieldLen bytes of valid UTF-8 without control
// characters, bidirectional-text controls or Unicode line separators (which
// would let a reason spoof or split the lines of an audit viewer).
func (e Entry) Validate() error {
	if e.Seq < 0 {
		return fmt.Errorf("audit: invalid entry: negative seq %d", e.Seq)
	}
	if e.Time.IsZero() {
		return errors.New("audit: invalid entry: time is not set")
	}
	if y := e.Time.UTC().Year(); y < 1970 || y > 9999 {
		return fmt.Errorf("audit: invalid entry: time year %d out of range", y)
	}
	fields := [...]struct {
		name, value string
		required    bool
	}{
		{"actor", e.Actor, true},
		{"role", e.Role, false},
		{"action", e.Action, true},
		{"object", e.Object, false},
		{"decision", e.Decision, true},
		{"reason", e.Reason, false},
		{"request id", e.RequestID, false},
	}
	for _, f := range fields {
		if err := checkField(f.value, f.required); err != nil {
			return fmt.Errorf("audit: invalid entry: %s: %w", f.name, err)
		}
	}
	if e.Decision != DecisionAllow && e.Decision != DecisionDeny {
		return fmt.Errorf("audit: invalid entry: decision %q is neither %q nor %q", e.Decision, DecisionAllow, DecisionDeny)
	}
	for i := 0; i < len(e.Action); i++ {
		c := e.Action[i]
		ok := 'a' <= c && c <= 'z' || i > 0 && ('0' <= c && c <= '9' || c == '.' || c == '_' || c == '-')
		if !ok {
			return fmt.Errorf("audit: invalid entry: action %q: want [a-z][a-z0-9._-]*", e.Action)
		}
	}
	return nil
}

func checkField(s string, required bool) error {
	if s == "" {
		if required {
			return errors.New("required")
		}
		return nil
	}
	if len(s) > MaxFieldLen {
		return fmt.Errorf("%d bytes, more than %d", len(s), MaxFieldLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("control character %U", r)
		}
	}
	return nil
}

// isBidiControl reports the explicit directional formatting characters
// (Unicode UAX #9), the "Trojan Source" characters.
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case '\u202a' <= r && r <= '\u202e':
		return true
	case '\u2066' <= r && r <= '\u2069':
		return true
	}
	return false
}

// LeafHash returns the RFC 6962 leaf hash of e: tlog.RecordHash(e.Encode()).
func LeafHash(e Entry) tlog.Hash {
	return tlog.RecordHash(e.Encode())
}

// HashesForAppend returns the stored hashes to write when appending e as
// entry n of a log that holds n entries, and the audit_hashes indexes they go
// to (contiguous, starting at tlog.StoredHashIndex(0, n)). hashes[0] is the
// leaf hash of e, to be stored beside the entry as well. It reads at most
// log₂ n earlier hashes through r. The store must write the entry and all
// returned hashes in one transaction, serialized with other appends.
//
// HashesForAppend fails if e is invalid or e.Seq != n.
func HashesForAppend(n int64, e Entry, r tlog.HashReader) (indexes []int64, hashes []tlog.Hash, err error) {
	if n < 0 {
		return nil, nil, fmt.Errorf("audit: append at negative size %d", n)
	}
	if e.Seq != n {
		return nil, nil, fmt.Errorf("audit: append entry with seq %d to a log of size %d", e.Seq, n)
	}
	if err := e.Validate(); err != nil {
		return nil, nil, err
	}
	hashes, err = tlog.StoredHashes(n, e.Encode(), r)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: append entry %d: %w", n, err)
	}
	start := tlog.StoredHashIndex(0, n)
	indexes = make([]int64, len(hashes))
	for i := range indexes {
		indexes[i] = start + int64(i)
	}
	return indexes, hashes, nil
}
