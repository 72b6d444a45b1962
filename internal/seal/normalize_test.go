// SPDX-License-Identifier: AGPL-3.0-or-later

package seal_test

import (
	"errors"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/seal"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		in, region, want string
	}{
		{"+79161234567", "", "+79161234567"},
		{"+7 916 123-45-67", "", "+79161234567"},
		{"+7 (916) 123.45.67", "UA", "+79161234567"},
		{"007 916 1234567", "", "+79161234567"},
		{"8 916 123-45-67", "RU", "+79161234567"},
		{"8(916)1234567", "RU", "+79161234567"},
		{"8(916)1234567", "ru", "+79161234567"},
		{"7 916 123 45 67", "RU", "+79161234567"},
		{"916 123 45 67", "RU", "+79161234567"},
		{"(495) 123-45-67", "RU", "+74951234567"},
		{"8 10 380 50 123 45 67", "RU", "+380501234567"},
		{"8 701 123 45 67", "KZ", "+77011234567"},
		{"050 123 45 67", "UA", "+380501234567"},
		{"0501234567", "UA", "+380501234567"},
		{"380501234567", "UA", "+380501234567"},
		{"+380 (50) 123-45-67", "", "+380501234567"},
		{"8 029 123 45 67", "BY", "+375291234567"},
		{"80291234567", "BY", "+375291234567"},
		{"375 29 123 45 67", "BY", "+375291234567"},
		{"8 10 7 916 123 45 67", "BY", "+79161234567"},
		{"+375 29 123 45 67", "RU", "+375291234567"},
		{"+44 20 7946 0958", "", "+442079460958"},
		{"+1-202-555-0143", "UA", "+12025550143"},
		{" +7\u00a0916\u00a0123\u201345\u201367 ", "", "+79161234567"}, // no-break spaces, en dashes
		{"+123456789012345", "", "+123456789012345"},                   // 15 digits
	}
	for _, tt := range tests {
		got, err := seal.NormalizePhone(tt.in, tt.region)
		if err != nil || got != tt.want {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v; want %q", tt.in, tt.region, got, err, tt.want)
			continue
		}
		if again, err := seal.NormalizePhone(got, ""); err != nil || again != got {
			t.Errorf("NormalizePhone(%q) not idempotent: %q, %v", got, again, err)
		}
	}
}

func TestNormalizePhoneRejects(t *testing.T) {
	tests := []struct {
		in, region string
	}{
		{"", "RU"},
		{"   ", "RU"},
		{"8 916 123-45-67", ""},                // national without region
		{"0501234567", ""},                     // national without region
		{"8 916 123-45-67", "DE"},              // no national format known
		{"+7 916 123-45-6", ""},                // +7 too short
		{"+7 916 123-45-678", ""},              // +7 too long
		{"+380 050 123 45 67", ""},             // trunk 0 kept after country code
		{"+375 29 123 45 6", ""},               // +375 too short
		{"+1234567890123456", ""},              // 16 digits
		{"+123456", ""},                        // too short
		{"+0123456789", ""},                    // country code 0
		{"00 0123456789", ""},                  // country code 0
		{"+7 916 CALL-NOW", ""},                // letters
		{"+7 916 123 45 67 ext. 5", ""},        // extension
		{"+7 9l6 123 45 67", ""},               // letter l for 1
		{"+7 916 123 45 67+", ""},              // plus inside
		{"++79161234567", ""},                  // two plus signs
		{"7+9161234567", ""},                   // plus after digits
		{"+7\t916 123 45 67", ""},              // tab
		{"+٧٩١٦١٢٣٤٥٦٧", ""},                   // Arabic-Indic digits
		{"+７９１６１２３４５６７", ""},                   // full-width digits
		{"+7 916\u200b123 45 67", ""},          // zero-width space
		{"+7 916\u202e123 45 67", ""},          // right-to-left override
		{"+7 916\u2066123 45 67\u2069", ""},    // bidi isolate
		{"\ufeff+79161234567", ""},             // byte-order mark
		{"+7 916\u00ad123 45 67", ""},          // soft hyphen
		{"+7 916 123 45 67\x00", ""},           // NUL
		{"+7 916 \xff123 45 67", ""},           // invalid UTF-8
		{"+7 916 123 45 67 / 68", ""},          // slash
		{"8 916 123 45 67 8 916 123 45", "RU"}, // two numbers
		{"1234567", "RU"},                      // too short for RU
		{"050 123 45 67 8", "UA"},              // too long for UA
		{string(make([]byte, 300)), "RU"},      // too long input
	}
	for _, tt := range tests {
		got, err := seal.NormalizePhone(tt.in, tt.region)
		if err == nil {
			t.Errorf("NormalizePhone(%q, %q) = %q, want error", tt.in, tt.region, got)
		} else if !errors.Is(err, seal.ErrNotNormalizable) {
			t.Errorf("NormalizePhone(%q) error %v is not ErrNotNormalizable", tt.in, err)
		}
	}
}

