// SPDX-License-Identifier: AGPL-3.0-or-later

package twilio

import (
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline/internal/channel"
)

// Limits from Twilio's documentation (WIRE-FORMATS.md §3.3, §4).
const (
	// MaxText is the longest SMS body Twilio takes or sends, in characters
	// (UTF-16 code units for sending, to be safe with emoji).
	MaxText = 1600
	// MaxMedia is the most media items one MMS carries.
	MaxMedia = 10
)

// malformed wraps channel.ErrMalformed with a fixed description: never the
// input, which may be personal.
func malformed(what string) error {
	return fmt.Errorf("twilio: %s: %w", what, channel.ErrMalformed)
}

// form is a parsed webhook body whose fields are read at most once each.
type form url.Values

// one returns name's single value; present is false if it is absent. A name
// given more than once is ambiguous (the signature covers every value, the
// parser would pick one), so it is an error.
func (f form) one(name string) (value string, present bool, err error) {
	switch vs := f[name]; len(vs) {
	case 0:
		return "", false, nil
	case 1:
		return vs[0], true, nil
	default:
		return "", true, malformed("repeated " + name)
	}
}

// required returns name's single non-empty value.
func (f form) required(name string) (string, error) {
	v, _, err := f.one(name)
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", malformed("missing " + name)
	}
	return v, nil
}

// validSID reports whether s is a Twilio SID: a two-letter prefix (one of
// prefixes) and 32 hex digits.
func validSID(s string, prefixes ...string) bool {
	if len(s) != 34 {
		return false
	}
	ok := false
	for _, p := range prefixes {
		ok = ok || s[:2] == p
	}
	if !ok {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// NormalizeE164 returns s as an E.164 number, "+" and 6 to 15 digits, the
// first not 0, after removing the spaces, dashes, dots and parentheses people
// write; ok is false for anything else (short codes, alphanumeric senders,
// "client:…", "sip:…", "Anonymous").
func NormalizeE164(s string) (e164 string, ok bool) {
	if len(s) > 64 {
		return "", false
	}
	var b strings.Builder
	for i, c := range strings.TrimSpace(s) {
		switch {
		case c == '+' && i == 0:
			b.WriteByte('+')
		case '0' <= c && c <= '9':
			if b.Len() == 0 {
				return "", false // no leading +: not E.164
			}
			b.WriteRune(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	n := b.String()
	if len(n) < 7 || len(n) > 16 || n[1] == '0' {
		return "", false
	}
	return n, true
}

// sanitize makes provider text storable: valid UTF-8 (Twilio percent-decodes
// to any bytes) without NUL, which PostgreSQL refuses (HOSTILE-INPUTS C-03);
// invalid sequences and NUL become U+FFFD, all else is kept.
func sanitize(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return s
}

// numMedia reads NumMedia: absent is 0; anything but a small decimal
// integer is malformed; more than MaxMedia is capped (the rest is dropped).
func numMedia(f form) (int, error) {
	v, present, err := f.one("NumMedia")
	if err != nil || !present {
		return 0, err
	}
	if len(v) == 0 || len(v) > 9 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, malformed("NumMedia not a count")
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, malformed("NumMedia not a count")
	}
	return min(n, MaxMedia), nil
}

// mediaMIME returns a media item's content type, lower case, or "" if it
// is not a valid media type (the fetched bytes are sniffed in any case).
func mediaMIME(s string) string {
	mt, _, err := mime.ParseMediaType(s)
	if err != nil || !strings.Contains(mt, "/") {
		return ""
	}
	return mt
}

// kindOf is a message's kind from its first media item.
func kindOf(media []channel.Media) channel.MessageKind {
	if len(media) == 0 {
		return channel.KindText
	}
	major, _, _ := strings.Cut(media[0].MIME, "/")
	switch major {
	case "image":
		return channel.KindPhoto
	case "audio":
		return channel.KindAudio
	case "video":
		return channel.KindVideo
	case "application", "text":
		return channel.KindDocument
	default:
		return channel.KindOther
	}
}

// Message statuses (status callback MessageStatus, WIRE-FORMATS.md §3.4).
// reported maps the ones an outbound message's record cares about to the
// channel.Status states; pending ones are acknowledged and not reported.
var (
	reportedStatus = map[string]string{
		"sent":        "sent",
		"delivered":   "delivered",
		"read":        "read",
		"failed":      "failed",
		"undelivered": "failed",
		"canceled":    "failed",
	}
	pendingStatus = map[string]bool{
		"accepted":  true,
		"scheduled": true,
		"queued":    true,
		"sending":   true,
		"receiving": true,
		"received":  true,
	}
)

// errorReasons are short, fixed reasons for Twilio error codes an operator
// sees on a failed message. Twilio's own messages are never passed on: they
// quote the phone number.
var errorReasons = map[string]string{
	"21211": "invalid 'To' number",
	"21408": "sending to this region is not enabled",
	"21610": "recipient unsubscribed (STOP)",
	"21612": "cannot route to this number",
	"21614": "not a mobile number",
	"21617": "message body too long",
	"30001": "queue overflow",
	"30002": "account suspended",
	"30003": "unreachable destination handset",
	"30004": "message blocked",
	"30005": "unknown destination handset",
	"30006": "landline or unreachable carrier",
	"30007": "message filtered by carrier",
	"30008": "unknown error",
}

// validErrorCode reports whether s looks like a Twilio error code.
func validErrorCode(s string) bool {
	return len(s) >= 1 && len(s) <= 8 && strings.TrimLeft(s, "0123456789") == ""
}

// apiError is the body of a Twilio REST API error.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"` // quotes numbers: never logged or returned
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// messageResource is the part of a Message resource Send reads.
type messageResource struct {
	SID    string `json:"sid"`
	Status string `json:"status"`
}
