// SPDX-License-Identifier: AGPL-3.0-or-later

package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/web"
)

func TestHealthz(t *testing.T) {
	s, _, _ := MustNewServer(t, web.Config{}, func(context.Context) error { return errors.New("down") })
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Errorf("GET /healthz: got %d %q, want 200 %q (liveness ignores readiness)", rec.Code, rec.Body.String(), "ok\n")
	}
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("HEAD", "/healthz", nil))
	if rec.Code != 200 {
		t.Errorf("HEAD /healthz: got %d, want 200", rec.Code)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	canaryErr := errors.New("open /var/lib/" + canaryPath + ": " + canaryQuery)
	tests := []struct {
		name       string
		ready      func(context.Context) error
		wantStatus int
		wantBody   string
	}{
		{"no check", nil, 200, "ready\n"},
		{"ready", func(context.Context) error { return nil }, 200, "ready\n"},
		{"not ready", func(context.Context) error { return web.NotReady{Reason: "sealed"} }, 503, "not ready: sealed\n"},
		{"not ready, pointer", func(context.Context) error { return &web.NotReady{Reason: "sealed"} }, 503, "not ready: sealed\n"},
		{"wrapped", func(context.Context) error {
			return fmt.Errorf("ping database: %w", errors.Join(canaryErr, web.NotReady{Reason: "database unavailable"}))
		}, 503, "not ready: database unavailable\n"},
		{"plain error", func(context.Context) error { return canaryErr }, 503, "not ready\n"},
		{"unsafe reason", func(context.Context) error { return web.NotReady{Reason: "db " + canaryPath + "\n<b>"} }, 503, "not ready\n"},
		{"panic", func(context.Context) error { panic(canaryErr) }, 503, "not ready: check failed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs, _ := MustNewServer(t, web.Config{}, tt.ready)
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
			if tt.name == "panic" {
				if p := logs.lines(t, "panic"); len(p) != 1 || !strings.Contains(p[0]["stack"].(string), "goroutine ") {
					t.Errorf("got %v, want one panic line with a stack", p)
				}
				assertNoCanary(t, "log", logs.String())
			}
		})
	}
}

// TestReadyzTimeout shows that a check that ignores its context cannot hold
// the probe past 2 s.
func TestReadyzTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	hasDeadline := make(chan bool, 1)
	s, _, _ := MustNewServer(t, web.Config{}, func(ctx context.Context) error {
		_, ok := ctx.Deadline()
		hasDeadline <- ok
		<-release
		return nil
	})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if want := "not ready: check timed out\n"; rec.Code != 503 || rec.Body.String() != want {
		t.Errorf("got %d %q, want 503 %q", rec.Code, rec.Body.String(), want)
	}
	if !<-hasDeadline {
		t.Errorf("the check's context had no deadline")
	}
}
