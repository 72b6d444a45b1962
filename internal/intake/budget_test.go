// SPDX-License-Identifier: AGPL-3.0-or-later

package intake

import (
	"fmt"
	"testing"
	"time"
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
			if ok, _, _ := b.take("soldier", now, 0); !ok {
				t.Fatalf("soldier refused at %d", i)
			}
		}
		if ok, _, _ := b.take(fmt.Sprint("fake-", i), now, 0); !ok {
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

// TestBudgetsRefund: what a failed write took is given back.
func TestBudgetsRefund(t *testing.T) {
	b := mustInitBudgets(Limits{PerMinute: 2, PerDay: 2, MediaPerDay: 1})
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var ts []taken
	for range 2 {
		ok, media, day := b.take("k", now, 1)
		if !ok {
			t.Fatal("refused within budget")
		}
		m := 0
		if media {
			m = 1
		}
		ts = append(ts, taken{key: "k", day: day, media: m})
	}
	if ok, _, _ := b.take("k", now, 0); ok {
		t.Fatal("admitted over budget")
	}
	b.refund(ts)
	if ok, media, _ := b.take("k", now, 1); !ok || !media {
		t.Fatalf("after refund: ok %v, media %v, want both", ok, media)
	}
}
