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
// both. A crash before the send loses nothing: the job stays pending. A
// send that runs out of SendTimeout is treated the same way: maybe sent,
// tried again.
//
// Each kind of channel sends in a lane of its own, several sends in flight
// (laneSends), some kept for operators' replies (replySends), so that one
// hung provider call holds up neither replies nor other chats.
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

	// SendTimeout bounds one call to the provider (DefaultSendTimeout).
	// A send that runs out of it may have reached the contact: it is tried
	// again, as a send in flight at a crash is (at least once).
	SendTimeout time.Duration

	// Attempted, if set, is called after each attempt at a message is
	// recorded (sent, failed, or due again), for live operator views.
	Attempted func(lifeline.MessageID)

	pokes    map[lifeline.ChannelKind]chan struct{} // one per lane
	once     sync.Once
	limitMu  sync.Mutex
	next     map[lifeline.ChannelKind]time.Time
	sendTime map[lifeline.ChannelKind]time.Duration // a moving average of each provider's send round trip
	nextChat map[[32]byte]time.Time                 // by a hash of kind and recipient: no address kept
	ahead    map[lifeline.ChannelKind]int           // replies on their way to the provider, by lane (replyAhead)
}

// DefaultChatLimits are the providers' per-chat rates.
var DefaultChatLimits = map[lifeline.ChannelKind]float64{lifeline.ChannelTelegram: 1}

// chatWait reserves the recipient's next send under its per-chat limit and
// returns 0, or returns how long until the chat may take another message,
// reserving nothing: the job is then deferred, and the lane sends to other
// chats meanwhile instead of waiting.
func (w *Worker) chatWait(out sqlstore.Outbound) time.Duration {
	rate := w.ChatLimits[out.Kind]
	if rate <= 0 {
		return 0
	}
	key := sha256.Sum256([]byte(string(out.Kind) + "\x00" + out.To.Reveal()))
	w.limitMu.Lock()
	defer w.limitMu.Unlock()
	if len(w.nextChat) > 100_000 {
		clear(w.nextChat) // bounded; forgetting old pacing costs at most one early send
	}
	now := time.Now()
	if n := w.nextChat[key]; n.After(now) {
		return n.Sub(now)
	}
	w.nextChat[key] = now.Add(time.Duration(float64(time.Second) / rate))
	return 0
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
		if w.SendTimeout <= 0 {
			w.SendTimeout = DefaultSendTimeout
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
		w.pokes = map[lifeline.ChannelKind]chan struct{}{}
		for _, kind := range lanes() {
			w.pokes[kind] = make(chan struct{}, 1)
		}
		w.next = map[lifeline.ChannelKind]time.Time{}
		w.ahead = map[lifeline.ChannelKind]int{}
		w.sendTime = map[lifeline.ChannelKind]time.Duration{}
	})
}

// lanes are the kinds of channel the worker sends on, each in a lane of its
// own: a Twilio number's one message a second never holds up Telegram. The
// empty lane holds jobs queued before lanes whose channel was gone already.
func lanes() []lifeline.ChannelKind { return append(lifeline.ChannelKinds(), "") }

// Poke wakes the worker: a message was queued.
func (w *Worker) Poke() {
	w.init()
	for _, p := range w.pokes {
		select {
		case p <- struct{}{}:
		default:
		}
	}
}

// Run sends until ctx is done, each kind of channel in its own lane.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	var wg sync.WaitGroup
	for _, kind := range lanes() {
		wg.Go(func() { w.runLane(ctx, kind) })
	}
	wg.Wait()
}

// Lane concurrency: a lane keeps several sends in flight, so that one slow
// or hung provider call holds up only itself (the provider's rate and each
// chat's pace still hold: pace and chatWait are shared by the lane's
// sends). Of laneSends, replySends are kept for operators' replies:
// automatic messages (greetings, the questionnaire bot) in flight never take
// the last of them, so a reply always finds room.
const (
	laneSends  = 6
	replySends = 2
)

