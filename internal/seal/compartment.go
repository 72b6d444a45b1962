// SPDX-License-Identifier: AGPL-3.0-or-later

package seal

import (
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Compartment names a need-to-know class of case data (SECURITY.md §2.5).
// Each compartment has its own X25519 key pair per epoch.
type Compartment string

// The five compartments. Intake holds the public halves of all of them.
const (
	CompartmentRouting      Compartment = "routing"      // contact handles: phone, chat ids
	CompartmentConversation Compartment = "conversation" // message text, transcripts, notes, media
	CompartmentIdentity     Compartment = "identity"     // true name, unit, rank, location, family
	CompartmentIntel        Compartment = "intel"        // assessments, meeting logistics
	CompartmentFinance      Compartment = "finance"      // claims, payout details
)

// Compartments returns every compartment, in a fixed order.
func Compartments() []Compartment {
	return []Compartment{CompartmentRouting, CompartmentConversation, CompartmentIdentity, CompartmentIntel, CompartmentFinance}
}

// Validate returns an error unless c is one of the five compartments.
func (c Compartment) Validate() error {
	switch c {
	case CompartmentRouting, CompartmentConversation, CompartmentIdentity, CompartmentIntel, CompartmentFinance:
		return nil
	}
	return fmt.Errorf("seal: unknown compartment %q", string(c))
}

// CompartmentKey is the X25519 key pair of one compartment in one epoch (L2).
// The public half is not secret and is always available, so intake can wrap
// data keys while the server is sealed. Private is nil on the intake side and
// whenever only the public half was loaded; it exists only in memory after an
// unseal ([Keyring.UnwrapPrivate]). A CompartmentKey prints without its
// private half.
type CompartmentKey struct {
	Compartment Compartment
	Epoch       uint32
	Public      *ecdh.PublicKey
	Private     *ecdh.PrivateKey // nil on the intake side
}

// NewCompartmentKey generates a fresh X25519 key pair for the compartment and
// epoch. Store Public in the clear and Private only through
// [Keyring.WrapPrivate].
func NewCompartmentKey(c Compartment, epoch uint32) (CompartmentKey, error) {
	if err := c.Validate(); err != nil {
		return CompartmentKey{}, err
	}
	priv, err := ecdh.X25519().GenerateKey(nil)
	if err != nil {
		return CompartmentKey{}, fmt.Errorf("seal: generate compartment key: %w", err)
	}
	return CompartmentKey{Compartment: c, Epoch: epoch, Public: priv.PublicKey(), Private: priv}, nil
}

// ParsePublicKey parses the 32 bytes of an X25519 public key, as stored from
// CompartmentKey.Public.Bytes().
func ParsePublicKey(b []byte) (*ecdh.PublicKey, error) {
	pub, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		return nil, errors.New("seal: not an X25519 public key")
	}
	return pub, nil
}

// PublicOnly returns a copy without the private half, as intake holds it.
func (ck CompartmentKey) PublicOnly() CompartmentKey {
	ck.Private = nil
	return ck
}

// Fingerprint returns the first 8 bytes of SHA-256 of the public key in hex,
// or "none", for logs and operator screens.
func (ck CompartmentKey) Fingerprint() string {
	if ck.Public == nil {
		return "none"
	}
	sum := sha256.Sum256(ck.Public.Bytes())
	return hex.EncodeToString(sum[:8])
}

// String describes the key without its private half.
func (ck CompartmentKey) String() string {
	priv := "absent"
	if ck.Private != nil {
		priv = Redacted
	}
	return "seal.CompartmentKey{" + string(ck.Compartment) + " epoch " + strconv.FormatUint(uint64(ck.Epoch), 10) +
		" public " + ck.Fingerprint() + " private " + priv + "}"
}

// GoString is [CompartmentKey.String].
func (ck CompartmentKey) GoString() string { return ck.String() }

// Format writes [CompartmentKey.String] for every verb and flag.
func (ck CompartmentKey) Format(f fmt.State, _ rune) { io.WriteString(f, ck.String()) }

// LogValue implements slog.LogValuer without the private half.
func (ck CompartmentKey) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("compartment", string(ck.Compartment)),
		slog.Uint64("epoch", uint64(ck.Epoch)),
		slog.String("public", ck.Fingerprint()),
		slog.Bool("private", ck.Private != nil),
	)
}

// MarshalText always fails: private halves are written only wrapped.
func (CompartmentKey) MarshalText() ([]byte, error) { return nil, errMarshalKey }

// MarshalJSON always fails: private halves are written only wrapped.
func (CompartmentKey) MarshalJSON() ([]byte, error) { return nil, errMarshalKey }

// GobEncode always fails: private halves are written only wrapped.
func (CompartmentKey) GobEncode() ([]byte, error) { return nil, errMarshalKey }

