// SPDX-License-Identifier: AGPL-3.0-or-later

package questionnaire

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/telegram"
)

// webhookRig is a rig whose contact writes through Telegram's real webhook
// handler, as Telegram posts.
type webhookRig struct {
	*rig
	hook   http.Handler
	from   int64
	update int64
	conv   lifeline.ConversationID
}

func newWebhookRig(t *testing.T, from int64) *webhookRig {
	t.Helper()
	r := newRig(t)
	a, err := telegram.New(telegram.Config{Name: "bot", BotToken: "123456:test-token", WebhookSecret: "hook-secret", APIURL: "http://127.0.0.1:1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &webhookRig{rig: r, from: from,
		hook: channeltest.Mux(channel.NewHandler(slog.New(slog.DiscardHandler), channel.NewRegistry(a), r.intake, nil, nil))}
}

// write posts the contact's message and lets the bot answer; want is in
// the bot's one answer.
func (w *webhookRig) write(text, want string) {
	w.t.Helper()
	before := 0
	if w.conv != "" {
		before = len(w.bot(w.conv))
	}
	w.update++
	req := httptest.NewRequest(http.MethodPost, "/hooks/telegram/bot", bytes.NewReader(channeltest.TelegramUpdate(w.update, w.from, text)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(telegram.SecretHeader, "hook-secret")
	rec := httptest.NewRecorder()
	w.hook.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		w.t.Fatalf("webhook: status %d", rec.Code)
	}
	w.run()
	if w.conv == "" {
		w.conv = w.conversation(lifeline.ChannelTelegram)
	}
	got := w.bot(w.conv)
	if len(got) != before+1 || !strings.Contains(got[len(got)-1], want) {
		w.t.Fatalf("%q: the bot sent %q, want one message with %q", text, got[before:], want)
	}
}

// TestFreeTextQuestionsGoToAnOperator: at the free-text questions (name,
// whereabouts), a question without a question mark (the issue-10 run's "А
// зачем вам моё имя", "Скажіть спершу чи безпечно це", "Как вы меня
// заберёте отсюда") is not stored as the answer: the bot hands the
// soldier to an operator and stays on that question. "Можно писать
// вечером", where he is asked when to write, is an answer.
func TestFreeTextQuestionsGoToAnOperator(t *testing.T) {
	handedOff := func(t *testing.T, w *webhookRig, step string) {
		t.Helper()
		s := w.session(w.conv)
		if s.State != "paused" || s.PausedBy != PausedByBot || s.Handoff != HandoffQuestion || s.Step != step {
			t.Fatalf("session %s by %q for %q at %q, want paused by the bot for a question at %q", s.State, s.PausedBy, s.Handoff, s.Step, step)
		}
	}
	t.Run("name", func(t *testing.T) {
		w := newWebhookRig(t, 100000791)
		w.write("/start", "1. Русский")
		w.write("1", "Кто вы?")
		w.write("1", "фамилия, имя")
		w.write("А зачем вам моё имя", "передано оператору")
		handedOff(t, w, "name")
	})
	t.Run("name in Ukrainian", func(t *testing.T) {
		w := newWebhookRig(t, 100000792)
		w.write("/start", "1. Русский")
		w.write("2", "Хто ви?")
		w.write("1", "прізвище")
		w.write("Скажіть спершу чи безпечно це", "передано операторові")
		handedOff(t, w, "name")
	})
	t.Run("whereabouts, and when to write", func(t *testing.T) {
		w := newWebhookRig(t, 100000793)
		w.write("/start", "1. Русский")
		w.write("1", "Кто вы?")
		w.write("1", "фамилия, имя")
		w.write(soldier["name"], "Дата рождения")
		w.write(soldier["birth"], "воинская часть")
		w.write(soldier["unit"], "звание")
		w.write(soldier["rank"], "личный номер")
		w.write(soldier["service"], "Где вы сейчас")
		w.write(soldier["where"], "безопасно связаться")
		w.write("Можно писать вечером", "члены семьи")
		if s := w.session(w.conv); s.State != "active" || !strings.HasPrefix(s.Step, "relatives") {
			t.Fatalf("after when to write: %s at %q, want active at relatives", s.State, s.Step)
		}

		w2 := newWebhookRig(t, 100000794)
		w2.write("/start", "1. Русский")
		w2.write("1", "Кто вы?")
		w2.write("1", "фамилия, имя")
		w2.write(soldier["name"], "Дата рождения")
		w2.write(soldier["birth"], "воинская часть")
		w2.write(soldier["unit"], "звание")
		w2.write(soldier["rank"], "личный номер")
		w2.write(soldier["service"], "Где вы сейчас")
		w2.write("Как вы меня заберёте отсюда", "передано оператору")
		handedOff(t, w2, "whereabouts")
	})
}
