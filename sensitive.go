// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what a [Sensitive] value prints as everywhere except through
// [Sensitive.Reveal].
const Redacted = "[redacted]"

// Sensitive is text that may identify or locate a person: a name, a phone
// number, a chat id, message text, an operator's free-text note. It prints as
// [Redacted] through fmt (every verb, %#v included), log/slog, encoding/json
// and any other encoder that uses encoding.TextMarshaler, so that it cannot
// leak into a log line, an error string or a JSON response by accident
// (SECURITY.md §2.8). Code that must show or store the value calls
// [Sensitive.Reveal], which makes each such place easy to find and review.
//
// Sensitive does not encrypt anything; the store seals such fields at rest.
type Sensitive string

// Reveal returns the plain text. Call it only to render the value for an
// operator entitled to see it or to hand it to the store for sealing.
func (s Sensitive) Reveal() string { return string(s) }

// IsEmpty reports whether the value is the empty string. It lets callers
// check presence without revealing the value.
func (s Sensitive) IsEmpty() bool { return s == "" }

// String returns [Redacted].
func (Sensitive) String() string { return Redacted }

// GoString returns [Redacted].
func (Sensitive) GoString() string { return Redacted }

// Format writes [Redacted] for every verb and flag.
func (Sensitive) Format(f fmt.State, _ rune) { io.WriteString(f, Redacted) }

// LogValue implements slog.LogValuer and returns [Redacted].
func (Sensitive) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText returns [Redacted], so that JSON, XML and text encoders never
// write the value. Decoding into a Sensitive is unaffected: it has no
// UnmarshalText and decodes as a plain string.
func (Sensitive) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
