// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

func TestShifts(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	a, b, sv := e.operator(t, lifeline.RoleIntake), e.operator(t, lifeline.RoleCaseOfficer), e.operator(t, lifeline.RoleSupervisor)
	kyiv := time.FixedZone("EET", 2*3600)
	s1 := lifeline.Shift{ID: lifeline.NewShiftID(), Operator: a, Stream: lifeline.StreamSurrender,
		Start: epoch.Add(-2 * time.Hour).In(kyiv), End: epoch.Add(6 * time.Hour).In(kyiv)}
	if err := e.db.AddShift(ctx, e.boss, &s1); err != nil {
		t.Fatal(err)
	}
	if s1.Start.Location() != time.UTC || !s1.Start.Equal(epoch.Add(-2*time.Hour)) {
		t.Fatalf("stored start %v, want UTC", s1.Start)
	}
	s2 := e.shift(t, a, lifeline.StreamSurrender, 6*time.Hour, 14*time.Hour) // back to back
	s3 := e.shift(t, b, lifeline.StreamSurrender, 0, 8*time.Hour)            // same time, another operator
	s4 := e.shift(t, sv, lifeline.StreamRelatives, 0, 24*time.Hour)          // a supervisor needs no profile for it

	for _, c := range []struct {
		name string
		f    sqlstore.ShiftFilter
		want []lifeline.Shift
	}{
		{"all", sqlstore.ShiftFilter{}, []lifeline.Shift{s1, s3, s4, s2}},
		{"one operator", sqlstore.ShiftFilter{Operator: a}, []lifeline.Shift{s1, s2}},
		{"from", sqlstore.ShiftFilter{From: epoch.Add(6 * time.Hour)}, []lifeline.Shift{s3, s4, s2}},
		{"to", sqlstore.ShiftFilter{To: epoch}, []lifeline.Shift{s1}},
		{"window", sqlstore.ShiftFilter{From: epoch.Add(8 * time.Hour), To: epoch.Add(9 * time.Hour)}, []lifeline.Shift{s4, s2}},
		{"nothing", sqlstore.ShiftFilter{From: epoch.Add(48 * time.Hour)}, nil},
	} {
		got, err := e.db.Shifts(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		// By start, then operator id (random: s3 and s4 start together).
		slices.SortStableFunc(c.want, func(x, y lifeline.Shift) int {
			if n := x.Start.Compare(y.Start); n != 0 {
				return n
			}
			return strings.Compare(string(x.Operator), string(y.Operator))
		})
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, got, c.want)
		}
	}

	shift := func(op lifeline.OperatorID, st lifeline.Stream, from, to time.Duration) *lifeline.Shift {
		return &lifeline.Shift{ID: lifeline.NewShiftID(), Operator: op, Stream: st, Start: epoch.Add(from), End: epoch.Add(to)}
	}
	wantCode(t, "overlap", e.db.AddShift(ctx, e.boss, shift(a, lifeline.StreamSurrender, 13*time.Hour, 20*time.Hour)), lifeline.ECONFLICT)
	wantCode(t, "overlap on another stream", e.db.AddShift(ctx, e.boss, shift(b, lifeline.StreamSurrender, 7*time.Hour, 9*time.Hour)), lifeline.ECONFLICT)
	wantCode(t, "invalid", e.db.AddShift(ctx, e.boss, shift(a, lifeline.StreamSurrender, 20*time.Hour, 45*time.Hour)), lifeline.EINVALID)
	wantCode(t, "ended", e.db.AddShift(ctx, e.boss, shift(b, lifeline.StreamSurrender, -10*time.Hour, -time.Hour)), lifeline.EINVALID)
	wantCode(t, "stream not in the profile", e.db.AddShift(ctx, e.boss, shift(b, lifeline.StreamRelatives, 20*time.Hour, 22*time.Hour)), lifeline.EINVALID)
	wantCode(t, "unknown operator", e.db.AddShift(ctx, e.boss, shift(lifeline.NewOperatorID(), lifeline.StreamSurrender, 20*time.Hour, 22*time.Hour)), lifeline.ENOTFOUND)
	wantCode(t, "by the command line", e.db.AddShift(ctx, lifeline.CLIActor, shift(b, lifeline.StreamSurrender, 20*time.Hour, 22*time.Hour)), lifeline.EFORBIDDEN)
	dup := s3
	dup.Start, dup.End = epoch.Add(30*time.Hour), epoch.Add(31*time.Hour)
	wantCode(t, "an id taken", e.db.AddShift(ctx, e.boss, &dup), lifeline.ECONFLICT)
	e.profile(t, b, 5, both, ru)
	if err := e.db.AddShift(ctx, e.boss, shift(b, lifeline.StreamRelatives, 20*time.Hour, 22*time.Hour)); err != nil {
		t.Fatalf("after the profile serves relatives: %v", err)
	}
	if err := e.db.DisableOperator(ctx, e.boss, "op002", "left"); err != nil { // a
		t.Fatal(err)
	}
	wantCode(t, "disabled", e.db.AddShift(ctx, e.boss, shift(a, lifeline.StreamSurrender, 30*time.Hour, 32*time.Hour)), lifeline.EINVALID)

	// Deleting: a future or current shift goes, an ended one stays.
	wantCode(t, "delete unknown", e.db.DeleteShift(ctx, e.boss, lifeline.NewShiftID()), lifeline.ENOTFOUND)
	if err := e.db.DeleteShift(ctx, e.boss, s2.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete twice", e.db.DeleteShift(ctx, e.boss, s2.ID), lifeline.ENOTFOUND)
	e.clock.Add(6 * time.Hour) // s1 has ended, s3 runs
	wantCode(t, "delete an ended shift", e.db.DeleteShift(ctx, e.boss, s1.ID), lifeline.ECONFLICT)
	if err := e.db.DeleteShift(ctx, e.boss, s3.ID); err != nil {
		t.Fatalf("delete a running shift: %v", err)
	}
	got, err := e.db.Shifts(ctx, sqlstore.ShiftFilter{To: epoch.Add(10 * time.Hour)})
	if err != nil || !slices.Equal(got, []lifeline.Shift{s1, s4}) {
		t.Fatalf("after deletes: %v, %v", got, err)
	}
	log := e.audited(t)
	for _, want := range []string{"shift.add " + e.obj(t, string(s1.ID), string(a)), "shift.delete " + e.obj(t, string(s2.ID)), "shift.delete " + e.obj(t, string(s3.ID))} {
		if !slices.Contains(log, want) {
			t.Errorf("audit log has no %q", want)
		}
	}
	if slices.Contains(log, "shift.delete "+string(s1.ID)) {
		t.Error("a refused delete was audited")
	}
}

