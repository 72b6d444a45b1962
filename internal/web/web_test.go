// SPDX-License-Identifier: AGPL-3.0-or-later

package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lifeline-hotline/lifeline/internal/web"
	"github.com/prometheus/client_golang/prometheus"
)

// Canaries stand for personal data in a request: none may reach a log line,
// a metric or another response.
const (
	canaryPath   = "KANAREIKA4821"
	canaryQuery  = "79161234567"
	canaryHeader = "IvanKanareikin"
)

var canaries = []string{canaryPath, canaryQuery, canaryHeader}

// testMaxBody is the body cap of test servers, small to keep tests fast.
const testMaxBody = 64

// logBuffer collects log output written from several goroutines and lets a
// test wait for a line.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	waiters map[string]chan struct{}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s, ch := range b.waiters {
		if bytes.Contains(p, []byte(s)) {
			close(ch)
			delete(b.waiters, s)
		}
	}
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor returns a channel closed once a line containing s is written
// (one waiter per s).
func (b *logBuffer) waitFor(s string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan struct{})
	if bytes.Contains(b.buf.Bytes(), []byte(s)) {
		close(ch)
		return ch
	}
	if b.waiters == nil {
		b.waiters = make(map[string]chan struct{})
	}
	b.waiters[s] = ch
	return ch
}

// lines returns the log lines whose msg is msg, decoded.
func (b *logBuffer) lines(tb testing.TB, msg string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			tb.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// assertNoCanary fails the test if s holds any canary.
func assertNoCanary(tb testing.TB, what, s string) {
	tb.Helper()
	for _, c := range canaries {
		if strings.Contains(s, c) {
			tb.Errorf("%s contains canary %q:\n%s", what, c, s)
		}
	}
}

// MustNewServer returns a server with test routes, its log and its registry.
// It logs through a plain JSON handler, not logs.New, so that tests see
// everything the server logs, unredacted.
func MustNewServer(tb testing.TB, cfg web.Config, ready func(context.Context) error) (*web.Server, *logBuffer, *prometheus.Registry) {
	tb.Helper()
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = testMaxBody
	}
	logs := &logBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	s := web.NewServer(logger, cfg, ready, reg)

	s.Handle("POST /test/body", handleEcho(0))
	s.Handle("POST /test/small", handleEcho(16))
	s.Handle("GET /test/item/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "item")
	}))
	s.Handle("GET /test/panic/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=leak") // must not survive into the 500
		panic(fmt.Sprintf("cannot handle %s %s %s", r.PathValue("id"), r.URL.RawQuery, r.Header.Get("X-Canary")))
	}))
	s.Handle("GET /test/strip", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range securityHeaderNames {
			w.Header().Del(h)
		}
		w.Header().Del("X-Request-Id")
		fmt.Fprintln(w, "stripped")
	}))
	return s, logs, reg
}

// handleEcho reads the body with limit and answers its length, or 413.
func handleEcho(limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := web.ReadBody(w, r, limit)
		if web.IsTooLarge(err) {
			http.Error(w, "Request body too large.", http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			http.Error(w, "Bad request.", http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, len(body))
	})
}

var securityHeaderNames = []string{
	"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control",
	"Cross-Origin-Opener-Policy", "Cross-Origin-Resource-Policy", "Permissions-Policy",
	"Strict-Transport-Security", "X-Frame-Options",
}

var wantSecurityHeaders = map[string]string{
	"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
	"X-Content-Type-Options":       "nosniff",
	"Referrer-Policy":              "no-referrer",
	"Cache-Control":                "no-store",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Permissions-Policy":           "camera=(), microphone=(), geolocation=()",
	"Strict-Transport-Security":    "max-age=63072000; includeSubDomains",
	"X-Frame-Options":              "DENY",
}

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

// do sends a request to srv and returns the response with its body read.
func do(tb testing.TB, srv *httptest.Server, method, path string, body io.Reader, header http.Header) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, string(b)
}

// unsized hides the length of a body, so that the client sends it chunked.
func unsized(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	s, _, _ := MustNewServer(t, web.Config{}, nil)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	tests := []struct {
		name, method, path string
		body               io.Reader
		wantStatus         int
	}{
		{"healthz", "GET", "/healthz", nil, http.StatusOK},
		{"not found", "GET", "/nope/" + canaryPath, nil, http.StatusNotFound},
		{"method not allowed", "POST", "/healthz", nil, http.StatusMethodNotAllowed},
		{"body too large", "POST", "/test/body", strings.NewReader(strings.Repeat("x", testMaxBody+1)), http.StatusRequestEntityTooLarge},
		{"panic", "GET", "/test/panic/x", nil, http.StatusInternalServerError},
		{"handler deleted them", "GET", "/test/strip", nil, http.StatusOK},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := do(t, srv, tt.method, tt.path, tt.body, http.Header{"X-Request-Id": {"forged-" + canaryHeader}})
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			for name, want := range wantSecurityHeaders {
				if got := resp.Header.Values(name); len(got) != 1 || got[0] != want {
					t.Errorf("%s: got %q, want %q", name, got, want)
				}
			}
			id := resp.Header.Get("X-Request-Id")
			if !requestIDPattern.MatchString(id) {
				t.Errorf("X-Request-Id: got %q, want 24 hex digits", id)
			}
			if seen[id] {
				t.Errorf("X-Request-Id %q repeated", id)
			}
			seen[id] = true
			if got := resp.Header.Get("Set-Cookie"); got != "" {
				t.Errorf("Set-Cookie: got %q, want none", got)
			}
		})
	}
}

