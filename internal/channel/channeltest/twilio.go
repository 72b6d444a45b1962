// SPDX-License-Identifier: AGPL-3.0-or-later

package channeltest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TwilioSID returns a random Twilio SID with the given two-letter prefix
// (SM, MM, ME, AC, CA): the prefix and 32 lower-case hex digits.
func TwilioSID(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// SignTwilio computes X-Twilio-Signature for a request to fullURL (scheme,
// host, port, path and query exactly as Twilio was configured) carrying
// form: base64(HMAC-SHA1(authToken, fullURL + name+value for each param,
// names sorted, a repeated name's distinct values sorted)), as twilio-node
// does. It is written independently of the adapter's, to cross-check it.
func SignTwilio(authToken, fullURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		seen := map[string]bool{}
		vs := append([]string(nil), form[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			if !seen[v] {
				seen[v] = true
				b.WriteString(k + v)
			}
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// TwilioRequest is an incoming webhook request for a handler under test:
// a form POST of body to path (with any query), signed for publicBase+path
// as Twilio would sign it when configured with that public URL. An empty
// authToken leaves the request unsigned.
func TwilioRequest(authToken, publicBase, path, body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authToken != "" {
		form, _ := url.ParseQuery(body)
		req.Header.Set("X-Twilio-Signature", SignTwilio(authToken, publicBase+path, form))
	}
	return req
}

// TwilioMedia is one media item of an MMS.
type TwilioMedia struct {
	URL, ContentType string
}

// TwilioSMS describes an incoming SMS or MMS. Empty SIDs are generated.
type TwilioSMS struct {
	MessageSID, AccountSID string
	From, To               string // E.164
	Body                   string
	Media                  []TwilioMedia
}

// TwilioSMSForm is the form Twilio posts to an incoming-message webhook,
// with all the parameters it really sends (geo lookups invented).
func TwilioSMSForm(m TwilioSMS) url.Values {
	if m.MessageSID == "" {
		prefix := "SM"
		if len(m.Media) > 0 {
			prefix = "MM"
		}
		m.MessageSID = TwilioSID(prefix)
	}
	if m.AccountSID == "" {
		m.AccountSID = TwilioSID("AC")
	}
	segments := 1
	if n := len([]rune(m.Body)); n > 70 {
		segments = (n + 66) / 67 // UCS-2 concatenated segments; close enough
	}
	f := url.Values{
		"ToCountry":     {"GB"},
		"ToState":       {""},
		"SmsMessageSid": {m.MessageSID},
		"NumMedia":      {strconv.Itoa(len(m.Media))},
		"ToCity":        {""},
		"FromZip":       {""},
		"SmsSid":        {m.MessageSID},
		"FromState":     {""},
		"SmsStatus":     {"received"},
		"FromCity":      {""},
		"Body":          {m.Body},
		"FromCountry":   {"RU"},
		"To":            {m.To},
		"ToZip":         {""},
		"NumSegments":   {strconv.Itoa(segments)},
		"MessageSid":    {m.MessageSID},
		"AccountSid":    {m.AccountSID},
		"From":          {m.From},
		"ApiVersion":    {"2010-04-01"},
	}
	for i, md := range m.Media {
		f.Set("MediaUrl"+strconv.Itoa(i), md.URL)
		f.Set("MediaContentType"+strconv.Itoa(i), md.ContentType)
	}
	return f
}

// TwilioStatusForm is the form of a message status callback for an
// outbound message from → to; errorCode is empty unless it failed.
func TwilioStatusForm(accountSID, messageSID, from, to, status, errorCode string) url.Values {
	f := url.Values{
		"SmsSid":        {messageSID},
		"SmsStatus":     {status},
		"MessageStatus": {status},
		"To":            {to},
		"MessageSid":    {messageSID},
		"AccountSid":    {accountSID},
		"From":          {from},
		"ApiVersion":    {"2010-04-01"},
	}
	if errorCode != "" {
		f.Set("ErrorCode", errorCode)
	}
	return f
}

// TwilioMessage is a message sent through the fake's Messages API.
type TwilioMessage struct {
	SID, From, To, Body, StatusCallback string
}

// TwilioFake is a fake of Twilio's REST API on a loopback httptest
// server: it takes messages (POST /2010-04-01/Accounts/{sid}/Messages.json
// with HTTP Basic auth), records them, fails them as told per number, and
// serves and deletes MMS media. Its methods are safe for concurrent use.
type TwilioFake struct {
	Server                *httptest.Server
	AccountSID, AuthToken string

	mu       sync.Mutex
	sent     []TwilioMessage
	failures map[string]int // To → Twilio error code
	media    map[string]twilioMediaItem
	deleted  []string
}

type twilioMediaItem struct {
	contentType string
	data        []byte
}

// NewTwilioFake starts a fake for one account; Close stops it.
func NewTwilioFake(accountSID, authToken string) *TwilioFake {
	f := &TwilioFake{
		AccountSID: accountSID,
		AuthToken:  authToken,
		failures:   map[string]int{},
		media:      map[string]twilioMediaItem{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", f.createMessage)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages/{msg}/Media/{media}", f.getMedia)
	mux.HandleFunc("DELETE /2010-04-01/Accounts/{sid}/Messages/{msg}/Media/{media}", f.deleteMedia)
	mux.HandleFunc("DELETE /2010-04-01/Accounts/{sid}/Messages/{msg}", f.deleteMessage)
	f.Server = httptest.NewServer(mux)
	return f
}

// URL is the fake's API base, for a channel's API URL.
func (f *TwilioFake) URL() string { return f.Server.URL }

// Close stops the fake.
func (f *TwilioFake) Close() { f.Server.Close() }

// FailTo makes every send to the number fail with a Twilio error code:
// 21211 invalid number, 21610 unsubscribed, 21614 not mobile (HTTP 400),
// 20429 too many requests (HTTP 429), 20500 internal error (HTTP 500).
// Code 0 clears it.
func (f *TwilioFake) FailTo(number string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code == 0 {
		delete(f.failures, number)
		return
	}
	f.failures[number] = code
}

// Sent returns the messages accepted so far, in order.
func (f *TwilioFake) Sent() []TwilioMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TwilioMessage(nil), f.sent...)
}

// AddMedia stores a media item of an incoming message and returns its URL,
// as Twilio puts it in MediaUrl{N}.
func (f *TwilioFake) AddMedia(messageSID, contentType string, data []byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := "/2010-04-01/Accounts/" + f.AccountSID + "/Messages/" + messageSID + "/Media/" + TwilioSID("ME")
	f.media[path] = twilioMediaItem{contentType: contentType, data: data}
	return f.Server.URL + path
}

// Deleted returns the API paths deleted (media without, messages with
// their .json suffix), in order.
func (f *TwilioFake) Deleted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.deleted...)
}

func (f *TwilioFake) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	return ok && r.PathValue("sid") == f.AccountSID &&
		subtle.ConstantTimeCompare([]byte(user), []byte(f.AccountSID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(f.AuthToken)) == 1
}

// twilioError writes Twilio's JSON error body.
func twilioError(w http.ResponseWriter, status, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"code":      code,
		"message":   message,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
		"status":    status,
	})
}

