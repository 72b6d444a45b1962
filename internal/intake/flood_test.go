// SPDX-License-Identifier: AGPL-3.0-or-later

package intake_test

import (
	"context"
	"fmt"
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

// inbound counts the inbound messages of a sender's contact (0 if none).
func inbound(t testing.TB, db *sqlstore.DB, kind lifeline.ChannelKind, sender string) int {
	t.Helper()
	id, err := db.FindContact(context.Background(), kind, sender)
	if lifeline.ErrorCode(err) == lifeline.ENOTFOUND {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := db.Messages(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if m.Direction == lifeline.Inbound {
			n++
		}
	}
	return n
}

// TestFloodBurstHeldToBudget: a hostile sender's burst of 50 is held to 20
// stored within the minute, every delivery acknowledged; the bucket refills
// evenly (one message every 3 s) and fully after a minute.
func TestFloodBurstHeldToBudget(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	clock := newFakeClock()
	svc := intake.New(db, k, intake.Config{Now: clock.Now, Greetings: map[lifeline.ChannelKind]string{}})
	const hostile = "100000666"
	// Half one event per webhook, half in one webhook: both are held.
	es := burst("a", hostile, 50)
	for _, e := range es[:25] {
		mustReceive(t, svc, lifeline.ChannelTelegram, e)
	}
	clock.Add(time.Second)
	mustReceive(t, svc, lifeline.ChannelTelegram, es[25:]...)
	if got := inbound(t, db, lifeline.ChannelTelegram, hostile); got != 20 {
		t.Fatalf("stored %d of a burst of 50, want 20", got)
	}
	if st := svc.Stats(); st.DroppedFlood != 30 || st.DroppedBlocked != 0 || st.Senders != 1 {
		t.Fatalf("stats %+v, want 30 dropped for flood, 1 sender tracked", st)
	}
	// Every event's dedupe key is recorded, dropped or not.
	if got := mustCount(t, db); got.Events != 50 {
		t.Fatalf("got %d events seen, want 50", got.Events)
	}

	clock.Add(2 * time.Second) // 3 s after the burst: one more message
	mustReceive(t, svc, lifeline.ChannelTelegram, burst("b", hostile, 3)...)
	if got := inbound(t, db, lifeline.ChannelTelegram, hostile); got != 21 {
		t.Fatalf("after 3 s: stored %d, want 21", got)
	}
	clock.Add(time.Minute) // full again: 20, not more
	mustReceive(t, svc, lifeline.ChannelTelegram, burst("c", hostile, 30)...)
	if got := inbound(t, db, lifeline.ChannelTelegram, hostile); got != 41 {
		t.Fatalf("after a minute: stored %d, want 41", got)
	}
}

// TestFloodNewSenderGetsIn: while a sender floods, a new sender's first
// message gets in, alone or in the same webhook as the flood.
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
		if got := inbound(t, db, lifeline.ChannelTelegram, s); got != 1 {
			t.Errorf("new sender %s: stored %d, want 1", s, got)
		}
	}
	if got := inbound(t, db, lifeline.ChannelTelegram, hostile); got != 20 {
		t.Errorf("hostile: stored %d, want 20", got)
	}
	// Both new senders were greeted.
	if got := mustCount(t, db); got.Contacts != 3 || got.Jobs != 3 {
		t.Errorf("got %+v, want 3 contacts and 3 greetings queued", got)
	}
}