// DefaultSendTimeout bounds one send, well under the providers' HTTP
// timeouts (Telegram 60 s, Meta and Twilio 30 s): a hung call gives its
// place back and is tried again.
const DefaultSendTimeout = 10 * time.Second

// result is what became of one send a lane started.
type result struct {
	job      sqlstore.Job
	deferred time.Duration // the chat is under its pace for so long; 0 if handled
	err      error
}

// isReply reports whether a job is an operator's reply, which may take a
// slot kept for replies.
func isReply(j sqlstore.Job) bool { return j.Priority <= sqlstore.PriorityReply }

func (w *Worker) runLane(ctx context.Context, kind lifeline.ChannelKind) {
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	var (
		queue          []sqlstore.Job // claimed, not started yet; replies first
		inFlight, auto int            // sends in flight, and how many of them automatic
		handled        int            // sends handled (not deferred) so far
		handledAtClaim = -1           // handled at the last claim that found jobs; -1 for none
		chatAt         time.Time      // when the first chat-paced job given back since the last claim may go
		poked          = true         // claim at once: there may be work
		wg             sync.WaitGroup
	)
	done := make(chan result, laneSends)
	defer func() {
		wg.Wait()
		// Give back what was claimed and never started: its lease would
		// hold it for minutes.
		w.DB.DeferJobs(context.WithoutCancel(ctx), queue...)
	}()
	for ctx.Err() == nil {
		// Claim. A whole batch when nothing claimed waits and an automatic
		// message may start; only replies, into the slots kept for them,
		// while claimed automatic messages wait (the provider slow or
		// hung). No wait for the provider's rate first: automatic messages
		// claimed take no slot of it ahead (pace), so a reply claimed
		// later still has the next one.
		var (
			jobs []sqlstore.Job
			err  error
		)
		more := handledAtClaim >= 0 && handled > handledAtClaim
		tried := true
		switch {
		case len(queue) == 0 && auto < laneSends-replySends && inFlight < laneSends && (poked || more):
			jobs, err = w.DB.ClaimChannelJobs(ctx, kind, w.Lease, w.batch(kind))
		case inFlight < laneSends && poked && (len(queue) > 0 || auto >= laneSends-replySends):
			jobs, err = w.DB.ClaimChannelReplies(ctx, kind, w.Lease, laneSends-inFlight)
		default:
			tried = false
		}
		start := time.Now()
		if tried {
			poked = false
		}
		if err != nil && ctx.Err() == nil && lifeline.ErrorCode(err) != lifeline.EUNAVAILABLE {
			w.Logger.Error("outbox", "component", "outbox", "channel", string(kind), "error", err.Error())
		}
		switch {
		case len(jobs) > 0:
			queue = append(jobs, queue...) // a reply claim goes before waiting automatic messages
			handledAtClaim, chatAt = handled, time.Time{}
		case tried:
			handledAtClaim = -1 // nothing due, or an error: wait for a poke, the tick, or a chat's pace
		}

		// Start what the slots allow, in line.
		for len(queue) > 0 && inFlight < laneSends && (isReply(queue[0]) || auto < laneSends-replySends) {
			j := queue[0]
			queue = queue[1:]
			inFlight++
			if !isReply(j) {
				auto++
			}
			release := func() {}
			if isReply(j) {
				release = w.replyAhead(kind)
			}
			wg.Go(func() {
				d, err := w.send(ctx, j, release)
				release()
				done <- result{job: j, deferred: d, err: err}
			})
		}

		var chat <-chan time.Time
		if !chatAt.IsZero() {
			// Jobs to chats under their pace were given back: claim again
			// when the first may go.
			chat = time.After(time.Until(chatAt))
		}
		select {
		case <-ctx.Done():
		case r := <-done:
			inFlight--
			if !isReply(r.job) {
				auto--
			}
			switch {
			case r.err != nil:
				if ctx.Err() == nil && lifeline.ErrorCode(r.err) != lifeline.EUNAVAILABLE {
					w.Logger.Error("outbox", "component", "outbox", "channel", string(kind), "error", r.err.Error())
				}
				handledAtClaim = -1 // after an error, wait for the tick
			case r.deferred > 0:
				if at := time.Now().Add(r.deferred); chatAt.IsZero() || at.Before(chatAt) {
					chatAt = at
				}
			default:
				handled++
				if w.Attempted != nil {
					w.Attempted(r.job.MessageID)
				}
			}
		case <-t.C:
			poked = true
		case <-chat:
			poked, chatAt = true, time.Time{}
		case <-w.pokes[kind]:
			// Each claim is a write: under a flood, one every pokeGap.
			if !wake.Settle(ctx, start, pokeGap) {
				return
			}
			poked = true
		}
	}
}

