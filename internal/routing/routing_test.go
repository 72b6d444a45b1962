// SPDX-License-Identifier: AGPL-3.0-or-later

package routing_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/routing"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// clock is a settable clock for the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// epoch is the tests' start: Monday 2 March 2026, 10:00 UTC.
var epoch = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// env is a migrated store with unsealed keys, a supervisor to act as, and
// helpers that make staff, shifts and contacts.
type env struct {
	db   *sqlstore.DB
	keys *keys.Keeper
	boss lifeline.Actor
	n    int
}

// mustEnv opens the store; now is its clock (nil: the real one).
func mustEnv(t testing.TB, now func() time.Time) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	unseal := filepath.Join(dir, "unseal")
	if _, err := keys.Init(filepath.Join(dir, "keys"), keys.Options{DevFile: unseal}); err != nil {
		t.Fatal(err)
	}
	k, err := keys.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.UnsealWithFile(unseal); err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, sqlstore.FileName), sqlstore.Options{Sealer: k, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, keys: k}
	e.boss = lifeline.Actor{ID: string(e.operator(t, "boss", lifeline.RoleSupervisor)), Role: lifeline.RoleSupervisor}
	return e
}

// operator creates an account.
func (e *env) operator(t testing.TB, name string, role lifeline.Role) lifeline.OperatorID {
	t.Helper()
	op := &lifeline.Operator{ID: lifeline.NewOperatorID(), Username: name, Role: role}
	if err := e.db.CreateOperator(context.Background(), lifeline.CLIActor, op, sqlstore.Credentials{PasswordHash: "$argon2id$test", TOTPSecret: []byte("seed")}); err != nil {
		t.Fatal(err)
	}
	return op.ID
}

// staff creates an operator of role with a profile and a shift for stream
// from an hour ago to seven hours ahead.
func (e *env) staff(t testing.TB, name string, role lifeline.Role, stream lifeline.Stream, capacity int, langs ...lifeline.Language) lifeline.OperatorID {
	t.Helper()
	ctx := context.Background()
	id := e.operator(t, name, role)
	if err := e.db.SetRoutingProfile(ctx, e.boss, id, lifeline.RoutingProfile{Languages: langs, Streams: lifeline.Streams(), Capacity: capacity}); err != nil {
		t.Fatal(err)
	}
	now := e.db.Now().Truncate(time.Minute)
	s := lifeline.Shift{ID: lifeline.NewShiftID(), Operator: id, Stream: stream, Start: now.Add(-time.Hour), End: now.Add(7 * time.Hour)}
	if err := e.db.AddShift(ctx, e.boss, &s); err != nil {
		t.Fatal(err)
	}
	return id
}