func (f *TwilioFake) createMessage(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(r) {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if err := r.ParseForm(); err != nil {
		twilioError(w, http.StatusBadRequest, 21100, "Invalid form")
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	switch {
	case to == "":
		twilioError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case from == "":
		twilioError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case body == "" && r.PostForm.Get("MediaUrl") == "":
		twilioError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	f.mu.Lock()
	code := f.failures[to]
	f.mu.Unlock()
	switch code {
	case 0:
	case 20429:
		twilioError(w, http.StatusTooManyRequests, 20429, "Too Many Requests")
		return
	case 20500:
		twilioError(w, http.StatusInternalServerError, 20500, "Internal Server Error")
		return
	case 21211:
		// Twilio's messages quote the number: the adapter must not pass them on.
		twilioError(w, http.StatusBadRequest, code, "The 'To' number "+to+" is not a valid phone number.")
		return
	case 21610:
		twilioError(w, http.StatusBadRequest, code, "Attempt to send to unsubscribed recipient "+to)
		return
	default:
		twilioError(w, http.StatusBadRequest, code, "Message to "+to+" refused")
		return
	}

	msg := TwilioMessage{SID: TwilioSID("SM"), From: from, To: to, Body: body, StatusCallback: r.PostForm.Get("StatusCallback")}
	f.mu.Lock()
	f.sent = append(f.sent, msg)
	f.mu.Unlock()

	now := time.Now().UTC().Format(time.RFC1123Z)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{
		"sid":                   msg.SID,
		"account_sid":           f.AccountSID,
		"api_version":           "2010-04-01",
		"body":                  body,
		"date_created":          now,
		"date_updated":          now,
		"date_sent":             nil,
		"direction":             "outbound-api",
		"error_code":            nil,
		"error_message":         nil,
		"from":                  from,
		"messaging_service_sid": nil,
		"num_media":             "0",
		"num_segments":          "1",
		"price":                 nil,
		"price_unit":            "USD",
		"status":                "queued",
		"to":                    to,
		"uri":                   "/2010-04-01/Accounts/" + f.AccountSID + "/Messages/" + msg.SID + ".json",
	})
}

func (f *TwilioFake) getMedia(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(r) {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	f.mu.Lock()
	item, ok := f.media[r.URL.Path]
	f.mu.Unlock()
	if !ok {
		twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	w.Header().Set("Content-Type", item.contentType)
	w.Write(item.data)
}

func (f *TwilioFake) deleteMedia(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(r) {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	path := strings.TrimSuffix(r.URL.Path, ".json")
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.media[path]; !ok {
		twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	delete(f.media, path)
	f.deleted = append(f.deleted, path)
	w.WriteHeader(http.StatusNoContent)
}

// deleteMessage records the deletion of a message record; unknown SIDs
// are deleted all the same (the fake does not keep incoming messages).
func (f *TwilioFake) deleteMessage(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(r) {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if !strings.HasSuffix(r.PathValue("msg"), ".json") {
		twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	f.mu.Lock()
	f.deleted = append(f.deleted, r.URL.Path)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
