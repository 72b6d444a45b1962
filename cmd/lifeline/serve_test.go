// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// startTimeout bounds how long a server may take to listen, and a stopped
// one to return.
const startTimeout = 15 * time.Second

// syncBuffer is a bytes.Buffer that a server may write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logLine is one JSON line of the operational log.
type logLine map[string]any

// logLines parses the JSON lines written so far; a line that is not JSON
// fails the test (the log must stay machine-readable).
func logLines(t testing.TB, s string) []logLine {
	t.Helper()
	var out []logLine
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if line == "" {
			continue
		}
		var l logLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("got log line %q, want JSON: %v", line, err)
		}
		out = append(out, l)
	}
	return out
}

// listenAddr returns the private door's address (console, API) from the
// web server's "listening" lines, or "".
func listenAddr(t testing.TB, log string) string {
	t.Helper()
	return doorAddr(t, log, "private")
}

// publicAddr returns the public door's address (webhooks), or "".
func publicAddr(t testing.TB, log string) string {
	t.Helper()
	return doorAddr(t, log, "public")
}

// doorAddr returns the addr of the "listening" line of a door, or "".
func doorAddr(t testing.TB, log, door string) string {
	t.Helper()
	// Only complete lines: the server may be halfway through the next.
	if i := strings.LastIndexByte(log, '\n'); i >= 0 {
		log = log[:i+1]
	} else {
		return ""
	}
	for _, l := range logLines(t, log) {
		if l["msg"] == "listening" && l["component"] == door {
			addr, _ := l["addr"].(string)
			return addr
		}
	}
	return ""
}

// waitFor polls cond every few milliseconds until it returns true, done
// yields (the server stopped early), or startTimeout passes.
func waitFor(t testing.TB, what string, done <-chan struct{}, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for !cond() {
		select {
		case <-done:
			if cond() {
				return
			}
			t.Fatalf("waiting for %s: got the server stopped, want it running", what)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: got nothing after %s", what, startTimeout)
		}
	}
}

// withDoors adds "--console-listen 127.0.0.1:0" to a serve or demo command
// line that gives --listen and not --console-listen, so that parallel
// tests never share the private door's default port.
func withDoors(args []string) []string {
	if slices.Contains(args, "--listen") && !slices.Contains(args, "--console-listen") {
		return append(slices.Clone(args), "--console-listen", "127.0.0.1:0")
	}
	return args
}

// server is a lifeline serve (or demo) running in process.
type server struct {
	addr   string // the private door: 127.0.0.1:port
	public string // the public door (webhooks)
	stdout *syncBuffer
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan struct{}
	err    error // run's error, once done is closed
}

// mustStartServe runs "lifeline args..." (serve or demo) in process until
// the test stops it, and waits until both doors listen.
func mustStartServe(t testing.TB, env map[string]string, args ...string) *server {
	t.Helper()
	args = withDoors(args)
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan struct{})}
	getenv := func(k string) string { return env[k] }
	go func() {
		defer close(s.done)
		s.err = run(ctx, append([]string{"lifeline"}, args...), getenv, strings.NewReader(""), s.stdout, s.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(startTimeout):
			t.Errorf("server did not stop within %s", startTimeout)
		}
	})
	waitFor(t, "listening", s.done, func() bool {
		s.addr, s.public = listenAddr(t, s.stderr.String()), publicAddr(t, s.stderr.String())
		return s.addr != "" && s.public != ""
	})
	for _, a := range []string{s.addr, s.public} {
		host, _, err := net.SplitHostPort(a)
		if err != nil || host != "127.0.0.1" {
			t.Fatalf("got listen address %q, want 127.0.0.1:port", a)
		}
	}
	return s
}

// stop cancels the server's context and returns run's error.
func (s *server) stop(t testing.TB) error {
	t.Helper()
	s.cancel()
	select {
	case <-s.done:
		return s.err
	case <-time.After(startTimeout):
		t.Fatalf("server did not stop within %s", startTimeout)
		return nil
	}
}

// loopbackClient talks to 127.0.0.1 only, never through a proxy.
var loopbackClient = &http.Client{
	Timeout: 5 * time.Second,
	Transport: &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, &net.AddrError{Err: "test client dials loopback only", Addr: addr}
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	},
}

// mustGet fetches a URL and returns the response with its body read.
func mustGet(t testing.TB, url string) (*http.Response, string) {
	t.Helper()
	resp, err := loopbackClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp, string(b)
}

func TestServeLifecycle(t *testing.T) {
	t.Parallel()
	// An empty data directory, and one that does not exist yet: serve
	// creates and migrates both.
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "new")} {
		mustInitKeys(t, dir)
		srv := mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0")
		base := "http://" + srv.addr

		tests := []struct {
			path       string
			wantStatus int
			wantBody   string // contained in the body
		}{
			{"/healthz", http.StatusOK, "ok\n"},
			{"/readyz", http.StatusOK, "ready\n"},
			{"/metrics", http.StatusOK, "lifeline_store_commits_total"},
			{"/metrics", http.StatusOK, "lifeline_store_writes_total"},
			{"/no-such-page", http.StatusNotFound, ""},
		}
		for _, tt := range tests {
			resp, body := mustGet(t, base+tt.path)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("GET %s: got status %d, want %d", tt.path, resp.StatusCode, tt.wantStatus)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET %s: got body %.200q, want it to contain %q", tt.path, body, tt.wantBody)
			}
			if tt.path == "/healthz" && body != tt.wantBody {
				t.Errorf("GET %s: got body %q, want %q", tt.path, body, tt.wantBody)
			}
			if got := resp.Header.Get("Content-Security-Policy"); got == "" {
				t.Errorf("GET %s: got no Content-Security-Policy, want one on every response", tt.path)
			}
			if got, want := resp.Header.Get("X-Content-Type-Options"), "nosniff"; got != want {
				t.Errorf("GET %s: got X-Content-Type-Options %q, want %q", tt.path, got, want)
			}
		}

		start := time.Now()
		if err := srv.stop(t); err != nil {
			t.Errorf("serve: got %v after cancel, want nil", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("serve took %s to stop, want a few seconds at most", d)
		}
		lines := logLines(t, srv.stderr.String())
		if got := lines[len(lines)-1]["msg"]; got != "stopped" {
			t.Errorf("got last log line %v, want msg stopped", lines[len(lines)-1])
		}
		for _, l := range lines {
			if l["level"] == "ERROR" {
				t.Errorf("got log line %v, want no errors", l)
			}
		}
		if got, latest := schemaVersion(t, dir); got != latest {
			t.Errorf("got schema version %d, want %d", got, latest)
		}
		if exists(t, filepath.Join(dir, auditSignerFile)) {
			t.Errorf("got %s, want the audit signing key only in the keyring", auditSignerFile)
		}
	}
}

