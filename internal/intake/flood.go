// SPDX-License-Identifier: AGPL-3.0-or-later

package intake

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// Limits are the per-sender budgets of SECURITY.md §2.12. A field that is
// zero or negative takes its default, so the zero Limits is the default.
//
// Every authenticated message from a sender who is not blocked is stored,
// sealed, exactly once: the budgets decide only what else it causes. A
// message within PerMinute and PerDay is handled as ever (a greeting, a bot
// step, a notification of its own); one over them is stored and shown
// without that work (deferred: the bot skips it, and the live views hear
// of a sender's deferred messages at most once per foldGap). Past the
// storage cap (StorePerHour) a message is still stored, in quarantine:
// counted on its conversation and shown once an operator releases it. Media
// over MediaPerDay are deferred: fetched later by the media worker, spaced
// (sqlstore.Options.MediaPace), never lost; every media item of a
// quarantined message is recorded as skipped, and deferred the same way when
// an operator releases the message. A sender the
// service has not seen this boot always gets its first message handled in
// full: a flood of repeat senders cannot starve a new one.
type Limits struct {
	// PerMinute is the burst of messages a sender may send at once that
	// each cause work, refilled evenly over a minute (a token bucket).
	// Default 20.
	PerMinute int
	// PerDay caps a sender's messages per UTC day that cause work.
	// Default 300.
	PerDay int
	// MediaPerDay caps a sender's media items fetched at once per UTC day;
	// the rest are deferred (fetched later, spaced). Default 20.
	MediaPerDay int
	// StorePerHour is the storage cap: the messages a sender may have
	// stored in the open at once, refilled evenly over an hour (a token
	// bucket); past it, they are quarantined. Default 1,000: a frantic
	// human writes a few dozen short messages a minute for a minute or two,
	// not one every 3.6 s for an hour; only a machine does.
	StorePerHour int
	// MaxSenders caps the senders tracked at once; past it the longest idle
	// is forgotten (and starts afresh if it writes again). Default 100,000,
	// about 15 MB.
	MaxSenders int
}

// Default limits.
const (
	DefaultPerMinute    = 20
	DefaultPerDay       = 300
	DefaultMediaPerDay  = 20
	DefaultStorePerHour = 1000
	DefaultMaxSenders   = 100_000
)

// senderIdle is how long a sender's budget is kept without a message from
// it. Past a day its buckets are full and its day is over, so forgetting it
// changes nothing.
const senderIdle = 24 * time.Hour

// foldGap is how often at most the live views hear of one sender's held
// (deferred or quarantined) messages in one conversation: one notice for a
// burst, sent foldGap after its first held message, so that it covers
// every one stored in between.
const foldGap = time.Second

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.PerMinute, DefaultPerMinute)
	def(&l.PerDay, DefaultPerDay)
	def(&l.MediaPerDay, DefaultMediaPerDay)
	def(&l.StorePerHour, DefaultStorePerHour)
	def(&l.MaxSenders, DefaultMaxSenders)
	return l
}

// Stats counts what the door did since the service started. The counters
// only grow; they carry no sender, channel or id.
type Stats struct {
	// Deferred: message events over their sender's budget, stored and
	// shown without automatic work of their own.
	Deferred int64
	// Quarantined: message events over their sender's storage cap, stored
	// in quarantine.
	Quarantined int64
	// DroppedBlocked: message events from blocked senders, acknowledged
	// and not stored.
	DroppedBlocked int64
	// MediaSkipped: media items recorded and not fetched at once: deferred
	// over their sender's daily media budget, or skipped with a
	// quarantined message.
	MediaSkipped int64
	// Senders is the number of senders whose budgets are tracked now.
	Senders int
}

// Stats returns the door's counters.
func (s *Service) Stats() Stats {
	return Stats{
		Deferred:       s.door.deferred.Load(),
		Quarantined:    s.door.quarantined.Load(),
		DroppedBlocked: s.door.droppedBlocked.Load(),
		MediaSkipped:   s.door.mediaSkipped.Load(),
		Senders:        s.door.budgets.len(),
	}
}

// door holds the service's flood state: the per-sender budgets of this
// boot, the counters of what it did, and the folded notices under way.
type door struct {
	budgets                                             budgets
	deferred, quarantined, droppedBlocked, mediaSkipped atomic.Int64

	foldMu  sync.Mutex
	folding map[string]bool // sender and conversation: a notice is due
}

func (s *Service) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

// fold tells the live views of a held message, folded: the first held
// message of a sender in a conversation schedules one notice foldGap
// later, and those that follow before it is sent ride on it. The flag is
// cleared before the notice goes, so a message committed after that
// schedules the next one: none is left untold.
func (s *Service) fold(thread string, n Notice) {
	if s.cfg.Notify == nil {
		return
	}
	d := &s.door
	key := thread + "\x00" + string(n.Conversation)
	d.foldMu.Lock()
	if d.folding[key] {
		d.foldMu.Unlock()
		return
	}
	if d.folding == nil {
		d.folding = map[string]bool{}
	}
	d.folding[key] = true
	d.foldMu.Unlock()
	time.AfterFunc(foldGap, func() {
		d.foldMu.Lock()
		delete(d.folding, key)
		d.foldMu.Unlock()
		s.cfg.Notify([]Notice{n})
	})
}

