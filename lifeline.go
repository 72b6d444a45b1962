// SPDX-License-Identifier: AGPL-3.0-or-later

// Package lifeline is the domain of the Lifeline hotline: the words of
// DESIGN.md as types, and their rules (the case state machine, the reward
// schedule, the permission matrix of SECURITY.md §2.5).
//
// The package uses the standard library only and performs no I/O. Every
// other package imports it; it imports none of them. Values that identify or
// locate a person are held in [Sensitive] so that they cannot reach a log
// line by accident.
package lifeline

import (
	"crypto/rand"
	"encoding/base32"
)

// idLen is the length of an encoded ID: 128 bits in 5-bit base32 symbols.
const idLen = 26

// idEncoding is RFC 4648 base32 in lower case, without padding.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ID is a 128-bit random identifier, written as 26 characters of lower-case
// base32 (RFC 4648 alphabet, no padding). IDs carry no meaning: they are
// never derived from a name, a number or a time (SECURITY.md §2.4).
//
// The typed identifiers ([CaseID], [ContactID], …) share this format; use
// them rather than ID wherever the kind of object is known.
type ID string

// NewID returns a fresh random ID from crypto/rand.
func NewID() ID { return ID(newID()) }

// ParseID returns s as an ID. It fails with EINVALID unless s is exactly the
// canonical encoding of a 128-bit value (26 characters of a–z and 2–7, the
// last of which leaves the two unused bits zero).
func ParseID(s string) (ID, error) {
	if !validID(s) {
		return "", Errorf(EINVALID, "Invalid id.")
	}
	return ID(s), nil
}

// Valid reports whether id is a canonical ID.
func (id ID) Valid() bool { return validID(string(id)) }

// String returns the ID as written.
func (id ID) String() string { return string(id) }

func newID() string {
	var b [16]byte
	rand.Read(b[:]) // Never fails; the runtime aborts if the system source does.
	return idEncoding.EncodeToString(b[:])
}

// validID is the one validator behind every ID type. The characters are
// checked by hand first because the base32 decoder skips '\r' and '\n'.
// The last character holds two unused bits; the decoder ignores them, so
// the round trip through the encoder rejects a spelling that sets them and
// every 128-bit value has exactly one accepted spelling.
func validID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	var b [16]byte
	n, err := idEncoding.Decode(b[:], []byte(s))
	return err == nil && n == len(b) && idEncoding.EncodeToString(b[:]) == s
}

// CaseID identifies a [Case]. See [ID] for the format.
type CaseID string

// NewCaseID returns a fresh random CaseID.
func NewCaseID() CaseID { return CaseID(newID()) }

// ParseCaseID is [ParseID] for case ids; it fails with EINVALID.
func ParseCaseID(s string) (CaseID, error) {
	if !validID(s) {
		return "", Errorf(EINVALID, "Invalid case id.")
	}
	return CaseID(s), nil
}

// Valid reports whether id is a canonical ID.
func (id CaseID) Valid() bool { return validID(string(id)) }

// ContactID identifies a contact: someone known by an address on a channel.
// See [ID] for the format.
type ContactID string

// NewContactID returns a fresh random ContactID.
func NewContactID() ContactID { return ContactID(newID()) }

// ParseContactID is [ParseID] for contact ids; it fails with EINVALID.
func ParseContactID(s string) (ContactID, error) {
	if !validID(s) {
		return "", Errorf(EINVALID, "Invalid contact id.")
	}
	return ContactID(s), nil
}

// Valid reports whether id is a canonical ID.
func (id ContactID) Valid() bool { return validID(string(id)) }

// ConversationID identifies a conversation: the thread between one contact
// and the hotline on one channel. See [ID] for the format.
type ConversationID string

// NewConversationID returns a fresh random ConversationID.
func NewConversationID() ConversationID { return ConversationID(newID()) }

// ParseConversationID is [ParseID] for conversation ids; it fails with
// EINVALID.
func ParseConversationID(s string) (ConversationID, error) {
	if !validID(s) {
		return "", Errorf(EINVALID, "Invalid conversation id.")
	}
	return ConversationID(s), nil
}

