// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

var (
	passwordLine = regexp.MustCompile(`(?m)^One-time password: +(\S+)$`)
	// auth.GeneratePassword: five groups of five, 125 bits.
	passwordShape = regexp.MustCompile(`^[0-9a-z]{5}(-[0-9a-z]{5}){4}$`)
)

// mustMatch returns the first submatch of re in s or fails the test.
func mustMatch(t testing.TB, re *regexp.Regexp, s string) string {
	t.Helper()
	m := re.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("got %q, want a match for %s", s, re)
	}
	return m[1]
}

// mustAddUser adds an operator and returns its one-time password.
func mustAddUser(t testing.TB, dir, username, role string) string {
	t.Helper()
	out := mustRun(t, nil, "user", "add", "--data", dir, "--username", username, "--role", role)
	return mustMatch(t, passwordLine, out)
}

// mustCreateToken seeds an API token (no command makes one) and returns
// its id.
func mustCreateToken(t testing.TB, dir, username string) string {
	t.Helper()
	_, id := mustSeedToken(t, dir, username)
	return id
}

// auditObjectOf is how the audit log of dir names ids: their keyed hashes
// under its intake key.
func auditObjectOf(t testing.TB, dir string, ids ...string) string {
	t.Helper()
	k, err := keys.Open(filepath.Join(dir, keysDir))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(dir, sqlstore.FileName), sqlstore.Options{Sealer: k})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h, err := db.AuditObject(strings.Join(ids, " "))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// listRow returns the fields of the row of a user or token list whose
// first column is key, or fails the test.
func listRow(t testing.TB, list, key string) []string {
	t.Helper()
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == key {
			return f
		}
	}
	t.Fatalf("got list %q, want a row for %s", list, key)
	return nil
}

// auditRow is an audit_entries row as stored.
type auditRow struct {
	Seq                                                          int64
	At, Actor, Role, Action, Object, Decision, Reason, RequestID string
}

