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

// benchResult is one load run, or the sum of several.
type benchResult struct {
	name    string
	errors  int
	elapsed time.Duration
	lat     []time.Duration // each request's, sorted
}

func (r benchResult) requests() int { return len(r.lat) }
func (r benchResult) rate() float64 { return float64(len(r.lat)) / r.elapsed.Seconds() }
func (r benchResult) p(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[int(float64(len(r.lat))*q)]
}

// add sums another run of the same load into r.
func (r *benchResult) add(o benchResult) {
	r.errors += o.errors
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
	slices.Sort(r.lat)
}

// runBenchIngest measures webhook ingest: signed, realistic Telegram updates
// (about 1.5 KB, a unique update_id and message_id each) against a real
// lifeline server on the loopback, fully durable and sealed; and beside it,
// in the same run, a no-op handler and a bare group-commit insert, for the
// ratios. The three take turns, in --rounds slices each, so that a machine
// whose load changes meanwhile weighs on all three alike. All traffic stays
// on 127.0.0.1 and every run stops by itself.
func runBenchIngest(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "bench ingest", "bench ingest [--concurrency N] [--duration D] [--rounds N] [--senders N | --new-senders] [--cpuprofile FILE]")
	concurrency := fs.Int("concurrency", 64, "requests in flight")
	duration := fs.Duration("duration", 10*time.Second, "how long each of the three runs lasts in all (at most 5m)")
	rounds := fs.Int("rounds", 5, "slices each run is cut into, the three taking turns")
	senders := fs.Int("senders", 1000, "distinct invented senders the updates come from, each returning")
	newSenders := fs.Bool("new-senders", false, "every update from a sender never seen before (a viral day: a new contact, its keys and a greeting each)")
	cpuProfile := fs.String("cpuprofile", "", "write CPU profiles of the lifeline turns (server and load alike) to this file, then FILE.1, FILE.2…")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if *concurrency < 1 || *concurrency > 1024 || *duration <= 0 || *duration > 5*time.Minute || *senders < 1 || *rounds < 1 || *rounds > 100 {
		return usageErrorf("bench ingest: want 1 <= --concurrency <= 1024, 0 < --duration <= 5m, 1 <= --rounds <= 100, --senders >= 1")
	}
	if *newSenders {
		*senders = 0
	}
	dir, err := os.MkdirTemp("", "lifeline-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// 1. lifeline, end to end.
	url, secret, stop, err := startBenchServer(ctx, e, filepath.Join(dir, "lifeline"))
	if err != nil {
		return err
	}
	defer stop()

	// 2. A no-op handler: the ceiling of HTTP on this machine.
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	})
	noopURL, stopNoop, err := startBaseline(noop)
	if err != nil {
		return err
	}
	defer stopNoop()

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
	bareURL, stopBare, err := startBaseline(bare)
	if err != nil {
		return err
	}
	defer stopBare()

	results := []benchResult{
		{name: "lifeline webhook (durable, sealed)"},
		{name: "no-op handler"},
		{name: "bare group-commit insert"},
	}
	urls := []string{url, noopURL, bareURL}
	slice := *duration / time.Duration(*rounds)
	for range *rounds {
		for i := range results {
			if i == 0 && *cpuProfile != "" {
				if err := startProfile(*cpuProfile); err != nil {
					return err
				}
			}
			results[i].add(loadTelegram(ctx, urls[i], secret, *concurrency, slice, int64(*senders)))
			if i == 0 && *cpuProfile != "" {
				pprof.StopCPUProfile()
			}
		}
	}

	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	from := fmt.Sprintf("from %d returning senders", *senders)
	if *newSenders {
		from = "each from a new sender"
	}
	fmt.Fprintf(tw, "concurrency %d, %s each in %d turns, 1.5 KB Telegram updates %s\n", *concurrency, *duration, *rounds, from)
	fmt.Fprintln(tw, "RUN\tREQUESTS\tERRORS\tREQ/S\tP50\tP99")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\n", r.name, r.requests(), r.errors, r.rate(), r.p(0.50).Round(10*time.Microsecond), r.p(0.99).Round(10*time.Microsecond))
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "lifeline / bare group commit: %.0f%%; lifeline / no-op: %.0f%%\n",
		100*results[0].rate()/results[2].rate(), 100*results[0].rate()/results[1].rate())
	return nil
}

// profiles counts the CPU profiles written, one per lifeline turn.
var profiles int

// startProfile starts the CPU profile of a lifeline turn: the first in
// path, the next in path.1, path.2 and so on (go tool pprof takes them all).
func startProfile(path string) error {
	if profiles > 0 {
		path = fmt.Sprintf("%s.%d", path, profiles)
	}
	profiles++
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
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
	cfg := &serveConfig{dataDir: dir, listen: "127.0.0.1:0", consoleListen: "127.0.0.1:0", logLevel: "error", shutdownBudget: 10 * time.Second,
		autoUnsealFile: unseal, epochLength: 1000 * time.Hour, retention: time.Hour,
		// The load comes from a few invented senders, far over any real
		// sender's budget: lifted, so that every update is stored.
		senderLimits: intake.Limits{PerMinute: 1 << 30, PerDay: 1 << 30, MediaPerDay: 1 << 30, StorePerHour: 1 << 30}}
	go func() { done <- serve(sctx, quiet, cfg, slog.LevelError, func(public, _ string) { addr <- public }) }()
	select {
	case a := <-addr:
		return "http://" + a + "/hooks/telegram/bench", secret, func() { cancel(); <-done; fake.Close() }, nil
	case err := <-done:
		cancel()
		fake.Close()
		return "", "", nil, err
	}
}

// startBaseline serves h on the loopback and returns its webhook URL.
func startBaseline(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/hooks/telegram/bench", func() { srv.Close() }, nil
}

// loadTelegram posts distinct signed updates at the given concurrency for
// d, from senders returning ones, or each from a new sender if senders is 0.
func loadTelegram(ctx context.Context, url, secret string, concurrency int, d time.Duration, senders int64) benchResult {
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency, DisableCompression: true,
	}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	next.Store(time.Now().UnixNano() % 1e12 * 1000) // distinct update ids across runs
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
				sender := id // senders 0: each update from a new sender
				if senders > 0 {
					sender = 100000000 + id%senders
				}
				body := channeltest.TelegramUpdate(id, sender, "Здравствуйте. Я хочу сдаться, как это сделать безопасно?")
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
	return benchResult{errors: errs, elapsed: elapsed, lat: lat}
}
