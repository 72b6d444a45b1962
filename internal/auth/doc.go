// SPDX-License-Identifier: AGPL-3.0-or-later

// Package auth holds the pure logic of operator authentication: Argon2id
// password hashing in PHC form with an optional pepper and a concurrency
// limiter, the password policy, TOTP enrollment and replay-safe verification,
// and opaque bearer tokens and session ids that are stored only as hashes.
//
// The package keeps no state about users and touches no database. Callers
// (the store, the web layer) persist what it returns: the PHC string, the
// last accepted TOTP step, the SHA-256 of a token or session id.
// See SECURITY.md §2.6.
package auth