// inbound stores a first message from a new contact writing in lang on
// stream, as intake does, and returns its conversation.
func (e *env) inbound(t testing.TB, stream lifeline.Stream, lang lifeline.Language) lifeline.ConversationID {
	t.Helper()
	ctx := context.Background()
	e.n++
	contact := lifeline.NewContactID()
	var conv lifeline.ConversationID
	err := e.db.Ingest(ctx, func(in *sqlstore.Ingest) error {
		if err := in.CreateContact(&lifeline.Contact{ID: contact, Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(fmt.Sprint(900000000 + e.n))}); err != nil {
			return err
		}
		var err error
		if conv, _, err = in.OpenConversation(contact, lifeline.ChannelTelegram, "bot", "", ""); err != nil {
			return err
		}
		return in.AddMessage(&lifeline.Message{ID: lifeline.NewMessageID(), ContactID: contact, Direction: lifeline.Inbound, Body: "Здравствуйте"}, conv, "text", nil, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.db.Write(ctx, func(tx *sqlstore.Tx) error {
		_, err := tx.Exec(`UPDATE conversations SET stream = ?, language = ? WHERE id = ?`, stream, lang, conv)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return conv
}

func (e *env) assignee(t testing.TB, conv lifeline.ConversationID) lifeline.OperatorID {
	t.Helper()
	it, err := e.db.Conversation(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	return it.AssignedTo
}

const (
	sur, rel   = lifeline.StreamSurrender, lifeline.StreamRelatives
	ru, uk     = lifeline.LanguageRussian, lifeline.LanguageUkrainian
	io, co, sv = lifeline.RoleIntake, lifeline.RoleCaseOfficer, lifeline.RoleSupervisor
)

// TestRouterAssigns: a pass gives each waiting conversation to the least
// loaded operator on shift who serves its stream and language, within
// capacity, oldest first, and reports each assignment.
func TestRouterAssigns(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: epoch}
	e := mustEnv(t, clk.Now)
	anna := e.staff(t, "anna", io, sur, 2, ru, uk)
	boris := e.staff(t, "boris", co, sur, 5, ru)
	vera := e.staff(t, "vera", io, rel, 5, ru)
	e.staff(t, "sasha", sv, sur, 5, ru, uk)
	e.operator(t, "off", io) // no shift

	var convs []lifeline.ConversationID
	for _, c := range []struct {
		stream lifeline.Stream
		lang   lifeline.Language
	}{{sur, ru}, {sur, uk}, {sur, ru}, {rel, ru}, {sur, ru}, {rel, uk}, {sur, uk}, {sur, uk}} {
		convs = append(convs, e.inbound(t, c.stream, c.lang))
		clk.Add(10 * time.Second)
	}
	var reported []routing.Assignment
	r := routing.New(e.db, routing.Config{OnAssign: func(a routing.Assignment) { reported = append(reported, a) }})
	res, err := r.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []routing.Assignment{
		{convs[0], boris}, // sur ru: anna and boris carry nothing; boris has more room
		{convs[1], anna},  // sur uk: only anna speaks Ukrainian
		{convs[2], boris}, // sur ru: both carry one; boris has more room
		{convs[3], vera},  // rel ru: only vera is on the relatives' shift
		{convs[4], anna},  // sur ru: anna carries one, boris two; anna is now full
		// convs[5] (rel uk): nobody; convs[6] and [7] (sur uk): anna is full.
	}
	if !slices.Equal(res.Assigned, want) || !slices.Equal(reported, want) {
		t.Fatalf("assigned %v (reported %v)\nwant %v", res.Assigned, reported, want)
	}
	for _, a := range want {
		if got := e.assignee(t, a.Conversation); got != a.Operator {
			t.Errorf("%s assigned to %s, want %s", a.Conversation, got, a.Operator)
		}
	}
	for _, c := range convs[5:] {
		if got := e.assignee(t, c); got != "" {
			t.Errorf("%s assigned to %s, want nobody", c, got)
		}
	}
	// Nothing changed: a second pass assigns nothing.
	if res, err := r.RunOnce(ctx); err != nil || len(res.Assigned) != 0 {
		t.Fatalf("second pass: %v, %v", res.Assigned, err)
	}
	// anna answers and closes one conversation: she takes the next
	// Ukrainian one.
	if err := e.db.SetConversationState(ctx, e.boss, convs[1], "closed"); err != nil {
		t.Fatal(err)
	}
	res, err = r.RunOnce(ctx)
	if err != nil || !slices.Equal(res.Assigned, []routing.Assignment{{convs[6], anna}}) {
		t.Fatalf("after a close: %v, %v; want %s to anna", res.Assigned, err, convs[6])
	}
}

// TestRouterEscalates: a contact who waits past the target is escalated
// once, to the supervisor on duty for the stream, and an answer ends it.
func TestRouterEscalates(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: epoch}
	e := mustEnv(t, clk.Now)
	svSur := e.staff(t, "sasha", sv, sur, 0, ru)
	e.staff(t, "yana", sv, rel, 0, ru)
	anna := e.staff(t, "anna", io, sur, 5, ru)

	c1 := e.inbound(t, sur, ru) // anna takes it, and does not answer
	clk.Add(30 * time.Second)
	c2 := e.inbound(t, sur, uk) // nobody speaks Ukrainian
	var got []routing.Escalation
	r := routing.New(e.db, routing.Config{OnEscalate: func(x routing.Escalation) { got = append(got, x) }})
	if r.Target() != routing.DefaultTarget {
		t.Fatalf("target %v", r.Target())
	}
	res, err := r.RunOnce(ctx)
	if err != nil || len(res.Assigned) != 1 || len(res.Escalated) != 0 {
		t.Fatalf("first pass: %+v, %v", res, err)
	}
	if want := epoch.Add(routing.DefaultTarget); !res.Next.Equal(want) {
		t.Fatalf("next deadline %v, want %v", res.Next, want)
	}

	clk.Add(routing.DefaultTarget - 30*time.Second - time.Nanosecond) // c1 waits 1:59.999999999
	if res, err := r.RunOnce(ctx); err != nil || len(res.Escalated) != 0 {
		t.Fatalf("before the target: %+v, %v", res, err)
	}
	clk.Add(time.Nanosecond) // c1 waits 2:00
	res, err = r.RunOnce(ctx)
	if err != nil || len(res.Escalated) != 1 || len(got) != 1 {
		t.Fatalf("at the target: %+v, %v (reported %v)", res, err, got)
	}
	x := got[0]
	if x.Conversation.ID != c1 || x.Conversation.AssignedTo != anna || !x.Conversation.Escalated || x.Waited != routing.DefaultTarget {
		t.Fatalf("escalation %+v", x)
	}
	if len(x.Supervisors) != 1 || x.Supervisors[0].ID != svSur {
		t.Fatalf("escalated to %v, want the surrender stream's supervisor", x.Supervisors)
	}
	if want := epoch.Add(30*time.Second + routing.DefaultTarget); !res.Next.Equal(want) {
		t.Fatalf("next deadline %v, want c2's %v", res.Next, want)
	}
	// Once per wait.
	clk.Add(time.Minute)
	res, err = r.RunOnce(ctx)
	if err != nil || len(res.Escalated) != 1 || res.Escalated[0].Conversation.ID != c2 || len(got) != 2 || !res.Next.IsZero() {
		t.Fatalf("next pass: %+v, %v; want only c2 escalated", res, err)
	}
	if res, err := r.RunOnce(ctx); err != nil || len(res.Escalated) != 0 || len(got) != 2 {
		t.Fatalf("pass after: %+v, %v; want nothing", res, err)
	}
	// anna answers; the contact writes again and waits anew.
	if _, err := e.db.QueueReply(ctx, lifeline.Actor{ID: string(anna), Role: io}, c1, "Мы на связи."); err != nil {
		t.Fatal(err)
	}
	if res, err := r.RunOnce(ctx); err != nil || len(res.Escalated) != 0 {
		t.Fatalf("after the answer: %+v, %v", res, err)
	}
	err = e.db.Ingest(ctx, func(in *sqlstore.Ingest) error {
		it, err := e.db.Conversation(ctx, c1)
		if err != nil {
			return err
		}
		conv, _, err := in.OpenConversation(it.ContactID, lifeline.ChannelTelegram, "bot", "", "")
		if err != nil || conv != c1 {
			return fmt.Errorf("reopened %s, %v", conv, err)
		}
		return in.AddMessage(&lifeline.Message{ID: lifeline.NewMessageID(), ContactID: it.ContactID, Direction: lifeline.Inbound, Body: "?"}, conv, "text", nil, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	since := clk.Now()
	clk.Add(3 * time.Minute)
	res, err = r.RunOnce(ctx)
	if err != nil || len(res.Escalated) != 1 || res.Escalated[0].Conversation.ID != c1 || !res.Escalated[0].Conversation.Since.Equal(since) ||
		res.Escalated[0].Waited != 3*time.Minute {
		t.Fatalf("the new wait: %+v, %v", res, err)
	}
}

// TestRouterEscalatesWithoutStreamSupervisor: with no supervisor on duty
// for the stream, every supervisor on duty is alerted; with none at all,
// the escalation still happens, to nobody in particular.
func TestRouterEscalatesWithoutStreamSupervisor(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: epoch}
	e := mustEnv(t, clk.Now)
	c := e.inbound(t, rel, ru)
	clk.Add(5 * time.Minute)
	r := routing.New(e.db, routing.Config{Target: time.Minute})
	res, err := r.RunOnce(ctx)
	if err != nil || len(res.Escalated) != 1 || res.Escalated[0].Conversation.ID != c || len(res.Escalated[0].Supervisors) != 0 {
		t.Fatalf("nobody on duty: %+v, %v", res, err)
	}
	c2 := e.inbound(t, rel, ru)
	yana := e.staff(t, "yana", sv, sur, 0, ru)
	clk.Add(5 * time.Minute)
	res, err = r.RunOnce(ctx)
	if err != nil || len(res.Escalated) != 1 || res.Escalated[0].Conversation.ID != c2 || len(res.Escalated[0].Supervisors) != 1 || res.Escalated[0].Supervisors[0].ID != yana {
		t.Fatalf("a supervisor of another stream: %+v, %v", res, err)
	}
}

// TestRouterSealed: while sealed, waiting times cannot be read: a pass
// assigns nothing and says EUNAVAILABLE; after the unseal it catches up.
func TestRouterSealed(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: epoch}
	e := mustEnv(t, clk.Now)
	e.staff(t, "anna", io, sur, 5, ru)
	c := e.inbound(t, sur, ru)
	e.keys.Seal()
	r := routing.New(e.db, routing.Config{})
	res, err := r.RunOnce(ctx)
	if lifeline.ErrorCode(err) != lifeline.EUNAVAILABLE || len(res.Assigned) != 0 {
		t.Fatalf("sealed: %+v, %v; want EUNAVAILABLE", res, err)
	}
	if got := e.assignee(t, c); got != "" {
		t.Fatalf("assigned while sealed to %s", got)
	}
}

// racingStore makes a supervisor assign each conversation by hand just
// before the router's own AutoAssign of it: the router loses every first
// race.
type racingStore struct {
	*sqlstore.DB
	t      testing.TB
	human  lifeline.OperatorID
	boss   lifeline.Actor
	raced  map[lifeline.ConversationID]bool
	losses int
}

func (s *racingStore) AutoAssign(ctx context.Context, conv lifeline.ConversationID, to lifeline.OperatorID) error {
	if !s.raced[conv] {
		s.raced[conv] = true
		if err := s.DB.Assign(ctx, s.boss, conv, s.human); err != nil {
			s.t.Error(err)
		}
	}
	err := s.DB.AutoAssign(ctx, conv, to)
	if lifeline.ErrorCode(err) == lifeline.ECONFLICT {
		s.losses++
	}
	return err
}

// TestRouterLosesRaces: an assignment a human made first stands; the router
// reads again and routes what is left.
func TestRouterLosesRaces(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: epoch}
	e := mustEnv(t, clk.Now)
	anna := e.staff(t, "anna", io, sur, 1, ru)
	olena := e.operator(t, "olena", co)
	c1 := e.inbound(t, sur, ru)
	c2 := e.inbound(t, sur, ru)
	store := &racingStore{DB: e.db, t: t, human: olena, boss: e.boss, raced: map[lifeline.ConversationID]bool{c1: false, c2: true}}
	r := routing.New(store, routing.Config{})
	res, err := r.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// c1 went to olena by hand; the re-read plan gives c2 to anna.
	if store.losses != 1 || !slices.Equal(res.Assigned, []routing.Assignment{{c2, anna}}) {
		t.Fatalf("losses %d, assigned %v; want 1 and c2 to anna", store.losses, res.Assigned)
	}
	if got := e.assignee(t, c1); got != olena {
		t.Fatalf("c1 assigned to %s, want the human's choice %s", got, olena)
	}
}

// TestRun: Run routes at once when poked, escalates at the deadline without
// waiting for the interval, and returns when its context ends.
func TestRun(t *testing.T) {
	e := mustEnv(t, nil) // the real clock: Run's waits are real
	e.staff(t, "anna", io, sur, 5, ru)
	e.staff(t, "sasha", sv, sur, 0, ru)
	assigned := make(chan routing.Assignment, 10)
	escalated := make(chan routing.Escalation, 10)
	r := routing.New(e.db, routing.Config{
		Interval:   time.Hour, // only pokes and deadlines wake it
		Target:     300 * time.Millisecond,
		OnAssign:   func(a routing.Assignment) { assigned <- a },
		OnEscalate: func(x routing.Escalation) { escalated <- x },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	time.Sleep(50 * time.Millisecond) // the first pass finds nothing
	c := e.inbound(t, sur, ru)
	start := time.Now()
	r.Poke()
	select {
	case a := <-assigned:
		if a.Conversation != c {
			t.Fatalf("assigned %v", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a poke did not route the new conversation")
	}
	select {
	case x := <-escalated:
		if x.Conversation.ID != c || time.Since(start) < 250*time.Millisecond {
			t.Fatalf("escalation %+v after %v", x, time.Since(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no escalation at the deadline")
	}
	// Pokes never block, even many at once with nobody reading.
	for range 100 {
		r.Poke()
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if len(assigned) != 0 || len(escalated) != 0 {
		t.Fatalf("more events: %d assignments, %d escalations", len(assigned), len(escalated))
	}
}
