// SPDX-License-Identifier: AGPL-3.0-or-later

package twilio_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/twilio"
)

// Invented credentials and numbers (+44 7700 900xxx is Ofcom's drama range).
const (
	testName   = "hotline"
	testSID    = "AC5f0e3a2b7c9d4e1f8a6b0c2d4e6f8a1b"
	testToken  = "9c1d7e3f5a2b4c6d8e0f1a3b5c7d9e2f"
	testNumber = "+447700900123"
	testFrom   = "+79990001122"
	testPublic = "https://hotline.example"

	smsPath    = "/hooks/sms/" + testName + "/sms"
	statusPath = "/hooks/sms/" + testName + "/status"
	twimlEmpty = `<?xml version="1.0" encoding="UTF-8"?><Response/>`
)

func testConfig() twilio.Config {
	return twilio.Config{
		Name:       testName,
		AccountSID: testSID,
		AuthToken:  testToken,
		Number:     testNumber,
		PublicURL:  testPublic,
	}
}

// MustNewSMS returns an adapter for testConfig changed by edit.
func MustNewSMS(tb testing.TB, edit func(*twilio.Config)) *twilio.SMS {
	tb.Helper()
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	a, err := twilio.NewSMS(cfg, channeltest.LoopbackClient())
	if err != nil {
		tb.Fatalf("NewSMS: %v", err)
	}
	return a
}

