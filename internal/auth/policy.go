// SPDX-License-Identifier: AGPL-3.0-or-later

package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
)

// MinPasswordRunes is the shortest password CheckPassword allows (ASVS 6.2.1
// asks for 8; SECURITY.md §2.6 for 15).
const MinPasswordRunes = 15

// Password policy failures. Their messages are written for the operator who
// chose the password and never contain it; test with errors.Is.
var (
	ErrPasswordTooShort = fmt.Errorf("password must be at least %d characters long", MinPasswordRunes)
	ErrPasswordTooLong  = fmt.Errorf("password must be at most %d characters long", MaxPasswordRunes)
	ErrPasswordEncoding = errors.New("password contains bytes that are not valid UTF-8 text")
	ErrPasswordCommon   = errors.New("password is too common or too easy to guess; choose another, for example a few unrelated words")
)

// MinPasswordScore is the least zxcvbn score CheckPassword accepts: 3 of 4,
// "safely unguessable: moderate protection from offline slow-hash
// scenario" (about 10^8 guesses or more).
const MinPasswordScore = 3

// estimateRunes bounds the part of a password the estimator judges: its
// matching grows with the square of the length (256 emoji take seconds),
// and a password whose first 64 characters are guessable is weak anyway.
const estimateRunes = 64

// serviceWords are words tied to this service that an attacker tries
// first; the estimator counts them as known, as it does the username.
var serviceWords = []string{"lifeline", "hotline", "surrender", "лайфлайн", "хочужить"}

// commonPasswords holds, lower-cased, frequent passwords that the
// estimator misses (keyboard walks on a Cyrillic layout, famous examples),
// long enough to pass the length rule, plus names tied to this service.
var commonPasswords = map[string]bool{
	"012345678901234":                     true,
	"123456789012345":                     true,
	"1234567890123456":                    true,
	"12345678901234567":                   true,
	"123456789012345678":                  true,
	"1234567890123456789":                 true,
	"12345678901234567890":                true,
	"123456789123456789":                  true,
	"1234567891234567":                    true,
	"098765432109876":                     true,
	"987654321987654321":                  true,
	"qwertyuiopasdfg":                     true,
	"qwertyuiopasdfgh":                    true,
	"qwertyuiopasdfghjkl":                 true,
	"qwertyuiopasdfghjklzxcvbnm":          true,
	"qwertyuiop123456":                    true,
	"qwertyqwertyqwerty":                  true,
	"1qaz2wsx3edc4rfv":                    true,
	"1qaz2wsx3edc4rfv5tgb":                true,
	"1q2w3e4r5t6y7u8i":                    true,
	"1q2w3e4r5t6y7u8i9o0p":                true,
	"q1w2e3r4t5y6u7i8":                    true,
	"zaq12wsxcde34rfv":                    true,
	"qazwsxedcrfvtgb":                     true,
	"qazwsxedcrfvtgbyhn":                  true,
	"1234qwerasdfzxcv":                    true,
	"abcdefghijklmno":                     true,
	"abcdefghijklmnop":                    true,
	"abcdefghijklmnopqrstuvwxyz":          true,
	"passwordpassword":                    true,
	"password1234567":                     true,
	"password12345678":                    true,
	"password123456789":                   true,
	"passw0rdpassw0rd":                    true,
	"iloveyouiloveyou":                    true,
	"changemechangeme":                    true,
	"administrator123":                    true,
	"adminadminadmin":                     true,
	"correcthorsebatterystaple":           true,
	"correct horse battery staple":        true,
	"thequickbrownfox":                    true,
	"thequickbrownfoxjumpsoverthelazydog": true,
	"йцукенгшщзхъфыв":                     true, // qwerty row on a Russian layout
	"lifelinelifeline":                    true,
	"lifelinehotline":                     true,
	"lifeline-hotline":                    true,
	"lifeline hotline":                    true,
	"lifeline123456789":                   true,
}

// CheckPassword applies the password policy of SECURITY.md §2.6 (ASVS 6.2):
// 15 to 256 characters (Unicode code points; spaces and any script allowed),
// valid UTF-8, no composition rules, not a single repeated character, not
// on the embedded list of common passwords (compared lower-cased), and
// judged hard to guess by the zxcvbn estimator (at least MinPasswordScore),
// with known words (the username, the person's name) counted as guessable.
// It returns nil or an error wrapping one of the ErrPassword* values. It
// does not normalise Unicode: passwords are hashed and compared byte for
// byte.
func CheckPassword(pw string, known ...string) error {
	if !utf8.ValidString(pw) {
		return ErrPasswordEncoding
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordRunes {
		return fmt.Errorf("%w (it has %d)", ErrPasswordTooShort, n)
	}
	if n > MaxPasswordRunes {
		return fmt.Errorf("%w (it has %d)", ErrPasswordTooLong, n)
	}
	first, _ := utf8.DecodeRuneInString(pw)
	if strings.Count(pw, string(first)) == n {
		return ErrPasswordCommon
	}
	if commonPasswords[strings.ToLower(pw)] {
		return ErrPasswordCommon
	}
	judged := pw
	if n > estimateRunes {
		judged = string([]rune(pw)[:estimateRunes])
	}
	inputs := append(append([]string(nil), serviceWords...), known...)
	if zxcvbn.PasswordStrength(judged, inputs).Score < MinPasswordScore {
		return ErrPasswordCommon
	}
	return nil
}

// passwordAlphabet is Crockford's base32 alphabet, lower-cased: no i, l, o
// or u, so nothing is confused when read aloud or copied from paper. Its 32
// symbols make byte&31 an unbiased draw.
const passwordAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// GeneratePassword returns a random one-time password such as
// "7k2m9-x4q0r-…": 5 groups of 5 characters from a 32-symbol alphabet joined
// by '-', so 25 × 5 = 125 bits of entropy from crypto/rand. It passes
// CheckPassword.
func GeneratePassword() string {
	var b [25]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	var sb strings.Builder
	sb.Grow(29)
	for i, c := range b {
		if i > 0 && i%5 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(passwordAlphabet[c&31])
	}
	return sb.String()
}
