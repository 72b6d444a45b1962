// SPDX-License-Identifier: AGPL-3.0-or-later

// Package routing gives waiting conversations to the operators on shift and
// watches the first-response target.
//
// A [Router] runs passes: on a ticker, at the next first-response deadline,
// and at once when poked (a message arrived). Each pass reads the waiting
// queue and the operators on duty, plans assignments with [Plan] (oldest
// wait first; to the least loaded operator on a shift for the
// conversation's stream who answers in its language, within his capacity),
// and carries them out through the store, which checks every rule again in
// the write that assigns: two routers, or a router and a supervisor, never
// both win. It then marks each conversation that has waited past the target
// as escalated, once per wait, and reports it with the supervisors on duty.
//
// Waiting times are sealed (SECURITY.md §2.4): while the server is sealed a
// pass does nothing and returns EUNAVAILABLE.
//
// Wiring, in serve:
//
//	router := routing.New(db, routing.Config{
//		OnAssign:   func(a routing.Assignment) { hub.Publish(…) },  // live inbox update
//		OnEscalate: func(e routing.Escalation) { hub.Alert(e.Supervisors, …) },
//	})
//	go router.Run(ctx)      // returns when ctx ends
//	// and from intake's after-commit hook (intake.Config.Notify): router.Poke()
//
// The console shows each waiting contact's timer from
// sqlstore.WaitingConversation.Since (or the inbox's WaitingSince) against
// [Router.Target], and manages schedules through the store: AddShift,
// DeleteShift, Shifts, Coverage, SetRoutingProfile, Assign, Transfer and
// Unassign.
package routing

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/wake"
)

// Store is what a Router needs of the store; *sqlstore.DB is one.
type Store interface {
	Now() time.Time
	WaitingConversations(ctx context.Context) ([]sqlstore.WaitingConversation, error)
	OnDuty(ctx context.Context, at time.Time) ([]sqlstore.OnDuty, error)
	AutoAssign(ctx context.Context, conv lifeline.ConversationID, to lifeline.OperatorID) error
	MarkEscalated(ctx context.Context, conv lifeline.ConversationID, seq int64) (bool, error)
}

var _ Store = (*sqlstore.DB)(nil)

// Defaults of [Config].
const (
	DefaultTarget   = 2 * time.Minute // first-response target
	DefaultInterval = 5 * time.Second // time between passes when nothing pokes the router
	// DefaultMinGap is the shortest time between passes however often the
	// router is poked: under a flood of messages it does a pass every half
	// second, not one per message (a pass opens every waiting contact's
	// sealed time).
	DefaultMinGap = 500 * time.Millisecond
)

// Config tunes a Router. The zero value is usable.
type Config struct {
	// Target is the first-response target: a contact who has waited this
	// long for an answer is escalated. Default DefaultTarget.
	Target time.Duration
	// Interval is the longest time between passes. Default DefaultInterval.
	Interval time.Duration
	// MinGap is the shortest time between passes. Default DefaultMinGap;
	// negative for none (tests).
	MinGap time.Duration
	// OnAssign, if not nil, is called after each assignment the router
	// made, from the router's goroutine: it must return quickly (hand the
	// event to the console's hub, do not send from it).
	OnAssign func(Assignment)
	// OnEscalate, if not nil, is called once per missed target, from the
	// router's goroutine, likewise quickly.
	OnEscalate func(Escalation)
	// Logger gets errors and counts, never ids or content; nil discards.
	Logger *slog.Logger
}

// Assignment is a conversation given to an operator.
type Assignment struct {
	Conversation lifeline.ConversationID
	Operator     lifeline.OperatorID
}

// Escalation reports a conversation that missed the first-response target.
type Escalation struct {
	Conversation sqlstore.WaitingConversation // as read in the pass, with its assignee after the pass's assignments
	Waited       time.Duration                // how long the contact had waited when the pass began
	// Supervisors are the supervisors on duty to alert: those on a shift
	// for the conversation's stream, or, if none is, every supervisor on
	// duty; empty if no supervisor is on duty at all (the console should
	// then alert whoever of them is signed in).
	Supervisors []lifeline.Operator
}

// Result is what one pass did.
type Result struct {
	Assigned  []Assignment
	Escalated []Escalation
	// Next is the earliest first-response deadline still ahead, the time
	// the next pass must run by to escalate on time; zero if none.
	Next time.Time
}

// Router routes conversations; see the package documentation. Create it
// with New; it is safe for concurrent use.
type Router struct {
	store Store
	cfg   Config
	poke  chan struct{}
	mu    sync.Mutex // one pass at a time
}

