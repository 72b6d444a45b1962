// SPDX-License-Identifier: AGPL-3.0-or-later

// Package telegram is the Telegram Bot API channel: webhooks in
// (POST /hooks/telegram/{name}, authenticated by the secret token set with
// setWebhook) or, for a site without public HTTPS, fetched with getUpdates
// by a Poller; messages out (sendMessage), plus getFile for media and
// setWebhook for registering the channel.
//
// The bot token is the channel's crown jewel: whoever holds it can re-point
// the webhook and read every message. It appears only in the path of
// outbound Bot API requests, never in an error, a log line or a response.
package telegram

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
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
	"unicode/utf16"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
)

// SecretHeader carries the webhook's secret token on every update.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// DefaultAPIURL is the Bot API's address.
const DefaultAPIURL = "https://api.telegram.org"

// Limits of the Bot API and of this adapter.
const (
	// MaxBody caps a webhook body. An update is a few KiB at most.
	MaxBody = 1 << 20
	// MaxText is the longest text sendMessage takes, in UTF-16 code units.
	MaxText = 4096
	// MaxFileSize is the largest file a bot can download (getFile).
	MaxFileSize = 20 << 20

	// maxResponse caps a Bot API answer read by this adapter.
	maxResponse = 1 << 20
)

// allowedUpdates are the update types SetWebhook asks for: messages and
// their edits, inline-button presses, and my_chat_member, which tells when
// a user blocks or unblocks the bot.
var allowedUpdates = []string{"message", "edited_message", "callback_query", "my_chat_member"}

// Config is one Telegram channel's configuration.
type Config struct {
	// Name is the channel's name, the {name} of its webhook URL:
	// 1–64 characters of A-Z a-z 0-9 . _ -
	Name string
	// BotToken is the token BotFather issued: "<bot id>:<secret>".
	BotToken string
	// WebhookSecret is the secret_token set with setWebhook, echoed by
	// Telegram in SecretHeader: 1–256 of A-Z a-z 0-9 _ - .
	WebhookSecret string
	// APIURL is the Bot API's base URL; DefaultAPIURL if empty. It must be
	// https, except on a loopback host (tests, a local Bot API server).
	APIURL string
}

// Adapter is one Telegram bot. It implements channel.Adapter and
// channel.Sender and is safe for concurrent use.
type Adapter struct {
	name       string
	token      string
	secret     string
	secretHash [sha256.Size]byte
	api        string // without a trailing slash
	client     *http.Client
}

var (
	_ channel.Adapter = (*Adapter)(nil)
	_ channel.Sender  = (*Adapter)(nil)
)

// New returns the adapter of a configured channel. It fails, so that the
// server does not start, if the token or the webhook secret is missing or
// not of the Bot API's form, or if the API URL is not https. client is used
// for every Bot API call; if nil, a client with a 60-second timeout is.
func New(cfg Config, client *http.Client) (*Adapter, error) {
	if !validName(cfg.Name) {
		return nil, errors.New("telegram: channel name must be 1-64 characters of A-Z a-z 0-9 . _ -")
	}
	if !validToken(cfg.BotToken) {
		// The token is never quoted, not even when it is wrong.
		return nil, errors.New("telegram: bot token missing or not of the form <bot id>:<secret>")
	}
	if !validSecret(cfg.WebhookSecret) {
		return nil, errors.New("telegram: webhook secret missing or not 1-256 of A-Z a-z 0-9 _ -")
	}
	api, err := apiURL(cfg.APIURL)
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = &http.Client{
			Timeout: 60 * time.Second,
			// The Bot API never redirects; a redirect would carry the
			// token's path elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Adapter{
		name:       cfg.Name,
		token:      cfg.BotToken,
		secret:     cfg.WebhookSecret,
		secretHash: sha256.Sum256([]byte(cfg.WebhookSecret)),
		api:        api,
		client:     client,
	}, nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) && s[i] != '.' {
			return false
		}
	}
	return true
}

// validToken reports whether s has the form of a bot token, "<digits>:<A-Z
// a-z 0-9 _ ->". The check also keeps the token from changing the path of
// the URLs it goes into.
func validToken(s string) bool {
	id, secret, ok := strings.Cut(s, ":")
	if !ok || len(id) == 0 || len(id) > 20 || len(secret) == 0 || len(secret) > 256 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	for i := 0; i < len(secret); i++ {
		if !isTokenByte(secret[i]) {
			return false
		}
	}
	return true
}

// validSecret reports whether s is a secret_token setWebhook accepts.
func validSecret(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return false
		}
	}
	return true
}

