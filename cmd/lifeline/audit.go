// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

func runAudit(ctx context.Context, e env, args []string) error {
	return subcommand(ctx, e, "audit", args, map[string]func(context.Context, env, []string) error{
		"verify": runAuditVerify,
	}, "verify")
}

// filesFlag collects a repeatable flag.
type filesFlag []string

func (f *filesFlag) String() string     { return strings.Join(*f, ",") }
func (f *filesFlag) Set(v string) error { *f = append(*f, v); return nil }

func runAuditVerify(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "audit verify", "audit verify [--checkpoint FILE]... [--verifier-key FILE] [--data DIR]")
	dataDir := dataDirFlag(fs)
	var extra filesFlag
	fs.Var(&extra, "checkpoint", "a signed checkpoint kept elsewhere (a witness's copy); repeatable")
	vkFile := fs.String("verifier-key", "", "the log's public key (default DIR/"+auditVerifierFile+")")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if err := checkDataDir(*dataDir, false); err != nil {
		return err
	}
	if *vkFile == "" {
		*vkFile = filepath.Join(*dataDir, auditVerifierFile)
	}
	verifier, err := loadVerifier(*vkFile)
	if err != nil {
		return err
	}
	// The copy of the latest checkpoint in the audit directory counts as a
	// witness too: deleting checkpoints from the database does not hide an
	// edit from it.
	notes := [][]byte{}
	files := append([]string{filepath.Join(*dataDir, auditDir, audit.CheckpointFile)}, extra...)
	for i, f := range files {
		b, err := os.ReadFile(f)
		if i == 0 && errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return usageErrorf("audit verify: checkpoint %s: %v", f, pathErr(err))
		}
		notes = append(notes, b)
	}
	db, err := openStore(ctx, e, *dataDir, requireCurrent)
	if err != nil {
		return err
	}
	defer db.Close()
	var rep audit.Report
	err = db.AuditSnapshot(ctx, func(log *sqlstore.AuditLog) error {
		var err error
		rep, err = audit.Verify(ctx, log, verifier, notes...)
		return err
	})
	if err != nil {
		return fmt.Errorf("audit log is NOT intact: %w", err)
	}
	fmt.Fprintf(e.stdout, "Audit log intact: %d entries; the latest signed checkpoint covers %d (root %s).\n",
		rep.Entries, rep.CheckpointSize, base64.StdEncoding.EncodeToString(rep.Root[:]))
	if n := rep.Unsigned(); n > 0 {
		fmt.Fprintf(e.stdout, "%d newer entries are not yet under a signed checkpoint.\n", n)
	}
	return nil
}
