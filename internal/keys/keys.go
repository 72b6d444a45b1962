// SPDX-License-Identifier: AGPL-3.0-or-later

// Package keys runs the server's keys: the files in a data directory's keys/
// folder, the sealed and unsealed states, data keys for the store, and the
// ceremonies that change keys (init, unseal, seal, rotation, epoch
// destruction, panic). The cryptography itself is package seal's.
//
// On disk, keys/keyring holds the root keyring encrypted under the unseal key
// (which exists only as Shamir shares held by custodians, or in a dev file),
// and keys/compartments holds each compartment's X25519 key pair per epoch:
// the public half in the clear, the private half wrapped by a root key. The
// database holds data keys wrapped to compartment public keys, never a key
// that opens one. Backups copy the database, never keys/, so destroying an
// epoch's private half here makes the data keys wrapped to it unreadable in
// every copy.
package keys

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// Files in the keys folder.
const (
	KeyringFile      = "keyring"
	CompartmentsFile = "compartments"
	// IntakeFile holds the intake key: the one key intake needs while the
	// server is sealed, to recognise duplicate webhooks and to open the
	// channels' provider secrets. It opens no personal data.
	IntakeFile = "intake"
	// LegacyAuditKeyFile is the audit checkpoint signing key as versions
	// before issue 11 kept it: in the clear, beside the keyring. The first
	// unseal moves it into the keyring and shreds the file.
	LegacyAuditKeyFile = "audit.key"
)

// Defaults of the key schedule (SECURITY.md §2.3).
const (
	DefaultEpochLength = 30 * 24 * time.Hour // compartment epochs rotate monthly
	DefaultRetention   = 35 * 24 * time.Hour // backup retention (30 d) + 5 d margin
)

// ErrSealed is returned by every operation that needs a private key while
// the keys are sealed.
var ErrSealed = errors.New("keys are sealed")

// ErrNotInitialized means the data directory has no keyring: run
// `lifeline init`.
var ErrNotInitialized = errors.New("no keyring: run lifeline init")

// A WrappedKey is a data key as the store keeps it: wrapped to one epoch of
// one compartment, for one owner.
type WrappedKey struct {
	ID          seal.KeyID
	Owner       string // "case:<id>", "contact:<id>", "message:<id>"
	Compartment seal.Compartment
	Epoch       uint32
	Wrapped     []byte
}

// compartmentEntry is one compartment epoch in the compartments file.
type compartmentEntry struct {
	Compartment    seal.Compartment `json:"compartment"`
	Epoch          uint32           `json:"epoch"`
	Public         []byte           `json:"public"`
	WrappedPrivate []byte           `json:"wrapped_private,omitempty"` // empty once destroyed
	RootVersion    uint32           `json:"root_version"`
	Created        time.Time        `json:"created"`
	DestroyAfter   time.Time        `json:"destroy_after,omitzero"` // set when superseded
	Destroyed      time.Time        `json:"destroyed,omitzero"`
}

type compartmentsFile struct {
	Format  string             `json:"format"`
	Entries []compartmentEntry `json:"entries"`
	// IntakeMAC is HMAC-SHA256 of the entries under a key derived from the
	// intake key (kept outside the data directory): checked at every open,
	// sealed, so that intake never wraps data keys to a public key a writer
	// of the data directory slipped in.
	IntakeMAC []byte `json:"intake_mac,omitempty"`
	// RootMAC is the keyring's FileMAC of the entries: checked at unseal.
	RootMAC []byte `json:"root_mac,omitempty"`
}

const (
	compartmentsFormatV1 = "lifeline-compartments v1" // unauthenticated, before issue 11
	compartmentsFormat   = "lifeline-compartments v2"
	compartmentsMACLabel = "compartments"
)

// ErrKeyFile is wrapped by every refusal of a key file that does not
// authenticate: a swapped or edited compartments file.
var ErrKeyFile = errors.New("key file does not authenticate")

type epochKey struct {
	c     seal.Compartment
	epoch uint32
}

// Keeper holds the keys of one data directory. It starts sealed: the public
// halves are there, so data keys can be made and wrapped (intake works), but
// nothing can be opened until Unseal. All methods are safe for concurrent use.
type Keeper struct {
	dir string
	now func() time.Time

	mu       sync.RWMutex
	header   seal.Header
	entries  []compartmentEntry
	current  map[seal.Compartment]compartmentEntry // the newest epoch of each
	unsealer *seal.Unsealer

	// Unsealed state; all nil or empty while sealed.
	unsealKey seal.Key
	ring      *seal.Keyring
	private   map[epochKey]seal.CompartmentKey
	index     *seal.IndexKeys

	cacheMu sync.Mutex
	cache   map[seal.KeyID]*seal.DataKey // unwrapped data keys; zeroed and emptied on Seal

	intake     seal.Key // see IntakeFile; loaded sealed or not
	intakePath string   // "" if the Keeper was opened without it
	rootMAC    []byte   // the compartments file's RootMAC as read
	legacy     bool     // the compartments file is of format v1
}

