// SPDX-License-Identifier: AGPL-3.0-or-later

package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/outbox"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// fakeSender is a channel adapter whose Send records or fails as told.
type fakeSender struct {
	mu   sync.Mutex
	sent []string // "to|text"
	fail error    // returned by every Send while set
	n    int
	at   []time.Time // when each send happened
	// sameID makes every send answer message id 1, as Telegram does for
	// the first message of each chat.
	sameID bool
	kind   lifeline.ChannelKind // telegram if empty
}

func (f *fakeSender) Kind() lifeline.ChannelKind {
	if f.kind != "" {
		return f.kind
	}
	return lifeline.ChannelTelegram
}
func (f *fakeSender) Name() string                                       { return "bot" }
func (f *fakeSender) MaxBody() int64                                     { return 1 << 20 }
func (f *fakeSender) Verify(*http.Request, []byte) error                 { return nil }
func (f *fakeSender) Parse(*http.Request, []byte) (channel.Batch, error) { return channel.Batch{}, nil }
func (f *fakeSender) WriteAck(http.ResponseWriter, *http.Request)        {}
func (f *fakeSender) MalformedStatus() int                               { return http.StatusOK }
func (f *fakeSender) Send(_ context.Context, to lifeline.Sensitive, text string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return "", f.fail
	}
	f.n++
	f.sent = append(f.sent, to.Reveal()+"|"+text)
	if f.sameID {
		f.at = append(f.at, time.Now())
		return "1", nil
	}
	f.at = append(f.at, time.Now())
	return fmt.Sprint(f.n), nil
}

func (f *fakeSender) Sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

func setup(t *testing.T) (*sqlstore.DB, *keys.Keeper, *fakeSender, *outbox.Worker, string) {
	t.Helper()
	return setupKind(t, lifeline.ChannelTelegram)
}

func setupKind(t *testing.T, kind lifeline.ChannelKind) (*sqlstore.DB, *keys.Keeper, *fakeSender, *outbox.Worker, string) {
	t.Helper()
	dir := t.TempDir()
	unseal := filepath.Join(dir, "unseal")
	if _, err := keys.Init(filepath.Join(dir, "keys"), keys.Options{DevFile: unseal}); err != nil {
		t.Fatal(err)
	}
	k, err := keys.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.UnsealWithFile(unseal); err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "db"), sqlstore.Options{Sealer: k})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	fs := &fakeSender{kind: kind}
	w := &outbox.Worker{DB: db, Senders: channel.NewRegistry(fs), Refs: k, Limits: map[lifeline.ChannelKind]float64{}, ChatLimits: map[lifeline.ChannelKind]float64{}}
	return db, k, fs, w, unseal
}

// firstContact stores a first message, which queues the greeting.
func firstContact(t *testing.T, db *sqlstore.DB, k *keys.Keeper, sender string) {
	t.Helper()
	firstContactOn(t, db, k, lifeline.ChannelTelegram, sender)
}

func firstContactOn(t *testing.T, db *sqlstore.DB, k *keys.Keeper, kind lifeline.ChannelKind, sender string) {
	t.Helper()
	svc := intake.New(db, k, intake.Config{})
	e := channel.Event{ID: "update:" + sender, Type: channel.EventMessage, Kind: channel.KindText,
		Sender: lifeline.Sensitive(sender), ReplyTo: lifeline.Sensitive("chat" + sender), Text: "Привет"}
	if err := svc.Receive(context.Background(), kind, "bot", []channel.Event{e}); err != nil {
		t.Fatal(err)
	}
}