// apiURL checks and normalises the Bot API base URL.
func apiURL(s string) (string, error) {
	if s == "" {
		return DefaultAPIURL, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("telegram: API URL must be an absolute URL without credentials, query or fragment")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return "", errors.New("telegram: API URL must be https (http only on a loopback host): the bot token travels in it")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Kind is lifeline.ChannelTelegram.
func (a *Adapter) Kind() lifeline.ChannelKind { return lifeline.ChannelTelegram }

// Name is the channel's configured name.
func (a *Adapter) Name() string { return a.name }

// MaxBody is 1 MiB.
func (a *Adapter) MaxBody() int64 { return MaxBody }

// Verify accepts a request that carries SecretHeader exactly once, with
// exactly the configured secret. The comparison is of SHA-256 digests in
// constant time, so that neither the secret's bytes nor its length leak
// through timing. It returns channel.ErrUnauthorized.
func (a *Adapter) Verify(r *http.Request, _ []byte) error {
	v := r.Header.Values(SecretHeader)
	if len(v) != 1 {
		return channel.ErrUnauthorized
	}
	got := sha256.Sum256([]byte(v[0]))
	if subtle.ConstantTimeCompare(got[:], a.secretHash[:]) != 1 {
		return channel.ErrUnauthorized
	}
	return nil
}

// Parse reads one authentic Update. A message, an edited message or a
// callback query from a private chat is one event whose ID is
// "bot<bot id>/update:<update_id>"; anything else (groups, channels, bots,
// other update types) is an ignored batch. Errors wrap channel.ErrMalformed.
func (a *Adapter) Parse(_ *http.Request, body []byte) (channel.Batch, error) {
	return a.parse(body)
}

// parse is the package's parse, with every id the events carry scoped to
// this bot: a bot's update_ids and message_ids are its own, and a new bot
// under the same channel name (its token replaced) starts them again, so
// ids not scoped by the bot would make its first updates look like the old
// bot's, stored already, and acknowledge them unstored.
func (a *Adapter) parse(body []byte) (channel.Batch, error) {
	b, err := parse(body)
	if err != nil {
		return b, err
	}
	scope := "bot" + a.BotID() + "/"
	for i := range b.Events {
		e := &b.Events[i]
		e.ID = scope + e.ID
		if e.MessageRef != "" {
			e.MessageRef = lifeline.Sensitive(scope + e.MessageRef.Reveal())
		}
	}
	return b, nil
}

// WriteAck answers an empty 200: Telegram takes any 2xx.
func (a *Adapter) WriteAck(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
}

// MalformedStatus is 200: any other answer makes Telegram redeliver an
// update that will never parse.
func (a *Adapter) MalformedStatus() int { return http.StatusOK }

// Send sends text to a chat (to is a chat id) with sendMessage, as plain
// text: no parse_mode, so nothing in it is markup. It returns the sent
// message's message_id. Errors: a *channel.RetryAfter on 429; an error
// wrapping channel.ErrPermanent when the message can never be delivered
// (the user blocked the bot, the chat does not exist, the text is empty or
// longer than MaxText: split it first with SplitText); any other error is
// transient. No error carries the token or the text.
func (a *Adapter) Send(ctx context.Context, to lifeline.Sensitive, text string) (string, error) {
	const method = "sendMessage"
	chatID, err := strconv.ParseInt(to.Reveal(), 10, 64)
	if err != nil || chatID == 0 {
		return "", fmt.Errorf("%w: telegram %s: recipient is not a chat id", channel.ErrPermanent, method)
	}
	if n := utf16Len(text); n == 0 || n > MaxText {
		return "", fmt.Errorf("%w: telegram %s: text empty or longer than %d", channel.ErrPermanent, method, MaxText)
	}
	params := struct {
		ChatID int64  `json:"chat_id"`
		Text   string `json:"text"`
	}{chatID, text}
	var sent struct {
		MessageID int64 `json:"message_id"`
	}
	if err := a.call(ctx, method, params, &sent); err != nil {
		return "", sendError(err)
	}
	if sent.MessageID <= 0 {
		return "", fmt.Errorf("telegram %s: answer without message_id", method)
	}
	return strconv.FormatInt(sent.MessageID, 10), nil
}

// AnswerCallbackQuery stops the spinner on an inline button the user
// pressed (id is the EventCallback's ProviderMessageID), showing text as a
// notification if it is not empty. Errors are as Send's.
func (a *Adapter) AnswerCallbackQuery(ctx context.Context, id, text string) error {
	params := struct {
		CallbackQueryID string `json:"callback_query_id"`
		Text            string `json:"text,omitempty"`
	}{id, text}
	if err := a.call(ctx, "answerCallbackQuery", params, nil); err != nil {
		return sendError(err)
	}
	return nil
}

// SetWebhook points the bot's webhook at this channel on a server whose
// public base URL is publicURL (https://host[:port][/prefix]): the webhook
// is publicURL + "/hooks/telegram/" + name, with the channel's secret
// token and the update types message, edited_message, callback_query and
// my_chat_member (which tells when a user blocks the bot). Pending updates
// are kept.
func (a *Adapter) SetWebhook(ctx context.Context, publicURL string) error {
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("telegram setWebhook: the public URL must be an https URL without query or fragment")
	}
	params := struct {
		URL            string   `json:"url"`
		SecretToken    string   `json:"secret_token"`
		AllowedUpdates []string `json:"allowed_updates"`
	}{
		URL:            strings.TrimRight(u.String(), "/") + "/hooks/telegram/" + url.PathEscape(a.name),
		SecretToken:    a.secret,
		AllowedUpdates: allowedUpdates,
	}
	return a.call(ctx, "setWebhook", params, nil)
}

// GetFile fetches a file the Bot API holds (a Media.ProviderID) with
// getFile and a download from the file host. The reader fails rather than
// return more than MaxFileSize bytes or more than the size announced; size
// is the announced size, or -1 if unknown. A file the Bot API will never
// serve (too big, unknown file_id) is an error wrapping
// channel.ErrPermanent. The caller closes the reader.
func (a *Adapter) GetFile(ctx context.Context, fileID string) (rc io.ReadCloser, size int64, err error) {
	const method = "getFile"
	if !validFileID(fileID) {
		return nil, 0, fmt.Errorf("%w: telegram %s: not a file_id", channel.ErrPermanent, method)
	}
	var f struct {
		FileSize int64  `json:"file_size"`
		FilePath string `json:"file_path"`
	}
	if err := a.call(ctx, method, struct {
		FileID string `json:"file_id"`
	}{fileID}, &f); err != nil {
		return nil, 0, sendError(err)
	}
	if f.FileSize > MaxFileSize {
		return nil, 0, fmt.Errorf("%w: telegram %s: file larger than %d bytes", channel.ErrPermanent, method, MaxFileSize)
	}
	if !validFilePath(f.FilePath) {
		// A file_path is relative to the bot's directory on the file host;
		// anything else (.., an absolute URL) is refused, not followed.
		return nil, 0, fmt.Errorf("telegram %s: answer without a usable file_path", method)
	}

	const download = "file download"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.api+"/file/bot"+a.token+"/"+f.FilePath, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("telegram %s: cannot build the request", download)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, 0, transportError(ctx, download, err)
	}
	if resp.StatusCode != http.StatusOK {
		// The link may have expired (it lasts an hour): a new getFile
		// gives a new one, so this is not permanent.
		resp.Body.Close()
		return nil, 0, fmt.Errorf("telegram %s: HTTP %d", download, resp.StatusCode)
	}
	limit := int64(MaxFileSize)
	size = -1
	switch {
	case resp.ContentLength > MaxFileSize:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("%w: telegram %s: file larger than %d bytes", channel.ErrPermanent, download, MaxFileSize)
	case resp.ContentLength >= 0:
		size, limit = resp.ContentLength, resp.ContentLength
	case f.FileSize > 0:
		size, limit = f.FileSize, f.FileSize
	}
	return &cappedBody{body: resp.Body, left: limit}, size, nil
}

