// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// TestAuditHoldsNoRawIDs (issue 11 §6, SECURITY.md §2.7 and §2.4): after a
// conversation is assigned and escalated and a case opened from it with its
// applicant, no column of audit_entries holds any case, contact,
// conversation, person or message id, nor (outside the actor column) an
// account id; every time in it is a whole UTC day. An auditor on the host
// (holding the intake key) still asks "what happened to case X" or to that
// conversation, and gets exactly its entries; a store without the key
// refuses to write an entry naming an object.
func TestAuditHoldsNoRawIDs(t *testing.T) {
	ctx := context.Background()
	e := mustRoutingEnv(t)
	op := e.operator(t, lifeline.RoleIntake)
	co := lifeline.Actor{ID: string(e.operator(t, lifeline.RoleCaseOfficer)), Role: lifeline.RoleCaseOfficer}
	c := e.inbound(t, nil)
	if err := e.db.Assign(ctx, e.boss, c.conv, op); err != nil {
		t.Fatal(err)
	}
	k, person := e.caseFor(t, co, "ВС-000001")

	ids := map[string]string{} // id -> what
	err := e.db.Read(ctx, func(tx *sqlstore.Tx) error {
		for _, q := range []struct{ what, sql string }{
			{"case", `SELECT id FROM cases`}, {"contact", `SELECT id FROM contacts`},
			{"conversation", `SELECT id FROM conversations`}, {"person", `SELECT id FROM persons`},
			{"message", `SELECT id FROM messages`}, {"operator", `SELECT id FROM operators`},
		} {
			rows, err := tx.Query(q.sql)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				ids[id] = q.what
			}
			rows.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) < 8 {
		t.Fatalf("collected %d ids, want the case, contacts, conversations, person, messages and operators", len(ids))
	}
	var actions []string
	err = e.db.Read(ctx, func(tx *sqlstore.Tx) error {
		rows, err := tx.Query(`SELECT at, actor, role, action, object, decision, reason, request_id FROM audit_entries ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var at, actor, role, action, object, decision, reason, request string
			if err := rows.Scan(&at, &actor, &role, &action, &object, &decision, &reason, &request); err != nil {
				return err
			}
			actions = append(actions, action)
			if !strings.HasSuffix(at, "T00:00:00.000000Z") {
				t.Errorf("%s: time %q, want a whole UTC day", action, at)
			}
			for id, what := range ids {
				for col, v := range map[string]string{"actor": actor, "object": object, "reason": reason, "request_id": request, "role": role} {
					if strings.Contains(v, id) && !(col == "actor" && what == "operator") {
						t.Errorf("%s: column %s holds a raw %s id", action, col, what)
					}
				}
			}
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"conversation.assign", "case.create"} {
		if !slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, want) }) {
			t.Errorf("audit actions %q: want a %s entry to have been checked", actions, want)
		}
	}

	// What happened to the case; to the conversation; to the person.
	trail := func(id string) []string {
		t.Helper()
		es, err := e.db.AuditTrail(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, en := range es {
			out = append(out, en.Action)
		}
		return out
	}
	if got := trail(string(k.ID)); len(got) == 0 || !slices.ContainsFunc(got, func(a string) bool { return strings.HasPrefix(a, "case.") }) {
		t.Errorf("trail of the case: %q, want its case entries", got)
	}
	if got := trail(string(c.conv)); !slices.Contains(got, "conversation.assign") {
		t.Errorf("trail of the conversation: %q, want its assignment", got)
	}
	if got := trail(string(person)); len(got) == 0 {
		t.Errorf("trail of the person: none, want the entry that added them")
	}
	if got := trail(string(lifeline.NewCaseID())); len(got) != 0 {
		t.Errorf("trail of an unknown case: %q, want none", got)
	}

	// Without the intake key no entry names an object.
	bare, err := sqlstore.OpenSQLite(ctx, e.db.Path(), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	if _, err := bare.AuditObject(string(k.ID)); err == nil {
		t.Error("AuditObject without the intake key: got a hash, want ErrNoAuditKey")
	}
}
