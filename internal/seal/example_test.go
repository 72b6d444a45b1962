// SPDX-License-Identifier: AGPL-3.0-or-later

package seal_test

import (
	"fmt"

	"github.com/lifeline-hotline/lifeline/internal/seal"
)

// Example walks through init, unseal, intake while sealed, and reading a
// field back once unsealed.
func Example() {
	// lifeline init: a keyring, an unseal key split 3 of 5, the keyring file.
	kr := seal.NewKeyring()
	unsealKey := seal.NewUnsealKey()
	shares, commitments, _ := seal.Split(unsealKey, 5, 3)
	header, _ := seal.NewHeader(3, 5, commitments)
	file, _ := kr.Seal(unsealKey, header)
	routing, _ := seal.NewCompartmentKey(seal.CompartmentRouting, 1)
	wrappedPriv, rootVersion, _ := kr.WrapPrivate(routing)
	pub := routing.Public.Bytes() // stored in the clear
	kr.Zero()

	// Intake, sealed: a new data key, a sealed field, the key wrapped to the
	// routing compartment's public half.
	pubKey, _ := seal.ParsePublicKey(pub)
	dk := seal.NewDataKey()
	aad := seal.AAD{Table: "contacts", Column: "phone", Row: "c1"}
	field, _ := seal.Encrypt(dk, aad, []byte("+79161234567"))
	wrappedDK, _ := seal.WrapDataKey(pubKey, seal.CompartmentRouting, 1, "contact:c1", dk)

	// lifeline unseal: custodians type three shares.
	h, _ := seal.ParseHeader(file)
	u, _ := seal.NewUnsealer(h)
	for _, s := range []string{shares[4], shares[0], shares[2]} {
		have, need, err := u.Add(s)
		fmt.Println(have, "of", need, err)
	}
	key, _ := u.Key()
	u.Zero()
	opened, _, err := seal.OpenKeyring(file, key)
	fmt.Println("unsealed:", err == nil)

	// Console, unsealed: open the compartment key, the data key, the field.
	ck, _ := opened.UnwrapPrivate(seal.CompartmentRouting, 1, rootVersion, pub, wrappedPriv)
	id, _ := seal.CiphertextKeyID(field)
	dk2, _ := seal.UnwrapDataKey(ck, "contact:c1", id, wrappedDK)
	phone, _ := seal.Decrypt(dk2, aad, field)
	fmt.Println(string(phone))
	// Output:
	// 1 of 3 <nil>
	// 2 of 3 <nil>
	// 3 of 3 <nil>
	// unsealed: true
	// +79161234567
}