// maxCache bounds the data-key cache; past it the cache starts afresh.
const maxCache = 1 << 16

// Options tune Init.
type Options struct {
	Shares    int    // n, default 5
	Threshold int    // k, default 3
	DevFile   string // demo and development only: write the unseal key here instead of splitting it
	// IntakeKey is where the intake key is written (kept if the file
	// exists); default IntakeFile in the keys folder (demo, development).
	IntakeKey string
	// AuditKey, if set, is the audit checkpoint signing key (a signed-note
	// signer key) sealed into the new keyring.
	AuditKey []byte
}

// Init creates the keys of a new data directory: a fresh root keyring
// encrypted under a fresh unseal key, and epoch 1 of every compartment. It
// returns the unseal key's Shamir shares, to be shown once and never stored,
// or none with opts.DevFile. It refuses to overwrite existing keys.
func Init(dir string, opts Options) (shares []string, err error) {
	if opts.Shares == 0 {
		opts.Shares = 5
	}
	if opts.Threshold == 0 {
		opts.Threshold = 3
	}
	if _, err := os.Stat(filepath.Join(dir, KeyringFile)); err == nil {
		return nil, fmt.Errorf("keys already initialized in %s", dir)
	}
	unsealKey := seal.NewUnsealKey()
	defer unsealKey.Zero()
	ring := seal.NewKeyring()
	defer ring.Zero()

	var header seal.Header
	if opts.DevFile != "" {
		header, err = seal.NewHeader(0, 0, nil)
		if err != nil {
			return nil, err
		}
	} else {
		var commitments [][32]byte
		shares, commitments, err = seal.Split(unsealKey, opts.Shares, opts.Threshold)
		if err != nil {
			return nil, err
		}
		header, err = seal.NewHeader(opts.Threshold, opts.Shares, commitments)
		if err != nil {
			return nil, err
		}
	}
	now := time.Now().UTC()
	var entries []compartmentEntry
	for _, c := range seal.Compartments() {
		e, err := newEntry(ring, c, 1, now)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if opts.DevFile != "" {
		if err := writeFile(opts.DevFile, []byte(seal.EncodeUnsealKey(unsealKey)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("dev unseal file: %w", err)
		}
	}
	intakePath := opts.IntakeKey
	if intakePath == "" {
		intakePath = filepath.Join(dir, IntakeFile)
	}
	intake, err := loadIntakeKey(intakePath, true)
	if err != nil {
		return nil, err
	}
	defer intake.Zero()
	if len(opts.AuditKey) > 0 {
		if err := ring.SetAuditSeed(opts.AuditKey); err != nil {
			return nil, err
		}
	}
	for _, e := range entries {
		if err := ring.Pin(e.Compartment, e.Epoch, e.Public); err != nil {
			return nil, err
		}
	}
	// The compartments first: a keyring without them is not initialized, so
	// a crash in between can be retried.
	if err := writeCompartments(dir, entries, &intake, ring); err != nil {
		return nil, err
	}
	blob, err := ring.Seal(unsealKey, header)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, KeyringFile), blob, 0o600); err != nil {
		return nil, err
	}
	return shares, nil
}

func newEntry(ring *seal.Keyring, c seal.Compartment, epoch uint32, now time.Time) (compartmentEntry, error) {
	ck, err := seal.NewCompartmentKey(c, epoch)
	if err != nil {
		return compartmentEntry{}, err
	}
	wrapped, rv, err := ring.WrapPrivate(ck)
	if err != nil {
		return compartmentEntry{}, err
	}
	return compartmentEntry{
		Compartment: c, Epoch: epoch, Public: ck.Public.Bytes(),
		WrappedPrivate: wrapped, RootVersion: rv, Created: now,
	}, nil
}

// Open loads the keys of a data directory, sealed, with the intake key of
// the keys folder if there is one there (demo, development, and tools that
// need no intake key).
func Open(dir string) (*Keeper, error) {
	path := filepath.Join(dir, IntakeFile)
	if _, err := os.Stat(path); err != nil {
		path = ""
	}
	return OpenWithIntake(dir, path)
}

