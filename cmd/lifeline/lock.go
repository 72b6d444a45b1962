// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The data directory's lock: a server (serve, demo) holds an exclusive
// flock on the directory itself for its whole life, and migrate while it
// migrates, so that no second one runs on the same data: two servers would
// both send every queued message, and the second would take the first's
// control socket. The directory cannot be removed from under a running
// server, as a lock file could be; the kernel drops the lock when the
// process ends, however it ends. lockFile beside it holds the PID of the
// last holder, for the message that refuses the next one.
const lockFile = "lifeline.lock"

// dirLock is a held lock on a data directory.
type dirLock struct{ dir, f *os.File }

// lockDataDir takes the data directory's lock for what (a command name), or
// fails with one line naming the process that holds it.
func lockDataDir(dir, what string) (*dirLock, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", pathErr(err))
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("data directory lock: %w", pathErr(err))
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := readHolder(f)
		f.Close()
		d.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: data directory %s is in use by lifeline process %s; stop it first (one process per data directory)", what, dir, holder)
		}
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	// Ours now: say who holds it, for the next one refused.
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		d.Close()
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	return &dirLock{dir: d, f: f}, nil
}

// readHolder reads the PID the lock's holder wrote; "(unknown)" if the file
// holds no plain number (it is only ever shown, never acted on).
func readHolder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	s := strings.TrimSpace(string(b[:n]))
	if pid, err := strconv.Atoi(s); err == nil && pid > 0 {
		return strconv.Itoa(pid)
	}
	return "(unknown)"
}

// release gives the lock up. The PID file stays (it is only ever read).
func (l *dirLock) release() {
	if l != nil && l.dir != nil {
		l.f.Close()
		l.dir.Close()
		l.f, l.dir = nil, nil
	}
}