func TestNormalizeTelegramAndWhatsApp(t *testing.T) {
	for _, tt := range []struct {
		f        func(string) (string, error)
		in, want string
		ok       bool
	}{
		{seal.NormalizeTelegramID, "123456789", "123456789", true},
		{seal.NormalizeTelegramID, " 123456789\n", "123456789", true},
		{seal.NormalizeTelegramID, "9223372036854775807", "9223372036854775807", true},
		{seal.NormalizeTelegramID, "9223372036854775808", "", false},
		{seal.NormalizeTelegramID, "0123", "", false},
		{seal.NormalizeTelegramID, "+123", "", false},
		{seal.NormalizeTelegramID, "-1001234567890", "", false},
		{seal.NormalizeTelegramID, "0", "", false},
		{seal.NormalizeTelegramID, "12 34", "", false},
		{seal.NormalizeTelegramID, "１２３", "", false},
		{seal.NormalizeTelegramID, "@username", "", false},
		{seal.NormalizeTelegramID, "", "", false},
		{seal.NormalizeWhatsAppID, "79161234567", "79161234567", true},
		{seal.NormalizeWhatsAppID, "12345678", "12345678", true},
		{seal.NormalizeWhatsAppID, "123456789012345", "123456789012345", true},
		{seal.NormalizeWhatsAppID, "1234567", "", false},
		{seal.NormalizeWhatsAppID, "1234567890123456", "", false},
		{seal.NormalizeWhatsAppID, "+79161234567", "", false},
		{seal.NormalizeWhatsAppID, "7 916 1234567", "", false},
		{seal.NormalizeWhatsAppID, "07916123456", "", false},
		{seal.NormalizeWhatsAppID, "7916123456\u200b7", "", false},
		{seal.NormalizeWhatsAppID, "7916123456\xff", "", false},
	} {
		got, err := tt.f(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("normalize(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestNormalizeDocument(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"АВ 1234567", "AB1234567"},        // Cyrillic look-alikes
		{"AB 1234567", "AB1234567"},        // Latin
		{"ab-1234567", "AB1234567"},        // lower case, hyphen
		{"ав–123 45 67", "AB1234567"},      // lower Cyrillic, en dash
		{"№ АВ 1234567", "AB1234567"},      // numero sign
		{"45 06 123456", "4506123456"},     // passport
		{"АБ-123456", "AБ123456"},          // Б has no Latin look-alike and stays
		{"ЕКМНОРСТХУ1", "EKMHOPCTXY1"},     // every look-alike
		{"ёіјѕ1", "EIJS1"},                 // Ё, Ukrainian І, Ј, Ѕ
		{"жд 123", "ЖД123"},                // kept Cyrillic, upper-cased
		{"ґєїў12", "ҐЄЇЎ12"},               // Ukrainian and Belarusian letters
		{"X\u00a0123\u202f456", "X123456"}, // no-break and narrow no-break spaces
	}
	for _, tt := range tests {
		for name, f := range map[string]func(string) (string, error){
			"NormalizeServiceNumber": seal.NormalizeServiceNumber, "NormalizeDocumentNumber": seal.NormalizeDocumentNumber,
		} {
			got, err := f(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("%s(%q) = %q, %v; want %q", name, tt.in, got, err, tt.want)
				continue
			}
			if again, err := f(got); err != nil || again != got {
				t.Errorf("%s(%q) not idempotent: %q, %v", name, got, again, err)
			}
		}
	}
	for _, in := range []string{
		"", "AB", "ABC1"[:3], "ABCDEFGH", // too short, no digits
		"A1" + string(make([]byte, 40)),     // NULs
		"AB1234567890123456789012345678901", // 33 characters
		"ΑΒ 1234567",                        // Greek capitals alpha, beta
		"AB\u200b1234567",                   // zero-width space
		"AB\u202e1234567",                   // right-to-left override
		"AB\u200f1234567",                   // right-to-left mark
		"AB\u00ad1234567",                   // soft hyphen
		"AB.1234567", "AB/1234567", "AB_1234567",
		"AB１２３４５６７", "AB٣٤٥٦٧٨", // full-width, Arabic-Indic digits
		"AB\xff1234567", // invalid UTF-8
		"ЂЋ 123456",     // Serbian letters outside RU/UA/BY
	} {
		if got, err := seal.NormalizeDocumentNumber(in); err == nil {
			t.Errorf("NormalizeDocumentNumber(%q) = %q, want error", in, got)
		}
	}
}

func TestNormalizeDispatch(t *testing.T) {
	for _, tt := range []struct {
		d        seal.Domain
		in, want string
	}{
		{seal.DomainPhone, "+7 916 123 45 67", "+79161234567"},
		{seal.DomainTelegram, "42", "42"},
		{seal.DomainWhatsApp, "79161234567", "79161234567"},
		{seal.DomainServiceNumber, "ав-123456", "AB123456"},
		{seal.DomainDocumentNumber, "45 06 123456", "4506123456"},
	} {
		if got, err := seal.Normalize(tt.d, tt.in); err != nil || got != tt.want {
			t.Errorf("Normalize(%s, %q) = %q, %v; want %q", tt.d, tt.in, got, err, tt.want)
		}
	}
	if _, err := seal.Normalize(seal.DomainPhone, "8 916 123 45 67"); err == nil {
		t.Error("Normalize(phone) accepted a national number")
	}
	if _, err := seal.Normalize("email", "a@b.c"); err == nil {
		t.Error("Normalize accepted an unknown domain")
	}
}
