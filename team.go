// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

// Team is a team of operators: a shift or a unit, SECURITY.md §2.5's
// "team" scope. Operators belong to teams, and so do cases (and through
// them, and through their operator, conversations). Its name is its id:
// 1 to 32 characters of a–z, 0–9 and '-', starting with a letter; never
// personal data.
type Team string

// DefaultTeam is the team every installation starts with: the demo's staff,
// and every account and case that existed before teams did, belong to it.
const DefaultTeam Team = "main"

// Valid reports whether t is a well-formed team name.
func (t Team) Valid() bool {
	if len(t) < 1 || len(t) > 32 || t[0] < 'a' || t[0] > 'z' {
		return false
	}
	for _, c := range []byte(t) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		default:
			return false
		}
	}
	return true
}

// ParseTeam returns s as a Team; EINVALID if it is not a valid name.
func ParseTeam(s string) (Team, error) {
	if t := Team(s); t.Valid() {
		return t, nil
	}
	return "", Errorf(EINVALID, "A team is 1 to 32 characters of a-z, 0-9 and '-', starting with a letter.")
}
