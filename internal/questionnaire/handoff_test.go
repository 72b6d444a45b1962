// SPDX-License-Identifier: AGPL-3.0-or-later

package questionnaire

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// inbound lists the contact's messages in a conversation, oldest first.
func (r *rig) inbound(conv lifeline.ConversationID) []sqlstore.ConversationMessage {
	r.t.Helper()
	msgs, err := r.db.ConversationMessages(context.Background(), conv)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []sqlstore.ConversationMessage
	for _, m := range msgs {
		if m.Direction == lifeline.Inbound {
			out = append(out, m)
		}
	}
	return out
}

// waitsSince checks that the conversation waits for a person exactly as
// one without a bot does: the conversation says so, the unassigned queue
// gives it a place and its timer, and the router's own reading
// (WaitingConversations) has it, waiting since the message at.
func (r *rig) waitsSince(conv lifeline.ConversationID, at time.Time) {
	r.t.Helper()
	ctx := context.Background()
	it, err := r.db.Conversation(ctx, conv)
	if err != nil {
		r.t.Fatal(err)
	}
	if !it.Waiting {
		r.t.Fatalf("the conversation does not wait for a person")
	}
	items, err := r.db.Inbox(ctx, sqlstore.InboxQuery{Queue: sqlstore.QueueUnassigned})
	if err != nil {
		r.t.Fatal(err)
	}
	found := false
	for _, i := range items {
		if i.ID == conv {
			found = true
			if i.Position < 1 || !i.WaitingSince.Equal(at) || !i.Bot.HandedOff() {
				r.t.Errorf("in the queue at %d, waiting since %v, bot %+v; want a place, since %v, handed off", i.Position, i.WaitingSince, i.Bot, at)
			}
		}
	}
	if !found {
		r.t.Fatalf("not in the unassigned queue")
	}
	waiting, err := r.db.WaitingConversations(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, w := range waiting {
		if w.ID == conv {
			if !w.Since.Equal(at) {
				r.t.Errorf("the router reads a wait since %v, want %v", w.Since, at)
			}
			return
		}
	}
	r.t.Fatalf("the router does not see the conversation waiting")
}

// handoffs counts the audited hand-offs of a conversation, by reason.
func (r *rig) handoffs(conv lifeline.ConversationID) map[string]int {
	r.t.Helper()
	out := map[string]int{}
	trail, err := r.db.AuditTrail(context.Background(), string(conv))
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range trail {
		if e.Action == "questionnaire.handoff" {
			out[e.Reason]++
		}
	}
	return out
}

// TestHandoffAfterTwoUnusableAnswers, through real ingest: the first
// unusable answer gets the hint and leaves nobody waiting; the second hands
// the soldier to operators: the hand-off message goes once, the session is
// paused by the bot, the conversation waits in the queue with a place and a
// timer from that message, audited; more messages change nothing. An
// operator answers and resumes the bot: it asks the question it stopped at.
func TestHandoffAfterTwoUnusableAnswers(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	tg, from := lifeline.ChannelTelegram, "100000781"
	r.send(tg, from, "/start")
	r.run()
	conv := r.conversation(tg)

	r.answer(tg, from, conv, "Я могу писать только ночью.", "Ответьте номером")
	if it, _ := r.db.Conversation(ctx, conv); it.Waiting {
		t.Fatal("after the hint the conversation still waits: the bot answered him")
	}
	r.answer(tg, from, conv, "Спасибо. Я на связи.", "передано оператору")
	s := r.session(conv)
	if s.State != "paused" || s.PausedBy != PausedByBot || s.Handoff != HandoffUnusable || s.Step != "language" {
		t.Fatalf("session %+v, want paused by the bot at language, unusable answers", s)
	}
	in := r.inbound(conv)
	r.waitsSince(conv, in[len(in)-1].At)
	if got := r.handoffs(conv); got[HandoffUnusable] != 1 || len(got) != 1 {
		t.Errorf("audited hand-offs %v, want one for unusable answers", got)
	}

	// He writes on: the bot is silent, the wait keeps its start.
	before := len(r.bot(conv))
	r.send(tg, from, "Алло")
	r.send(tg, from, "продолжить")
	r.run()
	if got := r.bot(conv); len(got) != before {
		t.Fatalf("the bot spoke after the hand-off: %q", got[before:])
	}
	r.waitsSince(conv, in[len(in)-1].At)

	// An operator answers: the wait ends, the reason stays on the session.
	op := lifeline.Actor{ID: string(r.operator), Role: lifeline.RoleIntake}
	if _, err := r.db.QueueReply(ctx, op, conv, "Здравствуйте, я оператор. Пишите ночью, мы ответим."); err != nil {
		t.Fatal(err)
	}
	r.run()
	if s := r.session(conv); s.State != "paused" || s.PausedBy != PausedByOperator || s.Handoff != HandoffUnusable {
		t.Fatalf("after the operator's reply: %+v", s)
	}
	if it, _ := r.db.Conversation(ctx, conv); it.Waiting || it.Bot.HandedOff() {
		t.Fatalf("answered, the conversation still waits (%v) or shows the hand-off (%+v)", it.Waiting, it.Bot)
	}
	// She resumes the bot: it asks the question it stopped at, counting
	// afresh.
	if err := r.db.ResumeQuestionnaire(ctx, op, conv); err != nil {
		t.Fatal(err)
	}
	r.run()
	got := r.bot(conv)
	if len(got) != before+1 || !strings.HasPrefix(got[before], "Продолжим.") || !strings.Contains(got[before], "1. Русский") {
		t.Fatalf("resumed: %q", got[before:])
	}
	if s := r.session(conv); s.State != "active" || s.Handoff != "" || s.Misses != 0 || s.Step != "language" {
		t.Fatalf("resumed session %+v", s)
	}
	r.answer(tg, from, conv, "не понял", "Ответьте номером") // the count starts again: a hint, not a hand-off
	r.answer(tg, from, conv, "1", "Кто вы?")                 // and a usable answer resets it
	r.answer(tg, from, conv, "не знаю", "Ответьте номером")
	if s := r.session(conv); s.State != "active" || s.Misses != 1 {
		t.Fatalf("after a usable answer and one unusable: %+v, want active with one miss", s)
	}
}

// TestHandoffOnAQuestion: an answer that asks hands the soldier over at
// once, and so does a first message that asks, before any question; the
// wait starts at the message that asked.
func TestHandoffOnAQuestion(t *testing.T) {
	r := newRig(t)
	tg := lifeline.ChannelTelegram
	r.send(tg, "100000782", "/start")
	r.run()
	conv := r.conversation(tg)
	r.answer(tg, "100000782", conv, "Как это сделать безопасно?", "передано оператору")
	if s := r.session(conv); s.State != "paused" || s.PausedBy != PausedByBot || s.Handoff != HandoffQuestion {
		t.Fatalf("session %+v, want handed off for a question", s)
	}
	in := r.inbound(conv)
	r.waitsSince(conv, in[len(in)-1].At)
	if got := r.handoffs(conv); got[HandoffQuestion] != 1 || len(got) != 1 {
		t.Errorf("audited hand-offs %v", got)
	}

	// On WhatsApp, a first message that asks: the hand-off instead of the
	// greeting, in his language.
	wa := lifeline.ChannelWhatsApp
	r.send(wa, "380000000783", "Добрий день. Що буде з моєю сім'єю, якщо я перейду?")
	r.run()
	conv = r.conversation(wa)
	got := r.bot(conv)
	if len(got) != 1 || !strings.Contains(got[0], "передано операторові") {
		t.Fatalf("the bot sent %q, want only the hand-off, in Ukrainian", got)
	}
	if s := r.session(conv); s.State != "paused" || s.PausedBy != PausedByBot || s.Handoff != HandoffQuestion || s.Step != "language" {
		t.Fatalf("session %+v, want handed off at the first question", s)
	}
	r.waitsSince(conv, r.inbound(conv)[0].At)
}

// TestHandoffAfterABatch: two unusable answers the worker reads in one
// round. The bot's hint to the first ends the wait the first began; the
// hand-off must start a new one, at the second.
func TestHandoffAfterABatch(t *testing.T) {
	r := newRig(t)
	tg, from := lifeline.ChannelTelegram, "100000784"
	r.send(tg, from, "/start")
	r.run()
	conv := r.conversation(tg)
	r.send(tg, from, "Я могу писать только ночью.")
	time.Sleep(5 * time.Millisecond) // two times apart
	r.send(tg, from, "Спасибо. Я на связи.")
	r.run()
	got := r.bot(conv)
	if len(got) != 3 || !strings.Contains(got[1], "Ответьте номером") || !strings.Contains(got[2], "передано оператору") {
		t.Fatalf("the bot sent %q, want the greeting, the hint, the hand-off", got)
	}
	in := r.inbound(conv)
	if in[1].At.Equal(in[2].At) {
		t.Fatal("the two answers have one time: the test cannot tell them apart")
	}
	r.waitsSince(conv, in[2].At)
}
