// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/keys"
)

// TestSenderBlockRoundTrip: a supervisor blocks a Telegram sender at the
// door of a running, sealed server; its update is answered 200 and nothing
// is stored; unblocked, its next update is stored. The audit log shows the
// reference's prefix, never the id.
func TestSenderBlockRoundTrip(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	fake := channeltest.NewTelegramFake(testBotToken)
	defer fake.Close()
	const secret = "s3cret-token"
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot", "--bot-token", testBotToken, "--webhook-secret", secret, "--api-url", fake.URL())
	srv := mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0")
	hook := "http://" + srv.public + "/hooks/telegram/bot"
	post := func(update int64) {
		t.Helper()
		resp, err := channeltest.PostTelegram(hook, secret, channeltest.TelegramUpdate(update, 123456789, fmt.Sprint("сообщение ", update)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("update %d: got %d, want 200", update, resp.StatusCode)
		}
	}

	// Bad invocations are one-line usage errors.
	for _, args := range [][]string{
		{"sender", "block", "--data", dir, "--kind", "telegram", "--id", "123456789"},
		{"sender", "block", "--data", dir, "--kind", "telegram", "--id", "0123", "--reason", "r"},
		{"sender", "block", "--data", dir, "--kind", "voice", "--id", "123456789", "--reason", "r"},
		{"sender", "block", "--data", dir, "--kind", "sms", "--id", "89161234567", "--reason", "r"},
		{"sender", "block", "--data", dir, "--kind", "telegram", "--id", "123456789", "--reason", "flood from 123456789"},
	} {
		checkOneLineError(t, runLifeline(t, nil, args...), 2)
	}

	mustRun(t, nil, "sender", "block", "--data", dir, "--kind", "telegram", "--id", " 123456789 ", "--reason", "provocations")
	post(9001)
	post(9001) // the provider's retry
	db := mustOpenDB(t, dir)
	if got, err := db.Count(t.Context()); err != nil || got.Contacts != 0 || got.Messages != 0 || got.Events != 1 {
		t.Fatalf("while blocked: got %+v, %v; want nothing stored but the dedupe key", got, err)
	}
	if _, body := mustGet(t, "http://"+srv.addr+"/metrics"); !strings.Contains(body, `lifeline_intake_dropped_total{reason="blocked"} 1`) ||
		strings.Contains(body, `reason="flood"`) || !strings.Contains(body, "lifeline_intake_deferred_total 0") ||
		!strings.Contains(body, "lifeline_intake_quarantined_total 0") {
		t.Errorf("metrics: want one dropped as blocked (the only reason), none deferred or quarantined; got\n%s", body)
	}

	mustRun(t, nil, "sender", "unblock", "--data", dir, "--kind", "telegram", "--id", "123456789", "--reason", "resolved")
	post(9002)
	if got, err := db.Count(t.Context()); err != nil || got.Contacts != 1 || got.Messages != 2 {
		t.Fatalf("after unblock: got %+v, %v; want the message and its greeting", got, err)
	}
	checkOneLineError(t, runLifeline(t, nil, "sender", "unblock", "--data", dir, "--kind", "telegram", "--id", "123456789", "--reason", "again"), 1)

	k, err := keys.Open(filepath.Join(dir, keysDir))
	if err != nil {
		t.Fatal(err)
	}
	object := auditObjectOf(t, dir, "telegram/"+hex.EncodeToString(k.IntakeRef("telegram", "sender", "123456789")[:8]))
	var actions []string
	for _, r := range readAuditRows(t, dir) {
		channeltest.MustContainNone(t, "audit entry", fmt.Sprintf("%+v", r), "123456789")
		if strings.HasPrefix(r.Action, "sender.") {
			if r.Object != object {
				t.Errorf("%s: object %q, want %q", r.Action, r.Object, object)
			}
			actions = append(actions, r.Action+" "+r.Reason)
		}
	}
	if want := "sender.block provocations|sender.unblock resolved"; strings.Join(actions, "|") != want {
		t.Errorf("audited %q, want %q", strings.Join(actions, "|"), want)
	}
	channeltest.MustContainNone(t, "server log", srv.stderr.String(), "123456789")
}
