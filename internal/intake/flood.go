// SPDX-License-Identifier: AGPL-3.0-or-later

package intake

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/channel"
)

// Limits are the per-sender budgets of SECURITY.md §2.12. A field that is
// zero or negative takes its default, so the zero Limits is the default.
//
// A message over budget is acknowledged to the provider (so that it stops
// retrying) and not stored; a message over the media budget is stored
// without its media. A sender the service has not seen this boot always gets
// its first message in: a flood of repeat senders cannot starve a new one.
type Limits struct {
	// PerMinute is the burst a sender may send at once, refilled evenly
	// over a minute (a token bucket). Default 20.
	PerMinute int
	// PerDay caps a sender's messages per UTC day. Default 300.
	PerDay int
	// MediaPerDay caps a sender's media items per UTC day. Default 20.
	MediaPerDay int
	// MaxSenders caps the senders tracked at once; past it the longest idle
	// is forgotten (and starts afresh if it writes again). Default 100,000,
	// about 15 MB.
	MaxSenders int
}

// Default limits.
const (
	DefaultPerMinute   = 20
	DefaultPerDay      = 300
	DefaultMediaPerDay = 20
	DefaultMaxSenders  = 100_000
)

// senderIdle is how long a sender's budget is kept without a message from
// it. Past a day its bucket is full and its day is over, so forgetting it
// changes nothing.
const senderIdle = 24 * time.Hour

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.PerMinute, DefaultPerMinute)
	def(&l.PerDay, DefaultPerDay)
	def(&l.MediaPerDay, DefaultMediaPerDay)
	def(&l.MaxSenders, DefaultMaxSenders)
	return l
}

// Stats counts what the door turned away since the service started. The
// counters only grow; they carry no sender, channel or id.
type Stats struct {
	// DroppedFlood: message events over their sender's budget,
	// acknowledged and not stored.
	DroppedFlood int64
	// DroppedBlocked: message events from blocked senders, acknowledged
	// and not stored.
	DroppedBlocked int64
	// MediaSkipped: media items over their sender's daily media budget;
	// the message itself was stored, without them.
	MediaSkipped int64
	// Senders is the number of senders whose budgets are tracked now.
	Senders int
}

// Stats returns the door's counters.
func (s *Service) Stats() Stats {
	return Stats{
		DroppedFlood:   s.door.droppedFlood.Load(),
		DroppedBlocked: s.door.droppedBlocked.Load(),
		MediaSkipped:   s.door.mediaSkipped.Load(),
		Senders:        s.door.budgets.len(),
	}
}

// door holds the service's flood state: the per-sender budgets of this
// boot and the counters of what it turned away.
type door struct {
	budgets                                    budgets
	droppedFlood, droppedBlocked, mediaSkipped atomic.Int64
}

func (s *Service) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

// admission is one Receive call's passage through the door: the budget it
// took, to give back if the write fails, and what it turned away, to count
// once the write is durable.
type admission struct {
	s       *Service
	taken   []taken
	flood   int64
	block   int64
	skipped int64
}

type taken struct {
	key   string
	day   int64
	media int
}

func (s *Service) admission() *admission { return &admission{s: s} }

// reset gives back what an earlier run of the write took.
func (a *admission) reset() {
	a.s.door.budgets.refund(a.taken)
	a.taken, a.flood, a.block, a.skipped = a.taken[:0], 0, 0, 0
}

// end settles the admission once the write has returned: on failure
// nothing was stored, so the budget is given back and nothing is counted
// (the provider retries and the retry is judged afresh).
func (a *admission) end(err error) {
	if err != nil {
		a.reset()
		return
	}
	d := &a.s.door
	d.droppedFlood.Add(a.flood)
	d.droppedBlocked.Add(a.block)
	d.mediaSkipped.Add(a.skipped)
}

// admit decides, for a fresh event inside the write (its dedupe key already
// recorded, so that a provider's retry of a dropped event stays dropped),
// whether it is stored. A message from a blocked sender, or over its
// sender's budget, is not; media over the sender's media budget is dropped
// from e. Statuses come from the provider, not a sender, and always pass.
func (a *admission) admit(e *channel.Event, p *prepared, blocked bool) bool {
	if !isMessage(e.Type) {
		return true
	}
	if blocked {
		a.block++
		return false
	}
	if !a.take(e, p) {
		a.flood++
		return false
	}
	return true
}