// Valid reports whether id is a canonical ID.
func (id ConversationID) Valid() bool { return validID(string(id)) }

// MessageID identifies a stored message. It is our own id, never the
// provider's (a WhatsApp message id encodes the sender's phone number;
// SECURITY.md §2.4). See [ID] for the format.
type MessageID string

// NewMessageID returns a fresh random MessageID.
func NewMessageID() MessageID { return MessageID(newID()) }

// ParseMessageID is [ParseID] for message ids; it fails with EINVALID.
func ParseMessageID(s string) (MessageID, error) {
	if !validID(s) {
		return "", Errorf(EINVALID, "Invalid message id.")
	}
	return MessageID(s), nil
}

// Valid reports whether id is a canonical ID.
func (id MessageID) Valid() bool { return validID(string(id)) }

// OperatorID identifies an [Operator] (a staff account). See [ID] for the
// format; [SystemOperator] is the one non-random value.
type OperatorID string

// SystemOperator is the actor recorded for changes the server makes on its
// own, such as the watchdog that flags silent cases lost_contact. It is not
// an account: no one can log in as it, and [ParseOperatorID] rejects it.
const SystemOperator OperatorID = "system"

// NewOperatorID returns a fresh random OperatorID.
func NewOperatorID() OperatorID { return OperatorID(newID()) }

// ParseOperatorID is [ParseID] for operator ids; it fails with EINVALID,
// also for [SystemOperator].
func ParseOperatorID(s string) (OperatorID, error) {
	if !validID(s) {
		return "", Errorf(EINVALID, "Invalid operator id.")
	}
	return OperatorID(s), nil
}

// Valid reports whether id is a canonical ID. It is false for
// [SystemOperator].
func (id OperatorID) Valid() bool { return validID(string(id)) }

// ChannelKind is the kind of provider endpoint a contact reached.
type ChannelKind string

// The channel kinds. Voice and SMS are both served by Twilio numbers but are
// different kinds: one number may offer either or both.
const (
	ChannelTelegram ChannelKind = "telegram"
	ChannelWhatsApp ChannelKind = "whatsapp"
	ChannelSMS      ChannelKind = "sms"
	ChannelVoice    ChannelKind = "voice"
	ChannelWebForm  ChannelKind = "webform"
)

// ChannelKinds returns every channel kind, in a fixed order.
func ChannelKinds() []ChannelKind {
	return []ChannelKind{ChannelTelegram, ChannelWhatsApp, ChannelSMS, ChannelVoice, ChannelWebForm}
}

// Valid reports whether k is one of the channel kinds.
func (k ChannelKind) Valid() bool {
	switch k {
	case ChannelTelegram, ChannelWhatsApp, ChannelSMS, ChannelVoice, ChannelWebForm:
		return true
	}
	return false
}

// ParseChannelKind returns s as a ChannelKind; it is exact (lower case) and
// fails with EINVALID for anything else.
func ParseChannelKind(s string) (ChannelKind, error) {
	if k := ChannelKind(s); k.Valid() {
		return k, nil
	}
	return "", Errorf(EINVALID, "Unknown channel kind.")
}

// Stream is the purpose an intake serves. Each stream has its own queues, so
// that relatives asking after soldiers do not swamp the soldiers' line.
type Stream string

// The streams.
const (
	StreamSurrender Stream = "surrender" // soldiers who want to surrender
	StreamRelatives Stream = "relatives" // relatives of missing or captured soldiers
)

// Streams returns every stream, in a fixed order.
func Streams() []Stream { return []Stream{StreamSurrender, StreamRelatives} }

// Valid reports whether s is one of the streams.
func (s Stream) Valid() bool { return s == StreamSurrender || s == StreamRelatives }

// ParseStream returns s as a Stream; it is exact (lower case) and fails with
// EINVALID for anything else.
func ParseStream(s string) (Stream, error) {
	if st := Stream(s); st.Valid() {
		return st, nil
	}
	return "", Errorf(EINVALID, "Unknown stream.")
}