// OpenWithIntake loads the keys of a data directory, sealed, with the
// intake key of the file intakeKey (none if empty: IntakeRef then returns
// nil and SealIntake fails). With the intake key, the compartments file
// must authenticate under it.
func OpenWithIntake(dir, intakeKey string) (*Keeper, error) {
	blob, err := os.ReadFile(filepath.Join(dir, KeyringFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotInitialized
	}
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	header, err := seal.ParseHeader(blob)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	f, err := readCompartments(dir)
	if err != nil {
		return nil, err
	}
	k := &Keeper{dir: dir, now: time.Now, header: header, intakePath: intakeKey, rootMAC: f.RootMAC, legacy: f.Format == compartmentsFormatV1}
	if intakeKey != "" {
		if k.intake, err = loadIntakeKey(intakeKey, false); err != nil {
			return nil, err
		}
		if k.legacy && filepath.Dir(intakeKey) != filepath.Clean(dir) {
			// Before issue 11 the intake key lived in the keys folder; a
			// v1 file beside an intake key kept elsewhere is a downgrade.
			return nil, fmt.Errorf("compartments file: %w: it is of the unauthenticated format v1 (run lifeline keys upgrade once, the server stopped)", ErrKeyFile)
		}
		if !k.legacy && !hmac.Equal(f.IntakeMAC, compartmentsIntakeMAC(&k.intake, f.Entries)) {
			return nil, fmt.Errorf("compartments file: %w under the intake key: it was changed, or the intake key is not this data directory's", ErrKeyFile)
		}
	}
	entries := f.Entries
	if err := k.setEntries(entries); err != nil {
		return nil, err
	}
	if header.Split() {
		if k.unsealer, err = seal.NewUnsealer(header); err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
	}
	return k, nil
}

// setEntries installs the compartment entries; callers hold mu (or own k).
func (k *Keeper) setEntries(entries []compartmentEntry) error {
	current := map[seal.Compartment]compartmentEntry{}
	for _, e := range entries {
		if err := e.Compartment.Validate(); err != nil {
			return fmt.Errorf("compartments file: %w", err)
		}
		if _, err := seal.ParsePublicKey(e.Public); err != nil {
			return fmt.Errorf("compartments file: %s epoch %d: %w", e.Compartment, e.Epoch, err)
		}
		if cur, ok := current[e.Compartment]; !ok || e.Epoch > cur.Epoch {
			current[e.Compartment] = e
		}
	}
	for _, c := range seal.Compartments() {
		if _, ok := current[c]; !ok {
			return fmt.Errorf("compartments file: no key for %s", c)
		}
	}
	k.entries = entries
	k.current = current
	return nil
}

// Status is what a custodian or a probe may know of the keys.
type Status struct {
	Sealed    bool
	Have      int // shares given so far
	Need      int // shares needed
	KeyringID string
}

// Status reports the state of the keys.
func (k *Keeper) Status() Status {
	k.mu.RLock()
	defer k.mu.RUnlock()
	s := Status{Sealed: k.ring == nil, KeyringID: k.header.ID.String()}
	if k.unsealer != nil {
		s.Have, s.Need = k.unsealer.Have(), k.unsealer.Need()
	}
	return s
}

// Sealed reports whether the private keys are locked away.
func (k *Keeper) Sealed() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.ring == nil
}

// AddShare takes one custodian's share. When enough are in, it unseals and
// returns have == need. A typo, a share of another keyring or one given twice
// is refused with a message that says which.
func (k *Keeper) AddShare(share string) (have, need int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ring != nil {
		return 0, 0, errors.New("already unsealed")
	}
	if k.unsealer == nil {
		return 0, 0, errors.New("this keyring has no shares: it opens with its unseal file (development only)")
	}
	have, need, err = k.unsealer.Add(share)
	if err != nil || have < need {
		return have, need, err
	}
	key, err := k.unsealer.Key()
	k.unsealer.Zero() // shares never linger
	k.unsealer, _ = seal.NewUnsealer(k.header)
	if err != nil {
		return 0, need, err
	}
	defer key.Zero()
	if err := k.unsealLocked(key); err != nil {
		return 0, need, err
	}
	return need, need, nil
}

// UnsealWithKey unseals with the whole unseal key (the dev file's).
func (k *Keeper) UnsealWithKey(key seal.Key) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ring != nil {
		return nil
	}
	return k.unsealLocked(key)
}

// UnsealWithFile unseals with a dev unseal file written by Init.
func (k *Keeper) UnsealWithFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("unseal file: %w", err)
	}
	key, err := seal.DecodeUnsealKey(string(trimSpace(b)))
	if err != nil {
		return fmt.Errorf("unseal file %s: %w", path, err)
	}
	defer key.Zero()
	return k.UnsealWithKey(key)
}

