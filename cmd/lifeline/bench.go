// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

func runBench(ctx context.Context, e env, args []string) error {
	return subcommand(ctx, e, "bench", args, map[string]func(context.Context, env, []string) error{
		"ingest": runBenchIngest,
	}, "ingest")
}

// benchResult is one load run.
type benchResult struct {
	name     string
	requests int
	errors   int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (r benchResult) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// runBenchIngest measures webhook ingest: signed, realistic Telegram updates
// (about 1.5 KB, a unique update_id and message_id each) against a real
// lifeline server on the loopback, fully durable and sealed; and beside it,
// in the same run, a no-op handler and a bare group-commit insert, for the
// ratios. All traffic stays on 127.0.0.1 and every run stops by itself.
func runBenchIngest(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "bench ingest", "bench ingest [--concurrency N] [--duration D] [--senders N] [--cpuprofile FILE]")
	concurrency := fs.Int("concurrency", 64, "requests in flight")
	duration := fs.Duration("duration", 10*time.Second, "how long each run lasts (at most 5m)")
	senders := fs.Int("senders", 1000, "distinct invented senders the updates come from")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the lifeline run (server and load alike) to this file")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if *concurrency < 1 || *concurrency > 1024 || *duration <= 0 || *duration > 5*time.Minute || *senders < 1 {
		return usageErrorf("bench ingest: want 1 <= --concurrency <= 1024, 0 < --duration <= 5m, --senders >= 1")
	}
	dir, err := os.MkdirTemp("", "lifeline-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var results []benchResult

	// 1. lifeline, end to end.
	url, secret, stop, err := startBenchServer(ctx, e, filepath.Join(dir, "lifeline"))
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			stop()
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			stop()
			return err
		}
	}
	r := loadTelegram(ctx, "lifeline webhook (durable, sealed)", url, secret, *concurrency, *duration, int64(*senders))
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	stop()
	results = append(results, r)

	// 2. A no-op handler: the ceiling of HTTP on this machine.
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	})
	results = append(results, loadBaseline(ctx, "no-op handler", noop, *concurrency, *duration, int64(*senders)))

	// 3. A bare insert through the same group-committing writer.
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "bare", sqlstore.FileName), sqlstore.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		err := db.Write(r.Context(), func(tx *sqlstore.Tx) error {
			_, err := tx.Exec(`INSERT INTO meta (key, value) VALUES (?, ?)`, fmt.Sprintf("%x", sum), string(body))
			return err
		})
		if err != nil {
			http.Error(w, "store", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	results = append(results, loadBaseline(ctx, "bare group-commit insert", bare, *concurrency, *duration, int64(*senders)))

	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "concurrency %d, %s each, 1.5 KB Telegram updates\n", *concurrency, *duration)
	fmt.Fprintln(tw, "RUN\tREQUESTS\tERRORS\tREQ/S\tP50\tP99")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\n", r.name, r.requests, r.errors, r.rate(), r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond))
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "lifeline / bare group commit: %.0f%%; lifeline / no-op: %.0f%%\n",
		100*results[0].rate()/results[2].rate(), 100*results[0].rate()/results[1].rate())
	return nil
}

// startBenchServer runs a lifeline server in process on a fresh data
// directory with one Telegram channel, unsealed from a dev key file, and
// returns its webhook URL and secret.
func startBenchServer(ctx context.Context, e env, dir string) (url, secret string, stop func(), err error) {
	quiet := env{getenv: func(string) string { return "" }, stdin: bytes.NewReader(nil), stdout: io.Discard, stderr: io.Discard}
	unseal := filepath.Join(dir, "dev-unseal-key")
	secret = "bench-secret-0123456789"
	fake := channeltest.NewTelegramFake("123456:bench")
	for _, args := range [][]string{
		{"init", "--data", dir, "--dev-unseal-file", unseal},
		{"migrate", "--data", dir},
		{"channel", "add", "telegram", "--data", dir, "--name", "bench", "--bot-token", "123456:bench", "--webhook-secret", secret, "--api-url", fake.URL()},
	} {
		if err := run(ctx, append([]string{"lifeline"}, args...), quiet.getenv, quiet.stdin, quiet.stdout, quiet.stderr); err != nil {
			fake.Close()
			return "", "", nil, fmt.Errorf("bench setup: %s: %w", args[0], err)
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	addr := make(chan string, 1)
	done := make(chan error, 1)
	cfg := &serveConfig{dataDir: dir, listen: "127.0.0.1:0", logLevel: "error", shutdownBudget: 10 * time.Second,
		autoUnsealFile: unseal, epochLength: 1000 * time.Hour, retention: time.Hour,
		// The load comes from a few invented senders, far over any real
		// sender's budget: lifted, so that every update is stored.
		senderLimits: intake.Limits{PerMinute: 1 << 30, PerDay: 1 << 30, MediaPerDay: 1 << 30}}
	go func() { done <- serve(sctx, quiet, cfg, slog.LevelError, func(a string) { addr <- a }) }()
	select {
	case a := <-addr:
		return "http://" + a + "/hooks/telegram/bench", secret, func() { cancel(); <-done; fake.Close() }, nil
	case err := <-done:
		cancel()
		fake.Close()
		return "", "", nil, err
	}
}

func loadBaseline(ctx context.Context, name string, h http.Handler, concurrency int, d time.Duration, senders int64) benchResult {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return benchResult{name: name + " (could not listen)"}
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	return loadTelegram(ctx, name, "http://"+ln.Addr().String()+"/hooks/telegram/bench", "unused", concurrency, d, senders)
}

// loadTelegram posts distinct signed updates at the given concurrency for d.
func loadTelegram(ctx context.Context, name, url, secret string, concurrency int, d time.Duration, senders int64) benchResult {
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency, DisableCompression: true,
	}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	next.Store(time.Now().UnixNano() % 1e9 * 1000) // distinct update ids across runs
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				id := next.Add(1)
				body := channeltest.TelegramUpdate(id, 100000000+id%senders, "Здравствуйте. Я хочу сдаться, как это сделать безопасно?")
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				channeltest.SignTelegram(req, secret)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mine = append(mine, time.Since(t0))
				if err != nil || resp.StatusCode != http.StatusOK {
					bad++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	r := benchResult{name: name, requests: len(lat), errors: errs, elapsed: elapsed}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[len(lat)*99/100]
	}
	return r
}
