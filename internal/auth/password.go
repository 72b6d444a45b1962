// SPDX-License-Identifier: AGPL-3.0-or-later

package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Pinned Argon2id parameters: RFC 9106 §4, second recommended option
// (t=3, 64 MiB, p=4, 128-bit salt, 256-bit tag). They are constants, not
// configuration, on purpose: the x/crypto/argon2 doc comment once recommended
// t=1 from an RFC draft (golang/go#57065). Change them only in code review, and
// stored hashes with other parameters are upgraded on the next login.
const (
	ArgonTime    = 3         // passes over memory
	ArgonMemory  = 64 * 1024 // KiB (64 MiB)
	ArgonThreads = 4         // lanes
	ArgonSaltLen = 16        // bytes
	ArgonKeyLen  = 32        // bytes (the PHC "hash" field)
)

// Bounds on parameters read back from a stored PHC string. A tampered or
// corrupt row outside them is refused before any memory is allocated.
const (
	maxArgonMemory  = 1 << 20 // KiB (1 GiB)
	maxArgonTime    = 10
	maxArgonThreads = 16
	minSaltLen      = 8 // PHC string format minimum
	maxSaltLen      = 64
	minKeyLen       = 16
	maxKeyLen       = 64
	maxPHCLen       = 256 // longest legal string is about 200 characters
)

// DefaultMaxInFlight is the number of pinned-cost hashes a Hasher runs at
// once when MaxInFlight is zero: 8 × 64 MiB = 512 MiB of Argon2 memory.
const DefaultMaxInFlight = 8

// MinPepperLen is the shortest pepper a Hasher accepts (256 bits).
const MinPepperLen = 32

var (
	// ErrBusy means every hashing slot stayed taken until the caller's
	// context ended. The server should answer 503 with Retry-After.
	ErrBusy = errors.New("auth: too many password hashes in flight")

	// ErrMalformedHash means a stored string is not a well-formed Argon2id
	// PHC string. The error text names the faulty field, never its content.
	ErrMalformedHash = errors.New("auth: malformed password hash")

	// ErrHashParams means a stored hash asks for parameters outside the
	// accepted bounds (m ≤ 1 GiB, t ≤ 10, p ≤ 16); the row is corrupt or
	// tampered with and is refused without running Argon2.
	ErrHashParams = errors.New("auth: password hash parameters out of bounds")

	// ErrPepper means Hasher.Pepper is set but shorter than MinPepperLen.
	ErrPepper = errors.New("auth: pepper shorter than 32 bytes")

	// ErrPasswordBytes means a password given to Hash is longer than
	// MaxPasswordBytes. Verify never returns it: it reports no match.
	ErrPasswordBytes = errors.New("auth: password longer than MaxPasswordBytes")
)

// phcB64 is the PHC string format's base64: standard alphabet, no padding.
// Strict rejects non-zero trailing bits, so every hash has one spelling.
var phcB64 = base64.RawStdEncoding.Strict()

// Params are Argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// PinnedParams returns the parameters every new hash is made with.
func PinnedParams() Params {
	return Params{Memory: ArgonMemory, Time: ArgonTime, Threads: ArgonThreads}
}

// PHC is a parsed Argon2id hash in PHC string form:
//
//	$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>
//
// with salt and hash in standard base64 without padding.
type PHC struct {
	Params
	Salt []byte
	Key  []byte // the Argon2id tag ("hash" in PHC terms)
}

// ParsePHC parses a stored Argon2id hash. It accepts only the canonical form
// that PHC.String produces (argon2id, v=19, parameters in the order m,t,p,
// decimal without leading zeros, strict base64), so that parsing and
// formatting round-trip exactly. Errors wrap ErrMalformedHash or, for
// parameters outside the bounds, ErrHashParams.
func ParsePHC(s string) (PHC, error) {
	if len(s) > maxPHCLen {
		return PHC{}, malformed("longer than %d bytes", maxPHCLen)
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" {
		return PHC{}, malformed("want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if f[1] != "argon2id" {
		return PHC{}, malformed("algorithm is not argon2id")
	}
	if f[2] != "v=19" {
		return PHC{}, malformed("version is not v=19")
	}
	p, err := parseParams(f[3])
	if err != nil {
		return PHC{}, err
	}
	// Decoded lengths are checked against the encoded lengths first, so an
	// over-long field is refused before it is decoded.
	salt, err := decodeField(f[4], "salt", minSaltLen, maxSaltLen)
	if err != nil {
		return PHC{}, err
	}
	key, err := decodeField(f[5], "hash", minKeyLen, maxKeyLen)
	if err != nil {
		return PHC{}, err
	}
	return PHC{Params: p, Salt: salt, Key: key}, nil
}

// String formats p in canonical PHC form.
func (p PHC) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		phcB64.EncodeToString(p.Salt), phcB64.EncodeToString(p.Key))
}

// NeedsRehash reports whether p differs from the pinned parameters, salt
// length or tag length. Weaker hashes must be upgraded; stronger ones are
// brought back to the pinned cost too, so that every row costs what the
// limiter and the login timing budget assume.
func (p PHC) NeedsRehash() bool {
	return p.Params != PinnedParams() || len(p.Salt) != ArgonSaltLen || len(p.Key) != ArgonKeyLen
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
}

