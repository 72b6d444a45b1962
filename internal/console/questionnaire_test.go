// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/questionnaire"
)

// TestQuestionnaireEditor: a supervisor sees the default questionnaire,
// a definition with problems is refused with every problem named and
// nothing saved, a good one becomes the next version, audited; an intake
// operator may not reach the page.
func TestQuestionnaireEditor(t *testing.T) {
	f := newFixture(t, console.Config{DisableBackoff: true})
	sup, _ := f.enrolled("svitlana", lifeline.RoleSupervisor)
	op, _ := f.enrolled("oleh", lifeline.RoleIntake)
	f.clock.Add(30 * time.Second)
	_, ck := f.login("svitlana", password, code(t, sup, f.clock.Now()))

	page := bodyOf(t, f.do("GET", "/questionnaire", nil, ck))
	if !strings.Contains(page, `id="questionnaire-definition"`) || !strings.Contains(page, "Кто вы?") {
		t.Fatalf("editor page:\n%s", page)
	}
	bad := strings.Replace(string(questionnaire.DefaultJSON), `"type": "date"`, `"type": "datum"`, 1)
	resp := f.do("POST", "/questionnaire", url.Values{"definition": {bad}}, ck)
	body := bodyOf(t, resp)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="questionnaire-problems"`) || !strings.Contains(body, "unknown type &#34;datum&#34;") ||
		!strings.Contains(body, "datum") {
		t.Fatalf("bad definition: %d\n%s", resp.StatusCode, body)
	}
	if _, err := f.db.Questionnaire(context.Background()); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("a refused definition was saved: %v", err)
	}
	good := strings.Replace(string(questionnaire.DefaultJSON), "Кто вы?", "Кто вы? (ответьте цифрой)", 1)
	resp = f.do("POST", "/questionnaire", url.Values{"definition": {good}}, ck)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/questionnaire?saved=1" {
		t.Fatalf("save: %d → %q\n%s", resp.StatusCode, resp.Header.Get("Location"), bodyOf(t, resp))
	}
	if v, err := f.db.Questionnaire(context.Background()); err != nil || v.Version != 1 || v.CreatedBy != "svitlana" || !strings.Contains(string(v.Definition), "ответьте цифрой") {
		t.Errorf("saved %+v %v", v, err)
	}
	if page := bodyOf(t, f.do("GET", "/questionnaire?saved=1", nil, ck)); !strings.Contains(page, `id="questionnaire-saved"`) || !strings.Contains(page, "svitlana") {
		t.Errorf("after save:\n%s", page)
	}
	if !slices.ContainsFunc(f.auditActions(audit.DecisionAllow), func(s string) bool { return strings.HasPrefix(s, "questionnaire.save") }) {
		t.Errorf("the save is not audited")
	}

	_, ock := f.login("oleh", password, code(t, op, f.clock.Now()))
	if resp := f.do("GET", "/questionnaire", nil, ock); resp.StatusCode != http.StatusForbidden {
		t.Errorf("intake operator on the editor: %d, want 403", resp.StatusCode)
	}
	if resp := f.do("POST", "/questionnaire", url.Values{"definition": {good}}, ock); resp.StatusCode != http.StatusForbidden {
		t.Errorf("intake operator saving: %d, want 403", resp.StatusCode)
	}
}

// TestBotPauseResume: an operator pauses and resumes the bot on a
// conversation from its bot page; pausing where it is not running is
// refused plainly.
func TestBotPauseResume(t *testing.T) {
	f := newFixture(t, console.Config{DisableBackoff: true})
	secret, _ := f.enrolled("iryna", lifeline.RoleIntake)
	conv := f.inbound(lifeline.ChannelTelegram, "bot", "100000301", "Здравствуйте")
	w := &questionnaire.Worker{DB: f.db}
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(30 * time.Second)
	_, ck := f.login("iryna", password, code(t, secret, f.clock.Now()))
	page := bodyOf(t, f.do("GET", "/c/"+string(conv)+"/bot", nil, ck))
	if !strings.Contains(page, `id="bot-pause"`) || !strings.Contains(page, "language") {
		t.Fatalf("bot page of a running bot:\n%s", page)
	}
	if resp := f.do("POST", "/c/"+string(conv)+"/bot/pause", url.Values{}, ck); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause: %d", resp.StatusCode)
	}
	if st, _ := f.db.QuestionnaireStatus(context.Background(), conv); st.State != "paused" || st.PausedBy != "operator" {
		t.Errorf("after pause %+v", st)
	}
	if resp := f.do("POST", "/c/"+string(conv)+"/bot/pause", url.Values{}, ck); resp.StatusCode != http.StatusConflict {
		t.Errorf("pausing a paused bot: %d, want 409", resp.StatusCode)
	}
	if page := bodyOf(t, f.do("GET", "/c/"+string(conv)+"/bot", nil, ck)); !strings.Contains(page, `id="bot-resume"`) || strings.Contains(page, `id="bot-pause"`) {
		t.Errorf("bot page of a paused bot:\n%s", page)
	}
	if resp := f.do("POST", "/c/"+string(conv)+"/bot/resume", url.Values{}, ck); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resume: %d", resp.StatusCode)
	}
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs, err := f.db.ConversationMessages(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	if last := msgs[len(msgs)-1].Text.Reveal(); !strings.HasPrefix(last, "Продолжим.") {
		t.Errorf("after resume the bot said %q", last)
	}
	if resp := f.do("GET", "/c/"+string(lifeline.NewConversationID())+"/bot", nil, ck); resp.StatusCode != http.StatusNotFound {
		t.Errorf("bot page of no conversation: %d", resp.StatusCode)
	}
}

// TestBotHandoffInConsole: a soldier whose first message asks is handed
// to operators by the bot. The inbox row carries the hand-off chip, the
// conversation says why and where the questionnaire stopped (question
// 1 of 10), the bot page too, with resume and no pause; resumed, the bot
// asks that question again and the marks are gone.
func TestBotHandoffInConsole(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, console.Config{DisableBackoff: true})
	secret, _ := f.enrolled("iryna", lifeline.RoleIntake)
	conv := f.inbound(lifeline.ChannelTelegram, "bot", "100000302", "Здравствуйте. Как это сделать безопасно?")
	w := &questionnaire.Worker{DB: f.db}
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(30 * time.Second)
	_, ck := f.login("iryna", password, code(t, secret, f.clock.Now()))

	inbox := bodyOf(t, f.do("GET", "/inbox?q=unassigned", nil, ck))
	if !strings.Contains(inbox, `class="chip bot-handoff" title="контакт ставить запитання">бот передав</span>`) {
		t.Fatalf("inbox row without the hand-off chip:\n%s", inbox)
	}
	page := bodyOf(t, f.do("GET", "/c/"+string(conv), nil, ck))
	if !strings.Contains(page, `id="bot-handoff"`) || !strings.Contains(page, "контакт ставить запитання; анкета зупинилася на питанні 1/10") {
		t.Fatalf("conversation page without where the bot stopped:\n%s", page)
	}
	page = bodyOf(t, f.do("GET", "/c/"+string(conv)+"/bot", nil, ck))
	if !strings.Contains(page, `id="bot-reason">контакт ставить запитання<`) || !strings.Contains(page, "1/10 · На каком языке") ||
		!strings.Contains(page, "бот передав контакт операторам") || !strings.Contains(page, `id="bot-resume"`) || strings.Contains(page, `id="bot-pause"`) {
		t.Fatalf("bot page of a hand-off:\n%s", page)
	}
	if resp := f.do("POST", "/c/"+string(conv)+"/bot/resume", url.Values{}, ck); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resume: %d", resp.StatusCode)
	}
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := f.db.ConversationMessages(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	if last := msgs[len(msgs)-1].Text.Reveal(); !strings.HasPrefix(last, "Продолжим.") || !strings.Contains(last, "1. Русский") {
		t.Errorf("after resume the bot said %q", last)
	}
	if page := bodyOf(t, f.do("GET", "/c/"+string(conv), nil, ck)); strings.Contains(page, `id="bot-handoff"`) {
		t.Errorf("the hand-off still shows after the resume")
	}
	if inbox := bodyOf(t, f.do("GET", "/inbox?q=open", nil, ck)); strings.Contains(inbox, "bot-handoff") {
		t.Errorf("the hand-off chip still shows after the resume")
	}
}
