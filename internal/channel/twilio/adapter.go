// SPDX-License-Identifier: AGPL-3.0-or-later

// Package twilio speaks Twilio's Programmable Messaging webhooks and REST API
// (WIRE-FORMATS.md §3). SMS is the SMS/MMS channel adapter; voice will join
// it, sharing the signature check.
//
// Webhooks are authenticated with X-Twilio-Signature over the canonical
// public URL the channel is configured with: never Host or X-Forwarded-*, so
// a proxy in front cannot change what is checked (SECURITY.md §2.11).
package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
)

// DefaultAPIURL is Twilio's REST API.
const DefaultAPIURL = "https://api.twilio.com"

// MaxBody caps a webhook body: a 1600-character Cyrillic SMS with every
// parameter is under 16 KiB.
const MaxBody = 256 << 10

// Webhook endpoints, the last segment of /hooks/sms/{name}/{endpoint}.
const (
	EndpointSMS    = "sms"    // incoming message
	EndpointStatus = "status" // status callback of a message we sent
)

// Config configures one Twilio SMS channel.
type Config struct {
	Name       string // the channel's name, the {name} of its URLs
	AccountSID string // AC + 32 hex digits
	AuthToken  string // primary auth token: signs webhooks, authenticates sends
	// SecondaryAuthToken is optional: during a token rotation, webhooks
	// signed with it are accepted too (set the new token here, promote it
	// in Twilio, then make it AuthToken). It is never used to send.
	SecondaryAuthToken string
	Number             string // the channel's number, E.164
	// PublicURL is the canonical external base Twilio is configured with,
	// scheme and port exactly as there (https://hotline.example); the
	// webhooks are PublicURL + /hooks/sms/{name}/{sms,status}.
	PublicURL string
	APIURL    string // REST API base; DefaultAPIURL if empty
}

// SMS is the Twilio SMS/MMS channel: a channel.Adapter and channel.Sender.
// It is safe for concurrent use.
type SMS struct {
	name, sid, token, number string
	public                   string // PublicURL without a trailing slash
	api                      *url.URL
	verifier                 verifier
	client                   *http.Client
}

var (
	_ channel.Adapter = (*SMS)(nil)
	_ channel.Sender  = (*SMS)(nil)
)

var accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)

// NewSMS returns the adapter for cfg, which it checks: it fails closed on a
// missing or malformed secret, SID, number or URL. client sends to the API
// and fetches media; nil means a client with a 30-second timeout.
func NewSMS(cfg Config, client *http.Client) (*SMS, error) {
	switch {
	case cfg.Name == "" || url.PathEscape(cfg.Name) != cfg.Name:
		return nil, errors.New("twilio: channel name must be non-empty and URL-safe")
	case cfg.AuthToken == "":
		return nil, errors.New("twilio: auth token is empty")
	case !accountSIDPattern.MatchString(cfg.AccountSID):
		return nil, errors.New("twilio: account SID must be AC followed by 32 hex digits")
	}
	number, ok := NormalizeE164(cfg.Number)
	if !ok {
		return nil, errors.New("twilio: number must be E.164 (+ and up to 15 digits)")
	}
	public, err := checkBaseURL(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("twilio: public URL: %w", err)
	}
	apiURL := cfg.APIURL
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	apiBase, err := checkBaseURL(apiURL)
	if err != nil {
		return nil, fmt.Errorf("twilio: API URL: %w", err)
	}
	api, _ := url.Parse(apiBase)
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &SMS{
		name:     cfg.Name,
		sid:      cfg.AccountSID,
		token:    cfg.AuthToken,
		number:   number,
		public:   public,
		api:      api,
		verifier: newVerifier(public, cfg.AuthToken, cfg.SecondaryAuthToken),
		client:   client,
	}, nil
}

// checkBaseURL accepts an absolute http(s) URL with a host and nothing after
// the path, and returns it without a trailing slash. It never echoes the URL.
func checkBaseURL(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", errors.New("does not parse")
	case u.Scheme != "https" && u.Scheme != "http":
		return "", errors.New("scheme must be https or http")
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "":
		return "", errors.New("must be scheme://host[:port][/path] only")
	}
	return strings.TrimRight(s, "/"), nil
}