// TestFloodDailyCap: the day's cap holds however the messages are spread
// over the day, and lifts at the next UTC day.
func TestFloodDailyCap(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	clock := newFakeClock()
	svc := intake.New(db, k, intake.Config{Now: clock.Now, Limits: intake.Limits{PerMinute: 10, PerDay: 25}})
	const sender = "79990000077"
	for i := range 5 { // 50 messages, 10 a minute: within the minute's budget
		mustReceive(t, svc, lifeline.ChannelWhatsApp, burst(fmt.Sprint("m", i), sender, 10)...)
		clock.Add(time.Minute)
	}
	if got := inbound(t, db, lifeline.ChannelWhatsApp, sender); got != 25 {
		t.Fatalf("stored %d in a day, want the cap of 25", got)
	}
	if st := svc.Stats(); st.DroppedFlood != 25 {
		t.Fatalf("dropped %d, want 25", st.DroppedFlood)
	}
	clock.Add(14 * time.Hour) // past midnight UTC
	mustReceive(t, svc, lifeline.ChannelWhatsApp, burst("next-day", sender, 3)...)
	if got := inbound(t, db, lifeline.ChannelWhatsApp, sender); got != 28 {
		t.Fatalf("next day: stored %d, want 28", got)
	}
}

// TestFloodMediaBudget: media over the day's media budget are not taken;
// the messages that carried them are stored.
func TestFloodMediaBudget(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	clock := newFakeClock()
	svc := intake.New(db, k, intake.Config{Now: clock.Now, Limits: intake.Limits{MediaPerDay: 2}})
	const sender = "100000003"
	var es []channel.Event
	for i := range 4 {
		e := text(fmt.Sprint("photo-", i), sender, "фото")
		e.Kind = channel.KindPhoto
		e.Media = []channel.Media{{ProviderID: fmt.Sprint("file-", i), MIME: "image/jpeg"}}
		es = append(es, e)
	}
	mustReceive(t, svc, lifeline.ChannelTelegram, es...)
	if got := inbound(t, db, lifeline.ChannelTelegram, sender); got != 4 {
		t.Fatalf("stored %d messages, want all 4", got)
	}
	if st := svc.Stats(); st.MediaSkipped != 2 || st.DroppedFlood != 0 {
		t.Fatalf("stats %+v, want 2 media skipped, nothing dropped", st)
	}
}

// TestFloodRetriesStayDropped: a provider retrying events that were
// dropped for flood gets 200 and stores nothing, even once the sender's
// budget has refilled: the dedupe key was recorded with the drop.
func TestFloodRetriesStayDropped(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	clock := newFakeClock()
	svc := intake.New(db, k, intake.Config{Now: clock.Now})
	const hostile = "100000666"
	es := burst("r", hostile, 30)
	mustReceive(t, svc, lifeline.ChannelTelegram, es...)
	clock.Add(time.Hour)
	for range 3 {
		mustReceive(t, svc, lifeline.ChannelTelegram, es...)
	}
	if got := inbound(t, db, lifeline.ChannelTelegram, hostile); got != 20 {
		t.Fatalf("stored %d after retries, want 20", got)
	}
	// Duplicates are not judged again: the counter is of the first drop.
	if st := svc.Stats(); st.DroppedFlood != 10 {
		t.Fatalf("dropped %d, want 10", st.DroppedFlood)
	}
	// And they took no budget: the sender has a full minute's worth.
	mustReceive(t, svc, lifeline.ChannelTelegram, burst("s", hostile, 25)...)
	if got := inbound(t, db, lifeline.ChannelTelegram, hostile); got != 40 {
		t.Fatalf("stored %d, want 40", got)
	}
}

// TestFloodConcurrent: 32 goroutines sending for one sender at once store
// exactly the budget.
func TestFloodConcurrent(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	clock := newFakeClock()
	svc := intake.New(db, k, intake.Config{Now: clock.Now})
	const hostile = "100000666"
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 4 {
				e := text(fmt.Sprintf("g%d-%d", g, i), hostile, "x")
				if err := svc.Receive(context.Background(), lifeline.ChannelTelegram, "bot", []channel.Event{e}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := inbound(t, db, lifeline.ChannelTelegram, hostile); got != 20 {
		t.Fatalf("stored %d of 128, want 20", got)
	}
	if st := svc.Stats(); st.DroppedFlood != 108 {
		t.Fatalf("dropped %d, want 108", st.DroppedFlood)
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
	if st := svc.Stats(); st.DroppedBlocked != 3 || st.DroppedFlood != 0 || st.Senders != 0 {
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
