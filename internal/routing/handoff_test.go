// SPDX-License-Identifier: AGPL-3.0-or-later

package routing_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/intake"
	"github.com/lifeline-hotline/lifeline/internal/questionnaire"
	"github.com/lifeline-hotline/lifeline/internal/routing"
)

// TestRouterEscalatesBotHandoff: a soldier the registration bot hands to
// operators (he asked a question it cannot answer) is a waiting contact
// like any other. Nobody on shift speaks his language, so nobody takes
// him; past the target he is escalated to the supervisor on duty, his wait
// counted from the question, not from his first message or the bot's
// replies.
func TestRouterEscalatesBotHandoff(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: epoch}
	e := mustEnv(t, clk.Now)
	sasha := e.staff(t, "sasha", sv, sur, 0, ru)
	e.staff(t, "anna", io, rel, 5, ru) // the relatives' shift: not his
	in := intake.New(e.db, e.keys, intake.Config{Now: clk.Now})
	bot := &questionnaire.Worker{DB: e.db, Now: clk.Now}
	n := 0
	send := func(text string) {
		t.Helper()
		n++
		ev := channel.Event{ID: "update-" + string(rune('a'+n)), Type: channel.EventMessage, Kind: channel.KindText,
			Sender: "100000785", Text: lifeline.Sensitive(text)}
		if err := in.Receive(ctx, lifeline.ChannelTelegram, "bot", []channel.Event{ev}); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if k, err := bot.RunOnce(ctx); err != nil {
				t.Fatal(err)
			} else if k == 0 {
				return
			}
		}
	}
	var got []routing.Escalation
	r := routing.New(e.db, routing.Config{OnEscalate: func(x routing.Escalation) { got = append(got, x) }})

	send("/start")
	clk.Add(time.Minute)
	send("1") // Russian
	if w, err := e.db.WaitingConversations(ctx); err != nil || len(w) != 0 {
		t.Fatalf("the bot is answering him, yet %d conversations wait (%v)", len(w), err)
	}
	clk.Add(time.Minute)
	asked := clk.Now()
	send("Что будет с моей семьёй?")
	res, err := r.RunOnce(ctx)
	if err != nil || len(res.Assigned) != 0 || len(res.Escalated) != 0 {
		t.Fatalf("at the hand-off: %+v, %v", res, err)
	}
	if want := asked.Add(routing.DefaultTarget); !res.Next.Equal(want) {
		t.Fatalf("next deadline %v, want %v: the target counts from the question", res.Next, want)
	}
	clk.Add(routing.DefaultTarget - time.Second)
	if res, err := r.RunOnce(ctx); err != nil || len(res.Escalated) != 0 {
		t.Fatalf("before the target: %+v, %v", res, err)
	}
	clk.Add(time.Second)
	res, err = r.RunOnce(ctx)
	if err != nil || len(res.Escalated) != 1 || len(got) != 1 {
		t.Fatalf("at the target: %+v, %v", res, err)
	}
	x := got[0]
	if !x.Conversation.Since.Equal(asked) || x.Waited != routing.DefaultTarget || !x.Conversation.Escalated {
		t.Errorf("escalation %+v, want a wait since the question, of the target", x)
	}
	if len(x.Supervisors) != 1 || x.Supervisors[0].ID != sasha {
		t.Errorf("escalated to %v, want the surrender shift's supervisor", x.Supervisors)
	}
	st, err := e.db.QuestionnaireStatus(ctx, x.Conversation.ID)
	if err != nil || st.PausedBy != questionnaire.PausedByBot || st.Handoff != questionnaire.HandoffQuestion {
		t.Errorf("session %+v (%v), want handed off for a question", st, err)
	}
}
