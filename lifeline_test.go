// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"encoding/base32"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
)

// refEncoding is written out here, not taken from the package: lower-case
// RFC 4648 base32 without padding.
var refEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func TestNewIDFormat(t *testing.T) {
	seen := map[lifeline.ID]bool{}
	for range 1000 {
		id := lifeline.NewID()
		if len(id) != 26 {
			t.Fatalf("NewID() = %q, %d chars; want 26", id, len(id))
		}
		b, err := refEncoding.DecodeString(string(id))
		if err != nil || len(b) != 16 {
			t.Fatalf("NewID() = %q: decodes to %d bytes, %v; want 16 bytes", id, len(b), err)
		}
		if refEncoding.EncodeToString(b) != string(id) {
			t.Fatalf("NewID() = %q is not the canonical encoding", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
		got, err := lifeline.ParseID(string(id))
		if err != nil || got != id {
			t.Fatalf("ParseID(%q) = %q, %v; want round trip", id, got, err)
		}
		if !id.Valid() || id.String() != string(id) {
			t.Fatalf("%q: Valid() = %v, String() = %q", id, id.Valid(), id.String())
		}
	}
}

// TestNewIDUsesAllBits checks that every one of the 128 bits varies, as it
// would not if the ids came from a short or biased source.
func TestNewIDUsesAllBits(t *testing.T) {
	var ones, zeros [16]byte
	for range 256 {
		b, _ := refEncoding.DecodeString(string(lifeline.NewID()))
		for i := range b {
			ones[i] |= b[i]
			zeros[i] |= ^b[i]
		}
	}
	for i := range ones {
		if ones[i] != 0xff || zeros[i] != 0xff {
			t.Errorf("byte %d: bits never set %08b, never clear %08b", i, ^ones[i], ^zeros[i])
		}
	}
}

func TestParseIDRejects(t *testing.T) {
	valid := refEncoding.EncodeToString(make([]byte, 16)) // "aaaa…a"
	tests := map[string]string{
		"empty":                 "",
		"short":                 valid[:25],
		"long":                  valid + "a",
		"upper case":            strings.ToUpper(string(lifeline.NewID())),
		"digit 0":               "0" + valid[1:],
		"digit 1":               "1" + valid[1:],
		"digit 8":               "8" + valid[1:],
		"padding":               valid[:25] + "=",
		"newline inside":        valid[:12] + "\n" + valid[13:],
		"trailing newline":      valid[:25] + "\n",
		"space":                 valid[:25] + " ",
		"non-ASCII":             valid[:24] + "é",
		"uuid":                  "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
		"non-zero unused bits":  valid[:25] + "b", // 'b' = 00001: sets an unused bit
		"non-zero unused bit 2": valid[:25] + "c",
		"system":                string(lifeline.SystemOperator),
	}
	for name, s := range tests {
		if _, err := lifeline.ParseID(s); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("%s: ParseID(%q) error %v, want code %q", name, s, err, lifeline.EINVALID)
		}
		if lifeline.ID(s).Valid() {
			t.Errorf("%s: ID(%q).Valid() = true", name, s)
		}
		if _, err := lifeline.ParseCaseID(s); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("%s: ParseCaseID(%q) error %v, want code %q", name, s, err, lifeline.EINVALID)
		}
		if _, err := lifeline.ParseOperatorID(s); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("%s: ParseOperatorID(%q) error %v, want code %q", name, s, err, lifeline.EINVALID)
		}
	}
	// The all-zero value, and the value with the last used bit set, are
	// valid: the test above fails for the right reason.
	for _, s := range []string{valid, valid[:25] + "e"} {
		if _, err := lifeline.ParseID(s); err != nil {
			t.Errorf("ParseID(%q) = %v, want nil", s, err)
		}
	}
}

