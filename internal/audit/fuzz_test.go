// SPDX-License-Identifier: AGPL-3.0-or-later

package audit_test

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline/internal/audit"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzOpenCheckpoint seeds")

// FuzzOpenCheckpoint: OpenCheckpoint never panics, and whatever it accepts is
// canonical: the signed text is exactly what SignCheckpoint would write.
func FuzzOpenCheckpoint(f *testing.F) {
	v := mustVerifier(f)
	f.Add([]byte("audit.test\n0\n" + tlog.Hash{}.String() + "\ntime 0\n\n— audit.test AAAA\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := audit.OpenCheckpoint(msg, v)
		if err != nil {
			return
		}
		text := msg[:bytes.LastIndex(msg, []byte("\n\n"))+1]
		want := fmt.Sprintf("%s\n%d\n%s\ntime %d\n", c.Origin, c.Size, c.Root, c.Time.Unix())
		if string(text) != want {
			t.Fatalf("accepted non-canonical text %q, canonical %q", text, want)
		}
		if c.Size < 0 || c.Time.Unix() < 0 || c.Origin == "" {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// FuzzCheckpointText reaches the body parser behind the signature check:
// it signs each fuzzed text with the test key, then opens it.
func FuzzCheckpointText(f *testing.F) {
	s, v := mustSigner(f), mustVerifier(f)
	f.Add("audit.test\n2500\n" + tlog.RecordHash([]byte("seed")).String() + "\ntime 1772352000\n")
	f.Add("audit.test\n05\nAAAA\ntime 5\nextra\n")
	f.Fuzz(func(t *testing.T, text string) {
		msg, err := note.Sign(&note.Note{Text: text}, s)
		if err != nil {
			return
		}
		c, err := audit.OpenCheckpoint(msg, v)
		if err != nil {
			return
		}
		if want := fmt.Sprintf("%s\n%d\n%s\ntime %d\n", c.Origin, c.Size, c.Root, c.Time.Unix()); text != want {
			t.Fatalf("accepted non-canonical text %q, canonical %q", text, want)
		}
	})
}

// FuzzEntryValidate: Validate never panics; a valid entry contains no line
// breaks or invalid UTF-8, and round-trips through Encode and DecodeEntry.
func FuzzEntryValidate(f *testing.F) {
	for i := range 4 {
		e := testEntry(i)
		f.Add(e.Seq, e.Time.Unix(), int64(e.Time.Nanosecond()), e.Actor, e.Role, e.Action, e.Object, e.Decision, e.Reason, e.RequestID)
	}
	f.Add(int64(-1), int64(0), int64(0), "a\nb", "", "x", "", "deny", "\u202e", "\xff")
	f.Add(int64(math.MaxInt64), int64(253402300799), int64(999999999), "system", "", "a.b-c_d", "h:1", "allow", strings.Repeat("é", 256), "")
	f.Fuzz(func(t *testing.T, seq, sec, nsec int64, actor, role, action, object, decision, reason, requestID string) {
		e := audit.Entry{Seq: seq, Time: time.Unix(sec, nsec), Actor: actor, Role: role, Action: action,
			Object: object, Decision: decision, Reason: reason, RequestID: requestID}
		enc := e.Encode() // must not panic on any entry
		if e.Validate() != nil {
			return
		}
		for _, s := range []string{actor, role, action, object, decision, reason, requestID} {
			if !utf8.ValidString(s) || strings.ContainsAny(s, "\n\r\x00\u2028\u202e") || len(s) > audit.MaxFieldLen {
				t.Fatalf("valid entry with field %q", s)
			}
		}
		got, err := audit.DecodeEntry(enc)
		if err != nil {
			t.Fatalf("decode a valid entry: %v", err)
		}
		want := e
		want.Time = e.Time.UTC().Truncate(time.Microsecond)
		if got != want {
			t.Fatalf("round trip: got %+v, want %+v", got, want)
		}
	})
}

// FuzzDecodeEntry: DecodeEntry never panics and accepts only canonical bytes.
func FuzzDecodeEntry(f *testing.F) {
	for i := range 4 {
		f.Add(testEntry(i).Encode())
	}
	f.Add([]byte("lifeline-audit-v1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := audit.DecodeEntry(b)
		if err != nil {
			return
		}
		if enc := e.Encode(); !bytes.Equal(enc, b) {
			t.Fatalf("decoded %+v re-encodes differently:\n%q\n%q", e, enc, b)
		}
	})
}

// seedCheckpoints are the FuzzOpenCheckpoint seeds: valid notes signed by the
// test key, and near misses. TestFuzzSeeds keeps the files in step.
func seedCheckpoints(t testing.TB) map[string][]byte {
	s := mustSigner(t)
	root := tlog.RecordHash([]byte("seed"))
	sign := func(text string) []byte {
		msg, err := note.Sign(&note.Note{Text: text}, s)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	witness, err := audit.NewSigner("PRIVATE+KEY+intruder.test+7a07d517+AdGw179BKT7ebwLFr2rWmamQAuoQoHqkmQaP9EizlVU0")
	if err != nil {
		t.Fatal(err)
	}
	valid := mustSign(t, s, audit.Checkpoint{Origin: "audit.test", Size: 2500, Root: root, Time: testEpoch})
	n, err := note.Open(valid, note.VerifierList(mustVerifier(t)))
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := note.Sign(n, witness)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"valid":          valid,
		"valid-empty":    mustSign(t, s, audit.Checkpoint{Origin: "audit.test", Size: 0, Root: tlog.Hash{}, Time: time.Unix(0, 0)}),
		"valid-max":      mustSign(t, s, audit.Checkpoint{Origin: "lifeline.example/audit", Size: math.MaxInt64, Root: root, Time: time.Unix(math.MaxInt64/2, 0)}),
		"valid-cosigned": cosigned,
		"other-key":      mustSign(t, witness, audit.Checkpoint{Origin: "audit.test", Size: 5, Root: root, Time: testEpoch}),
		"extra-line":     sign("audit.test\n5\n" + root.String() + "\ntime 5\nextra\n"),
		"leading-zero":   sign("audit.test\n05\n" + root.String() + "\ntime 5\n"),
		"no-time":        sign("audit.test\n5\n" + root.String() + "\n"),
		"short-root":     sign("audit.test\n5\nAAAA\ntime 5\n"),
		"bad-sig":        bytes.Replace(valid, []byte("\n2500\n"), []byte("\n2501\n"), 1),
		"unsigned":       []byte("audit.test\n5\n" + root.String() + "\ntime 5\n"),
	}
}

func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzOpenCheckpoint")
	seeds := seedCheckpoints(t)
	if *updateSeeds {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, msg := range seeds {
			data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", msg)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, msg := range seeds {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%v (run go test -run TestFuzzSeeds -update-seeds)", err)
		}
		if want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", msg); string(data) != want {
			t.Errorf("seed %s is stale (run go test -run TestFuzzSeeds -update-seeds)", name)
		}
		_, err = audit.OpenCheckpoint(msg, mustVerifier(t))
		if valid := strings.HasPrefix(name, "valid"); valid != (err == nil) {
			t.Errorf("seed %s: OpenCheckpoint error %v", name, err)
		}
	}
}