// validFilePath reports whether p is a relative path on the file host of
// the form the Bot API gives ("photos/file_12.jpg"): segments of A-Z a-z
// 0-9 _ - . that are not "." or "..".
func validFilePath(p string) bool {
	if p == "" || len(p) > 256 {
		return false
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			if !isTokenByte(seg[i]) && seg[i] != '.' {
				return false
			}
		}
	}
	return true
}

// cappedBody fails a read past its limit instead of truncating silently.
type cappedBody struct {
	body io.ReadCloser
	left int64
}

var errFileTooLarge = errors.New("telegram file download: file larger than announced or allowed")

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errFileTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.body.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n + int(c.left), errFileTooLarge
	}
	return n, err
}

func (c *cappedBody) Close() error { return c.body.Close() }

// apiError is a Bot API answer with ok false.
type apiError struct {
	method      string
	code        int // error_code, or the HTTP status if the body had none
	description string
	retryAfter  time.Duration
}

func (e *apiError) Error() string {
	if e.description == "" {
		return fmt.Sprintf("telegram %s: error %d", e.method, e.code)
	}
	return fmt.Sprintf("telegram %s: error %d: %s", e.method, e.code, e.description)
}

// call invokes a Bot API method with JSON params and decodes its result
// into result (if not nil). Its errors are *apiError or carry only the
// method's name: never the URL, which holds the token.
func (a *Adapter) call(ctx context.Context, method string, params, result any) error {
	return a.callCapped(ctx, method, params, result, maxResponse)
}