// MustFixture returns testdata/name.txt, a form body as Twilio posts it.
func MustFixture(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".txt"))
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func mustParse(tb testing.TB, body string) url.Values {
	tb.Helper()
	v, err := url.ParseQuery(body)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestFixtures(t *testing.T) {
	cyrillic := mustParse(t, MustFixture(t, "sms_cyrillic_1600")).Get("Body")
	mms := "MM0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a"
	mediaBase := "https://api.twilio.com/2010-04-01/Accounts/" + testSID + "/Messages/" + mms + "/Media/"

	tests := []struct {
		fixture        string
		path           string
		wantStatus     int
		wantBody       string
		wantEvents     []channel.Event
		wantQuarantine int
	}{
		{
			fixture: "sms_text", path: smsPath, wantStatus: 200, wantBody: twimlEmpty,
			wantEvents: []channel.Event{{
				ID: "SM3c1f0a9e8d7b6c5a4f3e2d1c0b9a8f7e", Type: channel.EventMessage, Kind: channel.KindText,
				Sender: testFrom, Text: "Hello, I want to surrender. Where should I go?",
				ProviderMessageID: "SM3c1f0a9e8d7b6c5a4f3e2d1c0b9a8f7e",
			}},
		},
		{
			fixture: "sms_cyrillic_1600", path: smsPath, wantStatus: 200, wantBody: twimlEmpty,
			wantEvents: []channel.Event{{
				ID: "SM7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d", Type: channel.EventMessage, Kind: channel.KindText,
				Sender: testFrom, Text: lifeline.Sensitive(cyrillic),
				ProviderMessageID: "SM7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d",
			}},
		},
		{
			fixture: "mms_two_images", path: smsPath, wantStatus: 200, wantBody: twimlEmpty,
			wantEvents: []channel.Event{{
				ID: mms, Type: channel.EventMessage, Kind: channel.KindPhoto,
				Sender: testFrom, Text: "Это мы, фото документов",
				Media: []channel.Media{
					{ProviderID: mediaBase + "ME1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d", MIME: "image/jpeg"},
					{ProviderID: mediaBase + "ME6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a", MIME: "image/png"},
				},
				ProviderMessageID: mms,
			}},
		},
		{
			fixture: "status_delivered", path: statusPath, wantStatus: 204,
			wantEvents: []channel.Event{{
				ID: "SM4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e:delivered", Type: channel.EventStatus,
				ProviderMessageID: "SM4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e",
				Status:            &channel.Status{State: "delivered"},
			}},
		},
		{
			fixture: "status_failed_30003", path: statusPath, wantStatus: 204,
			wantEvents: []channel.Event{{
				ID: "SM8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c:undelivered", Type: channel.EventStatus,
				ProviderMessageID: "SM8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c",
				Status:            &channel.Status{State: "failed", ErrorCode: "30003", Reason: "unreachable destination handset"},
			}},
		},
		{fixture: "other_to_number", path: smsPath, wantStatus: 200, wantBody: twimlEmpty},
		{fixture: "missing_sid", path: smsPath, wantStatus: 400, wantQuarantine: 1},
		// The same authentic message at an endpoint that does not exist.
		{fixture: "sms_text", path: "/hooks/sms/" + testName + "/voice", wantStatus: 400, wantQuarantine: 1},
	}
	for _, tt := range tests {
		t.Run(tt.fixture+tt.path, func(t *testing.T) {
			h := channeltest.NewHarness(MustNewSMS(t, nil))
			rec := h.Do(channeltest.TwilioRequest(testToken, testPublic, tt.path, MustFixture(t, tt.fixture)))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantBody != "" {
				if got := rec.Body.String(); got != tt.wantBody {
					t.Errorf("body: got %q, want %q", got, tt.wantBody)
				}
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
					t.Errorf("Content-Type: got %q, want text/xml", ct)
				}
			}
			if diff := cmp.Diff(tt.wantEvents, h.Recorder.Events()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if got := h.Quarantine.Len(); got != tt.wantQuarantine {
				t.Errorf("quarantined: got %d, want %d", got, tt.wantQuarantine)
			}
		})
	}
	if n := utf8.RuneCountInString(cyrillic); n != 1600 {
		t.Errorf("cyrillic fixture: got %d characters, want 1600", n)
	}
}

// TestSignatureVectors is SECURITY.md S-05 for Twilio.
func TestSignatureVectors(t *testing.T) {
	body := MustFixture(t, "sms_text")
	form := mustParse(t, body)
	sign := func(fullURL string) string { return channeltest.SignTwilio(testToken, fullURL, form) }
	valid := sign(testPublic + smsPath)

	// shuffled reverses the pairs of body: Twilio's order is not signed.
	pairs := strings.Split(body, "&")
	for i, j := 0, len(pairs)-1; i < j; i, j = i+1, j-1 {
		pairs[i], pairs[j] = pairs[j], pairs[i]
	}
	shuffled := strings.Join(pairs, "&")
	// flipped changes one bit of one byte of the Body value ('H' → 'I').
	flipped := strings.Replace(body, "Body=H", "Body=I", 1)
	if flipped == body {
		t.Fatal("fixture has no Body=H")
	}

	tests := []struct {
		name       string
		edit       func(*twilio.Config)
		target     string // path and query of the request; smsPath if empty
		body       string // the fixture if empty
		header     []string
		extra      map[string]string
		wantStatus int
	}{
		{name: "valid", header: []string{valid}, wantStatus: 200},
		{name: "1-bit flip in Body", body: flipped, header: []string{valid}, wantStatus: 401},
		{name: "params shuffled", body: shuffled, header: []string{valid}, wantStatus: 200},
		{name: "missing header", wantStatus: 401},
		{name: "empty header", header: []string{""}, wantStatus: 401},
		{name: "doubled header", header: []string{valid, valid}, wantStatus: 401},
		{name: "truncated signature", header: []string{valid[:len(valid)-4]}, wantStatus: 401},
		{name: "signature as hex", header: []string{hex.EncodeToString([]byte(valid))}, wantStatus: 401},
		{name: "wrong token", header: []string{channeltest.SignTwilio(testToken+"x", testPublic+smsPath, form)}, wantStatus: 401},
		{name: "http vs https", header: []string{sign("http://hotline.example" + smsPath)}, wantStatus: 401},
		{name: "other host", header: []string{sign("https://hotline.example.org" + smsPath)}, wantStatus: 401},
		{
			name:   "port in public URL, signed with it",
			edit:   func(c *twilio.Config) { c.PublicURL = "https://hotline.example:8443" },
			header: []string{sign("https://hotline.example:8443" + smsPath)}, wantStatus: 200,
		},
		{
			name:   "port in public URL, signed without it",
			edit:   func(c *twilio.Config) { c.PublicURL = "https://hotline.example:8443" },
			header: []string{valid}, wantStatus: 401,
		},
		{name: "no port configured, signed with another port", header: []string{sign("https://hotline.example:8443" + smsPath)}, wantStatus: 401},
		// Twilio signs a URL with or without the scheme's default port;
		// every SDK accepts both (WIRE-FORMATS.md §3.2 point 5).
		{name: "default port added by Twilio", header: []string{sign("https://hotline.example:443" + smsPath)}, wantStatus: 200},
		{
			name:   "default port configured, signed without it",
			edit:   func(c *twilio.Config) { c.PublicURL = "https://hotline.example:443" },
			header: []string{valid}, wantStatus: 200,
		},
		{
			name:   "path prefix in public URL",
			edit:   func(c *twilio.Config) { c.PublicURL = "https://hotline.example/lifeline/" },
			header: []string{sign("https://hotline.example/lifeline" + smsPath)}, wantStatus: 200,
		},
		{
			name:   "query string signed",
			target: smsPath + "?c=odessa%20north&x=1",
			header: []string{sign(testPublic + smsPath + "?c=odessa%20north&x=1")}, wantStatus: 200,
		},
		{name: "query string not signed", target: smsPath + "?c=1", header: []string{valid}, wantStatus: 401},
		{
			name:   "query string re-encoded",
			target: smsPath + "?c=odessa+north",
			header: []string{sign(testPublic + smsPath + "?c=odessa%20north")}, wantStatus: 401,
		},
		{
			name:       "spoofed X-Forwarded-*: signed for the forwarded URL",
			header:     []string{sign("https://evil.example" + smsPath)},
			extra:      map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "Host": "evil.example", "Forwarded": "host=evil.example;proto=https"},
			wantStatus: 401,
		},
		{
			name:       "X-Forwarded-* ignored on a valid request",
			header:     []string{valid},
			extra:      map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example", "X-Forwarded-Port": "8080"},
			wantStatus: 200,
		},
		{
			name:   "secondary token during rotation",
			edit:   func(c *twilio.Config) { c.SecondaryAuthToken = "0a1b2c3d4e5f60718293a4b5c6d7e8f9" },
			header: []string{channeltest.SignTwilio("0a1b2c3d4e5f60718293a4b5c6d7e8f9", testPublic+smsPath, form)}, wantStatus: 200,
		},
		// B-10: a valid SMS request replayed to another endpoint.
		{name: "replayed to the status URL", target: statusPath, header: []string{valid}, wantStatus: 401},
		{name: "replayed to another channel", target: "/hooks/sms/other/sms", header: []string{valid}, wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := MustNewSMS(t, tt.edit)
			target, b := tt.target, tt.body
			if target == "" {
				target = smsPath
			}
			if b == "" {
				b = body
			}
			h := channeltest.NewHarness(a, MustNewSMSNamed(t, "other"))
			req := channeltest.TwilioRequest("", "", target, b)
			for _, v := range tt.header {
				req.Header.Add("X-Twilio-Signature", v)
			}
			for k, v := range tt.extra {
				if k == "Host" {
					req.Host = v
					continue
				}
				req.Header.Set(k, v)
			}
			rec := h.Do(req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantStatus == 401 {
				if n := len(h.Recorder.Events()); n != 0 {
					t.Errorf("stored %d events on a rejected request", n)
				}
				channeltest.MustContainNone(t, "401 body", rec.Body.String(), testToken, valid, "<Response", "MessageSid")
			}
		})
	}
}

