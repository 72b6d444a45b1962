// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// privatePaths are what only the private door serves: the console, the
// API, the unseal page, readiness and metrics.
var privatePaths = []string{"/", "/login", "/unseal", "/inbox", "/static/app.js", "/readyz", "/metrics", "/api/v1/conversations"}

// TestTwoDoorsServe: a real sealed serve listens on two addresses. The
// public one takes a provider's signed webhook (stored while sealed) and
// answers /healthz, and 404 to the console, the API, /unseal, /readyz and
// /metrics; the private one serves those, and 404 to the webhook.
func TestTwoDoorsServe(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	fake := channeltest.NewTelegramFake(testBotToken)
	defer fake.Close()
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot", "--bot-token", testBotToken, "--webhook-secret", "doors-secret", "--api-url", fake.URL())
	srv := mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--console-listen", "127.0.0.1:0")
	if srv.addr == srv.public {
		t.Fatalf("got one address %s for both doors, want two", srv.addr)
	}
	public, private := "http://"+srv.public, "http://"+srv.addr

	for _, p := range privatePaths {
		if resp, body := mustGet(t, public+p); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "seal") {
			t.Errorf("public door GET %s: got %d %q, want a plain 404", p, resp.StatusCode, body)
		}
		if resp, _ := mustGet(t, private+p); resp.StatusCode == http.StatusNotFound {
			t.Errorf("private door GET %s: got 404, want it served", p)
		}
	}
	if resp, body := mustGet(t, private+"/readyz"); !strings.Contains(body, "keys: sealed") {
		t.Errorf("private door GET /readyz: got %d %q, want it to say sealed", resp.StatusCode, body)
	}
	if resp, body := mustGet(t, public+"/healthz"); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("public door GET /healthz: got %d %q, want 200 ok", resp.StatusCode, body)
	}

	update := channeltest.TelegramUpdate(8100, 100000811, "Здравствуйте")
	resp, err := channeltest.PostTelegram(private+"/hooks/telegram/bot", "doors-secret", update)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("private door POST webhook: got %d, want 404 (webhooks only on the public door)", resp.StatusCode)
	}
	resp, err = channeltest.PostTelegram(public+"/hooks/telegram/bot", "doors-secret", update)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("public door POST webhook: got %d, want 200", resp.StatusCode)
	}
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlstore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got int
	if err := db.QueryRow(`SELECT COUNT(*) FROM messages WHERE direction = 'in'`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != 1 {
		t.Errorf("stored %d inbound messages, want the one posted to the public door", got)
	}
}

// TestTwoDoorsDemoPrintsBoth: the demo prints the private door (console,
// API) and the public one (webhooks), each serving its own; the invented
// soldiers write through the public door and appear in the API.
func TestTwoDoorsDemoPrintsBoth(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "demo")
	srv := mustStartServe(t, nil, "demo", "--data", dir, "--listen", "127.0.0.1:0", "--console-listen", "127.0.0.1:0")
	private, public := "http://"+srv.addr, "http://"+srv.public
	var out string
	waitFor(t, "the demo's addresses and token", srv.done, func() bool {
		out = srv.stdout.String()
		return strings.Contains(out, "TOKEN=")
	})
	for _, want := range []string{
		"running at " + private + " ",
		"private door (console, API, unseal, /readyz, /metrics): " + private + "\n",
		"public door (webhooks and /healthz only; 404 for the rest): " + public + "\n",
		"curl " + public + "/healthz\n",
		"curl " + private + "/readyz\n",
		"Open the console at " + private + "/ ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo stdout lacks %q:\n%s", want, out)
		}
	}
	if resp, _ := mustGet(t, private+"/login"); resp.StatusCode != http.StatusOK {
		t.Errorf("console at the printed private door: got %d, want 200", resp.StatusCode)
	}
	if resp, _ := mustGet(t, public+"/login"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("console at the printed public door: got %d, want 404", resp.StatusCode)
	}
	token := regexp.MustCompile(`TOKEN=(llt_[a-z2-7]+)`).FindStringSubmatch(out)[1]
	deadline := time.Now().Add(startTimeout)
	for {
		code, page := apiDo(t, "GET", private+"/api/v1/conversations", token, nil)
		if convs, _ := page["conversations"].([]any); code == 200 && len(convs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no soldier's conversation after %s (last answer %d %v): the demo's webhooks did not reach the public door", startTimeout, code, page)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
