// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/auth"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// mustApprove approves what waits on username, as the supervisor approver
// decides in the console (the store's DecideApproval, taken directly).
func mustApprove(t testing.TB, dir, approver, username string) {
	t.Helper()
	ctx := context.Background()
	db := mustOpenDB(t, dir)
	defer db.Close()
	sv, err := db.OperatorByUsername(ctx, approver)
	if err != nil {
		t.Fatal(err)
	}
	op, err := db.OperatorByUsername(ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DecideApproval(ctx, lifeline.Actor{ID: string(sv.ID), Role: sv.Role}, op.ID, true); err != nil {
		t.Fatal(err)
	}
}

// mustSeedToken seeds an API token of username, as the demo does (no
// command makes one), under a signed checkpoint like a command's, and
// returns the token and its id.
func mustSeedToken(t testing.TB, dir, username string) (token, id string) {
	t.Helper()
	return mustSeedTokenEnv(t, nil, dir, username)
}

// mustSeedTokenEnv is mustSeedToken with an environment (the intake key's
// file of an installation that keeps it outside the data directory).
func mustSeedTokenEnv(t testing.TB, environ map[string]string, dir, username string) (token, id string) {
	t.Helper()
	token, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if id, err = auth.TokenID(token); err != nil {
		t.Fatal(err)
	}
	e := env{getenv: func(k string) string { return environ[k] }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	if err := withAudit(t.Context(), e, dir, func(db *sqlstore.DB) error {
		return db.CreateToken(t.Context(), lifeline.CLIActor, username, id, hash)
	}); err != nil {
		t.Fatal(err)
	}
	return token, id
}

// TestNoOneAloneCLIAccountPending: an account made at the command line once
// a supervisor exists is pending: it cannot sign in or keep a session until
// a supervisor approves it; a role change made there waits likewise, and
// the audit log holds both steps of each.
func TestNoOneAloneCLIAccountPending(t *testing.T) {
	ctx := context.Background()
	dir := mustMigrate(t)
	mustRun(t, nil, "user", "add", "--data", dir, "--username", "sofia", "--role", "supervisor")

	out := mustRun(t, nil, "user", "add", "--data", dir, "--username", "roman", "--role", "case-officer")
	if !strings.HasPrefix(out, "Created roman (case-officer), pending.\n") || !strings.Contains(out, "approves it") {
		t.Errorf("user add printed %q, want it to say the account is pending a supervisor's approval", out)
	}
	mustMatch(t, passwordLine, out)
	if row := listRow(t, mustRun(t, nil, "user", "list", "--data", dir), "roman"); row[2] != "pending" {
		t.Errorf("user list: %q, want roman pending", row)
	}

	db := mustOpenDB(t, dir)
	roman, err := db.OperatorByUsername(ctx, "roman")
	if err != nil {
		t.Fatal(err)
	}
	sofia, err := db.OperatorByUsername(ctx, "sofia")
	if err != nil {
		t.Fatal(err)
	}
	hash := []byte("0123456789abcdef0123456789abcdef")
	if err := db.CreateSession(ctx, lifeline.Actor{ID: string(roman.ID), Role: roman.Role}, hash, sqlstore.StageFull); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionByHash(ctx, hash); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("a session of the pending account: %v, want ENOTFOUND", err)
	}
	if err := db.DecideApproval(ctx, lifeline.Actor{ID: string(roman.ID), Role: lifeline.RoleSupervisor}, roman.ID, true); lifeline.ErrorCode(err) != lifeline.EFORBIDDEN {
		t.Errorf("approval by the account itself: %v, want EFORBIDDEN", err)
	}
	if err := db.DecideApproval(ctx, lifeline.Actor{ID: string(sofia.ID), Role: lifeline.RoleAdmin}, roman.ID, true); lifeline.ErrorCode(err) != lifeline.EFORBIDDEN {
		t.Errorf("approval by an admin: %v, want EFORBIDDEN", err)
	}
	db.Close()

	mustApprove(t, dir, "sofia", "roman")
	db = mustOpenDB(t, dir)
	if _, err := db.SessionByHash(ctx, hash); err != nil {
		t.Errorf("the approved account's session: %v", err)
	}
	db.Close()
	if row := listRow(t, mustRun(t, nil, "user", "list", "--data", dir), "roman"); row[2] != "active" {
		t.Errorf("user list after approval: %q, want active", row)
	}

	// A role change waits too; meanwhile the old role holds and the
	// session lives.
	out = mustRun(t, nil, "user", "role", "--data", dir, "--username", "roman", "--role", "supervisor")
	if !strings.Contains(out, "pending") {
		t.Errorf("user role printed %q, want pending", out)
	}
	row := listRow(t, mustRun(t, nil, "user", "list", "--data", dir), "roman")
	if row[1] != "case-officer" || !strings.Contains(strings.Join(row, " "), "role-pending:supervisor") {
		t.Errorf("user list: %q, want case-officer with supervisor pending", row)
	}
	db = mustOpenDB(t, dir)
	if s, err := db.SessionByHash(ctx, hash); err != nil || s.Operator.Role != lifeline.RoleCaseOfficer {
		t.Errorf("session during the pending role change: %+v %v, want the old role", s, err)
	}
	db.Close()
	mustApprove(t, dir, "sofia", "roman")
	if row := listRow(t, mustRun(t, nil, "user", "list", "--data", dir), "roman"); row[1] != "supervisor" {
		t.Errorf("user list after the role approval: %q", row)
	}
	db = mustOpenDB(t, dir)
	if _, err := db.SessionByHash(ctx, hash); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("session after the role change: %v, want it ended", err)
	}
	db.Close()

	var steps []string
	romanObject := auditObjectOf(t, dir, string(roman.ID))
	for _, e := range readAuditRows(t, dir) {
		if e.Object == romanObject && strings.HasPrefix(e.Action, "user.") {
			steps = append(steps, e.Actor+" "+e.Action+" "+e.Reason)
		}
	}
	want := []string{
		"cli user.add role=case-officer pending",
		string(sofia.ID) + " user.approve role=case-officer",
		"cli user.role_propose role=supervisor",
		string(sofia.ID) + " user.role_approve role=supervisor",
	}
	if strings.Join(steps, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit steps:\n%s\nwant:\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"))
	}
}

