// SPDX-License-Identifier: AGPL-3.0-or-later

package telegram

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
)

// The wire structs below are the Bot API's objects (core.telegram.org/bots/api),
// reduced to the fields lifeline reads. Unknown fields are ignored, so that
// the Bot API can grow; a declared field of the wrong type makes the whole
// update malformed. Fields are declared only where they are used: each one
// is a way for a payload to be refused.

// update is an Update: update_id and at most one of the optional fields.
type update struct {
	UpdateID *int64 `json:"update_id"`

	// The update types a conversation comes from.
	Message       *message       `json:"message"`
	EditedMessage *message       `json:"edited_message"`
	CallbackQuery *callbackQuery `json:"callback_query"`

	// Update types that never carry a conversation: noted, never decoded,
	// so that their content cannot make an update malformed.
	ChannelPost             json.RawMessage `json:"channel_post"`
	EditedChannelPost       json.RawMessage `json:"edited_channel_post"`
	BusinessConnection      json.RawMessage `json:"business_connection"`
	BusinessMessage         json.RawMessage `json:"business_message"`
	EditedBusinessMessage   json.RawMessage `json:"edited_business_message"`
	DeletedBusinessMessages json.RawMessage `json:"deleted_business_messages"`
	GuestMessage            json.RawMessage `json:"guest_message"`
	MessageReaction         json.RawMessage `json:"message_reaction"`
	MessageReactionCount    json.RawMessage `json:"message_reaction_count"`
	InlineQuery             json.RawMessage `json:"inline_query"`
	ChosenInlineResult      json.RawMessage `json:"chosen_inline_result"`
	ShippingQuery           json.RawMessage `json:"shipping_query"`
	PreCheckoutQuery        json.RawMessage `json:"pre_checkout_query"`
	PurchasedPaidMedia      json.RawMessage `json:"purchased_paid_media"`
	Poll                    json.RawMessage `json:"poll"`
	PollAnswer              json.RawMessage `json:"poll_answer"`
	MyChatMember            json.RawMessage `json:"my_chat_member"`
	ChatMember              json.RawMessage `json:"chat_member"`
	ChatJoinRequest         json.RawMessage `json:"chat_join_request"`
	ChatBoost               json.RawMessage `json:"chat_boost"`
	RemovedChatBoost        json.RawMessage `json:"removed_chat_boost"`
	ManagedBot              json.RawMessage `json:"managed_bot"`
}

// message is a Message.
type message struct {
	MessageID  int64  `json:"message_id"`
	From       *user  `json:"from"`
	SenderChat *chat  `json:"sender_chat"`
	Date       int64  `json:"date"`
	Chat       *chat  `json:"chat"`
	EditDate   int64  `json:"edit_date"`
	Text       string `json:"text"`
	Caption    string `json:"caption"`

	Photo     []photoSize `json:"photo"`
	Voice     *voice      `json:"voice"`
	Audio     *audio      `json:"audio"`
	Video     *video      `json:"video"`
	VideoNote *videoNote  `json:"video_note"`
	Document  *document   `json:"document"` // also set for an animation
	Sticker   *sticker    `json:"sticker"`
	Location  *location   `json:"location"` // also set for a venue
	Venue     *venue      `json:"venue"`
	Contact   *contact    `json:"contact"`
}

// user is a User.
type user struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	LanguageCode string `json:"language_code"`
}

// chat is a Chat.
type chat struct {
	ID   int64  `json:"id"`
	Type string `json:"type"` // private, group, supergroup, channel
}

// file holds the fields every downloadable Bot API object shares.
type file struct {
	FileID   string `json:"file_id"`
	FileSize int64  `json:"file_size"`
}

// photoSize is a PhotoSize: one size of one photo.
type photoSize struct {
	file
	Width  int64 `json:"width"`
	Height int64 `json:"height"`
}

// voice is a Voice (a voice note).
type voice struct {
	file
	MimeType string `json:"mime_type"`
}

// audio is an Audio (a music file).
type audio struct {
	file
	MimeType string `json:"mime_type"`
}

// video is a Video.
type video struct {
	file
	MimeType string `json:"mime_type"`
}

// videoNote is a VideoNote (a round video message): always MPEG-4.
type videoNote struct {
	file
}

// document is a Document. Its file_name is not read: it is the sender's
// text and never a storage key.
type document struct {
	file
	MimeType string `json:"mime_type"`
}

// sticker is a Sticker; only its emoji is kept.
type sticker struct {
	Emoji string `json:"emoji"`
}

// location is a Location. The coordinates are kept as the digits sent.
type location struct {
	Latitude  json.Number `json:"latitude"`
	Longitude json.Number `json:"longitude"`
}

// venue is a Venue: a place with a name, its location also in the
// message's location.
type venue struct {
	Title   string `json:"title"`
	Address string `json:"address"`
}

