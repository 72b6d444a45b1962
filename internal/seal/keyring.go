// SPDX-License-Identifier: AGPL-3.0-or-later

package seal

import (
	"cmp"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// Keyring is the root keyring (L1). It holds, and nothing else for now:
//
//   - the root key-encryption keys, versioned; the highest version is current
//     and wraps compartment private halves ([Keyring.WrapPrivate]); older
//     versions only unwrap, until [Keyring.Retire] drops them;
//   - the index master keys, versioned like the root keys, from which
//     [IndexKeys] are derived per domain with HKDF;
//   - the password pepper.
//
// The index master keys and the pepper are stored random keys, not
// derived from a root key, because they must outlive root rotation: a blind
// index or a password hash made under them stays valid when the root key
// changes. They rotate on their own schedule (index keys with a dual index
// during migration, SECURITY.md §2.4).
//
// Later keys (audit HMAC key, audit signing seed, TOTP-seed wrapping key,
// session pepper, provider secrets) go in the same serialized payload as new
// record tags (see keyringPayload); an old binary refuses a keyring with tags
// it does not know rather than dropping keys when it re-seals.
//
// A Keyring is safe for concurrent use. After [Keyring.Zero] every method
// that needs a key returns [ErrZeroed].
type Keyring struct {
	mu     sync.RWMutex
	roots  []versionedKey // ascending versions; last is current
	index  []versionedKey // ascending versions; last is current
	pepper Key
	// files authenticates the key files beside the keyring (the
	// compartments file): a MAC under it proves a file was written by a
	// holder of the unsealed keyring. Zero in a keyring made before it
	// existed, until [Keyring.EnsureFileKey].
	files Key
	// audit is the seed of the audit log's checkpoint signing key
	// (Ed25519), sealed here so that checkpoints are signed only unsealed.
	audit []byte
	// pins are the SHA-256 fingerprints of every compartment epoch's public
	// key this keyring has accepted.
	pins   map[EpochPin][32]byte
	zeroed bool
}

// EpochPin names one compartment epoch pinned in the keyring.
type EpochPin struct {
	Compartment Compartment
	Epoch       uint32
}

// versionedKey is one version of a root KEK or an index master key.
type versionedKey struct {
	Version uint32
	Key     Key
}

// ErrZeroed is returned by every Keyring method that needs a key after
// [Keyring.Zero].
var ErrZeroed = errors.New("seal: keyring has been wiped (server sealed)")

// ErrUnknownVersion is returned for a root or index key version the keyring
// does not hold (never created, or retired).
var ErrUnknownVersion = errors.New("seal: key version not in keyring (retired or never created)")

// NewKeyring returns a keyring with root key version 1, index master key
// version 1 and a pepper, all fresh from crypto/rand.
func NewKeyring() *Keyring {
	return &Keyring{
		roots:  []versionedKey{{Version: 1, Key: NewKey()}},
		index:  []versionedKey{{Version: 1, Key: NewKey()}},
		pepper: NewKey(),
		files:  NewKey(),
	}
}

// HasFileKey reports whether the keyring holds its file key (keyrings made
// before it existed do not, until EnsureFileKey).
func (k *Keyring) HasFileKey() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return !k.zeroed && !k.files.IsZero()
}

// EnsureFileKey adds a file key if there is none and reports whether it did
// (the caller then re-seals the keyring).
func (k *Keyring) EnsureFileKey() (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.zeroed {
		return false, ErrZeroed
	}
	if !k.files.IsZero() {
		return false, nil
	}
	k.files = NewKey()
	return true, nil
}

const fileMACLabel = "lifeline key file mac v1\x00"

// FileMAC returns HMAC-SHA256 under the file key of label and data.
func (k *Keyring) FileMAC(label string, data []byte) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.zeroed {
		return nil, ErrZeroed
	}
	if k.files.IsZero() {
		return nil, errors.New("seal: keyring has no file key")
	}
	return fileMAC(&k.files, label, data), nil
}

// VerifyFileMAC checks a FileMAC in constant time.
func (k *Keyring) VerifyFileMAC(label string, data, mac []byte) bool {
	want, err := k.FileMAC(label, data)
	return err == nil && hmac.Equal(want, mac)
}

func fileMAC(key *Key, label string, data []byte) []byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(fileMACLabel))
	m.Write(appendLP(nil, label))
	m.Write(data)
	return m.Sum(nil)
}