// TestNoOneAloneBootstrapTwoSupervisorsOnly: while no supervisor has
// enrolled, the command line makes the first two supervisors directly and
// says so loudly; a third, or any made once a supervisor has enrolled,
// waits for approval.
func TestNoOneAloneBootstrapTwoSupervisorsOnly(t *testing.T) {
	dir := mustMigrate(t)
	for _, name := range []string{"anna", "boris"} {
		out := mustRun(t, nil, "user", "add", "--data", dir, "--username", name, "--role", "supervisor")
		if !strings.Contains(out, "DIRECTLY, WITHOUT A SECOND PERSON'S APPROVAL") || !strings.Contains(out, "BOOTSTRAP") {
			t.Errorf("bootstrap supervisor %s: printed %q, want a loud bootstrap notice", name, out)
		}
	}
	out := mustRun(t, nil, "user", "add", "--data", dir, "--username", "carl", "--role", "supervisor")
	if strings.Contains(out, "BOOTSTRAP") || !strings.Contains(out, "pending") {
		t.Errorf("third supervisor: printed %q, want it pending", out)
	}
	users := mustRun(t, nil, "user", "list", "--data", dir)
	for name, want := range map[string]string{"anna": "active bootstrap", "boris": "active bootstrap", "carl": "pending -"} {
		if got := strings.Join(listRow(t, users, name)[2:4], " "); got != want {
			t.Errorf("user list, %s: %q, want %q", name, got, want)
		}
	}

	// Once a supervisor has enrolled, never again, even with one
	// bootstrap place left.
	dir = mustMigrate(t)
	mustRun(t, nil, "user", "add", "--data", dir, "--username", "anna", "--role", "supervisor")
	db := mustOpenDB(t, dir)
	if err := db.Write(t.Context(), func(tx *sqlstore.Tx) error {
		_, err := tx.Exec(`UPDATE operators SET password_change_required = 0`) // anna enrolled
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out = mustRun(t, nil, "user", "add", "--data", dir, "--username", "boris", "--role", "supervisor")
	if strings.Contains(out, "BOOTSTRAP") || !strings.Contains(out, "pending") {
		t.Errorf("a supervisor after one enrolled: printed %q, want it pending", out)
	}
	// An admin at the shell is no supervisor: never made directly.
	out = mustRun(t, nil, "user", "add", "--data", mustMigrate(t), "--username", "adam", "--role", "admin")
	if !strings.Contains(out, "pending") {
		t.Errorf("an admin: printed %q, want it pending", out)
	}
}

// TestNoOneAloneTokenOnlyFromConsole: the command line mints no token for
// anyone; it says where tokens are made, and writes nothing.
func TestNoOneAloneTokenOnlyFromConsole(t *testing.T) {
	dir := mustMigrate(t)
	mustRun(t, nil, "user", "add", "--data", dir, "--username", "olena", "--role", "supervisor")
	before := len(readAuditRows(t, dir))
	res := runLifeline(t, nil, "token", "create", "--data", dir, "--username", "olena")
	checkOneLineError(t, res, 2)
	if !strings.Contains(res.stderr, "made in the console") || strings.Contains(res.stdout, "llt_") {
		t.Errorf("token create: stdout %q stderr %q, want a refusal naming the console and no token", res.stdout, res.stderr)
	}
	if list := mustRun(t, nil, "token", "list", "--data", dir); strings.Count(list, "\n") != 1 {
		t.Errorf("token list after a refused create:\n%s", list)
	}
	if after := len(readAuditRows(t, dir)); after != before {
		t.Errorf("%d audit entries after a refused create, want %d", after, before)
	}
}
