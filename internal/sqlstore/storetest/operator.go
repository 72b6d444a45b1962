// SPDX-License-Identifier: AGPL-3.0-or-later

package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/audit"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// MustCreateOperator adds an operator with placeholder credentials.
func MustCreateOperator(t testing.TB, db *sqlstore.DB, username string, role lifeline.Role) *lifeline.Operator {
	t.Helper()
	op := &lifeline.Operator{ID: lifeline.NewOperatorID(), Username: username, Role: role}
	cred := sqlstore.Credentials{PasswordHash: "$argon2id$placeholder", TOTPSecret: []byte("sealed-secret")}
	if err := db.CreateOperator(context.Background(), lifeline.CLIActor, op, cred); err != nil {
		t.Fatalf("create operator %s: %v", username, err)
	}
	return op
}

func auditActions(t testing.TB, db *sqlstore.DB) []string {
	t.Helper()
	var got []string
	err := db.AuditLog().Entries(context.Background(), func(e audit.Entry, _ tlog.Hash) error {
		got = append(got, e.Action+" "+e.Object)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func testOperators(t *testing.T, open Opener) {
	ctx := context.Background()
	db := MustMigrate(t, open)
	op := MustCreateOperator(t, db, "olena", lifeline.RoleSupervisor)

	got, err := db.OperatorByUsername(ctx, "olena")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != op.ID || got.Role != lifeline.RoleSupervisor || got.Disabled || got.CreatedAt.IsZero() {
		t.Fatalf("got %+v, want %+v", got, op)
	}
	cred, err := db.OperatorCredentials(ctx, op.ID)
	if err != nil || cred.PasswordHash != "$argon2id$placeholder" || !bytes.Equal(cred.TOTPSecret, []byte("sealed-secret")) {
		t.Fatalf("credentials %+v, %v", cred, err)
	}
	// The TOTP seed is stored sealed, never as given.
	var raw []byte
	if err := db.Read(ctx, func(tx *sqlstore.Tx) error {
		return tx.QueryRow(`SELECT totp_secret FROM operators WHERE id = ?`, op.ID).Scan(&raw)
	}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("sealed-secret")) {
		t.Fatal("the TOTP seed is stored in the clear")
	}

	dup := &lifeline.Operator{ID: lifeline.NewOperatorID(), Username: "olena", Role: lifeline.RoleIntake}
	err = db.CreateOperator(ctx, lifeline.CLIActor, dup, sqlstore.Credentials{PasswordHash: "x", TOTPSecret: []byte("y")})
	if lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Fatalf("duplicate username: %v, want ECONFLICT", err)
	}
	bad := &lifeline.Operator{ID: lifeline.NewOperatorID(), Username: "Bad Name", Role: lifeline.RoleIntake}
	if err := db.CreateOperator(ctx, lifeline.CLIActor, bad, sqlstore.Credentials{PasswordHash: "x", TOTPSecret: []byte("y")}); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Fatalf("invalid username: %v, want EINVALID", err)
	}
	if _, err := db.OperatorByUsername(ctx, "nobody"); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Fatalf("unknown operator: %v, want ENOTFOUND", err)
	}

	MustCreateOperator(t, db, "andriy", lifeline.RoleIntake)
	list, err := db.Operators(ctx)
	if err != nil || len(list) != 2 || list[0].Username != "andriy" || list[1].Username != "olena" {
		t.Fatalf("Operators = %+v, %v", list, err)
	}

	if err := db.DisableOperator(ctx, lifeline.CLIActor, "olena", ""); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Fatalf("disable without a reason: %v, want EINVALID", err)
	}
	if err := db.DisableOperator(ctx, lifeline.CLIActor, "olena", "left the program"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.OperatorByUsername(ctx, "olena"); !got.Disabled {
		t.Fatal("operator not disabled")
	}

	// Only successful changes are recorded, each once, by id, never by name.
	obj := func(id lifeline.OperatorID) string {
		h, err := db.AuditObject(string(id))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	want := []string{"user.add " + obj(op.ID), "user.add " + obj(list[0].ID), "user.disable " + obj(op.ID)}
	if got := auditActions(t, db); !slices.Equal(got, want) {
		t.Fatalf("audit entries %q, want %q", got, want)
	}
}

func testTokens(t *testing.T, open Opener) {
	ctx := context.Background()
	db := MustMigrate(t, open)
	op := MustCreateOperator(t, db, "mykola", lifeline.RoleCaseOfficer)
	hash := sha256.Sum256([]byte("llt_example-token"))
	if err := db.CreateToken(ctx, lifeline.CLIActor, "mykola", "tok1", hash[:]); err != nil {
		t.Fatal(err)
	}
	got, _, err := db.OperatorByToken(ctx, hash[:])
	if err != nil || got.ID != op.ID {
		t.Fatalf("OperatorByToken = %+v, %v", got, err)
	}
	other := sha256.Sum256([]byte("llt_other"))
	if _, _, err := db.OperatorByToken(ctx, other[:]); lifeline.ErrorCode(err) != lifeline.EUNAUTHORIZED {
		t.Fatalf("unknown token: %v, want EUNAUTHORIZED", err)
	}
	if err := db.CreateToken(ctx, lifeline.CLIActor, "nobody", "tok2", other[:]); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Fatalf("token for unknown operator: %v", err)
	}
	list, err := db.Tokens(ctx, "mykola")
	if err != nil || len(list) != 1 || list[0].ID != "tok1" || !list[0].RevokedAt.IsZero() || list[0].Username != "mykola" {
		t.Fatalf("Tokens = %+v, %v", list, err)
	}
	if err := db.RevokeToken(ctx, lifeline.CLIActor, "tok1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.OperatorByToken(ctx, hash[:]); lifeline.ErrorCode(err) != lifeline.EUNAUTHORIZED {
		t.Fatalf("revoked token: %v, want EUNAUTHORIZED", err)
	}
	if err := db.RevokeToken(ctx, lifeline.CLIActor, "nope"); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Fatalf("revoke unknown: %v, want ENOTFOUND", err)
	}

	// Disabling an operator revokes every token at once.
	h3 := sha256.Sum256([]byte("llt_third"))
	if err := db.CreateToken(ctx, lifeline.CLIActor, "mykola", "tok3", h3[:]); err != nil {
		t.Fatal(err)
	}
	if err := db.DisableOperator(ctx, lifeline.CLIActor, "mykola", "test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.OperatorByToken(ctx, h3[:]); lifeline.ErrorCode(err) != lifeline.EUNAUTHORIZED {
		t.Fatalf("token of a disabled operator: %v, want EUNAUTHORIZED", err)
	}
	h4 := sha256.Sum256([]byte("llt_fourth"))
	if err := db.CreateToken(ctx, lifeline.CLIActor, "mykola", "tok4", h4[:]); lifeline.ErrorCode(err) != lifeline.ECONFLICT {
		t.Fatalf("token for a disabled operator: %v, want ECONFLICT", err)
	}
}