// Pin records the fingerprint of an epoch's public key; pinning an epoch
// again with another key fails.
func (k *Keyring) Pin(c Compartment, epoch uint32, pub []byte) error {
	if err := c.Validate(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.zeroed {
		return ErrZeroed
	}
	fp := sha256.Sum256(pub)
	p := EpochPin{c, epoch}
	if old, ok := k.pins[p]; ok {
		if old != fp {
			return fmt.Errorf("seal: %s epoch %d is pinned to another public key", c, epoch)
		}
		return nil
	}
	if k.pins == nil {
		k.pins = map[EpochPin][32]byte{}
	}
	k.pins[p] = fp
	return nil
}

// Pinned reports whether pub is the pinned public key of the epoch, and
// whether the epoch is pinned at all.
func (k *Keyring) Pinned(c Compartment, epoch uint32, pub []byte) (match, pinned bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	fp, ok := k.pins[EpochPin{c, epoch}]
	if !ok {
		return false, false
	}
	got := sha256.Sum256(pub)
	return hmac.Equal(fp[:], got[:]), true
}

// PinCount is how many epochs are pinned.
func (k *Keyring) PinCount() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.pins)
}

// AuditSeed returns a copy of the audit signing seed, or nil if the keyring
// holds none yet.
func (k *Keyring) AuditSeed() ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.zeroed {
		return nil, ErrZeroed
	}
	return slices.Clone(k.audit), nil
}

// SetAuditSeed stores the audit signing seed (1 to 255 bytes).
func (k *Keyring) SetAuditSeed(seed []byte) error {
	if len(seed) == 0 || len(seed) > 255 {
		return errors.New("seal: audit seed must be 1 to 255 bytes")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.zeroed {
		return ErrZeroed
	}
	clear(k.audit)
	k.audit = slices.Clone(seed)
	return nil
}

func versions(ks []versionedKey) []uint32 {
	vs := make([]uint32, len(ks))
	for i, k := range ks {
		vs[i] = k.Version
	}
	return vs
}

func find(ks []versionedKey, v uint32) int {
	for i := range ks {
		if ks[i].Version == v {
			return i
		}
	}
	return -1
}

// RootVersions returns the root key versions held, ascending; the last is
// current. It is empty after Zero.
func (k *Keyring) RootVersions() []uint32 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return versions(k.roots)
}

// CurrentRootVersion returns the version WrapPrivate uses, or 0 after Zero.
func (k *Keyring) CurrentRootVersion() uint32 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if len(k.roots) == 0 {
		return 0
	}
	return k.roots[len(k.roots)-1].Version
}

// Rotate adds a fresh root key as the new current version and returns its
// number. Compartment private halves wrapped under older versions still
// unwrap until [Keyring.Retire]; the caller rewraps them all (unwrap, then
// WrapPrivate), re-seals the keyring, and only then retires the old version.
func (k *Keyring) Rotate() (uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.zeroed {
		return 0, ErrZeroed
	}
	return rotate(&k.roots)
}

func rotate(ks *[]versionedKey) (uint32, error) {
	last := (*ks)[len(*ks)-1].Version
	if last == ^uint32(0) {
		return 0, errors.New("seal: key version space exhausted")
	}
	*ks = append(*ks, versionedKey{Version: last + 1, Key: NewKey()})
	return last + 1, nil
}

// Retire wipes and drops an old root key version. It refuses the current
// version and unknown versions.
func (k *Keyring) Retire(version uint32) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.zeroed {
		return ErrZeroed
	}
	return retire(&k.roots, version, "root")
}

func retire(ks *[]versionedKey, version uint32, what string) error {
	i := find(*ks, version)
	switch {
	case i < 0:
		return fmt.Errorf("seal: retire %s key version %d: %w", what, version, ErrUnknownVersion)
	case i == len(*ks)-1:
		return fmt.Errorf("seal: retire %s key version %d: it is the current version", what, version)
	}
	(*ks)[i].Key.Zero()
	*ks = slices.Delete(*ks, i, i+1)
	return nil
}

// Wrapped compartment private half layout ([Keyring.WrapPrivate]):
//
//	offset  size  content
//	0       1     format version (1)
//	1       1     algorithm id (1 = XChaCha20-Poly1305)
//	2       24    random nonce
//	26      48    sealed box of the 32-byte X25519 private key
//
// The associated data is privAADLabel, the two header bytes, the
// length-prefixed compartment, the epoch, the root key version and the
// length-prefixed public key: a wrapped half cannot be moved to another
// compartment, epoch, root version or public key.
const (
	privFormatV1 = 1
	privAADLabel = "lifeline compartment wrap v1\x00"
	// WrappedPrivateSize is the length of every WrapPrivate result.
	WrappedPrivateSize = 2 + chacha20poly1305.NonceSizeX + KeySize + chacha20poly1305.Overhead
)

