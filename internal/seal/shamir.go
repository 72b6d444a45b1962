// SPDX-License-Identifier: AGPL-3.0-or-later

package seal

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/lifeline-hotline/lifeline/internal/seal/shamir"
)

// Shares of the unseal key (L0) are typed by hand by custodians, so each is
// printed as
//
//	LLS1-<n>-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXX-CCCC
//
// where n is the share number (1 to the share count, for humans; not
// secret), the X groups are the 33 bytes of a Vault Shamir share (32 bytes of
// the polynomial values and the one-byte x coordinate) in Crockford base32,
// and CCCC is a checksum: the first 4 Crockford base32 characters (20 bits)
// of SHA-256 over the share number and body. Input is forgiving: lower case,
// spaces instead of dashes, missing dashes inside the body, and the Crockford
// look-alikes O (for 0) and I, L (for 1) are accepted. A typo fails the
// checksum (all but one in a million) instead of silently producing a wrong
// key.
const (
	sharePrefix      = "LLS1"
	shareRawSize     = KeySize + shamir.ShareOverhead
	shareChecksumLen = 4
	shareGroup       = 5

	shareChecksumLabel   = "lifeline share checksum v1\x00"
	shareCommitmentLabel = "lifeline unseal share v1\x00"
)

var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

var shareBodyLen = crockford.EncodedLen(shareRawSize) // 53

var (
	// ErrShareMalformed is wrapped by Add and Combine errors for input that
	// is not shaped like a share at all.
	ErrShareMalformed = errors.New("seal: not a valid share")
	// ErrShareMistyped is returned for a share whose checksum does not match:
	// almost surely a typo.
	ErrShareMistyped = errors.New("seal: share mistyped (checksum does not match); check every character and enter it again")
	// ErrShareForeign is returned for a well-formed share whose commitment is
	// not in the keyring header.
	ErrShareForeign = errors.New("seal: this share does not belong to this keyring")
	// ErrShareDuplicate is returned for a share given twice.
	ErrShareDuplicate = errors.New("seal: this share was already given")
	// ErrNotEnoughShares is returned by Unsealer.Key before k shares were given.
	ErrNotEnoughShares = errors.New("seal: not enough shares yet")
	// ErrEnoughShares is returned by Unsealer.Add once k shares were given.
	ErrEnoughShares = errors.New("seal: enough shares already given")
)

// NewUnsealKey returns a fresh random unseal key (L0).
func NewUnsealKey() Key { return NewKey() }

func checkSplitParams(n, k int) error {
	switch {
	case k < 2:
		return fmt.Errorf("threshold %d: must be at least 2", k)
	case n < k:
		return fmt.Errorf("share count %d: must be at least the threshold %d", n, k)
	case n > maxShares:
		return fmt.Errorf("share count %d: must be at most %d", n, maxShares)
	}
	return nil
}

// Split splits the unseal key into n shares, any k of which rebuild it
// (2 <= k <= n <= 255), with Vault's Shamir implementation. It returns the
// shares formatted for humans and, in the same order, their commitments for
// [NewHeader]. Print the shares once and never store them.
func Split(unsealKey Key, n, k int) (shares []string, commitments [][32]byte, err error) {
	if err := checkSplitParams(n, k); err != nil {
		return nil, nil, fmt.Errorf("seal: split: %w", err)
	}
	if unsealKey.IsZero() {
		return nil, nil, errors.New("seal: split: unseal key is unset")
	}
	raw, err := shamir.Split(unsealKey[:], n, k)
	if err != nil {
		return nil, nil, fmt.Errorf("seal: split: %w", err)
	}
	for i, r := range raw {
		shares = append(shares, formatShare(i+1, r))
		commitments = append(commitments, commitShare(r))
		clear(r)
	}
	return shares, commitments, nil
}

func commitShare(raw []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(shareCommitmentLabel))
	h.Write(raw)
	return [32]byte(h.Sum(nil))
}

func shareChecksum(number int, body string) string {
	sum := sha256.Sum256([]byte(shareChecksumLabel + strconv.Itoa(number) + "\x00" + body))
	return crockford.EncodeToString(sum[:3])[:shareChecksumLen]
}

func formatShare(number int, raw []byte) string {
	body := crockford.EncodeToString(raw)
	var b strings.Builder
	b.WriteString(sharePrefix + "-" + strconv.Itoa(number))
	for i := 0; i < len(body); i += shareGroup {
		b.WriteByte('-')
		b.WriteString(body[i:min(i+shareGroup, len(body))])
	}
	b.WriteString("-" + shareChecksum(number, body))
	return b.String()
}

