// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lifeline-hotline/lifeline"
)

// env is how commands read the environment; tests pass their own.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand of lifeline.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the hotline server", runServe},
		{"demo", "run a demo server with invented data in its own data directory", runDemo},
		{"migrate", "create or upgrade the database", runMigrate},
		{"init", "create the keys and print the custodians' unseal shares", runInit},
		{"unseal", "give a running server unseal shares", runUnseal},
		{"seal", "make a running server drop its keys from memory at once", runSeal},
		{"keys", "key status, rotation, and panic destruction", runKeys},
		{"channel", "add, list and remove provider channels (Telegram, WhatsApp, Twilio SMS)", runChannel},
		{"sender", "block and unblock a sender at the door (acknowledged, not stored)", runSender},
		{"user", "add, list and disable staff accounts", runUser},
		{"token", "list and revoke API tokens (operators make their own in the console)", runToken},
		{"audit", "verify the tamper-evident audit log", runAudit},
		{"bench", "measure webhook ingest on this machine (loopback only, bounded)", runBench},
		{"version", "print the version", runVersion},
	}
}

// run is lifeline's whole program: main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) < 2 {
		// One line, like every other usage error: the caller's log or
		// terminal shows what went wrong, and -h shows the commands.
		return usageErrorf("no command given (see lifeline -h)")
	}
	name := args[1]
	if name == "-h" || name == "-help" || name == "--help" || name == "help" {
		printUsage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, e, args[2:])
		}
	}
	return usageErrorf("unknown command %q (see lifeline -h)", name)
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: lifeline <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every command takes --data DIR (default ./lifeline-data, or LIFELINE_DATA).")
	fmt.Fprintln(w, "Run lifeline <command> -h for its flags.")
}

// usageError is a mistake in how lifeline was called: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// exitCode prints err as one line and maps it to the process exit status:
// 0 success (and -h), 2 usage errors, 1 everything else.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	msg := err.Error()
	if lifeline.ErrorCode(err) != lifeline.EINTERNAL {
		msg = lifeline.ErrorMessage(err) // the domain's own sentence, not its log form
	}
	msg = strings.ReplaceAll(msg, "\n", " ")
	fmt.Fprintf(stderr, "lifeline: %s\n", msg)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// flagSet is a subcommand's flags. It reads LIFELINE_* variables for flags
// not given on the command line (flags win), and prints nothing by itself:
// errors come back as one line.
type flagSet struct {
	*flag.FlagSet
	cmd   string
	usage string
	e     env
	// noEnv names flags whose variables the command reads itself.
	noEnv map[string]bool
}

func newFlagSet(e env, cmd, usage string) *flagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flagSet{FlagSet: fs, cmd: cmd, usage: usage, e: e}
}

// envName is the variable that stands in for a flag: --public-url is
// LIFELINE_PUBLIC_URL.
func envName(flagName string) string {
	return "LIFELINE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse parses args, then fills each flag not given from LIFELINE_NAME, or
// from the file LIFELINE_NAME_FILE names. -h prints the help to stdout and
// returns flag.ErrHelp.
func (fs *flagSet) parse(args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.printHelp(fs.e.stdout)
			return err
		}
		return usageErrorf("%s: %v (see lifeline %s -h)", fs.cmd, err, fs.cmd)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil || fs.noEnv[f.Name] {
			return
		}
		name := envName(f.Name)
		v := fs.e.getenv(name)
		if v == "" {
			// Any value, secrets above all, may come from a file instead:
			// LIFELINE_BOT_TOKEN_FILE=/run/secrets/bot keeps it out of ps
			// and shell history.
			file := fs.e.getenv(name + "_FILE")
			if file == "" {
				return
			}
			b, rerr := os.ReadFile(filepath.Clean(file))
			if rerr != nil {
				err = usageErrorf("%s: %s_FILE: %v", fs.cmd, name, pathErr(rerr))
				return
			}
			v = strings.TrimSpace(string(b))
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = usageErrorf("%s: %s: %v", fs.cmd, name, serr)
		}
	})
	return err
}

// parseAll is parse for a command that takes flags only.
func (fs *flagSet) parseAll(args []string) error {
	if err := fs.parse(args); err != nil {
		return err
	}
	return fs.noArgs()
}

// noArgs refuses positional arguments after the flags.
func (fs *flagSet) noArgs() error {
	if fs.NArg() > 0 {
		return usageErrorf("%s: unexpected argument %q (see lifeline %s -h)", fs.cmd, fs.Arg(0), fs.cmd)
	}
	return nil
}

func (fs *flagSet) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: lifeline %s\n\n", fs.usage)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, n := range names {
		f := fs.Lookup(n)
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  --%s\n    \t%s%s [%s]\n", n, f.Usage, def, envName(n))
	}
}

// dataDir is the --data flag every command takes.
func dataDirFlag(fs *flagSet) *string {
	return fs.String("data", "./lifeline-data", "data directory: database, audit checkpoints, keys")
}

// checkDataDir makes sure dir is a usable directory. With create it makes a
// missing one (mode 0700); without, a missing directory is an error.
func checkDataDir(dir string, create bool) error {
	if dir == "" {
		return usageErrorf("--data: empty path")
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist) && create:
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return usageErrorf("data directory %s: %v", dir, pathErr(err))
		}
		return nil
	case errors.Is(err, os.ErrNotExist):
		return usageErrorf("data directory %s does not exist (run lifeline migrate --data %s first)", dir, dir)
	case err != nil:
		return usageErrorf("data directory %s: %v", dir, pathErr(err))
	case !fi.IsDir():
		return usageErrorf("data directory %s is not a directory", dir)
	}
	// Prove we can read and write it before anything else touches it.
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return usageErrorf("data directory %s is not writable: %v", dir, pathErr(err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	if _, err := os.ReadDir(dir); err != nil {
		return usageErrorf("data directory %s is not readable: %v", dir, pathErr(err))
	}
	return nil
}

// pathErr drops the path from a *PathError, which the caller already names.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