// TestShiftOverlapRace: two schedulers adding overlapping shifts for one
// operator at once cannot both succeed.
func TestShiftOverlapRace(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	a := e.operator(t, lifeline.RoleIntake)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s := &lifeline.Shift{ID: lifeline.NewShiftID(), Operator: a, Stream: lifeline.StreamSurrender,
				Start: epoch.Add(time.Duration(i) * time.Minute), End: epoch.Add(time.Duration(i)*time.Minute + 8*time.Hour)}
			errs[i] = e.db.AddShift(ctx, e.boss, s)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch lifeline.ErrorCode(err) {
		case "":
			won++
		case lifeline.ECONFLICT:
		default:
			t.Fatal(err)
		}
	}
	got, err := e.db.Shifts(ctx, sqlstore.ShiftFilter{Operator: a})
	if won != 1 || err != nil || len(got) != 1 {
		t.Fatalf("%d won, %d stored (%v); want 1 and 1", won, len(got), err)
	}
}

func TestCoverage(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	a, b, gone, sv := e.operator(t, lifeline.RoleIntake), e.operator(t, lifeline.RoleCaseOfficer), e.operator(t, lifeline.RoleIntake), e.operator(t, lifeline.RoleSupervisor)
	e.profile(t, a, 5, both, ru, uk, en)
	e.profile(t, b, 0, relatives, ru) // capacity 0 still covers
	e.profile(t, gone, 5, both, ru, uk, en)
	e.profile(t, sv, 5, both, ru, uk, en)
	e.shift(t, a, lifeline.StreamSurrender, 0, 90*time.Minute)
	e.shift(t, b, lifeline.StreamRelatives, 0, 2*time.Hour)
	e.shift(t, gone, lifeline.StreamSurrender, 90*time.Minute, 2*time.Hour)
	e.shift(t, sv, lifeline.StreamSurrender, 90*time.Minute, 2*time.Hour)
	if err := e.db.DisableOperator(ctx, e.boss, "op004", "left"); err != nil { // gone
		t.Fatal(err)
	}
	got, err := e.db.Coverage(ctx, epoch, epoch.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	h := func(n int) time.Time { return epoch.Add(time.Duration(n) * time.Hour) }
	want := []lifeline.CoverageGap{
		{Hour: h(0), Stream: lifeline.StreamRelatives, Language: uk, Uncovered: time.Hour},
		{Hour: h(0), Stream: lifeline.StreamRelatives, Language: en, Uncovered: time.Hour},
		// Neither a disabled intake operator nor a supervisor covers the
		// second half of 11:00.
		{Hour: h(1), Stream: lifeline.StreamSurrender, Language: ru, Uncovered: 30 * time.Minute},
		{Hour: h(1), Stream: lifeline.StreamSurrender, Language: uk, Uncovered: 30 * time.Minute},
		{Hour: h(1), Stream: lifeline.StreamSurrender, Language: en, Uncovered: 30 * time.Minute},
		{Hour: h(1), Stream: lifeline.StreamRelatives, Language: uk, Uncovered: time.Hour},
		{Hour: h(1), Stream: lifeline.StreamRelatives, Language: en, Uncovered: time.Hour},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("coverage:\n got %v\nwant %v", got, want)
	}
	week, err := e.db.Coverage(ctx, epoch, epoch.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(week); n != 7*24*len(lifeline.Streams())*len(lifeline.Languages())-(2*len(lifeline.Streams())*len(lifeline.Languages())-len(want)) {
		t.Fatalf("a week: %d gaps", n)
	}
	_, err = e.db.Coverage(ctx, epoch, epoch.Add(-time.Hour))
	wantCode(t, "backwards", err, lifeline.EINVALID)
	_, err = e.db.Coverage(ctx, epoch, epoch.Add(60*24*time.Hour))
	wantCode(t, "too long", err, lifeline.EINVALID)
}
