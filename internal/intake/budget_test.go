// SPDX-License-Identifier: AGPL-3.0-or-later

package intake

import (
	"fmt"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

func mustInitBudgets(l Limits) *budgets {
	b := &budgets{}
	b.init(l)
	return b
}

// checkList checks the last-use list against the map.
func checkList(t *testing.T, b *budgets) {
	t.Helper()
	n := 0
	var newer *bucket
	for k := b.head; k != nil; k = k.older {
		if k.newer != newer || b.senders[k.key] != k {
			t.Fatalf("list broken at %d", n)
		}
		newer = k
		n++
	}
	if newer != b.tail || n != len(b.senders) {
		t.Fatalf("list has %d, map %d", n, len(b.senders))
	}
}

// TestBudgetsBounded: 200,000 distinct invented senders, as a flood of
// fake accounts would be, never hold more than the cap; each is admitted
// (a new sender always is); the sender evicted is the longest idle; a
// sender in use is kept.
func TestBudgetsBounded(t *testing.T) {
	const maxSenders = 10_000
	b := mustInitBudgets(Limits{MaxSenders: maxSenders})
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range 200_000 {
		if i%1000 == 0 {
			// A real soldier keeps writing through the flood, every 20 s,
			// within the budget: never refused, never evicted.
			if hold, _, _ := b.take("soldier", now, 0); hold != lifeline.HoldNone {
				t.Fatalf("soldier refused at %d", i)
			}
		}
		if hold, _, _ := b.take(fmt.Sprint("fake-", i), now, 0); hold != lifeline.HoldNone {
			t.Fatalf("new sender %d refused", i)
		}
		if len(b.senders) > maxSenders {
			t.Fatalf("%d senders tracked, want at most %d", len(b.senders), maxSenders)
		}
		now = now.Add(20 * time.Millisecond)
	}
	checkList(t, b)
	if _, ok := b.senders["soldier"]; !ok {
		t.Error("the soldier in use was evicted")
	}
	if _, ok := b.senders["fake-0"]; ok {
		t.Error("the longest idle was kept")
	}
	if _, ok := b.senders["fake-199999"]; !ok {
		t.Error("the newest was evicted")
	}
}

// TestBudgetsSweep: senders idle for more than a day are forgotten.
func TestBudgetsSweep(t *testing.T) {
	b := mustInitBudgets(Limits{})
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range 1000 {
		b.take(fmt.Sprint("s", i), now, 0)
	}
	b.take("late", now.Add(12*time.Hour), 0)
	b.take("now", now.Add(25*time.Hour), 0)
	if len(b.senders) != 2 {
		t.Fatalf("got %d tracked after a day, want 2", len(b.senders))
	}
	checkList(t, b)
}

// TestBudgetsRefund: what a failed write took is given back, the storage
// cap included.
func TestBudgetsRefund(t *testing.T) {
	b := mustInitBudgets(Limits{PerMinute: 2, PerDay: 2, MediaPerDay: 1, StorePerHour: 3})
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var ts []taken
	for range 2 {
		hold, media, day := b.take("k", now, 1)
		if hold != lifeline.HoldNone {
			t.Fatalf("within budget: got hold %q, want none", hold)
		}
		m := 0
		if media {
			m = 1
		}
		ts = append(ts, taken{key: "k", day: day, work: true, store: true, media: m})
	}
	if hold, _, _ := b.take("k", now, 0); hold != lifeline.HoldDeferred {
		t.Fatalf("over budget: got hold %q, want deferred", hold)
	}
	if hold, _, _ := b.take("k", now, 0); hold != lifeline.HoldQuarantined {
		t.Fatalf("over the storage cap: got hold %q, want quarantined", hold)
	}
	b.refund(ts)
	if hold, media, _ := b.take("k", now, 1); hold != lifeline.HoldNone || !media {
		t.Fatalf("after refund: hold %q, media %v, want none and media", hold, media)
	}
}

// TestBudgetsStorageCap: past the minute's budget messages are deferred,
// past the storage cap quarantined (never refused); the cap refills evenly
// over the hour, and a quarantined message takes no media budget.
func TestBudgetsStorageCap(t *testing.T) {
	b := mustInitBudgets(Limits{PerMinute: 2, StorePerHour: 5, MediaPerDay: 10})
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var got []lifeline.Hold
	for range 7 {
		hold, _, _ := b.take("k", now, 0)
		got = append(got, hold)
	}
	want := []lifeline.Hold{"", "", "deferred", "deferred", "deferred", "quarantined", "quarantined"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if hold, media, _ := b.take("k", now, 3); hold != lifeline.HoldQuarantined || media {
		t.Fatalf("quarantined with media: hold %q, media %v; want quarantined, media skipped", hold, media)
	}
	if k := b.senders["k"]; k.media != 0 {
		t.Fatalf("a quarantined message took %d of the media budget, want 0", k.media)
	}
	now = now.Add(12 * time.Minute) // a fifth of an hour: one more stored
	if hold, _, _ := b.take("k", now, 0); hold != lifeline.HoldNone {
		t.Fatalf("after 12 minutes: got hold %q, want none", hold)
	}
	if hold, _, _ := b.take("k", now, 0); hold != lifeline.HoldQuarantined {
		t.Fatalf("after 12 minutes, the second: got hold %q, want quarantined", hold)
	}
}
