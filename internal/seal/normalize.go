// SPDX-License-Identifier: AGPL-3.0-or-later

package seal

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Normalizers turn what an operator typed or a provider sent into the one
// canonical form a blind index is computed over, so that "8 (916) 123-45-67"
// and "+7 916 1234567" find the same contact. They are strict on purpose:
// anything they cannot read with certainty is an error for a human to fix,
// never a guess. Every normalizer accepts its own output unchanged.
//
// Only ASCII digits count as digits. Arabic-Indic, full-width and other
// Unicode digits are rejected, not translated: they never occur in honest
// input from our channels, and accepting them would add look-alike ways to
// write one number. Invisible characters (zero-width, bidi controls, soft
// hyphen, BOM) are rejected everywhere, as is invalid UTF-8.

// maxNormalizeInput bounds every normalizer's input in bytes.
const maxNormalizeInput = 256

// ErrNotNormalizable is wrapped by every normalizer error.
var ErrNotNormalizable = errors.New("seal: cannot normalize")

func normErr(what, format string, args ...any) error {
	return fmt.Errorf("%w %s: %s", ErrNotNormalizable, what, fmt.Sprintf(format, args...))
}

// isSeparator reports whether r is punctuation people put inside numbers:
// spaces (also no-break and thin spaces), hyphens and dashes.
func isSeparator(r rune) bool {
	switch r {
	case ' ', '-', '\u00a0', '\u2009', '\u202f', '\u2212':
		return true
	}
	return r >= '\u2010' && r <= '\u2015' // hyphen, non-breaking hyphen, figure dash, en dash, em dash, bar
}

func checkInput(what, s string) error {
	switch {
	case len(s) > maxNormalizeInput:
		return normErr(what, "longer than %d bytes", maxNormalizeInput)
	case !utf8.ValidString(s):
		return normErr(what, "not valid UTF-8")
	}
	return nil
}

// Regions NormalizePhone knows the national formats of.
const (
	RegionRussia     = "RU"
	RegionKazakhstan = "KZ"
	RegionBelarus    = "BY"
	RegionUkraine    = "UA"
)

// NormalizePhone returns a phone number in E.164 form, "+" and 7 to 15 ASCII
// digits (for example "+79161234567"). It accepts spaces, hyphens and
// dashes, dots and parentheses between digits, and an international number
// written with a leading "+" or "00". A number without either is read in the
// national format of defaultRegion (ISO 3166 code, case-insensitive):
//
//	RU, KZ  8 916 123-45-67, 8(916)1234567, 7 916 1234567, 916 123 45 67 -> +7…
//	        8 10 <international number> (the old 8~10 prefix)          -> +…
//	BY      8 029 123 45 67, 80291234567, 375 29 1234567, 29 1234567   -> +375…
//	        8 10 <international number>                                -> +…
//	UA      050 123 45 67, 0501234567, 380 50 1234567                  -> +380…
//
// With defaultRegion "" a number must be international. Numbers of +7, +375
// and +380 must have the length of those plans (11, 12 and 12 digits).
// Letters (including "ext."), other Unicode digits, invisible characters and
// invalid UTF-8 are errors.
func NormalizePhone(s, defaultRegion string) (string, error) {
	const what = "phone number"
	if err := checkInput(what, s); err != nil {
		return "", err
	}
	digits := make([]byte, 0, 16)
	plus := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = append(digits, byte(r))
		case r == '+':
			if plus || len(digits) > 0 {
				return "", normErr(what, "'+' may only begin the number")
			}
			plus = true
		case isSeparator(r) || r == '.' || r == '(' || r == ')':
		case unicode.IsLetter(r):
			return "", normErr(what, "contains letters")
		case unicode.IsDigit(r) || unicode.IsNumber(r):
			return "", normErr(what, "contains non-ASCII digits (only 0-9 are accepted)")
		default:
			return "", normErr(what, "contains the character %U", r)
		}
		if len(digits) > 20 {
			return "", normErr(what, "too long")
		}
	}
	if len(digits) == 0 {
		return "", normErr(what, "no digits")
	}
	d := string(digits)
	var intl string
	region := strings.ToUpper(defaultRegion)
	switch {
	case plus:
		intl = d
	case strings.HasPrefix(d, "00"):
		intl = d[2:]
	case (region == RegionRussia || region == RegionKazakhstan || region == RegionBelarus) &&
		strings.HasPrefix(d, "810") && len(d) > 11:
		intl = d[3:]
	default:
		var err error
		if intl, err = nationalToInternational(d, region); err != nil {
			return "", err
		}
	}
	if err := checkE164(intl); err != nil {
		return "", err
	}
	return "+" + intl, nil
}

