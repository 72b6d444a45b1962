// SPDX-License-Identifier: AGPL-3.0-or-later

package keys

// Internal tests: they reach the Keeper's clock, its unwrapped compartment
// keys and its keyring, which no caller outside may see.

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// MustInitDev initializes keys in a temporary keys folder with a dev unseal
// file next to it, and returns the folder and the file.
func MustInitDev(t testing.TB) (dir, devFile string) {
	t.Helper()
	root := t.TempDir()
	dir, devFile = filepath.Join(root, "data", "keys"), filepath.Join(root, "dev-unseal-key")
	if _, err := Init(dir, Options{DevFile: devFile}); err != nil {
		t.Fatalf("init: %v", err)
	}
	return dir, devFile
}

// MustOpen opens the keys of dir and, unless devFile is empty, unseals them.
func MustOpen(t testing.TB, dir, devFile string) *Keeper {
	t.Helper()
	k, err := Open(dir)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if devFile != "" {
		if err := k.UnsealWithFile(devFile); err != nil {
			t.Fatalf("unseal: %v", err)
		}
	}
	return k
}

// mustNewDataKey makes a data key for owner in c.
func mustNewDataKey(t testing.TB, k *Keeper, owner string, c seal.Compartment) (seal.DataKey, WrappedKey) {
	t.Helper()
	dk, w, err := k.NewDataKey(owner, c)
	if err != nil {
		t.Fatalf("new data key: %v", err)
	}
	return dk, w
}

func TestSealedThenUnsealedWithDevFile(t *testing.T) {
	dir, devFile := MustInitDev(t)
	if fi, err := os.Stat(devFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("dev file: %v, %v; want mode 0600", fi, err)
	}
	if _, err := Init(dir, Options{DevFile: devFile + "2"}); err == nil {
		t.Fatal("second Init over existing keys: got nil, want an error")
	}
	k := MustOpen(t, dir, "")
	if st := k.Status(); !st.Sealed || st.KeyringID == "" {
		t.Fatalf("after Open: %+v, want sealed with a keyring id", st)
	}
	// Intake works sealed: a data key is made and wrapped; nothing opens.
	dk, w := mustNewDataKey(t, k, "contact:a", seal.CompartmentRouting)
	if _, err := k.OpenDataKey(w); !errors.Is(err, ErrSealed) {
		t.Errorf("OpenDataKey sealed: got %v, want ErrSealed", err)
	}
	if _, err := k.IndexKeys(); !errors.Is(err, ErrSealed) {
		t.Errorf("IndexKeys sealed: got %v, want ErrSealed", err)
	}
	if _, _, err := k.Rewrap(w); !errors.Is(err, ErrSealed) {
		t.Errorf("Rewrap sealed: got %v, want ErrSealed", err)
	}
	if _, err := k.RotateRoot(); !errors.Is(err, ErrSealed) {
		t.Errorf("RotateRoot sealed: got %v, want ErrSealed", err)
	}
	if err := k.RotateEpochs(0); !errors.Is(err, ErrSealed) {
		t.Errorf("RotateEpochs sealed: got %v, want ErrSealed", err)
	}
	if _, _, err := k.AddShare("LLS-1-XXXX"); err == nil {
		t.Error("AddShare on a dev keyring: got nil, want an error")
	}
	if err := k.UnsealWithFile(devFile); err != nil {
		t.Fatal(err)
	}
	if k.Sealed() {
		t.Fatal("after UnsealWithFile: sealed")
	}
	got, err := k.OpenDataKey(w)
	if err != nil || got.ID != dk.ID || !got.Key.Equal(&dk.Key) {
		t.Fatalf("OpenDataKey unsealed: %v; want the key made sealed", err)
	}
	// Another owner, or another compartment, for the same wrapped bytes.
	fresh := MustOpen(t, dir, devFile)
	for _, bad := range []WrappedKey{
		{ID: w.ID, Owner: "contact:b", Compartment: w.Compartment, Epoch: w.Epoch, Wrapped: w.Wrapped},
		{ID: w.ID, Owner: w.Owner, Compartment: seal.CompartmentIdentity, Epoch: w.Epoch, Wrapped: w.Wrapped},
		{ID: seal.NewKeyID(), Owner: w.Owner, Compartment: w.Compartment, Epoch: w.Epoch, Wrapped: w.Wrapped},
	} {
		if _, err := fresh.OpenDataKey(bad); err == nil {
			t.Errorf("OpenDataKey of %s/%s with another binding: opened, want an error", bad.Owner, bad.Compartment)
		}
	}
}

