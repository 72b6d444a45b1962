// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// realInstall makes a real installation (2 of 3 shares unseal, the intake
// key outside the data directory) and returns its data directory, the intake key file
// and the shares.
func realInstall(t *testing.T) (dir, intake string, shares []string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data")
	intake = filepath.Join(t.TempDir(), "credstore", "lifeline-intake")
	mustRun(t, nil, "migrate", "--data", dir)
	out := mustRun(t, nil, "init", "--data", dir, "--shares", "3", "--threshold", "2", "--intake-key", intake)
	for _, m := range shareLine.FindAllStringSubmatch(out, -1) {
		shares = append(shares, m[1])
	}
	if len(shares) != 3 {
		t.Fatalf("init printed %d shares, want 3:\n%s", len(shares), out)
	}
	return dir, intake, shares
}

// unsealWithShares opens a data directory's keys and unseals them with
// shares, as custodians do at the server.
func unsealWithShares(t *testing.T, dir, intake string, shares ...string) *keys.Keeper {
	t.Helper()
	keeper, err := keys.OpenWithIntake(filepath.Join(dir, keysDir), intake)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shares {
		if _, _, err := keeper.AddShare(s); err != nil {
			t.Fatal(err)
		}
	}
	if keeper.Sealed() {
		t.Fatal("still sealed after the shares")
	}
	return keeper
}

