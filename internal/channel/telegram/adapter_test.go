// SPDX-License-Identifier: AGPL-3.0-or-later

package telegram_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/telegram"
)

const (
	testToken  = "7000000001:AAHtestTOKENdoNotUse-abcdefghijklmnop"
	testSecret = "s3cret_Token-for-tests_0123456789"
	hookPath   = "/hooks/telegram/main"
)

// MustNew returns an adapter for the channel "main" talking to apiURL.
func MustNew(tb testing.TB, apiURL string) *telegram.Adapter {
	tb.Helper()
	a, err := telegram.New(telegram.Config{Name: "main", BotToken: testToken, WebhookSecret: testSecret, APIURL: apiURL}, channeltest.LoopbackClient())
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return a
}

// MustReadFixture reads testdata/<name>.json.
func MustReadFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// invalidUTF8 writes the bytes <FF> and <C3 28>, invalid in UTF-8, into s.
func invalidUTF8(s string) []byte {
	return []byte(strings.NewReplacer("<FF>", "\xff", "<C3 28>", "\xc3\x28").Replace(s))
}

// revealed compares Sensitive values by their content, which cmp would
// otherwise print as [redacted].
var revealed = cmp.Transformer("Reveal", lifeline.Sensitive.Reveal)

func unix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// Alexey is the invented sender of most fixtures.
func alexey(e channel.Event) channel.Event {
	e.Sender, e.ReplyTo = "6100000001", "6100000001"
	e.SenderName = "Алексей Воробьёв"
	e.Language = "ru"
	return e
}

