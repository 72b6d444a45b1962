// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/intake"
)

// TestTelegramPolling drives a Telegram channel in polling mode end to end:
// channel add sets no webhook; the server deletes any, fetches updates with
// getUpdates, stores a doubled update once and greets once; the offset is
// saved, so a restart takes only what is new; removing the channel stops
// its poller.
func TestTelegramPolling(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	unseal := mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	fake := channeltest.NewTelegramFake(testBotToken)
	t.Cleanup(fake.Close)

	if res := runLifeline(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot", "--bot-token", testBotToken,
		"--mode", "sometimes", "--api-url", fake.URL()); res.code == 0 || !strings.Contains(res.stderr, "--mode") {
		t.Errorf("--mode sometimes: got exit %d, stderr %q; want a usage error about --mode", res.code, res.stderr)
	}
	// No --webhook-secret: polling needs none. --public-url registers no
	// webhook in polling mode.
	out := mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot", "--bot-token", testBotToken,
		"--mode", "polling", "--public-url", "https://hotline.example", "--api-url", fake.URL())
	if !strings.Contains(out, "Polling") {
		t.Errorf("channel add said %q, want it to mention polling", out)
	}
	if n := len(fake.Webhooks()); n != 0 {
		t.Fatalf("channel add --mode polling called setWebhook %d times, want 0", n)
	}

	srv := mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal)
	first := channeltest.TelegramUpdate(6001, 100000444, "Здравствуйте. Хочу сдаться.")
	fake.QueueUpdate(first)
	fake.QueueUpdate(first) // delivered twice: stored once
	waitFor(t, "greeting sent", srv.done, func() bool { return len(fake.Sent()) >= 1 })
	waitFor(t, "updates confirmed", srv.done, func() bool { return fake.Pending() == 0 })
	time.Sleep(100 * time.Millisecond)
	if sent := fake.Sent(); len(sent) != 1 || sent[0].ChatID != 100000444 || sent[0].Text != intake.DefaultGreeting {
		t.Fatalf("sent %+v, want one greeting to chat 100000444", sent)
	}
	if fake.WebhookDeletes() == 0 {
		t.Error("the server never called deleteWebhook")
	}
	if err := srv.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	log := srv.stderr.String()

	db := mustOpenDB(t, dir)
	v, err := db.Meta(t.Context(), "telegram-offset/bot")
	db.Close()
	if err != nil || v != "123456:6002" {
		t.Fatalf("saved offset %q, %v; want 123456:6002", v, err)
	}

	// A restart: the old update comes again (Telegram never had the
	// confirmation, say), and a new one from someone else.
	fake.QueueUpdate(first)
	fake.QueueUpdate(channeltest.TelegramUpdate(6002, 100000445, "Я тоже."))
	srv = mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal)
	waitFor(t, "second greeting", srv.done, func() bool { return len(fake.Sent()) >= 2 })
	waitFor(t, "updates confirmed", srv.done, func() bool { return fake.Pending() == 0 })
	time.Sleep(100 * time.Millisecond)
	if sent := fake.Sent(); len(sent) != 2 || sent[1].ChatID != 100000445 {
		t.Fatalf("sent %+v, want the first greeting and one to chat 100000445", sent)
	}

	// Removing the channel stops its poller: Telegram keeps what comes next.
	mustRun(t, nil, "channel", "remove", "--data", dir, "--kind", "telegram", "--name", "bot")
	fake.QueueUpdate(channeltest.TelegramUpdate(6003, 100000446, "Есть кто?"))
	time.Sleep(300 * time.Millisecond)
	if n := fake.Pending(); n != 1 {
		t.Errorf("Telegram holds %d updates after the channel was removed, want 1 (nobody polls)", n)
	}

	log += srv.stderr.String()
	channeltest.MustContainNone(t, "server log", log, "100000444", "100000445", "Хочу сдаться", testBotToken, "test-token-abcdef")
}
