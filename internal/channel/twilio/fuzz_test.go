// SPDX-License-Identifier: AGPL-3.0-or-later

package twilio_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/twilio"
)

var fixedError = regexp.MustCompile(`^twilio: [A-Za-z0-9 .]{1,40}: malformed webhook payload$`)

// FuzzParse feeds any body to Parse at both endpoints (as if it were
// authentic): it must not panic, and what it accepts must be well formed.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.TrimSpace(string(b)), true)
		f.Add(strings.TrimSpace(string(b)), false)
	}
	f.Add("MessageSid=SM11112222333344445555666677778888&From=%2B79990001122&To=%2B447700900123&Body=%FF%FE&NumMedia=999999999", true)
	f.Add("MessageSid=SM11112222333344445555666677778888&MessageStatus=failed&ErrorCode=30003", false)
	f.Add("Body=%zz&Body=a&NumMedia=-1", true)
	a := MustNewSMS(f, nil)
	f.Fuzz(func(t *testing.T, body string, sms bool) {
		req, err := http.NewRequest(http.MethodPost, "/hooks/sms/hotline/x", strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		endpoint := twilio.EndpointStatus
		if sms {
			endpoint = twilio.EndpointSMS
		}
		req.SetPathValue("endpoint", endpoint)
		batch, err := a.Parse(req, []byte(body))
		if err != nil {
			if len(batch.Events) != 0 {
				t.Fatal("events with an error")
			}
			// Only fixed descriptions: never the input.
			if !fixedError.MatchString(err.Error()) {
				t.Fatalf("error not a fixed description: %q", err)
			}
			return
		}
		for _, e := range batch.Events {
			if e.ID == "" || e.ProviderMessageID == "" {
				t.Fatalf("event without id: %+v", e)
			}
			switch e.Type {
			case channel.EventMessage:
				if s := e.Sender.Reveal(); !strings.HasPrefix(s, "+") || len(s) < 7 || len(s) > 16 {
					t.Fatalf("sender not E.164: %q", s)
				}
				if !utf8.ValidString(e.Text.Reveal()) || strings.IndexByte(e.Text.Reveal(), 0) >= 0 {
					t.Fatal("text not UTF-8 without NUL")
				}
				if len(e.Media) > twilio.MaxMedia {
					t.Fatalf("%d media", len(e.Media))
				}
				for _, m := range e.Media {
					if (m.Refused == "") == (m.ProviderID == "") {
						t.Fatalf("media %+v: a refused file keeps no URL, a fetched one has one", m)
					}
				}
				if e.OptOut != "" && e.OptOut != channel.OptOutStop && e.OptOut != channel.OptOutStart {
					t.Fatalf("opt-out %q", e.OptOut)
				}
			case channel.EventStatus:
				if e.Status == nil || e.Status.State == "" {
					t.Fatal("status event without a status")
				}
			default:
				t.Fatalf("event type %q", e.Type)
			}
		}
	})
}

// FuzzSignature checks the adapter's signature against the independent
// one in channeltest, that param order never matters, and that Verify
// accepts exactly what is signed for the public URL and the query.
func FuzzSignature(f *testing.F) {
	f.Add("https://mycompany.com/myapp.php?foo=1&bar=2", "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212", "foo=1&bar=2")
	f.Add("https://hotline.example:8443/x", "Body=a&Body=b&Body=a&B=&Caller=1&CallerCity=2", "")
	f.Add("http://h/", "Body=%D0%B9&%FF=%00", "bodySHA256=00")
	f.Add("", "a=1;b=2&=&&", "c=%zz")
	a := MustNewSMS(f, nil)
	f.Fuzz(func(t *testing.T, fullURL, body, query string) {
		params, _ := url.ParseQuery(body)
		got := twilio.Signature(testToken, fullURL, params)
		if want := channeltest.SignTwilio(testToken, fullURL, params); got != want {
			t.Fatalf("Signature %s, SignTwilio %s", got, want)
		}
		reordered := url.Values{}
		for k, vs := range params {
			for i := len(vs) - 1; i >= 0; i-- {
				reordered.Add(k, vs[i])
			}
		}
		if again := twilio.Signature(testToken, fullURL, reordered); again != got {
			t.Fatal("value order changed the signature")
		}

		req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1"+smsPath, strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		signed := testPublic + smsPath
		if query != "" {
			signed += "?" + query
		}
		req.Header.Set("X-Twilio-Signature", twilio.Signature(testToken, signed, params))
		if err := a.Verify(req, []byte(body)); err != nil {
			t.Fatalf("Verify rejected a signed request: %v", err)
		}
		req.Header.Set("X-Twilio-Signature", twilio.Signature(testToken, signed+"x", params))
		if err := a.Verify(req, []byte(body)); err == nil {
			t.Fatal("Verify accepted a request signed for another URL")
		}
	})
}