func TestWebhook(t *testing.T) {
	sign := func(h http.Header) { h.Set(telegram.SecretHeader, testSecret) }
	flipped := []byte(testSecret)
	flipped[3] ^= 0x01 // '3' → '2'

	tests := []struct {
		name    string
		fixture string // testdata/<fixture>.json, unless body is set
		body    []byte
		method  string            // POST if empty
		path    string            // hookPath if empty
		auth    func(http.Header) // sign if nil
		want    int               // HTTP status
		events  []channel.Event   // stored
		quarant int               // bodies quarantined
		check   func(*testing.T, []channel.Event)
	}{
		{name: "text", fixture: "text", want: 200, events: []channel.Event{alexey(channel.Event{
			ID: "bot7000000001/update:700000101", Type: channel.EventMessage, Kind: channel.KindText,
			Text: "Здравствуйте. Хочу сдаться, как это сделать? Нас двое.", ProviderMessageID: "101", MessageRef: "bot7000000001/6100000001:101", Time: unix(1782000101),
		})}},
		{name: "start with payload", fixture: "start_with_payload", want: 200, events: []channel.Event{alexey(channel.Event{
			ID: "bot7000000001/update:700000102", Type: channel.EventMessage, Kind: channel.KindText,
			Text: "/start tg_ad-2026_06", Campaign: "tg_ad-2026_06", ProviderMessageID: "102", MessageRef: "bot7000000001/6100000001:102", Time: unix(1782000102),
		})}},
		{name: "photo: the largest size", fixture: "photo", want: 200, events: []channel.Event{alexey(channel.Event{
			ID: "bot7000000001/update:700000103", Type: channel.EventMessage, Kind: channel.KindPhoto, Text: "Мой жетон",
			Media:             []channel.Media{{ProviderID: "AgACAgIAAxkBAAIBZ2ZlargeAAFAKE_photo_y", Size: 187311}},
			ProviderMessageID: "103", MessageRef: "bot7000000001/6100000001:103", Time: unix(1782000103),
		})}},
		{name: "voice", fixture: "voice", want: 200, events: []channel.Event{{
			ID: "bot7000000001/update:700000104", Type: channel.EventMessage, Kind: channel.KindVoice,
			Sender: "5200000002", ReplyTo: "5200000002", SenderName: "Дмитрий", Language: "be",
			Media:             []channel.Media{{ProviderID: "AwACAgIAAxkBAAIBaFAKE_voice", MIME: "audio/ogg", Size: 23456}},
			ProviderMessageID: "104", MessageRef: "bot7000000001/5200000002:104", Time: unix(1782000104),
		}}},
		{name: "document", fixture: "document", want: 200, events: []channel.Event{alexey(channel.Event{
			ID: "bot7000000001/update:700000105", Type: channel.EventMessage, Kind: channel.KindDocument, Text: "Приказ о переброске",
			Media:             []channel.Media{{ProviderID: "BQACAgIAAxkBAAIBaFAKE_doc", MIME: "application/pdf", Size: 48213}},
			ProviderMessageID: "105", MessageRef: "bot7000000001/6100000001:105", Time: unix(1782000105),
		})}},
		{name: "location, digits as sent", fixture: "location", want: 200, events: []channel.Event{alexey(channel.Event{
			ID: "bot7000000001/update:700000106", Type: channel.EventMessage, Kind: channel.KindLocation,
			Location:          &channel.Location{Latitude: "48.015883", Longitude: "37.80285"},
			ProviderMessageID: "106", MessageRef: "bot7000000001/6100000001:106", Time: unix(1782000106),
		})}},
		{name: "contact", fixture: "contact", want: 200, events: []channel.Event{alexey(channel.Event{
			ID: "bot7000000001/update:700000107", Type: channel.EventMessage, Kind: channel.KindContact,
			Text: "79990000001 (Алексей Воробьёв)", ProviderMessageID: "107", MessageRef: "bot7000000001/6100000001:107", Time: unix(1782000107),
		})}},
		{name: "edited message", fixture: "edited", want: 200, events: []channel.Event{alexey(channel.Event{
			ID: "bot7000000001/update:700000108", Type: channel.EventEdit, Kind: channel.KindText,
			Text: "Здравствуйте. Хочу сдаться, как это сделать? Нас трое.", ProviderMessageID: "101", MessageRef: "bot7000000001/6100000001:101", Time: unix(1782000222),
		})}},
		{name: "callback query", fixture: "callback", want: 200, events: []channel.Event{alexey(channel.Event{
			ID: "bot7000000001/update:700000109", Type: channel.EventCallback, Text: "lang:ru", ProviderMessageID: "4382947382947382901",
		})}},
		{name: "callback on an inaccessible message", fixture: "callback_inaccessible", want: 200, events: []channel.Event{alexey(channel.Event{
			ID: "bot7000000001/update:700000110", Type: channel.EventCallback, Text: "lang:be", ProviderMessageID: "4382947382947382902",
		})}},
		{name: "group message ignored", fixture: "group_message", want: 200},
		{name: "channel post ignored", fixture: "channel_post", want: 200},
		{name: "bot sender ignored", fixture: "bot_sender", want: 200},
		{name: "my_chat_member ignored", fixture: "my_chat_member_blocked", want: 200},
		{name: "missing update_id: malformed", fixture: "missing_update_id", want: 200, quarant: 1},
		{name: "wrong types: malformed", fixture: "wrong_types", want: 200, quarant: 1},
		{name: "bidi, zero-width, control and NUL kept safe", fixture: "cyrillic_bidi_name", want: 200, events: []channel.Event{{
			ID: "bot7000000001/update:700000117", Type: channel.EventMessage, Kind: channel.KindText,
			Sender: "6300000004", ReplyTo: "6300000004", Language: "uk",
			SenderName:        "\u202eвеселый\u202c Op\u200berator \u2067مرحبا\u2069",
			Text:              lifeline.Sensitive("gnp.\u202eexe\nline1\r\n2026-06-21 INFO admin login ok\u001b[2J a\uFFFDb Z" + strings.Repeat("\u0336", 50)),
			ProviderMessageID: "117", MessageRef: "bot7000000001/6300000004:117", Time: unix(1782000117),
		}}},
		{name: "4096 Cyrillic characters stored whole", fixture: "huge_text", want: 200, check: func(t *testing.T, got []channel.Event) {
			if len(got) != 1 || got[0].Text.Reveal() != strings.Repeat("я", 4095)+"!" {
				t.Errorf("huge text not stored whole")
			}
		}},

		// Encodings and structures a provider never sends, authentic.
		{name: "invalid UTF-8 replaced", body: invalidUTF8(`{"update_id":9,"message":{"message_id":1,"date":1782000000,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"<FF>"},"text":"ok <C3 28> bad"}}`),
			want: 200, events: []channel.Event{{
				ID: "bot7000000001/update:9", Type: channel.EventMessage, Kind: channel.KindText, Sender: "42", ReplyTo: "42",
				SenderName: "\uFFFD", Text: "ok \uFFFD( bad", ProviderMessageID: "1", MessageRef: "bot7000000001/42:1", Time: unix(1782000000),
			}}},
		{name: "lone surrogates", body: []byte(`{"update_id":10,"message":{"message_id":1,"date":1782000000,"chat":{"id":42,"type":"private"},"text":"\ud800 \udfff\ud800"}}`),
			want: 200, events: []channel.Event{{
				ID: "bot7000000001/update:10", Type: channel.EventMessage, Kind: channel.KindText, Sender: "42", ReplyTo: "42",
				Text: "\uFFFD \uFFFD\uFFFD", ProviderMessageID: "1", MessageRef: "bot7000000001/42:1", Time: unix(1782000000),
			}}},
		{name: "over-long text still stored", body: []byte(`{"update_id":11,"message":{"message_id":1,"date":1782000000,"chat":{"id":42,"type":"private"},"text":"` + strings.Repeat("ы", 100000) + `"}}`),
			want: 200, check: func(t *testing.T, got []channel.Event) {
				if len(got) != 1 || utf8.RuneCountInString(got[0].Text.Reveal()) != 100000 {
					t.Errorf("over-long text not stored whole")
				}
			}},
		{name: "invalid deep-link payloads are text only", body: []byte(`{"update_id":12,"message":{"message_id":1,"date":1782000000,"chat":{"id":42,"type":"private"},"text":"/start ../../x"}}`),
			want: 200, events: []channel.Event{{
				ID: "bot7000000001/update:12", Type: channel.EventMessage, Kind: channel.KindText, Sender: "42", ReplyTo: "42",
				Text: "/start ../../x", ProviderMessageID: "1", MessageRef: "bot7000000001/42:1", Time: unix(1782000000),
			}}},
		{name: "unknown update type ignored", body: []byte(`{"update_id":13,"hologram":{"x":1}}`), want: 200},
		{name: "poll ignored whatever its content", body: []byte(`{"update_id":14,"poll":{"id":[1,2]}}`), want: 200},
		{name: "message without chat ignored", body: []byte(`{"update_id":15,"message":{"message_id":1,"date":1,"text":"x"}}`), want: 200},
		{name: "two update types: malformed", body: []byte(`{"update_id":16,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":"a"},"edited_message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":"b"}}`), want: 200, quarant: 1},
		{name: "update_id zero", body: []byte(`{"update_id":0,"poll":{}}`), want: 200, quarant: 1},
		{name: "update_id negative", body: []byte(`{"update_id":-5,"poll":{}}`), want: 200, quarant: 1},
		{name: "update_id as string", body: []byte(`{"update_id":"700000001","poll":{}}`), want: 200, quarant: 1},
		{name: "update_id as float", body: []byte(`{"update_id":1e3,"poll":{}}`), want: 200, quarant: 1},
		{name: "chat id 2^63", body: []byte(`{"update_id":17,"message":{"message_id":1,"date":1,"chat":{"id":9223372036854775808,"type":"private"},"text":"a"}}`), want: 200, quarant: 1},
		{name: "chat id as float", body: []byte(`{"update_id":18,"message":{"message_id":1,"date":1,"chat":{"id":6.123456789e9,"type":"private"},"text":"a"}}`), want: 200, quarant: 1},
		{name: "byte order mark", body: append([]byte("\xEF\xBB\xBF"), MustReadFixture(t, "text")...), want: 200, quarant: 1},
		{name: "nesting bomb", body: []byte(`{"update_id":19,"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`), want: 200, quarant: 1},
		{name: "not JSON", body: []byte("update_id=1"), want: 200, quarant: 1},
		{name: "empty body", body: []byte{}, want: 200, quarant: 1},

		// Authentication: nothing stored, nothing quarantined.
		{name: "no secret header", fixture: "text", auth: func(http.Header) {}, want: 401},
		{name: "wrong secret", fixture: "text", auth: func(h http.Header) { h.Set(telegram.SecretHeader, "wrong_secret") }, want: 401},
		{name: "empty secret", fixture: "text", auth: func(h http.Header) { h.Set(telegram.SecretHeader, "") }, want: 401},
		{name: "secret header doubled", fixture: "text", auth: func(h http.Header) {
			h.Add(telegram.SecretHeader, "wrong_secret")
			h.Add(telegram.SecretHeader, testSecret)
		}, want: 401},
		{name: "secret header doubled, both right", fixture: "text", auth: func(h http.Header) {
			h.Add(telegram.SecretHeader, testSecret)
			h.Add(telegram.SecretHeader, testSecret)
		}, want: 401},
		{name: "secret in another case", fixture: "text", auth: func(h http.Header) { h.Set(telegram.SecretHeader, strings.ToUpper(testSecret)) }, want: 401},
		{name: "secret with one bit flipped", fixture: "text", auth: func(h http.Header) { h.Set(telegram.SecretHeader, string(flipped)) }, want: 401},
		{name: "secret prefix", fixture: "text", auth: func(h http.Header) { h.Set(telegram.SecretHeader, testSecret[:len(testSecret)-1]) }, want: 401},
		{name: "secret plus one character", fixture: "text", auth: func(h http.Header) { h.Set(telegram.SecretHeader, testSecret+"x") }, want: 401},
		{name: "secret only in the query", fixture: "text", path: hookPath + "?secret_token=" + testSecret, auth: func(http.Header) {}, want: 401},
		{name: "unsigned nesting bomb", body: []byte(`{"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`), auth: func(http.Header) {}, want: 401},

		// Transport.
		{name: "body over 1 MiB, signed", body: []byte(`{"update_id":20,"message":{"text":"` + strings.Repeat("A", 1<<20) + `"}}`), want: 413},
		{name: "GET", fixture: "text", method: http.MethodGet, want: 405},
		{name: "PUT", fixture: "text", method: http.MethodPut, want: 405},
		{name: "unknown channel", fixture: "text", path: "/hooks/telegram/other", want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if body == nil {
				body = MustReadFixture(t, tt.fixture)
			}
			method, path, auth := tt.method, tt.path, tt.auth
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = hookPath
			}
			if auth == nil {
				auth = sign
			}
			h := channeltest.NewHarness(MustNew(t, ""))
			req := httptest.NewRequest(method, path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			auth(req.Header)

			resp := h.Do(req)
			if resp.Code != tt.want {
				t.Errorf("status: got %d, want %d", resp.Code, tt.want)
			}
			channeltest.MustContainNone(t, "response", resp.Body.String(), testSecret, testToken)
			got := h.Recorder.Events()
			if tt.check != nil {
				tt.check(t, got)
			} else if diff := cmp.Diff(tt.events, got, cmpopts.EquateEmpty(), revealed); diff != "" {
				t.Errorf("stored events (-want +got):\n%s", diff)
			}
			if n := h.Quarantine.Len(); n != tt.quarant {
				t.Errorf("quarantined: got %d, want %d", n, tt.quarant)
			}
			for _, reason := range h.Quarantine.Reasons {
				if !strings.Contains(reason, "telegram: ") {
					t.Errorf("quarantine reason %q is not a telegram parse error", reason)
				}
			}
		})
	}
}