func statuses(t *testing.T, db *sqlstore.DB) []string {
	t.Helper()
	convs, err := db.Conversations(context.Background(), 10, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range convs {
		msgs, err := db.ConversationMessages(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Direction == lifeline.Outbound {
				out = append(out, m.Status+" "+m.StatusReason)
			}
		}
	}
	return out
}

func TestSendGreetingOnce(t *testing.T) {
	ctx := context.Background()
	db, k, fs, w, _ := setup(t)
	firstContact(t, db, k, "100000001")
	if n, err := w.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("RunOnce = %d, %v; want 1 job", n, err)
	}
	if got := fs.Sent(); len(got) != 1 || got[0] != "chat100000001|"+intake.DefaultGreeting {
		t.Fatalf("sent %q, want the greeting to the chat", got)
	}
	if n, _ := w.RunOnce(ctx); n != 0 {
		t.Fatalf("a second run claimed %d jobs, want none", n)
	}
	if got := statuses(t, db); len(got) != 1 || got[0] != "sent " {
		t.Fatalf("statuses %q, want sent", got)
	}
	// An operator's reply goes the same way.
	convs, _ := db.Conversations(ctx, 1, "")
	if _, err := db.QueueReply(ctx, lifeline.CLIActor, convs[0].ID, "Мы на связи."); err != nil {
		t.Fatal(err)
	}
	w.RunOnce(ctx)
	if got := fs.Sent(); len(got) != 2 || got[1] != "chat100000001|Мы на связи." {
		t.Fatalf("sent %q", got)
	}
}

func TestSendFailures(t *testing.T) {
	ctx := context.Background()
	db, k, fs, w, _ := setup(t)
	firstContact(t, db, k, "100000002")

	// A wait the provider asks for: not sent, not failed, due later.
	fs.fail = &channel.RetryAfter{After: time.Hour, Err: errors.New("429")}
	if n, err := w.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	if n, _ := w.RunOnce(ctx); n != 0 {
		t.Fatal("a job told to wait an hour was claimed again at once")
	}
	if got := statuses(t, db); got[0] != "queued " {
		t.Fatalf("status %q, want still queued", got)
	}

	// A permanent failure marks the message failed, with the reason.
	firstContact(t, db, k, "100000003")
	fs.fail = fmt.Errorf("bot was blocked by the user: %w", channel.ErrPermanent)
	w.RunOnce(ctx)
	got := statuses(t, db)
	found := false
	for _, s := range got {
		if s == "failed bot was blocked by the user: permanent send failure" {
			found = true
		}
	}
	if !found {
		t.Fatalf("statuses %q, want one failed with the reason", got)
	}
	if len(fs.Sent()) != 0 {
		t.Fatal("something was sent")
	}
}

// TestLeaseExpiry: a worker that claimed a job and died leaves it to be
// claimed again once the lease runs out; nothing is lost.
func TestLeaseExpiry(t *testing.T) {
	ctx := context.Background()
	db, k, fs, w, _ := setup(t)
	firstContact(t, db, k, "100000004")
	jobs, err := db.ClaimJobs(ctx, time.Millisecond, 10) // the worker that dies
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	time.Sleep(5 * time.Millisecond)
	if n, err := w.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("RunOnce after the lease = %d, %v; want the job again", n, err)
	}
	if len(fs.Sent()) != 1 {
		t.Fatalf("sent %d, want 1", len(fs.Sent()))
	}
}

// TestSealedWaits: while sealed nothing can be opened, so nothing is sent
// and nothing fails; after unseal the message goes.
func TestSealedWaits(t *testing.T) {
	ctx := context.Background()
	db, k, fs, w, unseal := setup(t)
	firstContact(t, db, k, "100000005")
	k.Seal()
	w.RunOnce(ctx)
	if len(fs.Sent()) != 0 {
		t.Fatal("sent while sealed")
	}
	if err := k.UnsealWithFile(unseal); err != nil {
		t.Fatal(err)
	}
	if got := statuses(t, db); got[0] != "queued " {
		t.Fatalf("status %q, want queued", got)
	}
}

func TestBackoff(t *testing.T) {
	for attempt := 1; attempt < 20; attempt++ {
		d := outbox.Backoff(attempt)
		hi := min(time.Second<<min(attempt, 12), time.Hour)
		if d < hi/2 || d > hi {
			t.Errorf("Backoff(%d) = %s, want in [%s, %s]", attempt, d, hi/2, hi)
		}
	}
}