// Kind is lifeline.ChannelSMS.
func (s *SMS) Kind() lifeline.ChannelKind { return lifeline.ChannelSMS }

// Name is the channel's configured name.
func (s *SMS) Name() string { return s.name }

// MaxBody is 256 KiB.
func (s *SMS) MaxBody() int64 { return MaxBody }

// WebhookURL is the incoming-message URL to configure on the number in
// Twilio ("A message comes in", HTTP POST).
func (s *SMS) WebhookURL() string {
	return s.public + "/hooks/sms/" + s.name + "/" + EndpointSMS
}

// StatusCallbackURL is the status callback URL Send asks Twilio to use.
func (s *SMS) StatusCallbackURL() string {
	return s.public + "/hooks/sms/" + s.name + "/" + EndpointStatus
}

// Verify checks the one X-Twilio-Signature header against the public URL
// and the raw body (a form POST, or JSON with bodySHA256), in constant time.
// It returns channel.ErrUnauthorized.
func (s *SMS) Verify(r *http.Request, body []byte) error {
	return s.verifier.verify(r, body)
}

// Parse reads an authentic form POST: an incoming message at the "sms"
// endpoint, a status callback at "status". A message to another number than
// the channel's, or a status that changes nothing, is ignored. Errors wrap
// channel.ErrMalformed and never quote the input.
func (s *SMS) Parse(r *http.Request, body []byte) (channel.Batch, error) {
	if mediaType(r) != "application/x-www-form-urlencoded" {
		return channel.Batch{}, malformed("not a form post")
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return channel.Batch{}, malformed("form does not decode")
	}
	f := form(values)
	switch r.PathValue("endpoint") {
	case EndpointSMS:
		return s.parseMessage(f)
	case EndpointStatus:
		return parseStatus(f)
	default:
		return channel.Batch{}, malformed("unknown endpoint")
	}
}

func (s *SMS) parseMessage(f form) (channel.Batch, error) {
	sid, err := f.required("MessageSid")
	if err != nil {
		return channel.Batch{}, err
	}
	if !validSID(sid, "SM", "MM") {
		return channel.Batch{}, malformed("MessageSid not a message SID")
	}
	to, err := f.required("To")
	if err != nil {
		return channel.Batch{}, err
	}
	if n, ok := NormalizeE164(to); !ok || n != s.number {
		return channel.Batch{Ignored: "message to another number"}, nil
	}
	from, err := f.required("From")
	if err != nil {
		return channel.Batch{}, err
	}
	sender, ok := NormalizeE164(from)
	if !ok {
		return channel.Batch{}, malformed("From not an E.164 number")
	}
	text, _, err := f.one("Body")
	if err != nil {
		return channel.Batch{}, err
	}
	n, err := numMedia(f)
	if err != nil {
		return channel.Batch{}, err
	}
	var media, refused []channel.Media
	for i := range n {
		u, present, err := f.one("MediaUrl" + strconv.Itoa(i))
		if err != nil {
			return channel.Batch{}, err
		}
		if !present {
			continue // NumMedia promised more than came: nothing arrived
		}
		ct, _, err := f.one("MediaContentType" + strconv.Itoa(i))
		if err != nil {
			return channel.Batch{}, err
		}
		// Only media on our own account at the API host is fetched: the
		// fetcher sends our credentials there (HOSTILE-INPUTS G-02). The
		// rest is recorded as arrived and refused, without its URL.
		if _, ok := s.mediaPath(u); ok {
			media = append(media, channel.Media{ProviderID: u, MIME: mediaMIME(ct)})
		} else {
			refused = append(refused, channel.Media{MIME: mediaMIME(ct), Refused: channel.MediaRefusedHost})
		}
	}
	optOut, err := optOutOf(f, text)
	if err != nil {
		return channel.Batch{}, err
	}
	// The kind of what arrived: of the first file fetched, else of the
	// first refused if its claimed type says, else text.
	kind := kindOf(media)
	if len(media) == 0 {
		if k := kindOf(refused); k != channel.KindOther || text == "" {
			kind = k
		}
	}
	if kind == channel.KindText && text == "" {
		kind = channel.KindOther // a file of no known kind, or nothing at all
	}
	e := channel.Event{
		ID:                sid,
		Type:              channel.EventMessage,
		Kind:              kind,
		Sender:            lifeline.Sensitive(sender),
		Text:              lifeline.Sensitive(sanitize(text)),
		Media:             append(media, refused...),
		OptOut:            optOut,
		ProviderMessageID: sid,
		// Twilio sends no timestamp with an incoming message: Time is zero
		// and the receiver stamps the time of receipt.
	}
	return channel.Batch{Events: []channel.Event{e}}, nil
}

