// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
)

// TestMessageLengthCountsAsProvidersCount: Telegram counts UTF-16 code
// units, WhatsApp characters, SMS septets or UCS-2 units in segments.
func TestMessageLengthCountsAsProvidersCount(t *testing.T) {
	cyr := func(n int) string { return strings.Repeat("ж", n) } // 2 bytes in UTF-8, 1 UTF-16 unit, not GSM-7
	const emoji = "🙂"                                           // 4 bytes, a surrogate pair: 2 UTF-16 units, 1 character
	for _, tt := range []struct {
		name     string
		kind     lifeline.ChannelKind
		text     string
		count    int
		segments int
		encoding string
		fits     bool
	}{
		{"telegram empty", lifeline.ChannelTelegram, "", 0, 0, "", false},
		{"telegram 2,049 Cyrillic (4,098 bytes)", lifeline.ChannelTelegram, cyr(2049), 2049, 0, "", true},
		{"telegram 4,096 Cyrillic", lifeline.ChannelTelegram, cyr(4096), 4096, 0, "", true},
		{"telegram 4,097 Cyrillic", lifeline.ChannelTelegram, cyr(4097), 4097, 0, "", false},
		{"telegram 2,048 emoji are 4,096 units", lifeline.ChannelTelegram, strings.Repeat(emoji, 2048), 4096, 0, "", true},
		{"telegram 2,048 emoji and one letter", lifeline.ChannelTelegram, strings.Repeat(emoji, 2048) + "a", 4097, 0, "", false},
		{"whatsapp 4,096 emoji are 4,096 characters", lifeline.ChannelWhatsApp, strings.Repeat(emoji, 4096), 4096, 0, "", true},
		{"whatsapp 4,097 Cyrillic", lifeline.ChannelWhatsApp, cyr(4097), 4097, 0, "", false},
		{"sms 160 GSM-7 in one segment", lifeline.ChannelSMS, strings.Repeat("a", 160), 160, 1, lifeline.EncodingGSM7, true},
		{"sms 161 GSM-7 in two", lifeline.ChannelSMS, strings.Repeat("a", 161), 161, 2, lifeline.EncodingGSM7, true},
		{"sms 306 GSM-7 in two", lifeline.ChannelSMS, strings.Repeat("a", 306), 306, 2, lifeline.EncodingGSM7, true},
		{"sms 307 GSM-7 in three", lifeline.ChannelSMS, strings.Repeat("a", 307), 307, 3, lifeline.EncodingGSM7, true},
		{"sms GSM-7 accents and Greek stay GSM-7", lifeline.ChannelSMS, "Ñandù £5 ΔΩ à", 13, 1, lifeline.EncodingGSM7, true},
		{"sms extension characters count two", lifeline.ChannelSMS, "{€}", 6, 1, lifeline.EncodingGSM7, true},
		{"sms 80 euro signs are 160 septets, one segment", lifeline.ChannelSMS, strings.Repeat("€", 80), 160, 1, lifeline.EncodingGSM7, true},
		{"sms an escape pair is not split across segments", lifeline.ChannelSMS, strings.Repeat("a", 152) + "€" + strings.Repeat("a", 10), 164, 2, lifeline.EncodingGSM7, true},
		{"sms an escape pair at a boundary moves to the next segment", lifeline.ChannelSMS, strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), 306, 3, lifeline.EncodingGSM7, true},
		{"sms 1,530 GSM-7 in ten segments", lifeline.ChannelSMS, strings.Repeat("a", 1530), 1530, 10, lifeline.EncodingGSM7, true},
		{"sms 1,531 GSM-7 in eleven: refused", lifeline.ChannelSMS, strings.Repeat("a", 1531), 1531, 11, lifeline.EncodingGSM7, false},
		{"sms a backtick is not GSM-7", lifeline.ChannelSMS, "a`b", 3, 1, lifeline.EncodingUCS2, true},
		{"sms 70 Cyrillic in one segment", lifeline.ChannelSMS, cyr(70), 70, 1, lifeline.EncodingUCS2, true},
		{"sms 71 Cyrillic in two", lifeline.ChannelSMS, cyr(71), 71, 2, lifeline.EncodingUCS2, true},
		{"sms one Cyrillic letter makes Latin text UCS-2", lifeline.ChannelSMS, strings.Repeat("a", 100) + "ж", 101, 2, lifeline.EncodingUCS2, true},
		{"sms 670 Cyrillic in ten segments", lifeline.ChannelSMS, cyr(670), 670, 10, lifeline.EncodingUCS2, true},
		{"sms 671 Cyrillic: refused", lifeline.ChannelSMS, cyr(671), 671, 11, lifeline.EncodingUCS2, false},
		{"sms 35 emoji are 70 units, one segment", lifeline.ChannelSMS, strings.Repeat(emoji, 35), 70, 1, lifeline.EncodingUCS2, true},
		{"sms a surrogate pair is not split across segments", lifeline.ChannelSMS, cyr(66) + emoji + cyr(10), 78, 2, lifeline.EncodingUCS2, true},
		{"sms a surrogate pair at a boundary moves to the next segment", lifeline.ChannelSMS, cyr(66) + emoji + cyr(66), 134, 3, lifeline.EncodingUCS2, true},
		{"sms empty", lifeline.ChannelSMS, "", 0, 0, lifeline.EncodingGSM7, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := lifeline.MessageLength(tt.kind, tt.text)
			if l.Count != tt.count || l.Segments != tt.segments || l.Encoding != tt.encoding || l.Fits() != tt.fits {
				t.Errorf("got count %d, %d segments, %q, fits %v; want %d, %d, %q, %v",
					l.Count, l.Segments, l.Encoding, l.Fits(), tt.count, tt.segments, tt.encoding, tt.fits)
			}
			if p := l.Problem(); (p == "") != tt.fits {
				t.Errorf("Problem() = %q with fits %v", p, tt.fits)
			}
		})
	}
}

// TestMessageLengthProblemQuotesNoText: the refusal names counts and the
// provider, never the text.
func TestMessageLengthProblemQuotesNoText(t *testing.T) {
	text := strings.Repeat("секрет ", 700)
	for _, k := range []lifeline.ChannelKind{lifeline.ChannelTelegram, lifeline.ChannelWhatsApp, lifeline.ChannelSMS} {
		p := lifeline.MessageLength(k, text+strings.Repeat("я", 4096)).Problem()
		if p == "" || strings.Contains(p, "секрет") || !strings.Contains(p, k.Title()) {
			t.Errorf("%s: Problem() = %q", k, p)
		}
	}
}

func FuzzMessageLength(f *testing.F) {
	for _, s := range []string{"", "a", "ж", "🙂", "€{", "\xff\xfe", strings.Repeat("a", 153) + "€"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range lifeline.ChannelKinds() {
			l := lifeline.MessageLength(k, s)
			if l.Count < 0 || (s == "") != (l.Count == 0) || l.Segments < 0 || (k == lifeline.ChannelSMS && s != "" && l.Segments < 1) {
				t.Fatalf("%s: %+v", k, l)
			}
		}
	})
}
