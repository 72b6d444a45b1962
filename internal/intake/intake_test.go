// SPDX-License-Identifier: AGPL-3.0-or-later

package intake_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// MustOpen returns a migrated store over fresh keys, unsealed unless sealed.
func MustOpen(t testing.TB, sealed bool) (*sqlstore.DB, *keys.Keeper, string) {
	t.Helper()
	dir := t.TempDir()
	unseal := filepath.Join(dir, "dev-unseal-key")
	if _, err := keys.Init(filepath.Join(dir, "keys"), keys.Options{DevFile: unseal}); err != nil {
		t.Fatal(err)
	}
	k, err := keys.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if !sealed {
		if err := k.UnsealWithFile(unseal); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, sqlstore.FileName), sqlstore.Options{Sealer: k})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, k, unseal
}

func text(id, sender, body string) channel.Event {
	return channel.Event{
		ID: "update:" + id, Type: channel.EventMessage, Kind: channel.KindText,
		Sender: lifeline.Sensitive(sender), ReplyTo: lifeline.Sensitive(sender),
		Text: lifeline.Sensitive(body), ProviderMessageID: "m" + id, Time: time.Now(),
	}
}

func mustCount(t testing.TB, db *sqlstore.DB) sqlstore.Counts {
	t.Helper()
	c, err := db.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReceiveThreadsAndGreets(t *testing.T) {
	ctx := context.Background()
	db, k, _ := MustOpen(t, false)
	var notices []intake.Notice
	svc := intake.New(db, k, intake.Config{Notify: func(n []intake.Notice) { notices = append(notices, n...) }})

	if err := svc.Receive(ctx, lifeline.ChannelTelegram, "bot", []channel.Event{text("1", "100000001", "Здравствуйте, я хочу сдаться")}); err != nil {
		t.Fatal(err)
	}
	// The same sender again, in a batch with a new one.
	err := svc.Receive(ctx, lifeline.ChannelTelegram, "bot", []channel.Event{
		text("2", "100000001", "Вы здесь?"),
		text("3", "100000002", "Добрый вечер"),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := mustCount(t, db)
	// 2 contacts, 2 conversations, 3 inbound + 2 greetings, 2 greeting jobs.
	want := sqlstore.Counts{Contacts: 2, Conversations: 2, Messages: 5, Jobs: 2, Events: 3}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if len(notices) != 3 {
		t.Fatalf("got %d notices, want 3", len(notices))
	}
	id, err := db.FindContact(ctx, lifeline.ChannelTelegram, "100000001")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := db.Messages(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, string(m.Direction)+":"+m.Body.Reveal())
	}
	if len(bodies) != 3 || bodies[0] != "in:Здравствуйте, я хочу сдаться" || bodies[1] != "out:"+intake.DefaultGreeting || bodies[2] != "in:Вы здесь?" {
		t.Fatalf("got messages %q", bodies)
	}
}

// TestReceiveExactlyOnce is S-06: the same event delivered 10 times from 32
// goroutines is stored once, and every delivery is acknowledged.
func TestReceiveExactlyOnce(t *testing.T) {
	ctx := context.Background()
	db, k, _ := MustOpen(t, false)
	svc := intake.New(db, k, intake.Config{Greetings: map[lifeline.ChannelKind]string{}})
	var wg sync.WaitGroup
	errs := make(chan error, 32*10)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				// Ten events, each delivered by every goroutine.
				e := text(fmt.Sprint(i), fmt.Sprint(200000000+i%3), fmt.Sprintf("message %d", i))
				if err := svc.Receive(ctx, lifeline.ChannelTelegram, "bot", []channel.Event{e}); err != nil {
					errs <- fmt.Errorf("goroutine %d: %w", g, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := mustCount(t, db)
	if got.Messages != 10 || got.Events != 10 || got.Contacts != 3 || got.Conversations != 3 {
		t.Fatalf("got %+v, want 10 messages and events, 3 contacts and conversations", got)
	}
}

// TestReceiveWhileSealed: intake works sealed; a sender who writes twice
// stays one contact; after unseal the messages open and the contact is
// findable.
func TestReceiveWhileSealed(t *testing.T) {
	ctx := context.Background()
	db, k, unseal := MustOpen(t, true)
	svc := intake.New(db, k, intake.Config{})
	for i, body := range []string{"первое", "второе"} {
		if err := svc.Receive(ctx, lifeline.ChannelWhatsApp, "wa", []channel.Event{text(fmt.Sprint(i), "79990000001", body)}); err != nil {
			t.Fatalf("receive while sealed: %v", err)
		}
	}
	if got := mustCount(t, db); got.Contacts != 1 || got.Conversations != 1 || got.Messages != 3 {
		t.Fatalf("got %+v, want 1 contact, 1 conversation, 2 messages and a greeting", got)
	}
	if _, err := db.FindContact(ctx, lifeline.ChannelWhatsApp, "79990000001"); lifeline.ErrorCode(err) != lifeline.EUNAVAILABLE {
		t.Fatalf("FindContact while sealed: %v, want EUNAVAILABLE", err)
	}
	if err := k.UnsealWithFile(unseal); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Reseal(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := db.FindContact(ctx, lifeline.ChannelWhatsApp, "79990000001")
	if err != nil {
		t.Fatalf("FindContact after unseal: %v", err)
	}
	msgs, err := db.Messages(ctx, id)
	if err != nil || len(msgs) != 3 || msgs[0].Body.Reveal() != "первое" || msgs[2].Body.Reveal() != "второе" {
		t.Fatalf("messages after unseal: %v, %v", msgs, err)
	}
	// And the sender, writing again unsealed, joins the same contact.
	if err := svc.Receive(ctx, lifeline.ChannelWhatsApp, "wa", []channel.Event{text("9", "79990000001", "третье")}); err != nil {
		t.Fatal(err)
	}
	if got := mustCount(t, db); got.Contacts != 1 || got.Conversations != 1 {
		t.Fatalf("got %+v after unseal, want still 1 contact and conversation", got)
	}
}

func TestReceiveStatus(t *testing.T) {
	ctx := context.Background()
	db, k, _ := MustOpen(t, false)
	svc := intake.New(db, k, intake.Config{})
	// A status for a message nobody sent is recorded as seen and ignored.
	st := channel.Event{ID: "wamid.X:delivered", Type: channel.EventStatus, ProviderMessageID: "wamid.X", Status: &channel.Status{State: "delivered"}}
	if err := svc.Receive(ctx, lifeline.ChannelWhatsApp, "wa", []channel.Event{st}); err != nil {
		t.Fatal(err)
	}
	if got := mustCount(t, db); got.Events != 1 || got.Messages != 0 {
		t.Fatalf("got %+v", got)
	}
}

// TestSameProviderMessageIDInTwoChats: Telegram numbers messages per chat,
// so two soldiers' first messages share a message_id; both are stored.
func TestSameProviderMessageIDInTwoChats(t *testing.T) {
	ctx := context.Background()
	db, k, _ := MustOpen(t, false)
	svc := intake.New(db, k, intake.Config{})
	for i, sender := range []string{"100000011", "100000012"} {
		e := text(fmt.Sprint(900+i), sender, "первое сообщение")
		e.ProviderMessageID = "1"
		if err := svc.Receive(ctx, lifeline.ChannelTelegram, "bot", []channel.Event{e}); err != nil {
			t.Fatalf("sender %s: %v", sender, err)
		}
	}
	if got := mustCount(t, db); got.Contacts != 2 || got.Events != 2 {
		t.Fatalf("got %+v, want both stored", got)
	}
}

// TestGreetOnlyWhenAsked: with the registration bot on, intake greets a
// new soldier only while Greet says so (sealed, when the bot cannot run).
func TestGreetOnlyWhenAsked(t *testing.T) {
	ctx := context.Background()
	db, k, _ := MustOpen(t, false)
	greet := false
	svc := intake.New(db, k, intake.Config{Greet: func() bool { return greet }})
	if err := svc.Receive(ctx, lifeline.ChannelTelegram, "bot", []channel.Event{text("1", "100000051", "Здравствуйте")}); err != nil {
		t.Fatal(err)
	}
	if got := mustCount(t, db); got.Messages != 1 || got.Jobs != 0 {
		t.Fatalf("not greeting: %+v, want the message alone", got)
	}
	greet = true
	if err := svc.Receive(ctx, lifeline.ChannelTelegram, "bot", []channel.Event{text("2", "100000052", "Здравствуйте")}); err != nil {
		t.Fatal(err)
	}
	if got := mustCount(t, db); got.Messages != 3 || got.Jobs != 1 {
		t.Fatalf("greeting: %+v, want a greeting queued", got)
	}
}
