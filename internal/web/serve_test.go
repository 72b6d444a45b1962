// SPDX-License-Identifier: AGPL-3.0-or-later

package web_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/web"
)

// waitLimit bounds every wait in these tests; none should come near it.
const waitLimit = 10 * time.Second

// MustListen listens on a free loopback port.
func MustListen(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}

// MustServe runs s.ListenAndServe on a loopback port and returns its base
// URL and a stop func that cancels it and fails the test unless it returns nil.
func MustServe(tb testing.TB, s *web.Server) (url string, stop func()) {
	tb.Helper()
	ln := MustListen(tb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx, nil, ln) }()
	return "http://" + ln.Addr().String(), func() {
		tb.Helper()
		cancel()
		if err := wait(tb, done); err != nil {
			tb.Errorf("ListenAndServe: %v", err)
		}
	}
}

// wait receives from ch, failing the test after waitLimit.
func wait[T any](tb testing.TB, ch <-chan T) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		tb.Fatalf("nothing received after %s", waitLimit)
		panic("unreachable")
	}
}

type result struct {
	status int
	body   string
	err    error
}

// get sends a GET on its own connection and reports the result on the
// returned channel.
func get(url string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get(url)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	return ch
}

// blockingServer returns a server whose GET /test/block signals started and
// then waits for release (or for its connection to be closed).
func blockingServer(tb testing.TB, cfg web.Config) (s *web.Server, logs *logBuffer, started <-chan struct{}, release chan<- struct{}) {
	s, logs, _ = MustNewServer(tb, cfg, nil)
	startedc, releasec := make(chan struct{}), make(chan struct{})
	s.Handle("GET /test/block", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(startedc)
		select {
		case <-releasec:
			io.WriteString(w, "finished")
		case <-r.Context().Done():
		}
	}))
	return s, logs, startedc, releasec
}

// TestListenAndServeGracefulShutdown shows that a request in flight when
// the context is cancelled still gets its response, and that
// ListenAndServe then returns nil.
func TestListenAndServeGracefulShutdown(t *testing.T) {
	s, logs, started, release := blockingServer(t, web.Config{})
	ln := MustListen(t)
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.ListenAndServe(ctx, nil, ln) }()

	resp := get(url + "/test/block")
	wait(t, started)
	cancel()
	wait(t, logs.waitFor(`"msg":"shutting down"`))
	close(release)

	if r := wait(t, resp); r.err != nil || r.status != 200 || r.body != "finished" {
		t.Errorf("in-flight request: got %d %q %v, want 200 %q", r.status, r.body, r.err, "finished")
	}
	if err := wait(t, served); err != nil {
		t.Errorf("ListenAndServe: got %v, want nil", err)
	}
	if r := wait(t, get(url+"/healthz")); r.err == nil {
		t.Errorf("request after shutdown: got %d, want a refused connection", r.status)
	}
}

// TestListenAndServeBudgetExceeded shows that a request that outlives the
// shutdown budget is cut off and ListenAndServe says so.
func TestListenAndServeBudgetExceeded(t *testing.T) {
	s, _, started, release := blockingServer(t, web.Config{ShutdownBudget: 50 * time.Millisecond})
	defer close(release)
	ln := MustListen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.ListenAndServe(ctx, nil, ln) }()

	resp := get("http://" + ln.Addr().String() + "/test/block")
	wait(t, started)
	cancel()

	err := wait(t, served)
	if err == nil || !strings.Contains(err.Error(), "shutdown budget of 50ms exceeded") {
		t.Errorf("ListenAndServe: got %v, want the budget exceeded", err)
	}
	if r := wait(t, resp); r.err == nil {
		t.Errorf("cut-off request: got %d %q, want an error", r.status, r.body)
	}
}

func TestListenAndServeClosedListener(t *testing.T) {
	s, _, _ := MustNewServer(t, web.Config{}, nil)
	ln := MustListen(t)
	ln.Close()
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(context.Background(), nil, ln) }()
	if err := wait(t, done); err == nil {
		t.Errorf("got nil, want an error")
	}
}

// TestListenAndServeLimits shows that the http.Server's header limit applies.
func TestListenAndServeLimits(t *testing.T) {
	s, _, _ := MustNewServer(t, web.Config{}, nil)
	url, stop := MustServe(t, s)
	defer stop()

	req, err := http.NewRequest("GET", url+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Big", strings.Repeat("x", 32<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status: got %d, want 431", resp.StatusCode)
	}
	if r := wait(t, get(url+"/healthz")); r.err != nil || r.status != 200 {
		t.Errorf("GET /healthz: got %d %v, want 200", r.status, r.err)
	}
}

// TestListenAndServeOptionsStar shows that "OPTIONS *", which net/http
// would answer itself, goes through the middleware too.
func TestListenAndServeOptionsStar(t *testing.T) {
	s, _, _ := MustNewServer(t, web.Config{}, nil)
	url, stop := MustServe(t, s)
	defer stop()

	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("OPTIONS *: status %d, X-Frame-Options %q, want DENY", resp.StatusCode, got)
	}
}

// TestSlowClientsDoNotStarve is HOSTILE-INPUTS A-05 (slowloris): 200
// connections that trickle a request's headers byte by byte do not keep a
// normal request from being served at once; the server closes them itself
// at its header timeout.
func TestSlowClientsDoNotStarve(t *testing.T) {
	s, _, _ := MustNewServer(t, web.Config{}, nil)
	url, stop := MustServe(t, s)
	defer stop()
	addr := strings.TrimPrefix(url, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.Write([]byte("POST /hooks/telegram/bot HTTP/1.1\r\nHost: x\r\nX-Slow: ")) // and never the rest
	}
	if r := wait(t, get(url+"/healthz")); r.err != nil || r.status != 200 {
		t.Fatalf("GET /healthz beside 200 slow clients: %d %v, want 200", r.status, r.err)
	}
	// Each slow connection is cut by the server, not left open forever.
	conns[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err := conns[0].Read(make([]byte, 1))
	if err == nil || time.Since(start) > 9*time.Second {
		t.Errorf("a slow client's connection was not closed by the server: %v after %s", err, time.Since(start))
	}
}
