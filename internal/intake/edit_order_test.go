// SPDX-License-Identifier: AGPL-3.0-or-later

package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/questionnaire"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"golang.org/x/mod/sumdb/tlog"
)

// TestOutOfOrderEditsCurrentIsLatestEditDate: finding 4a. The later edit
// (edit_date +50 s) arrives before the earlier one (+30 s); the message
// shows the later edit as current, the original and the earlier edit
// before it, in the order they were made. The edit times are kept sealed:
// no plaintext exact time of an edit is on disk.
func TestOutOfOrderEditsCurrentIsLatestEditDate(t *testing.T) {
	ctx := context.Background()
	db, k, dir := MustOpen(t, false)
	h := newHook(t, db, k, noGreeting())
	const sent = 1782000101
	h.post(tgMessage("message", 710000001, tgChat, 20, 0, "встреча у почты"))
	h.post(tgMessage("edited_message", 710000003, tgChat, 20, sent+50, "ИТОГ: встреча у школы"))
	h.post(tgMessage("edited_message", 710000002, tgChat, 20, sent+30, "встреча у аптеки"))

	in := inboundOnly(conversation(t, db, fmt.Sprint(tgChat)))
	if len(in) != 1 {
		t.Fatalf("got %d messages, want the one, edited", len(in))
	}
	if got := in[0].Text.Reveal(); got != "ИТОГ: встреча у школы" {
		t.Fatalf("current text %q, want the edit made last (edit_date +50)", got)
	}
	if got, want := texts(in[0].Earlier), []string{"встреча у почты", "встреча у аптеки"}; !slices.Equal(got, want) {
		t.Fatalf("earlier %q, want %q", got, want)
	}

	// An edit of a message whose original is unknown, then an older edit
	// of it: the body (an edit) is ordered by its own edit time.
	h.post(tgMessage("edited_message", 710000012, tgChat, 21, sent+90, "второе исправление"))
	h.post(tgMessage("edited_message", 710000011, tgChat, 21, sent+60, "первое исправление"))
	in = inboundOnly(conversation(t, db, fmt.Sprint(tgChat)))
	if len(in) != 2 || in[1].Text.Reveal() != "второе исправление" || !slices.Equal(texts(in[1].Earlier), []string{"первое исправление"}) {
		t.Fatalf("edit of an unknown original: %q, earlier %q; want the later edit current", in[len(in)-1].Text.Reveal(), texts(in[len(in)-1].Earlier))
	}

	if err := db.CheckpointWAL(ctx); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, at := range []int64{sent + 30, sent + 50, sent + 60, sent + 90} {
			for _, s := range []string{time.Unix(at, 0).UTC().Format(time.RFC3339), fmt.Sprint(at)} {
				if bytes.Contains(b, []byte(s)) {
					t.Fatalf("%s holds an edit time in the clear (%s)", filepath.Base(f), s)
				}
			}
		}
	}
}

// TestTwoEditsInOneSecondBothKept: finding 4b. Two different edits with
// the same edit_date (Telegram's seconds) are two edits: the second is not
// dropped as a duplicate, and is current; the same edit delivered again
// under a new update id is still stored once.
func TestTwoEditsInOneSecondBothKept(t *testing.T) {
	db, k, _ := MustOpen(t, false)
	h := newHook(t, db, k, noGreeting())
	h.post(tgMessage("message", 720000001, tgChat, 30, 0, "нас двое"))
	h.post(tgMessage("edited_message", 720000002, tgChat, 30, 1782000200, "нас трое"))
	h.post(tgMessage("edited_message", 720000003, tgChat, 30, 1782000200, "нас трое, один ранен"))
	h.post(tgMessage("edited_message", 720000004, tgChat, 30, 1782000200, "нас трое, один ранен")) // the same, a new update id

	in := inboundOnly(conversation(t, db, fmt.Sprint(tgChat)))
	if len(in) != 1 || in[0].Text.Reveal() != "нас трое, один ранен" {
		t.Fatalf("got %d messages, current %q; want one, the second edit current", len(in), in[0].Text.Reveal())
	}
	if got, want := texts(in[0].Earlier), []string{"нас двое", "нас трое"}; !slices.Equal(got, want) {
		t.Fatalf("earlier %q, want %q (each edit once)", got, want)
	}
}

