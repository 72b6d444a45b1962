// SPDX-License-Identifier: AGPL-3.0-or-later

// Package whatsapp speaks the WhatsApp Business Platform Cloud API (Meta):
// it authenticates and parses webhooks (WIRE-FORMATS.md §2) into
// provider-neutral channel events, answers Meta's verification handshake,
// and sends texts, templates and read receipts through the Graph API.
package whatsapp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
)

// DefaultAPIURL is the Graph API base the adapter calls unless configured
// otherwise. The version is pinned on purpose: Meta changes payloads between
// versions, and each version is supported for about two years.
const DefaultAPIURL = "https://graph.facebook.com/v23.0"

// MaxBody caps a webhook body. Meta documents payloads of up to 3 MB
// (HOSTILE-INPUTS A-03: a 2.8 MB signed payload must be accepted).
const MaxBody = 4 << 20

// MaxTextLen is the longest text body, in characters, the Cloud API sends.
const MaxTextLen = 4096

// ErrWindowClosed is a send refused because more than 24 hours have passed
// since the contact last wrote (Graph error 131047): only an approved
// template can reach them now (SendTemplate). It wraps channel.ErrPermanent,
// so the outbox stops retrying the free-form text; the operator is told why.
var ErrWindowClosed = fmt.Errorf("whatsapp: outside the 24-hour customer-service window, only a template can be sent: %w", channel.ErrPermanent)

// Config is one WhatsApp channel: a business phone number of a Meta app.
type Config struct {
	Name          string // the channel's name, the {name} of /hooks/whatsapp/{name}
	PhoneNumberID string // Meta's id of the business phone number (not the number itself)
	AccessToken   string // Graph API bearer token (a system-user token)
	AppSecret     string // the Meta app's secret, the key of X-Hub-Signature-256
	VerifyToken   string // the hub.verify_token set in the App Dashboard
	APIURL        string // Graph API base including the version; DefaultAPIURL if empty
}

// Adapter is one configured WhatsApp channel. It implements channel.Adapter,
// channel.Challenger and channel.Sender, and is safe for concurrent use.
type Adapter struct {
	name          string
	phoneNumberID string
	apiURL        string
	apiHost       string // scheme://host of apiURL: media may be fetched from it
	client        *http.Client

	// The secrets sit behind a pointer, which fmt prints as an address
	// when it prints an Adapter, and are Sensitive besides.
	*secrets
}

type secrets struct {
	accessToken lifeline.Sensitive
	appSecret   lifeline.Sensitive
	verifyToken lifeline.Sensitive
}

var (
	_ channel.Adapter    = (*Adapter)(nil)
	_ channel.Challenger = (*Adapter)(nil)
	_ channel.Sender     = (*Adapter)(nil)
)

// New returns the adapter of cfg. It fails closed: every secret must be set,
// the phone number id must be numeric, and the API URL must be https (plain
// http only to a loopback address, for the fakes). client may be nil.
func New(cfg Config, client *http.Client) (*Adapter, error) {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"name", cfg.Name}, {"phone number id", cfg.PhoneNumberID}, {"access token", cfg.AccessToken},
		{"app secret", cfg.AppSecret}, {"verify token", cfg.VerifyToken},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("whatsapp: channel %q: missing %s", cfg.Name, strings.Join(missing, ", "))
	}
	if !isDigits(cfg.PhoneNumberID, 1, 32) {
		return nil, fmt.Errorf("whatsapp: channel %q: phone number id must be Meta's numeric id", cfg.Name)
	}
	api := cfg.APIURL
	if api == "" {
		api = DefaultAPIURL
	}
	u, err := url.Parse(api)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("whatsapp: channel %q: invalid API URL", cfg.Name)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil, fmt.Errorf("whatsapp: channel %q: API URL must be https", cfg.Name)
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &Adapter{
		name:          cfg.Name,
		phoneNumberID: cfg.PhoneNumberID,
		apiURL:        strings.TrimRight(api, "/"),
		apiHost:       u.Scheme + "://" + u.Host,
		client:        client,
		secrets: &secrets{
			accessToken: lifeline.Sensitive(cfg.AccessToken),
			appSecret:   lifeline.Sensitive(cfg.AppSecret),
			verifyToken: lifeline.Sensitive(cfg.VerifyToken),
		},
	}, nil
}

