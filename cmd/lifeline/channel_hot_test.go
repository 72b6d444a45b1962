// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
)

// postStatus posts a Telegram update to hook and returns the status.
func postStatus(t *testing.T, hook, secret string, body []byte) int {
	t.Helper()
	resp, err := channeltest.PostTelegram(hook, secret, body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestChannelAddedAndRemovedWhileServingTakesEffect: a channel added with
// the command line while serve runs takes webhooks at once, its
// replacement's new secret counts at once, and a removed one stops at once,
// all without a restart; the command says that the server reloaded.
func TestChannelAddedAndRemovedWhileServingTakesEffect(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	unseal := mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	fake := channeltest.NewTelegramFake(testBotToken)
	t.Cleanup(fake.Close)
	srv := mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal)
	hook := "http://" + srv.public + "/hooks/telegram/bot"

	if code := postStatus(t, hook, "first-secret", channeltest.TelegramUpdate(7001, 100000901, "Есть кто?")); code != http.StatusNotFound {
		t.Fatalf("before the channel exists: got %d, want 404", code)
	}
	out := mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot",
		"--bot-token", testBotToken, "--webhook-secret", "first-secret", "--api-url", fake.URL())
	if !strings.Contains(out, "reloaded its channels") {
		t.Errorf("channel add said %q, want it to say the running server reloaded", out)
	}
	if code := postStatus(t, hook, "first-secret", channeltest.TelegramUpdate(7002, 100000901, "Есть кто?")); code != http.StatusOK {
		t.Fatalf("after channel add: got %d, want 200 without a restart", code)
	}
	waitFor(t, "greeting sent through the new channel", srv.done, func() bool { return len(fake.Sent()) >= 1 })

	// Replaced with a new webhook secret: the old one no longer opens.
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot", "--replace",
		"--bot-token", testBotToken, "--webhook-secret", "second-secret", "--api-url", fake.URL())
	if code := postStatus(t, hook, "first-secret", channeltest.TelegramUpdate(7003, 100000901, "Алло")); code != http.StatusUnauthorized {
		t.Errorf("the replaced secret: got %d, want 401", code)
	}
	if code := postStatus(t, hook, "second-secret", channeltest.TelegramUpdate(7004, 100000901, "Алло")); code != http.StatusOK {
		t.Errorf("the new secret: got %d, want 200", code)
	}

	out = mustRun(t, nil, "channel", "remove", "--data", dir, "--kind", "telegram", "--name", "bot")
	if !strings.Contains(out, "reloaded its channels") {
		t.Errorf("channel remove said %q, want it to say the running server reloaded", out)
	}
	if code := postStatus(t, hook, "second-secret", channeltest.TelegramUpdate(7005, 100000901, "Алло")); code != http.StatusNotFound {
		t.Errorf("after channel remove: got %d, want 404 without a restart", code)
	}
	channeltest.MustContainNone(t, "server log", srv.stderr.String(), "100000901", testBotToken, "first-secret", "second-secret")

	// Without a server, the command says when the change takes effect.
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot",
		"--bot-token", testBotToken, "--webhook-secret", "second-secret", "--api-url", fake.URL())
	if !strings.Contains(out, "No server is running") || !strings.Contains(out, "next lifeline serve") {
		t.Errorf("channel add without a server said %q, want it to say the next start loads it", out)
	}
}

