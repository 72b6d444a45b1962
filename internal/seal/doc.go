// SPDX-License-Identifier: AGPL-3.0-or-later

// Package seal is lifeline's cryptography: field encryption under per-case
// data keys, compartment key pairs that wrap those data keys, the versioned
// root keyring that wraps the compartment private halves, the Shamir-split
// unseal key that protects the keyring at rest, and keyed blind indexes for
// lookups (SECURITY.md §2.2–2.4, Level 1).
//
// The package is pure: it never touches a database, a file or the network and
// holds no global state. The store (internal/sqlstore) and cmd/lifeline decide
// where the byte slices it produces live.
//
// # Key hierarchy
//
//	L0  unseal Key         NewUnsealKey; Split into k-of-n shares; never on disk
//	L1  Keyring            root KEKs (versioned), index master keys (versioned), pepper;
//	                       on disk only as Keyring.Seal output, opened by OpenKeyring
//	L2  CompartmentKey     X25519 pair per compartment and epoch; public half in the
//	                       clear (intake can wrap while sealed); private half stored
//	                       only as Keyring.WrapPrivate output
//	L3  DataKey            random 256-bit key per case or contact; stored only as
//	                       WrapDataKey output (HPKE to a compartment public key)
//	    fields             Encrypt/Decrypt: XChaCha20-Poly1305 under a DataKey, bound
//	                       to table, column and row
//	side IndexKeys         HKDF-SHA256 from the keyring's index master key, per domain
//
// Crypto-shredding follows from the hierarchy: deleting a case's wrapped data
// keys makes its fields unreadable in the live database; destroying an old
// epoch's wrapped private half makes every stale copy (WAL, free pages,
// backups) of data keys wrapped to that epoch unreadable.
//
// # Secrets in memory
//
// Every type that holds key material prints as "[redacted]" through fmt (all
// verbs), log/slog, and refuses encoding/json, encoding.TextMarshaler and
// encoding/gob, so a key cannot reach a log line or an error by accident. The
// Zero methods overwrite the bytes this package owns. That is best effort: Go
// copies values freely (a [Key] passed by value lands on the stack, the
// garbage collector moves nothing but may leave old heap copies until reuse),
// and crypto/ecdh and crypto/hpke keep their own unexported copies of private
// keys that cannot be wiped. The host baseline (no swap, no core dumps,
// non-dumpable process) is what keeps those copies off the disk.
package seal
