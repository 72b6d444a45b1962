// SPDX-License-Identifier: AGPL-3.0-or-later

package outbox_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/whatsapp"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/outbox"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// clock is a settable clock for the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestWhatsAppWindow: within 24 hours of the contact's latest message a
// reply goes out through the Cloud API; after it, a free-form reply is
// refused with the reason, and an approved template is sent instead.
func TestWhatsAppWindow(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	unseal := filepath.Join(dir, "unseal")
	if _, err := keys.Init(filepath.Join(dir, "keys"), keys.Options{DevFile: unseal}); err != nil {
		t.Fatal(err)
	}
	k, _ := keys.Open(filepath.Join(dir, "keys"))
	if err := k.UnsealWithFile(unseal); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)}
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "db"), sqlstore.Options{Sealer: k, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fake := channeltest.NewWhatsAppFake("1000000001", "wa-access-token")
	defer fake.Close()
	wa, err := whatsapp.New(whatsapp.Config{Name: "wa", PhoneNumberID: "1000000001", AccessToken: "wa-access-token",
		AppSecret: "wa-app-secret", VerifyToken: "wa-verify", APIURL: fake.APIURL()}, channeltest.LoopbackClient())
	if err != nil {
		t.Fatal(err)
	}
	w := &outbox.Worker{DB: db, Senders: channel.NewRegistry(wa), Refs: k, Limits: map[lifeline.ChannelKind]float64{}}

	svc := intake.New(db, k, intake.Config{Greetings: map[lifeline.ChannelKind]string{}})
	e := channel.Event{ID: "wamid.A", Type: channel.EventMessage, Kind: channel.KindText, Sender: "79990000042", Text: "Здравствуйте"}
	if err := svc.Receive(ctx, lifeline.ChannelWhatsApp, "wa", []channel.Event{e}); err != nil {
		t.Fatal(err)
	}
	convs, _ := db.Conversations(ctx, 1, "")
	conv := convs[0].ID

	clk.Add(23 * time.Hour)
	if _, err := db.QueueReply(ctx, lifeline.CLIActor, conv, "Мы на связи."); err != nil {
		t.Fatalf("reply within the window: %v", err)
	}
	clk.Add(2 * time.Hour) // 25 h after the contact wrote
	_, err = db.QueueReply(ctx, lifeline.CLIActor, conv, "Вы здесь?")
	if lifeline.ErrorCode(err) != lifeline.ECONFLICT || !strings.Contains(lifeline.ErrorMessage(err), "24-hour window is closed") {
		t.Fatalf("reply after the window: %v, want ECONFLICT saying the window is closed", err)
	}
	if _, err := db.QueueTemplate(ctx, lifeline.CLIActor, conv, "hotline_followup", "ru"); err != nil {
		t.Fatalf("template after the window: %v", err)
	}
	if _, err := db.QueueTemplate(ctx, lifeline.CLIActor, conv, "bad name!", "ru"); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Fatalf("bad template name: %v, want EINVALID", err)
	}
	if n, err := w.RunOnce(ctx); err != nil || n != 2 {
		t.Fatalf("RunOnce = %d, %v; want 2 sends", n, err)
	}
	sent := fake.Sent()
	if len(sent) != 2 || sent[0].Type != "text" || sent[0].Text != "Мы на связи." || sent[1].Type != "template" ||
		sent[1].Template != "hotline_followup" || sent[1].Language != "ru" || sent[0].To != "79990000042" {
		t.Fatalf("sent %+v", sent)
	}

	// The contact writes again: the window opens again.
	e.ID = "wamid.B"
	if err := svc.Receive(ctx, lifeline.ChannelWhatsApp, "wa", []channel.Event{e}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.QueueReply(ctx, lifeline.CLIActor, conv, "Снова на связи."); err != nil {
		t.Fatalf("reply after the contact wrote again: %v", err)
	}
}
