// SPDX-License-Identifier: AGPL-3.0-or-later

package telegram_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/telegram"
)

// memOffsets is an in-memory telegram.Offsets.
type memOffsets struct {
	mu    sync.Mutex
	m     map[string]int64
	saves int
}

func (o *memOffsets) Load(_ context.Context, name string) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m[name], nil
}

func (o *memOffsets) Save(_ context.Context, name string, offset int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]int64{}
	}
	o.m[name] = offset
	o.saves++
	return nil
}

func (o *memOffsets) get(name string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m[name]
}

// flakyReceiver is a Recorder that fails, while failOn is set, on any
// batch holding an event with that id (a store outage at that update).
type flakyReceiver struct {
	channeltest.Recorder
	failOn atomic.Pointer[string]
	calls  atomic.Int64
}

func (r *flakyReceiver) Receive(ctx context.Context, kind lifeline.ChannelKind, name string, events []channel.Event) error {
	r.calls.Add(1)
	if id := r.failOn.Load(); id != nil {
		for _, e := range events {
			if e.ID == *id || *id == "*" {
				return errors.New("store unavailable")
			}
		}
	}
	return r.Recorder.Receive(ctx, kind, name, events)
}

// startPoller runs a Poller of the channel "main" on fake until the test
// ends or the returned stop is called; stop waits for Run to return.
func startPoller(t *testing.T, fake *channeltest.TelegramFake, recv channel.Receiver, offs telegram.Offsets, opts ...func(*telegram.Poller)) (*telegram.Poller, func()) {
	t.Helper()
	p := &telegram.Poller{
		Adapter:    MustNew(t, fake.URL()),
		Receiver:   recv,
		Offsets:    offs,
		Timeout:    time.Second,
		Backoff:    5 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond,
	}
	for _, o := range opts {
		o(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("poller did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return p, stop
}

// eventually polls cond until it holds or 10 seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func eventIDs(events []channel.Event) []string {
	var ids []string
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}

// TestPollerDeliversOnce: five queued updates are received once each, in
// order, the offset saved is the last update_id + 1, and a restarted
// poller starts from it.
func TestPollerDeliversOnce(t *testing.T) {
	t.Parallel()
	fake := channeltest.NewTelegramFake(testToken)
	defer fake.Close()
	// A webhook is set: getUpdates would answer 409 until it is deleted.
	if err := MustNew(t, fake.URL()).SetWebhook(context.Background(), "https://hotline.example"); err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for i := range 5 {
		b := channeltest.TelegramUpdate(int64(9001+i), 100000777, fmt.Sprintf("сообщение %d", i))
		bodies = append(bodies, b)
		fake.QueueUpdate(b)
	}
	rec := &channeltest.Recorder{}
	offs := &memOffsets{}
	var logs bytes.Buffer
	p, stop := startPoller(t, fake, rec, offs, func(p *telegram.Poller) {
		p.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})

	eventually(t, "five events", func() bool { return len(rec.Events()) == 5 })
	eventually(t, "offset saved and confirmed", func() bool { return offs.get("main") == 9006 && fake.Pending() == 0 })
	stop()
	want := []string{"bot7000000001/update:9001", "bot7000000001/update:9002", "bot7000000001/update:9003", "bot7000000001/update:9004", "bot7000000001/update:9005"}
	if got := eventIDs(rec.Events()); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got events %v, want %v", got, want)
	}
	if fake.WebhookDeletes() == 0 {
		t.Error("the webhook was never deleted")
	}
	if st := p.Stats(); st.Stored != 5 || st.Malformed != 0 {
		t.Errorf("stats %+v, want 5 stored", st)
	}
	if offs.saves != 1 {
		t.Errorf("offset saved %d times, want once for the one batch", offs.saves)
	}
	channeltest.MustContainNone(t, "poller log", logs.String(), testToken, "сообщение", "100000777")

	// A restart: Telegram still holds the five (say the confirming call
	// never reached it), but the saved offset confirms them at once; only
	// the new update is received.
	for _, b := range bodies {
		fake.QueueUpdate(b)
	}
	fake.QueueUpdate(channeltest.TelegramUpdate(9006, 100000777, "новое"))
	rec2 := &channeltest.Recorder{}
	startPoller(t, fake, rec2, offs)
	eventually(t, "the new update", func() bool { return len(rec2.Events()) >= 1 })
	eventually(t, "offset 9007", func() bool { return offs.get("main") == 9007 })
	time.Sleep(50 * time.Millisecond)
	if got := eventIDs(rec2.Events()); len(got) != 1 || got[0] != "bot7000000001/update:9006" {
		t.Errorf("after restart got %v, want only bot7000000001/update:9006", got)
	}
}

// TestPollerReceiverFailure: while the store fails, the offset does not
// move and Telegram keeps the updates; once it recovers, the batch is
// fetched again and every update stored once.
func TestPollerReceiverFailure(t *testing.T) {
	t.Parallel()
	fake := channeltest.NewTelegramFake(testToken)
	defer fake.Close()
	for i := range 3 {
		fake.QueueUpdate(channeltest.TelegramUpdate(int64(501+i), 100000555, fmt.Sprintf("текст %d", i)))
	}
	recv := &flakyReceiver{}
	failOn := "bot7000000001/update:502" // the first update is stored, the second fails
	recv.failOn.Store(&failOn)
	offs := &memOffsets{}
	p, _ := startPoller(t, fake, recv, offs)

	eventually(t, "repeated failures", func() bool { return p.Stats().Failures >= 3 })
	if got := offs.get("main"); got != 0 {
		t.Fatalf("offset saved %d while the store failed, want none", got)
	}
	if n := fake.Pending(); n != 3 {
		t.Fatalf("Telegram holds %d updates, want all 3 unconfirmed", n)
	}
	if got := eventIDs(recv.Events()); len(got) != 1 || got[0] != "bot7000000001/update:501" {
		t.Fatalf("stored %v during the outage, want bot7000000001/update:501 only", got)
	}

	recv.failOn.Store(nil)
	eventually(t, "offset 504", func() bool { return offs.get("main") == 504 })
	eventually(t, "confirmed", func() bool { return fake.Pending() == 0 })
	if got := eventIDs(recv.Events()); strings.Join(got, " ") != "bot7000000001/update:501 bot7000000001/update:502 bot7000000001/update:503" {
		t.Errorf("stored %v, want each update once", got)
	}
	if recv.calls.Load() <= 3 {
		t.Errorf("Receive called %d times, want the batch fetched again after the failures", recv.calls.Load())
	}
}

// TestPollerSkipsMalformed: an update that does not parse is quarantined
// and skipped; one with nothing for a conversation is ignored; neither
// holds up the updates after them, and the offset passes them all.
func TestPollerSkipsMalformed(t *testing.T) {
	t.Parallel()
	fake := channeltest.NewTelegramFake(testToken)
	defer fake.Close()
	fake.QueueUpdate(channeltest.TelegramUpdate(71, 100000333, "первое"))
	fake.QueueUpdate([]byte(`{"update_id":72,"message":"not an object"}`))
	fake.QueueUpdate([]byte(`{"update_id":73,"message":{"message_id":9,"chat":{"id":"100000333","type":"private"},"date":1782000116,"text":"x"}}`))
	fake.QueueUpdate([]byte(`{"update_id":74,"my_chat_member":{"chat":{"id":100000333,"type":"private"}}}`))
	fake.QueueUpdate(channeltest.TelegramUpdate(75, 100000333, "второе"))
	rec := &channeltest.Recorder{}
	quarantine := &channeltest.Quarantined{}
	offs := &memOffsets{}
	p, stop := startPoller(t, fake, rec, offs, func(p *telegram.Poller) { p.Quarantine = quarantine })

	eventually(t, "offset past the batch", func() bool { return offs.get("main") >= 76 })
	stop()
	if got := eventIDs(rec.Events()); strings.Join(got, " ") != "bot7000000001/update:71 bot7000000001/update:75" {
		t.Errorf("stored %v, want bot7000000001/update:71 and bot7000000001/update:75", got)
	}
	st := p.Stats()
	if st.Malformed != 2 || st.Ignored != 1 || st.Stored != 2 {
		t.Errorf("stats %+v, want 2 malformed, 1 ignored, 2 stored", st)
	}
	if quarantine.Len() != 2 {
		t.Errorf("quarantined %d, want the 2 malformed updates", quarantine.Len())
	}
	if got := offs.get("main"); got != 76 {
		t.Errorf("offset %d, want 76", got)
	}
}

// TestGetUpdatesErrors: getUpdates while a webhook is set is a 409, and no
// error ever quotes the token.
func TestGetUpdatesErrors(t *testing.T) {
	t.Parallel()
	fake := channeltest.NewTelegramFake(testToken)
	a := MustNew(t, fake.URL())
	ctx := context.Background()
	if err := a.SetWebhook(ctx, "https://hotline.example"); err != nil {
		t.Fatal(err)
	}
	_, err := a.GetUpdates(ctx, 0, time.Second)
	if err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("getUpdates with a webhook set: got %v, want a 409", err)
	}
	if err := a.DeleteWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	fake.QueueUpdate(channeltest.TelegramUpdate(12, 100000111, "привет"))
	got, err := a.GetUpdates(ctx, 0, time.Second)
	if err != nil || len(got) != 1 {
		t.Fatalf("getUpdates: got %d updates, %v; want 1", len(got), err)
	}
	if id, ok := telegram.UpdateID(got[0]); !ok || id != 12 {
		t.Errorf("UpdateID = %d, %v; want 12", id, ok)
	}
	if _, err := a.Parse(nil, got[0]); err != nil {
		t.Errorf("Parse of a fetched update: %v", err)
	}
	fake.Close()
	_, err = a.GetUpdates(ctx, 13, time.Second)
	if err == nil {
		t.Fatal("getUpdates of a closed API: no error")
	}
	channeltest.MustContainNone(t, "error", err.Error(), testToken, strings.SplitN(testToken, ":", 2)[1])
	for _, bad := range []string{``, `{}`, `{"update_id":"12"}`, `{"update_id":0}`, `{"update_id":-4}`, `not json`} {
		if _, ok := telegram.UpdateID([]byte(bad)); ok {
			t.Errorf("UpdateID(%q) ok, want not", bad)
		}
	}
}
