// SPDX-License-Identifier: AGPL-3.0-or-later

// Package channel turns providers' webhooks into provider-neutral events
// and carries replies back. Each provider has its own package below this one
// (telegram, whatsapp, twilio) with an Adapter; this package holds what they
// share: the Event, the Adapter contract, the Registry of configured
// channels and the one webhook Handler every provider goes through:
//
//	read (capped) → Verify (raw bytes) → Parse → Receive (durable) → ack
//
// Nothing is parsed before it is authenticated, nothing is acknowledged
// before it is durable, and nothing a provider sends can make the handler
// answer 5xx: only a failure to store does, so that the provider retries.
package channel

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

// Errors an Adapter returns.
var (
	// ErrUnauthorized: the request does not carry a valid authenticator.
	ErrUnauthorized = errors.New("webhook not authenticated")
	// ErrMalformed: authentic, but not a payload the adapter understands.
	ErrMalformed = errors.New("malformed webhook payload")
	// ErrPermanent: a send that will never succeed (the user blocked the bot,
	// the number does not exist); the outbox stops retrying.
	ErrPermanent = errors.New("permanent send failure")
	// ErrOptedOut: the recipient has opted out of messages from this
	// channel (Twilio error 21610); it comes with ErrPermanent.
	ErrOptedOut = errors.New("recipient opted out")
)

// EventType says what an Event carries.
type EventType string

// Event types.
const (
	EventMessage  EventType = "message"  // a new message from a contact
	EventEdit     EventType = "edit"     // a contact edited an earlier message (MessageRef names it; Time is the edit's)
	EventCallback EventType = "callback" // an inline-button press (Telegram) or an interactive reply
	EventStatus   EventType = "status"   // delivery status of an outbound message
)

// MessageKind is the content of a message event.
type MessageKind string

// Message kinds.
const (
	KindText     MessageKind = "text"
	KindPhoto    MessageKind = "photo"
	KindVoice    MessageKind = "voice"
	KindAudio    MessageKind = "audio"
	KindVideo    MessageKind = "video"
	KindDocument MessageKind = "document"
	KindLocation MessageKind = "location"
	KindContact  MessageKind = "contact"
	KindSticker  MessageKind = "sticker"
	KindOther    MessageKind = "other"
)

// An Event is one thing a provider told us, in no provider's words.
// Everything that identifies or locates a person is Sensitive.
type Event struct {
	// ID is the provider's id of this event, unique per channel: what
	// duplicates and retries are recognised by (a Telegram update_id, a
	// WhatsApp wamid, a Twilio MessageSid; a status event adds its state).
	ID   string
	Type EventType
	Kind MessageKind // for messages and edits

	// Sender is the contact's address on the channel, normalized: a
	// Telegram user id, a WhatsApp wa_id, an E.164 phone number.
	Sender lifeline.Sensitive
	// ReplyTo is where replies go if not to Sender (a Telegram chat id).
	ReplyTo lifeline.Sensitive
	// SenderName is the display name the provider sent, as given.
	SenderName lifeline.Sensitive
	// Language is the client's language code, if the provider sends one.
	Language string

	Text     lifeline.Sensitive // message text or media caption
	Campaign string             // the payload of a Telegram /start deep link: a campaign code, never personal
	Media    []Media
	Location *Location
	// OptOut is OptOutStop or OptOutStart when the message opts the
	// contact out of, or back into, messages from this channel (an SMS
	// STOP or START); "" otherwise. The message is stored all the same.
	OptOut string

	// ProviderMessageID is the provider's id of the message itself (for an
	// edit, of the message edited; for a status, of our outbound message).
	ProviderMessageID string
	// MessageRef names the message itself on its channel, for messages and
	// edits, where a provider may deliver one message under two event IDs
	// or edit it later: Telegram's "<chat id>:<message_id>" (a message_id is
	// unique only in its chat), a WhatsApp wamid. An edit carries the name
	// of the message it changes. Intake keeps only a keyed reference of it
	// (with the sender), by which the message is stored once and its edits
	// find it. Empty if the provider does neither.
	MessageRef lifeline.Sensitive
	Status     *Status // EventStatus only

	Time time.Time // the provider's timestamp, UTC
}

// Opt-outs an Event carries.
const (
	OptOutStop  = "stop"
	OptOutStart = "start"
)