func parseParams(s string) (Params, error) {
	kv := strings.Split(s, ",")
	if len(kv) != 3 {
		return Params{}, malformed("want parameters m=…,t=…,p=…")
	}
	var v [3]uint64
	for i, name := range [3]string{"m", "t", "p"} {
		val, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return Params{}, malformed("parameter %d is not %s=", i+1, name)
		}
		n, err := parseDecimal(val)
		if err != nil {
			return Params{}, malformed("parameter %s: %v", name, err)
		}
		v[i] = n
	}
	m, t, p := v[0], v[1], v[2]
	switch {
	case t < 1 || t > maxArgonTime:
		return Params{}, fmt.Errorf("%w: t=%d not in [1, %d]", ErrHashParams, t, maxArgonTime)
	case p < 1 || p > maxArgonThreads:
		return Params{}, fmt.Errorf("%w: p=%d not in [1, %d]", ErrHashParams, p, maxArgonThreads)
	case m < 8*p || m > maxArgonMemory: // RFC 9106 §3.1: m ≥ 8p
		return Params{}, fmt.Errorf("%w: m=%d not in [8p, %d]", ErrHashParams, m, maxArgonMemory)
	}
	return Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p)}, nil
}

// parseDecimal parses a PHC decimal: ASCII digits, no sign, no leading zero,
// at most 10 digits.
func parseDecimal(s string) (uint64, error) {
	if s == "" || len(s) > 10 {
		return 0, errors.New("want 1 to 10 digits")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a decimal number")
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

func decodeField(s, name string, minLen, maxLen int) ([]byte, error) {
	if len(s) < phcB64.EncodedLen(minLen) || len(s) > phcB64.EncodedLen(maxLen) {
		return nil, malformed("%s length out of range", name)
	}
	// encoding/base64 skips '\r' and '\n' while decoding; the PHC alphabet
	// has neither, and accepting them would give one hash many spellings.
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, malformed("%s is not unpadded standard base64", name)
		}
	}
	b, err := phcB64.DecodeString(s)
	if err != nil {
		return nil, malformed("%s is not unpadded standard base64", name)
	}
	if len(b) < minLen || len(b) > maxLen {
		return nil, malformed("%s length out of range", name)
	}
	return b, nil
}

// Hasher hashes and verifies operator passwords with Argon2id at the pinned
// parameters. The zero value is ready to use; set the fields before first
// use and do not copy a Hasher after it.
//
// At most MaxInFlight hashes run at once; a caller that cannot get a slot
// before its context ends gets ErrBusy. A stored hash that asks for more
// memory than the pinned 64 MiB takes proportionally more slots (a 1 GiB row
// takes all of them), so total Argon2 memory stays near MaxInFlight × 64 MiB
// even with tampered rows.
type Hasher struct {
	// Pepper, when set, is a secret key (at least MinPepperLen bytes, from the
	// unsealed keyring, never stored next to the hashes). The Argon2 input is
	// then HMAC-SHA256(Pepper, password) instead of the password, so a stolen
	// database alone cannot be cracked offline. Changing the pepper
	// invalidates every stored hash; nothing in the PHC string records it.
	Pepper []byte

	// MaxInFlight is the number of concurrent pinned-cost hashes; zero means
	// DefaultMaxInFlight.
	MaxInFlight int

	// Params, if not zero, replaces PinnedParams for new hashes and the
	// dummy verification. Only tests set it, to run thousands of logins in
	// seconds; a server never does.
	Params Params

	once  sync.Once
	dummy string        // what DummyVerify verifies against: dummyHash at the pinned cost
	slots chan struct{} // one token per 64 MiB hash in flight
	wide  chan struct{} // serialises multi-slot acquisitions (no deadlock)
}

// MaxPasswordRunes is the longest password CheckPassword allows.
const MaxPasswordRunes = 256

// MaxPasswordBytes is the longest password Hash and Verify process: four
// bytes per rune at MaxPasswordRunes.
const MaxPasswordBytes = 4 * MaxPasswordRunes

// Hash is HashContext with context.Background(): it waits as long as it takes
// for a free slot. Request handlers should use HashContext.
func (h *Hasher) Hash(password string) (string, error) {
	return h.HashContext(context.Background(), password)
}

// HashContext hashes password with a fresh 16-byte salt and the pinned
// parameters and returns the PHC string to store. It does not apply the
// password policy; call CheckPassword first for user-chosen passwords.
// Errors: ErrBusy, ErrPepper, ErrPasswordBytes.
func (h *Hasher) HashContext(ctx context.Context, password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordBytes
	}
	in, err := h.input(password)
	if err != nil {
		return "", err
	}
	salt := make([]byte, ArgonSaltLen)
	rand.Read(salt) // never fails (crypto/rand, Go ≥ 1.24)
	p := h.params()
	release, err := h.acquire(ctx, p.Memory)
	if err != nil {
		return "", err
	}
	key := argon2.IDKey(in, salt, p.Time, p.Memory, p.Threads, ArgonKeyLen)
	release()
	return PHC{Params: p, Salt: salt, Key: key}.String(), nil
}