// TestChannelAddRefusesToReplaceWithoutReplace: adding a channel under a
// name that exists is a usage error naming --replace, and the stored
// configuration is the old one still.
func TestChannelAddRefusesToReplaceWithoutReplace(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot", "--bot-token", testBotToken, "--webhook-secret", "kept-secret")
	before := storedChannelConfig(t, dir)

	res := runLifeline(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot", "--bot-token", testBotToken, "--webhook-secret", "other-secret")
	checkOneLineError(t, res, 2)
	if !strings.Contains(res.stderr, "--replace") || !strings.Contains(res.stderr, "exists") {
		t.Errorf("stderr %q, want it to say the channel exists and name --replace", res.stderr)
	}
	if after := storedChannelConfig(t, dir); after != before {
		t.Error("the refused add changed the stored configuration")
	}
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot", "--replace", "--bot-token", testBotToken, "--webhook-secret", "other-secret")
	if after := storedChannelConfig(t, dir); after == before {
		t.Error("add --replace left the stored configuration as it was")
	}
}

// TestChannelAddRefusesOneBotTwice: a second channel with the same bot (the
// same token, or another token of the same bot) or the same Twilio number
// is refused, and the database holds no token in the clear.
func TestChannelAddRefusesOneBotTwice(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot", "--bot-token", testBotToken, "--webhook-secret", "s1")
	for _, token := range []string{testBotToken, "123456:a-regenerated-token"} {
		res := runLifeline(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot2", "--bot-token", token, "--webhook-secret", "s2")
		checkOneLineError(t, res, 2)
		if !strings.Contains(res.stderr, "telegram/bot ") || !strings.Contains(res.stderr, "same bot") {
			t.Errorf("second channel of one bot: stderr %q, want it to name telegram/bot and the same bot", res.stderr)
		}
		if strings.Contains(res.stderr, token) {
			t.Errorf("the refusal echoes the token: %q", res.stderr)
		}
	}
	// Another bot is another channel.
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot2", "--bot-token", "654321:another-bot-token", "--webhook-secret", "s2")
	twilio := []string{"--account-sid", "AC" + strings.Repeat("0", 32), "--auth-token", strings.Repeat("a", 32), "--number", "+15005550006"}
	mustRun(t, nil, append([]string{"channel", "add", "twilio", "--data", dir, "--name", "sms"}, twilio...)...)
	res := runLifeline(t, nil, append([]string{"channel", "add", "twilio", "--data", dir, "--name", "sms2"}, twilio...)...)
	checkOneLineError(t, res, 2)

	out := mustRun(t, nil, "channel", "list", "--data", dir)
	if strings.Contains(out, "bot2") != true || strings.Contains(out, "sms2") {
		t.Errorf("channel list %q: want bot2 and no sms2", out)
	}
	db := mustOpenDB(t, dir)
	defer db.Close()
	list, err := db.Channels(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		for _, secret := range []string{"123456", "654321", "another-bot-token", "test-token", "+15005550006"} {
			if strings.Contains(string(c.Config)+string(c.AccountRef), secret) {
				t.Errorf("channel %s/%s stores %q in the clear", c.Kind, c.Name, secret)
			}
		}
		if len(c.AccountRef) != 32 {
			t.Errorf("channel %s/%s: account ref of %d bytes, want a 32-byte keyed hash", c.Kind, c.Name, len(c.AccountRef))
		}
	}
}

// TestChannelListShowsMode: channel list says webhook or polling for each
// channel, and a polling channel has no webhook path.
func TestChannelListShowsMode(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "hook", "--bot-token", testBotToken, "--webhook-secret", "s1")
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "poll", "--bot-token", "654321:polling-bot-token", "--mode", "polling")
	out := mustRun(t, nil, "channel", "list", "--data", dir)
	for _, want := range []string{
		`(?m)^KIND\s+NAME\s+MODE\s+WEBHOOK PATH$`,
		`(?m)^telegram\s+hook\s+webhook\s+/hooks/telegram/hook$`,
		`(?m)^telegram\s+poll\s+polling\s+- \(getUpdates\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("channel list:\n%s\nwant a line matching %s", out, want)
		}
	}
}

// storedChannelConfig is the one stored channel's sealed configuration.
func storedChannelConfig(t *testing.T, dir string) string {
	t.Helper()
	db := mustOpenDB(t, dir)
	defer db.Close()
	list, err := db.Channels(t.Context())
	if err != nil || len(list) != 1 {
		t.Fatalf("channels %v, %v; want one", list, err)
	}
	return string(list[0].Config)
}