func TestUnsealWithShares(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	shares, err := Init(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(shares) != 5 {
		t.Fatalf("got %d shares, want 5 (3 of 5 by default)", len(shares))
	}
	other, err := Init(filepath.Join(t.TempDir(), "keys"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := MustOpen(t, dir, "")
	// A typo, a share of another keyring, a share given twice: refused, and
	// the message says which without echoing the share.
	typo := []byte(shares[0])
	i := strings.LastIndexByte(shares[0], '-') - 2
	typo[i] = map[bool]byte{true: 'A', false: 'B'}[typo[i] != 'A']
	for _, c := range []struct{ name, share, want string }{
		{"typo", string(typo), "mistyped"},
		{"foreign", other[0], "does not belong"},
	} {
		if _, _, err := k.AddShare(c.share); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), c.share) {
			t.Errorf("AddShare(%s): got %v, want an error saying %q without the share", c.name, err, c.want)
		}
	}
	if have, need, err := k.AddShare(shares[3]); err != nil || have != 1 || need != 3 {
		t.Fatalf("first share: %d of %d, %v; want 1 of 3", have, need, err)
	}
	if _, _, err := k.AddShare(shares[3]); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("share given twice: got %v, want an error saying so", err)
	}
	if have, need, err := k.AddShare(shares[1]); err != nil || have != 2 || need != 3 || !k.Sealed() {
		t.Fatalf("k-1 shares: %d of %d, %v, sealed %v; want 2 of 3 and still sealed", have, need, err, k.Sealed())
	}
	if st := k.Status(); st.Have != 2 || st.Need != 3 {
		t.Errorf("Status: %+v, want 2 of 3", st)
	}
	if have, need, err := k.AddShare(shares[4]); err != nil || have != need || k.Sealed() {
		t.Fatalf("k shares: %d of %d, %v, sealed %v; want unsealed", have, need, err, k.Sealed())
	}
	// Sealing again forgets the shares given.
	k.Seal()
	if st := k.Status(); !st.Sealed || st.Have != 0 {
		t.Errorf("after Seal: %+v, want sealed with 0 shares", st)
	}
}

func TestSealDropsEveryKey(t *testing.T) {
	dir, devFile := MustInitDev(t)
	k := MustOpen(t, dir, devFile)
	_, w := mustNewDataKey(t, k, "case:a", seal.CompartmentIdentity)
	if _, err := k.OpenDataKey(w); err != nil { // now cached
		t.Fatal(err)
	}
	k.Seal()
	if _, err := k.OpenDataKey(w); !errors.Is(err, ErrSealed) {
		t.Errorf("OpenDataKey of a cached key after Seal: got %v, want ErrSealed", err)
	}
	if k.ring != nil || k.private != nil || k.index != nil || !k.unsealKey.IsZero() || len(k.cache) != 0 {
		t.Errorf("after Seal: ring %v, %d private keys, index %v, unseal key zero %v, %d cached; want all gone",
			k.ring != nil, len(k.private), k.index != nil, k.unsealKey.IsZero(), len(k.cache))
	}
}

// TestRotateRootRetiresOld: after RotateRoot the keyring holds the new root
// version alone, every compartment private half is wrapped under it, and the
// files open after a restart.
func TestRotateRootRetiresOld(t *testing.T) {
	dir, devFile := MustInitDev(t)
	k := MustOpen(t, dir, devFile)
	dk, w := mustNewDataKey(t, k, "case:a", seal.CompartmentIdentity)
	old := k.ring.RootVersions()
	v, err := k.RotateRoot()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(old, v) {
		t.Fatalf("RotateRoot returned version %d, already in %v", v, old)
	}
	for _, kk := range []*Keeper{k, MustOpen(t, dir, devFile)} {
		if got := kk.ring.RootVersions(); !slices.Equal(got, []uint32{v}) {
			t.Errorf("root versions: got %v, want [%d]", got, v)
		}
		for _, e := range kk.entries {
			if e.RootVersion != v {
				t.Errorf("%s epoch %d: wrapped under root %d, want %d", e.Compartment, e.Epoch, e.RootVersion, v)
			}
		}
		got, err := kk.OpenDataKey(w)
		if err != nil || !got.Key.Equal(&dk.Key) {
			t.Errorf("data key made before the rotation: %v", err)
		}
	}
}

