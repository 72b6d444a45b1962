// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import "time"

// Operator is a staff account. Credentials (password hash, TOTP seed,
// WebAuthn keys) are not part of it: they live with the authentication code
// and never travel with an Operator.
type Operator struct {
	ID        OperatorID
	Username  string // see ValidUsername; unique, never shown to contacts
	Role      Role
	Disabled  bool      // a disabled operator cannot log in; sessions end on disabling
	CreatedAt time.Time // UTC
	// Teams are the teams the operator belongs to: how far his "team"
	// grants reach (see Reaches). None: team grants reach only what no
	// team holds yet.
	Teams []Team
}

// Validate reports with EINVALID whether o breaks an invariant of its
// fields: a valid id, username and role.
func (o *Operator) Validate() error {
	switch {
	case !o.ID.Valid():
		return Errorf(EINVALID, "Invalid operator id.")
	case !ValidUsername(o.Username):
		return Errorf(EINVALID, "A username is 3 to 32 characters of a-z, 0-9, '.', '_' and '-', starting with a letter.")
	case !o.Role.Valid():
		return Errorf(EINVALID, "Unknown role.")
	}
	return nil
}

// ValidUsername reports whether s is a valid username: 3 to 32 characters of
// a–z, 0–9, '.', '_' and '-', starting with a letter. Only ASCII lower case
// is allowed, so that two usernames cannot look alike.
func ValidUsername(s string) bool {
	if len(s) < 3 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