// Wrapped data key layout (all produced by [WrapDataKey]):
//
//	offset  size  content
//	0       1     format version (1)
//	1       1     suite (1 = HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305)
//	2       32    HPKE encapsulated key
//	34      48    HPKE ciphertext of the 32-byte data key
//
// The HPKE info binds the suite, compartment, epoch, key id and owner, so a
// wrapped key opens only for the compartment, epoch, key id and owner it was
// made for.
const (
	wrapFormatV1 = 1
	// SuiteHPKEX25519ChaCha is the suite id of wrapped data keys, format 1.
	SuiteHPKEX25519ChaCha = 1

	wrapEncSize = 32
	// WrappedKeySize is the length of every [WrapDataKey] result.
	WrappedKeySize = 2 + wrapEncSize + KeySize + 16

	wrapInfoLabel = "lifeline dek wrap v1\x00"

	// maxOwner bounds the owner string ("case:<id>", "contact:<id>").
	maxOwner = 255
)

var (
	hpkeKDF  = hpke.HKDFSHA256()
	hpkeAEAD = hpke.ChaCha20Poly1305()
)

func wrapInfo(c Compartment, epoch uint32, owner string, id KeyID) []byte {
	b := make([]byte, 0, len(wrapInfoLabel)+2+4+len(c)+4+len(id)+4+len(owner))
	b = append(b, wrapInfoLabel...)
	b = append(b, wrapFormatV1, SuiteHPKEX25519ChaCha)
	b = appendLP(b, string(c))
	b = binary.BigEndian.AppendUint32(b, epoch)
	b = append(b, id[:]...)
	return appendLP(b, owner)
}

func validateOwner(owner string) error {
	if owner == "" || len(owner) > maxOwner {
		return fmt.Errorf("seal: owner must be 1 to %d bytes", maxOwner)
	}
	return nil
}

// WrapDataKey seals a data key to a compartment's public key for one epoch
// and owner (for example "case:<id>" or "contact:<id>"), with HPKE base mode
// (RFC 9180). It needs no secret, so intake can call it while the server is
// sealed. The result is [WrappedKeySize] bytes; store it with the
// compartment, epoch, owner and key id it was made for, all of which
// [UnwrapDataKey] needs.
func WrapDataKey(pub *ecdh.PublicKey, c Compartment, epoch uint32, owner string, dk DataKey) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := validateOwner(owner); err != nil {
		return nil, err
	}
	if pub == nil || pub.Curve() != ecdh.X25519() {
		return nil, errors.New("seal: wrap data key: need an X25519 public key")
	}
	if dk.ID.IsZero() || dk.Key.IsZero() {
		return nil, errors.New("seal: wrap data key: data key or key id is unset")
	}
	pk, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("seal: wrap data key: %w", err)
	}
	ct, err := hpke.Seal(pk, hpkeKDF, hpkeAEAD, wrapInfo(c, epoch, owner, dk.ID), dk.Key[:])
	if err != nil {
		return nil, fmt.Errorf("seal: wrap data key: %w", err)
	}
	out := make([]byte, 0, WrappedKeySize)
	out = append(out, wrapFormatV1, SuiteHPKEX25519ChaCha)
	return append(out, ct...), nil
}

// UnwrapDataKey opens a wrapped data key with the compartment's private half.
// owner and id must be those given to [WrapDataKey], and ck's compartment and
// epoch those it was wrapped for; any mismatch, or a corrupt wrapped key,
// gives [ErrDecrypt]. A public-only ck gives [ErrNoPrivateKey].
func UnwrapDataKey(ck CompartmentKey, owner string, id KeyID, wrapped []byte) (DataKey, error) {
	if ck.Private == nil {
		return DataKey{}, ErrNoPrivateKey
	}
	if len(wrapped) != WrappedKeySize || wrapped[0] != wrapFormatV1 || wrapped[1] != SuiteHPKEX25519ChaCha {
		return DataKey{}, ErrDecrypt
	}
	if ck.Compartment.Validate() != nil || validateOwner(owner) != nil {
		return DataKey{}, ErrDecrypt
	}
	sk, err := hpke.NewDHKEMPrivateKey(ck.Private)
	if err != nil {
		return DataKey{}, ErrDecrypt
	}
	pt, err := hpke.Open(sk, hpkeKDF, hpkeAEAD, wrapInfo(ck.Compartment, ck.Epoch, owner, id), wrapped[2:])
	if err != nil || len(pt) != KeySize {
		clear(pt)
		return DataKey{}, ErrDecrypt
	}
	dk := DataKey{ID: id, Key: Key(pt)}
	clear(pt)
	return dk, nil
}

// RewrapDataKey opens a wrapped data key with from (an old epoch) and wraps it
// to the public key of epoch toEpoch of the same compartment, for the same
// owner and id. The plaintext key is wiped before it returns. It is safe to
// call from many goroutines at once; the rewrap job of an epoch rotation
// should, since each call costs about three X25519 operations.
func RewrapDataKey(from CompartmentKey, to *ecdh.PublicKey, toEpoch uint32, owner string, id KeyID, wrapped []byte) ([]byte, error) {
	dk, err := UnwrapDataKey(from, owner, id, wrapped)
	if err != nil {
		return nil, err
	}
	defer dk.Zero()
	return WrapDataKey(to, from.Compartment, toEpoch, owner, dk)
}

// ErrNoPrivateKey is returned when a private half is needed but the
// CompartmentKey holds only the public half (intake side, or sealed server).
var ErrNoPrivateKey = errors.New("seal: compartment private key not loaded (sealed or intake side)")
