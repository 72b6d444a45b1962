// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"regexp"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	mediapkg "github.com/lifeline-hotline/lifeline/internal/media"
	"github.com/lifeline-hotline/lifeline/internal/questionnaire"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// TestEveryWordTranslated: every key a template names, and every key it
// builds from a queue, stream, status, direction or kind, has Ukrainian and
// English words.
func TestEveryWordTranslated(t *testing.T) {
	literal := regexp.MustCompile(`\bt \$?\.L "([a-z.]+)"`)
	names, err := templateFS.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, e := range names {
		b, err := templateFS.ReadFile("templates/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			keys[m[1]] = true
		}
	}
	if len(keys) < 40 {
		t.Fatalf("found only %d keys in the templates: the pattern is broken", len(keys))
	}
	for _, q := range sqlstore.Queues {
		keys["queue."+string(q)] = true
	}
	for _, s := range []lifeline.Stream{lifeline.StreamSurrender, lifeline.StreamRelatives} {
		keys["stream."+string(s)] = true
	}
	for _, s := range []string{"queued", "sent", "delivered", "read", "failed", "held", "rejected"} {
		keys["status."+s] = true
		if s != "held" {
			keys["held.decided."+s] = true // who released or rejected a held reply
		}
	}
	for _, d := range lifeline.AllDisclosures() {
		keys["disclose."+string(d)] = true
	}
	for _, d := range []lifeline.Direction{lifeline.Inbound, lifeline.Outbound, lifeline.Note} {
		keys["dir."+string(d)] = true
	}
	for _, k := range []string{"photo", "voice", "audio", "video", "document", "location", "contact", "sticker", "other", "template", "note"} {
		keys["kind."+k] = true // internal/channel's message kinds, and ours
	}
	for _, k := range []string{"created", "status", "choice", "assign", "screening", "verdict", "operation", "task", "document", "erasure", "hold", "proposal"} {
		keys["ev."+k] = true // the kinds of timeline events (internal/sqlstore)
	}
	for _, why := range []string{questionnaire.HandoffQuestion, questionnaire.HandoffUnusable} {
		keys["bot.why."+why] = true // why the bot hands a contact to operators
	}
	for _, st := range lifeline.CaseStatuses() {
		keys["cs."+string(st)] = true
	}
	for k := range keys {
		m, ok := messages[k]
		if !ok || m[0] == "" || m[1] == "" {
			t.Errorf("no words for %q", k)
		}
	}
}

// TestEveryMediaReasonTranslated: each reason a file is refused or not
// kept (internal/media, internal/channel) has Ukrainian and English words.
func TestEveryMediaReasonTranslated(t *testing.T) {
	for _, r := range []string{channel.MediaRefusedHost, mediapkg.ReasonEmpty, mediapkg.ReasonType, mediapkg.ReasonMismatch,
		mediapkg.ReasonMalformed, mediapkg.ReasonTooLarge, mediapkg.ReasonPixels, mediapkg.ReasonUnavailable,
		mediapkg.ReasonUnreachable, mediapkg.ReasonChannelCannotFetch} {
		if m, ok := mediaReasons[r]; !ok || m[0] == "" || m[1] == "" {
			t.Errorf("no words for the media reason %q", r)
		}
	}
}
