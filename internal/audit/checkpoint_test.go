// SPDX-License-Identifier: AGPL-3.0-or-later

package audit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/audit"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestCheckpointRoundTrip(t *testing.T) {
	c := audit.Checkpoint{
		Origin: "audit.test",
		Size:   2500,
		Root:   tlog.RecordHash([]byte("root")),
		Time:   time.Date(2026, 3, 1, 8, 41, 40, 0, time.UTC),
	}
	msg := mustSign(t, mustSigner(t), c)
	wantText := "audit.test\n2500\n" + c.Root.String() + "\ntime 1772354500\n\n— audit.test "
	if !strings.HasPrefix(string(msg), wantText) {
		t.Errorf("note:\n%s\nwant prefix:\n%s", msg, wantText)
	}
	got, err := audit.OpenCheckpoint(msg, mustVerifier(t))
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Errorf("got %+v, want %+v", got, c)
	}

	// A witness cosignature by another key is ignored.
	witness, err := otherSigner("witness.test")
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(mustVerifier(t)))
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := note.Sign(n, witness)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := audit.OpenCheckpoint(cosigned, mustVerifier(t)); err != nil || got != c {
		t.Errorf("cosigned: %+v, %v", got, err)
	}

	// Sub-second time is dropped; the origin must be sane.
	c.Time = c.Time.Add(900 * time.Millisecond)
	got, err = audit.OpenCheckpoint(mustSign(t, mustSigner(t), c), mustVerifier(t))
	if err != nil || !got.Time.Equal(c.Time.Truncate(time.Second)) {
		t.Errorf("got %v, %v", got.Time, err)
	}
	for _, origin := range []string{"", "two words", "a\nb", strings.Repeat("o", 257)} {
		if _, err := audit.SignCheckpoint(mustSigner(t), audit.Checkpoint{Origin: origin, Time: testEpoch}); err == nil {
			t.Errorf("origin %q signed", origin)
		}
	}
	if _, err := audit.SignCheckpoint(mustSigner(t), audit.Checkpoint{Origin: "o", Size: -1, Time: testEpoch}); err == nil {
		t.Error("negative size signed")
	}
}