// TestQuarantineReasonsQuoteNoInput checks that a parse error, which the
// handler logs, never carries what the sender wrote.
func TestQuarantineReasonsQuoteNoInput(t *testing.T) {
	a := MustNew(t, "")
	for _, body := range []string{
		`{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":"SECRETNAME","type":"private"}}}`,
		`{"update_id":1,"message":{"message_id":"SECRETNAME"}}`,
		`{"update_id":1,"message":SECRETNAME}`,
		`SECRETNAME`,
		`{"update_id":1,"message":{"text":"SECRETNAME"`,
	} {
		_, err := a.Parse(nil, []byte(body))
		if !errors.Is(err, channel.ErrMalformed) {
			t.Fatalf("Parse(%s): got %v, want ErrMalformed", body, err)
		}
		channeltest.MustContainNone(t, "parse error", strings.ToLower(err.Error()), "secretname")
	}
}

// TestDuplicateDeliveries delivers one update 10 times from each of 32
// goroutines: every delivery is answered 200 and one event is stored,
// because the update's event id is the same each time.
func TestDuplicateDeliveries(t *testing.T) {
	a := MustNew(t, "")
	body := MustReadFixture(t, "text")
	first, err := a.Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.Parse(nil, bytes.Clone(body))
	if err != nil {
		t.Fatal(err)
	}
	if first.Events[0].ID != again.Events[0].ID || first.Events[0].ID != "bot7000000001/update:700000101" {
		t.Fatalf("event id not stable: %q, %q", first.Events[0].ID, again.Events[0].ID)
	}

	h := channeltest.NewHarness(a)
	var wg sync.WaitGroup
	statuses := make(chan int, 320)
	for range 32 {
		wg.Go(func() {
			for range 10 {
				req := httptest.NewRequest(http.MethodPost, hookPath, bytes.NewReader(body))
				channeltest.SignTelegram(req, testSecret)
				statuses <- h.Do(req).Code
			}
		})
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != http.StatusOK {
			t.Errorf("status: got %d, want 200", st)
		}
	}
	if got := len(h.Recorder.Events()); got != 1 {
		t.Errorf("stored: got %d events, want 1", got)
	}
}

