// SPDX-License-Identifier: AGPL-3.0-or-later

package channeltest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// TelegramSecretHeader is the header Telegram puts a webhook's secret
// token in.
const TelegramSecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// TelegramFake is a fake of the Telegram Bot API on a loopback
// httptest.Server: sendMessage, answerCallbackQuery, setWebhook,
// deleteWebhook, getWebhookInfo, getUpdates (of updates queued with
// QueueUpdate), getFile and file downloads, for one bot token. Answers
// have the Bot API's shape ({"ok":…,"result":…} or {"ok":false,
// "error_code":…,"description":…,"parameters":…}) and HTTP statuses that
// mirror error_code. It is safe for concurrent use; use its URL as the
// adapter's API URL.
type TelegramFake struct {
	// Token is the bot token the fake answers to; other tokens get 401.
	Token string

	server *httptest.Server
	botID  int64

	mu       sync.Mutex
	nextID   int64
	calls    int
	sent     []TelegramSent
	answered []string
	webhooks []TelegramWebhook
	files    map[string]telegramFile // by file_id
	paths    map[string][]byte       // by file_path
	failures map[int64]*telegramFailure
	hangs    map[int64]time.Duration // sendMessage to the chat answers after so long

	// getUpdates: the updates Telegram holds, oldest first, until an
	// offset confirms them.
	hookActive bool // a webhook is set: getUpdates answers 409
	deletes    int  // deleteWebhook calls
	updates    []telegramQueued
	polls      int           // getUpdates calls, to end an older one (409)
	changed    chan struct{} // closed and replaced when updates or polls change
	closing    chan struct{} // closed by Close: long polls end
	closeOnce  sync.Once
}

type telegramQueued struct {
	id   int64
	body json.RawMessage
}

// TelegramSent is a message the fake accepted through sendMessage.
type TelegramSent struct {
	ChatID    int64
	Text      string
	ParseMode string // as asked; "" is plain text
	MessageID int64
}

// TelegramWebhook is a setWebhook call the fake accepted.
type TelegramWebhook struct {
	URL            string
	SecretToken    string
	AllowedUpdates []string
}

// TelegramError is an error answer of the Bot API.
type TelegramError struct {
	Code        int    // error_code, also the HTTP status
	Description string // e.g. "Forbidden: bot was blocked by the user"
	RetryAfter  int    // parameters.retry_after, seconds; 0 for none
}

type telegramFile struct {
	path string
	size int64
}

type telegramFailure struct {
	err  TelegramError
	left int // answers left; negative for ever
}

// NewTelegramFake starts a fake Bot API for token (e.g. "123456:test").
// Close it when done.
func NewTelegramFake(token string) *TelegramFake {
	f := &TelegramFake{
		Token:    token,
		nextID:   1000,
		files:    map[string]telegramFile{},
		paths:    map[string][]byte{},
		failures: map[int64]*telegramFailure{},
		hangs:    map[int64]time.Duration{},
		changed:  make(chan struct{}),
		closing:  make(chan struct{}),
	}
	id, _, _ := strings.Cut(token, ":")
	f.botID, _ = strconv.ParseInt(id, 10, 64)
	f.server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// URL is the fake's base URL, to configure as the adapter's API URL.
func (f *TelegramFake) URL() string { return f.server.URL }

// Close shuts the fake down, ending long polls first.
func (f *TelegramFake) Close() {
	f.closeOnce.Do(func() { close(f.closing) })
	f.server.Close()
}

// telegramMaxPoll bounds a getUpdates long poll, whatever timeout it asks.
const telegramMaxPoll = 50 * time.Second

// QueueUpdate gives the bot an update, for getUpdates to return, as
// Telegram holds updates for a bot without a webhook. body must be JSON; its
// update_id (an integer) is what offsets confirm. A body without one is
// returned until any offset confirms something.
func (f *TelegramFake) QueueUpdate(body []byte) {
	if !json.Valid(body) {
		panic("channeltest: QueueUpdate: body is not JSON")
	}
	var u struct {
		UpdateID int64 `json:"update_id"`
	}
	json.Unmarshal(body, &u)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, telegramQueued{id: u.UpdateID, body: append(json.RawMessage(nil), body...)})
	f.notifyLocked()
}

// Pending is the number of updates the fake holds that no getUpdates
// offset has confirmed yet.
func (f *TelegramFake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.updates)
}

// WebhookDeletes is the number of deleteWebhook calls accepted.
func (f *TelegramFake) WebhookDeletes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deletes
}

