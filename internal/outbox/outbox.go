// SPDX-License-Identifier: AGPL-3.0-or-later

// Package outbox sends queued messages: durable jobs claimed with a lease,
// sent through the channel's provider, retried with exponential backoff and
// jitter, paced by per-provider rate limits.
//
// Delivery is at least once. A worker that crashes after the provider took
// a message but before the job was marked done leaves the job to be retried
// when its lease runs out (Lease, 2 minutes by default): within that window a
// contact may get a reply twice. None of the three providers offers an
// idempotency key for sends; Twilio's and Meta's status callbacks then show
// both. A crash before the send loses nothing: the job stays pending.
package outbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/wake"
)

// Senders finds the sender of a configured channel.
type Senders interface {
	Lookup(kind lifeline.ChannelKind, name string) (channel.Adapter, bool)
}

// Refs makes the keyed reference of a provider's message id (see intake).
type Refs interface {
	IntakeRef(parts ...string) []byte
}

// Worker sends the outbox.
type Worker struct {
	DB      *sqlstore.DB
	Senders Senders
	Refs    Refs
	Logger  *slog.Logger

	Lease       time.Duration // default 2 minutes
	MaxAttempts int           // default 12 (about a day of backoff)
	Poll        time.Duration // default 500 ms
	// Limits caps sends per second per provider kind (Telegram: 30).
	Limits map[lifeline.ChannelKind]float64

	// ChatLimits caps sends per second to one chat (Telegram: 1).
	ChatLimits map[lifeline.ChannelKind]float64

	// Attempted, if set, is called after each attempt at a message is
	// recorded (sent, failed, or due again), for live operator views.
	Attempted func(lifeline.MessageID)

	poke     chan struct{}
	once     sync.Once
	limitMu  sync.Mutex
	next     map[lifeline.ChannelKind]time.Time
	nextChat map[[32]byte]time.Time // by a hash of kind and recipient: no address kept
}

// DefaultChatLimits are the providers' per-chat rates.
var DefaultChatLimits = map[lifeline.ChannelKind]float64{lifeline.ChannelTelegram: 1}

// paceChat waits for the per-chat limit of the recipient.
func (w *Worker) paceChat(ctx context.Context, out sqlstore.Outbound) {
	rate := w.ChatLimits[out.Kind]
	if rate <= 0 {
		return
	}
	key := sha256.Sum256([]byte(string(out.Kind) + "\x00" + out.To.Reveal()))
	w.limitMu.Lock()
	if len(w.nextChat) > 100_000 {
		clear(w.nextChat) // bounded; forgetting old pacing costs at most one early send
	}
	now := time.Now()
	at := now
	if n := w.nextChat[key]; n.After(now) {
		at = n
	}
	w.nextChat[key] = at.Add(time.Duration(float64(time.Second) / rate))
	w.limitMu.Unlock()
	if wait := at.Sub(now); wait > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// DefaultLimits are the providers' documented overall rates.
var DefaultLimits = map[lifeline.ChannelKind]float64{
	lifeline.ChannelTelegram: 30,
	lifeline.ChannelWhatsApp: 80,
	lifeline.ChannelSMS:      1, // a Twilio long code sends about one SMS segment a second
}

func (w *Worker) init() {
	w.once.Do(func() {
		if w.Lease <= 0 {
			w.Lease = 2 * time.Minute
		}
		if w.MaxAttempts <= 0 {
			w.MaxAttempts = 12
		}
		if w.Poll <= 0 {
			w.Poll = 500 * time.Millisecond
		}
		if w.Limits == nil {
			w.Limits = DefaultLimits
		}
		if w.ChatLimits == nil {
			w.ChatLimits = DefaultChatLimits
		}
		w.nextChat = map[[32]byte]time.Time{}
		if w.Logger == nil {
			w.Logger = slog.New(slog.DiscardHandler)
		}
		w.poke = make(chan struct{}, 1)
		w.next = map[lifeline.ChannelKind]time.Time{}
	})
}

// Poke wakes the worker: a message was queued.
func (w *Worker) Poke() {
	w.init()
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// Run sends until ctx is done.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		start := time.Now()
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil && lifeline.ErrorCode(err) != lifeline.EUNAVAILABLE {
			w.Logger.Error("outbox", "component", "outbox", "error", err.Error())
		}
		if n > 0 && err == nil {
			continue // there may be more; after an error, wait for the tick
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.poke:
			// Each claim is a write: under a flood, one every pokeGap.
			if !wake.Settle(ctx, start, pokeGap) {
				return
			}
		}
	}
}

// pokeGap is the shortest time between passes when poked.
const pokeGap = 100 * time.Millisecond

