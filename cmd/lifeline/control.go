// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// controlSocket is where a running server takes key ceremonies from the
// command line of the same machine: unseal shares, seal, rotation. It is a
// Unix socket in the data directory, mode 0600, and the server also checks
// that the peer runs as its own user. Shares never travel over the network.
const controlSocket = "control.sock"

type controlRequest struct {
	Op    string `json:"op"`              // status, unseal, seal, rotate
	Share string `json:"share,omitempty"` // unseal
}

type controlResponse struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	Sealed bool   `json:"sealed"`
	Have   int    `json:"have,omitempty"`
	Need   int    `json:"need,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// controlHandler answers one request; serve supplies it.
type controlHandler func(ctx context.Context, req controlRequest) controlResponse

// listenControl serves the control socket until ctx ends. The caller holds
// the data directory's lock, so a socket already there is a stale one of a
// previous run. The returned stop removes the socket only if the path is
// still the one it bound: never another process's.
func listenControl(ctx context.Context, dataDir string, logger *slog.Logger, handle controlHandler) (func(), error) {
	path := filepath.Join(dataDir, controlSocket)
	if len(path) > 100 {
		return nil, fmt.Errorf("control socket path %s is too long for a Unix socket; use a shorter --data", path)
	}
	// A socket that answers belongs to a live server, whatever the locks
	// say (someone may have removed the lock file): never take it over.
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("a lifeline server is running on %s already (its control socket answers); stop it first (one process per data directory)", dataDir)
	}
	os.Remove(path) // a stale socket of a previous run
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // Close would unlink the path whoever's it is now
	bound, err := os.Lstat(path)
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveControlConn(ctx, conn.(*net.UnixConn), logger, handle)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			ln.Close()
			<-done
			if now, err := os.Lstat(path); err == nil && os.SameFile(now, bound) {
				os.Remove(path)
			}
		})
	}, nil
}

func serveControlConn(ctx context.Context, conn *net.UnixConn, logger *slog.Logger, handle controlHandler) {
	defer conn.Close()
	if !samePeerUser(conn) {
		logger.Warn("control socket: peer of another user refused", "component", "control")
		return
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 4096), 4096)
	enc := json.NewEncoder(conn)
	for sc.Scan() {
		var req controlRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			enc.Encode(controlResponse{Error: "malformed request"})
			return
		}
		enc.Encode(handle(ctx, req))
	}
}

// samePeerUser reports whether the process at the other end runs as this
// process's user (or root).
func samePeerUser(conn *net.UnixConn) bool {
	raw, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return false
	}
	return int(cred.Uid) == os.Getuid() || cred.Uid == 0
}

// errNoServer means no server is running on the data directory.
var errNoServer = errors.New("no lifeline server is running on this data directory (start lifeline serve)")

// controlClient is the command line's end of the control socket.
type controlClient struct {
	conn net.Conn
	sc   *bufio.Scanner
}

func dialControl(dataDir string) (*controlClient, error) {
	conn, err := net.DialTimeout("unix", filepath.Join(dataDir, controlSocket), 5*time.Second)
	if err != nil {
		return nil, errNoServer
	}
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 4096), 64<<10)
	return &controlClient{conn: conn, sc: sc}, nil
}

func (c *controlClient) Close() error { return c.conn.Close() }

func (c *controlClient) do(req controlRequest) (controlResponse, error) {
	c.conn.SetDeadline(time.Now().Add(5 * time.Minute)) // rotation rewraps every compartment key
	if err := json.NewEncoder(c.conn).Encode(req); err != nil {
		return controlResponse{}, fmt.Errorf("control socket: %w", err)
	}
	if !c.sc.Scan() {
		return controlResponse{}, fmt.Errorf("control socket: no answer from the server")
	}
	var resp controlResponse
	if err := json.Unmarshal(c.sc.Bytes(), &resp); err != nil {
		return resp, fmt.Errorf("control socket: %w", err)
	}
	if !resp.OK {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}
