// SPDX-License-Identifier: AGPL-3.0-or-later

// Package web is lifeline's HTTP server: the middleware every response goes
// through, the probes and metrics, the JSON API, and the mounted operator
// console and webhook handler, behind two doors (SECURITY.md §2.1): the
// public one serves the providers' webhooks and /healthz and answers 404 to
// everything else; the private one serves the rest.
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
	"maps"
	"net"
	"net/http"
	"path"
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
	// Listen is the address of the public door ("127.0.0.1:8081"), and
	// ConsoleListen of the private one ("127.0.0.1:8080"); the caller makes
	// the net.Listeners and passes them to ListenAndServe.
	Listen, ConsoleListen string
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
	// Webhooks, if set, serves the providers' webhooks under /hooks/, on
	// the public door only.
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
	mux     *http.ServeMux // the private door
	handler http.Handler
	metrics *metrics

	public        *http.ServeMux // the public door
	publicHandler http.Handler

	mu             sync.Mutex
	patterns       []string
	publicPatterns map[string]bool
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
		logger:         logger,
		cfg:            cfg.withDefaults(),
		mux:            http.NewServeMux(),
		public:         http.NewServeMux(),
		metrics:        newMetrics(reg),
		publicPatterns: map[string]bool{},
	}
	s.handler = s.middleware(s.mux)
	s.publicHandler = s.middleware(s.onlyPublic())
	addRoutes(s, logger, ready, reg)
	return s
}

// Handler returns the private door's root handler: the middleware around
// every route but the public door's. Use it with httptest or another
// http.Server; ListenAndServe uses it.
func (s *Server) Handler() http.Handler { return s.handler }

// PublicHandler returns the public door's root handler: the webhooks and
// /healthz behind the middleware, and a plain 404 for anything else.
func (s *Server) PublicHandler() http.Handler { return s.publicHandler }

// onlyPublic serves the public door's routes and answers 404 to every
// other request: no 405 that names the methods a path takes, no redirect
// to a cleaned path, nothing that differs by the server's state.
func (s *Server) onlyPublic() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := s.public.Handler(r)
		s.mu.Lock()
		ok := s.publicPatterns[pattern]
		s.mu.Unlock()
		// ServeMux would redirect an unclean path ("/hooks//x") to its
		// clean form, under that form's pattern.
		if !ok || path.Clean(r.URL.Path) != r.URL.Path {
			http.NotFound(w, r)
			return
		}
		s.public.ServeHTTP(w, r)
	})
}

// handlePublic registers h for pattern on the public door.
func (s *Server) handlePublic(pattern string, h http.Handler) {
	s.public.Handle(pattern, recordRoute(pattern, h))
	s.mu.Lock()
	s.publicPatterns[pattern] = true
	s.mu.Unlock()
}

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

// Patterns returns every pattern registered on the private door, sorted:
// the URL surface, for tests that must cover each route (SECURITY.md S-01).
func (s *Server) Patterns() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := slices.Clone(s.patterns)
	slices.Sort(p)
	return p
}

// PublicPatterns returns every pattern of the public door, sorted.
func (s *Server) PublicPatterns() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := slices.Collect(maps.Keys(s.publicPatterns))
	slices.Sort(p)
	return p
}

// ListenAndServe serves the public door on public and the private door on
// private (either may be nil: that door is not served) until ctx is
// cancelled, then shuts both down: it stops accepting, waits up to
// Config.ShutdownBudget for in-flight requests to finish and returns nil. If
// the budget runs out it closes the remaining connections and returns an
// error saying so; if serving either door fails first it shuts the other
// down and returns that error. ListenAndServe closes both listeners.
// Requests are not cancelled by ctx: a shutdown lets them finish.
func (s *Server) ListenAndServe(ctx context.Context, public, private net.Listener) error {
	type door struct {
		name string
		ln   net.Listener
		h    http.Handler
		srv  *http.Server
	}
	var doors []*door
	for _, d := range []*door{{name: "public", ln: public, h: s.publicHandler}, {name: "private", ln: private, h: s.handler}} {
		if d.ln != nil {
			doors = append(doors, d)
		}
	}
	if len(doors) == 0 {
		return errors.New("serve: no listener")
	}
	served := make(chan error, len(doors))
	for _, d := range doors {
		d.srv = &http.Server{
			Handler:           d.h,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          log.New(serverErrorLog{s.logger}, "", 0),
			// Send "OPTIONS *" through the middleware too, for its headers.
			DisableGeneralOptionsHandler: true,
		}
		go func() {
			err := d.srv.Serve(d.ln)
			if !errors.Is(err, http.ErrServerClosed) {
				err = fmt.Errorf("serve %s: %w", d.ln.Addr(), err)
			}
			served <- err
		}()
		s.logger.Info("listening", "addr", d.ln.Addr().String(), "component", d.name)
	}

	pending := len(doors)
	var failed error
	select {
	case failed = <-served:
		pending--
	case <-ctx.Done():
	}

	start := time.Now()
	s.logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownBudget)
	defer cancel()
	errs := make(chan error, len(doors))
	for _, d := range doors {
		go func() { errs <- d.srv.Shutdown(sctx) }()
	}
	var err error
	for range doors {
		err = errors.Join(err, <-errs)
	}
	for ; pending > 0; pending-- {
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("shutdown budget of %s exceeded; closed the remaining connections", s.cfg.ShutdownBudget)
		} else {
			err = fmt.Errorf("shut down: %w", err)
		}
		for _, d := range doors {
			if cerr := d.srv.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close %s: %w", d.ln.Addr(), cerr))
			}
		}
	}
	if failed != nil {
		return errors.Join(failed, err)
	}
	if err != nil {
		return err
	}
	s.logger.Info("stopped", "duration_ms", time.Since(start).Milliseconds())
	return nil
}
