// SPDX-License-Identifier: AGPL-3.0-or-later

package whatsapp_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/channeltest"
	"github.com/lifeline-hotline/lifeline/internal/channel/whatsapp"
)

// Invented test configuration; the fixtures in testdata use the same ids.
const (
	testName          = "wa1"
	testPhoneNumberID = "106540352242922"
	testAppSecret     = "test-app-secret-3b9f0c1e"
	testVerifyToken   = "test-verify-token"
	testAccessToken   = "EAAtestACCESStokenMUSTneverLEAK0123456789"
	hookPath          = "/hooks/whatsapp/" + testName

	userA = "15550100001"
	userB = "15550100002"
	userC = "15550100003"
)

var testTime = time.Unix(1750000000, 0).UTC()

// wamid is the invented wamid the fixtures carry for (sender, n).
func wamid(from string, n int) string {
	raw := from + "\x15\x02\x00\x12\x18\x14" + fmt.Sprintf("3EB0%016X", n)
	return "wamid.HBgL" + base64.StdEncoding.EncodeToString([]byte(raw))
}

func mustAdapter(tb testing.TB, apiURL string) *whatsapp.Adapter {
	tb.Helper()
	a, err := whatsapp.New(whatsapp.Config{
		Name: testName, PhoneNumberID: testPhoneNumberID, AccessToken: testAccessToken,
		AppSecret: testAppSecret, VerifyToken: testVerifyToken, APIURL: apiURL,
	}, channeltest.LoopbackClient())
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return a
}

func mustFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func signedPost(body []byte) *http.Request {
	return channeltest.WhatsAppWebhookRequest(hookPath, body, testAppSecret)
}

func msgEvent(id, from, name string, kind channel.MessageKind, text string) channel.Event {
	return channel.Event{
		ID: id, Type: channel.EventMessage, Kind: kind,
		Sender: lifeline.Sensitive(from), SenderName: lifeline.Sensitive(name), Text: lifeline.Sensitive(text),
		ProviderMessageID: id, MessageRef: lifeline.Sensitive(id), Time: testTime,
	}
}

func statusEvent(state, code, reason string) channel.Event {
	id := wamid(userA, 500)
	return channel.Event{
		ID: id + ":" + state, Type: channel.EventStatus, Sender: userA, ProviderMessageID: id,
		Status: &channel.Status{State: state, ErrorCode: code, Reason: reason}, Time: time.Unix(1750000100, 0).UTC(),
	}
}

func withMedia(e channel.Event, id, mime string) channel.Event {
	e.Media = []channel.Media{{ProviderID: id, MIME: mime}}
	return e
}

// revealAll makes cmp show Sensitive values in diffs (tests only).
var revealAll = cmp.Transformer("reveal", func(s lifeline.Sensitive) string { return s.Reveal() })

