// SPDX-License-Identifier: AGPL-3.0-or-later

package questionnaire

import (
	"context"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/intake"
)

// TestBotFoldsIntakeGreeting: a soldier greeted by intake (as while
// sealed) whose greeting has not gone yet gets the bot's greeting alone:
// intake's is folded, shown failed with the reason, and never sent.
func TestBotFoldsIntakeGreeting(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	tg := lifeline.ChannelTelegram
	r.send(tg, "100000781", "Здравствуйте")
	r.run()
	conv := r.conversation(tg)
	msgs, err := r.db.ConversationMessages(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	var greetings, bot int
	for _, m := range msgs {
		switch {
		case m.Direction != lifeline.Outbound:
		case m.Text.Reveal() == intake.DefaultGreeting:
			greetings++
			if m.Status != "failed" || m.StatusReason != "folded: another message went to the contact instead" {
				t.Errorf("intake's greeting: %s %q, want failed as folded", m.Status, m.StatusReason)
			}
		default:
			bot++
			if m.Status != "queued" {
				t.Errorf("the bot's message: %s, want queued", m.Status)
			}
		}
	}
	if greetings != 1 || bot == 0 {
		t.Fatalf("%d intake greetings and %d bot messages, want 1 and some", greetings, bot)
	}
	jobs, err := r.db.ClaimJobs(ctx, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != bot {
		t.Fatalf("%d jobs due, want the bot's %d only", len(jobs), bot)
	}
}