func (k *Keeper) unsealLocked(key seal.Key) error {
	blob, err := os.ReadFile(filepath.Join(k.dir, KeyringFile))
	if err != nil {
		return fmt.Errorf("read keyring: %w", err)
	}
	ring, _, err := seal.OpenKeyring(blob, key)
	if err != nil {
		return fmt.Errorf("open keyring: %w", err)
	}
	upgrade, err := k.checkCompartmentsLocked(ring)
	if err != nil {
		ring.Zero()
		return err
	}
	private := map[epochKey]seal.CompartmentKey{}
	for _, e := range k.entries {
		if len(e.WrappedPrivate) == 0 {
			continue // destroyed
		}
		ck, err := ring.UnwrapPrivate(e.Compartment, e.Epoch, e.RootVersion, e.Public, e.WrappedPrivate)
		if err != nil {
			ring.Zero()
			return fmt.Errorf("%s epoch %d: %w", e.Compartment, e.Epoch, err)
		}
		private[epochKey{e.Compartment, e.Epoch}] = ck
	}
	index, err := ring.IndexKeys()
	if err != nil {
		ring.Zero()
		return err
	}
	for c, e := range k.current {
		if _, ok := private[epochKey{c, e.Epoch}]; !ok {
			ring.Zero()
			return fmt.Errorf("compartments file: %w: the current %s epoch %d has no private half", ErrKeyFile, c, e.Epoch)
		}
	}
	k.ring, k.private, k.index = ring, private, index
	k.unsealKey = key // a copy: the caller zeroes its own
	if upgrade {
		// A keyring from before issue 11: it gets its file key and pins
		// now, and the compartments file its MACs (trust on first unseal).
		if err := k.writeKeyringLocked(); err != nil {
			return err
		}
		if err := k.writeCompartmentsLocked(k.entries); err != nil {
			return err
		}
		k.legacy = false
	}
	if err := k.importLegacyAuditKeyLocked(); err != nil {
		k.sealLocked()
		return err
	}
	return nil
}

// importLegacyAuditKeyLocked moves a plaintext audit signing key left by a
// version before issue 11 into the keyring, and shreds the file once the
// keyring holding it is written. A keyring that holds a key already keeps
// its own; the file is shredded all the same.
func (k *Keeper) importLegacyAuditKeyLocked() error {
	path := filepath.Join(k.dir, LegacyAuditKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("legacy audit signing key: %w", err)
	}
	defer clear(b)
	have, err := k.ring.AuditSeed()
	if err != nil {
		return err
	}
	defer clear(have)
	if len(have) == 0 {
		if err := k.ring.SetAuditSeed(trimSpace(b)); err != nil {
			return fmt.Errorf("legacy audit signing key: %w", err)
		}
		if err := k.writeKeyringLocked(); err != nil {
			return err
		}
	}
	return Shred(path)
}

// ErrNoAuditKey means the keyring holds no audit signing key and none was
// made (AuditKey without a generator).
var ErrNoAuditKey = errors.New("the keyring holds no audit signing key")

