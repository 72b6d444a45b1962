// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// Sealer makes and opens data keys; *keys.Keeper is the one lifeline uses.
// NewDataKey must work while the keys are sealed (it wraps to a public
// key); OpenDataKey and IndexKeys return keys.ErrSealed then.
type Sealer interface {
	NewDataKey(owner string, c seal.Compartment) (seal.DataKey, keys.WrappedKey, error)
	OpenDataKey(w keys.WrappedKey) (seal.DataKey, error)
	IndexKeys() (*seal.IndexKeys, error)
	Forget(ids ...seal.KeyID)
}

var _ Sealer = (*keys.Keeper)(nil)

// errNoSealer is returned by sealed-field operations of a store opened
// without keys (the CLI's tools that touch no personal data).
var errNoSealer = errors.New("store opened without keys")

// unavailable maps "sealed" to the domain's EUNAVAILABLE, which the console
// answers with 503.
func unavailable(err error) error {
	if errors.Is(err, keys.ErrSealed) {
		return lifeline.Errorf(lifeline.EUNAVAILABLE, "The server is sealed: personal data cannot be read until custodians unseal it.")
	}
	return err
}

// Owners of data keys.
func caseOwner(id lifeline.CaseID) string       { return "case:" + string(id) }
func personOwner(id lifeline.PersonID) string   { return "person:" + string(id) }
func contactOwner(id lifeline.ContactID) string { return "contact:" + string(id) }
func messageOwner(id lifeline.MessageID) string { return "message:" + string(id) }

const dataKeyColumns = `id, owner, compartment, epoch, wrapped`

func scanDataKey(row interface{ Scan(...any) error }) (keys.WrappedKey, error) {
	var w keys.WrappedKey
	var id []byte
	var c string
	if err := row.Scan(&id, &w.Owner, &c, &w.Epoch, &w.Wrapped); err != nil {
		return w, err
	}
	if len(id) != len(w.ID) {
		return w, fmt.Errorf("data key id of %d bytes", len(id))
	}
	copy(w.ID[:], id)
	w.Compartment = seal.Compartment(c)
	return w, nil
}

// dataKey returns owner's data key in compartment c, creating it if there is
// none. If the owner has one but the keys are sealed, it returns
// keys.ErrSealed.
func (db *DB) dataKey(tx *Tx, owner string, c seal.Compartment) (seal.DataKey, error) {
	if db.sealer == nil {
		return seal.DataKey{}, errNoSealer
	}
	w, err := scanDataKey(tx.QueryRow(`SELECT `+dataKeyColumns+` FROM data_keys WHERE owner = ? AND compartment = ?`, owner, string(c)))
	if err == nil {
		return db.sealer.OpenDataKey(w)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return seal.DataKey{}, fmt.Errorf("find data key: %w", err)
	}
	pk, ok := tx.takePremade(owner, c)
	dk, w := pk.dk, pk.w
	if !ok {
		if dk, w, err = db.sealer.NewDataKey(owner, c); err != nil {
			return seal.DataKey{}, err
		}
	}
	_, err = tx.Exec(`INSERT INTO data_keys (id, owner, compartment, epoch, wrapped, created_day) VALUES (?, ?, ?, ?, ?, ?)`,
		w.ID[:], w.Owner, string(w.Compartment), w.Epoch, w.Wrapped, lifeline.DayOf(tx.Now()).String())
	if err != nil {
		return seal.DataKey{}, fmt.Errorf("store data key: %w", err)
	}
	return dk, nil
}

// premadeName names a data key made before the write that may store it.
type premadeName struct {
	owner string
	c     seal.Compartment
}

// premadeKey is a data key made, and wrapped to its compartment's public
// key, outside the writer: the wrap (HPKE) is the costliest step of a new
// contact, and the writer serialises every write.
type premadeKey struct {
	dk seal.DataKey
	w  keys.WrappedKey
}

// takePremade returns, and forgets, the key made in advance for owner in
// c, if one was.
func (tx *Tx) takePremade(owner string, c seal.Compartment) (premadeKey, bool) {
	n := premadeName{owner, c}
	k, ok := tx.premade[n]
	if ok {
		delete(tx.premade, n)
	}
	return k, ok
}

// sealField encrypts plaintext under owner's data key of compartment c. If
// that key exists but the keys are sealed, it uses a key of fallback's own
// (made and wrapped with the public key alone), which Reseal later folds
// into owner's key: intake never stops for want of an unseal.
func (db *DB) sealField(tx *Tx, owner, fallback string, c seal.Compartment, aad seal.AAD, plaintext []byte) ([]byte, error) {
	dk, err := db.sealingKey(tx, owner, fallback, c)
	if err != nil {
		return nil, err
	}
	return seal.Encrypt(dk, aad, plaintext)
}

// sealingKey is the data key sealField would use, for sealing several
// fields of one row under one lookup.
func (db *DB) sealingKey(tx *Tx, owner, fallback string, c seal.Compartment) (seal.DataKey, error) {
	dk, err := db.dataKey(tx, owner, c)
	if errors.Is(err, keys.ErrSealed) && fallback != "" {
		dk, err = db.dataKey(tx, fallback, c)
	}
	return dk, err
}

// openField decrypts a sealed field, finding its data key by the id the
// ciphertext names.
func (db *DB) openField(tx *Tx, aad seal.AAD, ct []byte) ([]byte, error) {
	return db.openOwned(tx, aad, ct)
}

// errWrongOwner is returned when a ciphertext's data key belongs to another
// owner than the row's: the row was moved (issue 11).
var errWrongOwner = fmt.Errorf("%w (its data key belongs to another owner: the row was moved)", seal.ErrDecrypt)

// openOwned is openField for a row whose data key must belong to one of
// owners (when any are given): the key's recorded owner is checked before
// it is used, so a row moved by a writer of the database to another
// contact, case or conversation does not open there.
func (db *DB) openOwned(tx *Tx, aad seal.AAD, ct []byte, owners ...string) ([]byte, error) {
	if db.sealer == nil {
		return nil, errNoSealer
	}
	id, err := seal.CiphertextKeyID(ct)
	if err != nil {
		return nil, err
	}
	w, err := scanDataKey(tx.QueryRow(`SELECT `+dataKeyColumns+` FROM data_keys WHERE id = ?`, id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("data key %s is gone (shredded)", id)
	}
	if err != nil {
		return nil, err
	}
	if len(owners) > 0 && !slices.Contains(owners, w.Owner) {
		return nil, errWrongOwner
	}
	dk, err := db.sealer.OpenDataKey(w)
	if err != nil {
		return nil, err
	}
	return seal.Decrypt(dk, aad, ct)
}

// deleteDataKeys crypto-shreds the data keys of the given owners.
func (db *DB) deleteDataKeys(tx *Tx, owners ...string) ([]seal.KeyID, error) {
	var ids []seal.KeyID
	for _, o := range owners {
		rows, err := tx.Query(`SELECT id FROM data_keys WHERE owner = ?`, o)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				rows.Close()
				return nil, err
			}
			var id seal.KeyID
			copy(id[:], b)
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(`DELETE FROM data_keys WHERE owner = ?`, o); err != nil {
			return nil, err
		}
	}
	return ids, nil
}
