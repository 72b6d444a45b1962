// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// runTimeout bounds every in-process run of the command: a command that
// should fail but starts serving instead returns when it runs out, and the
// test then fails on its exit status.
const runTimeout = 20 * time.Second

// result is what one run of the command left behind.
type result struct {
	code           int // exitCode of run's error
	err            error
	stdout, stderr string
}

// runLifeline runs "lifeline args..." in process, with env as its whole
// environment (the real one never leaks in), and maps its error to an exit
// status as main does. A panic fails the test instead of the test binary.
func runLifeline(t testing.TB, env map[string]string, args ...string) (res result) {
	t.Helper()
	return runLifelineInput(t, env, "", args...)
}

// runLifelineInput is runLifeline with stdin.
func runLifelineInput(t testing.TB, env map[string]string, stdin string, args ...string) (res result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), runTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("lifeline %s panicked: %v", strings.Join(args, " "), r)
		}
	}()
	getenv := func(k string) string { return env[k] }
	err := run(ctx, append([]string{"lifeline"}, args...), getenv, strings.NewReader(stdin), &stdout, &stderr)
	code := exitCode(err, &stderr)
	return result{code: code, err: err, stdout: stdout.String(), stderr: stderr.String()}
}

// mustRun runs the command and fails the test unless it succeeds; it
// returns the standard output.
func mustRun(t testing.TB, env map[string]string, args ...string) string {
	t.Helper()
	res := runLifeline(t, env, args...)
	if res.code != 0 {
		t.Fatalf("lifeline %s: got exit %d, want 0; stderr:\n%s", strings.Join(args, " "), res.code, res.stderr)
	}
	return res.stdout
}

// checkOneLineError fails the test unless res exited with want and its
// stderr is exactly one "lifeline: " line, with no trace of a panic.
func checkOneLineError(t testing.TB, res result, want int) {
	t.Helper()
	if res.code != want {
		t.Errorf("got exit %d, want %d (stderr %q)", res.code, want, res.stderr)
	}
	if !strings.HasPrefix(res.stderr, "lifeline: ") || !strings.HasSuffix(res.stderr, "\n") || strings.Count(res.stderr, "\n") != 1 {
		t.Errorf("got stderr %q, want one line starting %q", res.stderr, "lifeline: ")
	}
	if strings.Contains(res.stderr, "panic") || strings.Contains(res.stderr, "goroutine ") {
		t.Errorf("got stderr %q, want no panic or stack trace", res.stderr)
	}
}

// mustMigrate creates a data directory at the latest schema and returns it.
func mustMigrate(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	mustRun(t, nil, "migrate", "--data", dir)
	mustInitKeys(t, dir) // user add seals TOTP seeds with them
	return dir
}

// mustInitKeys creates the keys of a data directory with a dev unseal file,
// as a demo does, and returns that file's path.
func mustInitKeys(t testing.TB, dir string) string {
	t.Helper()
	unseal := filepath.Join(dir, "dev-unseal-key")
	if _, err := os.Stat(unseal); err == nil {
		return unseal // initialized already
	}
	mustRun(t, nil, "init", "--data", dir, "--dev-unseal-file", unseal)
	return unseal
}

// mustSignCheckpoint signs a checkpoint of a data directory made by
// mustMigrate, as its running server does once unsealed (commands do not:
// the signing key is sealed in the keyring), writing it to witnesses too.
func mustSignCheckpoint(t testing.TB, dir string, witnesses ...string) {
	t.Helper()
	keeper, err := keys.Open(filepath.Join(dir, keysDir))
	if err != nil {
		t.Fatal(err)
	}
	defer keeper.Seal()
	if err := keeper.UnsealWithFile(mustInitKeys(t, dir)); err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, sqlstore.FileName), sqlstore.Options{Sealer: keeper})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := newCheckpointer(db, dir, keeper, witnesses...).Checkpoint(t.Context()); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
}