// TestStatusesMoveForward: delivery statuses for a sent message, out of
// order, leave it at the furthest state; failed is final.
func TestStatusesMoveForward(t *testing.T) {
	ctx := context.Background()
	db, k, _, w, _ := setupKind(t, lifeline.ChannelSMS)
	firstContactOn(t, db, k, lifeline.ChannelSMS, "+380500000006")
	w.RunOnce(ctx) // the greeting goes out as provider message "1"
	svc := intake.New(db, k, intake.Config{})
	for _, st := range []string{"read", "delivered", "sent"} {
		e := channel.Event{ID: "1:" + st, Type: channel.EventStatus, ProviderMessageID: "1", Status: &channel.Status{State: st}}
		if err := svc.Receive(ctx, lifeline.ChannelSMS, "bot", []channel.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	if got := statuses(t, db); len(got) != 1 || got[0] != "read " {
		t.Fatalf("statuses %q, want read", got)
	}
	e := channel.Event{ID: "1:failed", Type: channel.EventStatus, ProviderMessageID: "1", Status: &channel.Status{State: "failed", ErrorCode: "131026", Reason: "undeliverable"}}
	svc.Receive(ctx, lifeline.ChannelSMS, "bot", []channel.Event{e})
	e = channel.Event{ID: "1:delivered-again", Type: channel.EventStatus, ProviderMessageID: "1", Status: &channel.Status{State: "delivered"}}
	svc.Receive(ctx, lifeline.ChannelSMS, "bot", []channel.Event{e})
	if got := statuses(t, db); got[0] != "failed 131026 undeliverable" {
		t.Fatalf("statuses %q, want failed with the reason", got)
	}
}

// TestChatPacing: sends to one chat keep the per-chat rate; other chats
// are not held up by it.
func TestChatPacing(t *testing.T) {
	ctx := context.Background()
	db, k, fs, w, _ := setup(t)
	w.ChatLimits = map[lifeline.ChannelKind]float64{lifeline.ChannelTelegram: 5} // one send per 200 ms per chat
	firstContact(t, db, k, "100000007")
	firstContact(t, db, k, "100000008")
	convs, _ := db.Conversations(ctx, 10, "")
	for _, c := range convs { // the replies fold the greetings
		for _, text := range []string{"первое", "второе"} {
			if _, err := db.QueueReply(ctx, lifeline.CLIActor, c.ID, text); err != nil {
				t.Fatal(err)
			}
		}
	}
	for n := 1; n > 0; {
		n, _ = w.RunOnce(ctx)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	last := map[string]time.Time{}
	sameChatGaps, otherChatGaps := []time.Duration{}, []time.Duration{}
	for i, s := range fs.sent {
		chat, _, _ := strings.Cut(s, "|")
		if prev, ok := last[chat]; ok {
			sameChatGaps = append(sameChatGaps, fs.at[i].Sub(prev))
		} else if i > 0 {
			otherChatGaps = append(otherChatGaps, fs.at[i].Sub(fs.at[i-1]))
		}
		last[chat] = fs.at[i]
	}
	if len(fs.sent) != 4 || len(sameChatGaps) != 2 {
		t.Fatalf("sent %q", fs.sent)
	}
	for _, g := range sameChatGaps {
		if g < 190*time.Millisecond {
			t.Errorf("two sends to one chat %s apart, want at least 200 ms", g)
		}
	}
	for _, g := range otherChatGaps {
		if g > 150*time.Millisecond {
			t.Errorf("a send to another chat waited %s", g)
		}
	}
}

// TestSameProviderIDInTwoChats: Telegram numbers messages per chat, so two
// chats' greetings come back with the same id; both are recorded as sent,
// and neither is sent again.
func TestSameProviderIDInTwoChats(t *testing.T) {
	ctx := context.Background()
	db, k, fs, w, _ := setup(t)
	fs.sameID = true
	firstContact(t, db, k, "100000021")
	firstContact(t, db, k, "100000022")
	for n := 1; n > 0; {
		var err error
		if n, err = w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := statuses(t, db); len(got) != 2 || got[0] != "sent " || got[1] != "sent " {
		t.Fatalf("statuses %q, want both sent", got)
	}
	if len(fs.Sent()) != 2 {
		t.Fatalf("sent %d, want 2", len(fs.Sent()))
	}
}