// take takes a message event from its sender's budget, and reports whether
// there was budget left; it drops e's media over the media budget.
func (a *admission) take(e *channel.Event, p *prepared) bool {
	t := taken{key: p.thread, media: len(e.Media)}
	ok, media, day := a.s.door.budgets.take(t.key, a.s.now(), t.media)
	if !ok {
		return false
	}
	if !media {
		a.skipped += int64(len(e.Media))
		e.Media, t.media = nil, 0
	}
	t.day = day
	a.taken = append(a.taken, t)
	return true
}

// untake gives back what the last take took.
func (a *admission) untake() {
	n := len(a.taken) - 1
	a.s.door.budgets.refund(a.taken[n:])
	a.taken = a.taken[:n]
}

// budgets are the per-sender token buckets and day counts, keyed by the
// service's boot-keyed HMAC of (kind, sender): nothing of them reaches the
// disk or outlives the process. They are kept in order of last use, so that
// the idle are swept and, at the cap, the longest idle evicted, in constant
// time: a flood of invented senders cannot grow memory past the cap.
type budgets struct {
	limits Limits

	mu      sync.Mutex
	senders map[string]*bucket
	// A list by last use: newest at head, oldest at tail.
	head, tail *bucket
}

type bucket struct {
	key          string
	newer, older *bucket

	tokens float64   // messages that may be sent at once now, ≤ PerMinute
	last   time.Time // the last refill, and the last message taken
	day    int64     // the UTC day of msgs and media, in days since 1970
	msgs   int       // messages taken on day
	media  int       // media items taken on day
}

func (b *budgets) init(l Limits) {
	b.limits = l.withDefaults()
	b.senders = map[string]*bucket{}
}

func (b *budgets) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.senders)
}

// take takes one message, with media items, from key's budget at now. ok
// says whether the message may be stored; mediaOK whether its media may
// (always true without media). A key not tracked is a new sender: admitted,
// whatever else is tracked.
func (b *budgets) take(key string, now time.Time, media int) (ok, mediaOK bool, day int64) {
	day = now.Unix() / 86400
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweep(now)
	k, found := b.senders[key]
	if !found {
		for len(b.senders) >= b.limits.MaxSenders {
			b.remove(b.tail)
		}
		k = &bucket{key: key, tokens: float64(b.limits.PerMinute), last: now, day: day}
		b.senders[key] = k
	} else {
		b.unlink(k)
		if dt := now.Sub(k.last); dt > 0 {
			k.tokens = min(float64(b.limits.PerMinute), k.tokens+dt.Minutes()*float64(b.limits.PerMinute))
		}
		if k.day != day {
			k.day, k.msgs, k.media = day, 0, 0
		}
	}
	if now.After(k.last) {
		k.last = now
	}
	b.pushFront(k)
	if k.tokens < 1 || k.msgs >= b.limits.PerDay {
		return false, false, day
	}
	k.tokens--
	k.msgs++
	mediaOK = media == 0 || k.media+media <= b.limits.MediaPerDay
	if media > 0 && mediaOK {
		k.media += media
	}
	return true, mediaOK, day
}

// refund gives back what take took, for writes that did not commit.
func (b *budgets) refund(ts []taken) {
	if len(ts) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range ts {
		k, ok := b.senders[t.key]
		if !ok {
			continue // forgotten since: it starts afresh anyway
		}
		k.tokens = min(float64(b.limits.PerMinute), k.tokens+1)
		if k.day == t.day {
			k.msgs = max(0, k.msgs-1)
			k.media = max(0, k.media-t.media)
		}
	}
}

// sweep forgets senders idle for longer than senderIdle.
func (b *budgets) sweep(now time.Time) {
	for b.tail != nil && now.Sub(b.tail.last) > senderIdle {
		b.remove(b.tail)
	}
}

func (b *budgets) remove(k *bucket) {
	b.unlink(k)
	delete(b.senders, k.key)
}

func (b *budgets) unlink(k *bucket) {
	if k.newer != nil {
		k.newer.older = k.older
	} else {
		b.head = k.older
	}
	if k.older != nil {
		k.older.newer = k.newer
	} else {
		b.tail = k.newer
	}
	k.newer, k.older = nil, nil
}

func (b *budgets) pushFront(k *bucket) {
	k.older = b.head
	if b.head != nil {
		b.head.newer = k
	}
	b.head = k
	if b.tail == nil {
		b.tail = k
	}
}
