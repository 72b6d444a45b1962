// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"golang.org/x/mod/sumdb/tlog"
)

// clock is a settable clock for the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// routingEnv is a migrated store with unsealed keys and a clock that tests
// move by hand.
type routingEnv struct {
	db    *sqlstore.DB
	keys  *keys.Keeper
	clock *clock
	boss  lifeline.Actor // a supervisor, the actor of staff changes
	n     int
}

// epoch is Monday 2 March 2026, 10:00 UTC: the tests' "now".
var epoch = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func mustRoutingEnv(t testing.TB) *routingEnv {
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
	clk := &clock{t: epoch}
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, sqlstore.FileName), sqlstore.Options{Sealer: k, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &routingEnv{db: db, keys: k, clock: clk}
	boss := e.operator(t, lifeline.RoleSupervisor)
	e.boss = lifeline.Actor{ID: string(boss), Role: lifeline.RoleSupervisor}
	return e
}

// operator creates an enabled account of role.
func (e *routingEnv) operator(t testing.TB, role lifeline.Role) lifeline.OperatorID {
	t.Helper()
	e.n++
	op := &lifeline.Operator{ID: lifeline.NewOperatorID(), Username: fmt.Sprintf("op%03d", e.n), Role: role}
	err := e.db.CreateOperator(context.Background(), lifeline.CLIActor, op, sqlstore.Credentials{PasswordHash: "$argon2id$test", TOTPSecret: []byte("seed")})
	if err != nil {
		t.Fatal(err)
	}
	return op.ID
}

// profile sets an operator's routing profile.
func (e *routingEnv) profile(t testing.TB, id lifeline.OperatorID, capacity int, streams []lifeline.Stream, langs ...lifeline.Language) {
	t.Helper()
	p := lifeline.RoutingProfile{Languages: langs, Streams: streams, Capacity: capacity}
	if err := e.db.SetRoutingProfile(context.Background(), e.boss, id, p); err != nil {
		t.Fatal(err)
	}
}

