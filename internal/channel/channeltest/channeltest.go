// SPDX-License-Identifier: AGPL-3.0-or-later

// Package channeltest supports the channel adapters' tests and the demo: a
// recording Receiver, a transport that refuses to dial anything but the
// loopback, a webhook runner, and fakes of the providers' APIs that speak
// their real formats (telegram.go, whatsapp.go, twilio.go).
package channeltest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
)

// Recorder is a Receiver that keeps what it receives, once per (channel,
// event id), as the real intake does.
type Recorder struct {
	mu     sync.Mutex
	seen   map[string]bool
	events []channel.Event
	// Fail, if set, makes Receive fail (a store outage).
	Fail error
}

// Receive implements channel.Receiver.
func (r *Recorder) Receive(_ context.Context, kind lifeline.ChannelKind, name string, events []channel.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Fail != nil {
		return r.Fail
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	for _, e := range events {
		key := string(kind) + "/" + name + "/" + e.ID
		if r.seen[key] {
			continue
		}
		r.seen[key] = true
		r.events = append(r.events, e)
	}
	return nil
}

// Events returns what was stored, in order.
func (r *Recorder) Events() []channel.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]channel.Event(nil), r.events...)
}

// Quarantined records quarantined bodies.
type Quarantined struct {
	mu      sync.Mutex
	Reasons []string
	Bodies  [][]byte
}

// Quarantine implements channel.Quarantine.
func (q *Quarantined) Quarantine(_ context.Context, _ lifeline.ChannelKind, _, reason string, body []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.Reasons = append(q.Reasons, reason)
	q.Bodies = append(q.Bodies, append([]byte(nil), body...))
	return nil
}

// Len is the number of quarantined bodies.
func (q *Quarantined) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.Bodies)
}

// Mux mounts a webhook handler on the routes lifeline serves it at.
func Mux(h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/{kind}/{name}", h)
	mux.Handle("POST /hooks/{kind}/{name}/{endpoint}", h)
	mux.Handle("GET /hooks/{kind}/{name}", h)
	return mux
}

// Harness is a webhook handler with a recorder behind it, for adapter tests.
type Harness struct {
	Recorder   *Recorder
	Quarantine *Quarantined
	Handler    http.Handler
}

// NewHarness serves adapters through the real channel.Handler.
func NewHarness(adapters ...channel.Adapter) *Harness {
	h := &Harness{Recorder: &Recorder{}, Quarantine: &Quarantined{}}
	reg := channel.NewRegistry(adapters...)
	h.Handler = Mux(channel.NewHandler(slog.New(slog.DiscardHandler), reg, h.Recorder, h.Quarantine, nil))
	return h
}

// Do sends req through the harness and returns the recorded response.
func (h *Harness) Do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.Handler.ServeHTTP(rec, req)
	return rec
}

// LoopbackTransport is an http.RoundTripper that dials only loopback
// addresses, so that no test can ever reach a real provider.
func LoopbackTransport() *http.Transport {
	d := &net.Dialer{}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ip := net.ParseIP(host)
			if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return nil, fmt.Errorf("channeltest: refusing to dial %s: tests talk to loopback only", addr)
			}
			return d.DialContext(ctx, network, addr)
		},
	}
}

// LoopbackClient is an http.Client over LoopbackTransport.
func LoopbackClient() *http.Client { return &http.Client{Transport: LoopbackTransport()} }

// MustContainNone fails the test if any needle appears in haystack: for
// checking that logs and error bodies carry no secret or personal data.
func MustContainNone(tb testing.TB, what, haystack string, needles ...string) {
	tb.Helper()
	for _, n := range needles {
		if n != "" && strings.Contains(haystack, n) {
			tb.Errorf("%s contains %q", what, n)
		}
	}
}

// MustBeStorable fails the test if any text of events is not what every
// store can hold: valid UTF-8 without NUL (HOSTILE-INPUTS C-01…C-04, C-06).
func MustBeStorable(tb testing.TB, events []channel.Event) {
	tb.Helper()
	for _, e := range events {
		fields := []string{e.ID, e.ProviderMessageID, e.Sender.Reveal(), e.ReplyTo.Reveal(), e.SenderName.Reveal(),
			e.Language, e.Text.Reveal(), e.Campaign}
		for _, m := range e.Media {
			fields = append(fields, m.ProviderID, m.MIME)
		}
		for _, s := range fields {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				tb.Errorf("event %s holds a string no store can keep: %q", e.ID, s)
			}
		}
	}
}