func nationalToInternational(d, region string) (string, error) {
	const what = "phone number"
	switch region {
	case "":
		return "", normErr(what, "needs a country code (+…)")
	case RegionRussia, RegionKazakhstan:
		switch {
		case len(d) == 11 && (d[0] == '8' || d[0] == '7'):
			return "7" + d[1:], nil
		case len(d) == 10 && d[0] != '0' && d[0] != '1' && d[0] != '2':
			return "7" + d, nil
		}
	case RegionBelarus:
		switch {
		case len(d) == 11 && strings.HasPrefix(d, "80"):
			return "375" + d[2:], nil
		case len(d) == 12 && strings.HasPrefix(d, "375"):
			return d, nil
		case len(d) == 9 && d[0] != '0' && d[0] != '8':
			return "375" + d, nil
		}
	case RegionUkraine:
		switch {
		case len(d) == 10 && d[0] == '0':
			return "380" + d[1:], nil
		case len(d) == 12 && strings.HasPrefix(d, "380"):
			return d, nil
		case len(d) == 9 && d[0] != '0':
			return "380" + d, nil
		}
	default:
		return "", normErr(what, "no national format known for region %q; write it with +country code", region)
	}
	return "", normErr(what, "not a valid %s number (wrong length or prefix)", region)
}

// checkE164 checks the digits of an international number (without "+").
func checkE164(d string) error {
	const what = "phone number"
	switch {
	case len(d) < 7:
		return normErr(what, "too short")
	case len(d) > 15:
		return normErr(what, "too long (E.164 allows at most 15 digits)")
	case d[0] == '0':
		return normErr(what, "country code cannot start with 0")
	case d[0] == '7' && len(d) != 11:
		return normErr(what, "+7 numbers have 10 digits after the country code")
	case (strings.HasPrefix(d, "375") || strings.HasPrefix(d, "380")) && len(d) != 12:
		return normErr(what, "+%s numbers have 9 digits after the country code", d[:3])
	}
	return nil
}

// NormalizeTelegramID returns a Telegram user id in canonical decimal form:
// a positive int64 without sign or leading zeros. Surrounding ASCII white
// space is removed; nothing else is forgiven.
func NormalizeTelegramID(s string) (string, error) {
	const what = "Telegram id"
	if err := checkInput(what, s); err != nil {
		return "", err
	}
	s = strings.Trim(s, " \t\r\n")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != s {
		return "", normErr(what, "must be a positive decimal number without sign or leading zeros")
	}
	return s, nil
}

// NormalizeWhatsAppID returns a WhatsApp id (wa_id: country code and number,
// no "+"): 8 to 15 ASCII digits, not starting with 0. Surrounding ASCII white
// space is removed; nothing else is forgiven.
func NormalizeWhatsAppID(s string) (string, error) {
	const what = "WhatsApp id"
	if err := checkInput(what, s); err != nil {
		return "", err
	}
	s = strings.Trim(s, " \t\r\n")
	if len(s) < 8 || len(s) > 15 || s[0] == '0' {
		return "", normErr(what, "must be 8 to 15 digits, not starting with 0")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", normErr(what, "must contain only the digits 0-9")
		}
	}
	return s, nil
}

