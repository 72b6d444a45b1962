// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"fmt"
	"unicode/utf8"
)

// Reply limits, as each provider counts (WIRE-FORMATS.md §1, §2.6, §3.7, §4).
const (
	// MaxTelegramText is the longest Telegram message, in UTF-16 code
	// units: an emoji outside the Basic Multilingual Plane counts two.
	MaxTelegramText = 4096
	// MaxWhatsAppText is the longest WhatsApp text body, in characters
	// (code points).
	MaxWhatsAppText = 4096
	// MaxSMSSegments is the most segments lifeline sends as one SMS:
	// 1,530 GSM-7 characters or 670 UCS-2 (Cyrillic) ones. Twilio takes a
	// body of up to 1,600 characters, but advises against more than ten
	// segments: longer ones reach handsets badly reassembled, cost a
	// segment each and take a second each at a long code's pace.
	MaxSMSSegments = 10
	// MaxReplyText is the limit of a channel kind lifeline has no rule
	// for, in characters (code points).
	MaxReplyText = 4096
)

// SMS encodings.
const (
	EncodingGSM7 = "GSM-7" // 160 characters in one segment, 153 in each of several
	EncodingUCS2 = "UCS-2" // 70 UTF-16 code units in one segment, 67 in each of several
)

// Length is a text's length as the provider of a channel kind counts it.
type Length struct {
	Kind ChannelKind
	// Count is what the provider counts: UTF-16 code units on Telegram,
	// characters on WhatsApp; on SMS, GSM-7 septets (an extension
	// character such as € or { takes two) or UCS-2 UTF-16 code units.
	Count int
	// Limit is the most Count may be; on SMS, what MaxSMSSegments full
	// segments of the encoding hold.
	Limit int
	// Segments and Encoding are set for SMS only.
	Segments int
	Encoding string
}

// Fits reports whether the text is not empty and within the provider's
// limit (on SMS, at most MaxSMSSegments segments).
func (l Length) Fits() bool {
	if l.Count == 0 {
		return false
	}
	if l.Kind == ChannelSMS {
		return l.Segments <= MaxSMSSegments
	}
	return l.Count <= l.Limit
}

// Problem is a sentence for an operator saying why the text does not fit,
// or "" if it does. It quotes counts, never the text.
func (l Length) Problem() string {
	switch {
	case l.Fits():
		return ""
	case l.Count == 0:
		return "A reply needs some text."
	case l.Kind == ChannelSMS:
		return fmt.Sprintf("Not sent: the reply is %d SMS segments (%s, %d characters); at most %d segments (%d such characters) go in one SMS. Shorten it or send it in parts.",
			l.Segments, l.Encoding, l.Count, MaxSMSSegments, l.Limit)
	default:
		return fmt.Sprintf("Not sent: the reply is %d characters as %s counts them; it takes at most %d. Shorten it or send it in parts.",
			l.Count, l.Kind.Title(), l.Limit)
	}
}

// Title is the channel kind's name as people write it: Telegram, WhatsApp,
// SMS, Voice, Web form.
func (k ChannelKind) Title() string {
	switch k {
	case ChannelTelegram:
		return "Telegram"
	case ChannelWhatsApp:
		return "WhatsApp"
	case ChannelSMS:
		return "SMS"
	case ChannelVoice:
		return "Voice"
	case ChannelWebForm:
		return "Web form"
	}
	return string(k)
}

// MessageLength returns text's length as the provider of kind counts it,
// and the limit. Text that is not valid UTF-8 counts each bad byte as one
// character (U+FFFD).
func MessageLength(kind ChannelKind, text string) Length {
	switch kind {
	case ChannelTelegram:
		return Length{Kind: kind, Count: utf16Len(text), Limit: MaxTelegramText}
	case ChannelWhatsApp:
		return Length{Kind: kind, Count: utf8.RuneCountInString(text), Limit: MaxWhatsAppText}
	case ChannelSMS:
		return smsLength(text)
	}
	return Length{Kind: kind, Count: utf8.RuneCountInString(text), Limit: MaxReplyText}
}

// utf16Len is the number of UTF-16 code units of s.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// smsLength counts an SMS as a handset and Twilio do: GSM-7 if every
// character is in the GSM 03.38 default alphabet or its extension table,
// else UCS-2. A segment never splits an escaped extension character nor a
// surrogate pair, so a long message may need one segment more than its
// count divided by 153 or 67.
func smsLength(text string) Length {
	l := Length{Kind: ChannelSMS, Encoding: EncodingGSM7}
	gsm := true
	for _, r := range text {
		if gsmWidth(r) == 0 {
			gsm = false
			break
		}
	}
	single, multi := 160, 153
	width := gsmWidth
	if !gsm {
		l.Encoding = EncodingUCS2
		single, multi = 70, 67
		width = func(r rune) int {
			if r >= 0x10000 {
				return 2
			}
			return 1
		}
	}
	l.Limit = MaxSMSSegments * multi
	used := 0 // in the current segment, were the message split
	segments := 1
	for _, r := range text {
		w := width(r)
		l.Count += w
		if used+w > multi {
			segments++
			used = 0
		}
		used += w
	}
	switch {
	case l.Count == 0:
		l.Segments = 0
	case l.Count <= single:
		l.Segments = 1
	default:
		l.Segments = segments
	}
	return l
}

// gsmWidth is the number of GSM-7 septets r takes: 1 in the default
// alphabet, 2 in the extension table (an escape and the character), 0 if
// GSM-7 cannot carry it.
func gsmWidth(r rune) int {
	if r < 0x80 {
		if gsmASCII[r] {
			return 1
		}
	}
	switch r {
	case '^', '{', '}', '\\', '[', '~', ']', '|', '€', '\f':
		return 2
	}
	if r >= 0x80 {
		for _, g := range gsmOther {
			if g == r {
				return 1
			}
		}
	}
	return 0
}

// gsmASCII marks the ASCII characters of the GSM 03.38 default alphabet.
var gsmASCII = func() (t [128]bool) {
	for _, r := range "@$\n\r _!\"#%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" {
		t[r] = true
	}
	return t
}()

// gsmOther are the default alphabet's characters outside ASCII.
var gsmOther = []rune("£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà")
