// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/questionnaire"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
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

// TestDemoLogsRequestsQuietlyAndSeedsStaff: at the default level the demo
// logs no line per request, so that the logins it printed stay in sight
// (--log-level debug shows them); its staff includes a verification
// officer, and one case is the demo case officer's, verified by him.
func TestDemoLogsRequestsQuietlyAndSeedsStaff(t *testing.T) {
	t.Parallel()
	for _, level := range []string{"info", "debug"} {
		dir := filepath.Join(t.TempDir(), "demo")
		srv := mustStartServe(t, nil, "demo", "--data", dir, "--listen", "127.0.0.1:0", "--log-level", level)
		waitFor(t, "the demo's logins", srv.done, func() bool { return strings.Contains(srv.stdout.String(), "TOKEN=") })
		for range 5 {
			mustGet(t, "http://"+srv.addr+"/login")
			mustGet(t, "http://"+srv.addr+"/no-such-page")
		}
		requests := 0
		for _, l := range logLines(t, srv.stderr.String()) {
			if l["msg"] == "request" {
				requests++
			}
		}
		if level == "info" && requests != 0 {
			t.Errorf("demo at the default level logged %d request lines, want none:\n%s", requests, srv.stderr.String())
		}
		if level == "debug" && requests < 10 {
			t.Errorf("demo at debug level logged %d request lines, want the 10 requests", requests)
		}
		if level == "debug" {
			break
		}
		if out := srv.stdout.String(); !regexp.MustCompile(`(?m)^  demo-verifier +verification +password `).MatchString(out) {
			t.Errorf("demo printed no verification officer's login:\n%s", out)
		}
		db := mustOpenDB(t, dir)
		cases, err := db.Cases(t.Context(), sqlstore.CaseFilter{})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		assigned := 0
		for _, c := range cases {
			if c.OfficerName == "demo-officer" && c.VerifierName == "demo-verifier" {
				assigned++
			}
		}
		if assigned != 1 {
			t.Errorf("%d demo cases assigned to demo-officer and demo-verifier, want 1", assigned)
		}
	}
}