// admission is one Receive call's passage through the door: the budget it
// took, to give back if the write fails, and what it did, to count once
// the write is durable.
type admission struct {
	s                                     *Service
	taken                                 []taken
	deferred, quarantined, block, skipped int64
}

type taken struct {
	key   string
	day   int64
	work  bool // a message of the minute's and the day's budget
	store bool // a message of the storage cap
	media int  // media items of the day's media budget
	// skipped counts the media items skipped, to uncount.
	skipped int
}

func (s *Service) admission() *admission { return &admission{s: s} }

// reset gives back what an earlier run of the write took.
func (a *admission) reset() {
	a.s.door.budgets.refund(a.taken)
	a.taken, a.deferred, a.quarantined, a.block, a.skipped = a.taken[:0], 0, 0, 0, 0
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
	d.deferred.Add(a.deferred)
	d.quarantined.Add(a.quarantined)
	d.droppedBlocked.Add(a.block)
	d.mediaSkipped.Add(a.skipped)
}

// blocked counts a message event from a blocked sender, not stored.
func (a *admission) blocked() { a.block++ }

// take takes a message event from its sender's budget, and says what it is
// to be stored as, and why its media are skipped ("" if they are not).
func (a *admission) take(e *channel.Event, p *prepared) (lifeline.Hold, string) {
	t := taken{key: p.thread, media: len(e.Media)}
	hold, mediaOK, day := a.s.door.budgets.take(t.key, a.s.now(), t.media)
	t.day, t.work, t.store = day, hold == lifeline.HoldNone, hold != lifeline.HoldQuarantined
	skip := ""
	switch {
	case hold == lifeline.HoldQuarantined:
		skip = sqlstore.SkippedQuarantined
	case !mediaOK:
		skip = sqlstore.SkippedMediaBudget
	}
	if skip != "" {
		t.skipped, t.media = len(e.Media), 0
		a.skipped += int64(t.skipped)
	}
	switch hold {
	case lifeline.HoldDeferred:
		a.deferred++
	case lifeline.HoldQuarantined:
		a.quarantined++
	}
	a.taken = append(a.taken, t)
	return hold, skip
}

// untake gives back what the last take took, and uncounts it.
func (a *admission) untake() {
	n := len(a.taken) - 1
	t := a.taken[n]
	a.s.door.budgets.refund(a.taken[n:])
	a.taken = a.taken[:n]
	switch {
	case !t.store:
		a.quarantined--
	case !t.work:
		a.deferred--
	}
	a.skipped -= int64(t.skipped)
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

	tokens float64   // messages that may cause work at once now, ≤ PerMinute
	stored float64   // messages that may be stored in the open at once now, ≤ StorePerHour
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

// take takes one message, with media items, from key's budget at now:
// hold says what it is to be stored as; mediaOK whether its media may be
// fetched (always true without media; false for a quarantined message). A
// key not tracked is a new sender: handled in full, whatever else is
// tracked.
func (b *budgets) take(key string, now time.Time, media int) (hold lifeline.Hold, mediaOK bool, day int64) {
	day = now.Unix() / 86400
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweep(now)
	k, found := b.senders[key]
	if !found {
		for len(b.senders) >= b.limits.MaxSenders {
			b.remove(b.tail)
		}
		k = &bucket{key: key, tokens: float64(b.limits.PerMinute), stored: float64(b.limits.StorePerHour), last: now, day: day}
		b.senders[key] = k
	} else {
		b.unlink(k)
		if dt := now.Sub(k.last); dt > 0 {
			k.tokens = min(float64(b.limits.PerMinute), k.tokens+dt.Minutes()*float64(b.limits.PerMinute))
			k.stored = min(float64(b.limits.StorePerHour), k.stored+dt.Hours()*float64(b.limits.StorePerHour))
		}
		if k.day != day {
			k.day, k.msgs, k.media = day, 0, 0
		}
	}
	if now.After(k.last) {
		k.last = now
	}
	b.pushFront(k)
	if k.stored < 1 {
		return lifeline.HoldQuarantined, media == 0, day
	}
	k.stored--
	hold = lifeline.HoldDeferred
	if k.tokens >= 1 && k.msgs < b.limits.PerDay {
		k.tokens--
		k.msgs++
		hold = lifeline.HoldNone
	}
	mediaOK = media == 0 || k.media+media <= b.limits.MediaPerDay
	if media > 0 && mediaOK {
		k.media += media
	}
	return hold, mediaOK, day
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
		if t.store {
			k.stored = min(float64(b.limits.StorePerHour), k.stored+1)
		}
		if t.work {
			k.tokens = min(float64(b.limits.PerMinute), k.tokens+1)
		}
		if k.day == t.day {
			if t.work {
				k.msgs = max(0, k.msgs-1)
			}
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
