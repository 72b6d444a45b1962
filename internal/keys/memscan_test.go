// SPDX-License-Identifier: AGPL-3.0-or-later

package keys

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// masked is a key as the scan looks for it: every byte inverted, so that
// the needle itself is never the key in memory.
type masked [seal.KeySize]byte

func mask(b []byte) (m masked) {
	for i := range m {
		m[i] = ^b[i]
	}
	return m
}

// TestSealLeavesNoKeyInMemory (issue 11 §3): with a data key cached, the
// index keys derived, the pepper and the unseal key in use, seal, collect
// garbage, then read every writable mapping of this process through
// /proc/self/mem for each key. It fails for the pepper and the file key (a
// grown payload buffer used to leave a copy of the keyring behind); for the
// keys in knownGap it logs the copies found: not finished.
//
// Not covered (docs/threat-model.md): the compartment private halves inside
// crypto/ecdh values, which Go gives no way to wipe; and copies that library
// code (x/crypto's AEADs keep their own key) or the runtime made in memory
// since freed but not yet reused.
func TestSealLeavesNoKeyInMemory(t *testing.T) {
	if _, err := os.Stat("/proc/self/mem"); err != nil {
		t.Skip("no /proc/self/mem")
	}
	dir := t.TempDir()
	unseal := filepath.Join(dir, "unseal")
	if _, err := Init(filepath.Join(dir, "keys"), Options{DevFile: unseal}); err != nil {
		t.Fatal(err)
	}
	k, err := Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.UnsealWithFile(unseal); err != nil {
		t.Fatal(err)
	}
	needles := map[string]masked{}

	// A data key, made and then opened from its wrapping: cached.
	dk, w, err := k.NewDataKey("case:memscan", seal.CompartmentConversation)
	if err != nil {
		t.Fatal(err)
	}
	k.Forget(dk.ID)
	again, err := k.OpenDataKey(w)
	if err != nil {
		t.Fatal(err)
	}
	needles["cached data key"] = mask(dk.Key[:])
	dk.Zero()
	again.Zero()

	// The index keys the store derives blind indexes with, through the
	// pointer every holder shares.
	ik, err := k.IndexKeys()
	if err != nil {
		t.Fatal(err)
	}
	needles["exact index key"] = mask(keyAt(reflect.ValueOf(ik).Elem().FieldByName("exact").Index(0)))
	needles["bucket index key"] = mask(keyAt(reflect.ValueOf(ik).Elem().FieldByName("bucket").Index(0)))
	ik = nil

	// The keyring's own keys.
	p, err := k.Pepper()
	if err != nil {
		t.Fatal(err)
	}
	needles["pepper"] = mask(p)
	clear(p)
	k.mu.RLock()
	ring := reflect.ValueOf(k.ring).Elem()
	needles["root key"] = mask(keyAt(ring.FieldByName("roots").Index(0).FieldByName("Key")))
	needles["file key"] = mask(keyAt(ring.FieldByName("files")))
	if !k.unsealKey.IsZero() {
		needles["unseal key"] = mask(k.unsealKey[:])
	}
	k.mu.RUnlock()

	k.Seal()
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()

	found := scanSelf(t, needles)
	for what, n := range found {
		if knownGap[what] {
			// Not yet attributed between our code and library copies
			// (x/crypto AEAD structs, HPKE, HKDF buffers): see the threat
			// model. Logged, so the figure is seen in every run.
			t.Logf("KNOWN GAP after seal: the %s is still in memory (%d copies)", what, n)
			continue
		}
		t.Errorf("after seal: the %s is still in memory (%d copies)", what, n)
	}
}

// knownGap are the keys of which copies still survive a seal (issue 11 §3,
// not finished): the test fails for every other key it plants.
var knownGap = map[string]bool{
	"cached data key": true, "root key": true, "unseal key": true,
	"exact index key": true, "bucket index key": true,
}

// scanSelf reads every readable and writable mapping of the process and
// counts, per needle, the places that hold the unmasked key. The buffer it
// reads into and the needles are skipped.
func scanSelf(t *testing.T, needles map[string]masked) map[string]int {
	t.Helper()
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer maps.Close()
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	const chunk = 1 << 20
	buf := make([]byte, chunk+seal.KeySize)
	bufLo := uintptr(unsafe.Pointer(&buf[0]))
	bufHi := bufLo + uintptr(len(buf))
	type want struct {
		what string
		m    masked
	}
	var wants []want
	for what, m := range needles {
		wants = append(wants, want{what, m})
	}
	found := map[string]int{}
	var regions [][2]uint64
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasPrefix(f[1], "rw") {
			continue
		}
		if len(f) >= 6 && (f[5] == "[vvar]" || f[5] == "[vsyscall]") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil {
			regions = append(regions, [2]uint64{a, b})
		}
	}
	for _, r := range regions {
		for off := r[0]; off < r[1]; off += chunk {
			end := min(off+chunk+seal.KeySize, r[1])
			n, err := mem.ReadAt(buf[:end-off], int64(off))
			if err != nil && n == 0 {
				break // unreadable range
			}
			for i := 0; i+seal.KeySize <= n; i++ {
				addr := uintptr(off) + uintptr(i)
				if addr >= bufLo && addr < bufHi {
					continue
				}
				for _, w := range wants {
					if uintptr(unsafe.Pointer(&w.m[0])) == addr {
						continue
					}
					if buf[i] == ^w.m[0] && matchMasked(buf[i:i+seal.KeySize], &w.m) {
						found[w.what]++
					}
				}
			}
		}
	}
	return found
}

// keyAt is the bytes of an addressable seal.Key field, exported or not
// (read only, to know what to look for).
func keyAt(v reflect.Value) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v.UnsafeAddr())), seal.KeySize)
}

func matchMasked(b []byte, m *masked) bool {
	for i := range m {
		if b[i] != ^m[i] {
			return false
		}
	}
	return true
}
