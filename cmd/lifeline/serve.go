// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lifeline-hotline/lifeline/internal/logs"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

// serveConfig is the configuration of serve and demo.
type serveConfig struct {
	dataDir        string
	listen         string
	publicURL      string
	logLevel       string
	shutdownBudget time.Duration
}

func serveFlags(fs *flagSet, defaultData string) *serveConfig {
	c := &serveConfig{}
	fs.StringVar(&c.dataDir, "data", defaultData, "data directory: database, audit checkpoints, keys")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&c.publicURL, "public-url", "", "the external base URL (https://…) that providers call and sign")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&c.shutdownBudget, "shutdown-budget", 10*time.Second, "how long in-flight requests get to finish on shutdown")
	return c
}

// validate checks what the flag package cannot, so that a bad value is a
// usage error before anything starts.
func (c *serveConfig) validate(cmd string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return level, usageErrorf("%s: --log-level %q: want debug, info, warn or error", cmd, c.logLevel)
	}
	if _, port, err := net.SplitHostPort(c.listen); err != nil || port == "" {
		return level, usageErrorf("%s: --listen %q: want host:port", cmd, c.listen)
	}
	if c.shutdownBudget <= 0 {
		return level, usageErrorf("%s: --shutdown-budget must be positive", cmd)
	}
	if c.publicURL != "" {
		u, err := url.Parse(c.publicURL)
		switch {
		case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
			return level, usageErrorf("%s: --public-url %q: want an absolute URL such as https://hotline.example", cmd, c.publicURL)
		case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
			// Providers sign the URL they call; plain http would expose every
			// message on the way.
			return level, usageErrorf("%s: --public-url must be https (http only for a loopback host)", cmd)
		}
		c.publicURL = strings.TrimSuffix(c.publicURL, "/")
	}
	return level, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runServe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "serve", "serve [--data DIR] [--listen ADDR] [--public-url URL]")
	cfg := serveFlags(fs, "./lifeline-data")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.noArgs(); err != nil {
		return err
	}
	level, err := cfg.validate("serve")
	if err != nil {
		return err
	}
	if err := checkDataDir(cfg.dataDir, true); err != nil {
		return err
	}
	return serve(ctx, e, cfg, level, nil)
}

// serve runs the server until ctx is cancelled (SIGINT or SIGTERM), then
// shuts down in reverse order of start: the HTTP server first, letting
// in-flight requests finish within the budget; then the audit checkpointer,
// which signs a last checkpoint; then the store. started, if not nil, runs
// once the server listens.
func serve(ctx context.Context, e env, cfg *serveConfig, level slog.Level, started func(addr string)) error {
	logger := logs.New(e.stderr, level)

	db, err := openStore(ctx, e, cfg.dataDir, migrateIfEmpty)
	if err != nil {
		return err
	}
	defer db.Close()
	signer, _, err := auditKeys(cfg.dataDir)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lifeline_store_writes_total", Help: "Writes carried out by the store's writer.",
		}, func() float64 { return float64(db.Stats().Writes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lifeline_store_commits_total", Help: "Transactions the store's writer committed (each one fsync).",
		}, func() float64 { return float64(db.Stats().Commits) }),
	)

	ready := func(ctx context.Context) error {
		if err := db.Ping(ctx); err != nil {
			return web.NotReady{Reason: "database unreachable"}
		}
		if err := db.CheckSchema(ctx); err != nil {
			return web.NotReady{Reason: "database schema not current"}
		}
		return nil
	}
	srv := web.NewServer(logger, web.Config{
		Listen:         cfg.listen,
		PublicURL:      cfg.publicURL,
		ShutdownBudget: cfg.shutdownBudget,
	}, ready, reg)

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}

	cp := newCheckpointer(db, cfg.dataDir, signer)
	cp.Logger = logger.With("component", "audit")
	cpCtx, stopCheckpoints := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { cp.Run(cpCtx, db.AuditAppended()) })
	defer func() {
		stopCheckpoints()
		wg.Wait()
	}()

	if started != nil {
		started(ln.Addr().String())
	}
	err = srv.ListenAndServe(ctx, ln)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	logger.Info("stopped")
	return nil
}