// MustNewSMSNamed is an adapter of another channel with the same account.
func MustNewSMSNamed(tb testing.TB, name string) *twilio.SMS {
	tb.Helper()
	return MustNewSMS(tb, func(c *twilio.Config) { c.Name = name })
}

// A non-ASCII body re-serialised differently: Twilio signs the decoded
// params, so another percent-encoding of the same bytes is still valid,
// while the same text in other bytes (Unicode NFD instead of NFC) is not.
func TestSignatureNonASCII(t *testing.T) {
	body := "MessageSid=SM11112222333344445555666677778888&From=%2B79990001122&To=%2B447700900123&Body=%D0%B9"
	valid := channeltest.SignTwilio(testToken, testPublic+smsPath, mustParse(t, body))
	for _, tt := range []struct {
		name, body string
		want       int
	}{
		{"raw", body, 200},
		{"lower-case hex", strings.Replace(body, "%D0%B9", "%d0%b9", 1), 200},
		{"NFD", strings.Replace(body, "%D0%B9", "%D0%B8%CC%86", 1), 401},
		{"raw UTF-8 instead of percent-encoding", strings.Replace(body, "%D0%B9", "й", 1), 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(MustNewSMS(t, nil))
			req := channeltest.TwilioRequest("", "", smsPath, tt.body)
			req.Header.Set("X-Twilio-Signature", valid)
			if rec := h.Do(req); rec.Code != tt.want {
				t.Errorf("status: got %d, want %d", rec.Code, tt.want)
			}
		})
	}
}