func TestConfigCSP(t *testing.T) {
	const csp = "default-src 'self'; frame-ancestors 'none'"
	s, _, _ := MustNewServer(t, web.Config{CSP: csp}, nil)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if got := rec.Header().Get("Content-Security-Policy"); got != csp {
		t.Errorf("Content-Security-Policy: got %q, want %q", got, csp)
	}
}

func TestBodyLimit(t *testing.T) {
	s, _, _ := MustNewServer(t, web.Config{}, nil)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	tests := []struct {
		name       string
		path       string
		body       io.Reader
		wantStatus int
		wantBody   string
	}{
		{"at the server cap", "/test/body", strings.NewReader(strings.Repeat("x", testMaxBody)), 200, "64\n"},
		{"over the server cap", "/test/body", strings.NewReader(strings.Repeat("x", testMaxBody+1)), 413, "Request body too large.\n"},
		{"over the server cap, chunked", "/test/body", unsized(strings.Repeat("x", 10*testMaxBody)), 413, "Request body too large.\n"},
		{"at the handler's limit", "/test/small", strings.NewReader(strings.Repeat("x", 16)), 200, "16\n"},
		{"over the handler's limit", "/test/small", strings.NewReader(strings.Repeat("x", 17)), 413, "Request body too large.\n"},
		{"over the handler's limit, chunked", "/test/small", unsized(strings.Repeat("x", 17)), 413, "Request body too large.\n"},
		{"empty", "/test/body", nil, 200, "0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, srv, "POST", tt.path, tt.body, nil)
			if resp.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	s, logs, _ := MustNewServer(t, web.Config{}, nil)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	header := http.Header{"X-Canary": {canaryHeader}, "Authorization": {"Bearer " + canaryHeader}}
	ok, _ := do(t, srv, "GET", "/test/item/"+canaryPath+"?phone="+canaryQuery, nil, header)
	notFound, _ := do(t, srv, "GET", "/"+canaryPath+"?phone="+canaryQuery, nil, header)
	odd, _ := do(t, srv, canaryHeader, "/healthz", nil, header) // a made-up method
	health, _ := do(t, srv, "GET", "/healthz", nil, nil)

	got := logs.lines(t, "request")
	for _, line := range got {
		delete(line, "time")
		if _, ok := line["latency_ms"].(float64); !ok {
			t.Errorf("latency_ms: got %v, want a number", line["latency_ms"])
		}
		delete(line, "latency_ms")
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "request", "route": "GET /test/item/{id}", "method": "GET", "status": 200.0,
			"request_id": ok.Header.Get("X-Request-Id"), "outcome": "ok"},
		{"level": "INFO", "msg": "request", "route": "unmatched", "method": "GET", "status": 404.0,
			"request_id": notFound.Header.Get("X-Request-Id"), "outcome": "client_error"},
		{"level": "INFO", "msg": "request", "route": "unmatched", "method": "other", "status": 405.0,
			"request_id": odd.Header.Get("X-Request-Id"), "outcome": "client_error"},
		{"level": "DEBUG", "msg": "request", "route": "GET /healthz", "method": "GET", "status": 200.0,
			"request_id": health.Header.Get("X-Request-Id"), "outcome": "ok"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("access log mismatch (-want +got):\n%s", diff)
	}
	assertNoCanary(t, "log", logs.String())
}

func TestRecoverPanic(t *testing.T) {
	s, logs, _ := MustNewServer(t, web.Config{}, nil)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	resp, body := do(t, srv, "GET", "/test/panic/"+canaryPath+"?phone="+canaryQuery, nil,
		http.Header{"X-Canary": {canaryHeader}})
	if resp.StatusCode != 500 || body != "Internal error.\n" {
		t.Errorf("got %d %q, want 500 %q", resp.StatusCode, body, "Internal error.\n")
	}
	assertNoCanary(t, "response body", body)

	panics := logs.lines(t, "panic")
	if len(panics) != 1 {
		t.Fatalf("got %d panic lines, want 1:\n%s", len(panics), logs.String())
	}
	p := panics[0]
	if stack, _ := p["stack"].(string); !strings.Contains(stack, "goroutine ") || !strings.Contains(stack, "runtime/debug.Stack") {
		t.Errorf("stack: got %q, want a goroutine stack", stack)
	}
	if got, want := p["error"], "panic with a value of type string"; got != want {
		t.Errorf("error: got %q, want %q", got, want)
	}
	if got, want := p["route"], "GET /test/panic/{id}"; got != want {
		t.Errorf("route: got %q, want %q", got, want)
	}
	if got, want := p["request_id"], resp.Header.Get("X-Request-Id"); got != want {
		t.Errorf("request_id: got %q, want %q", got, want)
	}
	assertNoCanary(t, "log", logs.String())
	if strings.Contains(logs.String(), "phone=") {
		t.Errorf("log contains the query:\n%s", logs.String())
	}
	reqs := logs.lines(t, "request")
	if len(reqs) != 1 || reqs[0]["status"] != 500.0 || reqs[0]["outcome"] != "server_error" {
		t.Errorf("access log: got %v, want one line with status 500, outcome server_error", reqs)
	}
}

func TestRecoverPanicRuntimeError(t *testing.T) {
	s, logs, _ := MustNewServer(t, web.Config{}, nil)
	s.Handle("GET /test/index", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var items []string
		fmt.Fprint(w, items[len(r.URL.RawQuery)])
	}))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/test/index?"+canaryQuery, nil))
	if rec.Code != 500 {
		t.Errorf("status: got %d, want 500", rec.Code)
	}
	panics := logs.lines(t, "panic")
	if len(panics) != 1 || panics[0]["error"] != "panic: runtime error: index out of range [11] with length 0" {
		t.Errorf("got %v, want one panic line with the runtime's message", panics)
	}
	assertNoCanary(t, "log", logs.String())
}