func TestFixtures(t *testing.T) {
	batchC := msgEvent(wamid(userC, 4), userC, "Cyril", channel.KindText, "third")
	batchC.Time = time.Unix(1750000005, 0).UTC()
	button := msgEvent(wamid(userA, 10), userA, "Alex", "", "lang:ru")
	button.Type, button.MessageRef = channel.EventCallback, ""
	list := msgEvent(wamid(userA, 11), userA, "Alex", "", "topic:surrender")
	list.Type, list.MessageRef = channel.EventCallback, ""
	// An edit names the message edited (original_message_id) and carries
	// the new text; its own wamid is the event's.
	edited := msgEvent(wamid(userA, 30), userA, "Alex", channel.KindText, "Hello, we are three. How?")
	edited.Type, edited.ProviderMessageID, edited.MessageRef = channel.EventEdit, wamid(userA, 1), lifeline.Sensitive(wamid(userA, 1))
	editedCaption := msgEvent(wamid(userA, 31), userA, "Alex", channel.KindPhoto, "my unit's position, north side")
	editedCaption.Type, editedCaption.ProviderMessageID, editedCaption.MessageRef = channel.EventEdit, wamid(userA, 5), lifeline.Sensitive(wamid(userA, 5))
	tmplButton := msgEvent(wamid(userA, 12), userA, "Alex", "", "continue")
	tmplButton.Type, tmplButton.MessageRef = channel.EventCallback, ""
	loc := msgEvent(wamid(userA, 8), userA, "Alex", channel.KindLocation, "Bus stop\nMain street 1")
	loc.Location = &channel.Location{Latitude: "48.4647", Longitude: "35.0462"}
	bsuid := "US.13491208655302741918"

	tests := []struct {
		fixture     string
		want        []channel.Event
		quarantined bool
	}{
		{"text.json", []channel.Event{msgEvent(wamid(userA, 1), userA, "Alex", channel.KindText, "Hello, I want to surrender. How?")}, false},
		{"batch_of_three.json", []channel.Event{
			msgEvent(wamid(userA, 2), userA, "Alex", channel.KindText, "first"),
			msgEvent(wamid(userB, 3), userB, "Boris", channel.KindText, "second"),
			batchC,
		}, false},
		{"image.json", []channel.Event{withMedia(msgEvent(wamid(userA, 5), userA, "Alex", channel.KindPhoto, "my unit's position"), "1003383421387256", "image/jpeg")}, false},
		{"video.json", []channel.Event{withMedia(msgEvent(wamid(userA, 15), userA, "Alex", channel.KindVideo, ""), "1210988765432109", "video/mp4")}, false},
		{"sticker.json", []channel.Event{withMedia(msgEvent(wamid(userA, 16), userA, "Alex", channel.KindSticker, ""), "1409876543210987", "image/webp")}, false},
		{"voice_audio.json", []channel.Event{withMedia(msgEvent(wamid(userA, 6), userA, "Alex", channel.KindVoice, ""), "2751637412346789", "audio/ogg; codecs=opus")}, false},
		{"document.json", []channel.Event{withMedia(msgEvent(wamid(userA, 7), userA, "Alex", channel.KindDocument, "scan"), "1190822345678901", "application/pdf")}, false},
		{"location.json", []channel.Event{loc}, false},
		{"contacts.json", []channel.Event{msgEvent(wamid(userA, 9), userA, "Alex", channel.KindContact, "Maria: +1 555 010 0009")}, false},
		{"interactive_button_reply.json", []channel.Event{button}, false},
		{"interactive_list_reply.json", []channel.Event{list}, false},
		{"button.json", []channel.Event{tmplButton}, false},
		{"status_sent.json", []channel.Event{statusEvent("sent", "", "")}, false},
		{"status_delivered.json", []channel.Event{statusEvent("delivered", "", "")}, false},
		{"status_read.json", []channel.Event{statusEvent("read", "", "")}, false},
		{"status_failed.json", []channel.Event{statusEvent("failed", "131047", "Re-engagement message")}, false},
		{"status_played.json", nil, false},
		{"other_phone_number_id.json", nil, false},
		{"reaction.json", nil, false},
		{"system.json", nil, false},
		{"account_update.json", nil, false},
		{"value_errors.json", nil, false},
		{"unsupported.json", []channel.Event{msgEvent(wamid(userA, 17), userA, "Alex", channel.KindOther, "")}, false},
		{"bsuid_only.json", []channel.Event{msgEvent(wamid(bsuid, 22), bsuid, "Anon", channel.KindText, "hello without a phone")}, false},
		{"duplicate_in_body.json", []channel.Event{msgEvent(wamid(userA, 23), userA, "Alex", channel.KindText, "twice")}, false},
		{"edit.json", []channel.Event{edited}, false},
		{"edit_of_caption.json", []channel.Event{editedCaption}, false},
		{"edit_unreadable.json", []channel.Event{msgEvent(wamid(userA, 32), userA, "Alex", channel.KindOther, "")}, false},
		{"non_ascii_text.json", []channel.Event{msgEvent(wamid(userA, 21), userA, "Иван Петров 🇷🇺", channel.KindText, "Здравствуйте! Хочу сдаться 🙏🏻 äöå")}, false},
		{"missing_wamid.json", nil, true},
		{"wrong_types.json", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			h := channeltest.NewHarness(mustAdapter(t, ""))
			rec := h.Do(signedPost(mustFixture(t, tt.fixture)))
			if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
				t.Fatalf("got %d %q, want an empty 200", rec.Code, rec.Body.String())
			}
			if diff := cmp.Diff(tt.want, h.Recorder.Events(), revealAll); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if got := h.Quarantine.Len() == 1; got != tt.quarantined {
				t.Errorf("quarantined: got %v, want %v", got, tt.quarantined)
			}
		})
	}
}

// Every fixture is escaped as Meta sends it: no raw non-ASCII byte, and
// "/" as "\/" where there is one.
func TestFixturesAreMetaEscaped(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) < 20 {
		t.Fatalf("got %d fixtures", len(files))
	}
	for _, f := range files {
		b := mustFixture(t, filepath.Base(f))
		for _, c := range b {
			if c >= utf8.RuneSelf {
				t.Errorf("%s: raw non-ASCII byte", f)
				break
			}
		}
	}
	if !bytes.Contains(mustFixture(t, "image.json"), []byte(`https:\/\/`)) {
		t.Error(`image.json: want Meta's \/ escapes`)
	}
}