// TestSignatureWorkedExample checks both implementations against Twilio's
// documented vectors (WIRE-FORMATS.md §3.2).
func TestSignatureWorkedExample(t *testing.T) {
	for _, tt := range []struct{ caller, want string }{
		{"+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
		{"+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="},
		{"+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
	} {
		params := url.Values{
			"CallSid": {"CA1234567890ABCDE"},
			"Caller":  {tt.caller},
			"Digits":  {"1234"},
			"From":    {tt.caller},
			"To":      {"+18005551212"},
		}
		const u = "https://mycompany.com/myapp.php?foo=1&bar=2"
		if got := twilio.Signature("12345", u, params); got != tt.want {
			t.Errorf("Signature(%s): got %s, want %s", tt.caller, got, tt.want)
		}
		if got := channeltest.SignTwilio("12345", u, params); got != tt.want {
			t.Errorf("SignTwilio(%s): got %s, want %s", tt.caller, got, tt.want)
		}
	}
	// Repeated names: each distinct value once, values sorted (twilio-node).
	a := twilio.Signature("t", "https://x.example/", url.Values{"B": {"2", "1", "2"}, "A": {"x"}})
	b := twilio.Signature("t", "https://x.example/", url.Values{"A": {"x"}, "B": {"1", "2"}})
	if a != b {
		t.Errorf("repeated values: %s != %s", a, b)
	}
	// Sorting by name, not by name+value: "Caller" sorts before "CallerCity".
	p := url.Values{"Caller": {"Z"}, "CallerCity": {"A"}}
	if got, want := twilio.Signature("t", "u", p), channeltest.SignTwilio("t", "u", p); got != want {
		t.Errorf("prefix names: got %s, want %s", got, want)
	}
}

// TestJSONBody: Twilio's JSON webhooks sign the URL with bodySHA256; none
// is an SMS webhook, so an authentic one is malformed here (400).
func TestJSONBody(t *testing.T) {
	body := `{"CallSid":"CA1234567890ABCDE","Caller":"+12349013030"}`
	sum := sha256.Sum256([]byte(body))
	withHash := smsPath + "?bodySHA256=" + hex.EncodeToString(sum[:])
	otherSum := sha256.Sum256([]byte(body + " "))
	for _, tt := range []struct {
		name, target, signedFor, body string
		want                          int
	}{
		{"no bodySHA256", smsPath, testPublic + smsPath, body, 401},
		{"bodySHA256 valid", withHash, testPublic + withHash, body, 400},
		{"body changed", withHash, testPublic + withHash, body + " ", 401},
		{"hash of the changed body, URL not re-signed", smsPath + "?bodySHA256=" + hex.EncodeToString(otherSum[:]), testPublic + withHash, body + " ", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(MustNewSMS(t, nil))
			req := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Twilio-Signature", twilio.Signature(testToken, tt.signedFor, nil))
			if rec := h.Do(req); rec.Code != tt.want {
				t.Errorf("status: got %d, want %d", rec.Code, tt.want)
			}
		})
	}
	t.Run("text/plain", func(t *testing.T) {
		h := channeltest.NewHarness(MustNewSMS(t, nil))
		req := channeltest.TwilioRequest(testToken, testPublic, smsPath, MustFixture(t, "sms_text"))
		req.Header.Set("Content-Type", "text/plain")
		if rec := h.Do(req); rec.Code != 401 {
			t.Errorf("status: got %d, want 401", rec.Code)
		}
	})
}

func TestNewSMSFailsClosed(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*twilio.Config)
	}{
		{"empty auth token", func(c *twilio.Config) { c.AuthToken = "" }},
		{"empty account SID", func(c *twilio.Config) { c.AccountSID = "" }},
		{"short account SID", func(c *twilio.Config) { c.AccountSID = "AC123" }},
		{"SID not hex", func(c *twilio.Config) { c.AccountSID = "ACzz0e3a2b7c9d4e1f8a6b0c2d4e6f8a1b" }},
		{"SID of a message", func(c *twilio.Config) { c.AccountSID = "SM5f0e3a2b7c9d4e1f8a6b0c2d4e6f8a1b" }},
		{"empty number", func(c *twilio.Config) { c.Number = "" }},
		{"number not E.164", func(c *twilio.Config) { c.Number = "07700900123" }},
		{"empty public URL", func(c *twilio.Config) { c.PublicURL = "" }},
		{"public URL relative", func(c *twilio.Config) { c.PublicURL = "/hooks" }},
		{"public URL with query", func(c *twilio.Config) { c.PublicURL = "https://hotline.example/?a=1" }},
		{"public URL ftp", func(c *twilio.Config) { c.PublicURL = "ftp://hotline.example" }},
		{"public URL with credentials", func(c *twilio.Config) { c.PublicURL = "https://u:p@hotline.example" }},
		{"empty name", func(c *twilio.Config) { c.Name = "" }},
		{"name with slash", func(c *twilio.Config) { c.Name = "a/b" }},
		{"API URL bad", func(c *twilio.Config) { c.APIURL = "api.twilio.com" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.edit(&cfg)
			a, err := twilio.NewSMS(cfg, nil)
			if err == nil || a != nil {
				t.Fatalf("NewSMS: got %v, %v; want an error", a, err)
			}
			channeltest.MustContainNone(t, "error", err.Error(), testToken)
		})
	}
	if _, err := twilio.NewSMS(testConfig(), nil); err != nil {
		t.Fatalf("NewSMS(valid): %v", err)
	}
}

