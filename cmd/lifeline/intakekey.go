// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/lifeline-hotline/lifeline/internal/keys"
)

// The intake key (keys.IntakeFile) opens the webhook secrets and keys every
// provider and sender reference; in a real installation it lives outside
// the data directory, so that a copy of the directory alone opens neither.
// With systemd it is a credential: LoadCredentialEncrypted=lifeline-intake:…
// puts it, decrypted (with the TPM where the host has one), in
// $CREDENTIALS_DIRECTORY for the service's lifetime only.
const (
	intakeKeyEnv        = "LIFELINE_INTAKE_KEY_FILE"
	intakeCredentialEnv = "CREDENTIALS_DIRECTORY"
	intakeCredential    = "lifeline-intake"
)

// intakeKeyFlag is the --intake-key flag of the commands that need the
// intake key. Its variable is LIFELINE_INTAKE_KEY_FILE, read by
// intakeKeyPath (a path, not the key).
func intakeKeyFlag(fs *flagSet) *string {
	p := new(string)
	intakeKeyVar(fs, p)
	return p
}

// intakeKeyVar is intakeKeyFlag into p.
func intakeKeyVar(fs *flagSet, p *string) {
	if fs.noEnv == nil {
		fs.noEnv = map[string]bool{}
	}
	fs.noEnv["intake-key"] = true
	fs.StringVar(p, "intake-key", "", "the intake key file, kept outside the data directory [or "+intakeKeyEnv+
		"; under systemd the credential "+intakeCredential+" in $"+intakeCredentialEnv+"] (default DIR/keys/intake: demos and development only)")
}

// intakeKeyPath resolves the intake key file: the flag, LIFELINE_INTAKE_KEY_FILE,
// the systemd credential if it exists, else the keys folder's own file.
func intakeKeyPath(e env, flagValue, dataDir string) string {
	if flagValue != "" {
		return filepath.Clean(flagValue)
	}
	if v := e.getenv(intakeKeyEnv); v != "" {
		return filepath.Clean(v)
	}
	if d := e.getenv(intakeCredentialEnv); d != "" {
		p := filepath.Join(d, intakeCredential)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(dataDir, keysDir, keys.IntakeFile)
}

// insideDir reports whether path lies in dir.
func insideDir(path, dir string) bool {
	ap, err1 := filepath.Abs(path)
	ad, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return true
	}
	rel, err := filepath.Rel(ad, ap)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// openKeeper opens the data directory's keys with the intake key of
// intakeKey (see intakeKeyPath); a missing file is an error unless it is
// the keys folder's own, which tools open without.
func openKeeper(e env, dataDir, flagValue string) (*keys.Keeper, error) {
	path := intakeKeyPath(e, flagValue, dataDir)
	kdir := filepath.Join(dataDir, keysDir)
	if _, err := os.Stat(path); err != nil {
		if path == filepath.Join(kdir, keys.IntakeFile) {
			return keys.Open(kdir)
		}
		return nil, usageErrorf("intake key %s: %v", path, pathErr(err))
	}
	return keys.OpenWithIntake(kdir, path)
}
