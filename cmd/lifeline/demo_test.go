// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/questionnaire"
)

// TestDemoSoldiersAreHandedOver: every invented soldier of the demo ends
// handed to operators by the default questionnaire, the way the demo's
// newcomer should see it (both reasons shown), and the one who registers
// is never handed over.
func TestDemoSoldiersAreHandedOver(t *testing.T) {
	d, err := questionnaire.Parse(questionnaire.DefaultJSON)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// run plays a script: its first message opens the conversation, the
	// rest answer the bot.
	run := func(script []string) questionnaire.Session {
		s, _ := d.Start(questionnaire.Input{Text: script[0]})
		for _, line := range script[1:] {
			s, _ = d.Handle(s, questionnaire.Input{Text: line}, now)
		}
		return s
	}
	reasons := map[string]int{}
	for i, script := range demoSoldiers {
		s := run(script)
		if s.State != questionnaire.Paused || s.PausedBy != questionnaire.PausedByBot {
			t.Errorf("soldier %d ends %s (paused by %q), want handed to operators", i, s.State, s.PausedBy)
		}
		reasons[s.Handoff]++
	}
	if reasons[questionnaire.HandoffQuestion] == 0 || reasons[questionnaire.HandoffUnusable] == 0 {
		t.Errorf("hand-offs by reason %v, want both reasons in the demo", reasons)
	}
	if s := run(demoAnswers); s.State != questionnaire.Completing {
		t.Errorf("the registering soldier ends %s at %s, want completing", s.State, s.Cursor)
	}
}