// TestBuilderUpdates checks that the fake's update builder makes what the
// adapter takes: a 1.5 KB update with distinct ids.
func TestBuilderUpdates(t *testing.T) {
	a := MustNew(t, "")
	body := channeltest.TelegramUpdate(700000001, 6100000001, "/start camp_1")
	if len(body) < 1200 || len(body) > 1800 {
		t.Errorf("update is %d bytes, want about 1.5 KB", len(body))
	}
	b, err := a.Parse(nil, body)
	if err != nil || len(b.Events) != 1 {
		t.Fatalf("Parse: %v, %d events", err, len(b.Events))
	}
	e := b.Events[0]
	if e.ID != "bot7000000001/update:700000001" || e.Sender != "6100000001" || e.Campaign != "camp_1" || e.Kind != channel.KindText {
		t.Errorf("got %+v", e)
	}
	other, _ := a.Parse(nil, channeltest.TelegramUpdate(700000002, 6100000001, "x"))
	if other.Events[0].ProviderMessageID == e.ProviderMessageID {
		t.Errorf("two updates share message_id %s", e.ProviderMessageID)
	}
}

func TestNew(t *testing.T) {
	valid := telegram.Config{Name: "main", BotToken: testToken, WebhookSecret: testSecret}
	if _, err := telegram.New(valid, nil); err != nil {
		t.Fatalf("New(valid): %v", err)
	}
	tests := []struct {
		name   string
		change func(*telegram.Config)
	}{
		{"empty secret", func(c *telegram.Config) { c.WebhookSecret = "" }},
		{"empty token", func(c *telegram.Config) { c.BotToken = "" }},
		{"empty name", func(c *telegram.Config) { c.Name = "" }},
		{"name with a slash", func(c *telegram.Config) { c.Name = "a/b" }},
		{"secret with a space", func(c *telegram.Config) { c.WebhookSecret = "a b" }},
		{"secret of 257 characters", func(c *telegram.Config) { c.WebhookSecret = strings.Repeat("a", 257) }},
		{"token without a colon", func(c *telegram.Config) { c.BotToken = "7000000001AAHtest" }},
		{"token with a slash", func(c *telegram.Config) { c.BotToken = "7000000001:AAH/../x" }},
		{"token with a non-numeric bot id", func(c *telegram.Config) { c.BotToken = "bot:AAHtest" }},
		{"http API URL", func(c *telegram.Config) { c.APIURL = "http://api.telegram.org" }},
		{"API URL with credentials", func(c *telegram.Config) { c.APIURL = "https://u:p@api.telegram.org" }},
		{"relative API URL", func(c *telegram.Config) { c.APIURL = "/bot" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.change(&cfg)
			a, err := telegram.New(cfg, nil)
			if err == nil {
				t.Fatalf("New: got %v, want an error", a)
			}
			channeltest.MustContainNone(t, "error", err.Error(), testToken, "AAHtest", testSecret, cfg.WebhookSecret)
		})
	}
	if _, err := telegram.New(telegram.Config{Name: "main", BotToken: testToken, WebhookSecret: strings.Repeat("Az09_-", 42) + "abcd"}, nil); err != nil {
		t.Errorf("New with a 256-character secret: %v", err)
	}
}

