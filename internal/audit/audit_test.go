// SPDX-License-Identifier: AGPL-3.0-or-later

package audit_test

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"golang.org/x/mod/sumdb/tlog"
)

// TestEncodeGolden pins the v1 encoding. Signed roots commit to it: if this
// test fails, every existing log stops verifying. Add a v2 instead.
func TestEncodeGolden(t *testing.T) {
	e := audit.Entry{
		Seq:       57,
		Time:      time.Date(2026, 3, 1, 8, 0, 1, 123456789, time.FixedZone("X", 3600)),
		Actor:     "op_1f",
		Role:      "SV",
		Action:    "identity.reveal",
		Object:    "h:3fa9",
		Decision:  "allow",
		Reason:    "break-glass: ünsafe",
		RequestID: "req-1",
	}
	wantHex := "" +
		"6c6966656c696e652d61756469742d76310a" + // "lifeline-audit-v1\n"
		"0000000000000039" + // seq 57
		"0000001b" + hex32("2026-03-01T07:00:01.123456Z") +
		"00000005" + hex32("op_1f") +
		"00000002" + hex32("SV") +
		"0000000f" + hex32("identity.reveal") +
		"00000006" + hex32("h:3fa9") +
		"00000005" + hex32("allow") +
		"00000014" + hex32("break-glass: ünsafe") +
		"00000005" + hex32("req-1")
	if got := hex.EncodeToString(e.Encode()); got != wantHex {
		t.Errorf("Encode:\ngot  %s\nwant %s", got, wantHex)
	}
	const wantLeaf = "kdExWvqiffUhh9fmzw7R5OCHAKt/VskmbZp3/ATgMoQ="
	if got := audit.LeafHash(e).String(); got != wantLeaf {
		t.Errorf("LeafHash = %s, want %s", got, wantLeaf)
	}
}

func hex32(s string) string { return hex.EncodeToString([]byte(s)) }

func TestEncodeRoundTrip(t *testing.T) {
	for i := range 50 {
		e := testEntry(i)
		got, err := audit.DecodeEntry(e.Encode())
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if diff := cmp.Diff(e, got); diff != "" {
			t.Errorf("entry %d round trip (-want +got):\n%s", i, diff)
		}
	}
}

func TestEncodeTime(t *testing.T) {
	base := testEntry(1)
	base.Time = time.Date(2026, 3, 1, 8, 0, 0, 123456000, time.UTC)

	// The same instant in another zone, or with a monotonic reading, encodes the same.
	e := base
	e.Time = base.Time.In(time.FixedZone("UTC+2", 7200))
	if string(e.Encode()) != string(base.Encode()) {
		t.Error("zone changes the encoding")
	}
	// Below a microsecond is dropped: the store keeps microseconds.
	e.Time = base.Time.Add(999 * time.Nanosecond)
	if string(e.Encode()) != string(base.Encode()) {
		t.Error("nanoseconds change the encoding")
	}
	e.Time = base.Time.Add(time.Microsecond)
	if string(e.Encode()) == string(base.Encode()) {
		t.Error("a microsecond does not change the encoding")
	}
	got, err := audit.DecodeEntry(base.Encode())
	if err != nil || !got.Time.Equal(base.Time) || got.Time.Location() != time.UTC {
		t.Errorf("decoded time %v, %v", got.Time, err)
	}
}