// optOutOf reads whether an incoming message opts its sender out of this
// number or back in: Twilio's OptOutType (Advanced Opt-Out) if present,
// else the body as one of the keywords Twilio's default opt-out handling
// acts on (the whole body, any case, spaces around it ignored). HELP is
// neither.
func optOutOf(f form, body string) (string, error) {
	t, present, err := f.one("OptOutType")
	if err != nil {
		return "", err
	}
	if present {
		switch strings.ToUpper(t) {
		case "STOP":
			return channel.OptOutStop, nil
		case "START":
			return channel.OptOutStart, nil
		}
		return "", nil
	}
	if len(body) > 16 {
		return "", nil
	}
	switch strings.ToUpper(strings.TrimSpace(body)) {
	case "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE":
		return channel.OptOutStop, nil
	case "START", "UNSTOP", "YES":
		return channel.OptOutStart, nil
	}
	return "", nil
}

func parseStatus(f form) (channel.Batch, error) {
	sid, err := f.required("MessageSid")
	if err != nil {
		return channel.Batch{}, err
	}
	if !validSID(sid, "SM", "MM") {
		return channel.Batch{}, malformed("MessageSid not a message SID")
	}
	status, err := f.required("MessageStatus")
	if err != nil {
		return channel.Batch{}, err
	}
	code, _, err := f.one("ErrorCode")
	if err != nil {
		return channel.Batch{}, err
	}
	if code != "" && !validErrorCode(code) {
		return channel.Batch{}, malformed("ErrorCode not a code")
	}
	state, ok := reportedStatus[status]
	if !ok {
		if pendingStatus[status] {
			return channel.Batch{Ignored: "pending message status"}, nil
		}
		return channel.Batch{}, malformed("unknown MessageStatus")
	}
	st := &channel.Status{State: state}
	if state == "failed" {
		st.ErrorCode = code
		st.Reason = errorReasons[code]
		if st.Reason == "" {
			st.Reason = status
		}
	}
	return channel.Batch{Events: []channel.Event{{
		ID:                sid + ":" + status,
		Type:              channel.EventStatus,
		ProviderMessageID: sid,
		Status:            st,
	}}}, nil
}

// twilioAPI is Twilio's own API host, where MediaUrl{N} point.
var twilioAPI = &url.URL{Scheme: "https", Host: "api.twilio.com"}

// mediaPath returns the path of u below the API base if u is a media URL
// of this account: on Twilio's API host over HTTPS, or on the configured
// API base (a test fake, an egress proxy), with the account's messages'
// path, clean and unescaped. Anything else is not ours to fetch.
func (s *SMS) mediaPath(u string) (string, bool) {
	if len(u) > 2048 {
		return "", false
	}
	p, err := url.Parse(u)
	if err != nil || p.User != nil || p.Fragment != "" || p.RawQuery != "" || p.ForceQuery || p.Opaque != "" {
		return "", false
	}
	// A path with dot segments or empty ones ("…/Media/..", "…//…") could
	// resolve, at the API, to another resource of the account than a
	// media item: the fetcher would GET and DeleteMedia DELETE it.
	if path.Clean(p.Path) != p.Path || strings.Contains(p.EscapedPath(), "%") {
		return "", false
	}
	var rest string
	switch {
	case p.Scheme == twilioAPI.Scheme && p.Host == twilioAPI.Host:
		rest = p.Path
	case p.Scheme == s.api.Scheme && p.Host == s.api.Host && strings.HasPrefix(p.Path, s.api.Path+"/"):
		rest = strings.TrimPrefix(p.Path, s.api.Path)
	default:
		return "", false
	}
	if !strings.HasPrefix(rest, "/2010-04-01/Accounts/"+s.sid+"/Messages/") {
		return "", false
	}
	return rest, true
}

