// SPDX-License-Identifier: AGPL-3.0-or-later

package seal_test

import (
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/seal"
)

func BenchmarkEncrypt(b *testing.B) {
	dk := seal.NewDataKey()
	aad := seal.AAD{Table: "messages", Column: "body", Row: "m7k2q9x4c3v8b1n6"}
	pt := make([]byte, 1024)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		if _, err := seal.Encrypt(dk, aad, pt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	dk := seal.NewDataKey()
	aad := seal.AAD{Table: "messages", Column: "body", Row: "m7k2q9x4c3v8b1n6"}
	ct := MustEncrypt(b, dk, aad, make([]byte, 1024))
	b.SetBytes(1024)
	for b.Loop() {
		if _, err := seal.Decrypt(dk, aad, ct); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrapDataKey(b *testing.B) {
	ck := MustCompartmentKey(b, seal.CompartmentConversation, 1)
	dk := seal.NewDataKey()
	for b.Loop() {
		if _, err := seal.WrapDataKey(ck.Public, ck.Compartment, ck.Epoch, "case:m7k2q9x4c3v8b1n6", dk); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "wraps/s")
}

func BenchmarkUnwrapDataKey(b *testing.B) {
	ck := MustCompartmentKey(b, seal.CompartmentConversation, 1)
	dk := seal.NewDataKey()
	w := MustWrap(b, ck, "case:m7k2q9x4c3v8b1n6", dk)
	for b.Loop() {
		if _, err := seal.UnwrapDataKey(ck, "case:m7k2q9x4c3v8b1n6", dk.ID, w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "unwraps/s")
}

// BenchmarkRewrap measures the epoch-rotation job of S-10 (100,000 data keys
// in under 60 s): unwrap under the old epoch, wrap to the new one. Serial is
// one goroutine; Parallel uses every CPU (GOMAXPROCS).
func BenchmarkRewrap(b *testing.B) {
	old := MustCompartmentKey(b, seal.CompartmentConversation, 1)
	next := MustCompartmentKey(b, seal.CompartmentConversation, 2)
	dk := seal.NewDataKey()
	w := MustWrap(b, old, "case:m7k2q9x4c3v8b1n6", dk)
	b.Run("Serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := seal.RewrapDataKey(old, next.Public, next.Epoch, "case:m7k2q9x4c3v8b1n6", dk.ID, w); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rewraps/s")
	})
	b.Run("Parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := seal.RewrapDataKey(old, next.Public, next.Epoch, "case:m7k2q9x4c3v8b1n6", dk.ID, w); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rewraps/s")
	})
}

func BenchmarkWrapPrivate(b *testing.B) {
	kr := seal.NewKeyring()
	ck := MustCompartmentKey(b, seal.CompartmentRouting, 1)
	for b.Loop() {
		if _, _, err := kr.WrapPrivate(ck); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlindIndex(b *testing.B) {
	ik := MustIndexKeys(b, seal.NewKeyring())
	for b.Loop() {
		if _, err := ik.Exact(seal.DomainPhone, "+79161234567", 32); err != nil {
			b.Fatal(err)
		}
	}
}
