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
	auditSignerFile   = "keys/audit.key"     // Ed25519 signing key of checkpoints (0600)
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

// auditKeys loads the checkpoint signing key of a data directory, creating
// the pair on first use. The key sits in its own file beside the database,
// never in it, so that whoever edits the database cannot re-sign history.
func auditKeys(dataDir string) (note.Signer, note.Verifier, error) {
	skPath := filepath.Join(dataDir, auditSignerFile)
	vkPath := filepath.Join(dataDir, auditVerifierFile)
	sk, err := os.ReadFile(skPath)
	if errors.Is(err, os.ErrNotExist) {
		skey, vkey, gerr := audit.GenerateKey(auditOrigin)
		if gerr != nil {
			return nil, nil, gerr
		}
		if err := keys.WriteNewFile(skPath, []byte(skey+"\n"), 0o600); err != nil {
			return nil, nil, fmt.Errorf("audit signing key: %w", err)
		}
		if err := keys.WriteNewFile(vkPath, []byte(vkey+"\n"), 0o644); err != nil {
			return nil, nil, fmt.Errorf("audit verifier key: %w", err)
		}
		sk = []byte(skey)
	} else if err != nil {
		return nil, nil, fmt.Errorf("audit signing key: %w", err)
	}
	signer, err := audit.NewSigner(string(trimNL(sk)))
	if err != nil {
		return nil, nil, fmt.Errorf("audit signing key %s: %w", skPath, err)
	}
	verifier, err := loadVerifier(vkPath)
	if err != nil {
		return nil, nil, err
	}
	if verifier.KeyHash() != signer.KeyHash() || verifier.Name() != signer.Name() {
		return nil, nil, fmt.Errorf("%s does not match %s", vkPath, skPath)
	}
	return signer, verifier, nil
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

// newCheckpointer is the audit checkpointer of a data directory.
func newCheckpointer(db *sqlstore.DB, dataDir string, signer note.Signer, witnesses ...string) *audit.Checkpointer {
	return &audit.Checkpointer{
		Store:     db.AuditLog(),
		Signer:    signer,
		Origin:    auditOrigin,
		Dir:       filepath.Join(dataDir, auditDir),
		Witnesses: slices.DeleteFunc(witnesses, func(w string) bool { return w == "" }),
	}
}

// auditWitnessEnv names the audit witness directory for the commands that
// take no --audit-witness flag (every command that writes to the log).
const auditWitnessEnv = "LIFELINE_AUDIT_WITNESS"

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

// withAudit opens the store and the audit keys for a command that changes
// something, runs fn, and signs a checkpoint over what fn appended, so that
// the log stays covered even while no server runs.
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
	signer, _, err := auditKeys(dataDir)
	if err != nil {
		return err
	}
	ferr := fn(db)
	if _, _, err := newCheckpointer(db, dataDir, signer, e.getenv(auditWitnessEnv)).Checkpoint(ctx); err != nil {
		return errors.Join(ferr, fmt.Errorf("audit checkpoint: %w", err))
	}
	return ferr
}