func TestSend(t *testing.T) {
	fake := channeltest.NewTelegramFake(testToken)
	defer fake.Close()
	a := MustNew(t, fake.URL())
	ctx := context.Background()

	id, err := a.Send(ctx, "6100000001", "Здравствуйте. <b>Мы</b> на связи *_[")
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := []channeltest.TelegramSent{{ChatID: 6100000001, Text: "Здравствуйте. <b>Мы</b> на связи *_[", MessageID: 1001}}
	if diff := cmp.Diff(want, fake.Sent()); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	if id != "1001" {
		t.Errorf("message id: got %q, want %q", id, "1001")
	}

	var errs []error
	check := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		errs = append(errs, err)
	}

	fake.RateLimit(6100000002, 7, 1)
	_, err = a.Send(ctx, "6100000002", "hello")
	check("429", err)
	var ra *channel.RetryAfter
	if !errors.As(err, &ra) || ra.After != 7*time.Second {
		t.Errorf("429: got %v, want RetryAfter 7s", err)
	}
	if errors.Is(err, channel.ErrPermanent) {
		t.Errorf("429 is permanent: %v", err)
	}
	if _, err := a.Send(ctx, "6100000002", "hello"); err != nil {
		t.Errorf("send after the wait: %v", err)
	}

	fake.Block(6100000003)
	_, err = a.Send(ctx, "6100000003", "hello")
	check("403", err)
	if !errors.Is(err, channel.ErrPermanent) || !strings.Contains(err.Error(), "blocked") {
		t.Errorf("403: got %v, want ErrPermanent saying blocked", err)
	}

	fake.FailChat(6100000004, channeltest.TelegramError{Code: 400, Description: "Bad Request: chat not found"}, -1)
	_, err = a.Send(ctx, "6100000004", "hello")
	check("chat not found", err)
	if !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("chat not found: got %v, want ErrPermanent", err)
	}

	fake.FailChat(6100000005, channeltest.TelegramError{Code: 502, Description: "Bad Gateway"}, 1)
	_, err = a.Send(ctx, "6100000005", "hello")
	check("502", err)
	if errors.Is(err, channel.ErrPermanent) || errors.As(err, &ra) {
		t.Errorf("502: got %v, want a transient error", err)
	}

	for _, to := range []lifeline.Sensitive{"", "@someone", "abc"} {
		_, err = a.Send(ctx, to, "hello")
		check("bad recipient", err)
		if !errors.Is(err, channel.ErrPermanent) {
			t.Errorf("recipient %q: got %v, want ErrPermanent", to.Reveal(), err)
		}
	}
	for _, text := range []string{"", strings.Repeat("🙏", 2049)} {
		_, err = a.Send(ctx, "6100000001", text)
		check("bad text", err)
		if !errors.Is(err, channel.ErrPermanent) {
			t.Errorf("text of %d bytes: got %v, want ErrPermanent", len(text), err)
		}
	}
	if _, err := a.Send(ctx, "6100000001", strings.Repeat("🙏", 2048)); err != nil {
		t.Errorf("text of 4096 UTF-16 units: %v", err)
	}

	// A revoked token: transient (the operator must fix the channel, the
	// messages wait), and the token is not in the error.
	other, err := telegram.New(telegram.Config{Name: "main", BotToken: "7000000001:AAHrevokedTOKEN", WebhookSecret: testSecret, APIURL: fake.URL()}, channeltest.LoopbackClient())
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Send(ctx, "6100000001", "hello")
	check("401", err)
	if errors.Is(err, channel.ErrPermanent) {
		t.Errorf("401: got %v, want a transient error", err)
	}
	channeltest.MustContainNone(t, "401 error", err.Error(), "AAHrevokedTOKEN")

	// Network failures: net/http's errors carry the URL, and so the token.
	fake.Close()
	_, err = a.Send(ctx, "6100000001", "hello")
	check("network", err)
	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	_, err = a.Send(ctxDone, "6100000001", "hello")
	check("cancelled", err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
	_, _, err = a.GetFile(ctx, "BQACAgIAAxkBAAIBaFAKE_doc")
	check("getFile network", err)
	check("setWebhook network", a.SetWebhook(ctx, "https://lifeline.example"))

	for _, err := range errs {
		channeltest.MustContainNone(t, "error", err.Error(), testToken, "AAHtestTOKEN", "6100000001", "hello")
	}
}