// TestEncodeUnambiguous: entries that differ only in where one field ends
// and the next starts, or in separator-like bytes, never encode the same.
func TestEncodeUnambiguous(t *testing.T) {
	base := testEntry(3)
	variants := []func(e *audit.Entry){
		func(e *audit.Entry) {},
		func(e *audit.Entry) { e.Actor, e.Role = "ab", "c" },
		func(e *audit.Entry) { e.Actor, e.Role = "a", "bc" },
		func(e *audit.Entry) { e.Actor, e.Role = "abc", "" },
		func(e *audit.Entry) { e.Actor, e.Role = "", "abc" },
		func(e *audit.Entry) { e.Reason, e.RequestID = "x\x00\x00\x00\x01y", "" },
		func(e *audit.Entry) { e.Reason, e.RequestID = "x", "y" },
		func(e *audit.Entry) { e.Reason, e.RequestID = "x\ny", "" },
		func(e *audit.Entry) { e.Reason, e.RequestID = "x", "\ny" },
		func(e *audit.Entry) { e.Object, e.Decision = "o deny", "" },
		func(e *audit.Entry) { e.Object, e.Decision = "o", "deny" },
		func(e *audit.Entry) { e.Object, e.Decision = "o ", "deny" },
		func(e *audit.Entry) { e.Seq = 4 },
		func(e *audit.Entry) { e.Seq = 4 << 32 },
		func(e *audit.Entry) { e.Time = e.Time.Add(time.Microsecond) },
		func(e *audit.Entry) { e.Action = "login.fail" },
	}
	seen := make(map[string]int)
	for i, f := range variants {
		e := base
		f(&e)
		enc := string(e.Encode())
		if j, ok := seen[enc]; ok {
			t.Errorf("variants %d and %d encode the same", j, i)
		}
		seen[enc] = i
		got, err := audit.DecodeEntry([]byte(enc))
		if err != nil {
			t.Fatalf("variant %d: %v", i, err)
		}
		if diff := cmp.Diff(e, got); diff != "" {
			t.Errorf("variant %d round trip (-want +got):\n%s", i, diff)
		}
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	good := testEntry(2).Encode()
	tests := map[string][]byte{
		"empty":        nil,
		"bad version":  append([]byte("lifeline-audit-v2\n"), good[18:]...),
		"trailing":     append(append([]byte{}, good...), 0),
		"cut":          good[:len(good)-1],
		"cut seq":      good[:20],
		"huge length":  append(append([]byte{}, good[:26]...), 0xff, 0xff, 0xff, 0xff),
		"negative seq": append(append([]byte("lifeline-audit-v1\n"), 0x80, 0, 0, 0, 0, 0, 0, 0), good[26:]...),
		"time offset":  withTime(good, "2026-03-01T08:00:00+00:00"),
		"time zeros":   withTime(good, "2026-03-01T08:00:00.100Z"),
		"time nanos":   withTime(good, "2026-03-01T08:00:00.1234567Z"),
		"time junk":    withTime(good, "yesterday"),
	}
	for name, b := range tests {
		if _, err := audit.DecodeEntry(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// withTime replaces the time field of an encoded entry.
func withTime(enc []byte, ts string) []byte {
	const head = 18 + 8
	n := int(enc[head])<<24 | int(enc[head+1])<<16 | int(enc[head+2])<<8 | int(enc[head+3])
	out := append([]byte{}, enc[:head]...)
	out = append(out, byte(len(ts)>>24), byte(len(ts)>>16), byte(len(ts)>>8), byte(len(ts)))
	out = append(out, ts...)
	return append(out, enc[head+4+n:]...)
}

func TestValidate(t *testing.T) {
	ok := testEntry(5)
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid entry: %v", err)
	}
	system := audit.Entry{Time: testEpoch, Actor: "system", Action: "retention.purge", Decision: audit.DecisionAllow}
	if err := system.Validate(); err != nil {
		t.Errorf("minimal system entry: %v", err)
	}
	tests := []struct {
		name string
		edit func(e *audit.Entry)
		want string
	}{
		{"negative seq", func(e *audit.Entry) { e.Seq = -1 }, "negative seq"},
		{"zero time", func(e *audit.Entry) { e.Time = time.Time{} }, "time is not set"},
		{"time before 1970", func(e *audit.Entry) { e.Time = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC) }, "year 1969"},
		{"time after 9999", func(e *audit.Entry) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "year 10000"},
		{"no actor", func(e *audit.Entry) { e.Actor = "" }, "actor: required"},
		{"no action", func(e *audit.Entry) { e.Action = "" }, "action: required"},
		{"no decision", func(e *audit.Entry) { e.Decision = "" }, "decision: required"},
		{"decision", func(e *audit.Entry) { e.Decision = "maybe" }, `decision "maybe"`},
		{"decision case", func(e *audit.Entry) { e.Decision = "Allow" }, `decision "Allow"`},
		{"action charset", func(e *audit.Entry) { e.Action = "User.Add" }, "want [a-z]"},
		{"action space", func(e *audit.Entry) { e.Action = "user add" }, "want [a-z]"},
		{"action leading dot", func(e *audit.Entry) { e.Action = ".user" }, "want [a-z]"},
		{"long reason", func(e *audit.Entry) { e.Reason = strings.Repeat("a", 513) }, "reason: 513 bytes"},
		{"long object", func(e *audit.Entry) { e.Object = strings.Repeat("ü", 257) }, "object: 514 bytes"},
		{"invalid UTF-8", func(e *audit.Entry) { e.Reason = "ok\xff" }, "reason: not valid UTF-8"},
		{"newline", func(e *audit.Entry) { e.Reason = "a\nfake entry" }, "reason: control character U+000A"},
		{"NUL", func(e *audit.Entry) { e.Actor = "op\x00" }, "actor: control character U+0000"},
		{"DEL", func(e *audit.Entry) { e.RequestID = "r\x7f" }, "request id: control character U+007F"},
		{"C1", func(e *audit.Entry) { e.Role = "SV\u0085" }, "role: control character U+0085"},
		{"bidi override", func(e *audit.Entry) { e.Reason = "ok \u202e" }, "control character U+202E"},
		{"bidi isolate", func(e *audit.Entry) { e.Reason = "ok \u2067" }, "control character U+2067"},
		{"line separator", func(e *audit.Entry) { e.Reason = "a\u2028b" }, "control character U+2028"},
	}
	for _, tt := range tests {
		e := ok
		tt.edit(&e)
		err := e.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want error containing %q", tt.name, err, tt.want)
		}
	}
	e := ok
	e.Reason = strings.Repeat("a", 512)
	e.Object = "h:ünïcödé 😀"
	if err := e.Validate(); err != nil {
		t.Errorf("512-byte reason and non-ASCII object: %v", err)
	}
}

func TestHashesForAppend(t *testing.T) {
	m := &memLog{}
	for i := range 8 {
		if err := m.append(testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Entry 7 completes subtrees of 2, 4 and 8 leaves: 4 hashes.
	if got, want := len(m.hashes), int(tlog.StoredHashCount(8)); got != want {
		t.Errorf("stored %d hashes, want %d", got, want)
	}
	idx, hs, err := audit.HashesForAppend(8, testEntry(8), m)
	if err != nil {
		t.Fatal(err)
	}
	if idx[0] != tlog.StoredHashIndex(0, 8) || len(idx) != len(hs) || hs[0] != audit.LeafHash(testEntry(8)) {
		t.Errorf("indexes %v, hashes %d", idx, len(hs))
	}
	if _, _, err := audit.HashesForAppend(8, testEntry(9), m); err == nil || !strings.Contains(err.Error(), "seq 9 to a log of size 8") {
		t.Errorf("wrong seq: %v", err)
	}
	bad := testEntry(8)
	bad.Decision = ""
	if _, _, err := audit.HashesForAppend(8, bad, m); err == nil {
		t.Error("invalid entry appended")
	}
	if _, _, err := audit.HashesForAppend(23, testEntry(23), m); err == nil {
		t.Error("append past the end of the hash table: no error")
	}
}