// cyrillicLookalikes maps upper-case Cyrillic letters that look like Latin
// capitals to those capitals, so that "АВ 123456" typed on a Russian keyboard
// and "AB 123456" typed on a Latin one match. Ё is mapped to E because Е is
// commonly written for Ё. Letters that only resemble digits (З, Ч) are kept.
var cyrillicLookalikes = map[rune]rune{
	'А': 'A', 'В': 'B', 'Е': 'E', 'Ё': 'E', 'К': 'K', 'М': 'M', 'Н': 'H', 'О': 'O',
	'Р': 'P', 'С': 'C', 'Т': 'T', 'Х': 'X', 'У': 'Y',
	'І': 'I', 'Ј': 'J', 'Ѕ': 'S', // Ukrainian/Belarusian I, Serbian J, Macedonian DZE
}

// isDocumentCyrillic reports whether r is an upper-case letter of the
// Russian, Ukrainian or Belarusian alphabet (after look-alike mapping).
func isDocumentCyrillic(r rune) bool {
	return (r >= 'А' && r <= 'Я') || r == 'Є' || r == 'Ї' || r == 'Ў' || r == 'Ґ'
}

func normalizeDocument(what, s string) (string, error) {
	if err := checkInput(what, s); err != nil {
		return "", err
	}
	var b strings.Builder
	digits := 0
	for _, r := range s {
		switch {
		case isSeparator(r) || r == '№':
			continue
		case r >= '0' && r <= '9':
			digits++
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		case r >= 'A' && r <= 'Z':
		case r >= '\u0400' && r <= '\u04ff':
			r = unicode.ToUpper(r)
			if l, ok := cyrillicLookalikes[r]; ok {
				r = l
			} else if !isDocumentCyrillic(r) {
				return "", normErr(what, "contains the letter %U, which is not Latin, Russian, Ukrainian or Belarusian", r)
			}
		case unicode.IsDigit(r) || unicode.IsNumber(r):
			return "", normErr(what, "contains non-ASCII digits (only 0-9 are accepted)")
		default:
			return "", normErr(what, "contains the character %U", r)
		}
		b.WriteRune(r)
	}
	out := b.String()
	switch n := utf8.RuneCountInString(out); {
	case n < 4:
		return "", normErr(what, "too short")
	case n > 32:
		return "", normErr(what, "too long")
	case digits == 0:
		return "", normErr(what, "contains no digits")
	}
	return out, nil
}

// NormalizeServiceNumber returns a military service (personal) number in
// canonical form: spaces, hyphens, dashes and "№" removed; Latin letters upper
// case; Cyrillic letters upper case, with the look-alikes of Latin capitals
// (А В Е Ё К М Н О Р С Т Х У І Ј Ѕ) mapped to them and other Russian,
// Ukrainian and Belarusian letters kept (so "аб-123456" gives "AБ123456").
// The result has 4 to 32 letters and digits and at least one digit. Letters
// and digits are not mapped to each other (O and 0 stay distinct).
func NormalizeServiceNumber(s string) (string, error) {
	return normalizeDocument("service number", s)
}

// NormalizeDocumentNumber returns an identity document number (passport,
// military id) in canonical form, with the rules of [NormalizeServiceNumber].
func NormalizeDocumentNumber(s string) (string, error) {
	return normalizeDocument("document number", s)
}

// Normalize dispatches to the normalizer of the domain. Phone numbers must
// be international here (no default region); call [NormalizePhone] directly
// to read national formats.
func Normalize(d Domain, value string) (string, error) {
	switch d {
	case DomainPhone:
		return NormalizePhone(value, "")
	case DomainTelegram:
		return NormalizeTelegramID(value)
	case DomainWhatsApp:
		return NormalizeWhatsAppID(value)
	case DomainServiceNumber:
		return NormalizeServiceNumber(value)
	case DomainDocumentNumber:
		return NormalizeDocumentNumber(value)
	}
	return "", d.Validate()
}