// TestAuditSigningKeyNotOnDisk (issue 11 §6): the checkpoint signing key is
// sealed in the keyring. A command run while sealed signs nothing; the
// unsealed server's checkpoint covers it. With every file of the data
// directory, the key is nowhere (raw, base64, hex or as a signer key), and a
// checkpoint forged with another key of the same name over a cut log fails
// verification against the public key kept outside.
func TestAuditSigningKeyNotOnDisk(t *testing.T) {
	t.Parallel()
	dir, intake, shares := realInstall(t)
	env := map[string]string{"LIFELINE_INTAKE_KEY_FILE": intake}
	for _, u := range []string{"alice", "bob", "carol"} {
		mustRun(t, env, "user", "add", "--data", dir, "--username", u, "--role", "intake")
	}
	if out := mustRun(t, nil, "audit", "verify", "--data", dir); !strings.Contains(out, "covers 0 ") || !strings.Contains(out, "3 newer entries are not yet under a signed checkpoint") {
		t.Fatalf("sealed commands: got %q, want three entries, none signed", out)
	}
	vk, err := os.ReadFile(filepath.Join(dir, auditVerifierFile))
	if err != nil {
		t.Fatal(err)
	}
	publicKey := strings.TrimSpace(string(vk))

	// The unsealed server signs (here: its checkpointer, in-process).
	keeper := unsealWithShares(t, dir, intake, shares[0], shares[2])
	sk, err := keeper.AuditKey(nil)
	if err != nil {
		t.Fatalf("audit key of the unsealed keyring: %v", err)
	}
	db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, sqlstore.FileName), sqlstore.Options{Sealer: keeper})
	if err != nil {
		t.Fatal(err)
	}
	cp := newCheckpointer(db, dir, keeper)
	if _, wrote, err := cp.Checkpoint(t.Context()); !wrote || err != nil {
		t.Fatalf("unsealed checkpoint: wrote=%v %v", wrote, err)
	}
	// Sealed again, the same checkpointer signs nothing, and says why.
	keeper.Seal()
	if err := db.Audit(t.Context(), lifeline.CLIActor, "keys.seal", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, wrote, err := cp.Checkpoint(t.Context()); wrote || !errors.Is(err, audit.ErrNoSigner) {
		t.Errorf("sealed checkpoint: got wrote=%v %v, want none, ErrNoSigner", wrote, err)
	}
	db.Close()
	if out := mustRun(t, nil, "audit", "verify", "--data", dir, "--public-key", publicKey); !strings.Contains(out, "covers 3 ") || !strings.Contains(out, "1 newer entries") {
		t.Errorf("after the server's checkpoint: got %q, want 3 signed, 1 newer", out)
	}

	// The data directory alone holds no trace of the signing key.
	raw, err := base64.StdEncoding.DecodeString(strings.SplitN(string(sk), "+", 5)[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		t.Fatalf("signer key: %v", err)
	}
	seed := raw[1:]
	canaries := map[string][]byte{
		"signer key": sk, "seed": seed,
		"seed base64": []byte(base64.StdEncoding.EncodeToString(seed)),
		"seed hex":    []byte(hex.EncodeToString(seed)),
		"private key": ed25519.NewKeyFromSeed(seed),
		"key prefix":  []byte("PRIVATE+KEY+"),
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for what, c := range canaries {
			if bytes.Contains(b, c) {
				t.Errorf("%s holds the audit signing %s", path, what)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if exists(t, filepath.Join(dir, auditSignerFile)) {
		t.Errorf("got %s, want no signing key file", auditSignerFile)
	}

	// Root on the sealed host cuts the newest entry and forges a checkpoint
	// with a key of his own under the log's name: verification against
	// the public key from outside refuses it.
	mustTamper(t, dir, execAll(append(truncateTail(2), `DELETE FROM audit_checkpoints`)...))
	forgedKey, _, err := audit.GenerateKey(auditOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.NewSigner(forgedKey)
	if err != nil {
		t.Fatal(err)
	}
	db, err = sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, sqlstore.FileName), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, err := tlog.TreeHash(2, db.AuditLog())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := audit.SignCheckpoint(signer, audit.Checkpoint{Origin: auditOrigin, Size: 2, Root: root, Time: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(dir, auditDir, audit.CheckpointFile)
	mustWriteFile(t, forged, string(msg))
	res := runLifeline(t, nil, "audit", "verify", "--data", dir, "--public-key", publicKey)
	checkOneLineError(t, res, 1)
	if !strings.Contains(res.stderr, "NOT intact") {
		t.Errorf("forged checkpoint: got %q, want the log refused", res.stderr)
	}
}

// TestAuditSigningKeyMovedIntoKeyring: an installation made before issue 11
// kept the signing key in keys/audit.key; the first unseal seals it into
// the keyring and shreds the file, and the key (its public half unchanged)
// signs on.
func TestAuditSigningKeyMovedIntoKeyring(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	mustRun(t, nil, "migrate", "--data", dir)
	unseal := filepath.Join(dir, "dev-unseal-key")
	kdir := filepath.Join(dir, keysDir)
	if _, err := keys.Init(kdir, keys.Options{DevFile: unseal}); err != nil { // as before: no audit key in the keyring
		t.Fatal(err)
	}
	skey, vkey, err := audit.GenerateKey(auditOrigin)
	if err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, filepath.Join(dir, auditSignerFile), skey+"\n")
	if err := keys.WriteNewFile(filepath.Join(dir, auditVerifierFile), []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keeper, err := keys.Open(kdir)
	if err != nil {
		t.Fatal(err)
	}
	defer keeper.Seal()
	if err := keeper.UnsealWithFile(unseal); err != nil {
		t.Fatal(err)
	}
	if exists(t, filepath.Join(dir, auditSignerFile)) {
		t.Errorf("got %s after the first unseal, want it shredded", auditSignerFile)
	}
	got, err := keeper.AuditKey(nil)
	if err != nil || string(got) != skey {
		t.Errorf("keyring's audit key: got %v, want the file's", err)
	}
	keeper.Seal()
	// Sealed again and reopened: the key came from the keyring file.
	keeper, err = keys.Open(kdir)
	if err != nil {
		t.Fatal(err)
	}
	if err := keeper.UnsealWithFile(unseal); err != nil {
		t.Fatal(err)
	}
	if got, err := keeper.AuditKey(nil); err != nil || string(got) != skey {
		t.Errorf("reopened keyring's audit key: got %v, want the moved one", err)
	}
	mustAddUser(t, dir, "alice", "intake")
	mustSignCheckpoint(t, dir)
	if out := mustRun(t, nil, "audit", "verify", "--data", dir, "--public-key", vkey); !strings.HasPrefix(out, "Audit log intact: 1 entries; the latest signed checkpoint covers 1 ") {
		t.Errorf("audit verify with the old public key: got %q", out)
	}
}