// callCapped is call with its own cap on the answer's size, for getUpdates,
// whose answer holds many updates.
func (a *Adapter) callCapped(ctx context.Context, method string, params, result any, limit int) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("telegram %s: cannot encode the request", method)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.api+"/bot"+a.token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("telegram %s: cannot build the request", method)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return transportError(ctx, method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return transportError(ctx, method, err)
	}
	if len(raw) > limit {
		return fmt.Errorf("telegram %s: answer larger than %d bytes", method, limit)
	}

	var r struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Parameters  struct {
			RetryAfter int64 `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || (!r.OK && r.ErrorCode == 0 && resp.StatusCode < 300) {
		// Not the Bot API speaking: a proxy's error page, say.
		return &apiError{method: method, code: resp.StatusCode, retryAfter: retryAfterHeader(resp)}
	}
	if !r.OK {
		e := &apiError{method: method, code: r.ErrorCode, description: a.clean(r.Description)}
		if e.code == 0 {
			e.code = resp.StatusCode
		}
		if r.Parameters.RetryAfter > 0 {
			e.retryAfter = time.Duration(min(r.Parameters.RetryAfter, 24*3600)) * time.Second
		} else {
			e.retryAfter = retryAfterHeader(resp)
		}
		return e
	}
	if result != nil {
		if err := json.Unmarshal(r.Result, result); err != nil {
			return fmt.Errorf("telegram %s: unexpected result", method)
		}
	}
	return nil
}

// clean makes a Bot API description safe for an error string: printable,
// at most 200 bytes, and without the token should it ever echo it.
func (a *Adapter) clean(s string) string {
	s = strings.ReplaceAll(s, a.token, "<redacted>")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "")
	}
	return s
}

// retryAfterHeader reads an HTTP Retry-After in seconds, or 0.
func retryAfterHeader(resp *http.Response) time.Duration {
	n, err := strconv.ParseInt(resp.Header.Get("Retry-After"), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, 24*3600)) * time.Second
}

// transportError replaces an error of net/http, whose text holds the
// request's URL and so the token, by a fixed one. It keeps the context's
// error, so that callers can tell a cancellation.
func transportError(ctx context.Context, method string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("telegram %s: request failed: %w", method, ctxErr)
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return fmt.Errorf("telegram %s: request timed out", method)
	}
	return fmt.Errorf("telegram %s: request failed", method)
}

// sendError classifies a failed call for the outbox: 429 is a
// *channel.RetryAfter; 400 (bad request: chat not found, text rejected)
// and 403 (the user blocked the bot or deleted the account) will never
// succeed for this message and wrap channel.ErrPermanent; anything else
// (401 revoked token, 5xx, network) is transient.
func sendError(err error) error {
	var e *apiError
	if !errors.As(err, &e) {
		return err
	}
	switch e.code {
	case http.StatusTooManyRequests:
		after := e.retryAfter
		if after <= 0 {
			after = time.Second
		}
		return &channel.RetryAfter{After: after, Err: e}
	case http.StatusBadRequest, http.StatusForbidden:
		return fmt.Errorf("%w: %w", channel.ErrPermanent, e)
	}
	return e
}

// utf16Len is the length of s in UTF-16 code units, the Bot API's unit of
// text length.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// SplitText cuts text into parts sendMessage takes: each at most MaxText
// UTF-16 code units, cut between code points, at the last line break or
// else the last space of a part when one is in its second half. Parts are
// never empty; an empty text has no parts.
func SplitText(text string) []string {
	var parts []string
	for text != "" {
		if utf16Len(text) <= MaxText {
			return append(parts, text)
		}
		// end is the longest prefix of at most MaxText units.
		end, units := 0, 0
		for i, r := range text {
			n := utf16.RuneLen(r)
			if units+n > MaxText {
				end = i
				break
			}
			units += n
		}
		cut := end
		if i := strings.LastIndexByte(text[:end], '\n'); i >= end/2 {
			cut = i + 1
		} else if i := strings.LastIndexByte(text[:end], ' '); i >= end/2 {
			cut = i + 1
		}
		parts = append(parts, text[:cut])
		text = text[cut:]
	}
	return parts
}
