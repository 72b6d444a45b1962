// SPDX-License-Identifier: AGPL-3.0-or-later

package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/console"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
	"github.com/lifeline-hotline/lifeline/internal/web"
)

// signedIn enrols an intake operator, signs him in, and sets his console
// language (uk or en).
func (f *fixture) signedIn(username, lang string) string {
	f.t.Helper()
	secret, _ := f.enrolled(username, lifeline.RoleIntake)
	f.clock.Add(30 * time.Second) // a TOTP code is good once
	_, ck := f.login(username, password, code(f.t, secret, f.clock.Now()))
	if resp := f.do("POST", "/settings/language", url.Values{"lang": {lang}, "back": {"/"}}, ck); resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("language: %d", resp.StatusCode)
	}
	return ck
}

func (f *fixture) outbound(conv lifeline.ConversationID) []sqlstore.ConversationMessage {
	f.t.Helper()
	msgs, err := f.db.ConversationMessages(context.Background(), conv)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []sqlstore.ConversationMessage
	for _, m := range msgs {
		if m.Direction == lifeline.Outbound {
			out = append(out, m)
		}
	}
	return out
}

// TestReplyLengthAsTelegramCounts is issue 10 item 8: a reply of 4,000
// Cyrillic characters (8,000 bytes) goes to Telegram; one of 4,097 is
// refused on the conversation with a clear reason, in the operator's
// language, and the text stays in the box. The page carries what its
// live counter needs.
func TestReplyLengthAsTelegramCounts(t *testing.T) {
	f := newFixture(t, console.Config{DisableBackoff: true})
	ck := f.signedIn("oksana", "en")
	conv := f.inbound(lifeline.ChannelTelegram, "bot", "100000001", "Здравствуйте")

	page := bodyOf(t, f.do("GET", "/c/"+string(conv), nil, ck))
	if !strings.Contains(page, `id="reply-counter"`) || !strings.Contains(page, `data-kind="telegram"`) || !strings.Contains(page, `data-limit="4096"`) {
		t.Fatalf("no live counter for Telegram:\n%s", page)
	}

	ok := strings.Repeat("ж", 4000)
	if resp := f.do("POST", "/c/"+string(conv)+"/reply", url.Values{"text": {ok}}, ck); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("4,000 Cyrillic characters: %d, want 303\n%s", resp.StatusCode, bodyOf(t, resp))
	}
	if out := f.outbound(conv); len(out) != 1 || out[0].Text.Reveal() != ok || out[0].Status != "queued" {
		t.Fatalf("outbound %d messages, want the 4,000 characters queued", len(out))
	}

	long := strings.Repeat("я", 4097)
	resp := f.do("POST", "/c/"+string(conv)+"/reply", url.Values{"text": {long}}, ck)
	body := html.UnescapeString(bodyOf(t, resp))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="reply-error"`) ||
		!strings.Contains(body, "the reply is 4097 characters as Telegram counts them; it takes at most 4096") {
		t.Fatalf("4,097 characters: %d, want 400 with the reason\n%.2000s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `id="reply-text"`) || !strings.Contains(body, ">"+long+"</textarea>") {
		t.Error("the refused text is not kept in the box")
	}
	if n := len(f.outbound(conv)); n != 1 {
		t.Errorf("outbound %d messages after the refusal, want 1", n)
	}
}

// TestReplyLengthAsSMSCounts: on SMS the refusal counts segments, in
// Ukrainian for a Ukrainian console.
func TestReplyLengthAsSMSCounts(t *testing.T) {
	f := newFixture(t, console.Config{DisableBackoff: true})
	ck := f.signedIn("oksana", "uk")
	conv := f.inbound(lifeline.ChannelSMS, "hotline", "+79990001122", "Здравствуйте")
	if resp := f.do("POST", "/c/"+string(conv)+"/reply", url.Values{"text": {strings.Repeat("ж", 670)}}, ck); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("670 Cyrillic characters (10 segments): %d, want 303", resp.StatusCode)
	}
	resp := f.do("POST", "/c/"+string(conv)+"/reply", url.Values{"text": {strings.Repeat("ж", 671)}}, ck)
	body := html.UnescapeString(bodyOf(t, resp))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "відповідь займає 11 SMS-сегментів (UCS-2, 671 символів)") {
		t.Fatalf("671 characters: %d, want 400 counting segments\n%.2000s", resp.StatusCode, body)
	}
}

// TestOptedOutConversation is issue 10 item 7 in the console: the
// conversation says plainly that the contact texted STOP, offers no reply
// box, and a reply posted anyway is refused with the reason and the other
// channel kinds he has used, in the operator's language.
func TestOptedOutConversation(t *testing.T) {
	f := newFixture(t, console.Config{DisableBackoff: true})
	conv := f.inbound(lifeline.ChannelSMS, "hotline", "+79990001122", "STOP")
	c, err := f.db.Conversation(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.Ingest(context.Background(), func(in *sqlstore.Ingest) error {
		return in.SetOptOut(c.ContactID, lifeline.ChannelSMS, "hotline", true)
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ lang, banner, refusal string }{
		{"en", "The contact opted out of SMS (STOP)", "the contact opted out of SMS from this number (he texted STOP)"},
		{"uk", "Контакт відмовився від SMS (STOP)", "контакт відмовився від SMS з цього номера (надіслав STOP)"},
	} {
		ck := f.signedIn("op"+tt.lang, tt.lang)
		page := html.UnescapeString(bodyOf(t, f.do("GET", "/c/"+string(conv), nil, ck)))
		if !strings.Contains(page, `id="opted-out"`) || !strings.Contains(page, tt.banner) || strings.Contains(page, `id="reply-form"`) {
			t.Fatalf("%s: opt-out not shown plainly:\n%.3000s", tt.lang, page)
		}
		resp := f.do("POST", "/c/"+string(conv)+"/reply", url.Values{"text": {"Вы на связи?"}}, ck)
		body := html.UnescapeString(bodyOf(t, resp))
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, tt.refusal) || !strings.Contains(body, "START") {
			t.Errorf("%s: reply to an opted-out contact: %d\n%.3000s", tt.lang, resp.StatusCode, body)
		}
	}
	if n := len(f.outbound(conv)); n != 0 {
		t.Errorf("outbound %d messages, want none", n)
	}
}

// TestRefusedMediaShown is issue 10 item 2 in the console: a file that
// arrived and was refused shows as such, with its reason, in uk and en.
func TestRefusedMediaShown(t *testing.T) {
	f := newFixture(t, console.Config{DisableBackoff: true})
	conv := f.inbound(lifeline.ChannelSMS, "hotline", "+79990001122", "фото")
	c, _ := f.db.Conversation(context.Background(), conv)
	msgs, _ := f.db.ConversationMessages(context.Background(), conv)
	if err := f.db.Ingest(context.Background(), func(in *sqlstore.Ingest) error {
		_, err := in.AddRefusedMedia(msgs[0].ID, c.ContactID, "photo", "image/jpeg", channel.MediaRefusedHost)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{
		"en": "a file arrived, refused: not on the provider's host",
		"uk": "файл надійшов, відхилено: не на сервері провайдера",
	} {
		ck := f.signedIn("op"+lang, lang)
		page := html.UnescapeString(bodyOf(t, f.do("GET", "/c/"+string(conv), nil, ck)))
		if !strings.Contains(page, want) {
			t.Errorf("%s: refused file not shown as %q", lang, want)
		}
	}
}

// TestAPIReplyRules: the JSON API applies the same rules: length as the
// provider counts (4,000 Cyrillic characters go to Telegram, 4,097 do
// not), no reply to an opted-out contact (409 with the reason), and a
// conversation's messages say that a file arrived and was refused, and
// that the contact opted out.
func TestAPIReplyRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, console.Config{DisableBackoff: true})
	f.signedIn("oksana", "en")
	plain, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := auth.TokenID(plain)
	if err := f.db.CreateToken(ctx, lifeline.CLIActor, "oksana", id, hash); err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer(nil, web.Config{API: &web.API{Store: f.db}}, nil, nil)
	api := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req := httptest.NewRequest(method, "https://console.example"+path, r)
		req.Header.Set("Authorization", "Bearer "+plain)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}

	tg := f.inbound(lifeline.ChannelTelegram, "bot", "100000001", "Здравствуйте")
	if code, out := api("POST", "/api/v1/conversations/"+string(tg)+"/messages", map[string]string{"text": strings.Repeat("ж", 4000)}); code != http.StatusAccepted {
		t.Fatalf("4,000 Cyrillic characters: %d %v, want 202", code, out)
	}
	code, out := api("POST", "/api/v1/conversations/"+string(tg)+"/messages", map[string]string{"text": strings.Repeat("ж", 4097)})
	if msg, _ := out["error"].(string); code != http.StatusBadRequest || !strings.Contains(msg, "4097 characters as Telegram counts them") {
		t.Fatalf("4,097 characters: %d %v, want 400 with the reason", code, out)
	}

	sms := f.inbound(lifeline.ChannelSMS, "hotline", "+79990001122", "фото")
	c, _ := f.db.Conversation(ctx, sms)
	msgs, _ := f.db.ConversationMessages(ctx, sms)
	if err := f.db.Ingest(ctx, func(in *sqlstore.Ingest) error {
		if _, err := in.AddRefusedMedia(msgs[0].ID, c.ContactID, "photo", "image/jpeg", channel.MediaRefusedHost); err != nil {
			return err
		}
		return in.SetOptOut(c.ContactID, lifeline.ChannelSMS, "hotline", true)
	}); err != nil {
		t.Fatal(err)
	}
	code, out = api("POST", "/api/v1/conversations/"+string(sms)+"/messages", map[string]string{"text": "Вы на связи?"})
	if msg, _ := out["error"].(string); code != http.StatusConflict || !strings.Contains(msg, "opted out of SMS") || !strings.Contains(msg, "START") {
		t.Fatalf("reply to an opted-out contact: %d %v, want 409 with the reason", code, out)
	}
	code, out = api("GET", "/api/v1/conversations/"+string(sms)+"/messages", nil)
	b, _ := json.Marshal(out)
	if code != http.StatusOK || !strings.Contains(string(b), `"state":"failed"`) || !strings.Contains(string(b), channel.MediaRefusedHost) ||
		!strings.Contains(string(b), `"opt_out":"Not sent: the contact has opted out`) {
		t.Fatalf("messages: %d %s, want the refused file and the opt-out", code, b)
	}
}
