// SPDX-License-Identifier: AGPL-3.0-or-later

package keys

import (
	"crypto/ecdh"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// initExternal initializes keys with the intake key outside the keys
// folder, as a real installation keeps it, and a dev unseal file.
func initExternal(t *testing.T) (dir, intake, devFile string) {
	t.Helper()
	root := t.TempDir()
	dir, intake, devFile = filepath.Join(root, "data", "keys"), filepath.Join(root, "credentials", "intake"), filepath.Join(root, "dev-unseal-key")
	if _, err := Init(dir, Options{DevFile: devFile, IntakeKey: intake}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, IntakeFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("intake key in the keys folder: %v, want none there", err)
	}
	return dir, intake, devFile
}

// addForeignEpoch appends a newer epoch of the routing compartment with a
// public key whose private half the attacker keeps, as a writer of the data
// directory would. fix, if set, recomputes the file's MACs as far as fix can.
func addForeignEpoch(t *testing.T, dir string, fix func(f *compartmentsFile)) *ecdh.PrivateKey {
	t.Helper()
	f, err := readCompartments(dir)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdh.X25519().GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Entries = append(f.Entries, compartmentEntry{Compartment: seal.CompartmentRouting, Epoch: 2, Public: priv.PublicKey().Bytes(), Created: time.Now().UTC()})
	if fix != nil {
		fix(&f)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CompartmentsFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return priv
}

// TestKeyFileSwapForeignEpochRefusedSealed: a newer epoch with an
// attacker's public key makes the sealed server refuse to start, so intake
// never wraps a data key to it (today it starts and wraps every new data
// key to the attacker).
func TestKeyFileSwapForeignEpochRefusedSealed(t *testing.T) {
	dir, intake, _ := initExternal(t)
	if _, err := OpenWithIntake(dir, intake); err != nil {
		t.Fatalf("open before the swap: %v", err)
	}
	addForeignEpoch(t, dir, nil)
	_, err := OpenWithIntake(dir, intake)
	if !errors.Is(err, ErrKeyFile) {
		t.Fatalf("open after the swap: got %v, want ErrKeyFile", err)
	}
}

// TestKeyFileSwapForeignEpochRefusedAtUnseal: an attacker who also holds
// the intake key (root on the sealed host) recomputes the intake MAC; the
// unseal still refuses the file (its keyring MAC), and with a forged
// keyring MAC (a test reaching the keyring) refuses the unpinned epoch
// without a private half.
func TestKeyFileSwapForeignEpochRefusedAtUnseal(t *testing.T) {
	dir, intake, devFile := initExternal(t)
	ik, err := loadIntakeKey(intake, false)
	if err != nil {
		t.Fatal(err)
	}
	addForeignEpoch(t, dir, func(f *compartmentsFile) { f.IntakeMAC = compartmentsIntakeMAC(&ik, f.Entries) })
	k, err := OpenWithIntake(dir, intake)
	if err != nil {
		t.Fatalf("open with a recomputed intake MAC: %v", err)
	}
	if err := k.UnsealWithFile(devFile); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("unseal: got %v, want ErrKeyFile", err)
	}
	if !k.Sealed() {
		t.Fatal("unsealed with a swapped compartments file")
	}

	// With the keyring's own MAC over the swapped file, the pin and the
	// missing private half still refuse it.
	dir2, intake2, devFile2 := initExternal(t)
	good := MustOpenWithIntake(t, dir2, intake2, devFile2)
	ik2, _ := loadIntakeKey(intake2, false)
	addForeignEpoch(t, dir2, func(f *compartmentsFile) {
		plain, _ := json.Marshal(f.Entries)
		f.RootMAC, _ = good.ring.FileMAC(compartmentsMACLabel, plain)
		f.IntakeMAC = compartmentsIntakeMAC(&ik2, f.Entries)
	})
	k2, err := OpenWithIntake(dir2, intake2)
	if err != nil {
		t.Fatal(err)
	}
	err = k2.UnsealWithFile(devFile2)
	if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), "not pinned") {
		t.Fatalf("unseal of a MAC-valid file with an unpinned epoch: got %v, want ErrKeyFile naming the pin", err)
	}
}

// TestKeyFileSwapCurrentEpochWithoutPrivateHalfRefused: an epoch that is
// pinned and authenticated but whose private half is gone cannot be the
// current one: unseal refuses rather than wrap new keys nobody can open.
func TestKeyFileSwapCurrentEpochWithoutPrivateHalfRefused(t *testing.T) {
	dir, intake, devFile := initExternal(t)
	k := MustOpenWithIntake(t, dir, intake, devFile)
	entries := append([]compartmentEntry(nil), k.entries...)
	for i := range entries {
		if entries[i].Compartment == seal.CompartmentIdentity {
			entries[i].WrappedPrivate = nil
		}
	}
	if err := writeCompartments(dir, entries, &k.intake, k.ring); err != nil {
		t.Fatal(err)
	}
	k2, err := OpenWithIntake(dir, intake)
	if err != nil {
		t.Fatal(err)
	}
	if err := k2.UnsealWithFile(devFile); !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), "no private half") {
		t.Fatalf("got %v, want ErrKeyFile naming the missing private half", err)
	}
}

// TestKeyFileSwapDowngradeToV1Refused: the compartments file rewritten in
// the old unauthenticated format is refused beside an intake key kept
// outside, and at unseal by a keyring that has its file key.
func TestKeyFileSwapDowngradeToV1Refused(t *testing.T) {
	dir, intake, devFile := initExternal(t)
	f, err := readCompartments(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(compartmentsFile{Format: compartmentsFormatV1, Entries: f.Entries})
	if err := os.WriteFile(filepath.Join(dir, CompartmentsFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenWithIntake(dir, intake); !errors.Is(err, ErrKeyFile) {
		t.Errorf("open v1 with an outside intake key: got %v, want ErrKeyFile", err)
	}
	k, err := Open(dir) // a tool, without the intake key
	if err != nil {
		t.Fatal(err)
	}
	if err := k.UnsealWithFile(devFile); !errors.Is(err, ErrKeyFile) {
		t.Errorf("unseal v1 with an upgraded keyring: got %v, want ErrKeyFile", err)
	}
}

// TestSeizedDiskPanicDestroysIntakeKey: keys panic shreds the intake key
// kept outside the data directory too.
func TestSeizedDiskPanicDestroysIntakeKey(t *testing.T) {
	dir, intake, _ := initExternal(t)
	if err := Panic(dir, intake); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{intake, filepath.Join(dir, KeyringFile), filepath.Join(dir, CompartmentsFile)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Panic: %v, want it gone", filepath.Base(p), err)
		}
	}
}

// MustOpenWithIntake opens dir with the intake key and unseals it.
func MustOpenWithIntake(t testing.TB, dir, intake, devFile string) *Keeper {
	t.Helper()
	k, err := OpenWithIntake(dir, intake)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.UnsealWithFile(devFile); err != nil {
		t.Fatal(err)
	}
	return k
}