func privAAD(c Compartment, epoch, rootVersion uint32, pub []byte) []byte {
	b := make([]byte, 0, len(privAADLabel)+2+4+len(c)+8+4+len(pub))
	b = append(b, privAADLabel...)
	b = append(b, privFormatV1, AlgXChaCha20Poly1305)
	b = appendLP(b, string(c))
	b = binary.BigEndian.AppendUint32(b, epoch)
	b = binary.BigEndian.AppendUint32(b, rootVersion)
	return appendLP(b, string(pub))
}

// WrapPrivate encrypts ck's private half under the current root key and
// returns it with the root version used; store both beside the compartment,
// epoch and public key. ck must hold a private half matching its public half.
func (k *Keyring) WrapPrivate(ck CompartmentKey) (wrapped []byte, rootVersion uint32, err error) {
	if err := ck.Compartment.Validate(); err != nil {
		return nil, 0, err
	}
	if ck.Private == nil {
		return nil, 0, ErrNoPrivateKey
	}
	if ck.Private.Curve() != ecdh.X25519() || ck.Public == nil || !ck.Private.PublicKey().Equal(ck.Public) {
		return nil, 0, errors.New("seal: wrap private: private half does not match the X25519 public half")
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.zeroed {
		return nil, 0, ErrZeroed
	}
	root := &k.roots[len(k.roots)-1]
	aead, err := chacha20poly1305.NewX(root.Key[:])
	if err != nil {
		return nil, 0, fmt.Errorf("seal: wrap private: %w", err)
	}
	priv := ck.Private.Bytes()
	defer clear(priv)
	out := make([]byte, 2+chacha20poly1305.NonceSizeX, WrappedPrivateSize)
	out[0], out[1] = privFormatV1, AlgXChaCha20Poly1305
	rand.Read(out[2:])
	out = aead.Seal(out, out[2:], priv, privAAD(ck.Compartment, ck.Epoch, root.Version, ck.Public.Bytes()))
	return out, root.Version, nil
}

// UnwrapPrivate opens a private half made by [Keyring.WrapPrivate] and
// returns the whole key pair. compartment, epoch, rootVersion and pub must
// be those stored with it. It returns [ErrUnknownVersion] if rootVersion was
// retired, [ErrDecrypt] if anything else does not match.
func (k *Keyring) UnwrapPrivate(c Compartment, epoch, rootVersion uint32, pub, wrapped []byte) (CompartmentKey, error) {
	if err := c.Validate(); err != nil {
		return CompartmentKey{}, err
	}
	if len(wrapped) != WrappedPrivateSize || wrapped[0] != privFormatV1 || wrapped[1] != AlgXChaCha20Poly1305 {
		return CompartmentKey{}, ErrDecrypt
	}
	public, err := ParsePublicKey(pub)
	if err != nil {
		return CompartmentKey{}, ErrDecrypt
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.zeroed {
		return CompartmentKey{}, ErrZeroed
	}
	i := find(k.roots, rootVersion)
	if i < 0 {
		return CompartmentKey{}, fmt.Errorf("seal: unwrap private with root version %d: %w", rootVersion, ErrUnknownVersion)
	}
	aead, err := chacha20poly1305.NewX(k.roots[i].Key[:])
	if err != nil {
		return CompartmentKey{}, ErrDecrypt
	}
	nonce := wrapped[2 : 2+chacha20poly1305.NonceSizeX]
	pt, err := aead.Open(nil, nonce, wrapped[2+chacha20poly1305.NonceSizeX:], privAAD(c, epoch, rootVersion, pub))
	if err != nil {
		return CompartmentKey{}, ErrDecrypt
	}
	defer clear(pt)
	priv, err := ecdh.X25519().NewPrivateKey(pt)
	if err != nil || !priv.PublicKey().Equal(public) {
		return CompartmentKey{}, ErrDecrypt
	}
	return CompartmentKey{Compartment: c, Epoch: epoch, Public: public, Private: priv}, nil
}

// Pepper returns a copy of the password pepper (for Argon2id password hashes,
// SECURITY.md §2.6). The pepper is a stored random key, not derived, and does
// not change on root rotation. The caller should clear the copy after use.
func (k *Keyring) Pepper() ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.zeroed {
		return nil, ErrZeroed
	}
	return slices.Clone(k.pepper[:]), nil
}

// IndexKeys returns the blind-index keys of the current index version.
func (k *Keyring) IndexKeys() (*IndexKeys, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.zeroed {
		return nil, ErrZeroed
	}
	m := &k.index[len(k.index)-1]
	return deriveIndexKeys(m.Version, &m.Key), nil
}

// IndexKeysVersion returns the blind-index keys of an older index version,
// for the dual index while the store migrates to a new one.
func (k *Keyring) IndexKeysVersion(version uint32) (*IndexKeys, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.zeroed {
		return nil, ErrZeroed
	}
	i := find(k.index, version)
	if i < 0 {
		return nil, fmt.Errorf("seal: index key version %d: %w", version, ErrUnknownVersion)
	}
	return deriveIndexKeys(k.index[i].Version, &k.index[i].Key), nil
}

// IndexVersions returns the index master key versions held, ascending; the
// last is current.
func (k *Keyring) IndexVersions() []uint32 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return versions(k.index)
}