// AuditKey returns a copy of the audit log's checkpoint signing key (a
// signed-note signer key) from the unsealed keyring, for the caller to
// clear after use; ErrSealed while sealed. Checkpoints are therefore signed
// only unsealed: entries made while sealed are covered by the next one. A
// keyring without a key gets one from generate (nil: ErrNoAuditKey), sealed
// into the keyring file before it is returned.
func (k *Keeper) AuditKey(generate func() ([]byte, error)) ([]byte, error) {
	k.mu.RLock()
	if k.ring == nil {
		k.mu.RUnlock()
		return nil, ErrSealed
	}
	key, err := k.ring.AuditSeed()
	k.mu.RUnlock()
	if err != nil || len(key) > 0 {
		return key, err
	}
	if generate == nil {
		return nil, ErrNoAuditKey
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ring == nil {
		return nil, ErrSealed
	}
	if key, err := k.ring.AuditSeed(); err != nil || len(key) > 0 {
		return key, err // made meanwhile
	}
	fresh, err := generate()
	if err != nil {
		return nil, err
	}
	if err := k.ring.SetAuditSeed(fresh); err != nil {
		clear(fresh)
		return nil, err
	}
	if err := k.writeKeyringLocked(); err != nil {
		clear(fresh)
		return nil, err
	}
	return fresh, nil
}

// checkCompartmentsLocked checks the compartments file against the opened
// keyring: its RootMAC and every epoch's pinned fingerprint. A keyring from
// before issue 11 (no file key) is upgraded instead: it reports true after
// adding the file key and pinning every epoch, for the caller to write.
func (k *Keeper) checkCompartmentsLocked(ring *seal.Keyring) (bool, error) {
	if !ring.HasFileKey() {
		if _, err := ring.EnsureFileKey(); err != nil {
			return false, err
		}
		for _, e := range k.entries {
			if err := ring.Pin(e.Compartment, e.Epoch, e.Public); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	b, err := json.Marshal(k.entries)
	if err != nil {
		return false, err
	}
	if k.legacy || !ring.VerifyFileMAC(compartmentsMACLabel, b, k.rootMAC) {
		return false, fmt.Errorf("compartments file: %w under the keyring: it was swapped or edited", ErrKeyFile)
	}
	for _, e := range k.entries {
		match, pinned := ring.Pinned(e.Compartment, e.Epoch, e.Public)
		if !match {
			why := "is not pinned in the keyring"
			if pinned {
				why = "does not match its pin in the keyring"
			}
			return false, fmt.Errorf("compartments file: %w: the public key of %s epoch %d %s", ErrKeyFile, e.Compartment, e.Epoch, why)
		}
	}
	return false, nil
}

// Seal drops every private key from memory at once.
func (k *Keeper) Seal() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sealLocked()
}

func (k *Keeper) sealLocked() {
	if k.ring != nil {
		k.ring.Zero()
	}
	if k.index != nil {
		k.index.Zero()
	}
	k.ring, k.private, k.index = nil, nil, nil
	k.unsealKey.Zero()
	if k.unsealer != nil {
		k.unsealer.Zero()
		k.unsealer, _ = seal.NewUnsealer(k.header)
	}
	k.dropCache()
}

// dropCache zeroes and forgets every cached data key.
func (k *Keeper) dropCache() {
	k.cacheMu.Lock()
	defer k.cacheMu.Unlock()
	for id, dk := range k.cache {
		dk.Zero() // through the pointer: the cached bytes themselves
		delete(k.cache, id)
	}
}

// NewDataKey makes a data key for owner in compartment c and wraps it to the
// compartment's current public key. It works while sealed.
func (k *Keeper) NewDataKey(owner string, c seal.Compartment) (seal.DataKey, WrappedKey, error) {
	k.mu.RLock()
	e, ok := k.current[c]
	k.mu.RUnlock()
	if !ok {
		return seal.DataKey{}, WrappedKey{}, fmt.Errorf("unknown compartment %q", c)
	}
	pub, err := ecdh.X25519().NewPublicKey(e.Public)
	if err != nil {
		return seal.DataKey{}, WrappedKey{}, err
	}
	dk := seal.NewDataKey()
	wrapped, err := seal.WrapDataKey(pub, c, e.Epoch, owner, dk)
	if err != nil {
		return seal.DataKey{}, WrappedKey{}, err
	}
	if !k.Sealed() {
		// The next write to the same owner needs this key at once: keep it
		// rather than unwrap it again. (Sealed, nothing is kept.)
		k.remember(dk)
	}
	return dk, WrappedKey{ID: dk.ID, Owner: owner, Compartment: c, Epoch: e.Epoch, Wrapped: wrapped}, nil
}

// OpenDataKey unwraps a stored data key; ErrSealed while sealed.
func (k *Keeper) OpenDataKey(w WrappedKey) (seal.DataKey, error) {
	k.cacheMu.Lock()
	dk, ok := k.cache[w.ID]
	k.cacheMu.Unlock()
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.ring == nil {
		return seal.DataKey{}, ErrSealed
	}
	if ok {
		return *dk, nil
	}
	ck, ok := k.private[epochKey{w.Compartment, w.Epoch}]
	if !ok {
		return seal.DataKey{}, fmt.Errorf("data key %s: %s epoch %d is destroyed", w.ID, w.Compartment, w.Epoch)
	}
	fresh, err := seal.UnwrapDataKey(ck, w.Owner, w.ID, w.Wrapped)
	if err != nil {
		return seal.DataKey{}, err
	}
	k.remember(fresh)
	return fresh, nil
}

func (k *Keeper) remember(dk seal.DataKey) {
	k.cacheMu.Lock()
	defer k.cacheMu.Unlock()
	if k.cache == nil || len(k.cache) >= maxCache {
		for _, old := range k.cache {
			old.Zero()
		}
		k.cache = map[seal.KeyID]*seal.DataKey{}
	}
	k.cache[dk.ID] = &dk
}

// Forget drops data keys from the cache, as their rows are shredded.
func (k *Keeper) Forget(ids ...seal.KeyID) {
	k.cacheMu.Lock()
	defer k.cacheMu.Unlock()
	for _, id := range ids {
		if dk, ok := k.cache[id]; ok {
			dk.Zero()
			delete(k.cache, id)
		}
	}
}

// IndexKeys returns the blind-index keys; ErrSealed while sealed.
func (k *Keeper) IndexKeys() (*seal.IndexKeys, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.ring == nil {
		return nil, ErrSealed
	}
	return k.index, nil
}

// CurrentEpoch is the epoch new data keys of c are wrapped to.
func (k *Keeper) CurrentEpoch(c seal.Compartment) uint32 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.current[c].Epoch
}

// Rewrap wraps a data key to its compartment's current epoch. It reports
// false, and returns w, if w is already there.
func (k *Keeper) Rewrap(w WrappedKey) (WrappedKey, bool, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.ring == nil {
		return w, false, ErrSealed
	}
	cur := k.current[w.Compartment]
	if w.Epoch == cur.Epoch {
		return w, false, nil
	}
	from, ok := k.private[epochKey{w.Compartment, w.Epoch}]
	if !ok {
		return w, false, fmt.Errorf("data key %s: %s epoch %d is destroyed", w.ID, w.Compartment, w.Epoch)
	}
	to, err := ecdh.X25519().NewPublicKey(cur.Public)
	if err != nil {
		return w, false, err
	}
	wrapped, err := seal.RewrapDataKey(from, to, cur.Epoch, w.Owner, w.ID, w.Wrapped)
	if err != nil {
		return w, false, err
	}
	w.Epoch, w.Wrapped = cur.Epoch, wrapped
	return w, true, nil
}

// RotateRoot adds a root key version, rewraps every compartment private
// half under it, and retires the old versions. The keyring file holds both
// versions until the compartments file is rewritten, so a crash at any step
// leaves keys that open.
func (k *Keeper) RotateRoot() (uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ring == nil {
		return 0, ErrSealed
	}
	old := k.ring.RootVersions()
	v, err := k.ring.Rotate()
	if err != nil {
		return 0, err
	}
	if err := k.writeKeyringLocked(); err != nil {
		return 0, err
	}
	entries := slices.Clone(k.entries)
	for i, e := range entries {
		ck, ok := k.private[epochKey{e.Compartment, e.Epoch}]
		if !ok {
			continue
		}
		wrapped, rv, err := k.ring.WrapPrivate(ck)
		if err != nil {
			return 0, err
		}
		entries[i].WrappedPrivate, entries[i].RootVersion = wrapped, rv
	}
	if err := k.writeCompartmentsLocked(entries); err != nil {
		return 0, err
	}
	k.entries = entries
	for _, ov := range old {
		if err := k.ring.Retire(ov); err != nil {
			return 0, err
		}
	}
	return v, k.writeKeyringLocked()
}

// RotateEpochs starts a new epoch in every compartment. New data keys are
// wrapped to it at once; the old epochs stay until their live data keys are
// rewrapped and retention has passed (DestroyDue).
func (k *Keeper) RotateEpochs(retention time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ring == nil {
		return ErrSealed
	}
	now := k.now().UTC()
	entries := slices.Clone(k.entries)
	var fresh []seal.CompartmentKey
	for i, e := range entries {
		if e.Epoch == k.current[e.Compartment].Epoch && e.DestroyAfter.IsZero() {
			entries[i].DestroyAfter = now.Add(retention)
		}
	}
	for _, c := range seal.Compartments() {
		e, err := newEntry(k.ring, c, k.current[c].Epoch+1, now)
		if err != nil {
			return err
		}
		if err := k.ring.Pin(e.Compartment, e.Epoch, e.Public); err != nil {
			return err
		}
		ck, err := k.ring.UnwrapPrivate(e.Compartment, e.Epoch, e.RootVersion, e.Public, e.WrappedPrivate)
		if err != nil {
			return err
		}
		fresh = append(fresh, ck)
		entries = append(entries, e)
	}
	// The pins first: a pinned epoch missing from the compartments file is
	// harmless, an unpinned one refuses the next unseal.
	if err := k.writeKeyringLocked(); err != nil {
		return err
	}
	if err := k.writeCompartmentsLocked(entries); err != nil {
		return err
	}
	if err := k.setEntries(entries); err != nil {
		return err
	}
	for _, ck := range fresh {
		k.private[epochKey{ck.Compartment, ck.Epoch}] = ck
	}
	return nil
}

// DestroyDue destroys the private half of every superseded epoch whose
// retention has passed and that no live data key is wrapped to any more
// (live reports how many are). It returns the epochs destroyed.
func (k *Keeper) DestroyDue(live func(c seal.Compartment, epoch uint32) (int64, error)) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ring == nil {
		return nil, ErrSealed
	}
	now := k.now().UTC()
	entries := slices.Clone(k.entries)
	var done []string
	for i, e := range entries {
		if len(e.WrappedPrivate) == 0 || e.DestroyAfter.IsZero() || now.Before(e.DestroyAfter) {
			continue
		}
		n, err := live(e.Compartment, e.Epoch)
		if err != nil {
			return done, err
		}
		if n > 0 {
			continue // rewrap first; never destroy a live key
		}
		entries[i].WrappedPrivate = nil
		entries[i].Destroyed = now
		done = append(done, fmt.Sprintf("%s/%d", e.Compartment, e.Epoch))
	}
	if len(done) == 0 {
		return nil, nil
	}
	if err := k.writeCompartmentsLocked(entries); err != nil {
		return nil, err
	}
	k.entries = entries
	for _, e := range entries {
		if len(e.WrappedPrivate) == 0 {
			delete(k.private, epochKey{e.Compartment, e.Epoch}) // a no-op while sealed
		}
	}
	// The cache knows data keys by id only: one opened through a destroyed
	// epoch (a shredded case read from a backup) would still open every copy
	// wrapped to it. Drop them all; live keys reopen through their rewrapped
	// rows.
	k.dropCache()
	return done, nil
}

