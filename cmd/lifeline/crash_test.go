// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// TestCrashDuringIngest is S-07: a real lifeline process takes signed
// webhooks from 16 concurrent senders and is killed with SIGKILL in the
// middle; restarted, it has stored every update it answered 200 exactly
// once, and its outbox sends every queued greeting (at least once; a
// greeting in flight at the kill may go twice, see package outbox).
func TestCrashDuringIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	unseal := mustInitKeys(t, dir)
	mustRun(t, nil, "migrate", "--data", dir)
	fake := channeltest.NewTelegramFake(testBotToken)
	defer fake.Close()
	const secret = "crash-test-secret"
	mustRun(t, nil, "channel", "add", "telegram", "--data", dir, "--name", "bot", "--bot-token", testBotToken, "--webhook-secret", secret, "--api-url", fake.URL())

	start := func() (*process, string) {
		p := mustStartProcess(t, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--auto-unseal-file", unseal)
		var addr string
		waitFor(t, "listening", p.done, func() bool {
			addr = publicAddr(t, p.stderr.String())
			return addr != ""
		})
		return p, "http://" + addr + "/hooks/telegram/bot"
	}

	p, hook := start()
	var acked sync.Map // update id → true, for every 200
	var next atomic.Int64
	next.Store(10000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := next.Add(1)
				body := channeltest.TelegramUpdate(id, 100000000+id%40, "crash "+strconv.FormatInt(id, 10))
				resp, err := channeltest.PostTelegram(hook, secret, body)
				if err != nil {
					continue // the server is gone: unacknowledged, the provider would retry
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					acked.Store(id, true)
				}
			}
		})
	}
	// Let load build, then kill in the middle of it.
	waitFor(t, "load", p.done, func() bool {
		n := 0
		acked.Range(func(any, any) bool { n++; return n < 300 })
		return n >= 300
	})
	p.cmd.Process.Kill()
	<-p.done
	close(stop)
	wg.Wait()

	// Restart, and replay every acknowledged update once more, as a provider
	// retrying would: all must be duplicates.
	p2, hook2 := start()
	var ids []int64
	acked.Range(func(k, _ any) bool { ids = append(ids, k.(int64)); return true })
	for _, id := range ids[:min(len(ids), 50)] {
		resp, err := channeltest.PostTelegram(hook2, secret, channeltest.TelegramUpdate(id, 100000000+id%40, "crash "+strconv.FormatInt(id, 10)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// The outbox sends the greetings of all 40 senders (those that got in).
	waitFor(t, "greetings", p2.done, func() bool {
		chats := map[int64]bool{}
		for _, s := range fake.Sent() {
			chats[s.ChatID] = true
		}
		return len(chats) == 40
	})
	p2.mustTerminate(t)

	// Read the store directly: every acknowledged update exactly once.
	k, err := keys.Open(filepath.Join(dir, keysDir))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.UnsealWithFile(unseal); err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, sqlstore.FileName), sqlstore.Options{Sealer: k})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	convs, err := db.Conversations(context.Background(), 500, "")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int64]int{}
	for _, c := range convs {
		msgs, err := db.ConversationMessages(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if s, ok := strings.CutPrefix(m.Text.Reveal(), "crash "); ok {
				id, _ := strconv.ParseInt(s, 10, 64)
				stored[id]++
			}
		}
	}
	lost, doubled := 0, 0
	for _, id := range ids {
		if stored[id] == 0 {
			lost++
		}
	}
	for _, n := range stored {
		if n > 1 {
			doubled++
		}
	}
	perChat := map[int64]int{}
	for _, s := range fake.Sent() {
		perChat[s.ChatID]++
	}
	dupGreetings := 0
	for _, n := range perChat {
		dupGreetings += n - 1
	}
	t.Logf("acknowledged %d, stored %d distinct, lost %d, stored twice %d; greetings to %d chats, %d duplicates",
		len(ids), len(stored), lost, doubled, len(perChat), dupGreetings)
	if lost > 0 || doubled > 0 {
		t.Fatalf("%d acknowledged updates lost, %d stored twice; want 0 and 0", lost, doubled)
	}
	if len(perChat) != 40 {
		t.Errorf("greetings reached %d chats, want all 40", len(perChat))
	}
	if dupGreetings > 32 {
		t.Errorf("%d duplicate greetings, want at most one claimed batch (32)", dupGreetings)
	}
}