// HOSTILE-INPUTS B-05, B-06, B-07 and SECURITY.md S-05.
func TestVerifySignatureVectors(t *testing.T) {
	body := mustFixture(t, "text.json")
	nonASCII := mustFixture(t, "non_ascii_text.json")
	valid := channeltest.SignWhatsApp(body, testAppSecret)

	// Decoding and re-encoding Meta's escaped body writes literal UTF-8:
	// other bytes, so the signature Meta computed no longer matches.
	var v any
	if err := json.Unmarshal(nonASCII, &v); err != nil {
		t.Fatal(err)
	}
	reserialised, _ := json.Marshal(v)
	if bytes.Equal(reserialised, nonASCII) {
		t.Fatal("re-serialising did not change the bytes")
	}
	var pretty bytes.Buffer
	json.Indent(&pretty, body, "", "  ")
	flipped := bytes.Clone(body)
	flipped[len(flipped)/2] ^= 0x01
	sha1mac := hmac.New(sha1.New, []byte(testAppSecret))
	sha1mac.Write(body)
	sha1sig := "sha1=" + hex.EncodeToString(sha1mac.Sum(nil))

	tests := []struct {
		name   string
		body   []byte
		header []string // X-Hub-Signature-256 values
		legacy string   // X-Hub-Signature
		want   int
	}{
		{"valid", body, []string{valid}, "", 200},
		{"valid, uppercase hex", body, []string{"sha256=" + strings.ToUpper(strings.TrimPrefix(valid, "sha256="))}, "", 200},
		{"non-ASCII raw bytes as sent", nonASCII, []string{channeltest.SignWhatsApp(nonASCII, testAppSecret)}, "", 200},
		{"literal UTF-8 form signed over its own bytes", reserialised, []string{channeltest.SignWhatsApp(reserialised, testAppSecret)}, "", 200},
		{"non-ASCII body re-serialised", reserialised, []string{channeltest.SignWhatsApp(nonASCII, testAppSecret)}, "", 401},
		{"1-bit flip in the body", flipped, []string{valid}, "", 401},
		{"missing header", body, nil, "", 401},
		{"header doubled, both valid", body, []string{valid, valid}, "", 401},
		{"header doubled, wrong then valid", body, []string{"sha256=" + strings.Repeat("0", 64), valid}, "", 401},
		{"wrong secret", body, []string{channeltest.SignWhatsApp(body, testAppSecret+"x")}, "", 401},
		{"empty secret", body, []string{channeltest.SignWhatsApp(body, "")}, "", 401},
		{"truncated signature", body, []string{valid[:len(valid)-1]}, "", 401},
		{"truncated to half", body, []string{valid[:7+32]}, "", 401},
		{"signature with an extra byte", body, []string{valid + "0"}, "", 401},
		{"no sha256= prefix", body, []string{strings.TrimPrefix(valid, "sha256=")}, "", 401},
		{"SHA256= prefix", body, []string{"SHA256=" + strings.TrimPrefix(valid, "sha256=")}, "", 401},
		{"sha1= prefix in the -256 header", body, []string{sha1sig}, "", 401},
		{"only the legacy sha1 header", body, nil, sha1sig, 401},
		{"empty header", body, []string{""}, "", 401},
		{"prefix only", body, []string{"sha256="}, "", 401},
		{"non-hex digest", body, []string{"sha256=" + strings.Repeat("zz", 32)}, "", 401},
		{"trailing newline added", append(bytes.Clone(body), '\n'), []string{valid}, "", 401},
		{"pretty-printed", pretty.Bytes(), []string{valid}, "", 401},
		{"base64 digest", body, []string{"sha256=" + base64.StdEncoding.EncodeToString(mustHex(t, strings.TrimPrefix(valid, "sha256=")))}, "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(mustAdapter(t, ""))
			req := httptest.NewRequest(http.MethodPost, hookPath, bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			for _, v := range tt.header {
				req.Header.Add("X-Hub-Signature-256", v)
			}
			if tt.legacy != "" {
				req.Header.Set("X-Hub-Signature", tt.legacy)
			}
			rec := h.Do(req)
			if rec.Code != tt.want {
				t.Fatalf("got %d, want %d", rec.Code, tt.want)
			}
			stored := len(h.Recorder.Events())
			if tt.want == 401 {
				if stored != 0 || h.Quarantine.Len() != 0 {
					t.Errorf("stored %d, quarantined %d after a 401", stored, h.Quarantine.Len())
				}
				channeltest.MustContainNone(t, "401 body", rec.Body.String(), testAppSecret, strings.TrimPrefix(valid, "sha256="))
			} else if stored != 1 {
				t.Errorf("stored %d events, want 1", stored)
			}
		})
	}
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// HOSTILE-INPUTS A-03: Meta documents payloads up to 3 MB; one of 2.8 MB
// (466,000 × "я", escaped as \u044f) is accepted.
func TestLargeSignedPayloadAccepted(t *testing.T) {
	text := strings.Repeat("я", 466_000)
	body := channeltest.WhatsAppTextWebhook(testPhoneNumberID, userA, "Alex", wamid(userA, 30), text, testTime.Unix())
	if len(body) < 2_790_000 || len(body) > 3_000_000 {
		t.Fatalf("body is %d bytes, want about 2.8 MB", len(body))
	}
	h := channeltest.NewHarness(mustAdapter(t, ""))
	if rec := h.Do(signedPost(body)); rec.Code != http.StatusOK {
		t.Fatalf("got %d, want 200", rec.Code)
	}
	ev := h.Recorder.Events()
	if len(ev) != 1 || ev[0].Text.Reveal() != text {
		t.Fatalf("got %d events, want the whole text once", len(ev))
	}
}

// HOSTILE-INPUTS A-02 for Meta: a valid signature does not lift the cap.
func TestOversizedBody(t *testing.T) {
	body := bytes.Repeat([]byte(" "), whatsapp.MaxBody+1)
	h := channeltest.NewHarness(mustAdapter(t, ""))
	if rec := h.Do(signedPost(body)); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d, want 413", rec.Code)
	}
	if n := len(h.Recorder.Events()); n != 0 {
		t.Errorf("stored %d", n)
	}
}