// TestServeSchemaPolicy checks that serve never runs on a schema it does
// not know exactly, and migrates an old one only when told to.
func TestServeSchemaPolicy(t *testing.T) {
	t.Parallel()

	t.Run("newer", func(t *testing.T) {
		t.Parallel()
		dir := mustMigrate(t)
		mustInitKeys(t, dir)
		db, err := sql.Open("sqlite", filepath.Join(dir, sqlstore.FileName))
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (99, '2099-01-01T00:00:00Z')`)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, env := range []map[string]string{nil, {"LIFELINE_AUTO_MIGRATE": "1"}} {
			res := runLifeline(t, env, "serve", "--data", dir, "--listen", "127.0.0.1:0")
			checkOneLineError(t, res, 1)
			if !strings.Contains(res.stderr, "newer") {
				t.Errorf("got %q, want it to say the schema is newer", res.stderr)
			}
		}
		// The tools refuse it too.
		res := runLifeline(t, nil, "user", "list", "--data", dir)
		checkOneLineError(t, res, 1)
		res = runLifeline(t, nil, "migrate", "--data", dir)
		checkOneLineError(t, res, 1)
	})

	staleDir := func(t testing.TB) string {
		t.Helper()
		dir := t.TempDir()
		db := mustOpenDB(t, dir)
		if _, err := db.MigrateTo(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if got, latest := schemaVersion(t, dir); got != 1 || latest <= 1 {
			t.Fatalf("got schema %d of %d, want 1 of more", got, latest)
		}
		mustInitKeys(t, dir)
		return dir
	}

	t.Run("stale", func(t *testing.T) {
		t.Parallel()
		dir := staleDir(t)
		for _, env := range []map[string]string{nil, {"LIFELINE_AUTO_MIGRATE": "0"}, {"LIFELINE_AUTO_MIGRATE": "true"}} {
			res := runLifeline(t, env, "serve", "--data", dir, "--listen", "127.0.0.1:0")
			checkOneLineError(t, res, 1)
			if !strings.Contains(res.stderr, "older") || !strings.Contains(res.stderr, "lifeline migrate") {
				t.Errorf("got %q, want it to say the schema is older and to run lifeline migrate", res.stderr)
			}
		}
		if got, _ := schemaVersion(t, dir); got != 1 {
			t.Errorf("got schema version %d, want 1 (untouched)", got)
		}
		res := runLifeline(t, nil, "token", "list", "--data", dir)
		checkOneLineError(t, res, 1)
	})

	t.Run("stale with LIFELINE_AUTO_MIGRATE=1", func(t *testing.T) {
		t.Parallel()
		dir := staleDir(t)
		srv := mustStartServe(t, map[string]string{"LIFELINE_AUTO_MIGRATE": "1"}, "serve", "--data", dir, "--listen", "127.0.0.1:0")
		if resp, body := mustGet(t, "http://"+srv.addr+"/readyz"); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /readyz: got %d %q, want 200", resp.StatusCode, body)
		}
		if err := srv.stop(t); err != nil {
			t.Errorf("serve: got %v after cancel, want nil", err)
		}
		if got, latest := schemaVersion(t, dir); got != latest {
			t.Errorf("got schema version %d, want %d", got, latest)
		}
	})

	t.Run("listen address taken", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		dir := t.TempDir()
		mustInitKeys(t, dir)
		res := runLifeline(t, nil, "serve", "--data", dir, "--listen", ln.Addr().String())
		checkOneLineError(t, res, 1)
		if !strings.Contains(res.stderr, "listen") {
			t.Errorf("got %q, want it to name listen", res.stderr)
		}
	})
}

// TestDemoRefusesRealInstallation checks that demo never seeds invented
// staff into a data directory that holds real ones.
func TestDemoRefusesRealInstallation(t *testing.T) {
	t.Parallel()
	dir := mustMigrate(t)
	mustAddUser(t, dir, "olena", "admin")
	res := runLifeline(t, nil, "demo", "--data", dir, "--listen", "127.0.0.1:0")
	checkOneLineError(t, res, 2)
	if !strings.Contains(res.stderr, "real installation") {
		t.Errorf("got %q, want it to refuse a real installation", res.stderr)
	}
	if exists(t, filepath.Join(dir, demoLoginFile)) {
		t.Errorf("got %s written, want nothing", demoLoginFile)
	}
	users := mustRun(t, nil, "user", "list", "--data", dir)
	if strings.Contains(users, "demo-") {
		t.Errorf("got users %q, want no demo staff", users)
	}
}
