// SPDX-License-Identifier: AGPL-3.0-or-later

package intake_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/intake"
)

// BenchmarkReceive stores distinct text messages from 1,000 senders, from
// many goroutines: the store side of webhook ingest (dedupe, contact,
// conversation, sealed message, durable commit).
func BenchmarkReceive(b *testing.B) { benchmarkReceive(b, false) }

// BenchmarkReceiveTelegramRef is BenchmarkReceive with each message naming
// itself by chat and message id, as Telegram's do: the second dedupe key
// (a lookup and an index entry) on top.
func BenchmarkReceiveTelegramRef(b *testing.B) { benchmarkReceive(b, true) }

func benchmarkReceive(b *testing.B, ref bool) {
	db, k, _ := MustOpen(b, false)
	// A thousand senders writing this fast are far over any budget: lifted,
	// so that every message is stored (the door's checks still run).
	svc := intake.New(db, k, intake.Config{Limits: intake.Limits{PerMinute: 1 << 30, PerDay: 1 << 30, StorePerHour: 1 << 30}})
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			e := text(fmt.Sprint(i), fmt.Sprint(100000000+i%1000), "Здравствуйте. Я хочу сдаться, как это сделать безопасно?")
			if ref {
				e.MessageRef = e.ReplyTo + lifeline.Sensitive(":"+fmt.Sprint(i))
			}
			if err := svc.Receive(context.Background(), lifeline.ChannelTelegram, "bot", []channel.Event{e}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