// Kind is lifeline.ChannelWhatsApp.
func (a *Adapter) Kind() lifeline.ChannelKind { return lifeline.ChannelWhatsApp }

// Name is the channel's configured name.
func (a *Adapter) Name() string { return a.name }

// MaxBody is 4 MiB.
func (a *Adapter) MaxBody() int64 { return MaxBody }

// WriteAck answers an empty 200, the only answer that stops Meta retrying.
func (a *Adapter) WriteAck(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

// MalformedStatus is 200: Meta retries anything else for 7 days.
func (a *Adapter) MalformedStatus() int { return http.StatusOK }

// signatureHeader carries "sha256=" + hex HMAC-SHA256(app secret, raw body).
const signatureHeader = "X-Hub-Signature-256"

// Verify checks X-Hub-Signature-256 over the raw body. The header must be
// present exactly once; the legacy SHA-1 X-Hub-Signature is never accepted
// instead. Meta sends lowercase hex; uppercase hex decodes to the same MAC
// and is accepted, as it proves exactly the same thing. It returns
// channel.ErrUnauthorized.
func (a *Adapter) Verify(r *http.Request, body []byte) error {
	vals := r.Header.Values(signatureHeader)
	if len(vals) != 1 || a.appSecret.IsEmpty() {
		return channel.ErrUnauthorized
	}
	digest, ok := strings.CutPrefix(vals[0], "sha256=")
	if !ok || len(digest) != 2*sha256.Size {
		return channel.ErrUnauthorized
	}
	got, err := hex.DecodeString(digest)
	if err != nil {
		return channel.ErrUnauthorized
	}
	mac := hmac.New(sha256.New, []byte(a.appSecret.Reveal()))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return channel.ErrUnauthorized
	}
	return nil
}

// Ignored reasons: fixed strings, never input.
const (
	ignoredObject      = "not a whatsapp_business_account notification"
	ignoredEmpty       = "no changes"
	ignoredField       = "not a messages field"
	ignoredNoValue     = "change without value"
	ignoredOtherNumber = "another phone number id"
	ignoredValueErrors = "errors for the whole value"
	ignoredEmptyValue  = "no messages or statuses"
	ignoredReaction    = "reaction"
	ignoredSystem      = "system message"
	ignoredOwnNumber   = "message from our own number"
	ignoredStatusState = "status state not tracked"
	ignoredDuplicate   = "duplicate within the body"
)

// Limits.
const (
	maxReasonLen        = 200
	statusIDSeparator   = ":"
	maxChallengeLen     = 256
	maxAPIResponse      = 1 << 20
	defaultRetryAfter   = time.Second
	pairRateRetryAfter  = 6 * time.Second // 131056: one message per 6 s to one user
	maxRetryAfter       = time.Hour
	templateNameMaxLen  = 512
	templateLangMaxLen  = 15
	maxTimestamp        = 4102444800 // 2100-01-01: later is not a real timestamp
	mediaIDMaxLen       = 256
	providerIDMaxLen    = 256
	bsuidMaxLen         = 2 + 1 + 128
	contactCardMaxLines = 50
)

// Parse reads an authentic notification into events: one per message (a
// batch may carry several, across entries and changes) and one per status.
// Changes for another phone number id, fields other than "messages",
// reactions and system messages yield no event. A message of a type lifeline
// does not display (unsupported, unknown, or missing its content object) is
// kept as a KindOther placeholder, so that the contact's writing is never
// silently dropped. Wrong JSON types, a missing or invalid wamid, sender or
// type are errors wrapping channel.ErrMalformed: the whole body is then
// quarantined, since Meta never sends them.
func (a *Adapter) Parse(_ *http.Request, body []byte) (channel.Batch, error) {
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return channel.Batch{}, malformed("not a JSON notification of the expected shape")
	}
	if n.Object != "whatsapp_business_account" {
		return channel.Batch{Ignored: ignoredObject}, nil
	}
	p := parser{a: a, seen: map[string]bool{}, now: time.Now().UTC()}
	for i := range n.Entry {
		for j := range n.Entry[i].Changes {
			if err := p.change(&n.Entry[i].Changes[j]); err != nil {
				return channel.Batch{}, err
			}
		}
	}
	if len(p.events) == 0 {
		if p.ignored == "" {
			p.ignored = ignoredEmpty
		}
		return channel.Batch{Ignored: p.ignored}, nil
	}
	return channel.Batch{Events: p.events}, nil
}