// TestHostile covers the Twilio rows of HOSTILE-INPUTS.md that reach Parse:
// every request is signed.
func TestHostile(t *testing.T) {
	base := url.Values{
		"MessageSid": {"SM11112222333344445555666677778888"},
		"AccountSid": {testSID},
		"From":       {testFrom},
		"To":         {testNumber},
		"Body":       {"hello"},
	}
	with := func(kv ...string) string {
		v := url.Values{}
		for k, vs := range base {
			v[k] = append([]string(nil), vs...)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "\x00delete" {
				v.Del(kv[i])
				continue
			}
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	media := func(n int, mime string) []string {
		var kv []string
		for i := range n {
			kv = append(kv, "MediaUrl"+strconv.Itoa(i),
				"https://api.twilio.com/2010-04-01/Accounts/"+testSID+"/Messages/MM11112222333344445555666677778888/Media/ME"+strings.Repeat(strconv.Itoa(i%10), 32),
				"MediaContentType"+strconv.Itoa(i), mime)
		}
		return kv
	}
	tests := []struct {
		name        string
		body        string
		wantStatus  int
		wantMedia   int
		wantRefused int // arrived, not fetched: recorded without the URL
		wantText    string
		wantKind    channel.MessageKind
	}{
		{name: "C-06 invalid UTF-8", body: with("Body", "\xff\xfe\xc3("), wantStatus: 200, wantText: "\uFFFD(", wantKind: channel.KindText},
		{name: "C-07 bad percent-encoding", body: with() + "&Body=%zz", wantStatus: 400},
		{name: "C-07 truncated escape", body: with() + "&X=%E0%A4%A", wantStatus: 400},
		{name: "D-13 repeated Body", body: with() + "&Body=b", wantStatus: 400},
		{name: "D-13 repeated MessageSid", body: with() + "&MessageSid=SM99992222333344445555666677778888", wantStatus: 400},
		{name: "D-14 NumMedia 2, one URL", body: with(append([]string{"NumMedia", "2"}, media(1, "image/jpeg")...)...), wantStatus: 200, wantMedia: 1, wantText: "hello", wantKind: channel.KindPhoto},
		{name: "D-14 NumMedia huge, no URLs", body: with("NumMedia", "999999999"), wantStatus: 200, wantText: "hello", wantKind: channel.KindText},
		{name: "D-14 NumMedia -1", body: with("NumMedia", "-1"), wantStatus: 400},
		{name: "D-14 NumMedia abc", body: with("NumMedia", "abc"), wantStatus: 400},
		{name: "D-14 NumMedia 1e3", body: with("NumMedia", "1e3"), wantStatus: 400},
		{name: "G-01 eleven media", body: with(append([]string{"NumMedia", "11"}, media(11, "image/png")...)...), wantStatus: 200, wantMedia: 10, wantText: "hello", wantKind: channel.KindPhoto},
		{name: "G-02 metadata host", body: with("NumMedia", "1", "MediaUrl0", "http://169.254.169.254/latest/meta-data/", "MediaContentType0", "image/jpeg"), wantStatus: 200, wantRefused: 1, wantText: "hello", wantKind: channel.KindPhoto},
		{name: "G-02 loopback", body: with("NumMedia", "1", "MediaUrl0", "http://127.0.0.1:6379/", "Body", ""), wantStatus: 200, wantRefused: 1, wantKind: channel.KindOther},
		{name: "G-02 file", body: with("NumMedia", "1", "MediaUrl0", "file:///etc/passwd"), wantStatus: 200, wantRefused: 1, wantText: "hello", wantKind: channel.KindText},
		{name: "G-02 look-alike host", body: with("NumMedia", "1", "MediaUrl0", "https://api.twilio.com.evil.example/x"), wantStatus: 200, wantRefused: 1, wantText: "hello", wantKind: channel.KindText},
		{name: "G-02 plain http", body: with("NumMedia", "1", "MediaUrl0", "http://api.twilio.com/2010-04-01/Accounts/"+testSID+"/Messages/MM1/Media/ME1"), wantStatus: 200, wantRefused: 1, wantText: "hello", wantKind: channel.KindText},
		{name: "G-02 other account", body: with("NumMedia", "1", "MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages/MM1/Media/ME1"), wantStatus: 200, wantRefused: 1, wantText: "hello", wantKind: channel.KindText},
		{name: "H-10 From anonymous", body: with("From", "Anonymous"), wantStatus: 400},
		{name: "H-10 From client", body: with("From", "client:alice"), wantStatus: 400},
		{name: "H-10 From sip", body: with("From", "sip:a@b"), wantStatus: 400},
		{name: "From short code", body: with("From", "900"), wantStatus: 400},
		{name: "From with spaces normalised", body: with("From", "+7 999 000-11-22"), wantStatus: 200, wantText: "hello", wantKind: channel.KindText},
		{name: "missing From", body: with("From", "\x00delete"), wantStatus: 400},
		{name: "missing To", body: with("To", "\x00delete"), wantStatus: 400},
		{name: "MessageSid not a SID", body: with("MessageSid", "SM1"), wantStatus: 400},
		{name: "MessageSid of a call", body: with("MessageSid", "CA11112222333344445555666677778888"), wantStatus: 400},
		{name: "F-06 TwiML in Body", body: with("Body", "</Message><Redirect>https://evil.example/x</Redirect><Message>"), wantStatus: 200, wantText: "</Message><Redirect>https://evil.example/x</Redirect><Message>", wantKind: channel.KindText},
		{name: "bidi and control characters kept", body: with("Body", "\u202Eevil\u202C\r\n\x1b[2J"), wantStatus: 200, wantText: "\u202Eevil\u202C\r\n\x1b[2J", wantKind: channel.KindText},
		{name: "vCard", body: with(append([]string{"NumMedia", "1"}, media(1, "text/vcard")...)...), wantStatus: 200, wantMedia: 1, wantText: "hello", wantKind: channel.KindDocument},
		{name: "empty", body: "", wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(MustNewSMS(t, nil))
			rec := h.Do(channeltest.TwilioRequest(testToken, testPublic, smsPath, tt.body))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d", rec.Code, tt.wantStatus)
			}
			events := h.Recorder.Events()
			if tt.wantStatus != 200 {
				if len(events) != 0 {
					t.Errorf("stored %d events", len(events))
				}
				return
			}
			if len(events) != 1 {
				t.Fatalf("events: got %d, want 1", len(events))
			}
			e := events[0]
			fetched, refused := 0, 0
			for _, m := range e.Media {
				switch {
				case m.Refused == "" && m.ProviderID != "":
					fetched++
				case m.Refused == channel.MediaRefusedHost && m.ProviderID == "":
					refused++
				default:
					t.Errorf("media %+v: neither to fetch nor refused", m)
				}
			}
			if fetched != tt.wantMedia || refused != tt.wantRefused {
				t.Errorf("media: got %d to fetch and %d refused, want %d and %d", fetched, refused, tt.wantMedia, tt.wantRefused)
			}
			if e.Text.Reveal() != tt.wantText {
				t.Errorf("text: got %q, want %q", e.Text.Reveal(), tt.wantText)
			}
			if e.Kind != tt.wantKind {
				t.Errorf("kind: got %s, want %s", e.Kind, tt.wantKind)
			}
			if e.Sender.Reveal() != testFrom {
				t.Errorf("sender: got %q, want %q", e.Sender.Reveal(), testFrom)
			}
		})
	}
}