// parseShare returns the share number and the raw Vault share. Errors never
// contain share characters, only positions.
func parseShare(s string) (number int, raw []byte, err error) {
	malformed := func(why string) (int, []byte, error) {
		return 0, nil, fmt.Errorf("%w: %s", ErrShareMalformed, why)
	}
	if len(s) > 512 {
		return malformed("too long")
	}
	parts := strings.FieldsFunc(strings.ToUpper(s), func(r rune) bool {
		return r == '-' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(parts) < 3 || parts[0] != sharePrefix {
		return malformed("a share starts with " + sharePrefix + "-<number>-")
	}
	number, err = strconv.Atoi(parts[1])
	if err != nil || number < 1 || number > maxShares || strconv.Itoa(number) != parts[1] {
		return malformed("the share number after " + sharePrefix + "- must be 1 to 255")
	}
	var text strings.Builder
	for _, p := range parts[2:] {
		text.WriteString(p)
	}
	chars := []byte(text.String())
	if len(chars) != shareBodyLen+shareChecksumLen {
		return malformed(fmt.Sprintf("expected %d characters after the share number, got %d",
			shareBodyLen+shareChecksumLen, len(chars)))
	}
	for i, c := range chars {
		switch c {
		case 'O':
			chars[i] = '0'
		case 'I', 'L':
			chars[i] = '1'
		}
		if !strings.ContainsRune("0123456789ABCDEFGHJKMNPQRSTVWXYZ", rune(chars[i])) {
			return malformed(fmt.Sprintf("character %d after the share number is not a share character", i+1))
		}
	}
	body, sum := string(chars[:shareBodyLen]), string(chars[shareBodyLen:])
	if shareChecksum(number, body) != sum {
		return 0, nil, ErrShareMistyped
	}
	raw, err = crockford.DecodeString(body)
	// A non-canonical last character (unused bits set) or an x coordinate of
	// 0 cannot come from Split; treat it as a typo the checksum missed.
	if err != nil || len(raw) != shareRawSize || crockford.EncodeToString(raw) != body || raw[shareRawSize-1] == 0 {
		clear(raw)
		return 0, nil, ErrShareMistyped
	}
	return number, raw, nil
}

// Combine rebuilds the unseal key from shares without a keyring header, for
// tests and recovery tools. It cannot know the threshold: fewer than k
// distinct shares yield a wrong key (caught when the keyring fails to open),
// never the right one. Use an [Unsealer] to check shares as they are typed.
func Combine(shares []string) (Key, error) {
	if len(shares) < 2 {
		return Key{}, errors.New("seal: combine: need at least 2 shares")
	}
	raws := make([][]byte, 0, len(shares))
	defer func() {
		for _, r := range raws {
			clear(r)
		}
	}()
	seen := map[byte]bool{}
	for i, s := range shares {
		_, raw, err := parseShare(s)
		if err != nil {
			return Key{}, fmt.Errorf("seal: combine: share %d: %w", i+1, err)
		}
		raws = append(raws, raw)
		if x := raw[shareRawSize-1]; seen[x] {
			return Key{}, fmt.Errorf("seal: combine: share %d: %w", i+1, ErrShareDuplicate)
		} else {
			seen[x] = true
		}
	}
	return combine(raws)
}

func combine(raws [][]byte) (Key, error) {
	secret, err := shamir.Combine(raws)
	if err != nil || len(secret) != KeySize {
		clear(secret)
		return Key{}, errors.New("seal: combine: shares do not fit together")
	}
	k := Key(secret)
	clear(secret)
	return k, nil
}

// Unsealer collects shares typed by custodians for one keyring and checks
// each on entry against the header's commitments. It is safe for concurrent
// use (several custodians on the console page).
type Unsealer struct {
	mu     sync.Mutex
	header Header
	raws   [][]byte
	given  map[[32]byte]bool
}

// NewUnsealer returns an Unsealer for the keyring whose header is h (from
// [ParseHeader]). It fails if the keyring's unseal key was not split.
func NewUnsealer(h Header) (*Unsealer, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	if !h.Split() {
		return nil, errors.New("seal: this keyring's unseal key was not split into shares (development keyring)")
	}
	return &Unsealer{header: h, given: map[[32]byte]bool{}}, nil
}

// Add checks one share and keeps it. have is the number of shares accepted
// so far and need the threshold k; the key is ready when have == need. Add
// returns [ErrShareMalformed] (wrapped, with what is wrong) for input that is
// not a share, [ErrShareMistyped] for a typo, [ErrShareForeign] for a share
// of another keyring, [ErrShareDuplicate] for a share already given; none of
// them changes the state, and none contains share characters. Once have ==
// need, further shares are refused with [ErrEnoughShares].
func (u *Unsealer) Add(share string) (have, need int, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	have, need = len(u.raws), u.header.Threshold
	if have >= need {
		return have, need, ErrEnoughShares
	}
	_, raw, err := parseShare(share)
	if err != nil {
		return have, need, err
	}
	c := commitShare(raw)
	known := false
	for _, hc := range u.header.Commitments {
		known = known || hc == c
	}
	switch {
	case !known:
		clear(raw)
		return have, need, ErrShareForeign
	case u.given[c]:
		clear(raw)
		return have, need, ErrShareDuplicate
	}
	u.given[c] = true
	u.raws = append(u.raws, raw)
	return len(u.raws), need, nil
}

// Have returns how many shares were accepted; Need returns the threshold k.
func (u *Unsealer) Have() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.raws)
}

// Need returns the threshold k.
func (u *Unsealer) Need() int { return u.header.Threshold }

// Key combines the shares into the unseal key once k were accepted, and
// returns [ErrNotEnoughShares] before that. The shares stay until
// [Unsealer.Zero].
func (u *Unsealer) Key() (Key, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.raws) < u.header.Threshold {
		return Key{}, fmt.Errorf("%w: have %d of %d", ErrNotEnoughShares, len(u.raws), u.header.Threshold)
	}
	return combine(u.raws)
}

// Zero wipes and forgets every share given.
func (u *Unsealer) Zero() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range u.raws {
		clear(r)
	}
	u.raws = nil
	clear(u.given)
}

// String reports progress, never shares.
func (u *Unsealer) String() string {
	return fmt.Sprintf("seal.Unsealer{keyring %s: %d of %d shares}", u.header.ID, u.Have(), u.Need())
}

// GoString is [Unsealer.String].
func (u *Unsealer) GoString() string { return u.String() }

// Format writes [Unsealer.String] for every verb and flag.
func (u *Unsealer) Format(f fmt.State, _ rune) { io.WriteString(f, u.String()) }

// LogValue implements slog.LogValuer with [Unsealer.String].
func (u *Unsealer) LogValue() slog.Value { return slog.StringValue(u.String()) }