// notifyLocked wakes long polls; f.mu is held.
func (f *TelegramFake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Calls is the number of Bot API requests the fake has had, answered or
// not: for checking that a rejected webhook caused no API call.
func (f *TelegramFake) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// Sent returns the messages accepted, in order.
func (f *TelegramFake) Sent() []TelegramSent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TelegramSent(nil), f.sent...)
}

// CallbackAnswers returns the callback_query_ids answered, in order.
func (f *TelegramFake) CallbackAnswers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.answered...)
}

// Webhooks returns the setWebhook calls accepted, in order.
func (f *TelegramFake) Webhooks() []TelegramWebhook {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TelegramWebhook(nil), f.webhooks...)
}

// FailChat makes the next times sendMessage calls to chatID fail with e
// (times < 0: until FailChat is called again with times 0).
func (f *TelegramFake) FailChat(chatID int64, e TelegramError, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if times == 0 {
		delete(f.failures, chatID)
		return
	}
	f.failures[chatID] = &telegramFailure{err: e, left: times}
}

// Hang makes every sendMessage call to chatID answer only after d (or
// when the caller gives up, or the fake closes), as a provider call that
// hangs; d = 0 ends it. The message is accepted when the answer comes.
func (f *TelegramFake) Hang(chatID int64, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d <= 0 {
		delete(f.hangs, chatID)
		return
	}
	f.hangs[chatID] = d
}

// Block makes chatID's user block the bot: sendMessage answers 403.
func (f *TelegramFake) Block(chatID int64) {
	f.FailChat(chatID, TelegramError{Code: http.StatusForbidden, Description: "Forbidden: bot was blocked by the user"}, -1)
}

// RateLimit makes the next times sendMessage calls to chatID answer 429
// with retry_after seconds.
func (f *TelegramFake) RateLimit(chatID int64, retryAfter, times int) {
	f.FailChat(chatID, TelegramError{
		Code:        http.StatusTooManyRequests,
		Description: "Too Many Requests: retry after " + strconv.Itoa(retryAfter),
		RetryAfter:  retryAfter,
	}, times)
}

// AddFile stores a file for getFile under fileID, at a path of the Bot
// API's form, and returns the path.
func (f *TelegramFake) AddFile(fileID string, data []byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := "documents/file_" + strconv.Itoa(len(f.paths)) + ".bin"
	f.files[fileID] = telegramFile{path: path, size: int64(len(data))}
	f.paths[path] = data
	return path
}

// AddFileAt stores a file with the file_path and file_size getFile
// announces, whatever they are: for hostile paths ("../../etc/passwd") and
// sizes that lie. data is served at path on the file host.
func (f *TelegramFake) AddFileAt(fileID, path string, size int64, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[fileID] = telegramFile{path: path, size: size}
	f.paths[path] = data
}

func (f *TelegramFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()

	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"+f.Token+"/"); ok && r.Method == http.MethodGet {
		f.mu.Lock()
		data, ok := f.paths[rest]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		telegramReply(w, nil, &TelegramError{Code: http.StatusNotFound, Description: "Not Found"})
		return
	}
	if token != f.Token {
		telegramReply(w, nil, &TelegramError{Code: http.StatusUnauthorized, Description: "Unauthorized"})
		return
	}
	p, err := telegramParams(r)
	if err != nil {
		telegramReply(w, nil, &TelegramError{Code: http.StatusBadRequest, Description: "Bad Request: " + err.Error()})
		return
	}
	var result any
	var apiErr *TelegramError
	switch strings.ToLower(method) { // method names are case-insensitive
	case "sendmessage":
		if chatID, ok := p.int("chat_id"); ok {
			f.mu.Lock()
			d := f.hangs[chatID]
			f.mu.Unlock()
			if d > 0 {
				select {
				case <-time.After(d):
				case <-r.Context().Done():
					return
				case <-f.closing:
					return
				}
			}
		}
		result, apiErr = f.sendMessage(p)
	case "answercallbackquery":
		result, apiErr = f.answerCallbackQuery(p)
	case "setwebhook":
		result, apiErr = f.setWebhook(p)
	case "deletewebhook":
		result = f.deleteWebhook()
	case "getupdates":
		result, apiErr = f.getUpdates(r, p)
	case "getwebhookinfo":
		result = f.webhookInfo()
	case "getfile":
		result, apiErr = f.getFile(p)
	default:
		apiErr = &TelegramError{Code: http.StatusNotFound, Description: "Not Found: method not found"}
	}
	telegramReply(w, result, apiErr)
}