// RotateIndex adds a fresh index master key as the new current version and
// returns its number. Blind indexes must then be recomputed (dual index
// during migration) before [Keyring.RetireIndex] drops the old version.
func (k *Keyring) RotateIndex() (uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.zeroed {
		return 0, ErrZeroed
	}
	return rotate(&k.index)
}

// RetireIndex wipes and drops an old index master key version. It refuses
// the current version and unknown versions.
func (k *Keyring) RetireIndex(version uint32) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.zeroed {
		return ErrZeroed
	}
	return retire(&k.index, version, "index")
}

// Zero overwrites every key the keyring holds and makes every later call
// that needs a key fail with [ErrZeroed]. This is "seal now": it is
// irreversible for this value; open the keyring file again to unseal. Copies
// handed out earlier (IndexKeys, Pepper, unwrapped CompartmentKeys) are not
// reached; their holders must drop or Zero them. See the package doc for
// Go's limits.
func (k *Keyring) Zero() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range k.roots {
		k.roots[i].Key.Zero()
	}
	for i := range k.index {
		k.index[i].Key.Zero()
	}
	k.pepper.Zero()
	k.files.Zero()
	clear(k.audit)
	k.roots, k.index, k.audit, k.pins = nil, nil, nil, nil
	k.zeroed = true
}

// String describes the keyring's versions, never its keys.
func (k *Keyring) String() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.zeroed {
		return "seal.Keyring{wiped}"
	}
	var b strings.Builder
	b.WriteString("seal.Keyring{root versions [")
	for i, v := range versions(k.roots) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(uint64(v), 10))
	}
	b.WriteString("] index versions [")
	for i, v := range versions(k.index) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(uint64(v), 10))
	}
	b.WriteString("] keys " + Redacted + "}")
	return b.String()
}

// GoString is [Keyring.String].
func (k *Keyring) GoString() string { return k.String() }

// Format writes [Keyring.String] for every verb and flag.
func (k *Keyring) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue implements slog.LogValuer with [Keyring.String].
func (k *Keyring) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText always fails: use [Keyring.Seal].
func (k *Keyring) MarshalText() ([]byte, error) { return nil, errMarshalKey }

// MarshalJSON always fails: use [Keyring.Seal].
func (k *Keyring) MarshalJSON() ([]byte, error) { return nil, errMarshalKey }

// GobEncode always fails: use [Keyring.Seal].
func (k *Keyring) GobEncode() ([]byte, error) { return nil, errMarshalKey }

// Keyring payload (the plaintext sealed inside the keyring file):
//
//	1 byte payload version (1), then records of
//	1 byte tag | 2 bytes big-endian length | value
//
//	tag 1  root key      4-byte version | 32-byte key   (one or more, ascending)
//	tag 2  index master  4-byte version | 32-byte key   (one or more, ascending)
//	tag 3  pepper        32-byte key                    (exactly one)
//	tag 5  audit seed    the audit signing key's seed   (at most one)
//	tag 8  file key      32-byte key                    (at most one)
//	tag 9  epoch pin     2-byte compartment length | compartment | 4-byte epoch | 32-byte SHA-256
//
// Reserved for later keys: 4 audit HMAC key, 6 TOTP seed wrapping key, 7
// session pepper, 16 and up provider secrets. Unknown tags are an error.
const (
	payloadV1 = 1

	tagRoot   = 1
	tagIndex  = 2
	tagPepper = 3
	tagAudit  = 5
	tagFiles  = 8
	tagPin    = 9
)