// testAuditLog appends through the store, checkpoints with a real signer and
// verifies with the real verifier, then shows that a failing append takes
// its action down with it.
func testAuditLog(t *testing.T, open Opener) {
	ctx := context.Background()
	db := MustMigrate(t, open)
	skey, vkey, err := audit.GenerateKey("test.lifeline")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := audit.NewSigner(skey)
	verifier, _ := audit.NewVerifier(vkey)
	cp := &audit.Checkpointer{Store: db.AuditLog(), Signer: signer, Dir: t.TempDir()}
	for i := range 300 {
		if i == 100 || i == 200 {
			if _, _, err := cp.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
		err := db.Write(ctx, func(tx *sqlstore.Tx) error {
			_, err := sqlstore.AppendAudit(tx, audit.Entry{Actor: "cli", Action: "test.append", Decision: audit.DecisionAllow})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := cp.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	var rep audit.Report
	err = db.AuditSnapshot(ctx, func(log *sqlstore.AuditLog) error {
		rep, err = audit.Verify(ctx, log, verifier)
		return err
	})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Entries != 300 || rep.CheckpointSize != 300 {
		t.Fatalf("report %+v", rep)
	}

	// An invalid entry fails the whole write: the action is not done.
	err = db.Write(ctx, func(tx *sqlstore.Tx) error {
		if _, err := tx.Exec(`INSERT INTO meta (key, value) VALUES ('sensitive', 'x')`); err != nil {
			return err
		}
		_, err := sqlstore.AppendAudit(tx, audit.Entry{Actor: "cli", Action: "Bad Action", Decision: audit.DecisionAllow})
		return err
	})
	if err == nil {
		t.Fatal("append of an invalid entry succeeded")
	}
	var n int
	db.Read(ctx, func(tx *sqlstore.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM meta WHERE key = 'sensitive'`).Scan(&n)
	})
	if n != 0 {
		t.Fatal("the action whose audit entry failed was committed")
	}
}