// batchTime is about how long one claimed batch takes to send: a reply
// queued meanwhile waits at most that long for the next claim, which
// takes it first.
const batchTime = 500 * time.Millisecond

// batch is how many jobs a lane claims at once: about batchTime of sends,
// at the provider's rate and at its round trip as measured, 1 to 32.
func (w *Worker) batch(kind lifeline.ChannelKind) int {
	n := 32
	if rate := w.Limits[kind]; rate > 0 {
		n = int(rate * batchTime.Seconds())
	}
	w.limitMu.Lock()
	rtt := w.sendTime[kind]
	w.limitMu.Unlock()
	if rtt > 0 {
		n = min(n, int(batchTime/rtt))
	}
	return min(max(n, 1), 32)
}

// measured folds one send's round trip into the lane's moving average.
func (w *Worker) measured(kind lifeline.ChannelKind, d time.Duration) {
	w.limitMu.Lock()
	defer w.limitMu.Unlock()
	if avg := w.sendTime[kind]; avg > 0 {
		d = (7*avg + d) / 8
	}
	w.sendTime[kind] = d
}

// pokeGap is the shortest time between passes when poked.
const pokeGap = 100 * time.Millisecond

// RunOnce claims and sends one batch of due jobs of every channel and
// returns how many it claimed; jobs to a chat under its pace are given back
// (DeferJobs), not sent.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.init()
	n, deferred, _, err := w.pass(ctx, nil, 32)
	return n + deferred, err
}

// pass claims and sends one batch of a lane's due jobs (every channel's if
// lane is nil). It returns how many it handled other than by deferring, how
// many it deferred (their chats under their pace), and how long until the
// first deferred one may go.
func (w *Worker) pass(ctx context.Context, lane *lifeline.ChannelKind, limit int) (handled, deferred int, wait time.Duration, err error) {
	var jobs []sqlstore.Job
	if lane != nil {
		jobs, err = w.DB.ClaimChannelJobs(ctx, *lane, w.Lease, limit)
	} else {
		jobs, err = w.DB.ClaimJobs(ctx, w.Lease, limit)
	}
	if err != nil {
		return 0, 0, 0, err
	}
	for i, j := range jobs {
		d, err := w.send(ctx, j, func() {})
		if err != nil {
			// Give back what this pass will not reach: their leases
			// would hold them for minutes.
			w.DB.DeferJobs(context.WithoutCancel(ctx), jobs[i+1:]...)
			return handled, deferred, 0, err
		}
		if d > 0 {
			deferred++
			if wait == 0 || d < wait {
				wait = d
			}
			continue
		}
		handled++
		if w.Attempted != nil {
			w.Attempted(j.MessageID)
		}
	}
	return handled, deferred, wait, nil
}

// send makes one attempt at a job. If the job's chat is under its pace, it
// gives the job back and returns how long until the chat may take it.
func (w *Worker) send(ctx context.Context, j sqlstore.Job, atProvider func()) (time.Duration, error) {
	err := w.attempt(ctx, j, atProvider)
	var d deferral
	if errors.As(err, &d) {
		return time.Duration(d), w.DB.DeferJobs(ctx, j)
	}
	return 0, err
}

// deferral is attempt's word that a job's chat is under its pace for so
// long.
type deferral time.Duration

func (d deferral) Error() string { return "chat paced" }

