// SPDX-License-Identifier: AGPL-3.0-or-later

package outbox_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
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

// benchProvider is a provider fake for the load benchmark: each send takes
// a round trip (the outbox's own pacing keeps the provider's rates), and
// the time each text arrived is kept.
type benchProvider struct {
	kind lifeline.ChannelKind
	rtt  time.Duration

	mu      sync.Mutex
	arrived map[string]time.Time // by text
	n       int
}

func (p *benchProvider) Kind() lifeline.ChannelKind         { return p.kind }
func (p *benchProvider) Name() string                       { return "bot" }
func (p *benchProvider) MaxBody() int64                     { return 1 << 20 }
func (p *benchProvider) Verify(*http.Request, []byte) error { return nil }
func (p *benchProvider) Parse(*http.Request, []byte) (channel.Batch, error) {
	return channel.Batch{}, nil
}
func (p *benchProvider) WriteAck(http.ResponseWriter, *http.Request) {}
func (p *benchProvider) MalformedStatus() int                        { return http.StatusOK }
func (p *benchProvider) Send(ctx context.Context, _ lifeline.Sensitive, text string) (string, error) {
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(p.rtt):
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if _, ok := p.arrived[text]; !ok {
		p.arrived[text] = time.Now()
	}
	return fmt.Sprint(p.n), nil
}

func (p *benchProvider) at(text string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.arrived[text]
	return t, ok
}

// BenchmarkReplyBehindGreetings: 1,000 greetings queued on each of
// Telegram, WhatsApp and SMS (first messages of invented senders), then
// operator replies, one per channel every 2 s as operators type them, to
// conversations whose greetings are queued too. The outbox keeps the
// providers' rates (Telegram 30/s and 1/s per chat, WhatsApp 80/s, a
// Twilio number 1/s); each send takes a 30 ms round trip. It reports each
// reply's time from queued to the fake provider, p50 and p99 over all
// channels and the worst per channel; a reply not sent within a minute
// counts as a minute. Run it alone: go test -run '^$' -bench ReplyBehindGreetings -benchtime 1x ./internal/outbox
func BenchmarkReplyBehindGreetings(b *testing.B) {
	const greetings, replies = 1000, 10
	const every, cutoff = 2 * time.Second, time.Minute
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		dir := b.TempDir()
		unseal := filepath.Join(dir, "unseal")
		if _, err := keys.Init(filepath.Join(dir, "keys"), keys.Options{DevFile: unseal}); err != nil {
			b.Fatal(err)
		}
		k, err := keys.Open(filepath.Join(dir, "keys"))
		if err != nil {
			b.Fatal(err)
		}
		if err := k.UnsealWithFile(unseal); err != nil {
			b.Fatal(err)
		}
		db, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "db"), sqlstore.Options{Sealer: k})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		kinds := []lifeline.ChannelKind{lifeline.ChannelTelegram, lifeline.ChannelWhatsApp, lifeline.ChannelSMS}
		providers := map[lifeline.ChannelKind]*benchProvider{}
		var adapters []channel.Adapter
		for _, kind := range kinds {
			p := &benchProvider{kind: kind, rtt: 30 * time.Millisecond, arrived: map[string]time.Time{}}
			providers[kind] = p
			adapters = append(adapters, p)
		}
		svc := intake.New(db, k, intake.Config{})
		// The greetings first, then the contacts the operators answer (whose
		// greetings are queued too, last).
		write := func(i int, kind lifeline.ChannelKind, from, to int) {
			for start := from; start < to; start += 100 {
				var events []channel.Event
				for j := start; j < min(start+100, to); j++ {
					sender := fmt.Sprintf("+3805%02d%06d", i, j)
					events = append(events, channel.Event{ID: "update:" + sender, Type: channel.EventMessage, Kind: channel.KindText,
						Sender: lifeline.Sensitive(sender), ReplyTo: lifeline.Sensitive("chat" + sender), Text: "Привет"})
				}
				if err := svc.Receive(ctx, kind, "bot", events); err != nil {
					b.Fatal(err)
				}
			}
		}
		for i, kind := range kinds {
			write(i, kind, 0, greetings)
		}
		for i, kind := range kinds {
			write(i, kind, greetings, greetings+replies)
		}
		convs, err := db.Conversations(ctx, 500, "")
		if err != nil {
			b.Fatal(err)
		}
		answer := map[lifeline.ChannelKind][]lifeline.ConversationID{}
		for _, c := range convs {
			if len(answer[c.Kind]) < replies {
				answer[c.Kind] = append(answer[c.Kind], c.ID)
			}
		}
		w := &outbox.Worker{DB: db, Senders: channel.NewRegistry(adapters...), Refs: k,
			Limits: outbox.DefaultLimits, ChatLimits: outbox.DefaultChatLimits}
		b.ResetTimer()
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()

		type queued struct {
			kind lifeline.ChannelKind
			text string
			at   time.Time
		}
		var sent []queued
		time.Sleep(every)
		for r := range replies {
			for _, kind := range kinds {
				text := fmt.Sprintf("Оператор на связи (%s %d).", kind, r)
				if _, err := db.QueueReply(ctx, lifeline.CLIActor, answer[kind][r], text); err != nil {
					b.Fatal(err)
				}
				w.Poke()
				sent = append(sent, queued{kind, text, time.Now()})
			}
			time.Sleep(every)
		}
		deadline := sent[len(sent)-1].at.Add(cutoff)
		var all []time.Duration
		worst := map[lifeline.ChannelKind]time.Duration{}
		for _, q := range sent {
			var d time.Duration
			for {
				if at, ok := providers[q.kind].at(q.text); ok {
					d = at.Sub(q.at)
					break
				}
				if time.Now().After(deadline) || time.Since(q.at) > cutoff {
					d = cutoff
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			all = append(all, d)
			worst[q.kind] = max(worst[q.kind], d)
		}
		b.StopTimer()
		cancel()
		<-done
		db.Close()
		slices.Sort(all)
		p50, p99 := all[len(all)/2], all[min(len(all)-1, len(all)*99/100)]
		b.ReportMetric(p50.Seconds(), "p50-s")
		b.ReportMetric(p99.Seconds(), "p99-s")
		for _, kind := range kinds {
			p := providers[kind]
			p.mu.Lock()
			n := p.n
			p.mu.Unlock()
			b.Logf("%s: worst reply %s; %d messages sent in the run", kind, worst[kind].Round(time.Millisecond), n)
		}
		b.Logf("replies to the fake providers: p50 %s, p99 %s", p50.Round(time.Millisecond), p99.Round(time.Millisecond))
	}
}
