// SPDX-License-Identifier: AGPL-3.0-or-later

package channeltest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"unicode/utf8"
)

// WhatsAppAPIVersion is the Graph API version the fake serves under.
const WhatsAppAPIVersion = "v23.0"

// Invented identifiers the WhatsApp builders use.
const (
	WhatsAppWABAID             = "109876543210987"
	WhatsAppDisplayPhoneNumber = "15550109999"
)

// WhatsAppFake is a fake of the WhatsApp Cloud API on 127.0.0.1, speaking
// the Graph API's formats: POST /{version}/{phone-number-id}/messages (texts,
// templates, mark-as-read; recorded), GET /{version}/{media-id} (the media's
// URL), the download of that URL, and DELETE /{version}/{media-id}. Every
// request needs the bearer token. It can be told to refuse free-form
// messages to a recipient outside the 24-hour window (131047) and to rate
// limit (429, 130429). Safe for concurrent use; Close it when done.
type WhatsAppFake struct {
	Server        *httptest.Server
	PhoneNumberID string
	AccessToken   string

	mu        sync.Mutex
	sent      []WhatsAppSent
	read      []string
	deleted   []string
	failFor   map[string]whatsAppFailure
	rateLimit int
	retryHdr  string
	media     map[string]whatsAppMedia
	seq       int
}

// WhatsAppSent is a message the fake accepted.
type WhatsAppSent struct {
	ID        string // the wamid the fake answered
	To        string // "to" (a wa_id or phone number)
	Recipient string // "recipient" (a business-scoped user id)
	Type      string // text, template
	Text      string // text.body
	Template  string // template.name
	Language  string // template.language.code
}

type whatsAppFailure struct {
	status   int
	code     int
	message  string
	details  string
	textOnly bool // templates still go (the 24-hour window)
}

type whatsAppMedia struct {
	mime string
	data []byte
}

// NewWhatsAppFake starts a fake for one business phone number.
func NewWhatsAppFake(phoneNumberID, accessToken string) *WhatsAppFake {
	f := &WhatsAppFake{
		PhoneNumberID: phoneNumberID,
		AccessToken:   accessToken,
		failFor:       map[string]whatsAppFailure{},
		media:         map[string]whatsAppMedia{},
	}
	mux := http.NewServeMux()
	v := "/" + WhatsAppAPIVersion
	mux.HandleFunc("POST "+v+"/{phone}/messages", f.messages)
	mux.HandleFunc("GET "+v+"/{media}", f.mediaInfo)
	mux.HandleFunc("DELETE "+v+"/{media}", f.deleteMedia)
	mux.HandleFunc("GET /whatsapp_business/attachments/", f.download)
	f.Server = httptest.NewServer(mux)
	return f
}

// APIURL is the base to configure as the adapter's API URL.
func (f *WhatsAppFake) APIURL() string { return f.Server.URL + "/" + WhatsAppAPIVersion }

// Close stops the fake.
func (f *WhatsAppFake) Close() { f.Server.Close() }

// CloseWindow makes free-form messages to "to" fail with 131047, as Meta
// answers more than 24 hours after the contact last wrote; templates go.
func (f *WhatsAppFake) CloseWindow(to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failFor[to] = whatsAppFailure{status: http.StatusBadRequest, code: 131047, textOnly: true,
		message: "(#131047) Re-engagement message",
		details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}
}

// OpenWindow undoes CloseWindow and FailFor.
func (f *WhatsAppFake) OpenWindow(to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.failFor, to)
}

// FailFor makes every message to "to" fail with the given HTTP status and
// Graph error code (e.g. 400 and 131026, undeliverable).
func (f *WhatsAppFake) FailFor(to string, status, code int, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failFor[to] = whatsAppFailure{status: status, code: code, message: message}
}

// RateLimitNext makes the next n sends answer 429 with Graph error 130429,
// and a Retry-After header if retryAfter is not empty.
func (f *WhatsAppFake) RateLimitNext(n int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rateLimit, f.retryHdr = n, retryAfter
}

// AddMedia makes a media file available under id.
func (f *WhatsAppFake) AddMedia(id, mime string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.media[id] = whatsAppMedia{mime: mime, data: append([]byte(nil), data...)}
}

