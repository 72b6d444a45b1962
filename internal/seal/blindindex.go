// SPDX-License-Identifier: AGPL-3.0-or-later

package seal

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"strconv"
)

// Domain names what a blind index is computed over. Each domain has its own
// keys, so equal strings in two domains never give equal indexes.
type Domain string

// The blind-index domains (SECURITY.md §2.4).
const (
	DomainPhone          Domain = "phone"           // E.164, NormalizePhone
	DomainTelegram       Domain = "telegram"        // Telegram user id, NormalizeTelegramID
	DomainWhatsApp       Domain = "whatsapp"        // wa_id, NormalizeWhatsAppID
	DomainServiceNumber  Domain = "service_number"  // NormalizeServiceNumber
	DomainDocumentNumber Domain = "document_number" // NormalizeDocumentNumber
)

var domains = [...]Domain{DomainPhone, DomainTelegram, DomainWhatsApp, DomainServiceNumber, DomainDocumentNumber}

// Domains returns every blind-index domain, in a fixed order.
func Domains() []Domain { return append([]Domain(nil), domains[:]...) }

func (d Domain) index() int {
	for i, x := range domains {
		if x == d {
			return i
		}
	}
	return -1
}

// Validate returns an error unless d is one of the five domains.
func (d Domain) Validate() error {
	if d.index() < 0 {
		return fmt.Errorf("seal: unknown blind-index domain %q", string(d))
	}
	return nil
}

// IndexKeys are the blind-index keys of one index version: per domain, an
// exact key and a bucket key, each HKDF-SHA256 (no salt) from the keyring's
// index master key of that version with the info
// "lifeline blind index v1 <domain> exact" or "… bucket". Get them from
// [Keyring.IndexKeys]. They print as their version only. Safe for
// concurrent use; Zero must not race with other calls.
type IndexKeys struct {
	version uint32
	exact   [len(domains)]Key
	bucket  [len(domains)]Key
}

func deriveIndexKeys(version uint32, master *Key) *IndexKeys {
	ik := &IndexKeys{version: version}
	for i, d := range domains {
		for _, form := range [...]struct {
			name string
			dst  *Key
		}{{"exact", &ik.exact[i]}, {"bucket", &ik.bucket[i]}} {
			k, err := hkdf.Key(sha256.New, master[:], nil, "lifeline blind index v1 "+string(d)+" "+form.name, KeySize)
			if err != nil {
				panic("seal: hkdf: " + err.Error()) // only for lengths > 255*32
			}
			*form.dst = Key(k)
			clear(k)
		}
	}
	return ik
}

// Version returns the index key version; store it beside every index value.
func (ik *IndexKeys) Version() uint32 { return ik.version }

func (ik *IndexKeys) mac(key *Key, d Domain, normalized string) []byte {
	m := hmac.New(sha256.New, key[:])
	io.WriteString(m, "lifeline/"+string(d)+"\x00")
	io.WriteString(m, normalized)
	return m.Sum(nil)
}

// checkNormalized rejects unknown domains and values that are not the output
// of the domain's normalizer: an index over an unnormalized value would
// silently never match.
func checkNormalized(d Domain, normalized string) (int, error) {
	i := d.index()
	if i < 0 {
		return 0, d.Validate()
	}
	if n, err := Normalize(d, normalized); err != nil || n != normalized {
		return 0, fmt.Errorf("seal: blind index: value is not a normalized %s (call Normalize first)", d)
	}
	return i, nil
}

// Exact returns the first bits bits (1 to 32) of an HMAC-SHA256 under the
// domain's exact key of the domain label and the normalized value: the
// index that threads a returning contact to their case. normalized must be
// the output of the domain's normalizer (phone numbers in E.164).
//
// It is truncated on purpose (SECURITY.md §2.4): choose bits from the
// number of rows ([BucketBits]) so that every value shares its index with
// a few others. Then whoever holds the keys and tests a suspect's number
// finds an index that most innocent numbers also find: suspicion, never
// proof; and a lookup must confirm its candidates by decrypting them. The
// value at fewer bits is a prefix of the value at more: an index can be
// narrowed without the keys (v >> k), never widened.
func (ik *IndexKeys) Exact(d Domain, normalized string, bits int) (uint32, error) {
	if bits < 1 || bits > 32 {
		return 0, fmt.Errorf("seal: blind index: exact bits %d: must be 1 to 32", bits)
	}
	i, err := checkNormalized(d, normalized)
	if err != nil {
		return 0, err
	}
	sum := ik.mac(&ik.exact[i], d, normalized)
	return binary.BigEndian.Uint32(sum) >> (32 - bits), nil
}

// Bucket returns the first bits bits (1 to 32) of an HMAC-SHA256 under the
// domain's bucket key (a different key from Exact's) of the domain label and
// the normalized value: the truncated index for cross-case duplicate and
// fraud checks. A shared bucket is suspicion, not proof: choose bits ≈
// log2(expected rows) − 1 ([BucketBits]) so that each bucket holds about two
// rows, and confirm candidates by decrypting them.
func (ik *IndexKeys) Bucket(d Domain, normalized string, bits int) (uint32, error) {
	if bits < 1 || bits > 32 {
		return 0, fmt.Errorf("seal: blind index: bucket bits %d: must be 1 to 32", bits)
	}
	i, err := checkNormalized(d, normalized)
	if err != nil {
		return 0, err
	}
	sum := ik.mac(&ik.bucket[i], d, normalized)
	return binary.BigEndian.Uint32(sum) >> (32 - bits), nil
}

// BucketBits returns the bucket width for a table expected to hold rows
// rows: floor(log2(rows)) − 1, at least 1 and at most 32. For 10,000 rows it
// is 12 (4,096 buckets, about 2.4 rows each). Re-bucket when the row count
// doubles, at the next index-key rotation.
func BucketBits(rows int) int {
	if rows < 4 {
		return 1
	}
	return min(bits.Len64(uint64(rows))-2, 32)
}

// Zero overwrites the derived keys.
func (ik *IndexKeys) Zero() {
	for i := range ik.exact {
		ik.exact[i].Zero()
		ik.bucket[i].Zero()
	}
}

// String returns the version only.
func (ik *IndexKeys) String() string {
	return "seal.IndexKeys{version " + strconv.FormatUint(uint64(ik.version), 10) + " " + Redacted + "}"
}

// GoString is [IndexKeys.String].
func (ik *IndexKeys) GoString() string { return ik.String() }

// Format writes [IndexKeys.String] for every verb and flag.
func (ik *IndexKeys) Format(f fmt.State, _ rune) { io.WriteString(f, ik.String()) }

// LogValue implements slog.LogValuer with [IndexKeys.String].
func (ik *IndexKeys) LogValue() slog.Value { return slog.StringValue(ik.String()) }

// MarshalText always fails: index keys are never written.
func (ik *IndexKeys) MarshalText() ([]byte, error) { return nil, errMarshalKey }

// MarshalJSON always fails: index keys are never written.
func (ik *IndexKeys) MarshalJSON() ([]byte, error) { return nil, errMarshalKey }