// TestDestroyDue: an old epoch is destroyed only after its retention and
// only once no live data key is wrapped to it; then no copy of a data key
// wrapped to it opens, through this keeper (cache included) or a restarted
// one.
func TestDestroyDue(t *testing.T) {
	dir, devFile := MustInitDev(t)
	k := MustOpen(t, dir, devFile)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	k.now = func() time.Time { return now }

	dk, w := mustNewDataKey(t, k, "case:shredded", seal.CompartmentIdentity)
	if _, err := k.OpenDataKey(w); err != nil { // cached, as after reading the case
		t.Fatal(err)
	}
	_, live := mustNewDataKey(t, k, "contact:live", seal.CompartmentRouting)
	if err := k.RotateEpochs(DefaultRetention); err != nil {
		t.Fatal(err)
	}
	for _, c := range seal.Compartments() {
		if got := k.CurrentEpoch(c); got != 2 {
			t.Fatalf("%s: current epoch %d after rotation, want 2", c, got)
		}
	}
	rewrapped, changed, err := k.Rewrap(live)
	if err != nil || !changed || rewrapped.Epoch != 2 {
		t.Fatalf("Rewrap: epoch %d, changed %v, %v; want epoch 2", rewrapped.Epoch, changed, err)
	}
	if again, changed, err := k.Rewrap(rewrapped); err != nil || changed || again.Epoch != 2 {
		t.Errorf("Rewrap of a current key: changed %v, %v; want unchanged", changed, err)
	}
	routingLive := int64(1)
	count := func(c seal.Compartment, epoch uint32) (int64, error) {
		if c == seal.CompartmentRouting && epoch == 1 {
			return routingLive, nil
		}
		return 0, nil
	}

	now = now.Add(DefaultRetention - time.Second)
	if done, err := k.DestroyDue(count); err != nil || len(done) != 0 {
		t.Fatalf("DestroyDue before retention: %v, %v; want nothing", done, err)
	}
	now = now.Add(2 * time.Second)
	done, err := k.DestroyDue(count)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(done)
	if diff := cmp.Diff([]string{"conversation/1", "finance/1", "identity/1", "intel/1"}, done); diff != "" {
		t.Errorf("DestroyDue with a live routing key (-want +got):\n%s", diff)
	}
	routingLive = 0
	if done, err := k.DestroyDue(count); err != nil || !slices.Equal(done, []string{"routing/1"}) {
		t.Errorf("DestroyDue once rewrapped: %v, %v; want [routing/1]", done, err)
	}
	if done, err := k.DestroyDue(count); err != nil || len(done) != 0 {
		t.Errorf("DestroyDue again: %v, %v; want nothing", done, err)
	}

	// The key of the shredded case, cached before, opens no more.
	if got, err := k.OpenDataKey(w); err == nil {
		t.Errorf("OpenDataKey through a destroyed epoch: opened (same key %v), want an error", got.Key.Equal(&dk.Key))
	}
	if _, _, err := k.Rewrap(w); err == nil {
		t.Error("Rewrap from a destroyed epoch: got nil, want an error")
	}
	if _, err := k.OpenDataKey(live); err == nil {
		t.Error("OpenDataKey of the old copy of a rewrapped key: opened, want an error")
	}
	if _, err := k.OpenDataKey(rewrapped); err != nil {
		t.Errorf("OpenDataKey of a rewrapped key: %v", err)
	}
	k2 := MustOpen(t, dir, devFile)
	if _, err := k2.OpenDataKey(w); err == nil {
		t.Error("restarted keeper: OpenDataKey through a destroyed epoch: opened, want an error")
	}
	if _, err := k2.OpenDataKey(rewrapped); err != nil {
		t.Errorf("restarted keeper: OpenDataKey of a rewrapped key: %v", err)
	}
	f, err := readCompartments(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range f.Entries {
		if destroyed := e.Epoch == 1; destroyed != (len(e.WrappedPrivate) == 0) || destroyed == e.Destroyed.IsZero() {
			t.Errorf("%s epoch %d on disk: %d bytes of private half, destroyed %v", e.Compartment, e.Epoch, len(e.WrappedPrivate), e.Destroyed)
		}
	}
}

// keyForms returns b raw, in hex and in base64 at each alignment: the forms
// a key could take in a file.
func keyForms(b []byte) [][]byte {
	forms := [][]byte{b, []byte(hex.EncodeToString(b)), []byte(strings.ToUpper(hex.EncodeToString(b)))}
	for off := range 3 {
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			s := enc.EncodeToString(append(make([]byte, off), b...))
			end := len(s)
			if (off+len(b))%3 != 0 {
				end--
			}
			forms = append(forms, []byte(s[[3]int{0, 2, 3}[off]:end]))
		}
	}
	return forms
}