func (k *Keyring) marshalPayload() ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.zeroed {
		return nil, ErrZeroed
	}
	// Sized for everything up front: a grown slice would leave a copy of
	// the keys behind in its old backing array, which nothing clears.
	size := 1 + (len(k.roots)+len(k.index))*(3+4+KeySize) + 2*(3+KeySize) + 3 + len(k.audit)
	for p := range k.pins {
		size += 3 + 2 + len(p.Compartment) + 4 + 32
	}
	b := make([]byte, 0, size)
	b = append(b, payloadV1)
	for _, set := range [...]struct {
		tag byte
		ks  []versionedKey
	}{{tagRoot, k.roots}, {tagIndex, k.index}} {
		for i := range set.ks {
			b = append(b, set.tag, 0, 4+KeySize)
			b = binary.BigEndian.AppendUint32(b, set.ks[i].Version)
			b = append(b, set.ks[i].Key[:]...)
		}
	}
	b = append(b, tagPepper, 0, KeySize)
	b = append(b, k.pepper[:]...)
	if len(k.audit) > 0 {
		b = append(b, tagAudit, 0, byte(len(k.audit)))
		b = append(b, k.audit...)
	}
	if !k.files.IsZero() {
		b = append(b, tagFiles, 0, KeySize)
		b = append(b, k.files[:]...)
	}
	pins := slices.SortedFunc(maps.Keys(k.pins), func(a, b EpochPin) int {
		if c := strings.Compare(string(a.Compartment), string(b.Compartment)); c != 0 {
			return c
		}
		return cmp.Compare(a.Epoch, b.Epoch)
	})
	for _, p := range pins {
		fp := k.pins[p]
		v := binary.BigEndian.AppendUint16(nil, uint16(len(p.Compartment)))
		v = append(v, p.Compartment...)
		v = binary.BigEndian.AppendUint32(v, p.Epoch)
		v = append(v, fp[:]...)
		b = append(b, tagPin)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	return b, nil
}

var errPayload = errors.New("seal: keyring payload is malformed")

func unmarshalPayload(b []byte) (*Keyring, error) {
	if len(b) < 1 || b[0] != payloadV1 {
		return nil, errPayload
	}
	k := &Keyring{}
	fail := func() (*Keyring, error) { k.Zero(); return nil, errPayload }
	havePepper := false
	for rest := b[1:]; len(rest) > 0; {
		if len(rest) < 3 {
			return fail()
		}
		tag, n := rest[0], int(binary.BigEndian.Uint16(rest[1:3]))
		if len(rest) < 3+n {
			return fail()
		}
		v := rest[3 : 3+n]
		rest = rest[3+n:]
		switch tag {
		case tagRoot, tagIndex:
			if n != 4+KeySize {
				return fail()
			}
			ks := &k.roots
			if tag == tagIndex {
				ks = &k.index
			}
			ver := binary.BigEndian.Uint32(v)
			if ver == 0 || (len(*ks) > 0 && ver <= (*ks)[len(*ks)-1].Version) {
				return fail()
			}
			*ks = append(*ks, versionedKey{Version: ver, Key: Key(v[4:])})
		case tagPepper:
			if n != KeySize || havePepper {
				return fail()
			}
			k.pepper, havePepper = Key(v), true
		case tagAudit:
			if n == 0 || k.audit != nil {
				return fail()
			}
			k.audit = slices.Clone(v)
		case tagFiles:
			if n != KeySize || !k.files.IsZero() {
				return fail()
			}
			k.files = Key(v)
		case tagPin:
			if n < 2 {
				return fail()
			}
			cl := int(binary.BigEndian.Uint16(v))
			if n != 2+cl+4+32 {
				return fail()
			}
			c := Compartment(v[2 : 2+cl])
			p := EpochPin{c, binary.BigEndian.Uint32(v[2+cl:])}
			if _, dup := k.pins[p]; dup || c.Validate() != nil {
				return fail()
			}
			if k.pins == nil {
				k.pins = map[EpochPin][32]byte{}
			}
			k.pins[p] = [32]byte(v[2+cl+4:])
		default:
			return fail()
		}
	}
	if len(k.roots) == 0 || len(k.index) == 0 || !havePepper {
		return fail()
	}
	return k, nil
}
