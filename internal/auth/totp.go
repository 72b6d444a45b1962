// SPDX-License-Identifier: AGPL-3.0-or-later

package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP settings (SECURITY.md §2.6): what authenticator apps expect.
const (
	TOTPPeriod     = 30 // seconds per time step
	TOTPDigits     = 6
	TOTPSkew       = 1  // steps accepted either side of now (≈ 90 s window)
	TOTPSecretSize = 20 // bytes (160 bits, RFC 4226 §4 recommendation)

	minTOTPSecretSize = 16 // RFC 4226 §4 R6: at least 128 bits
)

var (
	// ErrTOTPInvalid means the code is malformed or matches none of the
	// accepted time steps.
	ErrTOTPInvalid = errors.New("auth: invalid TOTP code")

	// ErrTOTPReplayed means the code is right but its time step is not
	// after the last accepted one: it was used already (or an older code
	// was entered after a newer one). RFC 6238 §5.2 forbids accepting it.
	ErrTOTPReplayed = errors.New("auth: TOTP code already used")

	// ErrTOTPSecret means the stored secret is not usable base32 of at least
	// 128 bits. It is a server-side fault, not a user error.
	ErrTOTPSecret = errors.New("auth: invalid TOTP secret")
)

var totpOpts = totp.ValidateOpts{
	Period:    TOTPPeriod,
	Skew:      TOTPSkew,
	Digits:    otp.DigitsSix,
	Algorithm: otp.AlgorithmSHA1,
}

// Enrollment is a new TOTP secret, to be stored encrypted under the keyring
// and shown once to the operator (as the otpauth URL in a QR code, or the
// secret typed in by hand).
type Enrollment struct {
	Secret string // base32 (RFC 4648 alphabet, no padding) of 20 random bytes
	URL    string // otpauth://totp/Issuer:account?secret=…&issuer=…&period=30&algorithm=SHA1&digits=6
}

// NewTOTPSecret generates a 160-bit TOTP secret from crypto/rand for account
// at issuer, with SHA-1, 6 digits and 30 s steps for app compatibility.
// Neither issuer nor account may be empty or contain ':' (the otpauth label
// separator).
func NewTOTPSecret(issuer, account string) (Enrollment, error) {
	if issuer == "" || account == "" || strings.Contains(issuer, ":") || strings.Contains(account, ":") {
		return Enrollment{}, errors.New("auth: TOTP issuer and account must be non-empty and contain no ':'")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      TOTPPeriod,
		SecretSize:  TOTPSecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
		Rand:        rand.Reader,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("auth: generate TOTP secret: %w", err)
	}
	return Enrollment{Secret: key.Secret(), URL: key.URL()}, nil
}

// TOTPStep returns the RFC 6238 time step that contains t.
func TOTPStep(t time.Time) int64 {
	u := t.Unix()
	s := u / TOTPPeriod
	if u < 0 && u%TOTPPeriod != 0 {
		s-- // floor, not truncation, before 1970
	}
	return s
}

// VerifyTOTP checks code against secret at now. It accepts a code for the
// steps now-1, now and now+1, and only if that step is strictly greater than
// lastStep, the step the caller stored at the operator's last successful
// TOTP login (RFC 6238 §5.2; use 0 before the first). On success it returns
// the matched step, which the caller must store as the new lastStep in the
// same transaction that completes the login (compare-and-set, so two racing
// requests cannot both use one code).
//
// The code may contain spaces (they are removed); it must then be exactly 6
// ASCII digits. All three candidate codes are computed and compared in
// constant time. Errors: ErrTOTPInvalid, ErrTOTPReplayed, ErrTOTPSecret.
func VerifyTOTP(secret, code string, lastStep int64, now time.Time) (step int64, err error) {
	if err := checkTOTPSecret(secret); err != nil {
		return 0, err
	}
	code, ok := normalizeTOTPCode(code)
	if !ok {
		return 0, ErrTOTPInvalid
	}
	cur := TOTPStep(now)
	var fresh int64 = -1 // highest matching step > lastStep
	replayed := false
	for s := cur - TOTPSkew; s <= cur+TOTPSkew; s++ {
		if s < 0 || s > math.MaxInt64/TOTPPeriod {
			// No step before the epoch, so no unsigned underflow in the
			// library (pquerna/otp#97), and no overflow of s*TOTPPeriod.
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*TOTPPeriod, 0), totpOpts)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrTOTPSecret, err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			if s > lastStep {
				fresh = s
			} else {
				replayed = true
			}
		}
	}
	switch {
	case fresh >= 0:
		return fresh, nil
	case replayed:
		return 0, ErrTOTPReplayed
	default:
		return 0, ErrTOTPInvalid
	}
}

func checkTOTPSecret(secret string) error {
	s := strings.TrimRight(strings.ToUpper(strings.TrimSpace(secret)), "=")
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return fmt.Errorf("%w: not base32", ErrTOTPSecret)
	}
	if len(b) < minTOTPSecretSize {
		return fmt.Errorf("%w: shorter than %d bits", ErrTOTPSecret, 8*minTOTPSecretSize)
	}
	return nil
}

// normalizeTOTPCode removes white space (users type "123 456" and paste
// tabs or no-break spaces) and reports whether 6 ASCII digits remain.
func normalizeTOTPCode(code string) (string, bool) {
	if len(code) > 64 {
		return "", false
	}
	code = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, code)
	if len(code) != TOTPDigits {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}
