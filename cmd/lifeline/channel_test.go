// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/intake"
)

const testBotToken = "123456:test-token-abcdef"

// mustTelegramServer starts serve on a fresh data directory with one
// Telegram channel, "bot", whose API is a fake, and an intake operator's
// token for the JSON API (supervisors reply only by break-glass).
func mustTelegramServer(t *testing.T) (srv *server, fake *channeltest.TelegramFake, hook, secret, token string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	unseal := mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	fake = channeltest.NewTelegramFake(testBotToken)
	t.Cleanup(fake.Close)
	secret = "webhook-secret-for-tests"
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot",
		"--bot-token", testBotToken, "--webhook-secret", secret, "--api-url", fake.URL())
	mustRun(t, nil, "user", "add", "--data", dir, "--username", "sofia", "--role", "supervisor")
	mustRun(t, nil, "user", "add", "--data", dir, "--username", "olena", "--role", "intake")
	mustApprove(t, dir, "sofia", "olena")
	token, _ = mustSeedToken(t, dir, "olena")
	srv = mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal)
	return srv, fake, "http://" + srv.public + "/hooks/telegram/bot", secret, token
}

func apiDo(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := channeltest.LoopbackClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestTelegramEndToEnd drives the whole text path with real-format
// payloads: a soldier's update arrives, is stored once however often it is
// delivered, gets the greeting through the Bot API; the conversation shows
// in the JSON API; an operator's reply reaches the fake Telegram; a forged
// update is refused and stores nothing.
func TestTelegramEndToEnd(t *testing.T) {
	t.Parallel()
	srv, fake, hook, secret, token := mustTelegramServer(t)
	base := "http://" + srv.addr

	body := channeltest.TelegramUpdate(5001, 100000777, "Здравствуйте. Хочу сдаться.")
	var wg sync.WaitGroup
	for range 8 { // the same update, delivered 8 times at once
		wg.Go(func() {
			resp, err := channeltest.PostTelegram(hook, secret, body)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("delivery: got %d, want 200", resp.StatusCode)
			}
		})
	}
	wg.Wait()

	// A forged update: no secret, or the wrong one.
	for _, s := range []string{"", "wrong-secret"} {
		resp, err := channeltest.PostTelegram(hook, s, channeltest.TelegramUpdate(5002, 100000888, "forged"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("forged update with secret %q: got %d, want 401", s, resp.StatusCode)
		}
	}

	// The greeting goes out through the Bot API, once.
	waitFor(t, "greeting sent", srv.done, func() bool { return len(fake.Sent()) >= 1 })
	if sent := fake.Sent(); len(sent) != 1 || sent[0].ChatID != 100000777 || sent[0].Text != intake.DefaultGreeting {
		t.Fatalf("sent %+v, want one greeting to chat 100000777", sent)
	}

	code, page := apiDo(t, "GET", base+"/api/v1/conversations", token, nil)
	convs, _ := page["conversations"].([]any)
	if code != 200 || len(convs) != 1 {
		t.Fatalf("GET conversations: %d %v, want one conversation", code, page)
	}
	conv := convs[0].(map[string]any)
	id := conv["id"].(string)
	if conv["kind"] != "telegram" || conv["channel"] != "bot" || conv["messages"].(float64) != 2 {
		t.Errorf("conversation %v", conv)
	}
	code, msgs := apiDo(t, "GET", base+"/api/v1/conversations/"+id+"/messages", token, nil)
	list, _ := msgs["messages"].([]any)
	if code != 200 || len(list) != 2 || list[0].(map[string]any)["text"] != "Здравствуйте. Хочу сдаться." {
		t.Fatalf("GET messages: %d %v", code, msgs)
	}

	code, out := apiDo(t, "POST", base+"/api/v1/conversations/"+id+"/messages", token, map[string]string{"text": "Мы получили ваше сообщение."})
	if code != http.StatusAccepted || out["status"] != "queued" {
		t.Fatalf("POST reply: %d %v, want 202 queued", code, out)
	}
	waitFor(t, "reply sent", srv.done, func() bool { return len(fake.Sent()) >= 2 })
	if sent := fake.Sent(); sent[1].Text != "Мы получили ваше сообщение." || sent[1].ChatID != 100000777 {
		t.Fatalf("sent %+v", sent)
	}
	waitFor(t, "reply marked sent", srv.done, func() bool {
		_, msgs := apiDo(t, "GET", base+"/api/v1/conversations/"+id+"/messages", token, nil)
		list, _ := msgs["messages"].([]any)
		return len(list) == 3 && list[2].(map[string]any)["status"] == "sent"
	})

	// A button press is stored and answered, so the soldier's app stops
	// spinning.
	press, err := os.ReadFile(filepath.Join("..", "..", "internal", "channel", "telegram", "testdata", "callback.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := channeltest.PostTelegram(hook, secret, press)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "callback answered", srv.done, func() bool { return len(fake.CallbackAnswers()) == 1 })
	if got := fake.CallbackAnswers(); got[0] != "4382947382947382901" {
		t.Errorf("answered %q, want the press's id", got)
	}

	// The API refuses a missing or bad token, and a role without the right.
	if code, _ := apiDo(t, "GET", base+"/api/v1/conversations", "", nil); code != http.StatusUnauthorized {
		t.Errorf("no token: got %d, want 401", code)
	}
	if code, _ := apiDo(t, "GET", base+"/api/v1/conversations", "llt_"+strings.Repeat("a", 52), nil); code != http.StatusUnauthorized {
		t.Errorf("unknown token: got %d, want 401", code)
	}
	// Nothing personal reached the log.
	channeltest.MustContainNone(t, "server log", srv.stderr.String(), "100000777", "Хочу сдаться", secret, testBotToken, "Мы получили")
}

// TestTelegramWhileSealed: a sealed server still takes messages, answers
// 200, and the API says 503 for their content until unsealed.
func TestTelegramWhileSealed(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"LIFELINE_INTAKE_KEY_FILE": filepath.Join(t.TempDir(), "intake")}
	out := mustRun(t, env, "init", "--data", dir, "--shares", "3", "--threshold", "2")
	shares := shareLine.FindAllStringSubmatch(out, -1)
	mustRun(t, env, "migrate", "--data", dir)
	fake := channeltest.NewTelegramFake(testBotToken)
	defer fake.Close()
	mustRun(t, env, "channel", "add", "telegram", "--data", dir, "--name", "bot", "--bot-token", testBotToken, "--webhook-secret", "s3cret-token", "--api-url", fake.URL())
	mustRun(t, env, "user", "add", "--data", dir, "--username", "olena", "--role", "supervisor")
	token, _ := mustSeedTokenEnv(t, env, dir, "olena")
	srv := mustStartServe(t, env, "serve", "--data", dir, "--listen", "127.0.0.1:0")
	hook := "http://" + srv.public + "/hooks/telegram/bot"
	for i := range 3 {
		resp, err := channeltest.PostTelegram(hook, "s3cret-token", channeltest.TelegramUpdate(int64(7000+i), 100000999, fmt.Sprintf("сообщение %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sealed intake: got %d, want 200", resp.StatusCode)
		}
	}
	// Sealed, the API reads nothing, not even the plaintext workflow of
	// the list (issue 11 §5).
	if code, page := apiDo(t, "GET", "http://"+srv.addr+"/api/v1/conversations", token, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("conversations while sealed: %d %v, want 503", code, page)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(fake.Sent()); n != 0 {
		t.Fatalf("sent %d while sealed, want 0 (nothing can be opened)", n)
	}
	runLifelineInput(t, nil, shares[0][1]+"\n"+shares[1][1]+"\n", "unseal", "--data", dir)
	code, page := apiDo(t, "GET", "http://"+srv.addr+"/api/v1/conversations", token, nil)
	convs, _ := page["conversations"].([]any)
	if code != 200 || len(convs) != 1 {
		t.Fatalf("conversations after unseal: %d %v, want the one", code, page)
	}
	id := convs[0].(map[string]any)["id"].(string)
	code, msgs := apiDo(t, "GET", "http://"+srv.addr+"/api/v1/conversations/"+id+"/messages", token, nil)
	list, _ := msgs["messages"].([]any)
	if code != 200 || len(list) != 4 {
		t.Fatalf("messages after unseal: %d %v, want 3 and the greeting", code, msgs)
	}
}
