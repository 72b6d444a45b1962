// SPDX-License-Identifier: AGPL-3.0-or-later

package outbox_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/telegram"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/outbox"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// tgEnv is a Telegram channel end to end: updates through the real webhook
// handler into intake, sends through the outbox and the real adapter to the
// Bot API fake.
type tgEnv struct {
	t    *testing.T
	db   *sqlstore.DB
	fake *channeltest.TelegramFake
	hook http.Handler
	w    *outbox.Worker
}

const tgSecret = "hook-secret_1"

func setupTelegram(t *testing.T) *tgEnv {
	t.Helper()
	ctx := context.Background()
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
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "db"), sqlstore.Options{Sealer: k})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fake := channeltest.NewTelegramFake("123456:test-token")
	t.Cleanup(fake.Close)
	a, err := telegram.New(telegram.Config{Name: "bot", BotToken: fake.Token, WebhookSecret: tgSecret, APIURL: fake.URL()}, channeltest.LoopbackClient())
	if err != nil {
		t.Fatal(err)
	}
	reg := channel.NewRegistry(a)
	svc := intake.New(db, k, intake.Config{})
	return &tgEnv{t: t, db: db, fake: fake,
		hook: channeltest.Mux(channel.NewHandler(slog.New(slog.DiscardHandler), reg, svc, nil, nil)),
		w: &outbox.Worker{DB: db, Senders: reg, Refs: k, Limits: outbox.DefaultLimits, ChatLimits: outbox.DefaultChatLimits,
			Poll: 100 * time.Millisecond}}
}

// write posts a contact's message as Telegram does.
func (e *tgEnv) write(updateID, from int64, text string) {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/hooks/telegram/bot", bytes.NewReader(channeltest.TelegramUpdate(updateID, from, text)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(telegram.SecretHeader, tgSecret)
	rec := httptest.NewRecorder()
	e.hook.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("webhook: status %d", rec.Code)
	}
}

// sentTo returns the texts the fake accepted for chat.
func (e *tgEnv) sentTo(chat int64) []string {
	var out []string
	for _, s := range e.fake.Sent() {
		if s.ChatID == chat {
			out = append(out, s.Text)
		}
	}
	return out
}

// sent reports whether the fake accepted text, to any chat.
func (e *tgEnv) sent(text string) bool {
	for _, s := range e.fake.Sent() {
		if s.Text == text {
			return true
		}
	}
	return false
}

// TestHungGreetingDoesNotHoldReplyToAnotherChat: the provider hangs on one
// contact's greeting; an operator's reply to another contact reaches the
// provider within 2 s all the same, and so do the other greetings; the hung
// send is cut off after SendTimeout, recorded as maybe sent, and tried again
// until it goes through.
func TestHungGreetingDoesNotHoldReplyToAnotherChat(t *testing.T) {
	ctx := context.Background()
	e := setupTelegram(t)
	e.w.SendTimeout = 3 * time.Second
	const hung, other = 100000071, 100000072
	e.fake.Hang(hung, time.Minute)
	e.write(1, hung, "Здравствуйте")
	first, err := e.db.Conversations(ctx, 10, "")
	if err != nil || len(first) != 1 {
		t.Fatalf("conversations %v, %v; want the hung contact's", first, err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.w.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	// The greeting's call is in flight, and hangs.
	for start := time.Now(); e.fake.Calls() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the greeting was never sent")
		}
	}

	// Other contacts write: their greetings, and a reply to one of them.
	for i := range int64(5) {
		e.write(10+i, other+i, "Привет")
	}
	convs, err := e.db.Conversations(ctx, 10, "")
	if err != nil || len(convs) != 6 {
		t.Fatalf("%d conversations, %v; want 6", len(convs), err)
	}
	conv := convs[0].ID
	if conv == first[0].ID {
		conv = convs[1].ID
	}
	const reply = "Оператор на связи."
	queued := time.Now()
	if _, err := e.db.QueueReply(ctx, lifeline.CLIActor, conv, reply); err != nil {
		t.Fatal(err)
	}
	e.w.Poke()
	for !e.sent(reply) {
		if time.Since(queued) > 2*time.Second {
			t.Fatalf("the reply had not reached the provider after %s, behind one hung greeting (sent %d)", time.Since(queued).Round(time.Millisecond), len(e.fake.Sent()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(queued)
	for i := range int64(5) {
		for start := time.Now(); len(e.sentTo(other+i)) == 0; time.Sleep(10 * time.Millisecond) {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("greeting %d never sent beside the hung one", i)
			}
		}
	}
	t.Logf("reply to another chat reached the provider %s after it was queued, the greeting to the hung chat still in flight", took.Round(time.Millisecond))

	// Cut off after SendTimeout: maybe sent, so tried again.
	var lastError string
	for start := time.Now(); lastError != outbox.ReasonTimedOut; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the hung send's job says %q, want %q", lastError, outbox.ReasonTimedOut)
		}
		if err := e.db.Read(ctx, func(tx *sqlstore.Tx) error {
			return tx.QueryRow(`SELECT COALESCE(last_error, '') FROM jobs WHERE state = 'pending' AND kind = 'send'`).Scan(&lastError)
		}); err != nil {
			lastError = ""
		}
	}
	e.fake.Hang(hung, 0)
	for start := time.Now(); len(e.sentTo(hung)) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the timed-out greeting was never tried again")
		}
	}
	if got := e.sentTo(hung); len(got) != 1 || got[0] != intake.DefaultGreeting {
		t.Fatalf("the hung chat got %q, want its greeting once", got)
	}
}