// readAuditRows reads audit_entries directly, bypassing the store.
func readAuditRows(t testing.TB, dir string) []auditRow {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlstore.FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT seq, at, actor, role, action, object, decision, reason, request_id FROM audit_entries ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.Seq, &r.At, &r.Actor, &r.Role, &r.Action, &r.Object, &r.Decision, &r.Reason, &r.RequestID); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUserAndTokenRoundTrip(t *testing.T) {
	t.Parallel()
	dir := mustMigrate(t)

	out := mustRun(t, nil, "user", "add", "--data", dir, "--username", "olena", "--role", "supervisor")
	if want := "Created olena (supervisor) DIRECTLY"; !strings.HasPrefix(out, want) {
		t.Errorf("user add: got %q, want it to start %q", out, want)
	}
	password := mustMatch(t, passwordLine, out)
	if len(password) != 29 || !passwordShape.MatchString(password) {
		t.Errorf("got password %q, want 29 characters like xxxxx-xxxxx-xxxxx-xxxxx-xxxxx", password)
	}
	// The TOTP key is the operator's own, enrolled at first sign-in: no
	// seed is printed here.
	if strings.Contains(out, "otpauth") || strings.Contains(strings.ToLower(out), "secret:") {
		t.Errorf("user add printed a TOTP seed:\n%s", out)
	}

	// A second olena fails, as one line, and writes nothing.
	res := runLifeline(t, nil, "user", "add", "--data", dir, "--username", "olena", "--role", "intake")
	checkOneLineError(t, res, 1)
	if !strings.Contains(res.stderr, "taken") {
		t.Errorf("duplicate user add: got %q, want it to say the username is taken", res.stderr)
	}
	if strings.Contains(res.stdout, "password") {
		t.Errorf("duplicate user add: got stdout %q, want no credentials", res.stdout)
	}

	users := mustRun(t, nil, "user", "list", "--data", dir)
	row := listRow(t, users, "olena")
	if got, want := row[1:4], []string{"supervisor", "active", "bootstrap"}; !cmp.Equal(got, want) {
		t.Errorf("user list: got %q, want %q", got, want)
	}
	operatorID := row[len(row)-1]
	if n := strings.Count(users, "\n"); n != 2 {
		t.Errorf("user list: got %d lines, want a header and olena:\n%s", n, users)
	}

	token, id := mustSeedToken(t, dir, "olena")
	if !strings.HasPrefix(token, id) {
		t.Errorf("got token %q with id %q, want the id to be the token's prefix", token, id)
	}
	row = listRow(t, mustRun(t, nil, "token", "list", "--data", dir), id)
	if got, want := []string{row[1], row[3], row[4]}, []string{"olena", "valid", "reply"}; !cmp.Equal(got, want) {
		t.Errorf("token list: got %q, want %q", got, want)
	}
	list := mustRun(t, nil, "token", "list", "--data", dir)
	if strings.Contains(list, token) {
		t.Errorf("token list: got %q, want the token itself never shown again", list)
	}

	if got, want := mustRun(t, nil, "token", "revoke", "--data", dir, "--id", id), "Revoked "+id+".\n"; got != want {
		t.Errorf("token revoke: got %q, want %q", got, want)
	}
	row = listRow(t, mustRun(t, nil, "token", "list", "--data", dir), id)
	if got, want := row[3], "revoked"; got != want {
		t.Errorf("token list after revoke: got state %q, want %q", got, want)
	}
	res = runLifeline(t, nil, "token", "revoke", "--data", dir, "--id", "llt_nosuchid")
	checkOneLineError(t, res, 1)

	mustRun(t, nil, "user", "disable", "--data", dir, "--username", "olena", "--reason", "left")
	row = listRow(t, mustRun(t, nil, "user", "list", "--data", dir), "olena")
	if got, want := row[2], "disabled"; got != want {
		t.Errorf("user list after disable: got state %q, want %q", got, want)
	}

	// Four changes, four entries. A command cannot sign (the key is sealed
	// in the keyring): they wait for the server's next checkpoint.
	out = mustRun(t, nil, "audit", "verify", "--data", dir)
	if want := "Audit log intact: 4 entries; the latest signed checkpoint covers 0 "; !strings.HasPrefix(out, want) || !strings.Contains(out, "4 newer entries are not yet under a signed checkpoint") {
		t.Errorf("audit verify before the server signs: got %q, want 4 entries, none signed yet", out)
	}
	mustSignCheckpoint(t, dir)
	out = mustRun(t, nil, "audit", "verify", "--data", dir)
	if want := "Audit log intact: 4 entries; the latest signed checkpoint covers 4 "; !strings.HasPrefix(out, want) {
		t.Errorf("audit verify: got %q, want it to start %q", out, want)
	}
	if strings.Contains(out, "not yet under a signed checkpoint") {
		t.Errorf("audit verify: got %q, want every entry signed", out)
	}

	entries := readAuditRows(t, dir)
	var actions []string
	for i, e := range entries {
		actions = append(actions, e.Action)
		if e.Seq != int64(i) {
			t.Errorf("entry %d: got seq %d, want %d", i, e.Seq, i)
		}
		if e.Actor != "cli" || e.Decision != "allow" {
			t.Errorf("entry %d: got actor %q decision %q, want cli allow", i, e.Actor, e.Decision)
		}
		// Entries hold ids, never names.
		for _, field := range []string{e.Actor, e.Role, e.Object, e.Reason, e.RequestID} {
			if strings.Contains(field, "olena") {
				t.Errorf("entry %d: got %+v, want no username in the audit log", i, e)
			}
		}
	}
	if diff := cmp.Diff([]string{"user.add", "token.create", "token.revoke", "user.disable"}, actions); diff != "" {
		t.Errorf("audit actions (-want +got):\n%s", diff)
	}
	if len(entries) == 4 {
		// Objects are keyed hashes of the ids (SECURITY.md §2.7).
		if got, want := entries[0].Object, auditObjectOf(t, dir, operatorID); got != want || strings.Contains(got, operatorID) {
			t.Errorf("user.add: got object %q, want the operator id's hash %q", got, want)
		}
		if got := entries[1].Object; !strings.Contains(got, auditObjectOf(t, dir, id)) || !strings.Contains(got, auditObjectOf(t, dir, operatorID)) {
			t.Errorf("token.create: got object %q, want the hashes of token id %q and operator id %q", got, id, operatorID)
		}
		if got, want := entries[2].Object, auditObjectOf(t, dir, id); got != want {
			t.Errorf("token.revoke: got object %q, want %q", got, want)
		}
		// What happened to the account: the auditor's lookup on the host.
		out := mustRun(t, nil, "audit", "find", "--data", dir, "--id", operatorID)
		if !strings.Contains(out, "\tuser.add\t") || !strings.Contains(out, "\ttoken.create\t") || !strings.Contains(out, "\tuser.disable\t") || !strings.HasSuffix(out, "3 entries.\n") {
			t.Errorf("audit find --id <operator>: got %q, want user.add, token.create and user.disable", out)
		}
		if got, want := entries[3].Reason, "left"; got != want {
			t.Errorf("user.disable: got reason %q, want %q", got, want)
		}
	}
}

