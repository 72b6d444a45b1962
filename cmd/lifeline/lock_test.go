// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/intake"
)

// TestSecondServeRefused: a second serve, demo or migrate on the data
// directory of a running server (a real process) is refused with one line
// naming that process's PID, and changes nothing: the first server still
// sends each greeting exactly once, its control socket stays, and
// lifeline keys status and lifeline seal (the duress command) still reach
// it after every attempt.
func TestSecondServeRefused(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	unseal := mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	fake := channeltest.NewTelegramFake(testBotToken)
	t.Cleanup(fake.Close)
	secret := "webhook-secret-for-tests"
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot",
		"--bot-token", testBotToken, "--webhook-secret", secret, "--api-url", fake.URL())

	first := mustStartProcess(t, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal)
	var addr string
	waitFor(t, "listening", first.done, func() bool {
		addr = publicAddr(t, first.stderr.String())
		return addr != ""
	})
	hook := "http://" + addr + "/hooks/telegram/bot"
	write := func(update, from int64) {
		t.Helper()
		resp, err := channeltest.PostTelegram(hook, secret, channeltest.TelegramUpdate(update, from, "Здравствуйте"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for i := range int64(3) {
		write(7001+i, 100000901+i)
	}
	waitFor(t, "three greetings", first.done, func() bool { return len(fake.Sent()) >= 3 })

	pid := fmt.Sprintf("lifeline process %d", first.cmd.Process.Pid)
	for _, args := range [][]string{
		{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal},
		{"serve", "--data", dir, "--listen", "127.0.0.1:0"},
		{"migrate", "--data", dir},
	} {
		res := runLifeline(t, nil, args...)
		checkOneLineError(t, res, 1)
		if !strings.Contains(res.stderr, "in use by "+pid) {
			t.Errorf("lifeline %s: got stderr %q, want it to name %s", args[0], res.stderr, pid)
		}
		if !exists(t, filepath.Join(dir, controlSocket)) {
			t.Fatalf("after a refused %s the control socket is gone", args[0])
		}
		if out := mustRun(t, nil, "keys", "status", "--data", dir); out != "unsealed\n" {
			t.Fatalf("keys status after a refused %s: got %q, want unsealed", args[0], out)
		}
	}

	// Removing the lock file changes nothing: the lock is on the directory.
	if err := os.Remove(filepath.Join(dir, lockFile)); err != nil {
		t.Fatal(err)
	}
	res := runLifeline(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal)
	checkOneLineError(t, res, 1)
	if !strings.Contains(res.stderr, "in use by lifeline process") {
		t.Errorf("serve after the lock file was removed: got stderr %q, want it refused", res.stderr)
	}
	if out := mustRun(t, nil, "keys", "status", "--data", dir); out != "unsealed\n" {
		t.Fatalf("keys status after the lock file was removed: got %q, want unsealed", out)
	}

	// The first server goes on sending, each greeting once.
	for i := range int64(3) {
		write(7101+i, 100000911+i)
	}
	waitFor(t, "six greetings", first.done, func() bool { return len(fake.Sent()) >= 6 })
	time.Sleep(time.Second) // a second sender would have sent by now
	sent := fake.Sent()
	chats := map[int64]int{}
	for _, s := range sent {
		if s.Text != intake.DefaultGreeting {
			t.Errorf("sent %q, want greetings only", s.Text)
		}
		chats[s.ChatID]++
	}
	if len(sent) != 6 || len(chats) != 6 {
		t.Fatalf("sent %d messages to %d chats, want one greeting to each of 6", len(sent), len(chats))
	}

	// The duress command reaches the first server.
	if out := mustRun(t, nil, "seal", "--data", dir); !strings.Contains(out, "Sealed") {
		t.Fatalf("seal: got %q", out)
	}
	if out := mustRun(t, nil, "keys", "status", "--data", dir); !strings.HasPrefix(out, "sealed") {
		t.Fatalf("keys status after seal: got %q, want sealed", out)
	}
	checkGracefulExit(t, first, first.mustTerminate(t))

	// Gone, it leaves its lock to the next server, which starts.
	srv := mustStartServe(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0")
	if out := mustRun(t, nil, "keys", "status", "--data", dir); !strings.HasPrefix(out, "sealed") {
		t.Fatalf("keys status of the next server: got %q, want sealed", out)
	}
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestLiveControlSocketNeverTakenOver: a server that finds a control socket
// that answers refuses to start, whatever the locks say, and the socket
// stays the running one's.
func TestLiveControlSocketNeverTakenOver(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	running := func(context.Context, controlRequest) controlResponse {
		return controlResponse{OK: true, Detail: "running"}
	}
	stop, err := listenControl(t.Context(), dir, logger, running)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if _, err := listenControl(t.Context(), dir, logger, running); err == nil || !strings.Contains(err.Error(), "running") {
		t.Fatalf("a second control socket on a live one: %v, want it refused", err)
	}
	c, err := dialControl(dir)
	if err != nil {
		t.Fatalf("the running server's socket after the refusal: %v", err)
	}
	c.Close()
}

// TestControlSocketRemovedOnlyByOwner: a server that stops removes its
// control socket only if the path is still the socket it bound; another
// one put there since stays, and still answers.
func TestControlSocketRemovedOnlyByOwner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	answer := func(detail string) controlHandler {
		return func(context.Context, controlRequest) controlResponse {
			return controlResponse{OK: true, Detail: detail}
		}
	}
	stop, err := listenControl(t.Context(), dir, logger, answer("first"))
	if err != nil {
		t.Fatal(err)
	}
	// Someone else's socket replaces the path.
	path := filepath.Join(dir, controlSocket)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n') // the request
			io.WriteString(c, `{"ok":true,"detail":"second"}`+"\n")
			c.Close()
		}
	}()
	stop()
	if !exists(t, path) {
		t.Fatal("the stopping server removed a socket that was not its own")
	}
	c, err := dialControl(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.do(controlRequest{Op: "status"})
	if err != nil || resp.Detail != "second" {
		t.Fatalf("got %+v, %v; want the second socket's answer", resp, err)
	}

	// Its own socket it removes.
	ln.Close()
	os.Remove(path)
	stop, err = listenControl(t.Context(), dir, logger, answer("third"))
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if exists(t, path) {
		t.Fatal("a stopped server left its own socket behind")
	}
}