// Sent returns the messages accepted, in order.
func (f *WhatsAppFake) Sent() []WhatsAppSent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]WhatsAppSent(nil), f.sent...)
}

// Read returns the wamids marked as read, in order.
func (f *WhatsAppFake) Read() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.read...)
}

// DeletedMedia returns the media ids deleted, in order.
func (f *WhatsAppFake) DeletedMedia() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.deleted...)
}

func (f *WhatsAppFake) authorized(w http.ResponseWriter, r *http.Request) bool {
	got := r.Header.Get("Authorization")
	want := "Bearer " + f.AccessToken
	if hmac.Equal([]byte(got), []byte(want)) {
		return true
	}
	whatsAppGraphError(w, http.StatusUnauthorized, 190, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
	return false
}

func (f *WhatsAppFake) messages(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	if r.PathValue("phone") != f.PhoneNumberID {
		whatsAppGraphError(w, http.StatusBadRequest, 100, "GraphMethodException",
			"Unsupported post request. Object does not exist, cannot be loaded due to missing permissions, or does not support this operation.", "")
		return
	}
	var req struct {
		MessagingProduct string `json:"messaging_product"`
		RecipientType    string `json:"recipient_type"`
		To               string `json:"to"`
		Recipient        string `json:"recipient"`
		Type             string `json:"type"`
		Text             *struct {
			Body string `json:"body"`
		} `json:"text"`
		Template *struct {
			Name     string `json:"name"`
			Language struct {
				Code string `json:"code"`
			} `json:"language"`
		} `json:"template"`
		Status    string `json:"status"`
		MessageID string `json:"message_id"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &req) != nil || req.MessagingProduct != "whatsapp" {
		whatsAppGraphError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter", "")
		return
	}
	if req.Status == "read" {
		if req.MessageID == "" {
			whatsAppGraphError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter", "message_id is required")
			return
		}
		f.mu.Lock()
		f.read = append(f.read, req.MessageID)
		f.mu.Unlock()
		whatsAppJSON(w, http.StatusOK, map[string]bool{"success": true})
		return
	}
	to := req.To
	if to == "" {
		to = req.Recipient
	}
	sent := WhatsAppSent{To: req.To, Recipient: req.Recipient, Type: req.Type}
	switch {
	case to == "":
		whatsAppGraphError(w, http.StatusBadRequest, 131008, "OAuthException", "(#131008) Required parameter is missing", "to is required")
		return
	case req.Type == "text" && req.Text != nil && req.Text.Body != "" && utf8.RuneCountInString(req.Text.Body) <= 4096:
		sent.Text = req.Text.Body
	case req.Type == "template" && req.Template != nil && req.Template.Name != "" && req.Template.Language.Code != "":
		sent.Template, sent.Language = req.Template.Name, req.Template.Language.Code
	default:
		whatsAppGraphError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter", "")
		return
	}

	f.mu.Lock()
	if f.rateLimit > 0 {
		f.rateLimit--
		hdr := f.retryHdr
		f.mu.Unlock()
		if hdr != "" {
			w.Header().Set("Retry-After", hdr)
		}
		whatsAppGraphError(w, http.StatusTooManyRequests, 130429, "OAuthException", "(#130429) Rate limit hit",
			"Cloud API message throughput has been reached.")
		return
	}
	if fail, ok := f.failFor[to]; ok && !(fail.textOnly && req.Type == "template") {
		f.mu.Unlock()
		whatsAppGraphError(w, fail.status, fail.code, "OAuthException", fail.message, fail.details)
		return
	}
	f.seq++
	sent.ID = whatsAppWAMID(to, f.seq)
	f.sent = append(f.sent, sent)
	f.mu.Unlock()

	whatsAppJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{{"input": to, "wa_id": to}},
		"messages":          []map[string]string{{"id": sent.ID}},
	})
}

func (f *WhatsAppFake) mediaInfo(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	id := r.PathValue("media")
	f.mu.Lock()
	m, ok := f.media[id]
	f.mu.Unlock()
	if !ok {
		whatsAppGraphError(w, http.StatusBadRequest, 100, "GraphMethodException", "Unsupported get request.", "")
		return
	}
	sum := sha256.Sum256(m.data)
	whatsAppJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"url":               f.Server.URL + "/whatsapp_business/attachments/?mid=" + id + "&ext=1718000000&hash=ATfake",
		"mime_type":         m.mime,
		"sha256":            base64.StdEncoding.EncodeToString(sum[:]),
		"file_size":         len(m.data),
		"id":                id,
	})
}

func (f *WhatsAppFake) download(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	f.mu.Lock()
	m, ok := f.media[r.URL.Query().Get("mid")]
	f.mu.Unlock()
	if !ok {
		http.Error(w, "Not found.", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", m.mime)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
	w.Write(m.data)
}

func (f *WhatsAppFake) deleteMedia(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	id := r.PathValue("media")
	f.mu.Lock()
	_, ok := f.media[id]
	if ok {
		delete(f.media, id)
		f.deleted = append(f.deleted, id)
	}
	f.mu.Unlock()
	if !ok {
		whatsAppGraphError(w, http.StatusBadRequest, 100, "GraphMethodException", "Unsupported delete request.", "")
		return
	}
	whatsAppJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// whatsAppWAMID makes a wamid shaped like Meta's ("wamid.HBgL" + base64
// with the recipient inside).
func whatsAppWAMID(to string, seq int) string {
	var nonce [8]byte
	rand.Read(nonce[:])
	raw := fmt.Sprintf("%s\x15\x02\x00\x11\x18\x12%d%X", to, seq, nonce)
	return "wamid.HBgL" + base64.StdEncoding.EncodeToString([]byte(raw))
}

func whatsAppJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func whatsAppGraphError(w http.ResponseWriter, status, code int, typ, message, details string) {
	e := map[string]any{"message": message, "type": typ, "code": code, "fbtrace_id": "AfakeTraceId0123456789"}
	if details != "" {
		e["error_data"] = map[string]string{"messaging_product": "whatsapp", "details": details}
	}
	whatsAppJSON(w, status, map[string]any{"error": e})
}

// Webhooks.

// SignWhatsApp returns the X-Hub-Signature-256 header value Meta sends
// with body: "sha256=" + lowercase hex HMAC-SHA256(app secret, body).
func SignWhatsApp(body []byte, appSecret string) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// WhatsAppWebhookRequest is a POST of body to target (a URL or a path), as
// Meta sends it: JSON, signed with appSecret unless it is empty.
func WhatsAppWebhookRequest(target string, body []byte, appSecret string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "facebookexternalua")
	if appSecret != "" {
		r.Header.Set("X-Hub-Signature-256", SignWhatsApp(body, appSecret))
	}
	return r
}

// WhatsAppDeliver posts a signed webhook to a running server, as Meta does,
// and returns the status. The demo and crash tests use it; Meta's retries
// and duplicates are repeated calls.
func WhatsAppDeliver(ctx context.Context, client *http.Client, target string, body []byte, appSecret string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", SignWhatsApp(body, appSecret))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// WhatsAppMessage is one text message of a WhatsAppBatch.
type WhatsAppMessage struct {
	WaID      string // sender
	Name      string // profile name
	WAMID     string
	Text      string
	Timestamp int64 // Unix seconds
}

// WhatsAppError is an entry of a status's errors[].
type WhatsAppError struct {
	Code  int
	Title string
}

type whatsAppEnvelope struct {
	Object string              `json:"object"`
	Entry  []whatsAppEntryWire `json:"entry"`
}

type whatsAppEntryWire struct {
	ID      string               `json:"id"`
	Changes []whatsAppChangeWire `json:"changes"`
}

type whatsAppChangeWire struct {
	Value whatsAppValueWire `json:"value"`
	Field string            `json:"field"`
}

type whatsAppValueWire struct {
	MessagingProduct string `json:"messaging_product"`
	Metadata         struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []whatsAppContactWire `json:"contacts,omitempty"`
	Messages []whatsAppMessageWire `json:"messages,omitempty"`
	Statuses []whatsAppStatusWire  `json:"statuses,omitempty"`
}

type whatsAppContactWire struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID string `json:"wa_id"`
}

type whatsAppMessageWire struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Text      struct {
		Body string `json:"body"`
	} `json:"text"`
	Type string `json:"type"`
}

type whatsAppStatusWire struct {
	ID          string              `json:"id"`
	Status      string              `json:"status"`
	Timestamp   string              `json:"timestamp"`
	RecipientID string              `json:"recipient_id"`
	Errors      []whatsAppErrorWire `json:"errors,omitempty"`
}

type whatsAppErrorWire struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

func whatsAppValue(phoneNumberID string) whatsAppValueWire {
	var v whatsAppValueWire
	v.MessagingProduct = "whatsapp"
	v.Metadata.DisplayPhoneNumber = WhatsAppDisplayPhoneNumber
	v.Metadata.PhoneNumberID = phoneNumberID
	return v
}

func whatsAppNotification(v whatsAppValueWire) []byte {
	env := whatsAppEnvelope{Object: "whatsapp_business_account", Entry: []whatsAppEntryWire{{
		ID: WhatsAppWABAID, Changes: []whatsAppChangeWire{{Value: v, Field: "messages"}},
	}}}
	b, err := json.Marshal(env)
	if err != nil {
		panic(err)
	}
	return WhatsAppEscape(b)
}

// WhatsAppBatch is a webhook carrying several text messages in one
// value, as Meta batches them, with each sender's contact once.
func WhatsAppBatch(phoneNumberID string, msgs ...WhatsAppMessage) []byte {
	v := whatsAppValue(phoneNumberID)
	seen := map[string]bool{}
	for _, m := range msgs {
		if !seen[m.WaID] {
			seen[m.WaID] = true
			var c whatsAppContactWire
			c.Profile.Name, c.WaID = m.Name, m.WaID
			v.Contacts = append(v.Contacts, c)
		}
		w := whatsAppMessageWire{From: m.WaID, ID: m.WAMID, Timestamp: strconv.FormatInt(m.Timestamp, 10), Type: "text"}
		w.Text.Body = m.Text
		v.Messages = append(v.Messages, w)
	}
	return whatsAppNotification(v)
}

// WhatsAppTextWebhook is a webhook carrying one text message, shaped and
// escaped as Meta sends it.
func WhatsAppTextWebhook(phoneNumberID, waID, name, wamid, text string, ts int64) []byte {
	return WhatsAppBatch(phoneNumberID, WhatsAppMessage{WaID: waID, Name: name, WAMID: wamid, Text: text, Timestamp: ts})
}

// WhatsAppStatusWebhook is a webhook carrying the status (sent, delivered,
// read, failed) of a message we sent to recipientID; a failed status
// carries errs.
func WhatsAppStatusWebhook(phoneNumberID, recipientID, wamid, status string, ts int64, errs ...WhatsAppError) []byte {
	v := whatsAppValue(phoneNumberID)
	s := whatsAppStatusWire{ID: wamid, Status: status, Timestamp: strconv.FormatInt(ts, 10), RecipientID: recipientID}
	for _, e := range errs {
		w := whatsAppErrorWire{Code: e.Code, Title: e.Title, Message: e.Title}
		w.ErrorData.Details = e.Title
		s.Errors = append(s.Errors, w)
	}
	v.Statuses = []whatsAppStatusWire{s}
	return whatsAppNotification(v)
}

// WhatsAppEscape rewrites compact JSON the way Meta serialises it: every
// non-ASCII character as \uXXXX (surrogate pairs above U+FFFF) and "/" as
// "\/". Meta signs these bytes; decoding and re-encoding them changes the
// signature.
func WhatsAppEscape(b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b) + len(b)/4)
	for len(b) > 0 {
		c := b[0]
		switch {
		case c == '/':
			out.WriteString(`\/`)
			b = b[1:]
		case c < utf8.RuneSelf:
			out.WriteByte(c)
			b = b[1:]
		default:
			r, n := utf8.DecodeRune(b)
			b = b[n:]
			if r > 0xFFFF {
				r -= 0x10000
				fmt.Fprintf(&out, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			} else {
				fmt.Fprintf(&out, `\u%04x`, r)
			}
		}
	}
	return out.Bytes()
}