func TestSendThroughUnreachableAPI(t *testing.T) {
	// The loopback transport refuses to dial anything else; the error
	// names the address, never the token.
	a, err := telegram.New(telegram.Config{Name: "main", BotToken: testToken, WebhookSecret: testSecret}, channeltest.LoopbackClient())
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Send(context.Background(), "6100000001", "hello")
	if err == nil {
		t.Fatal("Send to api.telegram.org from a test: no error")
	}
	channeltest.MustContainNone(t, "error", err.Error(), testToken, "AAHtestTOKEN")
}

func TestSetWebhook(t *testing.T) {
	fake := channeltest.NewTelegramFake(testToken)
	defer fake.Close()
	a := MustNew(t, fake.URL())
	if err := a.SetWebhook(context.Background(), "https://lifeline.example:8443/"); err != nil {
		t.Fatalf("SetWebhook: %v", err)
	}
	want := []channeltest.TelegramWebhook{{
		URL:            "https://lifeline.example:8443/hooks/telegram/main",
		SecretToken:    testSecret,
		AllowedUpdates: []string{"message", "edited_message", "callback_query", "my_chat_member"},
	}}
	if diff := cmp.Diff(want, fake.Webhooks()); diff != "" {
		t.Errorf("webhooks (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"http://lifeline.example", "lifeline.example", "https://lifeline.example/?a=b"} {
		if err := a.SetWebhook(context.Background(), bad); err == nil {
			t.Errorf("SetWebhook(%q): no error", bad)
		}
	}
	if n := len(fake.Webhooks()); n != 1 {
		t.Errorf("webhooks set: got %d, want 1", n)
	}
}

func TestAnswerCallbackQuery(t *testing.T) {
	fake := channeltest.NewTelegramFake(testToken)
	defer fake.Close()
	a := MustNew(t, fake.URL())
	if err := a.AnswerCallbackQuery(context.Background(), "4382947382947382901", ""); err != nil {
		t.Fatalf("AnswerCallbackQuery: %v", err)
	}
	if diff := cmp.Diff([]string{"4382947382947382901"}, fake.CallbackAnswers()); diff != "" {
		t.Errorf("answered (-want +got):\n%s", diff)
	}
	if err := a.AnswerCallbackQuery(context.Background(), "", ""); !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("empty id: got %v, want ErrPermanent", err)
	}
}

