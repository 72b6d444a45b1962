// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the lifeline program: with
// LIFELINE_TEST_MAIN=1 it runs main with the newline-separated arguments of
// LIFELINE_TEST_ARGS instead of the tests, so that a test can send it real
// signals.
const (
	testMainEnv = "LIFELINE_TEST_MAIN"
	testArgsEnv = "LIFELINE_TEST_ARGS"
)

func TestMain(m *testing.M) {
	if os.Getenv(testMainEnv) == "1" {
		os.Args = append([]string{"lifeline"}, strings.Split(os.Getenv(testArgsEnv), "\n")...)
		main() // exits
	}
	os.Exit(m.Run())
}

// process is lifeline running as a real process.
type process struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error // cmd.Wait's error, once done is closed
}

// mustStartProcess starts the test binary as "lifeline args..." with no
// LIFELINE_* variables of the test's own environment. The test's end kills
// it if it still runs.
func mustStartProcess(t testing.TB, args ...string) *process {
	t.Helper()
	args = withDoors(args)
	for _, a := range args {
		if strings.Contains(a, "\n") {
			t.Fatalf("argument %q: newlines separate arguments", a)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout)
	cmd := exec.CommandContext(ctx, os.Args[0])
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LIFELINE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, testMainEnv+"=1", testArgsEnv+"="+strings.Join(args, "\n"))
	p := &process{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		defer cancel()
		defer close(p.done)
		p.err = cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// mustTerminate sends SIGTERM and returns the exit status.
func (p *process) mustTerminate(t testing.TB) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(startTimeout):
		t.Fatalf("got no exit within %s of SIGTERM, want a graceful stop; stderr:\n%s", startTimeout, p.stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode() // -1 if a signal killed it
	}
	t.Fatalf("wait: %v", p.err)
	return -1
}

// checkGracefulExit checks the log of a process that SIGTERM stopped.
func checkGracefulExit(t testing.TB, p *process, status int) {
	t.Helper()
	stderr := p.stderr.String()
	if status != 0 {
		t.Errorf("got exit status %d, want 0; stderr:\n%s", status, stderr)
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("got stderr %q, want no panic or stack trace", stderr)
	}
	lines := logLines(t, stderr)
	if len(lines) == 0 {
		t.Fatalf("got no log lines, want some")
	}
	if got := lines[len(lines)-1]["msg"]; got != "stopped" {
		t.Errorf("got last log line %v, want msg stopped", lines[len(lines)-1])
	}
	var shuttingDown bool
	for _, l := range lines {
		shuttingDown = shuttingDown || l["msg"] == "shutting down"
		if l["level"] == "ERROR" {
			t.Errorf("got log line %v, want no errors", l)
		}
	}
	if !shuttingDown {
		t.Errorf("got log %q, want a shutting down line", stderr)
	}
}

func TestServeStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	mustInitKeys(t, dir)
	p := mustStartProcess(t, "serve", "--data", dir, "--listen", "127.0.0.1:0")
	var addr string
	waitFor(t, "listening", p.done, func() bool {
		addr = listenAddr(t, p.stderr.String())
		return addr != ""
	})
	if resp, body := mustGet(t, "http://"+addr+"/healthz"); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("GET /healthz: got %d %q, want 200 %q", resp.StatusCode, body, "ok\n")
	}
	checkGracefulExit(t, p, p.mustTerminate(t))
	if got, latest := schemaVersion(t, dir); got != latest {
		t.Errorf("got schema version %d, want %d", got, latest)
	}
	if p.stdout.String() != "" {
		t.Errorf("got stdout %q, want nothing (logs go to stderr)", p.stdout.String())
	}
}

var (
	demoURL   = regexp.MustCompile(`running at (http://127\.0\.0\.1:[0-9]+) `)
	demoLogin = regexp.MustCompile(`(?m)^  (demo-\S+) +(\S+) +password (\S+)  TOTP secret (\S+)$`)
)

// runDemoProcess runs demo as a process in dir until it answers /healthz, stops it
// with SIGTERM and returns the logins it printed.
func runDemoProcess(t testing.TB, dir string) string {
	t.Helper()
	p := mustStartProcess(t, "demo", "--data", dir, "--listen", "127.0.0.1:0")
	waitFor(t, "the demo logins", p.done, func() bool {
		return len(demoLogin.FindAllString(p.stdout.String(), -1)) == len(demoOperators)
	})
	out := p.stdout.String()
	m := demoURL.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("got stdout %q, want the demo's URL", out)
	}
	if resp, body := mustGet(t, m[1]+"/healthz"); resp.StatusCode != 200 {
		t.Errorf("GET /healthz: got %d %q, want 200", resp.StatusCode, body)
	}
	checkGracefulExit(t, p, p.mustTerminate(t))

	logins := demoLogin.FindAllStringSubmatch(out, -1)
	for i, d := range demoOperators {
		l := logins[i]
		if l[1] != d.username || l[2] != string(d.role) {
			t.Errorf("login %d: got %s %s, want %s %s", i, l[1], l[2], d.username, d.role)
		}
		if !passwordShape.MatchString(l[3]) {
			t.Errorf("login %d: got password %q, want xxxxx-xxxxx-xxxxx-xxxxx-xxxxx", i, l[3])
		}
	}
	return strings.Join(demoLogin.FindAllString(out, -1), "\n")
}

func TestDemo(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "demo")
	first := runDemoProcess(t, dir)
	second := runDemoProcess(t, dir)
	if first != second {
		t.Errorf("second demo run: got logins\n%s\nwant the first run's\n%s", second, first)
	}
	b, err := os.ReadFile(filepath.Join(dir, demoLoginFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(demoLogin.FindAllString(string(b), -1), "\n"); got != first {
		t.Errorf("got %s holding\n%s\nwant the printed logins\n%s", demoLoginFile, got, first)
	}
	if fi, err := os.Stat(filepath.Join(dir, demoLoginFile)); err != nil {
		t.Error(err)
	} else if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("got %s mode %v, want %v", demoLoginFile, got, os.FileMode(0o600))
	}

	// The demo's staff are real accounts of its data directory, and every
	// run left the audit log intact: four user.add entries, for each of the
	// three invented cases case.create and person.add, the first case's
	// case.assign, five canned answers, the API token, and a channel.save
	// per run (the demo bot points at each run's fake Telegram); all signed.
	users := mustRun(t, nil, "user", "list", "--data", dir)
	for _, d := range demoOperators {
		if row := listRow(t, users, d.username); row[1] != string(d.role) || row[2] != "active" {
			t.Errorf("user list: got %q, want %s %s active", row, d.username, d.role)
		}
	}
	out := mustRun(t, nil, "audit", "verify", "--data", dir)
	if want := "Audit log intact: 19 entries; the latest signed checkpoint covers 19 "; !strings.HasPrefix(out, want) {
		t.Errorf("audit verify: got %q, want it to start %q", out, want)
	}
}