func (k *Keeper) writeKeyringLocked() error {
	blob, err := k.ring.Seal(k.unsealKey, k.header)
	if err != nil {
		return err
	}
	return replaceFile(filepath.Join(k.dir, KeyringFile), blob, 0o600)
}

// Panic destroys the keys of a data directory for good: the keyring (and
// with it the audit signing seed), the compartment private halves and the
// intake key of the keys folder are overwritten and removed, and so is every
// file of also (the intake key kept elsewhere, a legacy audit signing key),
// after which no copy of the database, backups included, can be opened, nor
// a provider secret or sender reference in it. There is no undo.
func Panic(dir string, also ...string) error {
	var errs []error
	for _, name := range []string{KeyringFile, CompartmentsFile, IntakeFile} {
		errs = append(errs, shred(filepath.Join(dir, name)))
	}
	for _, path := range also {
		if path != "" {
			errs = append(errs, shred(path))
		}
	}
	return errors.Join(errs...)
}

func readCompartments(dir string) (compartmentsFile, error) {
	b, err := os.ReadFile(filepath.Join(dir, CompartmentsFile))
	if errors.Is(err, os.ErrNotExist) {
		return compartmentsFile{}, ErrNotInitialized
	}
	if err != nil {
		return compartmentsFile{}, fmt.Errorf("read compartments: %w", err)
	}
	var f compartmentsFile
	if err := json.Unmarshal(b, &f); err != nil || (f.Format != compartmentsFormat && f.Format != compartmentsFormatV1) {
		return compartmentsFile{}, fmt.Errorf("compartments file is damaged")
	}
	return f, nil
}