func TestTypedIDs(t *testing.T) {
	type typed struct {
		name  string
		new   func() string
		parse func(string) (string, error)
		valid func(string) bool
	}
	for _, tt := range []typed{
		{"CaseID",
			func() string { return string(lifeline.NewCaseID()) },
			func(s string) (string, error) { id, err := lifeline.ParseCaseID(s); return string(id), err },
			func(s string) bool { return lifeline.CaseID(s).Valid() }},
		{"ContactID",
			func() string { return string(lifeline.NewContactID()) },
			func(s string) (string, error) { id, err := lifeline.ParseContactID(s); return string(id), err },
			func(s string) bool { return lifeline.ContactID(s).Valid() }},
		{"ConversationID",
			func() string { return string(lifeline.NewConversationID()) },
			func(s string) (string, error) { id, err := lifeline.ParseConversationID(s); return string(id), err },
			func(s string) bool { return lifeline.ConversationID(s).Valid() }},
		{"MessageID",
			func() string { return string(lifeline.NewMessageID()) },
			func(s string) (string, error) { id, err := lifeline.ParseMessageID(s); return string(id), err },
			func(s string) bool { return lifeline.MessageID(s).Valid() }},
		{"OperatorID",
			func() string { return string(lifeline.NewOperatorID()) },
			func(s string) (string, error) { id, err := lifeline.ParseOperatorID(s); return string(id), err },
			func(s string) bool { return lifeline.OperatorID(s).Valid() }},
	} {
		a, b := tt.new(), tt.new()
		if a == b {
			t.Errorf("%s: two new ids are equal", tt.name)
		}
		if !lifeline.ID(a).Valid() || !tt.valid(a) {
			t.Errorf("%s: new id %q is not valid", tt.name, a)
		}
		if got, err := tt.parse(a); err != nil || got != a {
			t.Errorf("%s: parse(%q) = %q, %v; want round trip", tt.name, a, got, err)
		}
		if _, err := tt.parse(a[:25]); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("%s: parse of a short id: error %v, want code %q", tt.name, err, lifeline.EINVALID)
		}
		if tt.valid(strings.ToUpper(a)) {
			t.Errorf("%s: upper-case id is valid", tt.name)
		}
	}
	if lifeline.SystemOperator.Valid() {
		t.Error("SystemOperator.Valid() = true; it must not pass as an account id")
	}
}

func TestParseIDErrorDoesNotEchoInput(t *testing.T) {
	const hostile = "<script>alert(1)</script>"
	_, err := lifeline.ParseID(hostile)
	if msg := lifeline.ErrorMessage(err); strings.Contains(msg, "script") {
		t.Errorf("ErrorMessage = %q; echoes the input", msg)
	}
}

func FuzzParseID(f *testing.F) {
	f.Add(string(lifeline.NewID()))
	f.Add("aaaaaaaaaaaaaaaaaaaaaaaaab")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := lifeline.ParseID(s)
		if err != nil {
			if lifeline.ErrorCode(err) != lifeline.EINVALID {
				t.Fatalf("ParseID(%q) error code %q", s, lifeline.ErrorCode(err))
			}
			return
		}
		b, derr := refEncoding.DecodeString(s)
		if derr != nil || len(b) != 16 || refEncoding.EncodeToString(b) != s || string(id) != s {
			t.Fatalf("ParseID accepted %q, which is not a canonical 128-bit id", s)
		}
	})
}

func FuzzParseCaseStatus(f *testing.F) {
	for _, s := range allStatuses {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := lifeline.ParseCaseStatus(s)
		known := false
		for _, want := range allStatuses {
			known = known || s == want
		}
		if known != (err == nil) || (err == nil && string(st) != s) {
			t.Fatalf("ParseCaseStatus(%q) = %q, %v", s, st, err)
		}
	})
}

func TestChannelKind(t *testing.T) {
	want := []string{"telegram", "whatsapp", "sms", "voice", "webform"}
	kinds := lifeline.ChannelKinds()
	if len(kinds) != len(want) {
		t.Fatalf("ChannelKinds() = %v, want %v", kinds, want)
	}
	for i, s := range want {
		if string(kinds[i]) != s {
			t.Errorf("ChannelKinds()[%d] = %q, want %q", i, kinds[i], s)
		}
		if k, err := lifeline.ParseChannelKind(s); err != nil || string(k) != s || !k.Valid() {
			t.Errorf("ParseChannelKind(%q) = %q, %v", s, k, err)
		}
	}
	for _, s := range []string{"", "Telegram", "signal", "email", "web", "twilio"} {
		if _, err := lifeline.ParseChannelKind(s); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("ParseChannelKind(%q) error %v, want code %q", s, err, lifeline.EINVALID)
		}
		if lifeline.ChannelKind(s).Valid() {
			t.Errorf("ChannelKind(%q).Valid() = true", s)
		}
	}
}

func TestStream(t *testing.T) {
	want := []string{"surrender", "relatives"}
	streams := lifeline.Streams()
	if len(streams) != len(want) {
		t.Fatalf("Streams() = %v, want %v", streams, want)
	}
	for i, s := range want {
		if string(streams[i]) != s {
			t.Errorf("Streams()[%d] = %q, want %q", i, streams[i], s)
		}
		if st, err := lifeline.ParseStream(s); err != nil || string(st) != s || !st.Valid() {
			t.Errorf("ParseStream(%q) = %q, %v", s, st, err)
		}
	}
	for _, s := range []string{"", "Surrender", "relative", "soldiers"} {
		if _, err := lifeline.ParseStream(s); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("ParseStream(%q) error %v, want code %q", s, err, lifeline.EINVALID)
		}
	}
}