// botHook is the webhook handler with the registration bot behind it.
type botHook struct {
	*hook
	bot *questionnaire.Worker
	id  int64
}

func newBotHook(t *testing.T) *botHook {
	db, k, _ := MustOpen(t, false)
	h := newHook(t, db, k, noGreeting())
	return &botHook{hook: h, bot: &questionnaire.Worker{DB: db}, id: 730000000}
}

// say sends message mid of the soldier's chat and lets the bot deal with it.
func (b *botHook) say(mid int64, text string) {
	b.t.Helper()
	b.id++
	b.post(tgMessage("message", b.id, tgChat, mid, 0, text))
	b.run()
}

// edit sends the soldier's edit of message mid, and lets the bot run.
func (b *botHook) edit(mid, editDate int64, text string) {
	b.t.Helper()
	b.id++
	b.post(tgMessage("edited_message", b.id, tgChat, mid, editDate, text))
	b.run()
}

func (b *botHook) run() {
	b.t.Helper()
	for range 5 {
		n, err := b.bot.RunOnce(context.Background())
		if err != nil {
			b.t.Fatalf("bot: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

// script answers the default questionnaire up to (not including) step n
// of: greeting, language, stream, name, birth date, unit, rank, service
// number, whereabouts, reach, relatives. Message ids are 1….
var script = []string{"Здравствуйте", "1", "1", "Иванов Иван Иванович", "01.02.1990", "в/ч 12345", "рядовой", "пропустить", "Соледар, у школы №2", "этот чат", "2"}

const (
	nameMsg  = 4 // the message id of the name
	whereMsg = 9 // of the whereabouts
)

// noTextInChat fails if a conversation reader shows any of secrets.
func (b *botHook) noTextInChat(secrets ...string) []sqlstore.ConversationMessage {
	b.t.Helper()
	msgs := conversation(b.t, b.db, fmt.Sprint(tgChat))
	for _, m := range msgs {
		for _, s := range secrets {
			if strings.Contains(m.Text.Reveal(), s) || slices.ContainsFunc(m.Earlier, func(e lifeline.Sensitive) bool { return strings.Contains(e.Reveal(), s) }) {
				b.t.Fatalf("the conversation shows %q", s)
			}
		}
	}
	return msgs
}

func (b *botHook) conv() lifeline.ConversationID {
	b.t.Helper()
	id, err := b.db.FindContact(context.Background(), "telegram", fmt.Sprint(tgChat))
	if err != nil {
		b.t.Fatal(err)
	}
	all, err := b.db.Conversations(context.Background(), 10, "")
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range all {
		if c.ContactID == id {
			return c.ID
		}
	}
	b.t.Fatal("no conversation")
	return ""
}

// applicant reads the case's applicant.
func (b *botHook) applicant() (lifeline.CaseID, lifeline.Person) {
	b.t.Helper()
	ctx := context.Background()
	caseID, err := b.db.CaseOfConversation(ctx, b.conv())
	if err != nil || caseID == "" {
		b.t.Fatalf("no case: %v", err)
	}
	ps, err := b.db.Persons(ctx, caseID)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, p := range ps {
		if p.Relation == lifeline.RelationApplicant {
			return caseID, p
		}
	}
	b.t.Fatal("no applicant")
	return "", lifeline.Person{}
}

// TestEditedNameWhileBotRunsReachesSessionNotChat: finding 4c, the bot
// still asking. The soldier corrects his name by editing it; the
// conversation shows "answer corrected: applicant.name" and never the new
// name; the session's answer is the new name, and the case the bot makes
// carries it.
func TestEditedNameWhileBotRunsReachesSessionNotChat(t *testing.T) {
	b := newBotHook(t)
	for i, s := range script[:6] { // up to the unit
		b.say(int64(i+1), s)
	}
	const corrected = "Петров Пётр Петрович"
	b.edit(nameMsg, 1782000300, corrected)
	msgs := b.noTextInChat(corrected, "Иванов")
	marked := false
	for _, m := range msgs {
		if m.Answer == "applicant.name" {
			marked = m.Text.Reveal() == sqlstore.AnswerCorrectedMarker("applicant.name") && m.Edited
		}
	}
	if !marked {
		t.Fatal("the name's message does not show that the answer was corrected")
	}
	st, err := b.db.QuestionnaireSession(context.Background(), b.conv())
	if err != nil || !strings.Contains(string(st.Answers), corrected) || strings.Contains(string(st.Answers), "Иванов") {
		t.Fatalf("session answers %v: want the corrected name in place of the old", err)
	}
	for i, s := range script[6:] {
		b.say(int64(i+7), s)
	}
	if _, p := b.applicant(); p.Name.Reveal() != corrected {
		t.Fatalf("the case's applicant is %q, want %q", p.Name.Reveal(), corrected)
	}
}

// TestEditedPlaceAfterCaseCorrectsCaseTimelineAudit: finding 4c, the case
// made. The soldier corrects where he is ("у школы" → "у больницы") by
// editing his answer: the case's applicant's whereabouts become the new
// place, its timeline says the contact corrected it (old and new, in the
// identity compartment), the correction is audited, and the conversation
// shows only the marker.
func TestEditedPlaceAfterCaseCorrectsCaseTimelineAudit(t *testing.T) {
	ctx := context.Background()
	b := newBotHook(t)
	for i, s := range script {
		b.say(int64(i+1), s)
	}
	caseID, p := b.applicant()
	if p.Whereabouts.Reveal() != "Соледар, у школы №2" {
		t.Fatalf("before the edit the case says %q", p.Whereabouts.Reveal())
	}
	const corrected = "Соледар, у больницы, не у школы!"
	b.edit(whereMsg, 1782000400, corrected)
	b.noTextInChat(corrected)
	if _, p = b.applicant(); p.Whereabouts.Reveal() != corrected || p.Name.Reveal() != "Иванов Иван Иванович" {
		t.Fatalf("after the edit the case says %q (name %q), want the corrected place and the name as it was", p.Whereabouts.Reveal(), p.Name.Reveal())
	}
	events, err := b.db.CaseTimeline(ctx, caseID, true, false)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		if e.Kind == "corrected" && strings.Contains(e.Detail.Reveal(), "applicant.whereabouts") && strings.Contains(e.Detail.Reveal(), corrected) &&
			strings.Contains(e.Detail.Reveal(), "у школы №2") {
			found = true
		}
	}
	if !found {
		t.Fatalf("the timeline has no correction by the contact: %+v", events)
	}
	var audited []string
	if err := b.db.AuditLog().Entries(ctx, func(en audit.Entry, _ tlog.Hash) error {
		if en.Action == "person.correct" {
			audited = append(audited, en.Reason)
			if strings.Contains(en.Reason+en.Object, "школ") || strings.Contains(en.Reason+en.Object, "больниц") {
				t.Errorf("the audit entry holds the place: %q", en.Reason)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(audited) != 1 || !strings.HasPrefix(audited[0], "applicant.whereabouts") {
		t.Fatalf("audited corrections %q, want the whereabouts once", audited)
	}
	// Applied once: nothing is left to apply.
	if n, err := b.db.ApplyAnswerCorrections(ctx, 10); n != 0 || err != nil {
		t.Fatalf("applied again: %d, %v", n, err)
	}
}
