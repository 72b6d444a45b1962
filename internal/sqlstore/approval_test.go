// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"context"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// propose makes an account as the command line does and returns its actor
// and whether it was made directly (bootstrap).
func (e *routingEnv) propose(t testing.TB, role lifeline.Role) (lifeline.Actor, bool) {
	t.Helper()
	e.n++
	op := &lifeline.Operator{ID: lifeline.NewOperatorID(), Username: "cli" + string(rune('a'+e.n)), Role: role}
	boot, err := e.db.ProposeOperator(context.Background(), lifeline.CLIActor, op, sqlstore.Credentials{PasswordHash: "$argon2id$test", TOTPSecret: []byte("seed")})
	if err != nil {
		t.Fatal(err)
	}
	return lifeline.Actor{ID: string(op.ID), Role: role}, boot
}

// TestNoOneAloneTwoPersonRuleCountsPeople: one admin at the shell makes the
// two bootstrap supervisors and a third that one of them approves; none of
// his pairs passes an export or an erasure; a pair whose second was
// approved by someone else does.
func TestNoOneAloneTwoPersonRuleCountsPeople(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	// mustRoutingEnv seeded a supervisor (e.boss); the shell's bootstrap
	// counts supervisors that enrolled, and the seeded one has not.
	a, bootA := e.propose(t, lifeline.RoleSupervisor)
	b, bootB := e.propose(t, lifeline.RoleSupervisor)
	c, bootC := e.propose(t, lifeline.RoleSupervisor)
	if !bootA || !bootB || bootC {
		t.Fatalf("bootstrap: %v %v %v, want the first two made directly and the third pending", bootA, bootB, bootC)
	}
	if err := e.db.DecideApproval(ctx, c, lifeline.OperatorID(c.ID), true); lifeline.ErrorCode(err) != lifeline.EFORBIDDEN {
		t.Fatalf("self-approval: %v, want EFORBIDDEN", err)
	}
	if err := e.db.DecideApproval(ctx, a, lifeline.OperatorID(c.ID), true); err != nil {
		t.Fatal(err)
	}
	k, _ := e.caseFor(t, e.boss, "NA-000001")

	for _, tc := range []struct {
		name          string
		first, second lifeline.Actor
		ok            bool
	}{
		{"the bootstrap pair", a, b, false},
		{"the second approved by the first", a, c, false},
		{"the first approved by the second", c, a, false},
		{"the second approved by someone else", b, c, true},
	} {
		x, err := e.db.RequestExport(ctx, tc.first, "csv")
		if err != nil {
			t.Fatal(err)
		}
		err = e.db.ApproveExport(ctx, tc.second, x.ID)
		if (err == nil) != tc.ok || (err != nil && lifeline.ErrorCode(err) != lifeline.EFORBIDDEN) {
			t.Errorf("export, %s: %v, want allowed %v", tc.name, err, tc.ok)
		}
		if !tc.ok {
			if xs, _ := e.db.Exports(ctx); xs[0].State != "requested" {
				t.Errorf("export, %s: state %s after a refusal", tc.name, xs[0].State)
			}
			er, err := e.db.RequestErasure(ctx, tc.first, k.ID, "", "asked to be forgotten")
			if err != nil {
				t.Fatal(err)
			}
			if err := e.db.ConfirmErasure(ctx, tc.second, er.ID); lifeline.ErrorCode(err) != lifeline.EFORBIDDEN {
				t.Errorf("erasure, %s: %v, want EFORBIDDEN", tc.name, err)
			}
			if _, err := e.db.Case(ctx, k.ID); err != nil {
				t.Fatalf("erasure, %s: the case went: %v", tc.name, err)
			}
			// Withdraw it by confirming nothing: a new request needs the
			// old one gone, so erase the row the refusal left.
			if err := e.db.Write(ctx, func(tx *sqlstore.Tx) error {
				_, err := tx.Exec(`DELETE FROM erasures WHERE id = ?`, er.ID)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