func malformed(what string) error { return fmt.Errorf("%w: whatsapp: %s", channel.ErrMalformed, what) }

type parser struct {
	a       *Adapter
	events  []channel.Event
	seen    map[string]bool
	ignored string
	now     time.Time
}

func (p *parser) ignore(reason string) {
	if p.ignored == "" {
		p.ignored = reason
	}
}

func (p *parser) add(e channel.Event) {
	if p.seen[e.ID] {
		p.ignore(ignoredDuplicate)
		return
	}
	p.seen[e.ID] = true
	p.events = append(p.events, e)
}

func (p *parser) change(c *change) error {
	if c.Field != "messages" {
		p.ignore(ignoredField)
		return nil
	}
	v := c.Value
	if v == nil {
		p.ignore(ignoredNoValue)
		return nil
	}
	// Route by phone number id: another number of the same app is not
	// ours to answer (HOSTILE-INPUTS D-07).
	if v.Metadata == nil || v.Metadata.PhoneNumberID != p.a.phoneNumberID {
		p.ignore(ignoredOtherNumber)
		return nil
	}
	if len(v.Messages) == 0 && len(v.Statuses) == 0 {
		if len(v.Errors) > 0 {
			p.ignore(ignoredValueErrors)
		} else {
			p.ignore(ignoredEmptyValue)
		}
		return nil
	}
	names := make(map[string]string, len(v.Contacts))
	for _, c := range v.Contacts {
		if c.WaID != "" {
			names[c.WaID] = c.Profile.Name
		}
		if c.UserID != "" {
			names[c.UserID] = c.Profile.Name
		}
	}
	own := digitsOnly(v.Metadata.DisplayPhoneNumber)
	for i := range v.Messages {
		if err := p.message(&v.Messages[i], names, own); err != nil {
			return err
		}
	}
	for i := range v.Statuses {
		if err := p.status(&v.Statuses[i]); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) message(m *message, names map[string]string, own string) error {
	if !validProviderID(m.ID) {
		return malformed("message without a valid id")
	}
	if m.Type == "" {
		return malformed("message without a type")
	}
	var sender string
	switch {
	case m.From != "":
		if !isDigits(m.From, 8, 15) {
			return malformed("message sender is not a wa_id")
		}
		sender = m.From
	case m.FromUserID != "":
		// A business-scoped user id: a user who shows no phone number.
		if !validBSUID(m.FromUserID) {
			return malformed("message sender is not a business-scoped user id")
		}
		sender = m.FromUserID
	default:
		return malformed("message without a sender")
	}
	if own != "" && sender == own {
		p.ignore(ignoredOwnNumber)
		return nil
	}
	e := channel.Event{
		ID:                m.ID,
		Type:              channel.EventMessage,
		Sender:            lifeline.Sensitive(sender),
		SenderName:        lifeline.Sensitive(clean(names[sender])),
		ProviderMessageID: m.ID,
		MessageRef:        lifeline.Sensitive(m.ID),
		Time:              p.timestamp(m.Timestamp),
	}
	switch m.Type {
	case "text":
		if m.Text == nil {
			return p.placeholder(e)
		}
		e.Kind, e.Text = channel.KindText, sensitive(m.Text.Body)
	case "image":
		e.Kind = channel.KindPhoto
		if !withMedia(&e, m.Image) {
			return p.placeholder(e)
		}
	case "audio":
		e.Kind = channel.KindAudio
		if m.Audio != nil && m.Audio.Voice {
			e.Kind = channel.KindVoice
		}
		if !withMedia(&e, m.Audio) {
			return p.placeholder(e)
		}
	case "video":
		e.Kind = channel.KindVideo
		if !withMedia(&e, m.Video) {
			return p.placeholder(e)
		}
	case "document":
		e.Kind = channel.KindDocument
		if !withMedia(&e, m.Document) {
			return p.placeholder(e)
		}
	case "sticker":
		e.Kind = channel.KindSticker
		if !withMedia(&e, m.Sticker) {
			return p.placeholder(e)
		}
	case "location":
		if m.Location == nil {
			return p.placeholder(e)
		}
		lat, ok1 := coordinate(m.Location.Latitude, 90)
		lon, ok2 := coordinate(m.Location.Longitude, 180)
		if !ok1 || !ok2 {
			return malformed("location without valid coordinates")
		}
		e.Kind = channel.KindLocation
		e.Location = &channel.Location{Latitude: lifeline.Sensitive(lat), Longitude: lifeline.Sensitive(lon)}
		e.Text = sensitive(joinNonEmpty(m.Location.Name, m.Location.Address))
	case "contacts":
		if len(m.Contacts) == 0 {
			return p.placeholder(e)
		}
		e.Kind, e.Text = channel.KindContact, sensitive(cardsText(m.Contacts))
	case "interactive":
		// A reply to buttons or a list we sent. Text is the reply id we
		// issued (to be checked against what we sent, HOSTILE-INPUTS F-16),
		// or the title if the id is empty.
		var r *reply
		if in := m.Interactive; in != nil {
			switch in.Type {
			case "button_reply":
				r = in.ButtonReply
			case "list_reply":
				r = in.ListReply
			}
		}
		if r == nil {
			return p.placeholder(e)
		}
		e.Type, e.Text, e.MessageRef = channel.EventCallback, sensitive(firstNonEmpty(r.ID, r.Title)), ""
	case "button":
		// A quick-reply button of a template we sent: a callback like an
		// interactive reply; Text is its payload, or its label.
		if m.Button == nil {
			return p.placeholder(e)
		}
		e.Type, e.Text, e.MessageRef = channel.EventCallback, sensitive(firstNonEmpty(m.Button.Payload, m.Button.Text)), ""
	case "edit":
		// A contact edited a message (text, or a caption): Meta sends this
		// for numbers shared with the WhatsApp Business app ("Coexistence";
		// elsewhere an edit comes as unsupported). The event names the
		// message edited; its content is the new text. An edit lifeline
		// cannot read is kept as a placeholder, as any message.
		ed := m.Edit
		if ed == nil || ed.Message == nil || !validProviderID(ed.OriginalMessageID) || ed.OriginalMessageID == m.ID {
			return p.placeholder(e)
		}
		e.Type, e.ProviderMessageID, e.MessageRef = channel.EventEdit, ed.OriginalMessageID, lifeline.Sensitive(ed.OriginalMessageID)
		switch n := ed.Message; {
		case n.Type == "text" && n.Text != nil:
			e.Kind, e.Text = channel.KindText, sensitive(n.Text.Body)
		case n.Type == "image" && n.Image != nil:
			e.Kind, e.Text = channel.KindPhoto, sensitive(n.Image.Caption)
		case n.Type == "video" && n.Video != nil:
			e.Kind, e.Text = channel.KindVideo, sensitive(n.Video.Caption)
		case n.Type == "document" && n.Document != nil:
			e.Kind, e.Text = channel.KindDocument, sensitive(n.Document.Caption)
		default:
			return p.placeholder(e)
		}
	case "reaction":
		p.ignore(ignoredReaction)
		return nil
	case "system":
		p.ignore(ignoredSystem)
		return nil
	default:
		// unsupported (Meta could not show it: a poll, a view-once, an
		// edit…), and types lifeline does not take (order, request_welcome):
		// the contact did write; keep a placeholder (HOSTILE-INPUTS H-13).
		return p.placeholder(e)
	}
	p.add(e)
	return nil
}

// placeholder keeps a message whose content lifeline cannot show.
func (p *parser) placeholder(e channel.Event) error {
	e.Type, e.Kind, e.Text, e.Media, e.Location = channel.EventMessage, channel.KindOther, "", nil, nil
	e.ProviderMessageID, e.MessageRef = e.ID, lifeline.Sensitive(e.ID)
	p.add(e)
	return nil
}

func (p *parser) status(s *status) error {
	if !validProviderID(s.ID) {
		return malformed("status without a valid message id")
	}
	switch s.Status {
	case "sent", "delivered", "read", "failed":
	case "":
		return malformed("status without a state")
	default:
		// "played" (a voice note we sent was played) and states Meta may
		// add: no state machine of ours knows them.
		p.ignore(ignoredStatusState)
		return nil
	}
	e := channel.Event{
		ID:                s.ID + statusIDSeparator + s.Status,
		Type:              channel.EventStatus,
		ProviderMessageID: s.ID,
		Status:            &channel.Status{State: s.Status},
		Time:              p.timestamp(s.Timestamp),
	}
	if isDigits(s.RecipientID, 8, 15) || validBSUID(s.RecipientID) {
		e.Sender = lifeline.Sensitive(s.RecipientID)
	}
	if len(s.Errors) > 0 {
		e.Status.ErrorCode = strconv.Itoa(s.Errors[0].Code)
		e.Status.Reason = truncate(safeText(s.Errors[0].Title), maxReasonLen)
	}
	p.add(e)
	return nil
}

// timestamp reads Meta's timestamp, a string of Unix seconds (a number is
// tolerated). Anything else falls back to the time of receipt: a message
// is never dropped for its timestamp, and old ones are legitimate retries
// (HOSTILE-INPUTS D-06, E-09).
func (p *parser) timestamp(raw json.RawMessage) time.Time {
	s := string(bytes.Trim(raw, `"`))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > maxTimestamp {
		return p.now
	}
	return time.Unix(n, 0).UTC()
}

// withMedia attaches the media object's id, if it is one lifeline will ask
// the Graph API about. Its url is never used (HOSTILE-INPUTS G-03). The
// caption becomes the text. It reports false if there is no object.
func withMedia(e *channel.Event, m *media) bool {
	if m == nil {
		return false
	}
	e.Text = sensitive(m.Caption)
	if validMediaID(m.ID) {
		e.Media = []channel.Media{{ProviderID: m.ID, MIME: truncate(clean(m.MIMEType), 255)}}
	}
	return true
}

// coordinate returns a JSON number exactly as sent, if it is one within
// ±limit degrees. A string holding a number is tolerated.
func coordinate(raw json.RawMessage, limit float64) (string, bool) {
	s := string(bytes.Trim(raw, `"`))
	if s == "" || len(s) > 64 || !json.Valid([]byte(s)) || strings.ContainsAny(s, `"[{tfn`) {
		return "", false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < -limit || f > limit {
		return "", false
	}
	return s, true
}

// cardsText renders shared contacts as lines "name: phone, phone".
func cardsText(cards []sharedCard) string {
	var b strings.Builder
	for i, c := range cards {
		if i == contactCardMaxLines {
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(c.Name.FormattedName)
		var phones []string
		for _, ph := range c.Phones {
			phones = append(phones, firstNonEmpty(ph.Phone, ph.WaID))
		}
		if len(phones) > 0 {
			b.WriteString(": ")
			b.WriteString(strings.Join(phones, ", "))
		}
	}
	return b.String()
}

// Challenge answers Meta's GET verification: hub.mode=subscribe and the
// configured hub.verify_token (compared in constant time) echo
// hub.challenge as text/plain. A wrong or missing token is 403; a challenge
// that is not 1–256 characters of [0-9A-Za-z_-] is 400, so that the
// endpoint never reflects arbitrary content (HOSTILE-INPUTS A-10).
func (a *Adapter) Challenge(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	mode, token, challenge := q["hub.mode"], q["hub.verify_token"], q["hub.challenge"]
	if len(mode) != 1 || mode[0] != "subscribe" || len(token) != 1 || !a.verifyTokenEqual(token[0]) {
		http.Error(w, "Forbidden.", http.StatusForbidden)
		return
	}
	if len(challenge) != 1 || !validChallenge(challenge[0]) {
		http.Error(w, "Bad request.", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, challenge[0])
}

// verifyTokenEqual compares digests, so that neither the token's content
// nor its length shows in the time taken.
func (a *Adapter) verifyTokenEqual(got string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(a.verifyToken.Reveal()))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

func validChallenge(s string) bool {
	if s == "" || len(s) > maxChallengeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Sending.

// APIError is an error answer of the Graph API. Message is Meta's, with the
// access token and the recipient removed and its length capped.
type APIError struct {
	HTTPStatus int
	Code       int // Meta's error code: build handling on it, not on the status
	Subcode    int
	Type       string
	Message    string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("whatsapp: graph api error %d", e.Code)
	if e.Subcode != 0 {
		s += fmt.Sprintf(" (subcode %d)", e.Subcode)
	}
	s += fmt.Sprintf(", http %d", e.HTTPStatus)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Graph error codes by what the outbox should do (WIRE-FORMATS.md §2.6).
var (
	rateLimitCodes = map[int]bool{
		4:      true, // application request limit
		80007:  true, // WABA rate limit
		130429: true, // Cloud API throughput reached
		131056: true, // pair rate limit: too many messages to the same user
	}
	permanentCodes = map[int]bool{
		100:    true, // invalid parameter
		131008: true, // required parameter missing
		131009: true, // parameter value invalid
		131021: true, // recipient is the sender
		131026: true, // message undeliverable: no WhatsApp, old app, blocked
		131030: true, // recipient not in the allowed list (test numbers)
		131049: true, // not delivered to maintain ecosystem engagement
		131050: true, // user stopped marketing messages
		131051: true, // unsupported message type
		130472: true, // user's number is part of an experiment
		132000: true, // template parameter count mismatch
		132001: true, // template does not exist
		132005: true, // template hydrated text too long
		132007: true, // template format policy violated
		132012: true, // template parameter format mismatch
		132015: true, // template paused
		132016: true, // template disabled
	}
)

// Send sends text to a contact (a wa_id, an E.164 number, or a
// business-scoped user id) and returns the wamid of the message. Errors:
// ErrWindowClosed (wraps channel.ErrPermanent) outside the 24-hour window;
// channel.ErrPermanent for a recipient or text that will never go;
// *channel.RetryAfter for rate limits; anything else is transient. The
// Cloud API has no idempotency key: a send whose answer is lost may be
// repeated by the outbox (at-least-once).
func (a *Adapter) Send(ctx context.Context, to lifeline.Sensitive, text string) (string, error) {
	if strings.TrimSpace(text) == "" {
		return "", fmt.Errorf("whatsapp: send: empty text: %w", channel.ErrPermanent)
	}
	if utf8.RuneCountInString(text) > MaxTextLen {
		return "", fmt.Errorf("whatsapp: send: text longer than %d characters: %w", MaxTextLen, channel.ErrPermanent)
	}
	req := sendRequest{MessagingProduct: "whatsapp", RecipientType: "individual", Type: "text",
		Text: &sendText{Body: text}}
	if err := setRecipient(&req, to.Reveal()); err != nil {
		return "", err
	}
	return a.sendMessage(ctx, req, to.Reveal())
}

// SendTemplate sends an approved template without parameters (name, and a
// language code such as "ru" or "en_US"), the only kind of message that
// reaches a contact outside the 24-hour window. Errors as for Send.
func (a *Adapter) SendTemplate(ctx context.Context, to lifeline.Sensitive, name, language string) (string, error) {
	if !validTemplateName(name) || !validLanguage(language) {
		return "", fmt.Errorf("whatsapp: send template: invalid template name or language: %w", channel.ErrPermanent)
	}
	req := sendRequest{MessagingProduct: "whatsapp", RecipientType: "individual", Type: "template",
		Template: &sendTemplate{Name: name}}
	req.Template.Language.Code = language
	if err := setRecipient(&req, to.Reveal()); err != nil {
		return "", err
	}
	return a.sendMessage(ctx, req, to.Reveal())
}

// MarkRead tells the contact their message was read (blue ticks). Errors as
// for Send; callers may ignore them.
func (a *Adapter) MarkRead(ctx context.Context, wamid string) error {
	if !validProviderID(wamid) {
		return fmt.Errorf("whatsapp: mark read: invalid message id: %w", channel.ErrPermanent)
	}
	req := sendRequest{MessagingProduct: "whatsapp", Status: "read", MessageID: wamid}
	var resp sendResponse
	return a.call(ctx, http.MethodPost, a.messagesURL(), req, &resp, "")
}

func (a *Adapter) messagesURL() string {
	return a.apiURL + "/" + url.PathEscape(a.phoneNumberID) + "/messages"
}

func setRecipient(req *sendRequest, to string) error {
	switch {
	case isDigits(strings.TrimPrefix(to, "+"), 8, 15):
		req.To = strings.TrimPrefix(to, "+")
	case validBSUID(to):
		req.Recipient = to
	default:
		return fmt.Errorf("whatsapp: send: recipient is not a WhatsApp id: %w", channel.ErrPermanent)
	}
	return nil
}

func (a *Adapter) sendMessage(ctx context.Context, req sendRequest, to string) (string, error) {
	var resp sendResponse
	if err := a.call(ctx, http.MethodPost, a.messagesURL(), req, &resp, to); err != nil {
		return "", err
	}
	if len(resp.Messages) == 0 || !validProviderID(resp.Messages[0].ID) {
		// Accepted, but we cannot tell which message it is. Retrying may
		// send it twice; not retrying may lose it. Lose nothing.
		return "", errors.New("whatsapp: send: answer without a message id")
	}
	return resp.Messages[0].ID, nil
}

// call makes one Graph API request with the bearer token and decodes a 2xx
// answer into out. redact is a value (the recipient) that must not appear
// in an error.
func (a *Adapter) call(ctx context.Context, method, target string, in, out any, redact string) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("whatsapp: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return errors.New("whatsapp: invalid request")
	}
	req.Header.Set("Authorization", "Bearer "+a.accessToken.Reveal())
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		// The token is in a header, never in the URL, so the error of
		// Do cannot carry it; ctx errors stay visible to errors.Is.
		return fmt.Errorf("whatsapp: %s %s: %w", method, a.redactURL(target), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
	if err != nil {
		return fmt.Errorf("whatsapp: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return a.apiError(resp, raw, redact)
	}
	if out != nil && json.Unmarshal(raw, out) != nil {
		return errors.New("whatsapp: undecodable answer")
	}
	return nil
}

// redactURL drops the query string of a Graph URL from an error.
func (a *Adapter) redactURL(target string) string {
	s, _, _ := strings.Cut(target, "?")
	return s
}

// apiError classifies an error answer.
func (a *Adapter) apiError(resp *http.Response, raw []byte, redact string) error {
	apiErr := &APIError{HTTPStatus: resp.StatusCode}
	var ge graphError
	if json.Unmarshal(raw, &ge) == nil && ge.Error != nil {
		apiErr.Code, apiErr.Subcode = ge.Error.Code, ge.Error.ErrorSubcode
		apiErr.Type = truncate(safeText(ge.Error.Type), 64)
		msg := ge.Error.Message
		for _, secret := range []string{a.accessToken.Reveal(), a.appSecret.Reveal(), redact, strings.TrimPrefix(redact, "+")} {
			if secret != "" {
				msg = strings.ReplaceAll(msg, secret, lifeline.Redacted)
			}
		}
		apiErr.Message = truncate(safeText(msg), maxReasonLen)
	}
	code := apiErr.Code
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || rateLimitCodes[code]:
		d := defaultRetryAfter
		if code == 131056 {
			d = pairRateRetryAfter
		}
		if h, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			d = h
		}
		return &channel.RetryAfter{After: d, Err: apiErr}
	case code == 131047:
		return fmt.Errorf("%w: %w", ErrWindowClosed, apiErr)
	case permanentCodes[code]:
		return fmt.Errorf("%w: %w", channel.ErrPermanent, apiErr)
	case resp.StatusCode >= 500:
		return apiErr
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		code == 0 || code == 190 || code == 10 || (code >= 200 && code < 300):
		// Our credentials or permissions: nothing wrong with the message;
		// it goes once an administrator has fixed the channel.
		return apiErr
	case resp.StatusCode >= 400:
		// An error Meta will repeat for ever: retrying would be a loop.
		return fmt.Errorf("%w: %w", channel.ErrPermanent, apiErr)
	}
	return apiErr
}

// retryAfter reads an HTTP Retry-After (seconds or a date), within 1 s–1 h.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	var d time.Duration
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, time.Second), maxRetryAfter), true
}

// Media.

// FetchMedia downloads a media file by its id: GET {APIURL}/{media-id} for
// its URL, then that URL with the bearer token, which is sent only to
// Meta's hosts over https or to the configured API host. It returns the
// bytes and Meta's MIME type; a file over limit bytes is an error wrapping
// channel.ErrPermanent. The caller checks magic bytes.
func (a *Adapter) FetchMedia(ctx context.Context, mediaID string, limit int64) ([]byte, string, error) {
	if !validMediaID(mediaID) {
		return nil, "", fmt.Errorf("whatsapp: fetch media: invalid media id: %w", channel.ErrPermanent)
	}
	var info mediaInfo
	q := url.Values{"phone_number_id": {a.phoneNumberID}}
	if err := a.call(ctx, http.MethodGet, a.apiURL+"/"+url.PathEscape(mediaID)+"?"+q.Encode(), nil, &info, ""); err != nil {
		return nil, "", err
	}
	if info.FileSize > limit {
		return nil, "", fmt.Errorf("whatsapp: fetch media: file of %d bytes over the limit: %w", info.FileSize, channel.ErrPermanent)
	}
	if !a.mediaHostAllowed(info.URL) {
		return nil, "", fmt.Errorf("whatsapp: fetch media: url not on a Meta host: %w", channel.ErrPermanent)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, info.URL, nil)
	if err != nil {
		return nil, "", errors.New("whatsapp: fetch media: invalid url")
	}
	req.Header.Set("Authorization", "Bearer "+a.accessToken.Reveal())
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("whatsapp: fetch media: %w", stripURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
		return nil, "", a.apiError(resp, raw, "")
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("whatsapp: fetch media: %w", stripURL(err))
	}
	if int64(len(data)) > limit {
		return nil, "", fmt.Errorf("whatsapp: fetch media: file over the limit of %d bytes: %w", limit, channel.ErrPermanent)
	}
	return data, truncate(safeText(info.MIMEType), 255), nil
}

// DeleteMedia deletes a media file at Meta once it is stored.
func (a *Adapter) DeleteMedia(ctx context.Context, mediaID string) error {
	if !validMediaID(mediaID) {
		return fmt.Errorf("whatsapp: delete media: invalid media id: %w", channel.ErrPermanent)
	}
	q := url.Values{"phone_number_id": {a.phoneNumberID}}
	return a.call(ctx, http.MethodDelete, a.apiURL+"/"+url.PathEscape(mediaID)+"?"+q.Encode(), nil, nil, "")
}

// mediaHostAllowed is the allow-list of media URLs: https on Meta's hosts,
// or the configured API host (a fake or a proxy in front of Meta).
func (a *Adapter) mediaHostAllowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Host == "" {
		return false
	}
	if u.Scheme+"://"+u.Host == a.apiHost {
		return true
	}
	if u.Scheme != "https" || u.Port() != "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, suffix := range []string{".fbsbx.com", ".facebook.com", ".whatsapp.net", ".fbcdn.net"} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// stripURL removes the URL of a *url.Error: media URLs carry signed
// query strings.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// Validation and text helpers.

func isDigits(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func digitsOnly(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// validProviderID accepts an opaque provider id (a wamid): 1–256
// printable ASCII characters without spaces.
func validProviderID(s string) bool {
	if s == "" || len(s) > providerIDMaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// validMediaID accepts what can be a path segment of a Graph URL.
func validMediaID(s string) bool {
	if s == "" || len(s) > mediaIDMaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validBSUID accepts a business-scoped user id: a two-letter country code,
// a dot, 1–128 alphanumerics ("US.13491208655302741918").
func validBSUID(s string) bool {
	if len(s) < 4 || len(s) > bsuidMaxLen || s[2] != '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i < 2 && c >= 'A' && c <= 'Z', i == 2:
		case i > 2 && (c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'):
		default:
			return false
		}
	}
	return true
}

func validTemplateName(s string) bool {
	if s == "" || len(s) > templateNameMaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '_') {
			return false
		}
	}
	return true
}

func validLanguage(s string) bool {
	if len(s) < 2 || len(s) > templateLangMaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clean makes provider text safe to store: encoding/json already turned
// invalid UTF-8 and lone surrogates into U+FFFD; NUL, which some databases
// refuse, becomes U+FFFD too (HOSTILE-INPUTS C-03). Everything else is kept
// byte for byte; rendering escapes it.
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

func sensitive(s string) lifeline.Sensitive { return lifeline.Sensitive(clean(s)) }

// safeText drops control characters from provider text that goes into an
// error string or a reason (never into a message).
func safeText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError ||
			(r >= 0x200b && r <= 0x200f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return -1
		}
		return r
	}, s)
}

// truncate cuts s to at most n bytes at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func joinNonEmpty(ss ...string) string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, "\n")
}
