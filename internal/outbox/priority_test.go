// SPDX-License-Identifier: AGPL-3.0-or-later

package outbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// TestReplyQueuedAfter300GreetingsGoesFirst: 300 new Telegram senders'
// greetings wait; an operator's reply queued after them, to one of the
// first senders, is the first message the running worker sends, and every
// greeting still goes, once.
func TestReplyQueuedAfter300GreetingsGoesFirst(t *testing.T) {
	ctx := context.Background()
	db, k, fs, w, _ := setup(t)
	svc := intake.New(db, k, intake.Config{})
	for start := 0; start < 300; start += 100 {
		var events []channel.Event
		for i := start; i < start+100; i++ {
			sender := fmt.Sprint(200000000 + i)
			events = append(events, channel.Event{ID: "update:" + sender, Type: channel.EventMessage, Kind: channel.KindText,
				Sender: lifeline.Sensitive(sender), ReplyTo: lifeline.Sensitive("chat" + sender), Text: "Привет"})
		}
		if err := svc.Receive(ctx, lifeline.ChannelTelegram, "bot", events); err != nil {
			t.Fatal(err)
		}
	}
	// The reply goes to a contact in the middle of the line: the 250th.
	convs, err := db.Conversations(ctx, 50, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.QueueReply(ctx, lifeline.CLIActor, convs[len(convs)-1].ID, "Оператор на связи."); err != nil {
		t.Fatal(err)
	}
	w.Limits = map[lifeline.ChannelKind]float64{lifeline.ChannelTelegram: 300} // 1 s for all: the order is the point
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for len(fs.Sent()) < 300 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	sent := fs.Sent()
	if len(sent) != 300 {
		t.Fatalf("sent %d messages, want 300: 299 greetings and the reply (its contact's greeting folded)", len(sent))
	}
	if want := "Оператор на связи."; sent[0][len(sent[0])-len(want):] != want {
		for i, s := range sent {
			if strings.HasSuffix(s, want) {
				t.Logf("reply at %d", i)
			}
		}
		t.Fatalf("first sent %q, want the operator's reply", sent[0])
	}
	seen := map[string]bool{}
	for _, s := range sent {
		if seen[s] {
			t.Fatalf("%q sent twice", s)
		}
		seen[s] = true
	}
}

// TestReplyFoldsPendingGreeting: a contact answered by an operator before
// his greeting went gets the reply only; the greeting is marked failed with
// the reason it was folded, and never sent later.
func TestReplyFoldsPendingGreeting(t *testing.T) {
	ctx := context.Background()
	db, k, fs, w, _ := setup(t)
	firstContact(t, db, k, "100000031")
	convs, _ := db.Conversations(ctx, 1, "")
	if _, err := db.QueueReply(ctx, lifeline.CLIActor, convs[0].ID, "Мы на связи."); err != nil {
		t.Fatal(err)
	}
	for n := 1; n > 0; {
		var err error
		if n, err = w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := fs.Sent(); len(got) != 1 || got[0] != "chat100000031|Мы на связи." {
		t.Fatalf("sent %q, want the reply only", got)
	}
	got := statuses(t, db)
	if len(got) != 2 || got[0] != "failed folded: another message went to the contact instead" || got[1] != "sent " {
		t.Fatalf("statuses %q, want the greeting folded and the reply sent", got)
	}
}

// TestSMSLaneDoesNotHoldTelegram: a Twilio number's one message a second
// paces SMS alone; a Telegram reply queued behind 5 SMS greetings goes at
// once.
func TestSMSLaneDoesNotHoldTelegram(t *testing.T) {
	ctx := context.Background()
	db, k, tg, w, _ := setup(t)
	sms := &fakeSender{kind: lifeline.ChannelSMS}
	w.Senders = channel.NewRegistry(tg, sms)
	w.Limits = map[lifeline.ChannelKind]float64{lifeline.ChannelSMS: 1}
	for i := range 5 {
		firstContactOn(t, db, k, lifeline.ChannelSMS, fmt.Sprintf("+38050000004%d", i))
	}
	firstContact(t, db, k, "100000041")
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	start := time.Now()
	for len(tg.Sent()) == 0 && time.Since(start) < 10*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	if took := time.Since(start); len(tg.Sent()) != 1 || took > time.Second {
		t.Fatalf("the Telegram greeting went after %s (sent %d), want at once beside the SMS lane", took, len(tg.Sent()))
	}
	if n := len(sms.Sent()); n > 2 {
		t.Fatalf("%d SMS sent within the first second, want the number's pace", n)
	}
}

// TestLeasesReleasedOnlyWhenHolderGone: a second handle on the store (a
// second process) releases no lease of a live instance, and so claims
// nothing it holds; it takes them over once that instance is gone (its
// heartbeat stale, or the data directory's lock proves it), and a cleanly
// ended instance gives its leases back itself.
func TestLeasesReleasedOnlyWhenHolderGone(t *testing.T) {
	ctx := context.Background()
	db, k, _, _, _ := setup(t)
	firstContact(t, db, k, "100000051")
	firstContact(t, db, k, "100000052")
	if _, err := db.StartInstance(ctx); err != nil {
		t.Fatal(err)
	}
	held, err := db.ClaimJobs(ctx, time.Hour, 1)
	if err != nil || len(held) != 1 {
		t.Fatalf("claim: %v %v", held, err)
	}

	other, err := sqlstore.OpenSQLite(ctx, db.Path(), sqlstore.Options{Sealer: k})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.StartInstance(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := other.ReleaseLeases(ctx, time.Now().Add(-time.Minute)); err != nil || n != 0 {
		t.Fatalf("ReleaseLeases with the holder alive = %d, %v; want 0", n, err)
	}
	claimed, err := other.ClaimJobs(ctx, time.Hour, 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID == held[0].ID {
		t.Fatalf("the second instance claimed %v, %v; want only the job nobody held", claimed, err)
	}
	if n, err := other.ReleaseLeases(ctx, sqlstore.AllOthersGone); err != nil || n != 1 {
		t.Fatalf("ReleaseLeases with the holder gone = %d, %v; want its 1 lease", n, err)
	}
	if again, err := other.ClaimJobs(ctx, time.Hour, 10); err != nil || len(again) != 1 || again[0].ID != held[0].ID {
		t.Fatalf("after the holder is gone, claimed %v, %v; want its job", again, err)
	}
	// A clean end gives back what the instance holds.
	if err := other.EndInstance(ctx); err != nil {
		t.Fatal(err)
	}
	if again, err := db.ClaimJobs(ctx, time.Hour, 10); err != nil || len(again) != 2 {
		t.Fatalf("after a clean end, claimed %v, %v; want both jobs", again, err)
	}
}
