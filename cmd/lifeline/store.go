// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/mod/sumdb/note"

	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// Files in a data directory.
const (
	auditDir          = "audit"              // the latest signed checkpoint, for shipping off-box
	auditSignerFile   = "keys/audit.key"     // before issue 11: the signing key in the clear (now in the keyring)
	auditVerifierFile = "audit/verifier.key" // its public half, for verifiers anywhere
	auditOrigin       = "lifeline.audit"     // names the log in its checkpoints
)

// schemaPolicy says what opening the store does about the schema version.
type schemaPolicy int

const (
	// requireCurrent refuses a database that is not exactly at the binary's
	// version: tools never change the schema behind serve's back.
	requireCurrent schemaPolicy = iota
	// migrateIfEmpty migrates a new database, refuses an older one unless
	// LIFELINE_AUTO_MIGRATE=1, and always refuses a newer one (serve).
	migrateIfEmpty
)

// openStore opens the data directory's database under the given policy,
// without keys: for the tools that touch no personal data.
func openStore(ctx context.Context, e env, dataDir string, policy schemaPolicy) (*sqlstore.DB, error) {
	return openStoreWith(ctx, e, dataDir, policy, sqlstore.Options{})
}

// openExisting opens the store of a data directory that must exist, for a
// tool that reads it (user list, token list, channel list).
func openExisting(ctx context.Context, e env, dataDir string) (*sqlstore.DB, error) {
	if err := checkDataDir(dataDir, false); err != nil {
		return nil, err
	}
	return openStore(ctx, e, dataDir, requireCurrent)
}

// openStoreWith opens the database with options (a Sealer, for serve).
func openStoreWith(ctx context.Context, e env, dataDir string, policy schemaPolicy, opts sqlstore.Options) (*sqlstore.DB, error) {
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(dataDir, sqlstore.FileName), opts)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, e, db, policy); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func checkSchema(ctx context.Context, e env, db *sqlstore.DB, policy schemaPolicy) error {
	err := db.CheckSchema(ctx)
	if err == nil || !errors.Is(err, sqlstore.ErrSchemaStale) || policy == requireCurrent {
		return err
	}
	v, verr := db.SchemaVersion(ctx)
	if verr != nil {
		return verr
	}
	if v > 0 && e.getenv("LIFELINE_AUTO_MIGRATE") != "1" {
		return err
	}
	_, err = db.Migrate(ctx)
	return err
}

// newAuditKey makes a checkpoint signing key, for the keyring to hold.
func newAuditKey() ([]byte, error) {
	skey, _, err := audit.GenerateKey(auditOrigin)
	return []byte(skey), err
}

// auditSigners gives the checkpointer the signing key sealed in the
// keyring: only while unsealed; sealed, it reports audit.ErrNoSigner and
// the next checkpoint covers what was logged meanwhile. A keyring without a
// key gets one, and the data directory its public half (audit/verifier.key,
// for verifiers anywhere), checked against the key at every checkpoint.
func auditSigners(keeper *keys.Keeper, dataDir string) func() (note.Signer, error) {
	return func() (note.Signer, error) {
		sk, err := keeper.AuditKey(newAuditKey)
		if errors.Is(err, keys.ErrSealed) {
			return nil, audit.ErrNoSigner
		}
		if err != nil {
			return nil, fmt.Errorf("audit signing key: %w", err)
		}
		defer clear(sk)
		if err := publishVerifier(dataDir, sk); err != nil {
			return nil, err
		}
		return audit.NewSigner(string(sk))
	}
}

// publishVerifier writes the verifier key of the signer key sk to the data
// directory if it is not there, and refuses one that does not match.
func publishVerifier(dataDir string, sk []byte) error {
	vkey, err := audit.VerifierKey(sk)
	if err != nil {
		return err
	}
	vkPath := filepath.Join(dataDir, auditVerifierFile)
	have, err := os.ReadFile(vkPath)
	if errors.Is(err, os.ErrNotExist) {
		if err := keys.WriteNewFile(vkPath, []byte(vkey+"\n"), 0o644); err != nil {
			return fmt.Errorf("audit verifier key: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit verifier key: %w", err)
	}
	if string(trimNL(have)) != vkey {
		return fmt.Errorf("%s does not match the audit signing key in the keyring", vkPath)
	}
	return nil
}

func loadVerifier(path string) (note.Verifier, error) {
	vk, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit verifier key: %w", err)
	}
	v, err := audit.NewVerifier(string(trimNL(vk)))
	if err != nil {
		return nil, fmt.Errorf("audit verifier key %s: %w", path, err)
	}
	return v, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// newCheckpointer is the audit checkpointer of a data directory; it signs
// with the keyring's key, so only while keeper is unsealed.
func newCheckpointer(db *sqlstore.DB, dataDir string, keeper *keys.Keeper, witnesses ...string) *audit.Checkpointer {
	return &audit.Checkpointer{
		Store:     db.AuditLog(),
		Signers:   auditSigners(keeper, dataDir),
		Origin:    auditOrigin,
		Dir:       filepath.Join(dataDir, auditDir),
		Witnesses: slices.DeleteFunc(witnesses, func(w string) bool { return w == "" }),
	}
}

// checkWitness refuses a witness inside the data directory: a copy there
// is cut with the log.
func checkWitness(dir, dataDir string) error {
	if dir == "" {
		return nil
	}
	if insideDir(dir, dataDir) {
		return usageErrorf("--audit-witness %s is inside the data directory; a witness must live elsewhere (another disk or host)", dir)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usageErrorf("--audit-witness %s: not a directory", dir)
	}
	return nil
}

// withAudit opens the store for a command that changes something and runs
// fn. It signs no checkpoint: the signing key is sealed in the keyring,
// which a command cannot open; the running server's next checkpoint (every
// minute while unsealed, and at the first unseal) covers what fn appended,
// and `audit verify` counts such entries as not yet signed.
//
// The store gets the data directory's keys, sealed, when there are any: a
// command can then seal what it writes (a TOTP seed) with the public keys,
// and read nothing.
func withAudit(ctx context.Context, e env, dataDir string, fn func(db *sqlstore.DB) error) error {
	return withAuditKeys(ctx, e, dataDir, nil, fn)
}

// withAuditKeys is withAudit with keys the command opened already (with
// its --intake-key, so that the compartments file it wraps to is checked).
func withAuditKeys(ctx context.Context, e env, dataDir string, keeper *keys.Keeper, fn func(db *sqlstore.DB) error) error {
	if err := checkDataDir(dataDir, false); err != nil {
		return err
	}
	var opts sqlstore.Options
	var err error
	if keeper == nil {
		keeper, err = openKeeper(e, dataDir, "")
		if err == nil {
			defer keeper.Seal()
		}
	}
	switch {
	case err == nil:
		opts.Sealer = keeper
	case !errors.Is(err, keys.ErrNotInitialized):
		return err
	}
	db, err := openStoreWith(ctx, e, dataDir, requireCurrent, opts)
	if err != nil {
		return err
	}
	defer db.Close()
	// Nothing is added to a log shorter than its latest checkpoint: the
	// server would refuse to sign over it, and the change would hide in it.
	log := db.AuditLog()
	size, err := log.Size(ctx)
	if err != nil {
		return err
	}
	if latest, err := log.LatestCheckpointSize(ctx); err != nil {
		return err
	} else if size < latest {
		return fmt.Errorf("audit log has %d entries but a signed checkpoint covers %d: truncated; nothing changed (run lifeline audit verify)", size, latest)
	}
	return fn(db)
}
