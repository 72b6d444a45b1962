// SPDX-License-Identifier: AGPL-3.0-or-later

package auth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/lifeline-hotline/lifeline/internal/auth"
)

// Each Argon2 run at the pinned cost takes 64 MiB and ~100 ms: the tests
// below run about a dozen in total.

const testPassword = "correct zebra lamp orbit cabbage"

func MustHash(tb testing.TB, h *auth.Hasher, pw string) string {
	tb.Helper()
	enc, err := h.Hash(pw)
	if err != nil {
		tb.Fatalf("Hash: %v", err)
	}
	return enc
}

func MustParsePHC(tb testing.TB, s string) auth.PHC {
	tb.Helper()
	p, err := auth.ParsePHC(s)
	if err != nil {
		tb.Fatalf("ParsePHC(%q): %v", s, err)
	}
	return p
}

func TestHashVerifyRoundTrip(t *testing.T) {
	var h auth.Hasher
	enc := MustHash(t, &h, testPassword)

	ok, rehash, err := h.Verify(enc, testPassword)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(enc, testPassword+"x")
	if err != nil || ok || rehash {
		t.Fatalf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
	if h.InFlight() != 0 {
		t.Fatalf("InFlight after verify = %d, want 0", h.InFlight())
	}
}

func TestHashPinnedParams(t *testing.T) {
	var h auth.Hasher
	a := MustHash(t, &h, testPassword)
	b := MustHash(t, &h, testPassword)
	if !strings.HasPrefix(a, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("hash %q lacks the pinned PHC prefix", a)
	}
	pa, pb := MustParsePHC(t, a), MustParsePHC(t, b)
	for _, p := range []auth.PHC{pa, pb} {
		want := auth.Params{Memory: 65536, Time: 3, Threads: 4}
		if p.Params != want {
			t.Errorf("params = %+v, want %+v", p.Params, want)
		}
		if len(p.Salt) != 16 || len(p.Key) != 32 {
			t.Errorf("salt, tag lengths = %d, %d; want 16, 32", len(p.Salt), len(p.Key))
		}
		if p.NeedsRehash() {
			t.Error("NeedsRehash on a fresh hash")
		}
	}
	if bytes.Equal(pa.Salt, pb.Salt) || a == b {
		t.Error("two hashes of one password share a salt")
	}
}

func TestPepper(t *testing.T) {
	pepper := bytes.Repeat([]byte{0x42}, 32)
	peppered := &auth.Hasher{Pepper: pepper}
	enc := MustHash(t, peppered, testPassword)

	if ok, _, err := peppered.Verify(enc, testPassword); err != nil || !ok {
		t.Fatalf("Verify with the pepper = %v, %v; want true, nil", ok, err)
	}
	// The Argon2 input is HMAC(pepper, password): without the pepper, or
	// with another one, the same password no longer matches.
	var plain auth.Hasher
	if ok, _, err := plain.Verify(enc, testPassword); err != nil || ok {
		t.Errorf("Verify without the pepper = %v, %v; want false, nil", ok, err)
	}
	other := &auth.Hasher{Pepper: bytes.Repeat([]byte{0x43}, 32)}
	if ok, _, err := other.Verify(enc, testPassword); err != nil || ok {
		t.Errorf("Verify with another pepper = %v, %v; want false, nil", ok, err)
	}

	short := &auth.Hasher{Pepper: []byte("too short")}
	if _, err := short.Hash(testPassword); !errors.Is(err, auth.ErrPepper) {
		t.Errorf("Hash with a short pepper: err = %v, want ErrPepper", err)
	}
}

func TestVerifyOverlongPassword(t *testing.T) {
	var h auth.Hasher
	long := strings.Repeat("a", auth.MaxPasswordBytes+1)
	if _, err := h.Hash(long); !errors.Is(err, auth.ErrPasswordBytes) {
		t.Errorf("Hash(overlong): err = %v, want ErrPasswordBytes", err)
	}
	// Refused before Argon2, for known and unknown users alike.
	ok, _, err := h.Verify("$argon2id$v=19$m=65536,t=3,p=4$W+HMiE78+Vv2PIQ9PzSo2A$7wT+G0yyAq8A0AWN0PssNVy9HMPUAXk3zcgTPy2Hezc", long)
	if ok || err != nil {
		t.Errorf("Verify(overlong) = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	const salt, tag = "c2FsdHNhbHRzYWx0c2FsdA", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	good := "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$" + tag
	MustParsePHC(t, good)

	tests := []struct {
		name, in string
		want     error
	}{
		{"empty", "", auth.ErrMalformedHash},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", auth.ErrMalformedHash},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1), auth.ErrMalformedHash},
		{"argon2d", strings.Replace(good, "argon2id", "argon2d", 1), auth.ErrMalformedHash},
		{"no leading $", good[1:], auth.ErrMalformedHash},
		{"trailing $", good + "$", auth.ErrMalformedHash},
		{"missing version", "$argon2id$m=65536,t=3,p=4$" + salt + "$" + tag, auth.ErrMalformedHash},
		{"version 16", strings.Replace(good, "v=19", "v=16", 1), auth.ErrMalformedHash},
		{"params reordered", strings.Replace(good, "m=65536,t=3,p=4", "t=3,m=65536,p=4", 1), auth.ErrMalformedHash},
		{"param missing", strings.Replace(good, "m=65536,t=3,p=4", "m=65536,t=3", 1), auth.ErrMalformedHash},
		{"extra param", strings.Replace(good, "p=4", "p=4,keyid=x", 1), auth.ErrMalformedHash},
		{"spaces", strings.Replace(good, "m=65536,t=3", "m=65536, t=3", 1), auth.ErrMalformedHash},
		{"leading zero", strings.Replace(good, "t=3", "t=03", 1), auth.ErrMalformedHash},
		{"sign", strings.Replace(good, "t=3", "t=+3", 1), auth.ErrMalformedHash},
		{"negative", strings.Replace(good, "t=3", "t=-3", 1), auth.ErrMalformedHash},
		{"hex", strings.Replace(good, "m=65536", "m=0x10000", 1), auth.ErrMalformedHash},
		{"empty value", strings.Replace(good, "t=3", "t=", 1), auth.ErrMalformedHash},
		{"uint64 overflow", strings.Replace(good, "m=65536", "m=18446744073709551616", 1), auth.ErrMalformedHash},
		{"padded salt", "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "==$" + tag, auth.ErrMalformedHash},
		{"url base64 salt", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2Fsd-_$" + tag, auth.ErrMalformedHash},
		{"non-canonical salt bits", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdB$" + tag, auth.ErrMalformedHash},
		{"CR in salt", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRz\rYWx0c2FsdA$" + tag, auth.ErrMalformedHash},
		{"empty salt", "$argon2id$v=19$m=65536,t=3,p=4$$" + tag, auth.ErrMalformedHash},
		{"short salt", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$" + tag, auth.ErrMalformedHash},
		{"empty tag", "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$", auth.ErrMalformedHash},
		{"short tag", "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$aGFzaA", auth.ErrMalformedHash},
		{"huge tag", "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$" + strings.Repeat("A", 200), auth.ErrMalformedHash},
		{"t=0", strings.Replace(good, "t=3", "t=0", 1), auth.ErrHashParams},
		{"p=0", strings.Replace(good, "p=4", "p=0", 1), auth.ErrHashParams},
		{"m<8p", strings.Replace(good, "m=65536", "m=31", 1), auth.ErrHashParams},
	}
	var h auth.Hasher
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.ParsePHC(tt.in); !errors.Is(err, tt.want) {
				t.Errorf("ParsePHC: err = %v, want %v", err, tt.want)
			}
			ok, rehash, err := h.Verify(tt.in, testPassword)
			if !errors.Is(err, tt.want) || ok || rehash {
				t.Errorf("Verify = %v, %v, %v; want false, false, %v", ok, rehash, err, tt.want)
			}
		})
	}
}

func TestVerifyAbsurdParamsRefusedWithoutAllocating(t *testing.T) {
	const salt, tag = "c2FsdHNhbHRzYWx0c2FsdA", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	tests := []string{
		"m=4194304,t=3,p=4",    // 4 GiB
		"m=1048577,t=3,p=4",    // 1 GiB + 1 KiB
		"m=4294967295,t=3,p=4", // max uint32
		"m=65536,t=11,p=4",
		"m=65536,t=4294967295,p=4",
		"m=65536,t=3,p=17",
		"m=65536,t=3,p=255",
		"m=65536,t=3,p=256", // would wrap to 0 in a uint8
	}
	var h auth.Hasher
	for _, params := range tests {
		enc := "$argon2id$v=19$" + params + "$" + salt + "$" + tag
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ok, _, err := h.Verify(enc, testPassword)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, auth.ErrHashParams) || ok {
			t.Errorf("Verify(%s) = %v, %v; want false, ErrHashParams", params, ok, err)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("Verify(%s) allocated %d bytes before refusing", params, d)
		}
	}
}

// weakHash builds a PHC string with the given parameters, as an older
// release or another tool might have stored it.
func weakHash(tb testing.TB, pw string, p auth.Params, saltLen, keyLen int) string {
	tb.Helper()
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(keyLen))
	return auth.PHC{Params: p, Salt: salt, Key: key}.String()
}

func TestVerifyNeedsRehash(t *testing.T) {
	// OWASP's floor (19 MiB, t=2, p=1): cheap enough for a test, and weaker
	// than the pinned parameters, so a successful login must upgrade it.
	owasp := auth.Params{Memory: 19 * 1024, Time: 2, Threads: 1}
	enc := weakHash(t, testPassword, owasp, 16, 32)
	var h auth.Hasher
	ok, rehash, err := h.Verify(enc, testPassword)
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify(weak hash) = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(enc, "wrong password for sure")
	if err != nil || ok || rehash {
		t.Fatalf("Verify(weak hash, wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}

	pinned := auth.PinnedParams()
	salt16, salt8 := make([]byte, 16), make([]byte, 8)
	key32, key16 := make([]byte, 32), make([]byte, 16)
	for _, tt := range []struct {
		name string
		phc  auth.PHC
		want bool
	}{
		{"pinned", auth.PHC{Params: pinned, Salt: salt16, Key: key32}, false},
		{"less memory", auth.PHC{Params: auth.Params{Memory: 32768, Time: 3, Threads: 4}, Salt: salt16, Key: key32}, true},
		{"fewer passes", auth.PHC{Params: auth.Params{Memory: 65536, Time: 2, Threads: 4}, Salt: salt16, Key: key32}, true},
		{"other lanes", auth.PHC{Params: auth.Params{Memory: 65536, Time: 3, Threads: 1}, Salt: salt16, Key: key32}, true},
		{"more memory", auth.PHC{Params: auth.Params{Memory: 131072, Time: 3, Threads: 4}, Salt: salt16, Key: key32}, true},
		{"short salt", auth.PHC{Params: pinned, Salt: salt8, Key: key32}, true},
		{"short tag", auth.PHC{Params: pinned, Salt: salt16, Key: key16}, true},
	} {
		p := MustParsePHC(t, tt.phc.String())
		if got := p.NeedsRehash(); got != tt.want {
			t.Errorf("%s: NeedsRehash = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLimiterBusy(t *testing.T) {
	h := &auth.Hasher{MaxInFlight: 1}
	release, err := h.Acquire(context.Background(), auth.ArgonMemory)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	if _, err := h.HashContext(cancelled, testPassword); !errors.Is(err, auth.ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Errorf("HashContext when full: err = %v, want ErrBusy wrapping context.Canceled", err)
	}
	enc := "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	if ok, _, err := h.VerifyContext(cancelled, enc, testPassword); !errors.Is(err, auth.ErrBusy) || ok {
		t.Errorf("VerifyContext when full = %v, %v; want false, ErrBusy", ok, err)
	}
	// Unknown users see the same 503 as known ones.
	if err := h.DummyVerifyContext(cancelled, testPassword); !errors.Is(err, auth.ErrBusy) {
		t.Errorf("DummyVerifyContext when full: err = %v, want ErrBusy", err)
	}
	if got := h.InFlight(); got != 1 {
		t.Errorf("InFlight = %d, want 1", got)
	}
	release()
	if got := h.InFlight(); got != 0 {
		t.Errorf("InFlight after release = %d, want 0", got)
	}
}

func TestLimiterWeighsMemory(t *testing.T) {
	h := &auth.Hasher{MaxInFlight: 4}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	// A tampered 1 GiB row needs every slot; with one held it must wait,
	// and giving up must hand back the slots it had gathered.
	one, err := h.Acquire(context.Background(), auth.ArgonMemory)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Acquire(cancelled, 1<<20); !errors.Is(err, auth.ErrBusy) {
		t.Fatalf("Acquire(1 GiB) with a slot taken: err = %v, want ErrBusy", err)
	}
	if got := h.InFlight(); got != 1 {
		t.Fatalf("InFlight after failed wide acquire = %d, want 1", got)
	}
	one()

	for _, tt := range []struct {
		memory uint32
		want   int
	}{
		{8, 1}, {auth.ArgonMemory, 1}, {auth.ArgonMemory + 1, 2}, {3 * auth.ArgonMemory, 3}, {1 << 20, 4},
	} {
		release, err := h.Acquire(cancelled, tt.memory) // all free: succeeds
		if err != nil {
			t.Fatalf("Acquire(%d): %v", tt.memory, err)
		}
		if got := h.InFlight(); got != tt.want {
			t.Errorf("Acquire(%d KiB) took %d slots, want %d", tt.memory, got, tt.want)
		}
		release()
	}
}

func TestLimiterConcurrent(t *testing.T) {
	// Narrow and wide acquisitions racing must neither deadlock nor exceed
	// the slot count.
	h := &auth.Hasher{MaxInFlight: 3}
	var wg sync.WaitGroup
	var over atomic.Bool
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			memory := uint32(auth.ArgonMemory)
			if i%4 == 0 {
				memory = 1 << 20
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			release, err := h.Acquire(ctx, memory)
			if err != nil {
				t.Errorf("Acquire: %v", err)
				return
			}
			if h.InFlight() > 3 {
				over.Store(true)
			}
			time.Sleep(time.Millisecond)
			release()
		}()
	}
	wg.Wait()
	if over.Load() {
		t.Error("more slots in use than MaxInFlight")
	}
	if got := h.InFlight(); got != 0 {
		t.Errorf("InFlight at the end = %d, want 0", got)
	}
}

func TestDummyVerify(t *testing.T) {
	h := &auth.Hasher{Pepper: bytes.Repeat([]byte{1}, 32)}
	if err := h.DummyVerify(testPassword); err != nil {
		t.Fatalf("DummyVerify: %v", err)
	}
}

func BenchmarkHash(b *testing.B) {
	var h auth.Hasher
	for b.Loop() {
		if _, err := h.Hash(testPassword); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyVsDummy(b *testing.B) {
	h := &auth.Hasher{Pepper: bytes.Repeat([]byte{1}, 32)}
	enc := MustHash(b, h, testPassword)
	b.Run("known", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := h.Verify(enc, "a wrong guess at the password"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unknown", func(b *testing.B) {
		for b.Loop() {
			if err := h.DummyVerify("a wrong guess at the password"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func ExampleHasher() {
	h := &auth.Hasher{} // in the server: Pepper from the unsealed keyring
	enc, err := h.Hash("a long passphrase nobody guesses")
	if err != nil {
		panic(err)
	}
	ok, needsRehash, err := h.Verify(enc, "a long passphrase nobody guesses")
	fmt.Println(strings.HasPrefix(enc, "$argon2id$v=19$m=65536,t=3,p=4$"), ok, needsRehash, err)
	// Output: true true false <nil>
}