// TestRecoverPanicAfterWrite shows that a panic after the response started
// aborts the connection, so that the client sees an error rather than a
// complete-looking response.
func TestRecoverPanicAfterWrite(t *testing.T) {
	s, logs, _ := MustNewServer(t, web.Config{}, nil)
	s.Handle("GET /test/half", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "half a respo")
		http.NewResponseController(w).Flush()
		panic("too late")
	}))
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/test/half")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Errorf("reading the body: got no error, want a truncated response")
	}
	if n := len(logs.lines(t, "panic")); n != 1 {
		t.Errorf("got %d panic lines, want 1", n)
	}
}

// TestErrAbortHandler shows that http.ErrAbortHandler reaches net/http,
// which closes the connection without logging it.
func TestErrAbortHandler(t *testing.T) {
	s, logs, _ := MustNewServer(t, web.Config{}, nil)
	s.Handle("GET /test/abort", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))

	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/test/abort", nil))
	}()
	if n := len(logs.lines(t, "panic")); n != 0 {
		t.Errorf("got %d panic lines, want 0", n)
	}
	reqs := logs.lines(t, "request")
	if len(reqs) != 1 || reqs[0]["outcome"] != "server_error" {
		t.Errorf("access log: got %v, want one line with outcome server_error", reqs)
	}
}

func TestRequestIDInContext(t *testing.T) {
	s, _, _ := MustNewServer(t, web.Config{}, nil)
	var got string
	s.Handle("GET /test/id", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = web.RequestID(r.Context())
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/test/id", nil)
	req.Header.Set("X-Request-Id", "forged")
	s.Handler().ServeHTTP(rec, req)
	if want := rec.Header().Get("X-Request-Id"); got != want || !requestIDPattern.MatchString(got) {
		t.Errorf("RequestID: got %q, want %q (24 hex digits)", got, want)
	}
}

func TestPatterns(t *testing.T) {
	s := web.NewServer(nil, web.Config{}, nil, nil)
	want := []string{"GET /healthz", "GET /metrics", "GET /readyz"}
	if diff := cmp.Diff(want, s.Patterns()); diff != "" {
		t.Errorf("Patterns mismatch (-want +got):\n%s", diff)
	}
}

// TestServerErrorLog shows that the http.Server's own complaints reach the
// server's logger.
func TestServerErrorLog(t *testing.T) {
	s, logs, _ := MustNewServer(t, web.Config{}, nil)
	s.Handle("GET /test/twice", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		w.WriteHeader(http.StatusTeapot) // net/http logs "superfluous response.WriteHeader call"
	}))
	url, stop := MustServe(t, s)
	defer stop()

	resp, err := http.Get(url + "/test/twice")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-logs.waitFor("superfluous"):
	case <-time.After(5 * time.Second):
		t.Fatalf("no server error log line:\n%s", logs.String())
	}
	lines := logs.lines(t, "http server")
	if len(lines) != 1 || lines[0]["component"] != "http.Server" {
		t.Errorf("got %v, want one line from component http.Server", lines)
	}
}