// TestUserRole: a role change is recorded, shown in the list once a
// supervisor approves it, and ends the account's console sessions.
func TestUserRole(t *testing.T) {
	dir := mustMigrate(t)
	mustRun(t, nil, "user", "add", "--data", dir, "--username", "sofia", "--role", "supervisor")
	mustRun(t, nil, "user", "add", "--data", dir, "--username", "roman", "--role", "intake")
	mustApprove(t, dir, "sofia", "roman")
	db := mustOpenDB(t, dir)
	op, err := db.OperatorByUsername(context.Background(), "roman")
	if err != nil {
		t.Fatal(err)
	}
	hash := []byte("0123456789abcdef0123456789abcdef")
	if err := db.CreateSession(context.Background(), lifeline.Actor{ID: string(op.ID), Role: op.Role}, hash, sqlstore.StageFull); err != nil {
		t.Fatal(err)
	}
	db.Close()

	out := mustRun(t, nil, "user", "role", "--data", dir, "--username", "roman", "--role", "case-officer")
	if !strings.Contains(out, "roman: role case-officer proposed, pending") {
		t.Errorf("user role printed %q", out)
	}
	mustApprove(t, dir, "sofia", "roman")
	if row := listRow(t, mustRun(t, nil, "user", "list", "--data", dir), "roman"); row[1] != "case-officer" {
		t.Errorf("user list: %q", row)
	}
	db = mustOpenDB(t, dir)
	defer db.Close()
	if _, err := db.SessionByHash(context.Background(), hash); lifeline.ErrorCode(err) != lifeline.ENOTFOUND {
		t.Errorf("session after the role change: %v, want ENOTFOUND", err)
	}
	checkOneLineError(t, runLifeline(t, nil, "user", "role", "--data", dir, "--username", "roman", "--role", "king"), 2)
	res := runLifeline(t, nil, "user", "role", "--data", dir, "--username", "nobody", "--role", "intake")
	if res.code == 0 {
		t.Error("role change of an unknown account succeeded")
	}
}

// TestUserTeam: a new account is in the default team; user team moves it
// between teams, as user list shows, audited; a bad team name or a leave
// of a team it is not in fails as one line.
func TestUserTeam(t *testing.T) {
	dir := mustMigrate(t)
	mustRun(t, nil, "user", "add", "--data", dir, "--username", "roman", "--role", "supervisor")
	if row := listRow(t, mustRun(t, nil, "user", "list", "--data", dir), "roman"); row[4] != "main" {
		t.Errorf("user list of a new account: %q, want it in team main", row)
	}
	if out := mustRun(t, nil, "user", "team", "--data", dir, "--username", "roman", "--join", "south"); !strings.Contains(out, "roman is now in team south") {
		t.Errorf("user team --join printed %q", out)
	}
	mustRun(t, nil, "user", "team", "--data", dir, "--username", "roman", "--leave", "main")
	if row := listRow(t, mustRun(t, nil, "user", "list", "--data", dir), "roman"); row[4] != "south" {
		t.Errorf("user list after the moves: %q, want team south only", row)
	}
	checkOneLineError(t, runLifeline(t, nil, "user", "team", "--data", dir, "--username", "roman", "--join", "South Team"), 2)
	checkOneLineError(t, runLifeline(t, nil, "user", "team", "--data", dir, "--username", "roman", "--leave", "main"), 1)
	if out := mustRun(t, nil, "audit", "verify", "--data", dir); !strings.HasPrefix(out, "Audit log intact: 3 entries") {
		t.Errorf("audit verify: %q, want the add and the two moves", out)
	}
}
