// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

// pathParam is a {name} or {name...} of a ServeMux pattern.
var pathParam = regexp.MustCompile(`\{[a-z]+(\.\.\.)?\}`)

// concrete returns the method and a path that the pattern matches, each
// parameter filled with value.
func concrete(pattern, value string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{$}", "")
	path = pathParam.ReplaceAllString(path, value)
	if strings.HasSuffix(path, "/") && path != "/" && !strings.HasSuffix(pattern, "{$}") {
		path += "x" // a subtree pattern such as "GET /static/"
	}
	return method, path
}

// hookStub stands in for the channels' webhook handler: it answers 200 and
// counts what reached it.
type hookStub struct{ calls int }

func (h *hookStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls++
	io.WriteString(w, "ok")
}

// twoDoors is the web server of serve, with its console, API and webhooks.
func twoDoors(f *fixture, hooks http.Handler) *web.Server {
	return web.NewServer(nil, web.Config{
		Routes:   f.con.WebRoutes(),
		API:      &web.API{Store: f.db, Sealed: f.keeper.Sealed},
		Webhooks: hooks,
		ReadyDetail: func() string {
			if f.keeper.Sealed() {
				return "keys: sealed"
			}
			return "keys: unsealed"
		},
	}, nil, nil)
}

// TestTwoDoorsPublicServesOnlyWebhooks: every route of the private door
// (console, API, unseal, /readyz, /metrics), with every method, answers a
// plain 404 on the public door, sealed or not, alike; so do other methods
// on the webhook paths, and paths ServeMux would redirect. The webhooks
// and /healthz are served there, and the webhooks only there.
func TestTwoDoorsPublicServesOnlyWebhooks(t *testing.T) {
	f := newFixture(t, console.Config{DisableBackoff: true})
	hooks := &hookStub{}
	srv := twoDoors(f, hooks)
	conv := f.inbound(lifeline.ChannelTelegram, "bot", "100000501", "Здравствуйте")

	private := srv.Patterns()
	for _, want := range []string{"GET /readyz", "GET /metrics", "GET /unseal", "POST /unseal", "GET /login", "GET /api/v1/conversations"} {
		if !slices.Contains(private, want) {
			t.Fatalf("private door: got patterns %v, want %q among them", private, want)
		}
	}
	if got, want := srv.PublicPatterns(), []string{"GET /healthz", "GET /hooks/{kind}/{name}", "POST /hooks/{kind}/{name}", "POST /hooks/{kind}/{name}/{endpoint}"}; !slices.Equal(got, want) {
		t.Errorf("public door: got patterns %v, want %v", got, want)
	}

	send := func(h http.Handler, method, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "https://hotline.example"+path, strings.NewReader("{}"))
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	// headers are a 404's headers but its request id: the same whatever the
	// server's state.
	headers := func(rec *httptest.ResponseRecorder) string {
		h := rec.Header().Clone()
		h.Del("X-Request-Id")
		var b strings.Builder
		h.Write(&b)
		return b.String()
	}
	var first string
	for _, state := range []string{"unsealed", "sealed"} {
		if state == "sealed" {
			f.keeper.Seal()
		}
		n := 0
		for _, p := range private {
			if p == "GET /healthz" {
				continue
			}
			_, path := concrete(p, string(conv))
			for _, method := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"} {
				rec := send(srv.PublicHandler(), method, path)
				if rec.Code != http.StatusNotFound {
					t.Errorf("%s: public door %s %s: got %d, want 404", state, method, path, rec.Code)
					continue
				}
				if method != "HEAD" && rec.Body.String() != "404 page not found\n" {
					t.Errorf("%s: public door %s %s: got body %q, want the plain 404", state, method, path, rec.Body.String())
				}
				if rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("Strict-Transport-Security") == "" {
					t.Errorf("%s: public door %s %s: got headers %v, want the security headers", state, method, path, rec.Header())
				}
				if first == "" {
					first = headers(rec)
				} else if h := headers(rec); h != first {
					t.Errorf("%s: public door %s %s: got headers\n%s\nwant those of every other 404\n%s", state, method, path, h, first)
				}
				n++
			}
		}
		for _, odd := range [][2]string{
			{"DELETE", "/hooks/telegram/bot"}, {"PUT", "/hooks/telegram/bot"}, {"GET", "/hooks/sms/x/sms"},
			{"POST", "/hooks//telegram/bot"}, {"POST", "/hooks/telegram/../../readyz"}, {"GET", "/"}, {"GET", "/api/v1/"},
		} {
			if rec := send(srv.PublicHandler(), odd[0], odd[1]); rec.Code != http.StatusNotFound {
				t.Errorf("%s: public door %s %s: got %d %v, want 404", state, odd[0], odd[1], rec.Code, rec.Header())
			}
		}
		if n < 6*40 {
			t.Fatalf("%s: tried %d requests, want every private route with six methods", state, n)
		}
		// The public door's own routes.
		before := hooks.calls
		for _, path := range []string{"/hooks/telegram/bot", "/hooks/sms/sms/sms"} {
			if rec := send(srv.PublicHandler(), "POST", path); rec.Code != http.StatusOK || rec.Body.String() != "ok" {
				t.Errorf("%s: public door POST %s: got %d %q, want the webhook handler's 200", state, path, rec.Code, rec.Body.String())
			}
		}
		if rec := send(srv.PublicHandler(), "GET", "/hooks/whatsapp/wa"); rec.Code != http.StatusOK {
			t.Errorf("%s: public door GET /hooks/whatsapp/wa (verification): got %d, want 200", state, rec.Code)
		}
		if rec := send(srv.PublicHandler(), "GET", "/healthz"); rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
			t.Errorf("%s: public door GET /healthz: got %d %q, want 200 ok", state, rec.Code, rec.Body.String())
		}
		if hooks.calls != before+3 {
			t.Errorf("%s: the webhook handler got %d requests, want 3", state, hooks.calls-before)
		}
		// Webhooks are not on the private door.
		before = hooks.calls
		if rec := send(srv.Handler(), "POST", "/hooks/telegram/bot"); rec.Code != http.StatusNotFound || hooks.calls != before {
			t.Errorf("%s: private door POST /hooks/telegram/bot: got %d, want 404 and the handler untouched", state, rec.Code)
		}
		// The private door tells its prober the state, as it should.
		if rec := send(srv.Handler(), "GET", "/readyz"); !strings.Contains(rec.Body.String(), "keys: "+state) {
			t.Errorf("%s: private door GET /readyz: got %q, want it to say keys: %s", state, rec.Body.String(), state)
		}
	}
}

