// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// TestWrapUpCloseUndoAndCounts: closing records the wrap-up (its note
// sealed, read back whole); the closer may undo within a minute, which
// reopens the conversation in its place in the queue and clears the
// wrap-up; after a minute, or for anyone else, the close is final; the
// counts per category and outcome cover what is closed. A new store has
// categories to choose from.
func TestWrapUpCloseUndoAndCounts(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	io := e.operator(t, lifeline.RoleIntake)
	me := lifeline.Actor{ID: string(io), Role: lifeline.RoleIntake}
	// A new installation can close conversations: it has categories.
	if seeded, err := e.db.Labels(ctx, sqlstore.LabelKindCategory, false); err != nil || len(seeded) < 3 {
		t.Errorf("a new store's categories: %+v, %v", seeded, err)
	}
	cat, err := e.db.AddLabel(ctx, e.boss, sqlstore.LabelKindCategory, "  Registration  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.AddLabel(ctx, e.boss, sqlstore.LabelKindCategory, "Registration"); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("the same category again: %v, want ECONFLICT", err)
	}
	label, err := e.db.AddLabel(ctx, e.boss, sqlstore.LabelKindLabel, "urgent")
	if err != nil {
		t.Fatal(err)
	}
	a, b := e.inbound(t, nil), e.inbound(t, nil)
	for _, c := range []*contact{a, b} {
		if err := e.db.Assign(ctx, lifeline.CLIActor, c.conv, io); err != nil {
			t.Fatal(err)
		}
	}
	before, err := e.db.Conversation(ctx, a.conv)
	if err != nil {
		t.Fatal(err)
	}

	// A label, not a category, cannot be a wrap-up's category; a wrap-up
	// without an outcome is refused; neither closes anything.
	for _, w := range []lifeline.WrapUp{{Category: label.ID, Outcome: lifeline.OutcomeInformed}, {Category: cat.ID}} {
		if err := e.db.CloseWithWrapUp(ctx, me, a.conv, w); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("wrap-up %+v: %v, want EINVALID", w, err)
		}
	}
	if c, _ := e.db.Conversation(ctx, a.conv); c.State == "closed" {
		t.Fatal("a refused wrap-up closed the conversation")
	}
	wrap := lifeline.WrapUp{Category: cat.ID, Outcome: lifeline.OutcomeReferred, FollowUp: true, FollowUpNote: "позвонить брату в среду"}
	if err := e.db.CloseWithWrapUp(ctx, me, a.conv, wrap); err != nil {
		t.Fatal(err)
	}
	got, err := e.db.WrapUpOf(ctx, a.conv)
	if err != nil {
		t.Fatal(err)
	}
	if got.CategoryName != "Registration" || got.Outcome != lifeline.OutcomeReferred || !got.FollowUp ||
		got.FollowUpNote.Reveal() != "позвонить брату в среду" || got.ClosedBy != io || !got.ClosedAt.Equal(e.clock.Now()) {
		t.Errorf("wrap-up read back %+v", got)
	}
	if err := e.db.CloseWithWrapUp(ctx, me, a.conv, wrap); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("closing a closed conversation: %v, want ECONFLICT", err)
	}
	// Someone else may not undo it; the closer may, within the minute.
	if err := e.db.UndoClose(ctx, e.boss, a.conv); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("undo by another: %v, want ECONFLICT", err)
	}
	e.clock.Add(59 * time.Second)
	if err := e.db.UndoClose(ctx, me, a.conv); err != nil {
		t.Fatalf("undo at 59 s: %v", err)
	}
	after, err := e.db.Conversation(ctx, a.conv)
	if err != nil {
		t.Fatal(err)
	}
	if after.State != before.State || after.Waiting != before.Waiting || !before.Waiting {
		t.Errorf("after undo: state %q waiting %v; before: %q %v", after.State, after.Waiting, before.State, before.Waiting)
	}
	if _, err := e.db.WrapUpOf(ctx, a.conv); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("wrap-up after undo: %v, want ENOTFOUND", err)
	}
	if err := e.db.UndoClose(ctx, me, a.conv); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("undo of an open conversation: %v, want ECONFLICT", err)
	}
	// Closed again, a minute later the close is final.
	if err := e.db.CloseWithWrapUp(ctx, me, a.conv, wrap); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	if err := e.db.UndoClose(ctx, me, a.conv); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("undo after a minute: %v, want ECONFLICT", err)
	}
	if c, _ := e.db.Conversation(ctx, a.conv); c.State != "closed" {
		t.Errorf("after a refused undo: %q, want closed", c.State)
	}
	// The contact writes again within the minute of b's close: his new
	// conversation is open, so b's close cannot be undone.
	if err := e.db.CloseWithWrapUp(ctx, me, b.conv, lifeline.WrapUp{Category: cat.ID, Outcome: lifeline.OutcomeInformed}); err != nil {
		t.Fatal(err)
	}
	old := b.conv
	e.inbound(t, b)
	if b.conv == old {
		t.Fatal("the contact's new message went to the closed conversation")
	}
	if err := e.db.UndoClose(ctx, me, old); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Errorf("undo with a newer conversation open: %v, want ECONFLICT", err)
	}

	counts, err := e.db.WrapUpCounts(ctx, lifeline.DayOf(epoch), lifeline.DayOf(e.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	want := []sqlstore.WrapUpCount{
		{Category: "Registration", Outcome: lifeline.OutcomeInformed, FollowUp: 0, Count: 1},
		{Category: "Registration", Outcome: lifeline.OutcomeReferred, FollowUp: 1, Count: 1},
	}
	if !slices.Equal(counts, want) {
		t.Errorf("counts %+v, want %+v", counts, want)
	}
	if counts, err := e.db.WrapUpCounts(ctx, lifeline.DayOf(epoch).AddDays(1), lifeline.Day{}); err != nil || len(counts) != 0 {
		t.Errorf("counts from tomorrow: %+v, %v; want none", counts, err)
	}
	// Archived, a category is no longer offered, and still counted.
	if err := e.db.ArchiveLabel(ctx, e.boss, cat.ID); err != nil {
		t.Fatal(err)
	}
	live, _ := e.db.Labels(ctx, sqlstore.LabelKindCategory, false)
	all, _ := e.db.Labels(ctx, sqlstore.LabelKindCategory, true)
	if slices.ContainsFunc(live, func(l sqlstore.Label) bool { return l.ID == cat.ID }) || len(all) != len(live)+1 {
		t.Errorf("live categories %+v after archiving (all: %+v)", live, all)
	}
	if counts, _ := e.db.WrapUpCounts(ctx, lifeline.Day{}, lifeline.Day{}); len(counts) != 2 {
		t.Errorf("counts after archiving: %+v", counts)
	}
}

// TestConversationLabels: operators put labels from the list on a
// conversation and take them off; a category or an unknown id is refused
// and changes nothing; an archived label stays until taken off, and is not
// put on anew.
func TestConversationLabels(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	c := e.inbound(t, nil)
	urgent, _ := e.db.AddLabel(ctx, e.boss, sqlstore.LabelKindLabel, "urgent")
	group, _ := e.db.AddLabel(ctx, e.boss, sqlstore.LabelKindLabel, "group")
	cat, _ := e.db.AddLabel(ctx, e.boss, sqlstore.LabelKindCategory, "info")
	names := func(conv lifeline.ConversationID) []string {
		ls, err := e.db.ConversationLabels(ctx, conv)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range ls {
			out = append(out, l.Name)
		}
		return out
	}
	if err := e.db.SetConversationLabels(ctx, e.boss, c.conv, []string{urgent.ID, group.ID, urgent.ID}); err != nil {
		t.Fatal(err)
	}
	if got := names(c.conv); !slices.Equal(got, []string{"group", "urgent"}) {
		t.Errorf("labels %v", got)
	}
	for _, ids := range [][]string{{cat.ID}, {"nonsense"}, {urgent.ID, string(lifeline.NewID())}} {
		if err := e.db.SetConversationLabels(ctx, e.boss, c.conv, ids); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("labels %v: %v, want EINVALID", ids, err)
		}
	}
	if got := names(c.conv); !slices.Equal(got, []string{"group", "urgent"}) {
		t.Errorf("labels after refusals %v", got)
	}
	if err := e.db.ArchiveLabel(ctx, e.boss, group.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetConversationLabels(ctx, e.boss, c.conv, []string{group.ID}); err != nil {
		t.Errorf("keeping an archived label: %v", err)
	}
	other := e.inbound(t, nil)
	if err := e.db.SetConversationLabels(ctx, e.boss, other.conv, []string{group.ID}); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Errorf("an archived label put on anew: %v, want EINVALID", err)
	}
	if err := e.db.SetConversationLabels(ctx, e.boss, lifeline.NewConversationID(), nil); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("no such conversation: %v", err)
	}
}