func TestOpenCheckpointRejects(t *testing.T) {
	root := tlog.RecordHash([]byte("root")).String()
	bodies := map[string]string{
		"no time line":         "audit.test\n5\n" + root + "\n",
		"extra line":           "audit.test\n5\n" + root + "\ntime 5\nextra\n",
		"empty origin":         "\n5\n" + root + "\ntime 5\n",
		"origin with space":    "audit test\n5\n" + root + "\ntime 5\n",
		"size leading zero":    "audit.test\n05\n" + root + "\ntime 5\n",
		"size plus":            "audit.test\n+5\n" + root + "\ntime 5\n",
		"size negative":        "audit.test\n-5\n" + root + "\ntime 5\n",
		"size overflow":        "audit.test\n9223372036854775808\n" + root + "\ntime 5\n",
		"size hex":             "audit.test\n0x5\n" + root + "\ntime 5\n",
		"size empty":           "audit.test\n\n" + root + "\ntime 5\n",
		"root short":           "audit.test\n5\nAAAA\ntime 5\n",
		"root unpadded":        "audit.test\n5\n" + strings.TrimRight(root, "=") + "\ntime 5\n",
		"root non-canonical":   "audit.test\n5\n" + root[:42] + "B=\ntime 5\n",
		"root url base64":      "audit.test\n5\n" + strings.NewReplacer("+", "-", "/", "_").Replace(tlog.Hash{0xfb, 0xff}.String()) + "\ntime 5\n",
		"time keyword":         "audit.test\n5\n" + root + "\nTime 5\n",
		"time two spaces":      "audit.test\n5\n" + root + "\ntime  5\n",
		"time leading zero":    "audit.test\n5\n" + root + "\ntime 05\n",
		"time negative":        "audit.test\n5\n" + root + "\ntime -5\n",
		"time fraction":        "audit.test\n5\n" + root + "\ntime 5.5\n",
		"trailing space":       "audit.test\n5\n" + root + "\ntime 5 \n",
		"lines swapped":        "audit.test\n" + root + "\n5\ntime 5\n",
		"windows line endings": "audit.test\r\n5\r\n" + root + "\r\ntime 5\r\n",
	}
	for name, body := range bodies {
		msg, err := note.Sign(&note.Note{Text: body}, mustSigner(t))
		if err != nil {
			// note refuses to sign some of these bodies at all; that is fine too.
			continue
		}
		if c, err := audit.OpenCheckpoint(msg, mustVerifier(t)); err == nil {
			t.Errorf("%s: opened as %+v", name, c)
		} else if !strings.Contains(err.Error(), "checkpoint") {
			t.Errorf("%s: unclear error %v", name, err)
		}
	}

	good := mustSign(t, mustSigner(t), audit.Checkpoint{Origin: "audit.test", Size: 5, Time: testEpoch})
	other, err := otherSigner("intruder.test")
	if err != nil {
		t.Fatal(err)
	}
	forged := mustSign(t, other, audit.Checkpoint{Origin: "audit.test", Size: 5, Time: testEpoch})
	sigFlipped := []byte(string(good))
	sigFlipped[len(sigFlipped)-5] ^= 0x01
	msgs := []struct {
		name, msg, want string
	}{
		{"unknown key", string(forged), "not signed by key audit.test (signed by unknown keys intruder.test+"},
		{"flipped signature", string(sigFlipped), "bad signature by key audit.test"},
		{"flipped body", strings.Replace(string(good), "\n5\n", "\n6\n", 1), "bad signature by key audit.test"},
		{"unsigned", "audit.test\n5\n" + root + "\ntime 5\n", "malformed note"},
		{"empty", "", "malformed note"},
		{"huge", strings.Repeat("a", 9000), "more than 8192"},
	}
	for _, tt := range msgs {
		_, err := audit.OpenCheckpoint([]byte(tt.msg), mustVerifier(t))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want error containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := audit.OpenCheckpoint(good, nil); err == nil {
		t.Error("nil verifier: no error")
	}
}

func TestKeys(t *testing.T) {
	skey, vkey, err := audit.GenerateKey("audit.lifeline.example")
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.NewSigner(skey + "\n") // as read from a file
	if err != nil {
		t.Fatal(err)
	}
	v, err := audit.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "audit.lifeline.example" || s.KeyHash() != v.KeyHash() {
		t.Errorf("signer %s+%08x, verifier %s+%08x", s.Name(), s.KeyHash(), v.Name(), v.KeyHash())
	}
	for _, name := range []string{"", "a b", "a+b"} {
		if _, _, err := audit.GenerateKey(name); err == nil {
			t.Errorf("GenerateKey(%q): no error", name)
		}
	}
	if _, err := audit.NewSigner(vkey); err == nil {
		t.Error("NewSigner(verifier key): no error")
	}
	if _, err := audit.NewSigner("PRIVATE+KEY+x+00000000+AAAA"); err == nil || strings.Contains(err.Error(), "AAAA") {
		t.Errorf("NewSigner(bad key): %v (must not echo the key)", err)
	}
	if _, err := audit.NewVerifier(skey); err == nil {
		t.Error("NewVerifier(signer key): no error")
	}
}

// TestVerifierKeyOfSignerKey: the public half derived from a signer key is
// the one GenerateKey made with it (over many keys: base64 holds '+', the
// field separator), and anything else is refused without echoing it.
func TestVerifierKeyOfSignerKey(t *testing.T) {
	for range 200 {
		skey, vkey, err := audit.GenerateKey("lifeline.audit")
		if err != nil {
			t.Fatal(err)
		}
		got, err := audit.VerifierKey([]byte(skey))
		if err != nil || got != vkey {
			t.Fatalf("VerifierKey: got %q, %v; want %q", got, err, vkey)
		}
	}
	for _, bad := range []string{"", "lifeline.audit+01234567+AQ==", "PRIVATE+KEY+x+00000000+AQ==", "PRIVATE+KEY+lifeline.audit+00000000+AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij"} {
		if _, err := audit.VerifierKey([]byte(bad)); err == nil || strings.Contains(err.Error(), bad[min(len(bad), 12):]) && bad != "" {
			t.Errorf("VerifierKey(%q): got %v, want an error that does not echo it", bad, err)
		}
	}
}