func TestGetFile(t *testing.T) {
	fake := channeltest.NewTelegramFake(testToken)
	defer fake.Close()
	a := MustNew(t, fake.URL())
	ctx := context.Background()
	data := []byte("%PDF-1.7\n…")
	fake.AddFile("BQACAgIAAxkBAAIBaFAKE_doc", data)

	rc, size, err := a.GetFile(ctx, "BQACAgIAAxkBAAIBaFAKE_doc")
	if err != nil {
		t.Fatalf("GetFile: %v", err)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(rc); err != nil {
		t.Fatalf("read: %v", err)
	}
	rc.Close()
	if !bytes.Equal(got.Bytes(), data) || size != int64(len(data)) {
		t.Errorf("got %q (size %d), want %q (size %d)", got.Bytes(), size, data, len(data))
	}

	_, _, err = a.GetFile(ctx, "unknown")
	if !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("unknown file_id: got %v, want ErrPermanent", err)
	}
	fake.AddFileAt("big", "videos/file_9.mp4", 21<<20, nil)
	if _, _, err = a.GetFile(ctx, "big"); !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("file too big: got %v, want ErrPermanent", err)
	}

	// A hostile file_path is refused: no download is attempted.
	for _, path := range []string{"../../../etc/passwd", "/etc/passwd", "https://evil.example/x", "photos/../../x", "photos/a?b", "photos//a"} {
		fake.AddFileAt("hostile", path, 10, []byte("root:x:0:0"))
		before := fake.Calls()
		if _, _, err := a.GetFile(ctx, "hostile"); err == nil {
			t.Errorf("file_path %q: no error", path)
		}
		if n := fake.Calls() - before; n != 1 {
			t.Errorf("file_path %q: %d requests, want 1 (getFile only)", path, n)
		}
	}
}