// Media is a file the provider holds for us, to fetch at once; or, if
// Refused is set, one that arrived and that the adapter will not fetch.
type Media struct {
	ProviderID string // file_id, media id, MediaUrl; empty if Refused
	MIME       string // the provider's claim
	Size       int64  // bytes, if the provider says; 0 if not
	// Refused is why the file is not fetched: a fixed reason
	// (MediaRefusedHost), never the URL. The message records that a file
	// arrived and was refused, so that the operator can ask for it again.
	Refused string
}

// Reasons an adapter refuses to fetch a file.
const (
	// MediaRefusedHost: the file is not on the provider's API host (and
	// our account there); fetching it would send our credentials, or us,
	// elsewhere (HOSTILE-INPUTS G-02).
	MediaRefusedHost = "not on the provider's host"
)

// Location is a point a contact shared.
type Location struct {
	Latitude, Longitude lifeline.Sensitive // as decimal strings, exactly as sent
}

// Text is the location as a message's text: its coordinates, "lat, lon"
// as sent, on the first line (what an operator copies into a map), then
// label (a place's name and address), if any.
func (l *Location) Text(label lifeline.Sensitive) lifeline.Sensitive {
	t := l.Latitude.Reveal() + ", " + l.Longitude.Reveal()
	if !label.IsEmpty() {
		t += "\n" + label.Reveal()
	}
	return lifeline.Sensitive(t)
}

// Status is a delivery status of an outbound message.
type Status struct {
	State     string // sent, delivered, read, failed
	ErrorCode string // the provider's, when failed
	Reason    string // the provider's short reason, when failed; never message text
}

// A Batch is what one webhook request carried. A request that carries
// nothing for a conversation (a group message, an update type we do not
// take) has no events and an Ignored reason, for the metrics.
type Batch struct {
	Events  []Event
	Ignored string
}

// An Adapter speaks one provider's webhook and API for one configured
// channel. Its methods are safe for concurrent use.
type Adapter interface {
	// Kind is the provider: telegram, whatsapp, sms.
	Kind() lifeline.ChannelKind
	// Name is the channel's configured name, the {name} of its URL.
	Name() string
	// MaxBody caps a webhook body; past it the answer is 413.
	MaxBody() int64
	// Verify authenticates a webhook request from its raw body, before
	// anything parses it, in constant time. It returns ErrUnauthorized.
	Verify(r *http.Request, body []byte) error
	// Parse reads an authentic body. It returns an error wrapping
	// ErrMalformed for a body it cannot understand.
	Parse(r *http.Request, body []byte) (Batch, error)
	// WriteAck answers the provider once the events are durable (or were
	// ignored, or duplicates): an empty 200 for Telegram and Meta, TwiML
	// for Twilio.
	WriteAck(w http.ResponseWriter, r *http.Request)
	// MalformedStatus is the status that stops the provider retrying a
	// payload that will never parse: 200 for Telegram and Meta, 400 for
	// Twilio.
	MalformedStatus() int
}

// A Challenger answers a provider's GET verification handshake (Meta's
// hub.challenge).
type Challenger interface {
	Challenge(w http.ResponseWriter, r *http.Request)
}

// A Sender sends a text to a contact through the provider's API and
// returns the provider's id of the message sent. An error wrapping
// ErrPermanent will never succeed; a RetryAfter error says when to try again.
type Sender interface {
	Send(ctx context.Context, to lifeline.Sensitive, text string) (providerMessageID string, err error)
}

// RetryAfter is a send error the provider answered with a wait (Telegram's
// retry_after on 429, HTTP Retry-After).
type RetryAfter struct {
	After time.Duration
	Err   error
}

func (e *RetryAfter) Error() string { return "retry after " + e.After.String() + ": " + e.Err.Error() }
func (e *RetryAfter) Unwrap() error { return e.Err }

// A Receiver makes events durable. It is called with a context the client
// cannot cancel, and must be idempotent on (channel, Event.ID): a duplicate
// stores nothing new and returns nil. An error means nothing of the batch is
// stored, and the provider should retry.
type Receiver interface {
	Receive(ctx context.Context, kind lifeline.ChannelKind, channel string, events []Event) error
}

// A Quarantine keeps a size-capped copy of an authentic body that did not
// parse, sealed, for an engineer to look at.
type Quarantine interface {
	Quarantine(ctx context.Context, kind lifeline.ChannelKind, channel, reason string, body []byte) error
}