// TestSealedAPIAnswers503: while the keys are sealed, every route of the
// JSON API, with a valid token of a role that may use it, answers 503 with
// the JSON error, names no conversation and queues nothing; unsealed, the
// same token lists the conversation.
func TestSealedAPIAnswers503(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, console.Config{DisableBackoff: true})
	srv := twoDoors(f, nil)
	conv := f.inbound(lifeline.ChannelTelegram, "bot", "100000502", "CANARYSEALEDAPI")
	op := lifeline.Operator{ID: lifeline.NewOperatorID(), Username: "op-sv", Role: lifeline.RoleSupervisor}
	if err := f.db.CreateOperator(ctx, lifeline.CLIActor, &op, sqlstore.Credentials{PasswordHash: "$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", TOTPSecret: []byte("JBSWY3DPEHPK3PXP"), Enrolled: true}); err != nil {
		t.Fatal(err)
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := auth.TokenID(token)
	if err := f.db.CreateToken(ctx, lifeline.CLIActor, op.Username, id, hash); err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string) (int, string) {
		req := httptest.NewRequest(method, "https://console.example"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, body := call("GET", "/api/v1/conversations", ""); code != http.StatusOK || !strings.Contains(body, string(conv)) {
		t.Fatalf("unsealed: GET /api/v1/conversations: got %d %s, want 200 with the conversation", code, body)
	}
	outbound := func() int {
		var n int
		if err := f.db.Read(ctx, func(tx *sqlstore.Tx) error {
			return tx.QueryRow(`SELECT COUNT(*) FROM messages WHERE direction = 'out'`).Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := outbound()

	f.keeper.Seal()
	var routes int
	for _, p := range srv.Patterns() {
		if !strings.Contains(p, " /api/") {
			continue
		}
		routes++
		method, path := concrete(p, string(conv))
		code, body := call(method, path, `{"text": "Здравствуйте", "name": "hotline_followup", "language": "ru"}`)
		var e map[string]string
		if code != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e["error"], "sealed") {
			t.Errorf("sealed: %s %s: got %d %s, want 503 with the JSON error", method, path, code, body)
		}
		if strings.Contains(body, string(conv)) || strings.Contains(body, "CANARY") {
			t.Errorf("sealed: %s %s: got %s, want nothing of the conversation", method, path, body)
		}
	}
	if routes < 4 {
		t.Fatalf("got %d API routes, want every one of them (4 or more)", routes)
	}
	if n := outbound(); n != before {
		t.Errorf("sealed: %d replies queued, want none", n-before)
	}
	// Without a valid token the answer stays 401, sealed or not: it tells
	// a stranger nothing about the keys.
	req := httptest.NewRequest("GET", "https://console.example/api/v1/conversations", nil)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("sealed, no token: got %d, want 401", rec.Code)
	}
}