func TestStatusCallbacks(t *testing.T) {
	sid := "SM11112222333344445555666677778888"
	for _, tt := range []struct {
		status, code string
		wantStatus   int
		want         *channel.Status
	}{
		{"sent", "", 204, &channel.Status{State: "sent"}},
		{"read", "", 204, &channel.Status{State: "read"}},
		{"failed", "21610", 204, &channel.Status{State: "failed", ErrorCode: "21610", Reason: "recipient unsubscribed (STOP)"}},
		{"undelivered", "39999", 204, &channel.Status{State: "failed", ErrorCode: "39999", Reason: "undelivered"}},
		{"queued", "", 204, nil},
		{"sending", "", 204, nil},
		{"exploded", "", 400, nil},
		{"failed", "30003; DROP", 400, nil},
	} {
		t.Run(tt.status+tt.code, func(t *testing.T) {
			h := channeltest.NewHarness(MustNewSMS(t, nil))
			form := channeltest.TwilioStatusForm(testSID, sid, testNumber, testFrom, tt.status, tt.code)
			rec := h.Do(channeltest.TwilioRequest(testToken, testPublic, statusPath, form.Encode()))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d", rec.Code, tt.wantStatus)
			}
			var want []channel.Event
			if tt.want != nil {
				want = []channel.Event{{ID: sid + ":" + tt.status, Type: channel.EventStatus, ProviderMessageID: sid, Status: tt.want}}
			}
			if diff := cmp.Diff(want, h.Recorder.Events()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDuplicate: Twilio's retries and the fallback URL post the same
// MessageSid again; the event id is the same, so it is stored once.
func TestDuplicate(t *testing.T) {
	h := channeltest.NewHarness(MustNewSMS(t, nil))
	body := MustFixture(t, "sms_text")
	for range 3 {
		rec := h.Do(channeltest.TwilioRequest(testToken, testPublic, smsPath, body))
		if rec.Code != 200 || rec.Body.String() != twimlEmpty {
			t.Fatalf("got %d %q", rec.Code, rec.Body)
		}
	}
	if n := len(h.Recorder.Events()); n != 1 {
		t.Errorf("stored %d events, want 1", n)
	}
}

func TestOversized(t *testing.T) {
	h := channeltest.NewHarness(MustNewSMS(t, nil))
	body := "Body=" + strings.Repeat("a", twilio.MaxBody)
	if rec := h.Do(channeltest.TwilioRequest(testToken, testPublic, smsPath, body)); rec.Code != 413 {
		t.Errorf("status: got %d, want 413", rec.Code)
	}
}

func mustSendAdapter(t *testing.T, fake *channeltest.TwilioFake, token string) *twilio.SMS {
	t.Helper()
	a, err := twilio.NewSMS(twilio.Config{
		Name: testName, AccountSID: testSID, AuthToken: token, Number: testNumber,
		PublicURL: testPublic, APIURL: fake.URL(),
	}, channeltest.LoopbackClient())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSend(t *testing.T) {
	fake := channeltest.NewTwilioFake(testSID, testToken)
	defer fake.Close()
	a := mustSendAdapter(t, fake, testToken)
	ctx := context.Background()
	secrets := []string{testToken, testSID, testFrom, "+79990003344", "+79990005566"}

	t.Run("ok", func(t *testing.T) {
		sid, err := a.Send(ctx, testFrom, "Здравствуйте! Мы получили ваше сообщение.")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sid, "SM") || len(sid) != 34 {
			t.Errorf("sid: got %q", sid)
		}
		want := []channeltest.TwilioMessage{{
			SID: sid, From: testNumber, To: testFrom, Body: "Здравствуйте! Мы получили ваше сообщение.",
			StatusCallback: testPublic + statusPath,
		}}
		if diff := cmp.Diff(want, fake.Sent()); diff != "" {
			t.Errorf("sent (-want +got):\n%s", diff)
		}
	})

	for _, tt := range []struct {
		name, to   string
		code       int
		permanent  bool
		retryAfter bool
	}{
		{"21610 unsubscribed", "+79990003344", 21610, true, false},
		{"21211 invalid", "+79990003344", 21211, true, false},
		{"21614 not mobile", "+79990003344", 21614, true, false},
		{"429", "+79990005566", 20429, false, true},
		{"500", "+79990005566", 20500, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake.FailTo(tt.to, tt.code)
			defer fake.FailTo(tt.to, 0)
			n := len(fake.Sent())
			_, err := a.Send(ctx, lifeline.Sensitive(tt.to), "text")
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, channel.ErrPermanent); got != tt.permanent {
				t.Errorf("permanent: got %v, want %v (%v)", got, tt.permanent, err)
			}
			var ra *channel.RetryAfter
			if got := errors.As(err, &ra); got != tt.retryAfter {
				t.Errorf("RetryAfter: got %v, want %v (%v)", got, tt.retryAfter, err)
			} else if got && ra.After <= 0 {
				t.Errorf("RetryAfter.After: got %v", ra.After)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(tt.code)) {
				t.Errorf("error %q does not name code %d", err, tt.code)
			}
			channeltest.MustContainNone(t, "error", err.Error(), append(secrets, tt.to)...)
			if len(fake.Sent()) != n {
				t.Error("a failed send was recorded")
			}
		})
	}

	t.Run("refused before the API", func(t *testing.T) {
		for _, tt := range []struct{ to, text string }{
			{"client:alice", "x"},
			{"Anonymous", "x"},
			{testFrom, ""},
			{testFrom, strings.Repeat("я", twilio.MaxText+1)},
			{testFrom, strings.Repeat("😀", twilio.MaxText/2+1)}, // UTF-16 surrogate pairs
		} {
			n := len(fake.Sent())
			_, err := a.Send(ctx, lifeline.Sensitive(tt.to), tt.text)
			if !errors.Is(err, channel.ErrPermanent) {
				t.Errorf("Send(%q): got %v, want ErrPermanent", tt.to, err)
			}
			if len(fake.Sent()) != n {
				t.Errorf("Send(%q) reached the API", tt.to)
			}
		}
		if _, err := a.Send(ctx, testFrom, strings.Repeat("я", twilio.MaxText)); err != nil {
			t.Errorf("1600 characters: %v", err)
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		bad := mustSendAdapter(t, fake, "ffffffffffffffffffffffffffffffff")
		_, err := bad.Send(ctx, testFrom, "x")
		if err == nil || errors.Is(err, channel.ErrPermanent) {
			t.Errorf("got %v, want a retryable error", err)
		}
		channeltest.MustContainNone(t, "error", err.Error(), append(secrets, "ffffffffffffffffffffffffffffffff")...)
	})

	t.Run("connection refused", func(t *testing.T) {
		gone := channeltest.NewTwilioFake(testSID, testToken)
		b := mustSendAdapter(t, gone, testToken)
		gone.Close()
		_, err := b.Send(ctx, testFrom, "x")
		if err == nil || errors.Is(err, channel.ErrPermanent) {
			t.Fatalf("got %v, want a retryable error", err)
		}
		channeltest.MustContainNone(t, "error", err.Error(), append(secrets, "Messages.json", "Accounts")...)
	})

	t.Run("canceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := a.Send(cctx, testFrom, "x")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
}

func TestMedia(t *testing.T) {
	fake := channeltest.NewTwilioFake(testSID, testToken)
	defer fake.Close()
	a := mustSendAdapter(t, fake, testToken)
	ctx := context.Background()
	jpeg := []byte("\xff\xd8\xff\xe0 invented jpeg")
	mm := "MM11112222333344445555666677778888"
	u := fake.AddMedia(mm, "image/jpeg", jpeg)

	// The media URL as Twilio posts it passes the adapter's allow-list.
	form := channeltest.TwilioSMSForm(channeltest.TwilioSMS{
		MessageSID: mm, AccountSID: testSID, From: testFrom, To: testNumber,
		Media: []channeltest.TwilioMedia{{URL: u, ContentType: "image/jpeg"}},
	})
	h := channeltest.NewHarness(a)
	if rec := h.Do(channeltest.TwilioRequest(testToken, testPublic, smsPath, form.Encode())); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	events := h.Recorder.Events()
	if len(events) != 1 || len(events[0].Media) != 1 || events[0].Media[0].ProviderID != u {
		t.Fatalf("events: %+v", events)
	}

	data, ct, err := a.FetchMedia(ctx, u, 1<<20)
	if err != nil || string(data) != string(jpeg) || ct != "image/jpeg" {
		t.Fatalf("FetchMedia: got %q, %q, %v", data, ct, err)
	}
	if _, _, err := a.FetchMedia(ctx, u, 4); !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("over the limit: got %v, want ErrPermanent", err)
	}
	for _, evil := range []string{"http://169.254.169.254/latest/meta-data/", "file:///etc/passwd", strings.Replace(u, testSID, "AC00000000000000000000000000000000", 1)} {
		if _, _, err := a.FetchMedia(ctx, evil, 1<<20); !errors.Is(err, channel.ErrPermanent) {
			t.Errorf("FetchMedia(%s): got %v, want refusal", evil, err)
		}
	}
	if err := a.DeleteMedia(ctx, u); err != nil {
		t.Fatalf("DeleteMedia: %v", err)
	}
	if err := a.DeleteMedia(ctx, u); err != nil {
		t.Errorf("DeleteMedia again (404 is gone): %v", err)
	}
	if _, _, err := a.FetchMedia(ctx, u, 1<<20); !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("FetchMedia after delete: got %v, want 404 as permanent", err)
	}
	if err := a.DeleteMessage(ctx, mm); err != nil {
		t.Errorf("DeleteMessage: %v", err)
	}
	if got := len(fake.Deleted()); got != 2 {
		t.Errorf("deleted: got %d, want 2", got)
	}
}

func TestURLs(t *testing.T) {
	a := MustNewSMS(t, func(c *twilio.Config) { c.PublicURL = "https://hotline.example/" })
	if got, want := a.WebhookURL(), testPublic+smsPath; got != want {
		t.Errorf("WebhookURL: got %s, want %s", got, want)
	}
	if got, want := a.StatusCallbackURL(), testPublic+statusPath; got != want {
		t.Errorf("StatusCallbackURL: got %s, want %s", got, want)
	}
	if a.Kind() != lifeline.ChannelSMS || a.Name() != testName || a.MaxBody() != 256<<10 || a.MalformedStatus() != 400 {
		t.Error("adapter constants")
	}
}

// TestMediaOnTwilioHostFetchedThroughAPIBase: with an API base configured
// (a fake, an egress proxy with a path), a MediaUrl on api.twilio.com is
// fetched and deleted at the same path on that base, with the account's
// credentials; nothing goes to api.twilio.com itself (the loopback-only
// client would refuse it).
func TestMediaOnTwilioHostFetchedThroughAPIBase(t *testing.T) {
	fake := channeltest.NewTwilioFake(testSID, testToken)
	defer fake.Close()
	proxy := httptest.NewServer(http.StripPrefix("/egress/twilio", fake.Server.Config.Handler))
	defer proxy.Close()
	ctx := context.Background()
	for _, base := range []string{fake.URL(), proxy.URL + "/egress/twilio"} {
		a := MustNewSMS(t, func(c *twilio.Config) { c.APIURL = base })
		mm := channeltest.TwilioSID("MM")
		jpeg := []byte("\xff\xd8\xff\xe0 invented jpeg")
		onTwilio := "https://api.twilio.com" + strings.TrimPrefix(fake.AddMedia(mm, "image/jpeg", jpeg), fake.URL())

		form := channeltest.TwilioSMSForm(channeltest.TwilioSMS{
			MessageSID: mm, AccountSID: testSID, From: testFrom, To: testNumber,
			Media: []channeltest.TwilioMedia{{URL: onTwilio, ContentType: "image/jpeg"}},
		})
		h := channeltest.NewHarness(a)
		if rec := h.Do(channeltest.TwilioRequest(testToken, testPublic, smsPath, form.Encode())); rec.Code != 200 {
			t.Fatalf("%s: status %d", base, rec.Code)
		}
		e := h.Recorder.Events()[0]
		if len(e.Media) != 1 || e.Media[0].ProviderID != onTwilio || e.Media[0].Refused != "" || e.Kind != channel.KindPhoto {
			t.Fatalf("%s: event %+v, want one photo to fetch", base, e)
		}
		data, _, err := a.FetchMedia(ctx, onTwilio, 1<<20)
		if err != nil || string(data) != string(jpeg) {
			t.Fatalf("%s: FetchMedia: %q, %v", base, data, err)
		}
		if err := a.DeleteMedia(ctx, onTwilio); err != nil {
			t.Fatalf("%s: DeleteMedia: %v", base, err)
		}
		if d := fake.Deleted(); len(d) == 0 || !strings.Contains(d[len(d)-1], mm) {
			t.Errorf("%s: deleted %q, want the media of %s", base, d, mm)
		}
		// The base's own host with the base's path is the account's too;
		// without the path (past the proxy), or on another host, it is not.
		if base != fake.URL() {
			for _, evil := range []string{
				strings.Replace(onTwilio, "https://api.twilio.com", proxy.URL, 1),
				strings.Replace(onTwilio, "https://api.twilio.com", "https://api.twilio.com.evil.example", 1),
			} {
				if _, _, err := a.FetchMedia(ctx, evil, 1<<20); !errors.Is(err, channel.ErrPermanent) {
					t.Errorf("FetchMedia(%s): got %v, want refusal", evil, err)
				}
			}
		}
	}
}

// TestOptOutKeywords: Twilio's OptOutType decides when present; otherwise
// a body that is exactly one of Twilio's opt-out or opt-in keywords does.
// The message itself is kept either way.
func TestOptOutKeywords(t *testing.T) {
	for _, tt := range []struct {
		name, body, optOutType, want string
	}{
		{"OptOutType STOP", "STOP", "STOP", channel.OptOutStop},
		{"OptOutType STOP on a custom keyword", "хватит", "STOP", channel.OptOutStop},
		{"OptOutType START", "START", "START", channel.OptOutStart},
		{"OptOutType HELP", "HELP", "HELP", ""},
		{"stop in lower case with spaces", "  stop ", "", channel.OptOutStop},
		{"UNSUBSCRIBE", "Unsubscribe", "", channel.OptOutStop},
		{"QUIT", "QUIT", "", channel.OptOutStop},
		{"UNSTOP", "unstop", "", channel.OptOutStart},
		{"a sentence with stop in it is no keyword", "stop the shelling please", "", ""},
		{"Russian стоп is no Twilio keyword", "стоп", "", ""},
		{"ordinary text", "hello", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(MustNewSMS(t, nil))
			f := smsForm(hostileSID, tt.body)
			if tt.optOutType != "" {
				f.Set("OptOutType", tt.optOutType)
			}
			if rec := h.Do(channeltest.TwilioRequest(testToken, testPublic, smsPath, f.Encode())); rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			e := h.Recorder.Events()
			if len(e) != 1 || e[0].OptOut != tt.want || e[0].Text.Reveal() != tt.body {
				t.Fatalf("events %+v, want the message with opt-out %q", e, tt.want)
			}
		})
	}
}