// mediaURL is where a media URL of this account is fetched and deleted:
// the same path on the configured API base, like every other request to
// Twilio, so that a test fake or an egress proxy sees it.
func (s *SMS) mediaURL(u string) (string, bool) {
	rest, ok := s.mediaPath(u)
	if !ok {
		return "", false
	}
	return strings.TrimRight(s.api.String(), "/") + rest, true
}

// twimlEmpty is the empty TwiML answer: replies go through the REST API
// (the outbox), never in the webhook's answer.
const twimlEmpty = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

// WriteAck answers an incoming message with empty TwiML, a status callback
// with 204.
func (s *SMS) WriteAck(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("endpoint") == EndpointStatus {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, twimlEmpty)
}

// MalformedStatus is 400: Twilio does not retry an HTTP error.
func (s *SMS) MalformedStatus() int { return http.StatusBadRequest }

// Send sends text to an E.164 number from the channel's number, with the
// channel's status callback, and returns the message SID. A send that can
// never succeed (invalid, unsubscribed or landline number; text over
// MaxText) wraps channel.ErrPermanent, and a recipient who texted STOP
// (error 21610) channel.ErrOptedOut too; a rate limit is a
// *channel.RetryAfter; anything else is worth retrying. Errors never carry
// the auth token, the account SID, the number or Twilio's message text.
//
// Twilio's Messages API has no idempotency key: a send whose answer is lost
// is retried by the outbox and may reach the contact twice.
func (s *SMS) Send(ctx context.Context, to lifeline.Sensitive, text string) (string, error) {
	dest, ok := NormalizeE164(to.Reveal())
	if !ok {
		return "", fmt.Errorf("twilio: send: recipient not an E.164 number: %w", channel.ErrPermanent)
	}
	if text == "" {
		return "", fmt.Errorf("twilio: send: empty text: %w", channel.ErrPermanent)
	}
	if len(utf16.Encode([]rune(text))) > MaxText {
		return "", fmt.Errorf("twilio: send: text over %d characters: %w", MaxText, channel.ErrPermanent)
	}
	form := url.Values{
		"From":           {s.number},
		"To":             {dest},
		"Body":           {text},
		"StatusCallback": {s.StatusCallbackURL()},
	}
	endpoint := s.api.JoinPath("2010-04-01", "Accounts", s.sid, "Messages.json").String()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", errors.New("twilio: send: cannot build request")
	}
	req.SetBasicAuth(s.sid, s.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	resp, err := s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("twilio: send: %w", stripURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("twilio: send: reading answer: %w", stripURL(err))
	}
	if resp.StatusCode/100 == 2 {
		var m messageResource
		if err := json.Unmarshal(body, &m); err != nil || !validSID(m.SID, "SM", "MM") {
			// Twilio took the message, but its id is lost; a retry may
			// send it twice, which beats not sending it.
			return "", fmt.Errorf("twilio: send: HTTP %d without a message SID", resp.StatusCode)
		}
		return m.SID, nil
	}
	return "", sendError(resp, body)
}

// permanentCodes are Twilio errors a retry cannot fix.
var permanentCodes = map[int]bool{
	21211: true, // invalid To
	21408: true, // region not enabled
	21610: true, // unsubscribed (STOP)
	21612: true, // cannot route
	21614: true, // not a mobile number
	21617: true, // body too long
}

// sendError classifies a failed send from the API's answer.
func sendError(resp *http.Response, body []byte) error {
	var ae apiError
	_ = json.Unmarshal(body, &ae) // a non-JSON answer leaves code 0
	desc := "HTTP " + strconv.Itoa(resp.StatusCode)
	if ae.Code != 0 {
		desc += ", error " + strconv.Itoa(ae.Code)
		if r := errorReasons[strconv.Itoa(ae.Code)]; r != "" {
			desc += " (" + r + ")"
		}
	}
	err := errors.New("twilio: send: " + desc)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || ae.Code == 20429:
		return &channel.RetryAfter{After: retryAfter(resp.Header.Get("Retry-After"), time.Second), Err: err}
	case ae.Code == 21610:
		return fmt.Errorf("%w: %w: %w", err, channel.ErrOptedOut, channel.ErrPermanent)
	case permanentCodes[ae.Code]:
		return fmt.Errorf("%w: %w", err, channel.ErrPermanent)
	case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
		return &channel.RetryAfter{After: retryAfter(resp.Header.Get("Retry-After"), time.Second), Err: err}
	case resp.StatusCode >= 500, resp.StatusCode == 401, resp.StatusCode == 403,
		resp.StatusCode == 404, resp.StatusCode == 408:
		// Server trouble, or this channel's credentials or account: not
		// this message's fault, so it waits for the fix.
		return err
	case resp.StatusCode >= 400:
		// Twilio refuses this request as such; repeating it would loop.
		return fmt.Errorf("%w: %w", err, channel.ErrPermanent)
	default:
		return err
	}
}