func TestSplitText(t *testing.T) {
	long := strings.Repeat("Слово ", 1000) + strings.Repeat("🙏", 3000) + "\n" + strings.Repeat("x", 5000)
	for _, text := range []string{"", "short", long, strings.Repeat("🙏", 2049), strings.Repeat("я", 4096)} {
		parts := telegram.SplitText(text)
		if strings.Join(parts, "") != text {
			t.Errorf("parts of a %d-byte text do not join to it", len(text))
		}
		for _, p := range parts {
			if n := len(utf16.Encode([]rune(p))); n == 0 || n > telegram.MaxText || !utf8.ValidString(p) {
				t.Errorf("part of %d UTF-16 units (valid UTF-8: %v)", n, utf8.ValidString(p))
			}
		}
	}
	if got := telegram.SplitText(strings.Repeat("я", 4096)); len(got) != 1 {
		t.Errorf("4096 characters: %d parts, want 1", len(got))
	}
}

// FuzzParse checks that no body makes Parse panic, and that what it
// accepts is well-formed: an update id, a sender, valid UTF-8 without NUL.
func FuzzParse(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(fixtures) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, name := range fixtures {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(channeltest.TelegramUpdate(1, 2, "/start x"))
	f.Add([]byte(`{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},"text":"a\u0000\ud800"}}`))

	a := MustNew(f, "")
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := a.Parse(nil, body)
		if err != nil {
			if !errors.Is(err, channel.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if len(b.Events) > 1 || (len(b.Events) == 0) == (b.Ignored == "") {
			t.Fatalf("batch of %d events, ignored %q", len(b.Events), b.Ignored)
		}
		for _, e := range b.Events {
			if !strings.HasPrefix(e.ID, "bot7000000001/update:") || e.Sender.IsEmpty() || e.ReplyTo.IsEmpty() || e.ProviderMessageID == "" {
				t.Fatalf("incomplete event %+v", e)
			}
			// A message or an edit names itself by chat and message id,
			// which dedupes it and finds what an edit changes; a callback
			// names no message.
			if wantRef := "bot7000000001/" + e.ReplyTo.Reveal() + ":" + e.ProviderMessageID; e.Type != channel.EventCallback && e.MessageRef.Reveal() != wantRef {
				t.Fatalf("%s event names message %q, want %q", e.Type, e.MessageRef.Reveal(), wantRef)
			}
			if e.Type == channel.EventCallback && !e.MessageRef.IsEmpty() {
				t.Fatalf("callback names a message")
			}
			for _, s := range []string{e.Text.Reveal(), e.SenderName.Reveal(), e.Campaign, e.Language} {
				if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
					t.Fatalf("unsafe string %q", s)
				}
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	a := MustNew(b, "")
	body := channeltest.TelegramUpdate(700000001, 6100000001, "Здравствуйте, я хочу сдаться. Нас трое, мы в лесополосе.")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Parse(nil, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	a := MustNew(b, "")
	req := httptest.NewRequest(http.MethodPost, hookPath, nil)
	channeltest.SignTelegram(req, testSecret)
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Verify(req, nil); err != nil {
			b.Fatal(err)
		}
	}
}