// shift schedules a shift of op for stream from now+from to now+to.
func (e *routingEnv) shift(t testing.TB, op lifeline.OperatorID, stream lifeline.Stream, from, to time.Duration) lifeline.Shift {
	t.Helper()
	now := e.clock.Now()
	s := lifeline.Shift{ID: lifeline.NewShiftID(), Operator: op, Stream: stream, Start: now.Add(from), End: now.Add(to)}
	if err := e.db.AddShift(context.Background(), e.boss, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// contact is one invented contact writing on Telegram.
type contact struct {
	id   lifeline.ContactID
	conv lifeline.ConversationID
}

// inbound stores a message from a new contact (c nil) or from c, as intake
// does, and returns the contact.
func (e *routingEnv) inbound(t testing.TB, c *contact) *contact {
	t.Helper()
	if c == nil {
		c = &contact{id: lifeline.NewContactID()}
	}
	err := e.db.Ingest(context.Background(), func(in *sqlstore.Ingest) error {
		if c.conv == "" {
			e.n++
			if err := in.CreateContact(&lifeline.Contact{ID: c.id, Channel: lifeline.ChannelTelegram, Handle: lifeline.Sensitive(fmt.Sprint(900000000 + e.n))}); err != nil {
				return err
			}
		}
		conv, _, err := in.OpenConversation(c.id, lifeline.ChannelTelegram, "bot", "", "")
		if err != nil {
			return err
		}
		c.conv = conv
		m := &lifeline.Message{ID: lifeline.NewMessageID(), ContactID: c.id, Direction: lifeline.Inbound, Body: "Здравствуйте"}
		return in.AddMessage(m, conv, "text", nil, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// set changes a conversation's routing columns directly, as the intake of
// another stream or a language detector would.
func (e *routingEnv) set(t testing.TB, conv lifeline.ConversationID, column string, value any) {
	t.Helper()
	err := e.db.Write(context.Background(), func(tx *sqlstore.Tx) error {
		_, err := tx.Exec(`UPDATE conversations SET `+column+` = ? WHERE id = ?`, value, conv)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// obj is how the audit log names ids: their keyed hashes.
func (e *routingEnv) obj(t testing.TB, ids ...string) string {
	t.Helper()
	h, err := e.db.AuditObject(strings.Join(ids, " "))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// audited returns the actions of the audit log in order, with their
// (hashed) objects.
func (e *routingEnv) audited(t testing.TB) []string {
	t.Helper()
	var out []string
	err := e.db.AuditLog().Entries(context.Background(), func(en audit.Entry, _ tlog.Hash) error {
		out = append(out, en.Action+" "+en.Object)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantCode(t testing.TB, what string, err error, code string) {
	t.Helper()
	if lifeline.ErrorCode(err) != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

var (
	ru, uk, en = lifeline.LanguageRussian, lifeline.LanguageUkrainian, lifeline.LanguageEnglish
	surrender  = []lifeline.Stream{lifeline.StreamSurrender}
	relatives  = []lifeline.Stream{lifeline.StreamRelatives}
	both       = lifeline.Streams()
)

func TestRoutingProfile(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	op := e.operator(t, lifeline.RoleIntake)
	got, err := e.db.RoutingProfile(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	// The schema's defaults.
	if want := (lifeline.RoutingProfile{Languages: []lifeline.Language{ru}, Streams: surrender, Capacity: 5}); !profileEqual(got.Profile, want) || got.Operator.ID != op || got.Operator.Role != lifeline.RoleIntake {
		t.Fatalf("new operator: %+v, want %+v", got, want)
	}
	want := lifeline.RoutingProfile{Languages: []lifeline.Language{uk, ru, en}, Streams: both, Capacity: 12}
	if err := e.db.SetRoutingProfile(ctx, e.boss, op, want); err != nil {
		t.Fatal(err)
	}
	if got, err = e.db.RoutingProfile(ctx, op); err != nil || !profileEqual(got.Profile, want) {
		t.Fatalf("after SetRoutingProfile: %+v, %v; want %+v", got.Profile, err, want)
	}
	wantCode(t, "invalid profile", e.db.SetRoutingProfile(ctx, e.boss, op, lifeline.RoutingProfile{Streams: both, Capacity: 1}), lifeline.EINVALID)
	wantCode(t, "unknown operator", e.db.SetRoutingProfile(ctx, e.boss, lifeline.NewOperatorID(), want), lifeline.ENOTFOUND)
	_, err = e.db.RoutingProfile(ctx, lifeline.NewOperatorID())
	wantCode(t, "read unknown operator", err, lifeline.ENOTFOUND)
	if got, _ := e.db.RoutingProfile(ctx, op); !profileEqual(got.Profile, want) {
		t.Fatalf("a refused change changed the profile: %+v", got.Profile)
	}
	all, err := e.db.RoutingProfiles(ctx)
	if err != nil || len(all) != 2 || string(all[0].Operator.ID) != e.boss.ID || all[1].Operator.ID != op || !profileEqual(all[1].Profile, want) {
		t.Fatalf("RoutingProfiles = %+v, %v", all, err)
	}
	if log := e.audited(t); !slices.Contains(log, "user.routing "+e.obj(t, string(op))) {
		t.Fatalf("audit log %v has no user.routing entry", log)
	}
}

func profileEqual(a, b lifeline.RoutingProfile) bool {
	return slices.Equal(a.Languages, b.Languages) && slices.Equal(a.Streams, b.Streams) && a.Capacity == b.Capacity
}

func TestOnDuty(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	a, b, gone := e.operator(t, lifeline.RoleIntake), e.operator(t, lifeline.RoleCaseOfficer), e.operator(t, lifeline.RoleIntake)
	e.profile(t, b, 3, both, ru, uk)
	sa := e.shift(t, a, lifeline.StreamSurrender, -time.Hour, 7*time.Hour)
	e.shift(t, b, lifeline.StreamRelatives, 0, 8*time.Hour)
	e.shift(t, b, lifeline.StreamSurrender, 8*time.Hour, 16*time.Hour)
	e.shift(t, gone, lifeline.StreamSurrender, 0, 8*time.Hour)
	if err := e.db.DisableOperator(ctx, e.boss, "op004", "left"); err != nil {
		t.Fatal(err)
	}
	// a carries two open conversations and one closed one.
	for i := range 3 {
		c := e.inbound(t, nil)
		if err := e.db.Assign(ctx, e.boss, c.conv, a); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if err := e.db.SetConversationState(ctx, e.boss, c.conv, "closed"); err != nil {
				t.Fatal(err)
			}
		}
	}
	duty, err := e.db.OnDuty(ctx, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if len(duty) != 2 || duty[0].Operator.ID != a || duty[1].Operator.ID != b {
		t.Fatalf("on duty at 10:00: %+v, want a and b", duty)
	}
	if duty[0].Load != 2 || duty[0].Shift != sa || duty[0].Profile.Capacity != 5 {
		t.Fatalf("a: load %d, shift %+v, profile %+v; want 2, %+v, capacity 5", duty[0].Load, duty[0].Shift, duty[0].Profile, sa)
	}
	if duty[1].Load != 0 || duty[1].Shift.Stream != lifeline.StreamRelatives || !profileEqual(duty[1].Profile, lifeline.RoutingProfile{Languages: []lifeline.Language{ru, uk}, Streams: both, Capacity: 3}) {
		t.Fatalf("b: %+v", duty[1])
	}
	for _, c := range []struct {
		at   time.Time
		want []lifeline.Stream // of a, then b
	}{
		{epoch.Add(-time.Hour - 1), nil},
		{epoch.Add(-time.Hour), []lifeline.Stream{"surrender"}},
		{epoch.Add(7*time.Hour - 1), []lifeline.Stream{"surrender", "relatives"}},
		{epoch.Add(7 * time.Hour), []lifeline.Stream{"relatives"}},
		{epoch.Add(8 * time.Hour), []lifeline.Stream{"surrender"}}, // b's next shift
		{epoch.Add(16 * time.Hour), nil},
	} {
		duty, err := e.db.OnDuty(ctx, c.at)
		if err != nil {
			t.Fatal(err)
		}
		var got []lifeline.Stream
		for _, d := range duty {
			got = append(got, d.Shift.Stream)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("on duty at %s: %v, want %v", c.at.Format(time.TimeOnly), got, c.want)
		}
	}
}

func TestWaitingConversations(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	op := e.operator(t, lifeline.RoleIntake)
	first := e.inbound(t, nil)
	e.clock.Add(30 * time.Second)
	e.inbound(t, first) // a second message does not move the wait
	e.clock.Add(45 * time.Second)
	second := e.inbound(t, nil)
	e.clock.Add(time.Minute)
	third := e.inbound(t, nil)
	e.set(t, third.conv, "stream", "relatives")
	e.set(t, third.conv, "language", "uk")

	type view struct {
		conv     lifeline.ConversationID
		since    time.Time
		assigned lifeline.OperatorID
	}
	check := func(what string, want ...view) []sqlstore.WaitingConversation {
		t.Helper()
		got, err := e.db.WaitingConversations(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var gotv []view
		for _, w := range got {
			gotv = append(gotv, view{w.ID, w.Since, w.AssignedTo})
		}
		if !slices.Equal(gotv, want) {
			t.Fatalf("%s:\n got %v\nwant %v", what, gotv, want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Seq <= got[i-1].Seq {
				t.Fatalf("%s: queue positions %d then %d", what, got[i-1].Seq, got[i].Seq)
			}
		}
		return got
	}
	got := check("three waiting", view{first.conv, epoch, ""}, view{second.conv, epoch.Add(75 * time.Second), ""},
		view{third.conv, epoch.Add(135 * time.Second), ""})
	if w := got[2]; w.Stream != lifeline.StreamRelatives || w.Language != uk || w.Kind != lifeline.ChannelTelegram || w.Escalated {
		t.Fatalf("third: %+v", w)
	}

	// Assigned conversations still wait until answered.
	if err := e.db.Assign(ctx, e.boss, second.conv, op); err != nil {
		t.Fatal(err)
	}
	check("one assigned", view{first.conv, epoch, ""}, view{second.conv, epoch.Add(75 * time.Second), op},
		view{third.conv, epoch.Add(135 * time.Second), ""})

	// An answer ends the wait; the contact's next message starts a new one,
	// at the end of the queue.
	if _, err := e.db.QueueReply(ctx, lifeline.Actor{ID: string(op), Role: lifeline.RoleIntake}, first.conv, "Мы на связи."); err != nil {
		t.Fatal(err)
	}
	check("first answered", view{second.conv, epoch.Add(75 * time.Second), op}, view{third.conv, epoch.Add(135 * time.Second), ""})
	e.clock.Add(time.Minute)
	e.inbound(t, first)
	check("first writes again", view{second.conv, epoch.Add(75 * time.Second), op}, view{third.conv, epoch.Add(135 * time.Second), ""},
		view{first.conv, epoch.Add(195 * time.Second), ""})

	// A closed conversation waits for nothing.
	if err := e.db.SetConversationState(ctx, e.boss, third.conv, "closed"); err != nil {
		t.Fatal(err)
	}
	check("third closed", view{second.conv, epoch.Add(75 * time.Second), op}, view{first.conv, epoch.Add(195 * time.Second), ""})

	// While sealed, the times cannot be read.
	e.keys.Seal()
	_, err := e.db.WaitingConversations(ctx)
	wantCode(t, "sealed", err, lifeline.EUNAVAILABLE)
}

func TestAssignTransferUnassign(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	a, b := e.operator(t, lifeline.RoleIntake), e.operator(t, lifeline.RoleCaseOfficer)
	sv, fo := e.operator(t, lifeline.RoleSupervisor), e.operator(t, lifeline.RoleFinance)
	c := e.inbound(t, nil)
	assignee := func() lifeline.OperatorID {
		t.Helper()
		it, err := e.db.Conversation(ctx, c.conv)
		if err != nil {
			t.Fatal(err)
		}
		return it.AssignedTo
	}

	wantCode(t, "assign to a supervisor", e.db.Assign(ctx, e.boss, c.conv, sv), lifeline.EINVALID)
	wantCode(t, "assign to finance", e.db.Assign(ctx, e.boss, c.conv, fo), lifeline.EINVALID)
	wantCode(t, "assign to nobody known", e.db.Assign(ctx, e.boss, c.conv, lifeline.NewOperatorID()), lifeline.ENOTFOUND)
	wantCode(t, "assign an unknown conversation", e.db.Assign(ctx, e.boss, lifeline.NewConversationID(), a), lifeline.ENOTFOUND)
	if err := e.db.Assign(ctx, e.boss, c.conv, a); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "assign again", e.db.Assign(ctx, e.boss, c.conv, b), lifeline.ECONFLICT)
	wantCode(t, "assign again to the same", e.db.Assign(ctx, e.boss, c.conv, a), lifeline.ECONFLICT)
	wantCode(t, "transfer from the wrong operator", e.db.Transfer(ctx, e.boss, c.conv, b, a), lifeline.ECONFLICT)
	wantCode(t, "transfer to oneself", e.db.Transfer(ctx, e.boss, c.conv, a, a), lifeline.EINVALID)
	wantCode(t, "unassign from the wrong operator", e.db.Unassign(ctx, e.boss, c.conv, b), lifeline.ECONFLICT)
	if got := assignee(); got != a {
		t.Fatalf("after refused changes: assigned to %s, want %s", got, a)
	}
	if err := e.db.Transfer(ctx, e.boss, c.conv, a, b); err != nil {
		t.Fatal(err)
	}
	if got := assignee(); got != b {
		t.Fatalf("after transfer: assigned to %s, want %s", got, b)
	}
	if err := e.db.DisableOperator(ctx, e.boss, "op002", "left"); err != nil { // a
		t.Fatal(err)
	}
	wantCode(t, "transfer to a disabled operator", e.db.Transfer(ctx, e.boss, c.conv, b, a), lifeline.EINVALID)
	if err := e.db.Unassign(ctx, e.boss, c.conv, b); err != nil {
		t.Fatal(err)
	}
	if got := assignee(); got != "" {
		t.Fatalf("after unassign: assigned to %s", got)
	}
	wantCode(t, "unassign twice", e.db.Unassign(ctx, e.boss, c.conv, b), lifeline.ECONFLICT)
	if err := e.db.SetConversationState(ctx, e.boss, c.conv, "closed"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "assign a closed conversation", e.db.Assign(ctx, e.boss, c.conv, b), lifeline.ECONFLICT)

	log := e.audited(t)
	for _, want := range []string{
		"conversation.assign " + e.obj(t, string(c.conv), string(a)),
		"conversation.transfer " + e.obj(t, string(c.conv), string(b)),
		"conversation.unassign " + e.obj(t, string(c.conv)),
	} {
		if !slices.Contains(log, want) {
			t.Errorf("audit log has no %q", want)
		}
	}
	// Refused changes leave no entry.
	n := 0
	for _, l := range log {
		if l == "conversation.assign "+string(c.conv)+" "+string(b) {
			n++
		}
	}
	if n != 0 {
		t.Errorf("a refused assign was audited %d times", n)
	}
}

// TestAssignRace: when several people assign one conversation at once,
// exactly one wins and the others are told of the conflict.
func TestAssignRace(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	ops := make([]lifeline.OperatorID, 8)
	for i := range ops {
		ops[i] = e.operator(t, lifeline.RoleIntake)
	}
	for _, op := range ops {
		e.shift(t, op, lifeline.StreamSurrender, 0, time.Hour)
	}
	for round := range 5 {
		c := e.inbound(t, nil)
		errs := make([]error, len(ops))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, op := range ops {
			wg.Go(func() {
				<-start
				if i%2 == 0 {
					errs[i] = e.db.Assign(ctx, e.boss, c.conv, op)
				} else {
					errs[i] = e.db.AutoAssign(ctx, c.conv, op) // the router races the humans
				}
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch lifeline.ErrorCode(err) {
			case "":
				if winner >= 0 {
					t.Fatalf("round %d: both %d and %d won", round, winner, i)
				}
				winner = i
			case lifeline.ECONFLICT:
			default:
				t.Fatalf("round %d: %d: %v", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody won", round)
		}
		it, err := e.db.Conversation(ctx, c.conv)
		if err != nil || it.AssignedTo != ops[winner] {
			t.Fatalf("round %d: assigned to %s, %v; want the winner %s", round, it.AssignedTo, err, ops[winner])
		}
	}
}

func TestAutoAssign(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	a, off, sv := e.operator(t, lifeline.RoleIntake), e.operator(t, lifeline.RoleIntake), e.operator(t, lifeline.RoleSupervisor)
	e.profile(t, a, 2, surrender, ru)
	e.shift(t, a, lifeline.StreamSurrender, -time.Hour, time.Hour)
	e.shift(t, off, lifeline.StreamSurrender, time.Hour, 2*time.Hour)
	e.shift(t, sv, lifeline.StreamSurrender, -time.Hour, time.Hour)

	c1, c2, c3 := e.inbound(t, nil), e.inbound(t, nil), e.inbound(t, nil)
	wantCode(t, "off shift", e.db.AutoAssign(ctx, c1.conv, off), lifeline.ECONFLICT)
	wantCode(t, "a supervisor", e.db.AutoAssign(ctx, c1.conv, sv), lifeline.ECONFLICT)
	wantCode(t, "unknown operator", e.db.AutoAssign(ctx, c1.conv, lifeline.NewOperatorID()), lifeline.ENOTFOUND)
	wantCode(t, "unknown conversation", e.db.AutoAssign(ctx, lifeline.NewConversationID(), a), lifeline.ENOTFOUND)
	e.set(t, c1.conv, "language", "uk")
	wantCode(t, "another language", e.db.AutoAssign(ctx, c1.conv, a), lifeline.ECONFLICT)
	e.set(t, c1.conv, "language", "ru")
	e.set(t, c1.conv, "stream", "relatives")
	wantCode(t, "another stream", e.db.AutoAssign(ctx, c1.conv, a), lifeline.ECONFLICT)
	e.set(t, c1.conv, "stream", "surrender")
	if err := e.db.AutoAssign(ctx, c1.conv, a); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "assigned already", e.db.AutoAssign(ctx, c1.conv, a), lifeline.ECONFLICT)
	// Answered conversations are not routed.
	if _, err := e.db.QueueReply(ctx, e.boss, c2.conv, "Здравствуйте."); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "not waiting", e.db.AutoAssign(ctx, c2.conv, a), lifeline.ECONFLICT)
	e.inbound(t, c2)
	if err := e.db.AutoAssign(ctx, c2.conv, a); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "at capacity", e.db.AutoAssign(ctx, c3.conv, a), lifeline.ECONFLICT)
	// A closed conversation frees a place.
	if err := e.db.SetConversationState(ctx, e.boss, c1.conv, "closed"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.AutoAssign(ctx, c3.conv, a); err != nil {
		t.Fatal(err)
	}
	if log := e.audited(t); !slices.Contains(log, "conversation.auto_assign "+e.obj(t, string(c3.conv), string(a))) {
		t.Fatalf("audit log %v has no auto_assign of c3", log)
	}
	// The shift ends: no more automatic routing to a.
	if err := e.db.SetConversationState(ctx, e.boss, c3.conv, "closed"); err != nil {
		t.Fatal(err)
	}
	c4 := e.inbound(t, nil)
	e.clock.Add(time.Hour)
	wantCode(t, "shift over", e.db.AutoAssign(ctx, c4.conv, a), lifeline.ECONFLICT)
}

// TestAutoAssignCapacityRace: routers assigning many conversations at once
// to one operator never exceed his capacity.
func TestAutoAssignCapacityRace(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	a := e.operator(t, lifeline.RoleIntake)
	e.profile(t, a, 3, surrender, ru)
	e.shift(t, a, lifeline.StreamSurrender, 0, time.Hour)
	convs := make([]lifeline.ConversationID, 20)
	for i := range convs {
		convs[i] = e.inbound(t, nil).conv
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for _, c := range convs {
		wg.Go(func() {
			err := e.db.AutoAssign(ctx, c, a)
			if err != nil && lifeline.ErrorCode(err) != lifeline.ECONFLICT {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			}
		})
	}
	wg.Wait()
	duty, err := e.db.OnDuty(ctx, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if won != 3 || len(duty) != 1 || duty[0].Load != 3 {
		t.Fatalf("%d assigned, load %+v; want 3 and 3", won, duty)
	}
}

func TestMarkEscalated(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	c := e.inbound(t, nil)
	waiting := func() sqlstore.WaitingConversation {
		t.Helper()
		ws, err := e.db.WaitingConversations(ctx)
		if err != nil || len(ws) != 1 {
			t.Fatalf("waiting: %v, %v", ws, err)
		}
		return ws[0]
	}
	w := waiting()
	if ok, err := e.db.MarkEscalated(ctx, c.conv, w.Seq+1); ok || err != nil {
		t.Fatalf("escalate with a stale position = %v, %v; want false", ok, err)
	}
	if ok, err := e.db.MarkEscalated(ctx, c.conv, w.Seq); !ok || err != nil {
		t.Fatalf("escalate = %v, %v; want true", ok, err)
	}
	if ok, err := e.db.MarkEscalated(ctx, c.conv, w.Seq); ok || err != nil {
		t.Fatalf("escalate twice = %v, %v; want false", ok, err)
	}
	if !waiting().Escalated {
		t.Fatal("not marked escalated")
	}
	// Answered: the mark goes, and the old wait cannot be escalated again.
	if _, err := e.db.QueueReply(ctx, e.boss, c.conv, "Здравствуйте."); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.db.MarkEscalated(ctx, c.conv, w.Seq); ok || err != nil {
		t.Fatalf("escalate an answered wait = %v, %v; want false", ok, err)
	}
	// A new wait can be.
	e.inbound(t, c)
	w2 := waiting()
	if w2.Escalated || w2.Seq == w.Seq {
		t.Fatalf("new wait: %+v (old position %d)", w2, w.Seq)
	}
	if ok, err := e.db.MarkEscalated(ctx, c.conv, w2.Seq); !ok || err != nil {
		t.Fatalf("escalate the new wait = %v, %v; want true", ok, err)
	}
	n := 0
	for _, l := range e.audited(t) {
		if l == "conversation.escalate "+e.obj(t, string(c.conv)) {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d escalations audited, want 2", n)
	}
}

func TestSetConversationLanguage(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	c := e.inbound(t, nil)
	if err := e.db.SetConversationLanguage(ctx, e.boss, c.conv, uk); err != nil {
		t.Fatal(err)
	}
	ws, err := e.db.WaitingConversations(ctx)
	if err != nil || len(ws) != 1 || ws[0].Language != uk {
		t.Fatalf("waiting: %+v, %v; want language uk", ws, err)
	}
	wantCode(t, "unknown language", e.db.SetConversationLanguage(ctx, e.boss, c.conv, "de"), lifeline.EINVALID)
	wantCode(t, "unknown conversation", e.db.SetConversationLanguage(ctx, e.boss, lifeline.NewConversationID(), ru), lifeline.ENOTFOUND)
}