// contact is a Contact: a phone number the user shared, theirs or another's.
type contact struct {
	PhoneNumber string `json:"phone_number"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
}

// callbackQuery is a CallbackQuery: a press of an inline button.
type callbackQuery struct {
	ID      string                    `json:"id"`
	From    *user                     `json:"from"`
	Message *maybeInaccessibleMessage `json:"message"`
	Data    *string                   `json:"data"`
}

// maybeInaccessibleMessage is the part of a MaybeInaccessibleMessage that
// both of its forms have (an InaccessibleMessage has date 0).
type maybeInaccessibleMessage struct {
	MessageID int64 `json:"message_id"`
	Chat      *chat `json:"chat"`
}

// Reasons a Batch is ignored: a fixed set, safe as a metric label.
const (
	ignoredUnknownType = "unsupported update type"
	ignoredNoChat      = "message without chat"
	ignoredNotPrivate  = "not a private chat"
	ignoredFromBot     = "sent by a bot"
	ignoredNoData      = "callback without data"
)

// parse turns a webhook body into a Batch. Its errors wrap
// channel.ErrMalformed and describe what was wrong in fixed words, never
// with the input.
func parse(body []byte) (channel.Batch, error) {
	var u update
	if err := json.Unmarshal(body, &u); err != nil {
		return channel.Batch{}, decodeError(err)
	}
	if u.UpdateID == nil {
		return channel.Batch{}, malformed("update_id missing")
	}
	if *u.UpdateID <= 0 {
		return channel.Batch{}, malformed("update_id not positive")
	}
	id := "update:" + strconv.FormatInt(*u.UpdateID, 10)

	kind, n := u.kind()
	switch {
	case n > 1:
		return channel.Batch{}, malformed("more than one update type")
	case n == 0:
		return channel.Batch{Ignored: ignoredUnknownType}, nil
	}
	switch kind {
	case "message":
		return parseMessage(id, channel.EventMessage, u.Message)
	case "edited_message":
		return parseMessage(id, channel.EventEdit, u.EditedMessage)
	case "callback_query":
		return parseCallback(id, u.CallbackQuery)
	}
	return channel.Batch{Ignored: "update type " + kind}, nil
}

// kind names the update's type and counts the types present.
func (u *update) kind() (name string, n int) {
	note := func(present bool, field string) {
		if present {
			if n == 0 {
				name = field
			}
			n++
		}
	}
	note(u.Message != nil, "message")
	note(u.EditedMessage != nil, "edited_message")
	note(u.CallbackQuery != nil, "callback_query")
	for _, f := range []struct {
		raw  json.RawMessage
		name string
	}{
		{u.ChannelPost, "channel_post"},
		{u.EditedChannelPost, "edited_channel_post"},
		{u.BusinessConnection, "business_connection"},
		{u.BusinessMessage, "business_message"},
		{u.EditedBusinessMessage, "edited_business_message"},
		{u.DeletedBusinessMessages, "deleted_business_messages"},
		{u.GuestMessage, "guest_message"},
		{u.MessageReaction, "message_reaction"},
		{u.MessageReactionCount, "message_reaction_count"},
		{u.InlineQuery, "inline_query"},
		{u.ChosenInlineResult, "chosen_inline_result"},
		{u.ShippingQuery, "shipping_query"},
		{u.PreCheckoutQuery, "pre_checkout_query"},
		{u.PurchasedPaidMedia, "purchased_paid_media"},
		{u.Poll, "poll"},
		{u.PollAnswer, "poll_answer"},
		{u.MyChatMember, "my_chat_member"},
		{u.ChatMember, "chat_member"},
		{u.ChatJoinRequest, "chat_join_request"},
		{u.ChatBoost, "chat_boost"},
		{u.RemovedChatBoost, "removed_chat_boost"},
		{u.ManagedBot, "managed_bot"},
	} {
		// A RawMessage receives a JSON null as the word null: absent.
		note(len(f.raw) > 0 && string(f.raw) != "null", f.name)
	}
	return name, n
}

// parseMessage reads a message or an edited message. Only private chats
// are conversations; a group, a supergroup or a channel never is.
func parseMessage(id string, typ channel.EventType, m *message) (channel.Batch, error) {
	if m.Chat == nil {
		return channel.Batch{Ignored: ignoredNoChat}, nil
	}
	if m.Chat.Type != "private" || m.SenderChat != nil {
		return channel.Batch{Ignored: ignoredNotPrivate}, nil
	}
	if m.From != nil && m.From.IsBot {
		return channel.Batch{Ignored: ignoredFromBot}, nil
	}
	if m.Chat.ID <= 0 {
		return channel.Batch{}, malformed("private chat id not positive")
	}
	if m.MessageID <= 0 {
		return channel.Batch{}, malformed("message_id not positive")
	}

	e := channel.Event{
		ID:                id,
		Type:              typ,
		ReplyTo:           lifeline.Sensitive(strconv.FormatInt(m.Chat.ID, 10)),
		ProviderMessageID: strconv.FormatInt(m.MessageID, 10),
		MessageRef:        lifeline.Sensitive(strconv.FormatInt(m.Chat.ID, 10) + ":" + strconv.FormatInt(m.MessageID, 10)),
		Time:              unixTime(m.Date),
	}
	if typ == channel.EventEdit && m.EditDate > 0 {
		e.Time = unixTime(m.EditDate)
	}
	// In a private chat the chat is the user: a message without from
	// (never seen, but optional in the Bot API) is still theirs.
	e.Sender = e.ReplyTo
	if m.From != nil {
		if m.From.ID <= 0 {
			return channel.Batch{}, malformed("user id not positive")
		}
		setUser(&e, m.From)
	}
	if err := setContent(&e, m); err != nil {
		return channel.Batch{}, err
	}
	return channel.Batch{Events: []channel.Event{e}}, nil
}

// setContent sets an event's kind, text, media and location from what the
// message carries. A message of a kind lifeline does not know (a poll, a
// dice, a service message) is kept as KindOther rather than lost.
func setContent(e *channel.Event, m *message) error {
	e.Text = sensitive(m.Caption)
	switch {
	case m.Text != "":
		e.Kind = channel.KindText
		e.Text = sensitive(m.Text)
		e.Campaign = startPayload(m.Text)
	case len(m.Photo) > 0:
		e.Kind = channel.KindPhoto
		largest := m.Photo[0]
		for _, p := range m.Photo[1:] {
			if p.Width*p.Height > largest.Width*largest.Height ||
				(p.Width*p.Height == largest.Width*largest.Height && p.FileSize > largest.FileSize) {
				largest = p
			}
		}
		e.Media = media(largest.file, "")
	case m.Voice != nil:
		e.Kind = channel.KindVoice
		e.Media = media(m.Voice.file, m.Voice.MimeType)
	case m.Audio != nil:
		e.Kind = channel.KindAudio
		e.Media = media(m.Audio.file, m.Audio.MimeType)
	case m.Video != nil:
		e.Kind = channel.KindVideo
		e.Media = media(m.Video.file, m.Video.MimeType)
	case m.VideoNote != nil:
		e.Kind = channel.KindVideo
		e.Media = media(m.VideoNote.file, "video/mp4")
	case m.Document != nil:
		e.Kind = channel.KindDocument
		e.Media = media(m.Document.file, m.Document.MimeType)
	case m.Sticker != nil:
		// A sticker is a picture from a public set: its emoji says enough,
		// and it is not fetched.
		e.Kind = channel.KindSticker
		e.Text = sensitive(m.Sticker.Emoji)
	case m.Location != nil:
		if m.Location.Latitude == "" || m.Location.Longitude == "" {
			return malformed("location without coordinates")
		}
		e.Kind = channel.KindLocation
		e.Location = &channel.Location{
			Latitude:  lifeline.Sensitive(m.Location.Latitude),
			Longitude: lifeline.Sensitive(m.Location.Longitude),
		}
		if m.Venue != nil {
			e.Text = sensitive(strings.TrimSpace(m.Venue.Title + "\n" + m.Venue.Address))
		}
	case m.Contact != nil:
		e.Kind = channel.KindContact
		e.Text = sensitive(contactText(m.Contact))
	default:
		e.Kind = channel.KindOther
	}
	return nil
}

// contactText is a shared contact as an operator reads it:
// "+7 900 000-00-00 (First Last)", the number exactly as sent.
func contactText(c *contact) string {
	name := fullName(c.FirstName, c.LastName)
	if name == "" {
		return c.PhoneNumber
	}
	return c.PhoneNumber + " (" + name + ")"
}

// parseCallback reads a press of an inline button. The event's
// ProviderMessageID is the callback query's id, which answerCallbackQuery
// needs; its ReplyTo is the chat of the message the button was on.
func parseCallback(id string, q *callbackQuery) (channel.Batch, error) {
	if q.From == nil {
		return channel.Batch{}, malformed("callback_query without from")
	}
	if q.From.IsBot {
		return channel.Batch{Ignored: ignoredFromBot}, nil
	}
	if q.From.ID <= 0 {
		return channel.Batch{}, malformed("user id not positive")
	}
	if q.Data == nil {
		// A game button: lifeline offers no games.
		return channel.Batch{Ignored: ignoredNoData}, nil
	}
	if q.ID == "" {
		return channel.Batch{}, malformed("callback_query id missing")
	}
	e := channel.Event{
		ID:                id,
		Type:              channel.EventCallback,
		Text:              sensitive(*q.Data),
		ProviderMessageID: q.ID,
	}
	setUser(&e, q.From)
	e.ReplyTo = e.Sender
	if q.Message != nil && q.Message.Chat != nil {
		if q.Message.Chat.Type != "private" {
			return channel.Batch{Ignored: ignoredNotPrivate}, nil
		}
		if q.Message.Chat.ID > 0 {
			e.ReplyTo = lifeline.Sensitive(strconv.FormatInt(q.Message.Chat.ID, 10))
		}
	}
	return channel.Batch{Events: []channel.Event{e}}, nil
}

// setUser sets who sent an event.
func setUser(e *channel.Event, u *user) {
	e.Sender = lifeline.Sensitive(strconv.FormatInt(u.ID, 10))
	e.SenderName = sensitive(fullName(u.FirstName, u.LastName))
	if validLanguage(u.LanguageCode) {
		e.Language = u.LanguageCode
	}
}

// fullName joins a first and a last name as given.
func fullName(first, last string) string {
	if last == "" {
		return first
	}
	if first == "" {
		return last
	}
	return first + " " + last
}

// media is the one file of a message, or nothing if the Bot API gave no
// usable file_id (the message is kept all the same).
func media(f file, mime string) []channel.Media {
	if !validFileID(f.FileID) {
		return nil
	}
	size := f.FileSize
	if size < 0 {
		size = 0
	}
	return []channel.Media{{ProviderID: f.FileID, MIME: validMIME(mime), Size: size}}
}

// maxFileID bounds a file_id: opaque, about 70–100 characters in practice.
const maxFileID = 512

// validFileID reports whether s can be a file_id: what getFile is later
// asked for, so printable ASCII only.
func validFileID(s string) bool {
	if s == "" || len(s) > maxFileID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validMIME returns a MIME type the provider sent if it looks like one
// (type/subtype in printable ASCII, at most 127 bytes), else "". It is a
// hint: media is checked by its magic bytes when fetched.
func validMIME(s string) string {
	if len(s) > 127 || strings.Count(s, "/") != 1 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return ""
		}
	}
	return s
}

// startPayload returns the campaign code of a "/start PAYLOAD" deep link,
// or "" if text is not one or the payload is not of the deep-link alphabet
// (A-Z a-z 0-9 _ -, 1–64 characters).
func startPayload(text string) string {
	p, ok := strings.CutPrefix(text, "/start ")
	if !ok || len(p) == 0 || len(p) > 64 {
		return ""
	}
	for i := 0; i < len(p); i++ {
		if !isTokenByte(p[i]) {
			return ""
		}
	}
	return p
}

// isTokenByte reports whether c is in A-Z a-z 0-9 _ -, the alphabet of
// deep-link payloads and webhook secret tokens.
func isTokenByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// validLanguage reports whether s is a language code of the form a client
// sends: [a-z]{2,3}(-[A-Za-z]{2,4})?.
func validLanguage(s string) bool {
	lang, region, hasRegion := strings.Cut(s, "-")
	if len(lang) < 2 || len(lang) > 3 {
		return false
	}
	for i := 0; i < len(lang); i++ {
		if lang[i] < 'a' || lang[i] > 'z' {
			return false
		}
	}
	if !hasRegion {
		return true
	}
	if len(region) < 2 || len(region) > 4 {
		return false
	}
	for i := 0; i < len(region); i++ {
		if c := region[i]; (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// sensitive keeps a person's text as sent, except what no store can hold:
// invalid UTF-8 (the decoder has already replaced it, this is a second
// guard) and NUL, which PostgreSQL refuses; both become U+FFFD. Control and
// bidi characters are kept: they are escaped where they are shown.
func sensitive(s string) lifeline.Sensitive {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return lifeline.Sensitive(s)
}

// unixTime is a Bot API date in UTC; zero if the date is missing.
func unixTime(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// malformed is a parse error: what was wrong, in fixed words.
func malformed(what string) error {
	return fmt.Errorf("%w: telegram: %s", channel.ErrMalformed, what)
}

// decodeError describes a JSON decoding error without quoting the input:
// a syntax error names only its offset, a type error only the field.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field != "" {
			return malformed("wrong type for " + safeField(typeErr.Field))
		}
		return malformed("not an update object")
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return malformed("invalid JSON at byte " + strconv.FormatInt(syntaxErr.Offset, 10))
	}
	return malformed("invalid JSON")
}

// safeField keeps a field path from a decoder error only if it is made of
// the characters of the Bot API's field names: the path comes from the
// struct tags, but nothing from the input reaches an error unchecked.
func safeField(f string) string {
	if len(f) > 100 {
		return "a field"
	}
	for i := 0; i < len(f); i++ {
		if c := f[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return "a field"
		}
	}
	return f
}