// HOSTILE-INPUTS E-02, E-03: Meta's retries and duplicates store once,
// under the same Event.ID.
func TestDuplicatesStableID(t *testing.T) {
	a := mustAdapter(t, "")
	h := channeltest.NewHarness(a)
	body := mustFixture(t, "text.json")
	var ids []string
	for range 3 {
		if rec := h.Do(signedPost(body)); rec.Code != http.StatusOK {
			t.Fatalf("got %d", rec.Code)
		}
		b, err := a.Parse(nil, body)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.Events[0].ID)
	}
	// The same message again, inside a batch with another.
	batch := channeltest.WhatsAppBatch(testPhoneNumberID,
		channeltest.WhatsAppMessage{WaID: userB, Name: "Boris", WAMID: wamid(userB, 40), Text: "new", Timestamp: testTime.Unix()},
		channeltest.WhatsAppMessage{WaID: userA, Name: "Alex", WAMID: wamid(userA, 1), Text: "Hello, I want to surrender. How?", Timestamp: testTime.Unix()},
	)
	if rec := h.Do(signedPost(batch)); rec.Code != http.StatusOK {
		t.Fatalf("got %d", rec.Code)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] || ids[0] != wamid(userA, 1) {
		t.Errorf("ids %q, want the wamid each time", ids)
	}
	if n := len(h.Recorder.Events()); n != 2 {
		t.Errorf("stored %d events, want 2", n)
	}
	// Each state of a status is its own event; a repeated state is not.
	for _, f := range []string{"status_read.json", "status_delivered.json", "status_read.json"} {
		h.Do(signedPost(mustFixture(t, f)))
	}
	if n := len(h.Recorder.Events()); n != 4 {
		t.Errorf("stored %d events, want 4", n)
	}
}