// params returns the parameters of new hashes.
func (h *Hasher) params() Params {
	if h.Params == (Params{}) {
		return PinnedParams()
	}
	return h.Params
}

// Verify is VerifyContext with context.Background().
func (h *Hasher) Verify(encoded, password string) (ok, needsRehash bool, err error) {
	return h.VerifyContext(context.Background(), encoded, password)
}

// VerifyContext reports whether password matches the stored PHC string,
// comparing tags in constant time. needsRehash is true only when ok is true
// and the stored parameters differ from the pinned ones (see
// PHC.NeedsRehash): the caller should then Hash the password again and store
// the result. A password longer than MaxPasswordBytes never matches.
// Errors wrap ErrMalformedHash, ErrHashParams, ErrBusy or ErrPepper; with an
// error, ok is false.
func (h *Hasher) VerifyContext(ctx context.Context, encoded, password string) (ok, needsRehash bool, err error) {
	phc, err := ParsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if len(password) > MaxPasswordBytes {
		return false, false, nil // cannot be anyone's password; same for DummyVerify
	}
	in, err := h.input(password)
	if err != nil {
		return false, false, err
	}
	release, err := h.acquire(ctx, phc.Memory)
	if err != nil {
		return false, false, err
	}
	key := argon2.IDKey(in, phc.Salt, phc.Time, phc.Memory, phc.Threads, uint32(len(phc.Key)))
	release()
	if subtle.ConstantTimeCompare(key, phc.Key) != 1 {
		return false, false, nil
	}
	return true, phc.NeedsRehash(), nil
}

// dummyHash has the pinned parameters and a salt and tag no password is
// known to produce; DummyVerify runs the real verification path against it.
const dummyHash = "$argon2id$v=19$m=65536,t=3,p=4$W+HMiE78+Vv2PIQ9PzSo2A$7wT+G0yyAq8A0AWN0PssNVy9HMPUAXk3zcgTPy2Hezc"

// DummyVerify is DummyVerifyContext with context.Background().
func (h *Hasher) DummyVerify(password string) error {
	return h.DummyVerifyContext(context.Background(), password)
}

// DummyVerifyContext does the work of a verification at the pinned cost
// (pepper HMAC, limiter slot, Argon2id, constant-time compare) and throws
// the result away. Call it when the login name is unknown, so that unknown
// and known users get the same timing and the same ErrBusy behaviour
// (ASVS 6.3.8). It returns only ErrBusy or ErrPepper.
func (h *Hasher) DummyVerifyContext(ctx context.Context, password string) error {
	h.init()
	_, _, err := h.VerifyContext(ctx, h.dummy, password)
	return err
}

// InFlight returns the number of limiter slots in use (one per pinned-cost
// hash running), for metrics.
func (h *Hasher) InFlight() int {
	h.init()
	return len(h.slots)
}

func (h *Hasher) init() {
	h.once.Do(func() {
		n := h.MaxInFlight
		if n <= 0 {
			n = DefaultMaxInFlight
		}
		h.slots = make(chan struct{}, n)
		h.wide = make(chan struct{}, 1)
		h.dummy = dummyHash
		if p := h.params(); p != PinnedParams() {
			salt, key := make([]byte, ArgonSaltLen), make([]byte, ArgonKeyLen)
			rand.Read(salt)
			rand.Read(key)
			h.dummy = PHC{Params: p, Salt: salt, Key: key}.String()
		}
	})
}

// input returns the Argon2 input for password: the password bytes, or their
// HMAC-SHA256 under the pepper.
func (h *Hasher) input(password string) ([]byte, error) {
	if len(h.Pepper) == 0 {
		return []byte(password), nil
	}
	if len(h.Pepper) < MinPepperLen {
		return nil, ErrPepper
	}
	mac := hmac.New(sha256.New, h.Pepper)
	mac.Write([]byte(password))
	return mac.Sum(nil), nil
}

// acquire takes the slots a hash with memory KiB needs: one per started
// 64 MiB, at most all of them. It returns ErrBusy if they are not all free
// before ctx ends. A free slot is taken even if ctx has already ended.
func (h *Hasher) acquire(ctx context.Context, memory uint32) (release func(), err error) {
	h.init()
	n := int((uint64(memory) + ArgonMemory - 1) / ArgonMemory)
	n = max(1, min(n, cap(h.slots)))
	if n > 1 {
		// Only one caller at a time gathers several slots, so two of them can
		// never each hold part of what the other needs.
		if err := take(ctx, h.wide); err != nil {
			return nil, err
		}
		defer func() { <-h.wide }()
	}
	for i := range n {
		if err := take(ctx, h.slots); err != nil {
			for range i {
				<-h.slots
			}
			return nil, err
		}
	}
	return func() {
		for range n {
			<-h.slots
		}
	}, nil
}

func take(ctx context.Context, ch chan struct{}) error {
	select {
	case ch <- struct{}{}:
		return nil
	default:
	}
	select {
	case ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBusy, context.Cause(ctx))
	}
}
