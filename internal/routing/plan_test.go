// SPDX-License-Identifier: AGPL-3.0-or-later

package routing_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/routing"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// duty builds an operator on duty named name (also his id, for readable
// failures) on a shift for stream.
func duty(name string, role lifeline.Role, stream lifeline.Stream, load, capacity int, langs ...lifeline.Language) sqlstore.OnDuty {
	d := sqlstore.OnDuty{Load: load}
	d.Operator = lifeline.Operator{ID: lifeline.OperatorID(name), Username: name, Role: role}
	d.Profile = lifeline.RoutingProfile{Languages: langs, Streams: lifeline.Streams(), Capacity: capacity}
	d.Shift = lifeline.Shift{Operator: d.Operator.ID, Stream: stream}
	return d
}

// wait builds a waiting conversation named name at queue position seq.
func wait(name string, seq int64, stream lifeline.Stream, lang lifeline.Language) sqlstore.WaitingConversation {
	return sqlstore.WaitingConversation{ID: lifeline.ConversationID(name), Seq: seq, Stream: stream, Language: lang}
}

func assigned(w sqlstore.WaitingConversation, to string) sqlstore.WaitingConversation {
	w.AssignedTo = lifeline.OperatorID(to)
	return w
}

func TestPlan(t *testing.T) {
	const (
		io, co, sv = lifeline.RoleIntake, lifeline.RoleCaseOfficer, lifeline.RoleSupervisor
		sur, rel   = lifeline.StreamSurrender, lifeline.StreamRelatives
		ru, uk, en = lifeline.LanguageRussian, lifeline.LanguageUkrainian, lifeline.LanguageEnglish
	)
	for _, tc := range []struct {
		name    string
		waiting []sqlstore.WaitingConversation
		duty    []sqlstore.OnDuty
		want    string // conversation→operator, in order
	}{
		{
			name:    "nobody on duty",
			waiting: []sqlstore.WaitingConversation{wait("c1", 1, sur, ru)},
			want:    "",
		},
		{
			name:    "the least loaded first, and loads grow as the plan goes",
			waiting: []sqlstore.WaitingConversation{wait("c1", 1, sur, ru), wait("c2", 2, sur, ru), wait("c3", 3, sur, ru), wait("c4", 4, sur, ru)},
			duty:    []sqlstore.OnDuty{duty("anna", io, sur, 2, 5, ru), duty("boris", io, sur, 0, 5, ru)},
			want:    "c1→boris c2→boris c3→anna c4→boris",
		},
		{
			name:    "oldest first, whatever the order given",
			waiting: []sqlstore.WaitingConversation{wait("young", 9, sur, ru), wait("old", 3, sur, ru)},
			duty:    []sqlstore.OnDuty{duty("anna", io, sur, 0, 1, ru)},
			want:    "old→anna",
		},
		{
			name:    "capacity caps, and a full operator takes nothing",
			waiting: []sqlstore.WaitingConversation{wait("c1", 1, sur, ru), wait("c2", 2, sur, ru), wait("c3", 3, sur, ru)},
			duty:    []sqlstore.OnDuty{duty("anna", io, sur, 1, 2, ru), duty("boris", io, sur, 4, 4, ru)},
			want:    "c1→anna",
		},
		{
			name:    "capacity 0 takes nothing",
			waiting: []sqlstore.WaitingConversation{wait("c1", 1, sur, ru)},
			duty:    []sqlstore.OnDuty{duty("anna", io, sur, 0, 0, ru)},
			want:    "",
		},
		{
			name:    "the language must match; younger conversations pass one nobody can take",
			waiting: []sqlstore.WaitingConversation{wait("c-en", 1, sur, en), wait("c-uk", 2, sur, uk), wait("c-ru", 3, sur, ru)},
			duty:    []sqlstore.OnDuty{duty("anna", io, sur, 3, 5, ru, uk), duty("boris", io, sur, 0, 5, ru)},
			want:    "c-uk→anna c-ru→boris",
		},
		{
			name:    "the shift's stream must match",
			waiting: []sqlstore.WaitingConversation{wait("c-rel", 1, rel, ru), wait("c-sur", 2, sur, ru)},
			duty:    []sqlstore.OnDuty{duty("anna", io, sur, 0, 5, ru), duty("boris", io, rel, 4, 5, ru)},
			want:    "c-rel→boris c-sur→anna",
		},
		{
			name:    "the profile's streams must include it too",
			waiting: []sqlstore.WaitingConversation{wait("c-rel", 1, rel, ru)},
			duty: func() []sqlstore.OnDuty {
				d := duty("anna", io, rel, 0, 5, ru)
				d.Profile.Streams = []lifeline.Stream{sur}
				return []sqlstore.OnDuty{d}
			}(),
			want: "",
		},
		{
			name:    "assigned conversations are not routed again",
			waiting: []sqlstore.WaitingConversation{assigned(wait("c1", 1, sur, ru), "zoe"), wait("c2", 2, sur, ru)},
			duty:    []sqlstore.OnDuty{duty("anna", io, sur, 0, 5, ru)},
			want:    "c2→anna",
		},
		{
			name:    "supervisors and other roles are not routed to",
			waiting: []sqlstore.WaitingConversation{wait("c1", 1, sur, ru)},
			duty: []sqlstore.OnDuty{duty("sv", sv, sur, 0, 5, ru), duty("vo", lifeline.RoleVerification, sur, 0, 5, ru),
				duty("fo", lifeline.RoleFinance, sur, 0, 5, ru), duty("ad", lifeline.RoleAdmin, sur, 0, 5, ru)},
			want: "",
		},
		{
			name:    "case officers take conversations",
			waiting: []sqlstore.WaitingConversation{wait("c1", 1, sur, ru)},
			duty:    []sqlstore.OnDuty{duty("sv", sv, sur, 0, 5, ru), duty("olena", co, sur, 0, 5, ru)},
			want:    "c1→olena",
		},
		{
			name:    "a tie goes to more room left, then by username",
			waiting: []sqlstore.WaitingConversation{wait("c1", 1, sur, ru), wait("c2", 2, sur, ru), wait("c3", 3, sur, ru)},
			duty:    []sqlstore.OnDuty{duty("vera", io, sur, 1, 3, ru), duty("anna", io, sur, 1, 3, ru), duty("boris", io, sur, 1, 9, ru)},
			want:    "c1→boris c2→anna c3→vera",
		},
		{
			name:    "an overloaded operator (after a manual assignment) is skipped",
			waiting: []sqlstore.WaitingConversation{wait("c1", 1, sur, ru)},
			duty:    []sqlstore.OnDuty{duty("anna", io, sur, 7, 5, ru), duty("boris", io, sur, 4, 5, ru)},
			want:    "c1→boris",
		},
	} {
		var got []string
		for _, a := range routing.Plan(tc.waiting, tc.duty) {
			got = append(got, fmt.Sprintf("%s→%s", a.Conversation, a.Operator))
		}
		var want []string
		if tc.want != "" {
			want = strings.Fields(tc.want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, want)
		}
	}
}

// TestPlanLeavesInputs: Plan changes neither its arguments' loads nor
// their order.
func TestPlanLeavesInputs(t *testing.T) {
	waiting := []sqlstore.WaitingConversation{wait("b", 2, "surrender", "ru"), wait("a", 1, "surrender", "ru")}
	d := []sqlstore.OnDuty{duty("anna", lifeline.RoleIntake, "surrender", 0, 5, "ru")}
	if got := routing.Plan(waiting, d); len(got) != 2 || got[0].Conversation != "a" {
		t.Fatalf("plan %v", got)
	}
	if waiting[0].ID != "b" || d[0].Load != 0 {
		t.Fatalf("inputs changed: %v, load %d", waiting, d[0].Load)
	}
}