// HOSTILE-INPUTS C, D: authentic but hostile bodies never make a 5xx and
// never panic; what can be kept is kept, safely.
func TestHostileBodies(t *testing.T) {
	text := string(mustFixture(t, "text.json"))
	msg := func(m string) string {
		return `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"` +
			testPhoneNumberID + `"},"messages":[` + m + `]}}]}]}`
	}
	id := `"id":"wamid.X1"`
	tests := []struct {
		name        string
		body        string
		events      int
		quarantined bool
		check       func(t *testing.T, e []channel.Event)
	}{
		{"invalid UTF-8 in the text", strings.Replace(text, "How?", "ok \xC3\x28 bad", 1), 1, false, func(t *testing.T, e []channel.Event) {
			if s := e[0].Text.Reveal(); !utf8.ValidString(s) || !strings.Contains(s, "\uFFFD") {
				t.Errorf("text not sanitised: %q", s)
			}
		}},
		{"NUL escape", msg(`{"from":"15550100001",` + id + `,"timestamp":"1","type":"text","text":{"body":"a\u0000b"}}`), 1, false, func(t *testing.T, e []channel.Event) {
			if s := e[0].Text.Reveal(); s != "a\uFFFDb" {
				t.Errorf("got %q", s)
			}
		}},
		{"lone surrogates", msg(`{"from":"15550100001",` + id + `,"timestamp":"1","type":"text","text":{"body":"\ud800 \udfff\ud800"}}`), 1, false, nil},
		{"BOM", "\xEF\xBB\xBF" + text, 0, true, nil},
		{"not JSON", "hello", 0, true, nil},
		{"empty body", "", 0, true, nil},
		{"nesting bomb", `{"object":"whatsapp_business_account","entry":[{"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}]}`, 0, true, nil},
		{"100000 empty entries", `{"object":"whatsapp_business_account","entry":[` + strings.TrimSuffix(strings.Repeat("{},", 100000), ",") + `]}`, 0, false, nil},
		{"object page", `{"object":"page","entry":[]}`, 0, false, nil},
		{"entry empty", `{"object":"whatsapp_business_account","entry":[]}`, 0, false, nil},
		{"changes missing", `{"object":"whatsapp_business_account","entry":[{"id":"1"}]}`, 0, false, nil},
		{"value null", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":null}]}]}`, 0, false, nil},
		{"messages an object", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"` + testPhoneNumberID + `"},"messages":{}}}]}]}`, 0, true, nil},
		{"metadata missing", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"15550100001",` + id + `,"timestamp":"1","type":"text","text":{"body":"x"}}]}}]}]}`, 0, false, nil},
		{"text without text", msg(`{"from":"15550100001",` + id + `,"timestamp":"1","type":"text"}`), 1, false, kindIs(channel.KindOther)},
		{"image without image", msg(`{"from":"15550100001",` + id + `,"timestamp":"1","type":"image"}`), 1, false, kindIs(channel.KindOther)},
		{"unknown type", msg(`{"from":"15550100001",` + id + `,"timestamp":"1","type":"hologram","hologram":{}}`), 1, false, kindIs(channel.KindOther)},
		{"interactive nfm_reply", msg(`{"from":"15550100001",` + id + `,"timestamp":"1","type":"interactive","interactive":{"type":"nfm_reply"}}`), 1, false, kindIs(channel.KindOther)},
		{"media id with a path", msg(`{"from":"15550100001",` + id + `,"timestamp":"1","type":"image","image":{"id":"../../me","url":"http://169.254.169.254/"}}`), 1, false, func(t *testing.T, e []channel.Event) {
			if e[0].Kind != channel.KindPhoto || len(e[0].Media) != 0 {
				t.Errorf("got kind %s, media %v; want a photo without media", e[0].Kind, e[0].Media)
			}
		}},
		{"timestamp a number", msg(`{"from":"15550100001",` + id + `,"timestamp":1750000000,"type":"text","text":{"body":"x"}}`), 1, false, func(t *testing.T, e []channel.Event) {
			if !e[0].Time.Equal(testTime) {
				t.Errorf("time %v", e[0].Time)
			}
		}},
		{"timestamp abc", msg(`{"from":"15550100001",` + id + `,"timestamp":"abc","type":"text","text":{"body":"x"}}`), 1, false, recent},
		{"timestamp year 5138", msg(`{"from":"15550100001",` + id + `,"timestamp":"99999999999","type":"text","text":{"body":"x"}}`), 1, false, recent},
		{"timestamp missing", msg(`{"from":"15550100001",` + id + `,"type":"text","text":{"body":"x"}}`), 1, false, recent},
		{"sender too short", msg(`{"from":"1234",` + id + `,"timestamp":"1","type":"text","text":{"body":"x"}}`), 0, true, nil},
		{"sender not digits", msg(`{"from":"+15550100001",` + id + `,"timestamp":"1","type":"text","text":{"body":"x"}}`), 0, true, nil},
		{"no sender", msg(`{` + id + `,"timestamp":"1","type":"text","text":{"body":"x"}}`), 0, true, nil},
		{"no type", msg(`{"from":"15550100001",` + id + `,"timestamp":"1","text":{"body":"x"}}`), 0, true, nil},
		{"wamid with a space", msg(`{"from":"15550100001","id":"wamid. x","timestamp":"1","type":"text","text":{"body":"x"}}`), 0, true, nil},
		{"wamid too long", msg(`{"from":"15550100001","id":"` + strings.Repeat("w", 257) + `","timestamp":"1","type":"text","text":{"body":"x"}}`), 0, true, nil},
		{"location out of range", msg(`{"from":"15550100001",` + id + `,"timestamp":"1","type":"location","location":{"latitude":91,"longitude":0}}`), 0, true, nil},
		{"location as strings", msg(`{"from":"15550100001",` + id + `,"timestamp":"1","type":"location","location":{"latitude":"48.5","longitude":"35"}}`), 1, false, nil},
		{"message from our own number", strings.Replace(msg(`{"from":"15550109999",`+id+`,"timestamp":"1","type":"text","text":{"body":"echo"}}`), `"metadata":{`, `"metadata":{"display_phone_number":"+1 555-010-9999",`, 1), 0, false, nil},
		{"bidi and control in the name", strings.Replace(text, `"Alex"`, `"\u202eevil\u202c\r\n\u001b[2J"`, 1), 1, false, func(t *testing.T, e []channel.Event) {
			if s := e[0].SenderName.Reveal(); s != "\u202eevil\u202c\r\n\x1b[2J" {
				t.Errorf("name not kept verbatim: %q", s)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(mustAdapter(t, ""))
			start := time.Now()
			rec := h.Do(signedPost([]byte(tt.body)))
			if rec.Code != http.StatusOK {
				t.Fatalf("got %d, want 200", rec.Code)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
			e := h.Recorder.Events()
			if len(e) != tt.events {
				t.Fatalf("stored %d events, want %d", len(e), tt.events)
			}
			if got := h.Quarantine.Len() > 0; got != tt.quarantined {
				t.Errorf("quarantined %v, want %v", got, tt.quarantined)
			}
			for _, r := range h.Quarantine.Reasons {
				if !strings.HasPrefix(r, channel.ErrMalformed.Error()) {
					t.Errorf("reason %q", r)
				}
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

func kindIs(k channel.MessageKind) func(*testing.T, []channel.Event) {
	return func(t *testing.T, e []channel.Event) {
		t.Helper()
		if e[0].Kind != k || e[0].Type != channel.EventMessage {
			t.Errorf("got %s %s, want message %s", e[0].Type, e[0].Kind, k)
		}
	}
}

func recent(t *testing.T, e []channel.Event) {
	t.Helper()
	if time.Since(e[0].Time) > time.Minute || e[0].Time.Location() != time.UTC {
		t.Errorf("time %v, want the time of receipt", e[0].Time)
	}
}

// WIRE-FORMATS §2.1 and HOSTILE-INPUTS A-10.
func TestVerificationGET(t *testing.T) {
	var params map[string]string
	if err := json.Unmarshal(mustFixture(t, "verification_get.json"), &params); err != nil {
		t.Fatal(err)
	}
	query := func(change func(url.Values)) string {
		q := url.Values{}
		for k, v := range params {
			q.Set(k, v)
		}
		if change != nil {
			change(q)
		}
		return hookPath + "?" + q.Encode()
	}
	tests := []struct {
		name     string
		target   string
		want     int
		wantBody string
	}{
		{"right token", query(nil), 200, "1158201444"},
		{"word challenge", query(func(q url.Values) { q.Set("hub.challenge", "abc_DEF-123") }), 200, "abc_DEF-123"},
		{"256-byte challenge", query(func(q url.Values) { q.Set("hub.challenge", strings.Repeat("7", 256)) }), 200, strings.Repeat("7", 256)},
		{"wrong token", query(func(q url.Values) { q.Set("hub.verify_token", "wrong") }), 403, ""},
		{"token with a suffix", query(func(q url.Values) { q.Set("hub.verify_token", testVerifyToken+"x") }), 403, ""},
		{"no token", query(func(q url.Values) { q.Del("hub.verify_token") }), 403, ""},
		{"token twice", query(func(q url.Values) { q.Add("hub.verify_token", testVerifyToken) }), 403, ""},
		{"token with underscores", strings.ReplaceAll(query(nil), "hub.", "hub_"), 403, ""},
		{"mode unsubscribe", query(func(q url.Values) { q.Set("hub.mode", "unsubscribe") }), 403, ""},
		{"257-byte challenge", query(func(q url.Values) { q.Set("hub.challenge", strings.Repeat("7", 257)) }), 400, ""},
		{"1 MiB challenge", query(func(q url.Values) { q.Set("hub.challenge", strings.Repeat("7", 1<<20)) }), 400, ""},
		{"markup challenge", query(func(q url.Values) { q.Set("hub.challenge", "<script>alert(1)</script>") }), 400, ""},
		{"no challenge", query(func(q url.Values) { q.Del("hub.challenge") }), 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := channeltest.NewHarness(mustAdapter(t, ""))
			rec := h.Do(httptest.NewRequest(http.MethodGet, tt.target, nil))
			if rec.Code != tt.want {
				t.Fatalf("got %d, want %d", rec.Code, tt.want)
			}
			if tt.want == 200 {
				if rec.Body.String() != tt.wantBody {
					t.Errorf("body %q, want %q", rec.Body.String(), tt.wantBody)
				}
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("content type %q", ct)
				}
			} else {
				channeltest.MustContainNone(t, "body", rec.Body.String(), testVerifyToken, "script")
			}
		})
	}
}

func TestNewFailsClosed(t *testing.T) {
	full := whatsapp.Config{Name: testName, PhoneNumberID: testPhoneNumberID, AccessToken: testAccessToken,
		AppSecret: testAppSecret, VerifyToken: testVerifyToken}
	for _, tt := range []struct {
		name   string
		change func(*whatsapp.Config)
	}{
		{"no name", func(c *whatsapp.Config) { c.Name = "" }},
		{"no phone number id", func(c *whatsapp.Config) { c.PhoneNumberID = "" }},
		{"phone number id not numeric", func(c *whatsapp.Config) { c.PhoneNumberID = "../me" }},
		{"no access token", func(c *whatsapp.Config) { c.AccessToken = "" }},
		{"no app secret", func(c *whatsapp.Config) { c.AppSecret = "" }},
		{"blank app secret", func(c *whatsapp.Config) { c.AppSecret = "  " }},
		{"no verify token", func(c *whatsapp.Config) { c.VerifyToken = "" }},
		{"plain http API", func(c *whatsapp.Config) { c.APIURL = "http://graph.facebook.com/v23.0" }},
		{"API URL with credentials", func(c *whatsapp.Config) { c.APIURL = "https://u:p@graph.facebook.com/v23.0" }},
		{"API URL not a URL", func(c *whatsapp.Config) { c.APIURL = "::" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := full
			tt.change(&cfg)
			_, err := whatsapp.New(cfg, nil)
			if err == nil {
				t.Fatal("New succeeded")
			}
			channeltest.MustContainNone(t, "error", err.Error(), testAccessToken, testAppSecret, testVerifyToken)
		})
	}
	a, err := whatsapp.New(full, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind() != lifeline.ChannelWhatsApp || a.Name() != testName || a.MaxBody() != 4<<20 || a.MalformedStatus() != 200 {
		t.Errorf("got %s %s %d %d", a.Kind(), a.Name(), a.MaxBody(), a.MalformedStatus())
	}
	channeltest.MustContainNone(t, "printed adapter", fmt.Sprintf("%v %+v %#v", a, a, a), testAccessToken, testAppSecret, testVerifyToken)
}

// Sending, against the fake.

func newFake(t *testing.T) (*channeltest.WhatsAppFake, *whatsapp.Adapter) {
	t.Helper()
	f := channeltest.NewWhatsAppFake(testPhoneNumberID, testAccessToken)
	t.Cleanup(f.Close)
	return f, mustAdapter(t, f.APIURL())
}

func TestSend(t *testing.T) {
	ctx := context.Background()
	f, a := newFake(t)
	id, err := a.Send(ctx, userA, "Привет / hello")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := a.Send(ctx, "US.13491208655302741918", "to a username")
	if err != nil {
		t.Fatal(err)
	}
	want := []channeltest.WhatsAppSent{
		{ID: id, To: userA, Type: "text", Text: "Привет / hello"},
		{ID: id2, Recipient: "US.13491208655302741918", Type: "text", Text: "to a username"},
	}
	if diff := cmp.Diff(want, f.Sent()); diff != "" || id == "" || id == id2 {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	// A "+" of E.164 is dropped, as Meta's wa_id has none.
	if _, err := a.Send(ctx, "+"+userB, "x"); err != nil || f.Sent()[2].To != userB {
		t.Errorf("send to +E.164: %v", err)
	}
	if err := a.MarkRead(ctx, wamid(userA, 1)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{wamid(userA, 1)}, f.Read()); diff != "" {
		t.Errorf("read (-want +got):\n%s", diff)
	}
}

func TestSendErrors(t *testing.T) {
	ctx := context.Background()
	f, a := newFake(t)
	var errs []error
	check := func(err error) error {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		errs = append(errs, err)
		return err
	}

	// HOSTILE-INPUTS H-08: outside the 24-hour window only templates go.
	f.CloseWindow(userA)
	_, err := a.Send(ctx, userA, "hello")
	check(err)
	if !errors.Is(err, whatsapp.ErrWindowClosed) || !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("got %v, want ErrWindowClosed and ErrPermanent", err)
	}
	var apiErr *whatsapp.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 131047 || apiErr.HTTPStatus != 400 {
		t.Errorf("got %#v", apiErr)
	}
	if id, err := a.SendTemplate(ctx, userA, "hotline_reopen", "ru"); err != nil || id == "" {
		t.Errorf("template outside the window: %q, %v", id, err)
	}
	if s := f.Sent(); len(s) != 1 || s[0].Template != "hotline_reopen" || s[0].Language != "ru" {
		t.Errorf("sent %+v", s)
	}

	// H-07: rate limits say when to retry.
	for _, tt := range []struct {
		header string
		want   time.Duration
	}{{"", time.Second}, {"7", 7 * time.Second}, {"99999", time.Hour}} {
		f.RateLimitNext(1, tt.header)
		_, err = a.Send(ctx, userB, "hello")
		check(err)
		var ra *channel.RetryAfter
		if !errors.As(err, &ra) || ra.After != tt.want || errors.Is(err, channel.ErrPermanent) {
			t.Errorf("Retry-After %q: got %v, want RetryAfter %v", tt.header, err, tt.want)
		}
	}

	// Undeliverable and pair rate limit, by Graph code.
	f.FailFor(userC, 400, 131026, "(#131026) Message Undeliverable for "+userC)
	_, err = a.Send(ctx, userC, "hello")
	check(err)
	if !errors.Is(err, channel.ErrPermanent) || errors.Is(err, whatsapp.ErrWindowClosed) {
		t.Errorf("131026: got %v", err)
	}
	f.FailFor(userC, 400, 131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit")
	_, err = a.Send(ctx, userC, "hello")
	check(err)
	if ra := (*channel.RetryAfter)(nil); !errors.As(err, &ra) || ra.After != 6*time.Second {
		t.Errorf("131056: got %v", err)
	}
	f.FailFor(userC, 400, 999999, "(#999999) something new "+testAccessToken)
	_, err = a.Send(ctx, userC, "hello")
	check(err)
	if !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("unknown 4xx: got %v, want permanent (no retry loop)", err)
	}

	// Refused before any request.
	for _, to := range []lifeline.Sensitive{"", "123", "15550100001@c.us", "../../x", "us.1"} {
		_, err = a.Send(ctx, to, "hello")
		if !errors.Is(check(err), channel.ErrPermanent) {
			t.Errorf("to %q: got %v, want permanent", to.Reveal(), err)
		}
	}
	for _, text := range []string{"", " \n", strings.Repeat("я", whatsapp.MaxTextLen+1)} {
		_, err = a.Send(ctx, userB, text)
		if !errors.Is(check(err), channel.ErrPermanent) {
			t.Errorf("text of %d: got %v, want permanent", len(text), err)
		}
	}
	if _, err := a.Send(ctx, userB, strings.Repeat("я", whatsapp.MaxTextLen)); err != nil {
		t.Errorf("text of 4096 characters: %v", err)
	}
	_, err = a.SendTemplate(ctx, userA, "Bad Name", "ru")
	check(err)

	// A wrong token: the channel's fault, not the message's.
	bad, err := whatsapp.New(whatsapp.Config{Name: testName, PhoneNumberID: testPhoneNumberID, AccessToken: testAccessToken + "-old",
		AppSecret: testAppSecret, VerifyToken: testVerifyToken, APIURL: f.APIURL()}, channeltest.LoopbackClient())
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Send(ctx, userB, "hello")
	check(err)
	if errors.Is(err, channel.ErrPermanent) || !errors.As(err, &apiErr) || apiErr.Code != 190 {
		t.Errorf("expired token: got %v", err)
	}

	// I-01: no error ever carries the token, the app secret or the recipient.
	for _, err := range errs {
		channeltest.MustContainNone(t, "error", err.Error(), testAccessToken, testAppSecret, userC)
		channeltest.MustContainNone(t, "error", fmt.Sprintf("%+v %#v", err, err), testAccessToken, testAppSecret)
	}
}

func TestSendServerErrors(t *testing.T) {
	ctx := context.Background()
	status, body := 500, `{"error":{"message":"(#131000) Something went wrong","type":"OAuthException","code":131000}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	a := mustAdapter(t, srv.URL+"/v23.0")
	for _, tt := range []struct {
		status int
		body   string
	}{
		{500, body}, {502, "<html>Bad gateway</html>"}, {503, ""},
		{200, `{"messaging_product":"whatsapp","messages":[]}`}, {200, "not json"},
	} {
		status, body = tt.status, tt.body
		_, err := a.Send(ctx, userA, "hello")
		var ra *channel.RetryAfter
		if err == nil || errors.Is(err, channel.ErrPermanent) || errors.As(err, &ra) {
			t.Errorf("%d %q: got %v, want a transient error", tt.status, tt.body, err)
		}
	}
	// A cancelled context is visible to the outbox.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Send(cctx, userA, "hello"); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestMedia(t *testing.T) {
	ctx := context.Background()
	f, a := newFake(t)
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{1}, 1000)...)
	f.AddMedia("1003383421387256", "image/jpeg", jpeg)
	if _, _, err := a.FetchMedia(ctx, "1003383421387256", 100); !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("over the limit: got %v", err)
	}
	data, mime, err := a.FetchMedia(ctx, "1003383421387256", 10<<20)
	if err != nil || !bytes.Equal(data, jpeg) || mime != "image/jpeg" {
		t.Fatalf("got %d bytes, %q, %v", len(data), mime, err)
	}
	if err := a.DeleteMedia(ctx, "1003383421387256"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1003383421387256"}, f.DeletedMedia()); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if _, _, err := a.FetchMedia(ctx, "1003383421387256", 10<<20); err == nil {
		t.Error("fetched deleted media")
	}
	if _, _, err := a.FetchMedia(ctx, "../../"+testPhoneNumberID+"/messages", 10<<20); !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("path in media id: got %v", err)
	}
}

// HOSTILE-INPUTS G-03: the token goes only to Meta's hosts or the API host.
func TestMediaURLAllowList(t *testing.T) {
	var gotAuth []string
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
	}))
	defer evil.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"url":"` + evil.URL + `/x","mime_type":"image/jpeg","file_size":10,"id":"1"}`))
	}))
	defer api.Close()
	a := mustAdapter(t, api.URL+"/v23.0")
	if _, _, err := a.FetchMedia(context.Background(), "1", 1<<20); !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("got %v, want refused", err)
	}
	if len(gotAuth) != 0 {
		t.Errorf("the media URL's host was called %d times", len(gotAuth))
	}
}

// HOSTILE-INPUTS A-09, S-06 at the adapter's level: concurrent deliveries
// of the same and different bodies, and concurrent sends.
func TestConcurrent(t *testing.T) {
	f, a := newFake(t)
	h := channeltest.NewHarness(a)
	same := mustFixture(t, "text.json")
	done := make(chan error)
	for g := range 32 {
		go func() {
			for i := range 10 {
				body := same
				if i%2 == 1 {
					body = channeltest.WhatsAppTextWebhook(testPhoneNumberID, userB, "Boris", wamid(userB, 1000+g*10+i), "hi", testTime.Unix())
				}
				if rec := h.Do(signedPost(body)); rec.Code != http.StatusOK {
					done <- fmt.Errorf("got %d", rec.Code)
					return
				}
			}
			_, err := a.Send(context.Background(), userA, "reply")
			done <- err
		}()
	}
	for range 32 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(h.Recorder.Events()); n != 1+32*5 {
		t.Errorf("stored %d events, want %d", n, 1+32*5)
	}
	if n := len(f.Sent()); n != 32 {
		t.Errorf("sent %d, want 32", n)
	}
}
