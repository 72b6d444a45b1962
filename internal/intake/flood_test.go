// SPDX-License-Identifier: AGPL-3.0-or-later

package intake_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// fakeClock is a settable clock for the budgets.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// burst makes n text events from sender, with ids prefix-0 … prefix-(n-1).
func burst(prefix, sender string, n int) []channel.Event {
	es := make([]channel.Event, n)
	for i := range es {
		es[i] = text(fmt.Sprintf("%s-%d", prefix, i), sender, fmt.Sprintf("%s %d", prefix, i))
	}
	return es
}

func mustReceive(t testing.TB, svc *intake.Service, kind lifeline.ChannelKind, events ...channel.Event) {
	t.Helper()
	if err := svc.Receive(context.Background(), kind, "bot", events); err != nil {
		t.Fatalf("receive: got %v, want nil (acknowledged)", err)
	}
}

// holds counts the inbound messages of a sender's contact by their hold.
func holds(t testing.TB, db *sqlstore.DB, kind lifeline.ChannelKind, sender string) map[lifeline.Hold]int {
	t.Helper()
	out := map[lifeline.Hold]int{}
	id, err := db.FindContact(context.Background(), kind, sender)
	if lifeline.ErrorCode(err) == lifeline.ENOTFOUND {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := db.Messages(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Direction == lifeline.Inbound {
			out[m.Hold]++
		}
	}
	return out
}

// checkHolds checks a sender's inbound messages: none within the budget,
// deferred over it, quarantined over the storage cap.
func checkHolds(t testing.TB, db *sqlstore.DB, kind lifeline.ChannelKind, sender string, none, deferred, quarantined int) {
	t.Helper()
	got := holds(t, db, kind, sender)
	if got[lifeline.HoldNone] != none || got[lifeline.HoldDeferred] != deferred || got[lifeline.HoldQuarantined] != quarantined || len(got) > 3 {
		t.Fatalf("stored %v, want %d within budget, %d deferred, %d quarantined", got, none, deferred, quarantined)
	}
}

// TestFloodBurstStoredWorkHeldToBudget: a burst of 50 from one sender is
// stored whole, every delivery acknowledged; 20 of it are within the
// minute's budget and the other 30 deferred (no work of their own). The
// bucket refills evenly (one message every 3 s) and fully after a minute.
func TestFloodBurstStoredWorkHeldToBudget(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	clock := newFakeClock()
	svc := intake.New(db, k, intake.Config{Now: clock.Now, Greetings: map[lifeline.ChannelKind]string{}})
	const sender = "100000666"
	// Half one event per webhook, half in one webhook: the same.
	es := burst("a", sender, 50)
	for _, e := range es[:25] {
		mustReceive(t, svc, lifeline.ChannelTelegram, e)
	}
	clock.Add(time.Second)
	mustReceive(t, svc, lifeline.ChannelTelegram, es[25:]...)
	checkHolds(t, db, lifeline.ChannelTelegram, sender, 20, 30, 0)
	if st := svc.Stats(); st.Deferred != 30 || st.Quarantined != 0 || st.DroppedBlocked != 0 || st.Senders != 1 {
		t.Fatalf("stats %+v, want 30 deferred, 1 sender tracked", st)
	}
	if got := mustCount(t, db); got.Events != 50 || got.Messages != 50 {
		t.Fatalf("got %+v, want 50 events seen and 50 messages", got)
	}

	clock.Add(2 * time.Second) // 3 s after the burst: one more within budget
	mustReceive(t, svc, lifeline.ChannelTelegram, burst("b", sender, 3)...)
	checkHolds(t, db, lifeline.ChannelTelegram, sender, 21, 32, 0)
	clock.Add(time.Minute) // full again: 20, not more
	mustReceive(t, svc, lifeline.ChannelTelegram, burst("c", sender, 30)...)
	checkHolds(t, db, lifeline.ChannelTelegram, sender, 41, 42, 0)
}

// TestFloodNewSenderGetsIn: while a sender floods, a new sender's first
// message is handled in full (and greeted), alone or in the same webhook
// as the flood.
func TestFloodNewSenderGetsIn(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	clock := newFakeClock()
	svc := intake.New(db, k, intake.Config{Now: clock.Now})
	const hostile = "100000666"
	mustReceive(t, svc, lifeline.ChannelTelegram, burst("flood", hostile, 50)...)
	mustReceive(t, svc, lifeline.ChannelTelegram, text("soldier-1", "100000001", "Здравствуйте, я хочу сдаться"))
	mixed := append(burst("flood2", hostile, 10), text("soldier-2", "100000002", "Помогите"))
	mixed = append(mixed, burst("flood3", hostile, 10)...)
	mustReceive(t, svc, lifeline.ChannelTelegram, mixed...)
	for _, s := range []string{"100000001", "100000002"} {
		checkHolds(t, db, lifeline.ChannelTelegram, s, 1, 0, 0)
	}
	checkHolds(t, db, lifeline.ChannelTelegram, hostile, 20, 50, 0)
	// The three senders were greeted once each: a deferred message greets
	// no one.
	if got := mustCount(t, db); got.Contacts != 3 || got.Jobs != 3 {
		t.Errorf("got %+v, want 3 contacts and 3 greetings queued", got)
	}
}

// TestFloodDailyCap: the day's budget holds however the messages are
// spread over the day, and lifts at the next UTC day; what is over it is
// stored, deferred.
func TestFloodDailyCap(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	clock := newFakeClock()
	svc := intake.New(db, k, intake.Config{Now: clock.Now, Limits: intake.Limits{PerMinute: 10, PerDay: 25}})
	const sender = "79990000077"
	for i := range 5 { // 50 messages, 10 a minute: within the minute's budget
		mustReceive(t, svc, lifeline.ChannelWhatsApp, burst(fmt.Sprint("m", i), sender, 10)...)
		clock.Add(time.Minute)
	}
	checkHolds(t, db, lifeline.ChannelWhatsApp, sender, 25, 25, 0)
	clock.Add(14 * time.Hour) // past midnight UTC
	mustReceive(t, svc, lifeline.ChannelWhatsApp, burst("next-day", sender, 3)...)
	checkHolds(t, db, lifeline.ChannelWhatsApp, sender, 28, 25, 0)
}

// TestFloodMediaOverBudgetDeferredNotLost: media over the day's media
// budget are recorded as deferred, with the reason, and queued for a later
// fetch, one MediaPace apart; the messages that carried them are stored.
func TestFloodMediaOverBudgetDeferredNotLost(t *testing.T) {
	ctx := context.Background()
	db, k, _ := MustOpen(t, false)
	clock := newFakeClock()
	svc := intake.New(db, k, intake.Config{Now: clock.Now, Limits: intake.Limits{MediaPerDay: 2}, Greetings: map[lifeline.ChannelKind]string{}})
	const sender = "100000003"
	var es []channel.Event
	for i := range 4 {
		e := text(fmt.Sprint("photo-", i), sender, "фото")
		e.Kind = channel.KindPhoto
		e.Media = []channel.Media{{ProviderID: fmt.Sprint("file-", i), MIME: "image/jpeg"}}
		es = append(es, e)
	}
	mustReceive(t, svc, lifeline.ChannelTelegram, es...)
	checkHolds(t, db, lifeline.ChannelTelegram, sender, 4, 0, 0)
	if st := svc.Stats(); st.MediaSkipped != 2 || st.Deferred != 0 {
		t.Fatalf("stats %+v, want 2 media skipped, nothing deferred", st)
	}
	id, err := db.FindContact(ctx, lifeline.ChannelTelegram, sender)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := db.Messages(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, m := range msgs {
		ms, err := db.MessageMedia(ctx, m.ID)
		if err != nil || len(ms) != 1 {
			t.Fatalf("message media: got %d, %v; want 1", len(ms), err)
		}
		states = append(states, ms[0].State+" "+ms[0].Reason)
	}
	want := "pending |pending |deferred " + sqlstore.SkippedMediaBudget + "|deferred " + sqlstore.SkippedMediaBudget
	if got := strings.Join(states, "|"); got != want {
		t.Fatalf("media states %q, want %q", got, want)
	}
	// All four are queued for the media worker: two at once, two later.
	if got := mustCount(t, db); got.Jobs != 4 {
		t.Fatalf("got %d jobs, want 4 media fetches", got.Jobs)
	}
}

// TestFloodRetriesStoredOnce: a provider retrying events that were
// deferred gets 200 and stores nothing more, even once the sender's budget
// has refilled: each is stored once, as it was first judged.
func TestFloodRetriesStoredOnce(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	clock := newFakeClock()
	svc := intake.New(db, k, intake.Config{Now: clock.Now})
	const sender = "100000666"
	es := burst("r", sender, 30)
	mustReceive(t, svc, lifeline.ChannelTelegram, es...)
	clock.Add(time.Hour)
	for range 3 {
		mustReceive(t, svc, lifeline.ChannelTelegram, es...)
	}
	checkHolds(t, db, lifeline.ChannelTelegram, sender, 20, 10, 0)
	// Duplicates are not judged again: the counter is of the first time.
	if st := svc.Stats(); st.Deferred != 10 {
		t.Fatalf("deferred %d, want 10", st.Deferred)
	}
	// And they took no budget: the sender has a full minute's worth.
	mustReceive(t, svc, lifeline.ChannelTelegram, burst("s", sender, 25)...)
	checkHolds(t, db, lifeline.ChannelTelegram, sender, 40, 15, 0)
}

// TestFloodConcurrent: 32 goroutines sending for one sender at once store
// every message once, exactly the budget of them within it.
func TestFloodConcurrent(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	clock := newFakeClock()
	svc := intake.New(db, k, intake.Config{Now: clock.Now})
	const sender = "100000666"
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 4 {
				e := text(fmt.Sprintf("g%d-%d", g, i), sender, "x")
				if err := svc.Receive(context.Background(), lifeline.ChannelTelegram, "bot", []channel.Event{e}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	checkHolds(t, db, lifeline.ChannelTelegram, sender, 20, 108, 0)
	if st := svc.Stats(); st.Deferred != 108 {
		t.Fatalf("deferred %d, want 108", st.Deferred)
	}
}

// TestBlockedSender: a blocked sender's messages are acknowledged and
// nothing of them is stored, not even a contact; other senders and the same
// id on another channel kind are not affected; unblocked, it is stored
// again. Blocking works while sealed.
func TestBlockedSender(t *testing.T) {
	ctx := context.Background()
	db, k, _ := MustOpen(t, true)
	clock := newFakeClock()
	svc := intake.New(db, k, intake.Config{Now: clock.Now})
	const sender = "123456789"
	ref := k.IntakeRef(string(lifeline.ChannelTelegram), "sender", sender)
	if err := db.BlockSender(ctx, lifeline.CLIActor, lifeline.ChannelTelegram, ref, "provocations"); err != nil {
		t.Fatal(err)
	}
	mustReceive(t, svc, lifeline.ChannelTelegram, burst("blocked", sender, 3)...)
	if got := mustCount(t, db); got.Contacts != 0 || got.Messages != 0 || got.Jobs != 0 || got.Events != 3 {
		t.Fatalf("got %+v, want nothing stored but the 3 dedupe keys", got)
	}
	if st := svc.Stats(); st.DroppedBlocked != 3 || st.Deferred != 0 || st.Senders != 0 {
		t.Fatalf("stats %+v, want 3 dropped as blocked, no budget taken", st)
	}
	// Another sender, and the same digits on WhatsApp, get in.
	mustReceive(t, svc, lifeline.ChannelTelegram, text("other", "100000001", "Здравствуйте"))
	mustReceive(t, svc, lifeline.ChannelWhatsApp, text("wa", sender, "Здравствуйте"))
	if got := mustCount(t, db); got.Contacts != 2 {
		t.Fatalf("got %+v, want 2 contacts", got)
	}

	if err := db.UnblockSender(ctx, lifeline.CLIActor, lifeline.ChannelTelegram, ref, "mistake"); err != nil {
		t.Fatal(err)
	}
	mustReceive(t, svc, lifeline.ChannelTelegram, text("after", sender, "Это я"))
	// A retry of an event dropped while blocked stays dropped.
	mustReceive(t, svc, lifeline.ChannelTelegram, burst("blocked", sender, 3)...)
	if got := mustCount(t, db); got.Contacts != 3 || got.Messages != 6 {
		t.Fatalf("got %+v, want 3 contacts, 3 inbound messages and 3 greetings", got)
	}
	if err := db.UnblockSender(ctx, lifeline.CLIActor, lifeline.ChannelTelegram, ref, "again"); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Fatalf("unblock twice: got %v, want ENOTFOUND", err)
	}
}