// RunOnce claims and sends one batch of due jobs and returns how many it
// handled.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.init()
	jobs, err := w.DB.ClaimJobs(ctx, w.Lease, 32)
	if err != nil {
		return 0, err
	}
	for _, j := range jobs {
		if err := w.send(ctx, j); err != nil {
			return len(jobs), err
		}
		if w.Attempted != nil {
			w.Attempted(j.MessageID)
		}
	}
	return len(jobs), nil
}

func (w *Worker) send(ctx context.Context, j sqlstore.Job) error {
	out, err := w.DB.OutboundMessage(ctx, j.MessageID)
	switch lifeline.ErrorCode(err) {
	case "":
	case lifeline.EUNAVAILABLE:
		// Sealed: nothing can be opened to send; try again later, without
		// counting it against the message.
		return errors.Join(err, w.DB.FailJob(ctx, j, "sealed", false, time.Now().Add(5*time.Second)))
	case lifeline.ENOTFOUND:
		return w.DB.FailJob(ctx, j, "message erased", true, time.Time{})
	default:
		return err
	}
	a, ok := w.Senders.Lookup(out.Kind, out.Channel)
	if !ok {
		return w.DB.FailJob(ctx, j, "channel removed", true, time.Time{})
	}
	send, ok := sendFunc(a, out)
	if !ok {
		return w.DB.FailJob(ctx, j, "channel cannot send this", true, time.Time{})
	}
	w.pace(ctx, out.Kind)
	w.paceChat(ctx, out)
	id, err := send(ctx)
	if err == nil {
		return w.DB.CompleteJob(ctx, j, providerRef(w.Refs, out, id))
	}
	var ra *channel.RetryAfter
	switch {
	case errors.Is(err, channel.ErrPermanent):
		return w.DB.FailJob(ctx, j, err.Error(), true, time.Time{})
	case j.Attempts >= w.MaxAttempts:
		return w.DB.FailJob(ctx, j, "gave up: "+err.Error(), true, time.Time{})
	case errors.As(err, &ra):
		return w.DB.FailJob(ctx, j, err.Error(), false, time.Now().Add(ra.After))
	default:
		return w.DB.FailJob(ctx, j, err.Error(), false, time.Now().Add(Backoff(j.Attempts)))
	}
}

// providerRef is the keyed reference by which delivery statuses find a
// sent message: WhatsApp's wamids and Twilio's SIDs are unique. Telegram
// sends no delivery statuses, so nothing needs a Telegram reference, and
// none is stored: its message ids are small and unique only within a chat,
// so a reference over them would let whoever holds its key recover the
// chat id by brute force (issue 11).
func providerRef(refs Refs, out sqlstore.Outbound, id string) []byte {
	if out.Kind == lifeline.ChannelTelegram {
		return nil
	}
	return refs.IntakeRef(string(out.Kind), out.Channel, "message", id)
}

// TemplateSender sends an approved message template (WhatsApp), the only
// message allowed outside the 24-hour customer-service window.
type TemplateSender interface {
	SendTemplate(ctx context.Context, to lifeline.Sensitive, name, language string) (string, error)
}

// sendFunc picks how the channel sends this message.
func sendFunc(a channel.Adapter, out sqlstore.Outbound) (func(context.Context) (string, error), bool) {
	if out.MessageKind == "template" {
		ts, ok := a.(TemplateSender)
		name, language, found := strings.Cut(out.Text.Reveal(), "|")
		if !ok || !found {
			return nil, false
		}
		return func(ctx context.Context) (string, error) { return ts.SendTemplate(ctx, out.To, name, language) }, true
	}
	s, ok := a.(channel.Sender)
	if !ok {
		return nil, false
	}
	return func(ctx context.Context) (string, error) { return s.Send(ctx, out.To, out.Text.Reveal()) }, true
}

// Backoff is the wait before attempt n+1: exponential from 1 s, capped at an
// hour, with full jitter so that retries after an outage do not stampede.
func Backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 12)
	d = min(d, time.Hour)
	return d/2 + jitter(d/2)
}

// jitter is a uniform duration in [0, d]. crypto/rand, because nothing in
// lifeline uses math/rand (SECURITY.md §2.15), not because it must be secret.
func jitter(d time.Duration) time.Duration {
	var b [8]byte
	rand.Read(b[:])
	return time.Duration(binary.BigEndian.Uint64(b[:]) % uint64(d+1))
}

// pace waits for the provider's rate limit.
func (w *Worker) pace(ctx context.Context, kind lifeline.ChannelKind) {
	rate := w.Limits[kind]
	if rate <= 0 {
		return
	}
	w.limitMu.Lock()
	now := time.Now()
	at := now
	if w.next[kind].After(now) {
		at = w.next[kind]
	}
	w.next[kind] = at.Add(time.Duration(float64(time.Second) / rate))
	w.limitMu.Unlock()
	if wait := at.Sub(now); wait > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}