// TestNoKeyBytesOnDisk: after init, unseal, use, root and epoch rotation and
// destruction, no file of the data directory holds the unseal key, a
// compartment private half (current or destroyed) or a data key, in any
// form. The dev unseal file, the documented development-only exception, is
// outside the directory scanned and serves as the scan's control.
func TestNoKeyBytesOnDisk(t *testing.T) {
	dir, devFile := MustInitDev(t)
	k := MustOpen(t, dir, devFile)
	secrets := map[string][]byte{"unseal key": slices.Clone(k.unsealKey[:])}
	addPrivate := func() {
		for ek, ck := range k.private {
			secrets[fmt.Sprintf("%s/%d private", ek.c, ek.epoch)] = ck.Private.Bytes()
		}
	}
	addPrivate()
	for i := range 20 {
		dk, w := mustNewDataKey(t, k, fmt.Sprintf("case:%d", i), seal.Compartments()[i%5])
		secrets["data key "+w.Owner] = slices.Clone(dk.Key[:])
	}
	if _, err := k.RotateRoot(); err != nil {
		t.Fatal(err)
	}
	if err := k.RotateEpochs(0); err != nil {
		t.Fatal(err)
	}
	addPrivate()
	if _, err := k.DestroyDue(func(seal.Compartment, uint32) (int64, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	if len(secrets) != 1+10+20 {
		t.Fatalf("%d secrets collected, want 31", len(secrets))
	}
	data := filepath.Dir(dir)
	files := 0
	err := filepath.WalkDir(filepath.Dir(data), func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || path == devFile {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for name, s := range secrets {
			for i, f := range keyForms(s) {
				if bytes.Contains(b, f) {
					t.Errorf("%s holds the %s (form %d)", path, name, i)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 2 {
		t.Errorf("scanned %d files, want at least 2 (keyring, compartments)", files)
	}
	dev, err := os.ReadFile(devFile)
	if err != nil {
		t.Fatal(err)
	}
	if found := slices.ContainsFunc(keyForms(secrets["unseal key"]), func(f []byte) bool { return bytes.Contains(dev, f) }); !found {
		t.Error("control: the unseal key is not found in the dev unseal file")
	}
}

// TestConcurrentRotation runs data-key use against rotations; under -race
// it checks the locking.
func TestConcurrentRotation(t *testing.T) {
	dir, devFile := MustInitDev(t)
	k := MustOpen(t, dir, devFile)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				dk, w, err := k.NewDataKey(fmt.Sprintf("case:%d-%d", g, i), seal.CompartmentConversation)
				if err == nil {
					var got seal.DataKey
					if got, err = k.OpenDataKey(w); err == nil && !got.Key.Equal(&dk.Key) {
						err = errors.New("opened another key")
					}
				}
				if err == nil {
					_, _, err = k.Rewrap(w)
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for range 3 {
		if _, err := k.RotateRoot(); err != nil {
			t.Error(err)
		}
		if err := k.RotateEpochs(time.Hour); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("data key use during rotation: %v", err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if got := MustOpen(t, dir, devFile).CurrentEpoch(seal.CompartmentConversation); got != 4 {
		t.Errorf("after 3 rotations: epoch %d, want 4", got)
	}
}

func TestPanic(t *testing.T) {
	dir, devFile := MustInitDev(t)
	MustOpen(t, dir, devFile)
	if err := Panic(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{KeyringFile, CompartmentsFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Panic: %v, want it gone", name, err)
		}
	}
	if _, err := Open(dir); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("Open after Panic: got %v, want ErrNotInitialized", err)
	}
	if err := Panic(dir); err != nil {
		t.Errorf("Panic twice: %v", err)
	}
}
