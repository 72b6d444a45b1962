// SPDX-License-Identifier: AGPL-3.0-or-later

package whatsapp_test

import (
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
)

func addFixtureSeeds(f *testing.F, add func(body []byte)) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, name := range files {
		add(mustFixture(f, filepath.Base(name)))
	}
}

// FuzzParse: no authentic body makes Parse panic, and what it returns keeps
// the contract: an error wraps ErrMalformed; events have ids, types and
// valid UTF-8 text.
func FuzzParse(f *testing.F) {
	addFixtureSeeds(f, func(b []byte) { f.Add(b) })
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"` +
		testPhoneNumberID + `"},"messages":[{"from":"15550100001","id":"w","timestamp":1,"type":"location","location":{"latitude":"1e2","longitude":-0}}]}}]}]}`))
	f.Add([]byte("\xEF\xBB\xBF{}"))
	a := mustAdapter(f, "")
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := a.Parse(nil, body)
		if err != nil {
			if !errors.Is(err, channel.ErrMalformed) || len(b.Events) != 0 {
				t.Fatalf("error %v with %d events", err, len(b.Events))
			}
			return
		}
		if (len(b.Events) == 0) == (b.Ignored == "") {
			t.Fatalf("%d events, ignored %q", len(b.Events), b.Ignored)
		}
		seen := map[string]bool{}
		for _, e := range b.Events {
			if e.ID == "" || seen[e.ID] || len(e.ID) > 300 || e.ProviderMessageID == "" || e.Time.IsZero() {
				t.Fatalf("bad event id %q / %q, time %v", e.ID, e.ProviderMessageID, e.Time)
			}
			seen[e.ID] = true
			switch e.Type {
			case channel.EventMessage, channel.EventCallback, channel.EventEdit:
				if e.Sender.IsEmpty() {
					t.Fatal("message without a sender")
				}
				// A message names itself, an edit the message it edits, a
				// callback nothing: what intake dedupes and finds by.
				switch want := e.ProviderMessageID; {
				case e.Type == channel.EventCallback && !e.MessageRef.IsEmpty():
					t.Fatal("callback names a message")
				case e.Type == channel.EventMessage && (e.MessageRef.Reveal() != e.ID || want != e.ID):
					t.Fatalf("message names %q, want its own id", e.MessageRef.Reveal())
				case e.Type == channel.EventEdit && (e.MessageRef.Reveal() != want || want == e.ID || len(e.Media) > 0):
					t.Fatalf("edit names %q, want another message's id and no media", e.MessageRef.Reveal())
				}
			case channel.EventStatus:
				if e.Status == nil || !strings.HasPrefix(e.ID, e.ProviderMessageID+":") {
					t.Fatalf("bad status %+v", e)
				}
			default:
				t.Fatalf("type %q", e.Type)
			}
			for _, s := range []string{e.Text.Reveal(), e.SenderName.Reveal(), e.Sender.Reveal()} {
				if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
					t.Fatalf("unsafe text %q", s)
				}
			}
			for _, m := range e.Media {
				if m.ProviderID == "" || strings.ContainsAny(m.ProviderID, "/.?#%") {
					t.Fatalf("media id %q", m.ProviderID)
				}
			}
		}
	})
}

// FuzzVerify: Verify accepts exactly the HMAC of the body under the app
// secret, and a correctly signed body always passes.
func FuzzVerify(f *testing.F) {
	addFixtureSeeds(f, func(b []byte) {
		f.Add(b, channeltest.SignWhatsApp(b, testAppSecret))
		f.Add(b, channeltest.SignWhatsApp(b, "other"))
	})
	f.Add([]byte{}, "")
	f.Add([]byte("x"), "sha256=")
	a := mustAdapter(f, "")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		want := channeltest.SignWhatsApp(body, testAppSecret)
		r := httptest.NewRequest("POST", hookPath, nil)
		r.Header.Set("X-Hub-Signature-256", header)
		err := a.Verify(r, body)
		ok := strings.HasPrefix(header, "sha256=") && strings.EqualFold(header, want)
		if (err == nil) != ok {
			t.Fatalf("header %q: err %v, want ok=%v", header, err, ok)
		}
		if err != nil && !errors.Is(err, channel.ErrUnauthorized) {
			t.Fatalf("error %v", err)
		}
		r.Header.Set("X-Hub-Signature-256", want)
		if err := a.Verify(r, body); err != nil {
			t.Fatalf("valid signature refused: %v", err)
		}
	})
}
