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
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

func runAudit(ctx context.Context, e env, args []string) error {
	return subcommand(ctx, e, "audit", args, map[string]func(context.Context, env, []string) error{
		"verify": runAuditVerify, "find": runAuditFind,
	}, "verify|find")
}

// runAuditFind answers "what happened to X": the audit log names objects
// only by keyed hashes of their ids (under the intake key), so the lookup
// runs where that key is, on the server's host.
func runAuditFind(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "audit find", "audit find --id ID [--intake-key FILE] [--data DIR]")
	dataDir := dataDirFlag(fs)
	intakeKey := intakeKeyFlag(fs)
	id := fs.String("id", "", "the id of a case, contact, conversation, message, person or account")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if strings.TrimSpace(*id) == "" || strings.ContainsAny(*id, " \t\n") {
		return usageErrorf("audit find: give one --id")
	}
	if err := checkDataDir(*dataDir, false); err != nil {
		return err
	}
	keeper, err := openKeeper(e, *dataDir, *intakeKey)
	if err != nil {
		return err
	}
	defer keeper.Seal()
	db, err := openStoreWith(ctx, e, *dataDir, requireCurrent, sqlstore.Options{Sealer: keeper})
	if err != nil {
		return err
	}
	defer db.Close()
	trail, err := db.AuditTrail(ctx, *id)
	if errors.Is(err, sqlstore.ErrNoAuditKey) {
		return usageErrorf("audit find: the intake key is needed (--intake-key FILE)")
	}
	if err != nil {
		return err
	}
	for _, en := range trail {
		fmt.Fprintf(e.stdout, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", en.Seq, en.Time.Format(time.DateOnly), en.Actor, en.Role, en.Action, en.Decision, en.Reason)
	}
	fmt.Fprintf(e.stdout, "%d entries.\n", len(trail))
	return nil
}

// filesFlag collects a repeatable flag.
type filesFlag []string

func (f *filesFlag) String() string     { return strings.Join(*f, ",") }
func (f *filesFlag) Set(v string) error { *f = append(*f, v); return nil }

func runAuditVerify(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "audit verify", "audit verify [--public-key K] [--checkpoint FILE]... [--data DIR]")
	dataDir := dataDirFlag(fs)
	var extra filesFlag
	fs.Var(&extra, "checkpoint", "a signed checkpoint kept elsewhere (the witness's copy, --audit-witness DIR/checkpoint); repeatable")
	publicKey := fs.String("public-key", "", "the log's public key, as a verifier key or a file holding it, from outside the data directory (default DIR/"+auditVerifierFile+", which whoever rewrites the log can replace)")
	vkFile := fs.String("verifier-key", "", "older name of --public-key (a file)")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if err := checkDataDir(*dataDir, false); err != nil {
		return err
	}
	if *publicKey == "" {
		*publicKey = *vkFile
	}
	var verifier note.Verifier
	var err error
	switch {
	case *publicKey == "":
		verifier, err = loadVerifier(filepath.Join(*dataDir, auditVerifierFile))
	default:
		// The key itself, or else a file that holds it.
		if verifier, err = audit.NewVerifier(*publicKey); err != nil {
			verifier, err = loadVerifier(*publicKey)
		}
	}
	if err != nil {
		return usageErrorf("audit verify: --public-key: %v", err)
	}
	// The copy of the latest checkpoint in the audit directory counts as a
	// witness too: deleting checkpoints from the database does not hide an
	// edit from it. Each outside checkpoint is checked on its own, so that
	// a failure names the witness that caught it.
	var local [][]byte
	if b, err := os.ReadFile(filepath.Join(*dataDir, auditDir, audit.CheckpointFile)); err == nil {
		local = append(local, b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("audit verify: %v", pathErr(err))
	}
	witnesses := make([][]byte, len(extra))
	for i, f := range extra {
		if witnesses[i], err = os.ReadFile(f); err != nil {
			return usageErrorf("audit verify: checkpoint %s: %v", f, pathErr(err))
		}
	}
	db, err := openStore(ctx, e, *dataDir, requireCurrent)
	if err != nil {
		return err
	}
	defer db.Close()
	var rep audit.Report
	err = db.AuditSnapshot(ctx, func(log *sqlstore.AuditLog) error {
		var err error
		if rep, err = audit.Verify(ctx, log, verifier, local...); err != nil {
			return err
		}
		for i, w := range witnesses {
			r, err := audit.Verify(ctx, log, verifier, append(local, w)...)
			if err != nil {
				return fmt.Errorf("against the witness's checkpoint %s: %w", extra[i], err)
			}
			if r.CheckpointSize > rep.CheckpointSize {
				rep = r
			}
		}
		return nil
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

// verifyAuditInProcess is audit verify for the console's audit viewer: the
// whole log against its stored checkpoints, the copy of the latest one in
// the audit directory and the witness's copy if there is one.
func verifyAuditInProcess(ctx context.Context, db *sqlstore.DB, verifier note.Verifier, dataDir, witness string) (audit.Report, error) {
	var extra [][]byte
	files := []string{filepath.Join(dataDir, auditDir, audit.CheckpointFile)}
	if witness != "" {
		files = append(files, filepath.Join(witness, audit.CheckpointFile))
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			extra = append(extra, b)
		} else if !errors.Is(err, os.ErrNotExist) {
			return audit.Report{}, fmt.Errorf("audit verify: %v", pathErr(err))
		}
	}
	var rep audit.Report
	err := db.AuditSnapshot(ctx, func(log *sqlstore.AuditLog) error {
		var err error
		rep, err = audit.Verify(ctx, log, verifier, extra...)
		return err
	})
	return rep, err
}