// attempt makes one attempt at a job; atProvider is called when its turn
// at the provider's rate has come.
func (w *Worker) attempt(ctx context.Context, j sqlstore.Job, atProvider func()) error {
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
	if out.OptedOut {
		// Queued before the contact texted STOP: the provider would refuse
		// it (Twilio error 21610), and he asked for nothing more.
		return w.DB.FailJob(ctx, j, ReasonOptedOut, true, time.Time{})
	}
	a, ok := w.Senders.Lookup(out.Kind, out.Channel)
	if !ok {
		return w.DB.FailJob(ctx, j, "channel removed", true, time.Time{})
	}
	send, ok := sendFunc(a, out)
	if !ok {
		return w.DB.FailJob(ctx, j, "channel cannot send this", true, time.Time{})
	}
	if d := w.chatWait(out); d > 0 {
		return deferral(d)
	}
	w.pace(ctx, out.Kind, isReply(j))
	atProvider()
	sendStart := time.Now()
	sendCtx, cancel := context.WithTimeout(ctx, w.SendTimeout)
	id, err := send(sendCtx)
	timedOut := err != nil && ctx.Err() == nil && errors.Is(sendCtx.Err(), context.DeadlineExceeded)
	cancel()
	w.measured(out.Kind, time.Since(sendStart))
	if err == nil {
		return w.DB.CompleteJob(ctx, j, providerRef(w.Refs, out, id))
	}
	var ra *channel.RetryAfter
	switch {
	case timedOut && j.Attempts < w.MaxAttempts:
		// The provider may have taken it: none of the three offers an
		// idempotency key, so it is tried again, as after a crash in
		// flight (at least once; see the package comment).
		return w.DB.FailJob(ctx, j, ReasonTimedOut, false, time.Now().Add(Backoff(j.Attempts)))
	case errors.Is(err, channel.ErrOptedOut):
		// Twilio's 21610: the contact opted out without our seeing his
		// STOP (or on another of the account's numbers). Recorded, so that
		// no further reply is queued to him there.
		return errors.Join(w.DB.MarkOptedOut(ctx, j.MessageID), w.DB.FailJob(ctx, j, ReasonOptedOut+" ("+err.Error()+")", true, time.Time{}))
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

// ReasonTimedOut is the last error of a send that ran out of SendTimeout.
const ReasonTimedOut = "timed out: may have been sent; trying again"

// ReasonOptedOut is the failure of a message to a contact who has opted
// out of the channel (SMS STOP).
const ReasonOptedOut = "not sent: the contact opted out (STOP)"

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

// replyAhead counts a reply on its way to the provider on a lane, until
// the returned func is called (once is enough; more are harmless): while
// one is, no automatic message takes the provider's next slot.
func (w *Worker) replyAhead(kind lifeline.ChannelKind) func() {
	w.limitMu.Lock()
	w.ahead[kind]++
	w.limitMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			w.limitMu.Lock()
			w.ahead[kind]--
			w.limitMu.Unlock()
		})
	}
}

// pace waits for the provider's rate limit. A reply reserves the next
// slot, in line after those reserved already; an automatic message
// reserves nothing ahead: it takes a slot only when one is free now and no
// reply is on its way (replyAhead), so that automatic messages in flight
// never stand between a reply and the provider.
func (w *Worker) pace(ctx context.Context, kind lifeline.ChannelKind, reply bool) {
	rate := w.Limits[kind]
	if rate <= 0 && reply {
		return
	}
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) / rate)
	}
	for {
		w.limitMu.Lock()
		now := time.Now()
		at := w.next[kind]
		if !reply && at.Before(now) && at.After(now.Add(-interval)) {
			// The slot came a moment ago, while this send slept: take it
			// as it was, so that the wake-ups' delays do not add up.
		} else if at.Before(now) {
			at = now
		}
		free := reply || !at.After(now) && w.ahead[kind] == 0
		if free {
			w.next[kind] = at.Add(interval)
		}
		w.limitMu.Unlock()
		wait := at.Sub(now)
		if free && wait <= 0 {
			return
		}
		if !free {
			wait = max(wait, time.Millisecond) // a reply is on its way: look again soon
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if free {
			return
		}
	}
}