// compartmentsIntakeMAC is the IntakeMAC of entries.
func compartmentsIntakeMAC(intake *seal.Key, entries []compartmentEntry) []byte {
	b, err := json.Marshal(entries)
	if err != nil {
		return nil
	}
	m := hmac.New(sha256.New, intake[:])
	m.Write([]byte("lifeline compartments mac v1\x00"))
	m.Write(b)
	return m.Sum(nil)
}

// writeCompartments writes the compartments file with its MACs: under the
// intake key and under the keyring's file key.
func writeCompartments(dir string, entries []compartmentEntry, intake *seal.Key, ring *seal.Keyring) error {
	if intake.IsZero() {
		return errors.New("compartments file: the intake key is needed to write it (--intake-key)")
	}
	plain, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	rootMAC, err := ring.FileMAC(compartmentsMACLabel, plain)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(compartmentsFile{Format: compartmentsFormat, Entries: entries,
		IntakeMAC: compartmentsIntakeMAC(intake, entries), RootMAC: rootMAC}, "", "  ")
	if err != nil {
		return err
	}
	return replaceFile(filepath.Join(dir, CompartmentsFile), b, 0o600)
}

func (k *Keeper) writeCompartmentsLocked(entries []compartmentEntry) error {
	if err := writeCompartments(k.dir, entries, &k.intake, k.ring); err != nil {
		return err
	}
	plain, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	k.rootMAC, _ = k.ring.FileMAC(compartmentsMACLabel, plain)
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// EpochAge is how long ago the oldest current compartment epoch began: when
// it passes the epoch length, RotateEpochs is due.
func (k *Keeper) EpochAge() time.Duration {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var oldest time.Time
	for _, e := range k.current {
		if oldest.IsZero() || e.Created.Before(oldest) {
			oldest = e.Created
		}
	}
	return k.now().Sub(oldest)
}

// loadIntakeKey reads the intake key, making it if create and there is none.
func loadIntakeKey(path string, create bool) (seal.Key, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		k := seal.NewKey()
		if err := writeFile(path, k[:], 0o600); err != nil {
			return seal.Key{}, fmt.Errorf("intake key: %w", err)
		}
		return k, nil
	}
	if err != nil {
		return seal.Key{}, fmt.Errorf("intake key: %w", err)
	}
	defer clear(b)
	var k seal.Key
	if len(b) != len(k) {
		return k, fmt.Errorf("intake key: %s is not an intake key (want %d bytes)", path, len(k))
	}
	copy(k[:], b)
	return k, nil
}

// IntakeKeyPath is the intake key file the Keeper was opened with, or "".
func (k *Keeper) IntakeKeyPath() string { return k.intakePath }

// Legacy reports whether the compartments file is still of the
// unauthenticated format v1 (the first unseal upgrades it).
func (k *Keeper) Legacy() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.legacy
}