func (f *TelegramFake) sendMessage(p telegramRequest) (any, *TelegramError) {
	chatID, ok := p.int("chat_id")
	if !ok {
		return nil, &TelegramError{Code: http.StatusBadRequest, Description: "Bad Request: chat not found"}
	}
	text, _ := p.string("text")
	if strings.TrimSpace(text) == "" {
		return nil, &TelegramError{Code: http.StatusBadRequest, Description: "Bad Request: message text is empty"}
	}
	if len(utf16.Encode([]rune(text))) > 4096 {
		return nil, &TelegramError{Code: http.StatusBadRequest, Description: "Bad Request: message is too long"}
	}
	parseMode, _ := p.string("parse_mode")
	if parseMode != "" && strings.ContainsAny(text, "<>&*_[]`") {
		// The Bot API refuses markup it cannot parse (HOSTILE-INPUTS F-07);
		// the fake refuses any markup character rather than parse it.
		return nil, &TelegramError{Code: http.StatusBadRequest, Description: "Bad Request: can't parse entities"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fail := f.failures[chatID]; fail != nil {
		if fail.left > 0 {
			fail.left--
			if fail.left == 0 {
				delete(f.failures, chatID)
			}
		}
		e := fail.err
		return nil, &e
	}
	f.nextID++
	f.sent = append(f.sent, TelegramSent{ChatID: chatID, Text: text, ParseMode: parseMode, MessageID: f.nextID})
	return map[string]any{
		"message_id": f.nextID,
		"from":       map[string]any{"id": f.botID, "is_bot": true, "first_name": "Lifeline", "username": "lifeline_test_bot"},
		"chat":       map[string]any{"id": chatID, "type": "private"},
		"date":       time.Now().Unix(),
		"text":       text,
	}, nil
}

func (f *TelegramFake) answerCallbackQuery(p telegramRequest) (any, *TelegramError) {
	id, _ := p.string("callback_query_id")
	if id == "" {
		return nil, &TelegramError{Code: http.StatusBadRequest, Description: "Bad Request: query is too old and response timeout expired or query ID is invalid"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answered = append(f.answered, id)
	return true, nil
}

func (f *TelegramFake) setWebhook(p telegramRequest) (any, *TelegramError) {
	hook := TelegramWebhook{}
	hook.URL, _ = p.string("url")
	hook.SecretToken, _ = p.string("secret_token")
	if raw, ok := p["allowed_updates"]; ok {
		if err := json.Unmarshal(raw, &hook.AllowedUpdates); err != nil {
			// Form-encoded requests carry the list as a JSON string.
			var s string
			if json.Unmarshal(raw, &s) != nil || json.Unmarshal([]byte(s), &hook.AllowedUpdates) != nil {
				return nil, &TelegramError{Code: http.StatusBadRequest, Description: "Bad Request: can't parse allowed updates"}
			}
		}
	}
	if u, err := url.Parse(hook.URL); hook.URL != "" && (err != nil || u.Scheme != "https") {
		return nil, &TelegramError{Code: http.StatusBadRequest, Description: "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"}
	}
	for i := 0; i < len(hook.SecretToken); i++ {
		if c := hook.SecretToken[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return nil, &TelegramError{Code: http.StatusBadRequest, Description: "Bad Request: secret token contains unallowed characters"}
		}
	}
	if len(hook.SecretToken) > 256 {
		return nil, &TelegramError{Code: http.StatusBadRequest, Description: "Bad Request: secret token is too long"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.webhooks = append(f.webhooks, hook)
	f.hookActive = hook.URL != ""
	return true, nil
}

func (f *TelegramFake) deleteWebhook() any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes++
	f.hookActive = false
	return true
}

// getUpdates answers as the Bot API does: 409 while a webhook is set;
// offset confirms (forgets) every update below it, a negative one keeps
// only the last -offset; the updates from offset on are returned, at most
// limit (1–100, default 100); with none, the call waits up to timeout
// seconds (bounded by telegramMaxPoll) for one to be queued. A newer
// getUpdates ends a waiting one with 409, as Telegram does.
func (f *TelegramFake) getUpdates(r *http.Request, p telegramRequest) (any, *TelegramError) {
	offset, _ := p.int("offset")
	limit, ok := p.int("limit")
	if !ok || limit < 1 || limit > 100 {
		limit = 100
	}
	timeout, _ := p.int("timeout")
	wait := min(time.Duration(max(timeout, 0))*time.Second, telegramMaxPoll)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hookActive {
		return nil, &TelegramError{Code: http.StatusConflict, Description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
	}
	switch {
	case offset > 0:
		kept := f.updates[:0]
		for _, u := range f.updates {
			if u.id >= offset {
				kept = append(kept, u)
			}
		}
		f.updates = kept
	case offset < 0 && int64(len(f.updates)) > -offset:
		f.updates = f.updates[int64(len(f.updates))+offset:]
	}
	f.polls++
	me := f.polls
	f.notifyLocked()
	for {
		if len(f.updates) > 0 {
			out := make([]json.RawMessage, 0, min(int64(len(f.updates)), limit))
			for _, u := range f.updates[:min(int64(len(f.updates)), limit)] {
				out = append(out, u.body)
			}
			return out, nil
		}
		changed := f.changed
		f.mu.Unlock()
		var done bool
		select {
		case <-changed:
		case <-deadline.C:
			done = true
		case <-r.Context().Done():
			done = true
		case <-f.closing:
			done = true
		}
		f.mu.Lock()
		if f.polls != me {
			return nil, &TelegramError{Code: http.StatusConflict, Description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
		}
		if done && len(f.updates) == 0 {
			return []json.RawMessage{}, nil
		}
	}
}

func (f *TelegramFake) webhookInfo() any {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := map[string]any{"url": "", "has_custom_certificate": false, "pending_update_count": len(f.updates)}
	if n := len(f.webhooks); n > 0 && f.hookActive {
		info["url"] = f.webhooks[n-1].URL
		info["max_connections"] = 40
		if f.webhooks[n-1].AllowedUpdates != nil {
			info["allowed_updates"] = f.webhooks[n-1].AllowedUpdates
		}
	}
	return info
}

func (f *TelegramFake) getFile(p telegramRequest) (any, *TelegramError) {
	id, _ := p.string("file_id")
	f.mu.Lock()
	file, ok := f.files[id]
	f.mu.Unlock()
	if !ok {
		return nil, &TelegramError{Code: http.StatusBadRequest, Description: "Bad Request: invalid file_id"}
	}
	if file.size > 20<<20 {
		return nil, &TelegramError{Code: http.StatusBadRequest, Description: "Bad Request: file is too big"}
	}
	return map[string]any{
		"file_id":        id,
		"file_unique_id": "AgAD" + strconv.Itoa(len(id)),
		"file_size":      file.size,
		"file_path":      file.path,
	}, nil
}

// telegramRequest is a Bot API call's parameters, each as JSON.
type telegramRequest map[string]json.RawMessage

// telegramParams reads parameters the ways the Bot API takes them: URL
// query, form or JSON body.
func telegramParams(r *http.Request) (telegramRequest, error) {
	p := telegramRequest{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method == http.MethodPost && ct == "application/json" {
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&p); err != nil {
			return nil, fmt.Errorf("can't parse JSON object")
		}
		return p, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("can't parse parameters")
	}
	for k, v := range r.Form {
		b, _ := json.Marshal(v[0])
		p[k] = b
	}
	return p, nil
}

func (p telegramRequest) string(name string) (string, bool) {
	var s string
	err := json.Unmarshal(p[name], &s)
	return s, err == nil
}

// int reads an Integer parameter, which the Bot API also takes as a string
// of digits.
func (p telegramRequest) int(name string) (int64, bool) {
	var n int64
	if json.Unmarshal(p[name], &n) == nil {
		return n, true
	}
	s, ok := p.string(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func telegramReply(w http.ResponseWriter, result any, e *TelegramError) {
	w.Header().Set("Content-Type", "application/json")
	if e != nil {
		body := map[string]any{"ok": false, "error_code": e.Code, "description": e.Description}
		if e.RetryAfter > 0 {
			body["parameters"] = map[string]any{"retry_after": e.RetryAfter}
		}
		w.WriteHeader(e.Code)
		json.NewEncoder(w).Encode(body)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

// Invented people for TelegramUpdate, chosen by the sender's id.
var telegramPeople = []struct{ first, last, username string }{
	{"Алексей", "Воробьёв", "lesha_vrb"},
	{"Дмитрий", "Кузнецов", ""},
	{"Сергей", "", "serg_1997"},
	{"Иван", "Петренко", "ivan_p_test"},
	{"Андрей", "Соколов", ""},
	{"Mikhail", "", "misha_test"},
}

// telegramGreeting is the bot's greeting the builder's updates reply to.
const telegramGreeting = "Здравствуйте. Это горячая линия Lifeline. Вы пишете нам анонимно: " +
	"ваше сообщение видят только операторы линии. Напишите, где вы находитесь и как с вами " +
	"безопаснее связаться. Если вам сейчас опасно писать, ответьте одним словом — мы подождём. " +
	"Выберите язык общения кнопкой ниже."

// TelegramUpdate returns a private-chat message update of the shape the
// Bot API posts to a webhook (about 1.5 KB): from and chat of an invented
// person chosen by fromID, a date, the text with its entities, and the
// bot's greeting the message replies to, with its inline keyboard. The
// message_id is derived from updateID, so distinct updates carry distinct
// messages. Non-ASCII is written as UTF-8.
func TelegramUpdate(updateID, fromID int64, text string) []byte {
	type entity struct {
		Offset int    `json:"offset"`
		Length int    `json:"length"`
		Type   string `json:"type"`
	}
	type user struct {
		ID           int64  `json:"id"`
		IsBot        bool   `json:"is_bot"`
		FirstName    string `json:"first_name"`
		LastName     string `json:"last_name,omitempty"`
		Username     string `json:"username,omitempty"`
		LanguageCode string `json:"language_code,omitempty"`
	}
	type chat struct {
		ID        int64  `json:"id"`
		FirstName string `json:"first_name,omitempty"`
		LastName  string `json:"last_name,omitempty"`
		Username  string `json:"username,omitempty"`
		Type      string `json:"type"`
	}
	type button struct {
		Text         string `json:"text"`
		CallbackData string `json:"callback_data"`
	}
	type botMessage struct {
		MessageID   int64  `json:"message_id"`
		From        user   `json:"from"`
		Chat        chat   `json:"chat"`
		Date        int64  `json:"date"`
		Text        string `json:"text"`
		ReplyMarkup struct {
			InlineKeyboard [][]button `json:"inline_keyboard"`
		} `json:"reply_markup"`
	}
	type message struct {
		MessageID      int64       `json:"message_id"`
		From           user        `json:"from"`
		Chat           chat        `json:"chat"`
		Date           int64       `json:"date"`
		ReplyToMessage *botMessage `json:"reply_to_message,omitempty"`
		Text           string      `json:"text"`
		Entities       []entity    `json:"entities,omitempty"`
	}

	i := fromID % int64(len(telegramPeople))
	if i < 0 {
		i = -i
	}
	who := telegramPeople[i]
	from := user{ID: fromID, FirstName: who.first, LastName: who.last, Username: who.username, LanguageCode: "ru"}
	ch := chat{ID: fromID, FirstName: who.first, LastName: who.last, Username: who.username, Type: "private"}
	const date = 1782000000 // 2026-06-21
	msgID := updateID%1_000_000_000 + 2

	m := message{MessageID: msgID, From: from, Chat: ch, Date: date + updateID%86400, Text: text}
	m.ReplyToMessage = &botMessage{MessageID: msgID - 1, From: user{ID: 7000000001, IsBot: true, FirstName: "Lifeline", Username: "lifeline_test_bot"}, Chat: ch, Date: date, Text: telegramGreeting}
	m.ReplyToMessage.ReplyMarkup.InlineKeyboard = [][]button{
		{{"Русский", "lang:ru"}, {"Беларуская", "lang:be"}},
		{{"Українська", "lang:uk"}, {"English", "lang:en"}},
	}
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		m.Entities = []entity{{Offset: 0, Length: len(utf16.Encode([]rune(cmd))), Type: "bot_command"}}
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the Bot API writes <, > and & as they are
	enc.Encode(struct {
		UpdateID int64   `json:"update_id"`
		Message  message `json:"message"`
	}{updateID, m})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// SignTelegram sets the webhook secret header on req, as Telegram does.
func SignTelegram(req *http.Request, secret string) {
	req.Header.Set(TelegramSecretHeader, secret)
}

// PostTelegram posts an update to a lifeline webhook URL on the loopback,
// signed with secret (unsigned if secret is empty), as Telegram does.
func PostTelegram(webhookURL, secret string, body []byte) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		SignTelegram(req, secret)
	}
	return telegramClient.Do(req)
}

// telegramClient is shared so that posts reuse connections.
var telegramClient = LoopbackClient()