// mustWriteFile writes a file or fails the test.
func mustWriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// exists reports whether path exists, failing the test on other errors.
func exists(t testing.TB, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// mustOpenDB opens a data directory's database through the store, which
// closes it when the test ends.
func mustOpenDB(t testing.TB, dir string) *sqlstore.DB {
	t.Helper()
	var opts sqlstore.Options
	if k, err := keys.Open(filepath.Join(dir, keysDir)); err == nil {
		opts.Sealer = k // sealed: for the intake key, which keys audit objects
	}
	db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, sqlstore.FileName), opts)
	if err != nil {
		t.Fatalf("open store in %s: %v", dir, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// schemaVersion reads a data directory's schema version and the latest one
// this binary knows.
func schemaVersion(t testing.TB, dir string) (got, latest int) {
	t.Helper()
	db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, sqlstore.FileName), sqlstore.Options{})
	if err != nil {
		t.Fatalf("open store in %s: %v", dir, err)
	}
	defer db.Close()
	v, err := db.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return v, db.LatestVersion()
}

func TestBadInvocations(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	mustWriteFile(t, file, "not a directory")
	missing := filepath.Join(tmp, "missing")
	// Every case has a data directory in the environment that must stay
	// uncreated: a usage error changes nothing.
	untouched := filepath.Join(tmp, "untouched")

	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // in the message
	}{
		{"no command", nil, nil, "no command"},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", nil, []string{"serve", "--nope"}, "nope"},
		{"missing value", nil, []string{"serve", "--listen"}, "listen"},
		{"bad log level", nil, []string{"serve", "--log-level", "loud"}, "--log-level"},
		{"listen without port", nil, []string{"serve", "--listen", "nohostport"}, "--listen"},
		{"listen empty port", nil, []string{"serve", "--listen", "127.0.0.1:"}, "--listen"},
		{"non-positive shutdown budget", nil, []string{"serve", "--shutdown-budget", "0s"}, "--shutdown-budget"},
		{"public URL not http", nil, []string{"serve", "--public-url", "ftp://x"}, "--public-url"},
		{"public URL plain http", nil, []string{"serve", "--public-url", "http://example.org"}, "https"},
		{"public URL relative", nil, []string{"serve", "--public-url", "/hotline"}, "--public-url"},
		{"public URL with query", nil, []string{"serve", "--public-url", "https://hotline.example/?a=b"}, "--public-url"},
		{"demo bad listen", nil, []string{"demo", "--listen", "nohostport"}, "--listen"},
		{"console listen without port", nil, []string{"serve", "--console-listen", "nohostport"}, "--console-listen"},
		{"one address for both doors", nil, []string{"serve", "--listen", "127.0.0.1:8080", "--console-listen", "127.0.0.1:8080"}, "door"},
		{"bad LIFELINE_CONSOLE_LISTEN", map[string]string{"LIFELINE_CONSOLE_LISTEN": "nohostport"}, []string{"demo"}, "--console-listen"},
		{"extra argument", nil, []string{"serve", "extra"}, `unexpected argument "extra"`},
		{"extra argument after flags", nil, []string{"migrate", "--data", untouched, "extra"}, `unexpected argument "extra"`},
		{"version extra argument", nil, []string{"version", "extra"}, `unexpected argument "extra"`},
		{"user without verb", nil, []string{"user"}, "add|list|disable"},
		{"user unknown verb", nil, []string{"user", "frob"}, `unknown command "frob"`},
		{"token unknown verb", nil, []string{"token", "frob"}, `unknown command "frob"`},
		{"audit without verb", nil, []string{"audit"}, "verify"},
		{"user add without username", nil, []string{"user", "add", "--role", "supervisor"}, "--username"},
		{"user add bad username", nil, []string{"user", "add", "--username", "Olena!", "--role", "supervisor"}, "--username"},
		{"user add short username", nil, []string{"user", "add", "--username", "ol", "--role", "supervisor"}, "--username"},
		{"user add bad role", nil, []string{"user", "add", "--username", "olena", "--role", "overlord"}, "--role"},
		{"user add without role", nil, []string{"user", "add", "--username", "olena"}, "--role"},
		{"user disable without reason", nil, []string{"user", "disable", "--username", "olena"}, "--reason"},
		{"token create", nil, []string{"token", "create"}, "made in the console"},
		{"token revoke without id", nil, []string{"token", "revoke"}, "--id"},
		{"data dir is a file", nil, []string{"migrate", "--data", file}, "not a directory"},
		{"data dir under a file", nil, []string{"migrate", "--data", filepath.Join(file, "sub")}, "not a directory"},
		{"serve data dir under a file", nil, []string{"serve", "--data", filepath.Join(file, "sub"), "--listen", "127.0.0.1:0"}, "not a directory"},
		{"user list data dir missing", nil, []string{"user", "list", "--data", missing}, "does not exist"},
		{"token list data dir missing", nil, []string{"token", "list", "--data", missing}, "does not exist"},
		{"token create for someone", nil, []string{"token", "create", "--data", missing, "--username", "olena"}, "made in the console"},
		{"audit verify data dir missing", nil, []string{"audit", "verify", "--data", missing}, "does not exist"},
		{"empty data dir", nil, []string{"migrate", "--data", ""}, "empty"},
		{"bad LIFELINE_LISTEN", map[string]string{"LIFELINE_LISTEN": "nohostport"}, []string{"serve"}, "--listen"},
		{"bad LIFELINE_SHUTDOWN_BUDGET", map[string]string{"LIFELINE_SHUTDOWN_BUDGET": "soon"}, []string{"serve"}, "LIFELINE_SHUTDOWN_BUDGET"},
		{"LIFELINE_LISTEN_FILE missing", map[string]string{"LIFELINE_LISTEN_FILE": filepath.Join(tmp, "nofile")}, []string{"serve"}, "LIFELINE_LISTEN_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"LIFELINE_DATA": untouched}
			for k, v := range tt.env {
				env[k] = v
			}
			res := runLifeline(t, env, tt.args...)
			checkOneLineError(t, res, 2)
			if !strings.Contains(res.stderr, tt.want) {
				t.Errorf("got stderr %q, want it to mention %q", res.stderr, tt.want)
			}
			if res.stdout != "" {
				t.Errorf("got stdout %q, want nothing", res.stdout)
			}
		})
	}
	// The directories a usage error named were not created.
	for _, dir := range []string{untouched, missing, filepath.Join(tmp, "lifeline-data")} {
		if exists(t, dir) {
			t.Errorf("got %s created, want a usage error to create nothing", dir)
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	tests := [][]string{
		{"-h"}, {"--help"}, {"help"},
		{"serve", "-h"}, {"demo", "-h"}, {"migrate", "-h"}, {"version", "-h"},
		{"user", "-h"}, {"user", "add", "-h"}, {"user", "list", "-h"}, {"user", "disable", "-h"},
		{"token", "-h"}, {"token", "list", "-h"}, {"token", "revoke", "-h"},
		{"audit", "-h"}, {"audit", "verify", "-h"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			res := runLifeline(t, nil, args...)
			if res.code != 0 {
				t.Errorf("got exit %d, want 0 (stderr %q)", res.code, res.stderr)
			}
			if !strings.HasPrefix(res.stdout, "Usage: lifeline") {
				t.Errorf("got stdout %q, want help starting %q", res.stdout, "Usage: lifeline")
			}
			if res.stderr != "" {
				t.Errorf("got stderr %q, want nothing", res.stderr)
			}
		})
	}
	// A subcommand's help names its flags and the variables behind them.
	res := runLifeline(t, nil, "serve", "-h")
	for _, want := range []string{"--listen", "[LIFELINE_LISTEN]", "--data", "[LIFELINE_DATA]", "--public-url"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("serve -h: got %q, want it to mention %q", res.stdout, want)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out := mustRun(t, nil, "version")
	if !strings.HasPrefix(out, "lifeline ") || strings.Count(out, "\n") != 1 {
		t.Errorf("got %q, want one line starting %q", out, "lifeline ")
	}
}

// TestFlagsAndEnvironment checks where the database lands: the observable
// effect of --data and its variables.
func TestFlagsAndEnvironment(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	dir := func(name string) string { return filepath.Join(tmp, name) }
	dataFile := filepath.Join(tmp, "data-path")
	// A trailing newline, as editors and echo leave it, is not part of the path.
	mustWriteFile(t, dataFile, dir("from-file")+"\n")

	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    string   // the directory that gets the database
		notWant []string // directories that must not appear
	}{
		{"LIFELINE_DATA without --data", map[string]string{"LIFELINE_DATA": dir("from-env")}, nil, dir("from-env"), nil},
		{"--data wins over LIFELINE_DATA", map[string]string{"LIFELINE_DATA": dir("env-loses")}, []string{"--data", dir("flag-wins")}, dir("flag-wins"), []string{dir("env-loses")}},
		{"--data= form", nil, []string{"--data=" + dir("equals")}, dir("equals"), nil},
		{"LIFELINE_DATA_FILE", map[string]string{"LIFELINE_DATA_FILE": dataFile}, nil, dir("from-file"), nil},
		{"LIFELINE_DATA wins over LIFELINE_DATA_FILE", map[string]string{"LIFELINE_DATA": dir("var-wins"), "LIFELINE_DATA_FILE": dataFile}, nil, dir("var-wins"), nil},
		{"--data wins over LIFELINE_DATA_FILE", map[string]string{"LIFELINE_DATA_FILE": dataFile}, []string{"--data", dir("flag-over-file")}, dir("flag-over-file"), nil},
	}
	for _, tt := range tests {
		// Sequential: some cases share the from-file directory.
		t.Run(tt.name, func(t *testing.T) {
			mustRun(t, tt.env, append([]string{"migrate"}, tt.args...)...)
			if db := filepath.Join(tt.want, sqlstore.FileName); !exists(t, db) {
				t.Errorf("got no %s, want the database there", db)
			}
			for _, d := range tt.notWant {
				if exists(t, d) {
					t.Errorf("got %s created, want it untouched", d)
				}
			}
			if err := os.RemoveAll(tt.want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new", "data")
	out := mustRun(t, nil, "migrate", "--data", dir)
	_, latest := schemaVersion(t, dir)
	if want := "Applied migrations ["; !strings.HasPrefix(out, want) {
		t.Errorf("first migrate: got %q, want it to start %q", out, want)
	}
	if want := "schema at version " + strconv.Itoa(latest) + ".\n"; !strings.HasSuffix(out, want) {
		t.Errorf("first migrate: got %q, want it to end %q", out, want)
	}
	if got, _ := schemaVersion(t, dir); got != latest {
		t.Errorf("got schema version %d, want %d", got, latest)
	}

	out = mustRun(t, nil, "migrate", "--data", dir)
	if want := "Schema is current (version " + strconv.Itoa(latest) + ").\n"; out != want {
		t.Errorf("second migrate: got %q, want %q", out, want)
	}

	checkMode := func(path string, want fs.FileMode) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("got %v, want %s", err, path)
			return
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: got mode %v, want %v", path, got, want)
		}
	}
	checkMode(dir, 0o700)
	// The signing key is made by init, sealed in the keyring; never a file.
	mustInitKeys(t, dir)
	if exists(t, filepath.Join(dir, auditSignerFile)) {
		t.Errorf("got %s, want the audit signing key only in the keyring", auditSignerFile)
	}
	checkMode(filepath.Join(dir, auditVerifierFile), 0o644)
	b, err := os.ReadFile(filepath.Join(dir, auditVerifierFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), auditOrigin+"+") {
		t.Errorf("got verifier key %q, want one for %q", b, auditOrigin)
	}

	// A fresh log verifies, with nothing in it yet.
	out = mustRun(t, nil, "audit", "verify", "--data", dir)
	if want := "Audit log intact: 0 entries"; !strings.HasPrefix(out, want) {
		t.Errorf("audit verify: got %q, want it to start %q", out, want)
	}
}