// UpgradeIntake authenticates a v1 compartments file under the intake key
// intakeKey and writes it as v2 without a RootMAC (the next unseal adds it):
// `lifeline keys upgrade`, run once, the server stopped, when the intake
// key moves out of the data directory. It trusts the file as it is now.
func UpgradeIntake(dir, intakeKey string) error {
	f, err := readCompartments(dir)
	if err != nil {
		return err
	}
	if f.Format != compartmentsFormatV1 {
		return errors.New("the compartments file is authenticated already")
	}
	intake, err := loadIntakeKey(intakeKey, false)
	if err != nil {
		return err
	}
	defer intake.Zero()
	b, err := json.MarshalIndent(compartmentsFile{Format: compartmentsFormat, Entries: f.Entries,
		IntakeMAC: compartmentsIntakeMAC(&intake, f.Entries)}, "", "  ")
	if err != nil {
		return err
	}
	return replaceFile(filepath.Join(dir, CompartmentsFile), b, 0o600)
}

// IntakeRef is a keyed HMAC of its parts (length-prefixed, so that no two
// lists collide): the dedupe key of a webhook event, the reference of a
// provider's message id or of a sender. It works while sealed. Its key lives
// outside the data directory, so the directory alone confirms no chat id or
// number against a reference. It is nil for a Keeper opened without the
// intake key (a tool; serve always has it).
func (k *Keeper) IntakeRef(parts ...string) []byte {
	if k.intake.IsZero() {
		return nil
	}
	m := hmac.New(sha256.New, k.intake[:])
	var n [4]byte
	for _, p := range parts {
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		m.Write(n[:])
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

var errNoIntake = errors.New("no intake key loaded (give --intake-key or LIFELINE_INTAKE_KEY_FILE)")

// intakeKeyID names the intake key in the ciphertexts it makes.
var intakeKeyID = seal.KeyID{'l', 'i', 'f', 'e', 'l', 'i', 'n', 'e', '-', 'i', 'n', 't', 'a', 'k', 'e'}

// SealIntake encrypts a channel's configuration (its provider secrets)
// under the intake key, so that a copy of the database alone does not
// reveal them, while intake can still verify webhooks when sealed.
func (k *Keeper) SealIntake(aad seal.AAD, plaintext []byte) ([]byte, error) {
	if k.intake.IsZero() {
		return nil, errNoIntake
	}
	return seal.Encrypt(seal.DataKey{ID: intakeKeyID, Key: k.intake}, aad, plaintext)
}

// OpenIntake decrypts what SealIntake encrypted.
func (k *Keeper) OpenIntake(aad seal.AAD, ciphertext []byte) ([]byte, error) {
	if k.intake.IsZero() {
		return nil, errNoIntake
	}
	return seal.Decrypt(seal.DataKey{ID: intakeKeyID, Key: k.intake}, aad, ciphertext)
}

// Pepper returns a copy of the password pepper of the unsealed keyring
// (SECURITY.md §2.6), or ErrSealed.
func (k *Keeper) Pepper() ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.ring == nil {
		return nil, ErrSealed
	}
	return k.ring.Pepper()
}

// Rekey gives the keyring a new unseal key, as when a custodian leaves: a
// quorum of the current shares opens it, and it is sealed again under a new
// unseal key split into shares of which threshold unseal (the share count
// and threshold of before if zero). From then on the old shares open
// nothing: they make the old unseal key, which no longer opens the file.
// No server may run on dir meanwhile (it re-seals the keyring under the
// unseal key it holds): the caller holds the data directory's lock.
func Rekey(dir string, current []string, shares, threshold int) ([]string, error) {
	path := filepath.Join(dir, KeyringFile)
	blob, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	header, err := seal.ParseHeader(blob)
	if err != nil {
		return nil, err
	}
	if !header.Split() {
		return nil, errors.New("this keyring opens with a development unseal file, not shares: there is nothing to rekey")
	}
	u, err := seal.NewUnsealer(header)
	if err != nil {
		return nil, err
	}
	defer u.Zero()
	for _, s := range current {
		if _, _, err := u.Add(s); err != nil {
			return nil, err
		}
	}
	old, err := u.Key()
	if err != nil {
		return nil, err
	}
	defer old.Zero()
	ring, _, err := seal.OpenKeyring(blob, old)
	if err != nil {
		return nil, err
	}
	defer ring.Zero()
	if shares == 0 {
		shares, threshold = header.Shares, header.Threshold
	}
	fresh := seal.NewUnsealKey()
	defer fresh.Zero()
	out, commitments, err := seal.Split(fresh, shares, threshold)
	if err != nil {
		return nil, err
	}
	newHeader, err := seal.NewHeader(threshold, shares, commitments)
	if err != nil {
		return nil, err
	}
	sealed, err := ring.Seal(fresh, newHeader)
	if err != nil {
		return nil, err
	}
	if err := replaceFile(path, sealed, 0o600); err != nil {
		return nil, err
	}
	return out, nil
}
