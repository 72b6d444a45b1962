// SPDX-License-Identifier: AGPL-3.0-or-later

// Package web is lifeline's HTTP server: the middleware every response goes
// through, the probes and metrics, and (in later changes) the operator
// console and the mounted webhook handler.
//
// Every response, 404s, 405s and panics included, carries a fresh request id
// and the security headers of SECURITY.md §2.6, is counted in Prometheus by
// route pattern, and is logged on one access-log line that names the route
// pattern, never the raw path or query. Request bodies are capped at
// [Config.MaxBodyBytes]; handlers read them with [ReadBody]. A panicking
// handler is logged with its stack, never with the request, and answered
// with a generic 500.
//
// # Adding routes
//
// The whole URL surface is the one function addRoutes in routes.go (STYLE.md
// #11). A later change adds a route in three steps: write a handler maker
// (handleCaseAssign(logger, cases) http.Handler) in its own noun_verb.go
// file; add what it needs as a parameter of [NewServer] (web never imports
// its sibling packages: a dependency is a root-package interface such as
// lifeline.CaseService, or an http.Handler such as the channel package's
// webhook handler); add one line to addRoutes. [Server.Handle] exists for
// tests and for a handler that cmd/lifeline must mount itself; prefer
// addRoutes, so that the surface stays readable in one place.
package web

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the zero values of [Config].
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultShutdownBudget = 10 * time.Second
	// DefaultCSP allows nothing to load: right for probes, metrics, webhooks
	// and plain-text errors. The console widens it for its own embedded assets.
	DefaultCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

// Timeouts and limits of the http.Server (SECURITY.md §2.12).
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 16 << 10
)

// Config is the web server's slice of lifeline's configuration. The zero
// value of each field means its default.
type Config struct {
	// Listen is the address the caller listens on ("127.0.0.1:8080"); the
	// caller makes the net.Listener and passes it to ListenAndServe.
	Listen string
	// PublicURL is the base URL clients and providers see
	// ("https://hotline.example"), used where a handler must rebuild the URL a
	// provider signed; never derived from X-Forwarded-* headers.
	PublicURL string
	// MaxBodyBytes caps every request body; default DefaultMaxBodyBytes.
	// Handlers may set a lower cap with ReadBody.
	MaxBodyBytes int64
	// ShutdownBudget is how long in-flight requests get to finish after the
	// context of ListenAndServe is cancelled; default DefaultShutdownBudget.
	ShutdownBudget time.Duration
	// CSP is the Content-Security-Policy of every response; default
	// DefaultCSP. A handler may replace the header for its own response.
	CSP string
	// ReadyDetail, if set, adds lines of state to /readyz ("keys: sealed").
	ReadyDetail func() string
	// Webhooks, if set, serves the providers' webhooks under /hooks/.
	Webhooks http.Handler
	// API, if set, serves the JSON API under /api/v1/.
	API *API
	// Routes are mounted as they are, behind the same middleware: the
	// operator console's pages (internal/console declares each with the
	// permission it needs).
	Routes []Route
}

// Route is a handler to mount at an http.ServeMux pattern.
type Route struct {
	Pattern string
	Handler http.Handler
}

// withDefaults returns c with each zero or negative field set to its default.
func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.ShutdownBudget <= 0 {
		c.ShutdownBudget = DefaultShutdownBudget
	}
	if c.CSP == "" {
		c.CSP = DefaultCSP
	}
	return c
}

// Server is lifeline's HTTP server. Build it with [NewServer]; its methods
// are safe for concurrent use.
type Server struct {
	logger  *slog.Logger
	cfg     Config
	mux     *http.ServeMux
	handler http.Handler
	metrics *metrics

	mu       sync.Mutex
	patterns []string
}

// NewServer returns a server with the routes of addRoutes. logger receives
// the access log, panics and http.Server errors; it should come from
// logs.New, and its allowlist must include "stack" (the default one does).
// ready reports whether the server can do its work (database open, keyring
// unsealed); its errors should wrap [NotReady] to tell the prober why; nil
// means always ready. reg receives the HTTP metrics and is served at
// /metrics; nil means a registry of the server's own.
func NewServer(logger *slog.Logger, cfg Config, ready func(context.Context) error, reg *prometheus.Registry) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{
		logger:  logger,
		cfg:     cfg.withDefaults(),
		mux:     http.NewServeMux(),
		metrics: newMetrics(reg),
	}
	s.handler = s.middleware(s.mux)
	addRoutes(s, logger, ready, reg)
	return s
}

// Handler returns the server's root handler: the middleware around every
// route. Use it with httptest or another http.Server; ListenAndServe uses it.
func (s *Server) Handler() http.Handler { return s.handler }

// Handle registers h for pattern, an http.ServeMux pattern such as
// "POST /webhooks/{channel}", behind the same middleware as every other
// route. Like http.ServeMux.Handle it panics on an invalid pattern or one
// that conflicts with a registered pattern: call it while wiring, before
// serving. Prefer a line in addRoutes (see the package documentation).
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, recordRoute(pattern, h))
	s.mu.Lock()
	s.patterns = append(s.patterns, pattern)
	s.mu.Unlock()
}

// Patterns returns every registered pattern, sorted: the URL surface, for
// tests that must cover each route (SECURITY.md S-01).
func (s *Server) Patterns() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := slices.Clone(s.patterns)
	slices.Sort(p)
	return p
}

// ListenAndServe serves on ln until ctx is cancelled, then shuts down: it
// stops accepting, waits up to Config.ShutdownBudget for in-flight requests
// to finish and returns nil. If the budget runs out it closes the remaining
// connections and returns an error saying so; if serving fails first it
// returns that error. ListenAndServe closes ln. Requests are not cancelled
// by ctx: a shutdown lets them finish.
func (s *Server) ListenAndServe(ctx context.Context, ln net.Listener) error {
	addr := ln.Addr().String()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(serverErrorLog{s.logger}, "", 0),
		// Send "OPTIONS *" through the middleware too, for its headers.
		DisableGeneralOptionsHandler: true,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.logger.Info("listening", "addr", addr)

	select {
	case err := <-served:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}

	start := time.Now()
	s.logger.Info("shutting down", "addr", addr)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownBudget)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("shutdown budget of %s exceeded; closed the remaining connections", s.cfg.ShutdownBudget)
		} else {
			err = fmt.Errorf("shut down %s: %w", addr, err)
		}
		if cerr := srv.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close %s: %w", addr, cerr))
		}
		return err
	}
	s.logger.Info("stopped", "addr", addr, "duration_ms", time.Since(start).Milliseconds())
	return nil
}
