// SPDX-License-Identifier: AGPL-3.0-or-later

package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// leaks returns how a secret could show in text: raw, hex, base64 and the
// decimal dump fmt gives a byte array.
func leaks(secret []byte) []string {
	dec := fmt.Sprint(secret[:6])
	return []string{
		string(secret[:8]),
		hex.EncodeToString(secret[:8]),
		strings.ToUpper(hex.EncodeToString(secret[:8])),
		base64.StdEncoding.EncodeToString(secret)[:10],
		base64.RawURLEncoding.EncodeToString(secret)[:10],
		dec[1 : len(dec)-1],
		fmt.Sprintf("%#x", secret[0]) + ", " + fmt.Sprintf("%#x", secret[1]),
	}
}

// TestKeysNeverPrint prints every key-holding value with every common verb
// and through slog, and checks that no key byte shows.
func TestKeysNeverPrint(t *testing.T) {
	kr := NewKeyring()
	ck, err := NewCompartmentKey(CompartmentIdentity, 1)
	if err != nil {
		t.Fatal(err)
	}
	dk := NewDataKey()
	ik, _ := kr.IndexKeys()
	uk := NewUnsealKey()
	shares, cs, _ := Split(uk, 3, 2)
	h, _ := NewHeader(2, 3, cs)
	u, _ := NewUnsealer(h)
	if _, _, err := u.Add(shares[0]); err != nil {
		t.Fatal(err)
	}

	var secrets [][]byte
	secrets = append(secrets, dk.Key[:], uk[:], ck.Private.Bytes(), kr.roots[0].Key[:], kr.index[0].Key[:], kr.pepper[:],
		ik.exact[0][:], ik.bucket[0][:], u.raws[0])
	values := map[string]any{
		"Key": uk, "*Key": &uk, "DataKey": dk, "*DataKey": &dk, "CompartmentKey": ck, "*CompartmentKey": &ck,
		"*Keyring": kr, "*IndexKeys": ik, "*Unsealer": u,
		"struct": struct {
			K  Key
			D  DataKey
			C  CompartmentKey
			KR *Keyring
		}{uk, dk, ck, kr},
		"[]Key": []Key{uk}, "map": map[string]DataKey{"a": dk},
	}
	for name, v := range values {
		var out bytes.Buffer
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		fmt.Fprintln(&out, v)
		slog.New(slog.NewTextHandler(&out, nil)).Info("m", "v", v)
		slog.New(slog.NewJSONHandler(&out, nil)).Info("m", "v", v)
		for i, s := range secrets {
			for _, l := range leaks(s) {
				if strings.Contains(out.String(), l) {
					t.Errorf("%s: secret %d printed (%q) in:\n%s", name, i, l, out.String())
				}
			}
		}
		if name == "*Unsealer" { // no exported fields: encodes as {}
			continue
		}
		if b, err := json.Marshal(v); err == nil {
			t.Errorf("%s: json.Marshal succeeded: %s", name, b)
		}
	}
	for name, v := range map[string]any{"Key": uk, "DataKey": dk, "CompartmentKey": ck} {
		if err := gob.NewEncoder(&bytes.Buffer{}).Encode(v); err == nil {
			t.Errorf("%s: gob encoding succeeded", name)
		}
	}
}