// retryAfter reads a Retry-After of delay-seconds, capped at an hour, or
// returns def.
func retryAfter(h string, def time.Duration) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || n <= 0 {
		return def
	}
	return min(time.Duration(n)*time.Second, time.Hour)
}

// stripURL drops the request URL (which names the account) from an
// net/http error, keeping what it wraps (context errors stay visible).
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// FetchMedia downloads a media item of an incoming MMS (a Media.ProviderID
// this adapter produced) with the account's credentials, from the same
// path on the configured API base, reading at most limit bytes: an item
// over it is an error. It refuses any URL outside this account's media on
// Twilio's API host or the API base.
func (s *SMS) FetchMedia(ctx context.Context, mediaURL string, limit int64) (data []byte, contentType string, err error) {
	target, ok := s.mediaURL(mediaURL)
	if !ok {
		return nil, "", fmt.Errorf("twilio: fetch media: URL not on this account's API host: %w", channel.ErrPermanent)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, "", errors.New("twilio: fetch media: cannot build request")
	}
	// net/http drops Authorization on a redirect to another host (Twilio
	// redirects media to its CDN), so the token stays with Twilio.
	req.SetBasicAuth(s.sid, s.token)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("twilio: fetch media: %w", stripURL(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, "", fmt.Errorf("twilio: fetch media: HTTP 404: %w", channel.ErrPermanent)
	case resp.StatusCode != http.StatusOK:
		return nil, "", fmt.Errorf("twilio: fetch media: HTTP %d", resp.StatusCode)
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("twilio: fetch media: %w", stripURL(err))
	}
	if int64(len(data)) > limit {
		return nil, "", fmt.Errorf("twilio: fetch media: over %d bytes: %w", limit, channel.ErrPermanent)
	}
	return data, mediaMIME(resp.Header.Get("Content-Type")), nil
}

// DeleteMedia deletes a fetched media item at Twilio (SECURITY.md §2.9:
// provider copies go right after ingest). A 404 is success: already gone.
func (s *SMS) DeleteMedia(ctx context.Context, mediaURL string) error {
	target, ok := s.mediaURL(mediaURL)
	if !ok {
		return fmt.Errorf("twilio: delete media: URL not on this account's API host: %w", channel.ErrPermanent)
	}
	return s.delete(ctx, strings.TrimSuffix(target, ".json")+".json")
}

// DeleteMessage deletes a message's record (incoming or sent) at Twilio,
// once it is stored here; Twilio finalises deletion within days. A 404 is
// success.
func (s *SMS) DeleteMessage(ctx context.Context, messageSID string) error {
	if !validSID(messageSID, "SM", "MM") {
		return fmt.Errorf("twilio: delete message: not a message SID: %w", channel.ErrPermanent)
	}
	return s.delete(ctx, s.api.JoinPath("2010-04-01", "Accounts", s.sid, "Messages", messageSID+".json").String())
}

func (s *SMS) delete(ctx context.Context, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, target, nil)
	if err != nil {
		return errors.New("twilio: delete: cannot build request")
	}
	req.SetBasicAuth(s.sid, s.token)
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("twilio: delete: %w", stripURL(err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode/100 == 2, resp.StatusCode == http.StatusNotFound:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return &channel.RetryAfter{After: retryAfter(resp.Header.Get("Retry-After"), time.Second), Err: errors.New("twilio: delete: HTTP 429")}
	default:
		return fmt.Errorf("twilio: delete: HTTP %d", resp.StatusCode)
	}
}