// New returns a Router over store.
func New(store Store, cfg Config) *Router {
	if cfg.Target <= 0 {
		cfg.Target = DefaultTarget
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MinGap == 0 {
		cfg.MinGap = DefaultMinGap
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Router{store: store, cfg: cfg, poke: make(chan struct{}, 1)}
}

// Target is the first-response target in force, for the console's timers.
func (r *Router) Target() time.Duration { return r.cfg.Target }

// Poke asks for a pass as soon as possible, without waiting for it: call it
// when a message arrives. It never blocks; pokes during a pass coalesce
// into one more pass.
func (r *Router) Poke() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// Run runs passes until ctx is done, then returns; it starts no goroutine
// of its own. A pass runs at once, then whenever poked, at the next
// first-response deadline, and at least every Interval. Errors are logged,
// except EUNAVAILABLE (sealed), which only waits for the next pass.
func (r *Router) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		start := time.Now()
		res, err := r.RunOnce(ctx)
		if err != nil && ctx.Err() == nil && lifeline.ErrorCode(err) != lifeline.EUNAVAILABLE {
			r.cfg.Logger.Error("routing pass failed", "component", "routing", "error", err.Error())
		}
		wait := r.cfg.Interval
		if !res.Next.IsZero() {
			// The store's clock may be a test's; the wait is real time.
			wait = min(wait, max(res.Next.Sub(r.store.Now()), time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.poke:
			if !wake.Settle(ctx, start, r.cfg.MinGap) {
				return
			}
		}
	}
}

// maxRounds bounds the re-plans of one pass after assignments that lost a
// race.
const maxRounds = 3

// RunOnce runs one pass at the store's current time: assignments, then
// escalations. It returns what it did, and the first error that stopped it
// (EUNAVAILABLE while sealed); assignments that lost a race to another
// router or a human (ECONFLICT) are not errors: the pass reads again and
// plans anew, up to a few times.
func (r *Router) RunOnce(ctx context.Context) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var res Result
	now := r.store.Now()
	var waiting []sqlstore.WaitingConversation
	var duty []sqlstore.OnDuty
	for round := 0; ; round++ {
		var err error
		if waiting, err = r.store.WaitingConversations(ctx); err != nil {
			return res, err
		}
		if duty, err = r.store.OnDuty(ctx, now); err != nil {
			return res, err
		}
		lost := 0
		for _, a := range Plan(waiting, duty) {
			err := r.store.AutoAssign(ctx, a.Conversation, a.Operator)
			if lifeline.ErrorCode(err) == lifeline.ECONFLICT {
				lost++
				continue
			}
			if err != nil {
				return res, err
			}
			res.Assigned = append(res.Assigned, a)
			for i := range waiting {
				if waiting[i].ID == a.Conversation {
					waiting[i].AssignedTo = a.Operator
				}
			}
			if r.cfg.OnAssign != nil {
				r.cfg.OnAssign(a)
			}
		}
		if lost == 0 || round+1 == maxRounds {
			if lost > 0 {
				r.cfg.Logger.Info("routing: assignments lost to concurrent changes", "component", "routing", "count", lost)
			}
			break
		}
	}
	for _, w := range waiting {
		if w.Escalated {
			continue
		}
		waited := now.Sub(w.Since)
		if w.Since.IsZero() {
			waited = r.cfg.Target // no sealed time: treat it as overdue
		}
		if waited < r.cfg.Target {
			if due := w.Since.Add(r.cfg.Target); res.Next.IsZero() || due.Before(res.Next) {
				res.Next = due
			}
			continue
		}
		ok, err := r.store.MarkEscalated(ctx, w.ID, w.Seq)
		if err != nil {
			return res, err
		}
		if !ok {
			continue // answered, or escalated by another router, since the reading
		}
		w.Escalated = true
		e := Escalation{Conversation: w, Waited: waited, Supervisors: supervisors(duty, w.Stream)}
		res.Escalated = append(res.Escalated, e)
		if r.cfg.OnEscalate != nil {
			r.cfg.OnEscalate(e)
		}
	}
	return res, nil
}

// supervisors picks the supervisors to alert for a conversation of stream.
func supervisors(duty []sqlstore.OnDuty, stream lifeline.Stream) []lifeline.Operator {
	var same, all []lifeline.Operator
	for _, d := range duty {
		if d.Operator.Role != lifeline.RoleSupervisor {
			continue
		}
		all = append(all, d.Operator)
		if d.Shift.Stream == stream {
			same = append(same, d.Operator)
		}
	}
	if len(same) > 0 {
		return same
	}
	return all
}

// Plan decides which waiting conversations go to whom, without changing
// anything. It takes the unassigned conversations oldest first (lowest Seq)
// and gives each to the operator who, among those on duty who take
// conversations (lifeline.TakesConversations), are on a shift for its
// stream, serve its stream and language in their profile and carry fewer
// conversations than their capacity, carries the fewest; ties go to the one
// with more room left, then to the first by username. Each planned
// assignment counts towards the operator's load for the next. A
// conversation no one can take stays waiting, and younger ones may still be
// routed past it (a Russian speaker's queue does not wait for a Ukrainian
// speaker). Plan is pure: it reads no clock and calls no store.
func Plan(waiting []sqlstore.WaitingConversation, duty []sqlstore.OnDuty) []Assignment {
	queue := make([]sqlstore.WaitingConversation, 0, len(waiting))
	for _, w := range waiting {
		if w.AssignedTo == "" {
			queue = append(queue, w)
		}
	}
	slices.SortStableFunc(queue, func(a, b sqlstore.WaitingConversation) int { return cmp.Compare(a.Seq, b.Seq) })
	type candidate struct {
		d    *sqlstore.OnDuty
		load int
	}
	var cands []*candidate
	for i := range duty {
		if d := &duty[i]; lifeline.TakesConversations(d.Operator.Role) && d.Load < d.Profile.Capacity {
			cands = append(cands, &candidate{d: d, load: d.Load})
		}
	}
	var out []Assignment
	for _, w := range queue {
		var best *candidate
		for _, c := range cands {
			if c.load >= c.d.Profile.Capacity || c.d.Shift.Stream != w.Stream || !c.d.Profile.Serves(w.Stream, w.Language) {
				continue
			}
			if best == nil || better(c.load, c.d, best.load, best.d) {
				best = c
			}
		}
		if best == nil {
			continue
		}
		best.load++
		out = append(out, Assignment{Conversation: w.ID, Operator: best.d.Operator.ID})
	}
	return out
}

// better reports whether operator a (with load la) should be chosen over b.
func better(la int, a *sqlstore.OnDuty, lb int, b *sqlstore.OnDuty) bool {
	if la != lb {
		return la < lb
	}
	if ra, rb := a.Profile.Capacity-la, b.Profile.Capacity-lb; ra != rb {
		return ra > rb
	}
	return a.Operator.Username < b.Operator.Username
}
